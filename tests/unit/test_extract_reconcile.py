"""Key reconciliation by bucket fingerprints: which key ranges must be fetched."""

from __future__ import annotations

import random

import pytest

from pipelines.extract.reconcile import (
    BUCKET_KEYS,
    MAX_BUCKETS,
    bucket_bits,
    bucket_ranges,
    differing,
    fingerprint,
)


def fingerprints(keys: set[int], bits: int) -> dict[int, tuple]:
    """{bucket: fingerprint} of the non-empty buckets, as a database computes them."""
    groups: dict[int, list[int]] = {}
    for k in keys:
        groups.setdefault(k >> bits, []).append(k)
    return {b: fingerprint(ks) for b, ks in groups.items()}


def fetched(source: set[int], raw: set[int]) -> set[int]:
    """Every key the ranges to fetch cover (as `deletes.reconcile_keys` asks)."""
    if fingerprint(source) == fingerprint(raw):
        return set()
    both = source | raw
    bits = bucket_bits(max(len(source), len(raw)), min(both), max(both))
    buckets = differing(fingerprints(source, bits), fingerprints(raw, bits))
    return {k for lo, hi in bucket_ranges(bits, buckets) for k in range(lo, hi)}


def test_a_delete_in_the_middle_of_a_large_table_fetches_one_bucket():
    raw = set(range(1, 200_001))
    source = raw - {100_000}
    keys = fetched(source, raw)
    assert 100_000 in keys
    assert len(keys) <= 2 * BUCKET_KEYS


def test_delete_and_insert_with_the_same_count_in_one_bucket():
    raw = set(range(1, 10_001)) - {7_010}
    source = (raw - {7_000}) | {7_010}  # count matches, the sum differs
    assert fingerprint(source)[0] == fingerprint(raw)[0]
    assert {7_000, 7_010} <= fetched(source, raw)


def test_same_count_and_sum_still_differ_in_the_squares():
    raw = set(range(1, 10_001)) - {150, 250}
    source = (raw - {100, 300}) | {150, 250}
    assert fingerprint(source)[:2] == fingerprint(raw)[:2]
    assert fingerprint(source) != fingerprint(raw)
    assert {100, 150, 250, 300} <= fetched(source, raw)


def test_identical_keys_fetch_nothing():
    keys = set(range(3, 90_000, 7))
    assert fetched(keys, set(keys)) == set()


def test_rows_the_cursor_missed_above_raw_are_found():
    raw = set(range(1, 50_001))
    source = raw | {60_000, 1_000_000}
    assert {60_000, 1_000_000} <= fetched(source, raw)


@pytest.mark.parametrize("seed", range(8))
def test_every_difference_is_in_a_fetched_range_and_few_keys_are_fetched(seed):
    rng = random.Random(seed)
    raw = set(rng.sample(range(1, 400_000), 60_000))
    deleted = set(rng.sample(sorted(raw), rng.choice([1, 5, 50, 600])))
    missed = set(rng.sample(range(1, 420_000), 40)) - raw
    source = (raw - deleted) | missed
    keys = fetched(source, raw)
    assert (deleted | missed) <= keys
    # A bucket holds about BUCKET_KEYS keys: fetching is proportional to the changes.
    assert len(keys & raw) <= 4 * BUCKET_KEYS * len(deleted | missed)


@pytest.mark.parametrize(
    ("count", "low", "high", "bits"),
    [
        (1_000_000, 1, 1_000_000, 6),  # dense: 64 keys a bucket
        (1_000, 1, 1_000_000, 16),  # sparse: wider buckets, still ~64 keys each
        (0, 5, 5, 1),  # nothing on one side: one bucket
        (50_000_000, 1, 50_000_000, 10),  # capped at MAX_BUCKETS buckets
    ],
)
def test_bucket_bits(count, low, high, bits):
    assert bucket_bits(count, low, high) == bits
    assert (high - low + 1) >> bits <= MAX_BUCKETS


def test_differing_treats_absent_buckets_as_empty():
    assert differing({1: "a", 2: "b"}, {2: "b", 3: "c"}) == [1, 3]
    assert differing({}, {}) == []


def test_bucket_ranges_merge_neighbours():
    assert bucket_ranges(12, [3, 1, 2, 7]) == [(4096, 16384), (28672, 32768)]
    assert bucket_ranges(12, []) == []


def test_negative_keys_are_left_to_the_plain_path():
    with pytest.raises(ValueError, match="non-negative"):
        bucket_bits(10, -5, 10)
