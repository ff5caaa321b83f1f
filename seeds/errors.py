"""The one error the `mealytics source` commands report as a single line."""

from __future__ import annotations


class SourceError(Exception):
    """The operational database cannot be generated or advanced as asked.

    The message is one line, safe to print: URLs in it have their password masked.
    """
