"""Key reconciliation by bucket fingerprints: which key ranges must be fetched."""

from __future__ import annotations

import random

import pytest

from pipelines.extract.reconcile import (
    LEAF_BITS,
    bucket_ranges,
    differing_buckets,
    fingerprint,
    root_shift,
)


def side(keys: set[int], asked: list | None = None):
    """A fingerprint function over a Python set, as a database computes it."""

    def fingerprints(shift: int, buckets) -> dict:
        if asked is not None:
            asked.append(len(buckets))
        wanted = set(buckets)
        groups: dict[int, list[int]] = {}
        for k in keys:
            if k >> shift in wanted:
                groups.setdefault(k >> shift, []).append(k)
        return {b: fingerprint(ks) for b, ks in groups.items()}

    return fingerprints


def fetched(source: set[int], raw: set[int], asked: list | None = None) -> set[int]:
    """Every key the ranges to fetch cover."""
    both = source | raw
    shift, buckets = differing_buckets(min(both), max(both), side(source, asked), side(raw))
    return {k for lo, hi in bucket_ranges(shift, buckets) for k in range(lo, hi)}


def test_a_delete_in_the_middle_of_a_large_table_fetches_one_leaf():
    raw = set(range(1, 1_000_001))
    source = raw - {500_000}
    asked: list = []
    keys = fetched(source, raw, asked)
    assert 500_000 in keys
    assert len(keys) == 1 << LEAF_BITS
    assert sum(asked) <= 3 * 64  # three levels of 64 buckets, not a million keys


def test_delete_and_insert_with_the_same_count_in_one_bucket():
    raw = set(range(1, 10_001)) - {7_000}
    source = (raw - {5_000}) | {7_000}  # count matches, the sum differs
    assert fingerprint(source)[0] == fingerprint(raw)[0]
    assert {5_000, 7_000} <= fetched(source, raw)


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
def test_every_difference_is_in_a_fetched_range(seed):
    rng = random.Random(seed)
    raw = set(rng.sample(range(1, 400_000), 60_000))
    deleted = set(rng.sample(sorted(raw), rng.choice([1, 5, 50, 600])))
    missed = set(rng.sample(range(1, 420_000), 40)) - raw
    source = (raw - deleted) | missed
    assert (deleted | missed) <= fetched(source, raw)


def test_changes_everywhere_stop_refining():
    raw = set(range(1, 300_001))
    source = {k for k in raw if k % 1_000}
    asked: list = []
    keys = fetched(source, raw, asked)
    assert raw - source <= keys
    assert len(asked) == 1  # every bucket differs: fetch their keys, no deeper level


def test_bucket_ranges_merge_neighbours():
    assert bucket_ranges(12, [3, 1, 2, 7]) == [(4096, 16384), (28672, 32768)]
    assert bucket_ranges(12, []) == []


@pytest.mark.parametrize(
    ("low", "high", "shift"), [(0, 0, 12), (1, 4095, 12), (4095, 4096, 13), (5, 1 << 40, 41)]
)
def test_root_shift(low, high, shift):
    assert root_shift(low, high) == shift
    assert low >> shift == high >> shift


def test_negative_keys_are_left_to_the_plain_path():
    with pytest.raises(ValueError, match="non-negative"):
        root_shift(-5, 10)
