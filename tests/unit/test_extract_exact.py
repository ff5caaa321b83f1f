"""Money exact from any form a reader hands over (`pipelines.extract.exact`), and the
guard that applies it and refuses rows with a NULL key (`pipelines.extract.guard`)."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pyarrow as pa
import pytest

from pipelines.extract import exact, guard
from pipelines.extract.plan import ColumnPlan, TablePlan


def _exact(values, p=12, s=2):
    array = values if isinstance(values, pa.Array) else pa.array(values)
    out, bad = exact.exact_decimals(array, p, s)
    assert out.type == pa.decimal128(p, s)
    return out.to_pylist(), bad


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (272731.28, "272731.28"),
        (999999.99, "999999.99"),
        (123456789.01, "123456789.01"),
        (0.3, "0.30"),  # 0.299999999999999988897769753748... as a double
        (0.1, "0.10"),
        (1e-2, "0.01"),
        (-0.0, "0.00"),
        (-272731.28, "-272731.28"),
        (1e9, "1000000000.00"),
        (9999999999.99, "9999999999.99"),
    ],
)
def test_a_float_is_its_shortest_decimal_never_its_binary_expansion(value, expected):
    assert Decimal(value) != Decimal(expected) or value == int(value)  # the noise is real
    assert _exact([value]) == ([Decimal(expected)], [])


def test_every_cent_between_100k_and_1m_lands_exact():
    """The issue's measure: ~9 % of cent amounts between 10^5 and 10^6 came back noisy."""
    rng = random.Random(14)
    cents = list(range(27_273_100, 27_283_100)) + [
        rng.randrange(10_000_000, 100_000_000) for _ in range(50_000)
    ]
    values, bad = _exact([c / 100 for c in cents])
    assert bad == []
    assert values == [Decimal(c).scaleb(-2) for c in cents]


def test_the_wide_default_keeps_the_shortest_decimal_too():
    values, bad = _exact([272731.28, 0.1 + 0.2, 1e15, 1e-7], 38, 10)
    assert values == [
        Decimal("272731.28"),
        Decimal("0.3000000000"),  # 0.30000000000000004: Django reads 0.3 (15 digits)
        Decimal("1000000000000000"),
        Decimal("0.0000001"),
    ]
    assert bad == []


def test_float_noise_of_sqlite_arithmetic_is_the_value_django_reads():
    """Django's `update(total=F('total') - F('delivery_fee'))` on SQLite computes in binary
    floating point: 4137.72 - 100 is stored as 4037.7200000000003, which Django's SQLite
    converter reads with 15 significant digits: 4037.72. Not a break of the scale."""
    assert repr(4137.72 - 100) == "4037.7200000000003"
    noisy = [4137.72 - 100, 21799.989999999998, 1799.9899999999998, 0.1 + 0.2]
    values, bad = _exact(noisy)
    assert values == [Decimal("4037.72"), Decimal("21799.99"), Decimal("1799.99"),
                      Decimal("0.30")]
    assert bad == []
    # What Django itself would round is still reported: 12.345 has 5 digits, not noise.
    assert _exact([12.345, 4037.7200000000003])[1] == [(0, "12.345", exact.EXCESS_SCALE)]


def test_integers_and_text_stay_exact():
    assert _exact(pa.array([12, -3, 2**62 + 1], pa.int64()), 38, 10)[0] == [
        Decimal(12),
        Decimal(-3),
        Decimal(2**62 + 1),
    ]
    assert _exact(["7.05", "12", "-0", "1e+3", None])[0] == [
        Decimal("7.05"),
        Decimal(12),
        Decimal(0),
        Decimal(1000),
        None,
    ]


def test_values_that_break_the_type_are_rounded_half_even_or_null_and_listed():
    floats = [12.345, 12.355, 0.1 + 0.2, 1e15, 99.995, 2.5, float("nan")]
    values, bad = _exact(floats, 4, 2)
    assert values == [
        Decimal("12.34"),  # half to even, as Django's DecimalField saves
        Decimal("12.36"),
        Decimal("0.30"),  # float noise, as Django reads it: not a break
        None,  # does not fit NUMERIC(4,2)
        None,  # rounds to 100.00: does not fit either
        Decimal("2.50"),
        None,
    ]
    assert bad == [
        (0, "12.345", exact.EXCESS_SCALE),
        (1, "12.355", exact.EXCESS_SCALE),
        (3, "1000000000000000", exact.OUT_OF_RANGE),
        (4, "99.995", exact.OUT_OF_RANGE),
        (6, "nan", exact.UNPARSABLE),
    ]
    assert _exact(["n/a", "1.5", "NaN", ""]) == (
        [None, Decimal("1.50"), None, None],
        [(0, "n/a", exact.UNPARSABLE), (2, "NaN", exact.UNPARSABLE), (3, "", exact.UNPARSABLE)],
    )


ID = ColumnPlan("code", "text", "VARCHAR", "TEXT")
SITE = ColumnPlan("site", "integer", "BIGINT", "INTEGER")
AMOUNT = ColumnPlan("amount", "decimal", "DECIMAL(12,2)", "DECIMAL", 12, 2)
PLAN = TablePlan("t", (ID, SITE, AMOUNT), ("code", "site"), "replace", None, "sqlite")


def test_the_guard_refuses_rows_with_a_null_key_and_makes_money_exact():
    batch = pa.record_batch(
        {
            "code": ["a", None, "c", "d"],
            "site": [1, 1, None, 2],
            "amount": ["1.10", "2.20", "3.30", "4.445"],
        }
    )
    refusals = guard.Refusals()
    reader = pa.RecordBatchReader.from_batches(batch.schema, [batch])
    out = guard.guarded(reader, PLAN, refusals).read_all()
    assert out.schema.field("amount").type == pa.decimal128(12, 2)
    assert out.to_pylist() == [
        {"code": "a", "site": 1, "amount": Decimal("1.10")},
        {"code": "d", "site": 2, "amount": Decimal("4.44")},
    ]
    assert [(json.loads(r), rule) for r, rule in refusals.rows] == [
        ({"code": None, "site": 1, "amount": "2.20"}, guard.NULL_KEY_RULE),
        ({"code": "c", "site": None, "amount": "3.30"}, guard.NULL_KEY_RULE),
    ]
    assert refusals.values == [("d|2", "amount", "4.445", exact.EXCESS_SCALE)]
    assert refusals.null_keys == 2


def test_a_key_stream_drops_null_keys_without_recording_rows():
    batch = pa.record_batch({"code": ["a", None], "site": [1, 2]})
    refusals = guard.Refusals()
    reader = pa.RecordBatchReader.from_batches(batch.schema, [batch])
    out = guard.guarded(reader, PLAN, refusals, keys=True).read_all()
    assert out.to_pylist() == [{"code": "a", "site": 1}]
    assert (refusals.rows, refusals.null_keys) == ([], 1)


@pytest.mark.parametrize(("precision", "scale"), [(12, 2), (5, 2), (38, 10), (18, 4), (10, 0)])
def test_the_float_shortcut_agrees_with_the_shortest_text(precision, scale):
    """`_floats_at_scale` either declines or gives exactly what the text path gives."""
    rng = random.Random(precision * 100 + scale)
    top = min(10 ** (precision - scale), 10**12)  # cents within a double's exact range
    values = [rng.randrange(-top * 100 + 1, top * 100) / 100 for _ in range(5000)]
    values += [None, -0.0, 0.1, 0.3, 272731.28]
    values = [v for v in values if v is None or abs(v) < top]
    array = pa.array(values, pa.float64())
    text_path = exact._value_by_value(exact.shortest_text(array), precision, scale)[0]
    for start in range(0, len(values), 499):  # slices: offsets and nulls
        part = array.slice(start, 499)
        fast = exact._floats_at_scale(part, precision, scale)
        assert fast is not None or scale == 0  # scale 0: cents do not fit
        if fast is not None:
            assert fast.to_pylist() == text_path.slice(start, 499).to_pylist()
    assert exact._floats_at_scale(pa.array([0.1 + 0.2]), 12, 2) is None
    assert exact._floats_at_scale(pa.array([1e15]), 12, 2) is None


def test_the_portable_reader_hands_floats_over_as_their_shortest_text():
    from pipelines.extract.readers.portable import to_arrow

    text = to_arrow("decimal", (272731.28, 0.1 + 0.2, Decimal("1.10"), 2**62 + 1, None))
    assert text.to_pylist() == ["272731.28", "0.30000000000000004", "1.10", str(2**62 + 1), None]
    values, bad = exact.exact_decimals(text, 38, 2)
    assert values.to_pylist() == [
        Decimal("272731.28"),
        Decimal("0.30"),
        Decimal("1.10"),
        Decimal(2**62 + 1),
        None,
    ]
    assert bad == [(1, "0.30000000000000004", exact.EXCESS_SCALE)]
