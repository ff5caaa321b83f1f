"""The JSON shape of `mealytics loyalty-analytics`: request 003's numbers as JSON numbers,
ratios with exactly two decimals (from exact DECIMALs), NULL ratios as null."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pipelines.loyalty_analytics import FIELDS, _shape, to_json


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("36.00"), "36.00"),
        (Decimal("9.60"), "9.60"),
        (Decimal("216.00"), "216.00"),
        (None, "null"),
        (1250, "1250"),
        ("$10 Discount Code", '"$10 Discount Code"'),
        ("UGX 2,000 wallet credit", '"UGX 2,000 wallet credit"'),
    ],
)
def test_scalars(value, text: str) -> None:
    assert to_json(value) == text


def test_request_003_example_round_trips() -> None:
    row = dict.fromkeys(FIELDS, 0)
    row.update(
        website=1,
        date_from="2024-01-01",
        date_to="2024-01-31",
        most_popular_item=5,
        most_popular_item_name="$10 Discount Code",
        active_redemptions_ratio=Decimal("36.0"),
        average_points_per_client=Decimal("216"),
    )
    shaped = _shape(row)
    assert list(shaped) == list(FIELDS)
    text = to_json([shaped])
    assert '"active_redemptions_ratio": 36.00,' in text
    assert '"average_points_per_client": 216.00\n' in text
    parsed = json.loads(text)
    assert parsed[0]["most_popular_item"] == 5
    assert parsed[0]["average_points_per_client"] == 216.0


def test_empty_containers() -> None:
    assert to_json([]) == "[]"
    assert to_json({}) == "{}"
