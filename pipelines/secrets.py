"""Secrets never leave the process: one place that knows them and redacts any text.

A source password reaches drivers (ADBC's libpq URI, psycopg's connection), and drivers
quote what they were given in their errors: libpq echoes a password with a space in full
(issue 15). Masking each message where it is built misses the driver's own text, the
exception it was raised from and every log line that quotes it. So every URL the process
is handed is registered here (`register_url`: `Settings.from_env` and every `Source`), and
`redact` replaces every known form of each password in any text:

- the password itself (as SQLAlchemy decodes it from the URL),
- as it was written in the URL (percent-encoded or not),
- and its percent-encodings (`%20` and `+` for a space), as drivers re-render URLs.

Applied to what leaves the process: every log record (`logging`'s record factory, so
Python's, Dagster's and dbt's handlers all see redacted text), exceptions on their way out
of the source layer and of a Dagster step (`redact_exception`: the message of each
exception of the chain, the one Dagster stores included), Dagster metadata
(`redact_metadata`) and the command line's own lines.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import sqlalchemy as sa

MASK = "***"
#: Shorter passwords are not redacted: replacing every "a" would destroy the text, and a
#: one- or two-character password is no secret.
MIN_LENGTH = 3

_secrets: set[str] = set()
_guard = threading.Lock()
_installed = False


def _forms(password: str) -> set[str]:
    forms = {password, quote(password, safe=""), quote_plus(password), quote(password)}
    forms.add(unquote(password))
    return {f for f in forms if len(f) >= MIN_LENGTH}


def register(password: str | None) -> None:
    """Redact `password` (and its encodings) from everything that leaves the process."""
    if not password:
        return
    with _guard:
        _secrets.update(_forms(password))
    install_log_redaction()


def register_url(url: str | sa.URL | None) -> None:
    """Register the password of `url`, decoded and as written (a URL SQLAlchemy cannot
    parse: the text between `:` and `@` of its user part, in case it holds one)."""
    if url is None:
        return
    if isinstance(url, sa.URL):
        register(url.password)
        return
    with contextlib.suppress(sa.exc.ArgumentError, ValueError):
        register(sa.make_url(url).password)
    # As written: `scheme://user:WRITTEN@host…` (the URL's last '@' ends the user part).
    rest = url.split("://", 1)[-1]
    if "@" in rest:
        userinfo = rest.rsplit("@", 1)[0]
        if ":" in userinfo:
            register(userinfo.split(":", 1)[1])


def known() -> frozenset[str]:
    with _guard:
        return frozenset(_secrets)


def redact(text: str) -> str:
    """`text` with every known secret replaced by `***` (longest first)."""
    if not _secrets or not isinstance(text, str):
        return text
    for secret in sorted(known(), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple | list):
        return type(value)(_redact_value(v) for v in value)
    return value


def redact_exception(exc: BaseException | None) -> BaseException | None:
    """Redact, in place, the message of `exc` and of every exception it was raised from
    (its args, notes and a few drivers' own message attributes); returns `exc`."""
    if not _secrets:
        return exc
    for link in _chain(exc):
        with contextlib.suppress(Exception):
            link.args = tuple(_redact_value(a) for a in link.args)
        notes = getattr(link, "__notes__", None)
        if notes:
            with contextlib.suppress(Exception):
                link.__notes__ = [redact(n) for n in notes]
        for name in ("message", "msg", "description", "detail", "statement"):
            value = getattr(link, name, None)
            if isinstance(value, str) and redact(value) != value:
                with contextlib.suppress(Exception):
                    setattr(link, name, redact(value))
    return exc


@contextlib.contextmanager
def redacted_errors() -> Iterator[None]:
    """Any exception leaving the block carries no known secret."""
    try:
        yield
    except BaseException as exc:
        redact_exception(exc)
        raise


def redact_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Dagster metadata with every text value redacted."""
    import dagster as dg

    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, str):
            value = redact(value)
        elif isinstance(value, dg.TextMetadataValue):
            value = dg.MetadataValue.text(redact(value.value))
        out[key] = value
    return out


def _redacting_factory(previous):
    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _secrets:
            try:
                message = record.getMessage()
            except Exception:  # a malformed %-format: leave it to the handler to report
                message = None
            if message is not None and redact(message) != message:
                record.msg, record.args = redact(message), None
            if record.exc_info and record.exc_info[1] is not None:
                redact_exception(record.exc_info[1])
        return record

    factory.mealytics_redacts = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction() -> None:
    """Every log record created from now on, by any logger, is redacted (idempotent)."""
    global _installed
    with _guard:
        if _installed:
            return
        current = logging.getLogRecordFactory()
        if not getattr(current, "mealytics_redacts", False):
            logging.setLogRecordFactory(_redacting_factory(current))
        _installed = True
