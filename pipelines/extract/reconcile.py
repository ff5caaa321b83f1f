"""Finding where the source's and raw's key sets differ without reading every key.

A table with one integer primary key is compared by *fingerprints* of key buckets: a
bucket is the keys sharing `key >> shift`, its fingerprint `(count, sum(key),
sum((key & 0xFFFF)²))`. The source computes them (an indexed range aggregate in SQLite
and PostgreSQL: no key leaves the database), DuckDB computes the same on raw. The
whole table is compared first; where it differs, the range is cut into 64 buckets and
only the differing ones are cut again, down to buckets of 4,096 keys, whose actual keys
are then fetched and anti-joined. A quiet table costs one aggregate query on each side.

What a fingerprint catches is about keys only: a delete changes the count, a row the
cursor never saw (an insert) too; a delete and an insert in the same bucket leave the
count but change the sum; equal count and sum still differ in the sum of squares.
Changes to non-key columns are the cursor's business, not this.

Tables with another kind of key (text, composite) keep the plain path: every key
streamed and anti-joined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

#: Fingerprint of a set of keys: (count, sum of keys, sum of squared low 16 bits).
Fingerprint = tuple[int, int, int]
EMPTY: Fingerprint = (0, 0, 0)

#: Each refinement cuts a bucket into 2**FANOUT_BITS buckets.
FANOUT_BITS = 6
#: Buckets of 2**LEAF_BITS keys are settled by fetching their keys.
LEAF_BITS = 12
#: Stop refining when this share of the non-empty buckets differ: changes are everywhere,
#: and another level would cost about as much as fetching their keys.
DENSE = 0.75
#: At most this many buckets asked for in one refinement (else fetch the parents' keys).
MAX_BUCKETS = 4096

#: (shift, buckets) → {bucket: fingerprint}; absent buckets are empty.
Fingerprints = Callable[[int, Sequence[int]], dict[int, Fingerprint]]


def fingerprint(keys) -> Fingerprint:
    """The fingerprint of `keys`, as the databases compute it (for tests and reference)."""
    keys = list(keys)
    return (len(keys), sum(keys), sum((k & 0xFFFF) ** 2 for k in keys))


def root_shift(low: int, high: int) -> int:
    """The smallest shift (at least LEAF_BITS) putting `low` and `high` in one bucket."""
    if low < 0 or high < low:
        raise ValueError(f"keys {low}..{high}: buckets need non-negative keys")
    shift = LEAF_BITS
    while low >> shift != high >> shift:
        shift += 1
    return shift


def differing_buckets(
    low: int,
    high: int,
    source: Fingerprints,
    raw: Fingerprints,
) -> tuple[int, list[int]]:
    """(shift, buckets) whose keys must be fetched: those where the fingerprints differ.

    `low`..`high` spans both sides' keys (the caller found the two whole-table
    fingerprints different). Each side is asked for the fingerprints of the children of
    the buckets still differing, level by level.
    """
    shift = root_shift(low, high)
    parents = [low >> shift]
    while shift > LEAF_BITS and parents:
        child = max(shift - FANOUT_BITS, LEAF_BITS)
        per = 1 << (shift - child)
        if len(parents) * per > MAX_BUCKETS:
            break
        buckets = [c for p in parents for c in range(p * per, (p + 1) * per)]
        src, dst = source(child, buckets), raw(child, buckets)
        nonempty = [b for b in buckets if src.get(b, EMPTY) != EMPTY or dst.get(b, EMPTY) != EMPTY]
        diff = [b for b in nonempty if src.get(b, EMPTY) != dst.get(b, EMPTY)]
        shift, parents = child, diff
        if len(diff) > DENSE * len(nonempty) and len(nonempty) > 1:
            break
    return shift, parents


def bucket_ranges(shift: int, buckets: Sequence[int]) -> list[tuple[int, int]]:
    """Half-open key ranges [low, high) covering `buckets`, adjacent ones merged."""
    out: list[tuple[int, int]] = []
    for b in sorted(buckets):
        low, high = b << shift, (b + 1) << shift
        if out and out[-1][1] == low:
            out[-1] = (out[-1][0], high)
        else:
            out.append((low, high))
    return out
