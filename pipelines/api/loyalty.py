"""Request 003's loyalty analytics endpoints, under `/api/v1/loyalty-management/`.

Each reads the marts' table macros (METRICS.md, Loyalty) for one website, as of that
website's as_of (the last business date of its daily snapshot), and answers request 003's
JSON field for field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from pipelines.api.deps import ExactJSON, Marts, Token, WebsiteQuery, one_website

router = APIRouter(prefix="/api/v1/loyalty-management", tags=["loyalty"])

#: The longest points trend asked for, in days (ten years).
MAX_TREND_DAYS = 3650


class TierShare(BaseModel):
    tier_name: str
    count: int
    threshold: int
    percentage: Decimal | None


class TrendDay(BaseModel):
    date: dt.date
    issued: int
    redeemed: int
    balance: int


def _records(cursor) -> list[dict]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _plain(row: dict) -> dict:
    """A row's dates as ISO text and its whole-number DECIMALs as ints."""
    out = {}
    for name, value in row.items():
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, Decimal) and name not in _RATES:
            value = int(value)
        out[name] = value
    return out


@router.get(
    "/analytics/tier_distribution/",
    response_class=ExactJSON,
    responses={200: {"model": list[TierShare]}},
    summary="Active clients per tier as of the website's as_of",
)
def tier_distribution(token: Token, marts: Marts, website: WebsiteQuery = None) -> ExactJSON:
    website, as_of = one_website(token, marts, website)
    cursor = marts.con.execute(
        'select tier_name, "count", threshold, percentage '
        "from marts.loyalty_tier_distribution(?, website := ?) order by tier_rank",
        [as_of, website],
    )
    return ExactJSON([_plain(row) for row in _records(cursor)])


@router.get(
    "/analytics/points_trend/",
    response_class=ExactJSON,
    responses={200: {"model": list[TrendDay]}},
    summary="Points issued, redeemed and outstanding per day, the last `days` days",
)
def points_trend(
    token: Token,
    marts: Marts,
    days: Annotated[int, Query(ge=1, le=MAX_TREND_DAYS)] = 30,
    website: WebsiteQuery = None,
) -> ExactJSON:
    website, as_of = one_website(token, marts, website)
    cursor = marts.con.execute(
        'select "date", issued, redeemed, balance '
        'from marts.loyalty_points_trend(?, ?, website := ?) order by "date"',
        [as_of, days, website],
    )
    return ExactJSON([_plain(row) for row in _records(cursor)])


class TopItem(BaseModel):
    id: int
    name: str
    points_required: int
    redemption_count: int
    category: str | None


class EngagementStats(BaseModel):
    total_clients: int
    active_clients: int
    clients_with_redemptions: int
    clients_with_transactions: int
    engagement_rate: Decimal | None
    redemption_rate: Decimal | None


#: The most items top_redemptions lists.
MAX_LIMIT = 100
_RATES = ("percentage", "engagement_rate", "redemption_rate")


@router.get(
    "/analytics/top_redemptions/",
    response_class=ExactJSON,
    responses={200: {"model": list[TopItem]}},
    summary="The most redeemed items up to the website's as_of (ties: lowest id first)",
)
def top_redemptions(
    token: Token,
    marts: Marts,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
    website: WebsiteQuery = None,
) -> ExactJSON:
    website, as_of = one_website(token, marts, website)
    cursor = marts.con.execute(
        "select id, name, points_required, redemption_count, category "
        "from marts.loyalty_top_redemptions(?, website := ?, date_to := ?) "
        "order by popularity_rank",
        [limit, website, as_of],
    )
    return ExactJSON([_plain(row) for row in _records(cursor)])


@router.get(
    "/analytics/engagement_stats/",
    response_class=ExactJSON,
    responses={200: {"model": EngagementStats}},
    summary="Clients, active clients and their engagement in the last `days` days",
)
def engagement_stats(
    token: Token,
    marts: Marts,
    days: Annotated[int, Query(ge=1, le=MAX_TREND_DAYS)] = 30,
    website: WebsiteQuery = None,
) -> ExactJSON:
    website, as_of = one_website(token, marts, website)
    cursor = marts.con.execute(
        "select total_clients, active_clients, clients_with_redemptions, "
        "clients_with_transactions, engagement_rate, redemption_rate "
        "from marts.loyalty_engagement_stats(?, ?, website := ?)",
        [as_of, days, website],
    )
    rows = _records(cursor)
    if not rows:  # a website without a loyalty account
        rows = [dict.fromkeys(EngagementStats.model_fields, 0)]
        rows[0].update(engagement_rate=None, redemption_rate=None)
    return ExactJSON(_plain(rows[0]))
