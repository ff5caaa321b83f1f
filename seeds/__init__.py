"""Seeding the operational database: the demo generator and the activity simulator.

- `generate(url, ...)` writes a whole, deterministic demo source (SOURCE_SCHEMA.md);
- `advance(url, days=...)` continues the same business more days: new rows, updates of
  existing rows (most through `save()`, with `updated_at` bumped; a share as Django's
  `queryset.update()` and the like, without: `seeds.simulate.Behaviour`), an application
  clock that steps back now and then, and a few hard deletes;
- `exists(url)` tells whether the source holds data;
- every failure a user can cause is a `SourceError` with a one-line message.
"""

from seeds.errors import SourceError
from seeds.generate import generate
from seeds.simulate import advance, exists
from seeds.summary import Summary

__all__ = ["SourceError", "Summary", "advance", "exists", "generate"]
