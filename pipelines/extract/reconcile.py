"""Finding where the source's and raw's key sets differ without reading every key.

A table with one integer primary key is compared by *fingerprints* of key buckets: a
bucket is the keys sharing `key >> bits` (about 64 keys), its fingerprint `(count,
sum(key), sum((key & 0xFFFF)²))`, computed by DuckDB on raw and, on the source's side,
either by DuckDB from the keys streamed as they arrive (SQLite through its smallest
covering index, PostgreSQL by binary COPY: both cheaper than the database's own
grouping) or by the database itself (the portable SQLAlchemy reader, which first compares
the whole table's fingerprint). Only the differing buckets' actual keys are then fetched
and anti-joined: changes scattered all over a table (a customer erased with their
orders) cost one pass over the keys and a few keys per change. When to reconcile at all
is the per-run probe's and the cadence's business (`deletes`).

What a fingerprint catches is about keys only: a delete changes the count, a row the
cursor never saw (an insert) too; a delete and an insert in the same bucket leave the
count but change the sum; equal count and sum still differ in the sum of squares.
Changes to non-key columns are the cursor's business, not this.

Tables with another kind of key (text, composite) keep the plain path: every key
streamed and anti-joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Fingerprint of a set of keys: (count, sum of keys, sum of squared low 16 bits).
Fingerprint = tuple[int, int, int]

#: Aim at buckets of about this many keys: a differing bucket fetches this many.
BUCKET_KEYS = 64
#: At most this many buckets per table (beyond, buckets hold more keys).
MAX_BUCKETS = 65_536


def fingerprint(keys) -> Fingerprint:
    """The fingerprint of `keys`, as the databases compute it (for tests and reference)."""
    keys = list(keys)
    return (len(keys), sum(keys), sum((k & 0xFFFF) ** 2 for k in keys))


def bucket_bits(count: int, low: int, high: int) -> int:
    """The bucket width (`key >> bits`) for `count` keys spread over `low`..`high`.

    About BUCKET_KEYS keys a bucket where the keys are dense, wider where they are
    sparse, and never more than MAX_BUCKETS buckets.
    """
    if low < 0 or high < low:
        raise ValueError(f"keys {low}..{high}: buckets need non-negative keys")
    span = high - low + 1
    bits = 0
    while (span >> bits) * BUCKET_KEYS > count or (span >> bits) > MAX_BUCKETS:
        bits += 1
    return bits


def differing(source: Mapping[int, object], raw: Mapping[int, object]) -> list[int]:
    """The buckets whose fingerprints differ (a bucket absent from one side is empty)."""
    return sorted(b for b in source.keys() | raw.keys() if source.get(b) != raw.get(b))


def bucket_ranges(bits: int, buckets: Sequence[int]) -> list[tuple[int, int]]:
    """Half-open key ranges [low, high) covering `buckets`, adjacent ones merged."""
    out: list[tuple[int, int]] = []
    for b in sorted(buckets):
        low, high = b << bits, (b + 1) << bits
        if out and out[-1][1] == low:
            out[-1] = (out[-1][0], high)
        else:
            out.append((low, high))
    return out
