"""Timestamp text as SQLite keeps it (Django's ISO forms) → Arrow timestamps in UTC."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

UTC_US = pa.timestamp("us", tz="UTC")
_OFFSET = r"(Z|z|[+-]\d\d(:?\d\d)?)$"


def parse_timestamps(text: pa.Array) -> pa.Array:
    """ISO-8601 text as Django writes it on SQLite → timestamp[us, UTC].

    With or without 'T', fraction, 'Z' or an offset (applied); text without an offset is
    UTC. Arrow's parser is vectorized and releases the GIL, so this runs in the reader
    thread, in parallel with DuckDB's ingest.
    """
    try:  # Django's own form: no offset, UTC implied
        return pc.cast(text, pa.timestamp("us")).cast(UTC_US)
    except pa.ArrowInvalid:
        pass  # another form (an offset, a 'T'): the general path below
    has_offset = pc.match_substring_regex(text, _OFFSET)
    with_offset = pc.if_else(
        pc.fill_null(has_offset, True), text, pc.binary_join_element_wise(text, "+00:00", "")
    )
    return pc.cast(with_offset, UTC_US)
