"""Money exact from any source: every DECIMAL column arrives as an exact Arrow decimal128.

A source hands a DECIMAL column over in one of three forms, and each becomes
`decimal128(precision, scale)` of the column's plan (the scale the database declares or,
where it declares none, the contract's: see `plan.contract_numeric`):

- **text** (PostgreSQL's NUMERIC through `::text`, SQLite's INTEGER storage class and any
  text it holds, the portable reader's `str()` of a value): parsed as written, exactly.
- **a binary float** (SQLite keeps a fractional NUMERIC as a REAL: 272731.28 is stored as
  272731.28000000001173...): first the *shortest* decimal text that reads back as the same
  float (Arrow's float → string cast is double-conversion's `ToShortest`, the same digits
  as Python's `repr` and Ryu: 272731.28, 0.30000000000000004, 1e+15, 1e-7, -0), then
  that text as above. Never the float's binary expansion: a float that Django wrote from
  `Decimal('272731.28')` comes back as 272731.28 (any decimal of at most 15 significant
  digits round-trips through a double, and NUMERIC(12,2) has 12).
- **an integer** (a SQLite INTEGER): exact, whatever its size.

(DuckDB's own DOUBLE → VARCHAR cast is shortest-round-trip too, but its VARCHAR → DECIMAL
cast silently rounds half away from zero where the text has more digits than the scale,
so a value breaking the contract would go unnoticed; Arrow's cast refuses instead, which
is how the rare value that needs a decision is found. It costs ~0.5 µs a value, so floats
first take a vectorized shortcut with the same result (`_floats_at_scale`: x·10^s rounded
to an integer r, kept when r / 10^s is x again; ~0.02 µs a value), all in the reader
thread, overlapping DuckDB's ingest.)

A value the column's type cannot hold exactly is a break of the contract, never a reason
to lose the row or the value:

- **float noise** is not a break: SQLite computes `F('total') - F('delivery_fee')` in
  binary floating point and keeps 4037.7200000000003 in the column, which Django itself
  reads with 15 significant digits, as 4037.72 (`django_text`). A float whose 15-digit
  reading has at most the column's scale is that value, exactly, as Django reads it.
- **more fractional digits than the scale** (12.345 in a NUMERIC(12,2) column, as text, or
  a float that is 12.345 even at 15 significant digits):
  rounded *half to even* to the scale, and reported (`EXCESS_SCALE`). Half-even because
  that is what Django's own DecimalField does when it saves (`format_number` quantizes
  with the default decimal context, ROUND_HALF_EVEN): raw then holds what the app would
  have stored had the value gone through its model, and the rounding is unbiased over
  sums. Not NULL: the contract's money columns are NOT NULL, and a NULL would lose the
  whole amount from every total instead of a fraction of a cent.
- **too many digits for the precision** (`OUT_OF_RANGE`) or **not a number at all**
  (text such as 'n/a' in a SQLite `decimal` column, a NaN: `UNPARSABLE`): NULL in raw.

Either way the exact source text is kept in `meta._rejected_values` with the rule, the
row's key and the column (written with the rows, in the table's transaction; see
`guard`), and the `exact_decimals` asset check names table, key, column and rule.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EXCESS_SCALE = "excess_scale"
OUT_OF_RANGE = "decimal_out_of_range"
UNPARSABLE = "unparsable_decimal"
RULES = (EXCESS_SCALE, OUT_OF_RANGE, UNPARSABLE)

#: (position in the array, the source's exact text, rule)
Reject = tuple[int, str, str]


def text_part(name: str) -> str:
    """The name of a DECIMAL column's second half, where a reader hands a column over in
    two: the floats in `name`, and in this one the values that are not floats (or not
    exactly floats), as text; NULL where the float is the value (SQLite's reader)."""
    return f"{name}\x1fexact_text"


def shortest_text(values: pa.Array) -> pa.Array:
    """Floats as the shortest decimal text that round-trips each (Python's `repr` digits)."""
    return pc.cast(values, pa.string())


#: Django's SQLite backend reads a REAL in a decimal column with 15 significant digits
#: (`get_decimalfield_converter`: `Context(prec=15).create_decimal_from_float`), then
#: quantizes it to the field's decimal places.
_DJANGO_FLOAT = decimal.Context(prec=15)


def django_text(values: pa.Array, scale: int) -> pa.Array:
    """Floats as decimal text: the shortest round-trip text, except where that has more
    than `scale` fractional digits and Django's own reading of the float (15 significant
    digits) has at most `scale`: the float noise SQLite's arithmetic leaves in a decimal
    column (Django's `F('total') - F('delivery_fee')` stores 4037.7200000000003), which
    Django reads as 4037.72. What Django itself would round (12.345) stays as it is, and
    is reported."""
    text = shortest_text(values)
    x = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore", over="ignore"):
        factor = 10.0**scale
        off = ~(np.rint(x * factor) / factor == x) & np.isfinite(x)
    where = np.flatnonzero(off)
    if not len(where):
        return text
    texts = text.to_pylist()
    unit = Decimal(1).scaleb(-scale)
    for i in where:
        django = _DJANGO_FLOAT.create_decimal_from_float(float(x[i]))
        if django == django.quantize(unit, context=decimal.Context(prec=60)):
            texts[i] = format(django.normalize(), "f")
    return pa.array(texts, pa.string())


def exact_decimals(values: pa.Array, precision: int, scale: int) -> tuple[pa.Array, list[Reject]]:
    """`values` (text, float or integer) as decimal128(precision, scale), exactly; the
    values that break the type are rounded half-even or NULL and listed (see above)."""
    target = pa.decimal128(precision, scale)
    if values.type == target:
        return values, []
    if pa.types.is_floating(values.type):
        fast = _floats_at_scale(values, precision, scale)
        if fast is not None:
            return fast, []
        out, rejects = exact_decimals(django_text(values, scale), precision, scale)
        return out, [(i, _plain(t), r) for i, t, r in rejects]
    elif pa.types.is_decimal(values.type) or pa.types.is_integer(values.type):
        values = pc.cast(values, pa.string())  # exact digits; refused below if they don't fit
    elif not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        raise TypeError(f"a DECIMAL column arrived as {values.type}: text, float or integer only")
    try:
        return pc.cast(values, target), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _value_by_value(values, precision, scale)


#: Below this, x·10^s is an integer in a double's exact range, and a double's spacing
#: (ulp) is below 10^-s, so at most one multiple of 10^-s reads back as x.
_EXACT_BELOW = 2.0**52


def exact_pair(
    floats: pa.Array, text: pa.Array, precision: int, scale: int
) -> tuple[pa.Array, list[Reject]]:
    """A column handed over in two (`text_part`): the text where there is one, else the
    float; floats only (the common case) take the floats' shortcut."""
    if text.null_count == len(text):
        return exact_decimals(floats, precision, scale)
    joined = pc.if_else(pc.is_valid(text), text, django_text(floats, scale))
    values, rejects = exact_decimals(joined, precision, scale)
    given = text.is_valid()
    return values, [(i, t if given[i].as_py() else _plain(t), r) for i, t, r in rejects]


def _plain(text: str) -> str:
    """A float's shortest text without an exponent (1e+15 → 1000000000000000), as reported."""
    if "e" not in text:
        return text
    try:
        value = Decimal(text)
    except decimal.InvalidOperation:
        return text
    return format(value, "f") if value.is_finite() else text


def _floats_at_scale(values: pa.Array, precision: int, scale: int) -> pa.Array | None:
    """Floats as decimal128 without text, when every value has at most k ≤ `scale`
    decimals, k as large as the values' magnitude allows (`scale` itself for money).

    For x with |x|·10^k < 2^52: r = round(x·10^k); if r / 10^k (one correctly rounded
    division of two exact doubles) is x again, then r·10^-k is a decimal of at most k
    fractional digits that reads back as x, and the only one (the doubles near x are
    closer together than 10^-k): the shortest round-trip decimal, which then has at most
    k fractional digits too, is the same number. Otherwise (a value with more digits, a
    value too large, NaN): None, and the text path decides, value by value if needed.
    """
    x = values.cast(pa.float64()).to_numpy(zero_copy_only=False)  # NULL → NaN
    valid = np.asarray(values.is_valid())
    if not valid.any():
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        largest = float(np.nanmax(np.abs(x))) if valid.all() else float(np.max(np.abs(x[valid])))
        k = scale
        while k > 0 and largest * 10.0**k >= _EXACT_BELOW:
            k -= 1
        if k > 22 or not largest < 10.0 ** (precision - scale):
            return None  # 10^k not exact as a double, or out of the type's range
        factor = 10.0**k
        y = x * factor
        r = np.rint(y)
        ok = (np.abs(y) < _EXACT_BELOW) & (r / factor == x)
    if not ok[valid].all():
        return None
    units = np.where(valid, r, 0.0).astype(np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63  # the sign, extended to 128 bits (little-endian)
    validity = pa.array(valid, pa.bool_()).buffers()[1] if values.null_count else None
    at_k = pa.Array.from_buffers(
        pa.decimal128(38, k),
        len(units),
        [validity, pa.py_buffer(words.tobytes())],
        null_count=values.null_count,
    )
    return at_k.cast(pa.decimal128(precision, scale))  # exact: more zeros, or refused


def _value_by_value(text: pa.Array, precision: int, scale: int) -> tuple[pa.Array, list[Reject]]:
    """The slow path, only for a batch holding a value the strict cast refused."""
    quantum = Decimal(1).scaleb(-scale)
    context = decimal.Context(prec=precision + 2, rounding=decimal.ROUND_HALF_EVEN)
    out: list[Decimal | None] = []
    rejects: list[Reject] = []
    for i, raw in enumerate(text.to_pylist()):
        if raw is None:
            out.append(None)
            continue
        value, rule = to_decimal(raw, precision, scale, quantum, context)
        out.append(value)
        if rule is not None:
            rejects.append((i, raw, rule))
    return pa.array(out, pa.decimal128(precision, scale)), rejects


def to_decimal(
    raw: str, precision: int, scale: int, quantum: Decimal, context: decimal.Context
) -> tuple[Decimal | None, str | None]:
    """One value's text → (the value stored, the rule it breaks or None)."""
    try:
        exact = Decimal(raw.strip())
    except decimal.InvalidOperation:
        return None, UNPARSABLE
    if not exact.is_finite():
        return None, UNPARSABLE
    exact = Decimal(0) if exact.is_zero() else exact  # -0 is 0
    if exact.adjusted() >= precision - scale:
        return None, OUT_OF_RANGE
    stored = exact.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN, context=context)
    if stored.adjusted() >= precision - scale:  # 99.995 in NUMERIC(4,2) rounds to 100.00
        return None, OUT_OF_RANGE
    return stored, (EXCESS_SCALE if stored != exact else None)
