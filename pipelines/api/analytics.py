"""Request 000's analytics views as JSON, under `/api/v1/analytics/`.

The views of request 000 (analytics_dashboard, revenue_streams, customer_analytics,
campaigns, campaign_detail, api_metrics), each read from schema `marts` of the version the
request reads (the `Marts` dependency), in a few SQL queries over every website asked for.

Scope: with `?website=ID` the answer is about that website (outside the token's scope it is
as unknown as a website that does not exist: 404); without it, one block per website the
token sees, ordered by website id, each with its currency. No figure is ever summed across
websites (their currencies differ), and no figure of a website outside the scope is sent.

Windows are the static dashboard's (`pipelines.publish.data.PERIODS`): a period of N
business days ends at the website's as_of (the last date of its daily snapshot), and the
previous window is the N days before it, so the API and the dashboard show the same figures.
Amounts are DECIMAL in the website's currency and stay exact in the JSON (`ExactJSON`);
percentages are rounded to 2 decimals, half away from zero, as the marts' `pct`, and are
NULL where their denominator is 0.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

import duckdb
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel

from models.enums import CAMPAIGN_STATUSES
from pipelines.api.catalog import UNVERSIONED
from pipelines.api.deps import ExactJSON, Marts, Token
from pipelines.api.state import Token as StoredToken
from pipelines.publish.data import PERIODS

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

Period = Literal["day", "week", "month", "year"]
CampaignStatus = Literal[CAMPAIGN_STATUSES]
#: The days of the revenue-streams window when no date_from is given (request 000: the
#: last 30 days, counted as the dashboard's month).
STREAM_DAYS = PERIODS["month"]
#: Items listed in the dashboard's top items (request 000: "Top 10 items sold").
TOP_ITEMS = 10

WebsiteFilter = Annotated[
    int | None,
    Query(ge=1, description="one website; without it, one block per website the token sees"),
]
CENT = Decimal("0.01")


# ---------------------------------------------------------------------------------------
# Response models (for /docs; the answer itself is ExactJSON, decimals as written;
# test_api_analytics checks every answer against them).
# Amounts: DECIMAL in the block's currency; *_pct and rates: percentages, 2 decimals.

Amount = Decimal
Pct = Decimal | None


class Change(BaseModel):
    value: Decimal | int | None
    previous: Decimal | int | None
    change: Decimal | int | None
    change_pct: Pct


class Cards(BaseModel):
    revenue: Change
    orders: Change
    customers: Change
    average_order_value: Change
    discount: Change
    new_customers: Change
    collected_revenue: Change
    refunds: Change
    cancelled_orders: Change


class Window(BaseModel):
    date_from: dt.date
    date_to: dt.date


class DailyFigures(BaseModel):
    date: dt.date
    total_orders: int
    gross_revenue: Amount
    total_discount: Amount
    average_order_value: Amount | None
    unique_customers: int
    new_customers: int
    returning_customers: int
    cancelled_orders: int
    collected_revenue: Amount
    refunds: Amount
    vip_orders: int
    subscription_orders: int


class OrderStatus(BaseModel):
    status: str
    is_counted: bool
    order_count: int
    total_amount: Amount
    share_of_orders_pct: Pct


class PaymentMethod(BaseModel):
    payment_method: str
    payment_method_group: str | None
    order_count: int
    gross_revenue: Amount
    share_of_orders_pct: Pct


class ItemSales(BaseModel):
    meal_id: int
    meal_name: str | None
    category: str | None
    quantity_sold: int
    order_count: int
    line_total: Amount


class DiscountType(BaseModel):
    discount_type: str
    order_count: int
    discount_total: Amount
    share_of_gross_revenue_pct: Pct


class DiscountImpact(BaseModel):
    total: Amount
    share_of_gross_revenue_pct: Pct
    by_type: list[DiscountType]


class Acquisition(BaseModel):
    new_customers: int
    returning_customers: int
    new_share_of_daily_customers_pct: Pct
    window_starts_before_data: bool


class DashboardWebsite(BaseModel):
    website: int
    name: str
    currency: str
    as_of: dt.date
    window: Window
    previous_window: Window
    cards: Cards
    trend: list[DailyFigures]
    order_status: list[OrderStatus]
    payment_methods: list[PaymentMethod]
    top_items: list[ItemSales]
    discounts: DiscountImpact
    acquisition: Acquisition


class Dashboard(BaseModel):
    period: Period
    days: int
    websites: list[DashboardWebsite]


class ChannelMonth(BaseModel):
    month: dt.date
    amount: Amount
    transaction_count: int


class Channel(BaseModel):
    channel: str
    kind: Literal["revenue", "incentive"]
    amount: Amount
    transaction_count: int
    monthly: list[ChannelMonth]


class StreamTotals(BaseModel):
    revenue: Amount
    incentives: Amount
    net: Amount


class StreamMonth(BaseModel):
    month: dt.date
    date_from: dt.date
    date_to: dt.date
    complete: bool


class StreamsWebsite(BaseModel):
    website: int
    name: str
    currency: str
    date_from: dt.date
    date_to: dt.date
    totals: StreamTotals
    channels: list[Channel]
    months: list[StreamMonth]


class RevenueStreams(BaseModel):
    websites: list[StreamsWebsite]


class VipTier(BaseModel):
    vip_tier: str
    customers: int


class LtvBand(BaseModel):
    ltv_segment: str
    order: int | None
    customers: int


class LifecycleStage(BaseModel):
    lifecycle_stage: str
    customers: int


class ChurnRisk(BaseModel):
    customers: int
    churn_rate: Pct


class RepeatPurchase(BaseModel):
    customers: int
    repeat_purchase_rate: Pct


class Cohort(BaseModel):
    cohort_month: dt.date
    month_number: int
    cohort_size: int
    active_customers: int
    retention_rate: Pct
    is_partial_month: bool


class CustomersWebsite(BaseModel):
    website: int
    name: str
    currency: str
    as_of: dt.date
    customers: int
    ordering_customers: int
    vip_tiers: list[VipTier]
    ltv_segments: list[LtvBand]
    lifecycle_stages: list[LifecycleStage]
    churn_risk: ChurnRisk
    repeat_purchase: RepeatPurchase
    retention: list[Cohort]


class Customers(BaseModel):
    websites: list[CustomersWebsite]


class Campaign(BaseModel):
    campaign_id: int
    campaign_name: str
    status: str
    start_date: dt.date
    end_date: dt.date
    budget: Amount | None
    orders_influenced: int
    revenue_generated: Amount
    campaign_cost: Amount
    customers_reached: int
    converted_customers: int
    conversion_rate: Pct
    roi: Pct
    budget_used: Pct
    is_over_budget: bool
    treated_recipients: int
    control_recipients: int
    treated_response_rate: Pct
    control_response_rate: Pct
    treated_revenue_per_recipient: Amount | None
    control_revenue_per_recipient: Amount | None
    incremental_orders: Decimal | None
    incremental_revenue: Amount | None
    incremental_roi: Pct


class CampaignsWebsite(BaseModel):
    website: int
    name: str
    currency: str
    campaign_count: int
    total_budget: Amount | None
    campaigns: list[Campaign]


class Campaigns(BaseModel):
    status: CampaignStatus | None
    websites: list[CampaignsWebsite]


class CampaignDay(BaseModel):
    date: dt.date
    orders_influenced: int
    revenue_generated: Amount
    campaign_cost: Amount
    recipients_sent: int
    cumulative_cost: Amount
    budget_used: Pct
    is_over_budget: bool


class CampaignVariant(BaseModel):
    variant: str
    recipients: int
    converters: int
    conversion_rate: Pct
    responding_orders: int
    responding_revenue: Amount
    revenue_per_recipient: Amount | None
    lift_over_control: Pct
    z_score: float | None
    p_value: float | None


class CampaignChannel(BaseModel):
    channel: str | None
    sent: int
    opened: int
    clicked: int
    open_rate: Pct
    click_rate: Pct


class CampaignDetail(BaseModel):
    website: int
    currency: str
    campaign: Campaign
    history: list[CampaignDay]
    variants: list[CampaignVariant]
    channels: list[CampaignChannel]


class Snapshot(BaseModel):
    total_orders: int
    gross_revenue: Amount
    total_discount: Amount
    unique_customers: int
    average_order_value: Amount | None
    vip_orders: int
    subscription_orders: int
    cash_orders: int
    mobile_money_orders: int
    bank_transfer_orders: int
    new_customers: int
    returning_customers: int
    cancelled_orders: int
    collected_revenue: Amount
    refunds: Amount


class CustomerRates(BaseModel):
    customers: int
    ordering_customers: int
    at_risk_customers: int
    churn_rate: Pct
    repeat_purchase_rate: Pct


class LoyaltyToday(BaseModel):
    points_balance: int
    active_clients: int
    points_issued: int
    points_redeemed: int


class SubscriptionsToday(BaseModel):
    active_subscriptions: int
    active_subscribers: int
    mrr: Amount


class CampaignCounts(BaseModel):
    draft: int
    active: int
    paused: int
    completed: int


class MetricsWebsite(BaseModel):
    website: int
    name: str
    currency: str
    as_of: dt.date
    snapshot: Snapshot
    customers: CustomerRates | None
    loyalty: LoyaltyToday | None
    subscriptions: SubscriptionsToday | None
    campaigns: CampaignCounts


class Metrics(BaseModel):
    websites: list[MetricsWebsite]


# ---------------------------------------------------------------------------------------
# Reading the marts


@dataclass(frozen=True)
class Site:
    """A website as the views describe it: its currency and the dates its marts cover."""

    id: int
    name: str
    currency: str
    as_of: dt.date
    first_date: dt.date

    def head(self) -> dict[str, Any]:
        return {"website": self.id, "name": self.name, "currency": self.currency}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _query(marts, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The rows of `sql` as dicts, dates as ISO text; a mart not published → 503."""
    try:
        cursor = marts.con.execute(sql, list(params))
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        # A mart (or a column) this view reads is missing from the published version: a
        # publication older than the marts the API expects.
        raise HTTPException(
            503, f"the published marts lack what this view reads ({type(exc).__name__}): "
            f"{str(exc).splitlines()[0]}; publish again (`mealytics run`)",
        ) from None
    names = [column[0] for column in cursor.description]
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _in(ids: Sequence[int]) -> str:
    return "(" + ", ".join("?" for _ in ids) + ")"


class VersionCache:
    """Figures of a published version, which never change (a version is immutable), kept
    for the next requests: at most `size` entries, the least recently used dropped first
    (so those of old versions go). A catalog published before versioning ("unversioned")
    can change in place: never cached."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, Any] = OrderedDict()

    def get(self, version: str, key: tuple) -> Any | None:
        with self._lock:
            value = self._entries.get((version, key))
            if value is not None:
                self._entries.move_to_end((version, key))
            return value

    def put(self, version: str, key: tuple, value: Any) -> None:
        if version == UNVERSIONED:
            return
        with self._lock:
            self._entries[(version, key)] = value
            self._entries.move_to_end((version, key))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


#: Every website the published version knows (its list of Site), per version.
SITES = VersionCache(size=16)


def _sites(token: StoredToken, marts, website: int | None) -> list[Site]:
    """The websites a request is about, in id order: `website` (404 outside the token's
    scope, checked before any SQL, or unknown to the marts), else every website the token
    sees that the published marts know."""
    if website is not None and not token.sees(website):
        raise HTTPException(404, f"no website {website}")
    known = SITES.get(marts.version, ("websites",))
    if known is None:
        known = _known_sites(marts)
        SITES.put(marts.version, ("websites",), known)
    wanted = {website} if website is not None else set(token.websites)
    chosen = [site for site in known if not wanted or site.id in wanted]
    if website is not None and not chosen:
        raise HTTPException(404, f"no website {website}")
    return chosen


def _known_sites(marts) -> list[Site]:
    """Every website of the marts with its currency and the dates its daily snapshot
    covers (as_of: its last business date, as `deps.website_as_of`)."""
    rows = _query(
        marts,
        """
        select websites.website_id, websites.website_name, websites.currency,
            snapshot.as_of, snapshot.first_date
        from marts.dim_websites as websites
        inner join (
            select website_id, max(business_date) as as_of, min(business_date) as first_date
            from marts.fct_daily_snapshot group by website_id
        ) as snapshot on websites.website_id = snapshot.website_id
        order by websites.website_id
        """,
    )
    return [
        Site(r["website_id"], r["website_name"], r["currency"],
             dt.date.fromisoformat(r["as_of"]), dt.date.fromisoformat(r["first_date"]))
        for r in rows
    ]


def _windows(rows: Iterable[tuple]) -> tuple[str, list[Any]]:
    """A relation `w(website_id, date_from, date_to, prev_from, prev_to)` of `rows`."""
    rows = list(rows)
    one = "(?, ?::date, ?::date, ?::date, ?::date)"
    relation = (
        f"(values {', '.join([one] * len(rows))}) "
        "as w(website_id, date_from, date_to, prev_from, prev_to)"
    )
    return relation, [value for row in rows for value in row]


def _by_site(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.pop("website_id"), []).append(row)
    return out


def _pct(numerator, denominator) -> Decimal | None:
    """100 × numerator / denominator, 2 decimals half away from zero; NULL over 0."""
    if numerator is None or not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(CENT, ROUND_HALF_UP)


def _ratio(numerator, denominator) -> Decimal | None:
    """A money average, 2 decimals half away from zero; NULL over 0 (the marts'
    `money_ratio`)."""
    if numerator is None or not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(CENT, ROUND_HALF_UP)


def _change(value, previous) -> dict[str, Any]:
    """A card: its value, the previous window's, the change and the change in % of the
    previous value's size (NULL when the previous is 0 or unknown)."""
    known = value is not None and previous is not None
    return {
        "value": value,
        "previous": previous,
        "change": value - previous if known else None,
        "change_pct": _pct(value - previous, abs(previous)) if known else None,
    }


# ---------------------------------------------------------------------------------------
# GET /dashboard


#: Distinct customers per (version, website, period): a pass over each customer's whole
#: history (their first order day), the one costly figure of the dashboard.
CUSTOMER_COUNTS = VersionCache()


def _customer_counts(marts, spans: dict[int, tuple], period: str) -> dict[int, dict]:
    """Per website: distinct customers with a counted order in the window and in the
    previous one, and the window's returning ones (who ordered in it on a day after their
    first counted order day): `pipelines.publish.data`'s figures for the static page."""
    out = {}
    for website in spans:
        cached = CUSTOMER_COUNTS.get(marts.version, (website, period))
        if cached is not None:
            out[website] = cached
    missing = [span for website, span in spans.items() if website not in out]
    if not missing:
        return out
    w, params = _windows(missing)
    rows = _query(
        marts,
        f"""
        with customer_days as (
            select
                c.website_id,
                c.user_id,
                min(c.business_date) as first_date,
                max(c.business_date) filter (where c.business_date >= w.date_from) as last_in,
                bool_or(c.business_date between w.prev_from and w.prev_to) as in_previous
            from marts.fct_customer_order_days as c
            inner join {w} on c.website_id = w.website_id and c.business_date <= w.date_to
            group by c.website_id, c.user_id
        )
        select
            website_id,
            count(last_in) as customers,
            count(*) filter (where in_previous) as customers_prev,
            count(*) filter (where last_in > first_date) as returning
        from customer_days
        group by website_id
        """,
        params,
    )
    found = {row.pop("website_id"): row for row in rows}
    for website, *_ in missing:
        out[website] = found.get(website, {"customers": 0, "customers_prev": 0, "returning": 0})
        CUSTOMER_COUNTS.put(marts.version, (website, period), out[website])
    return out


#: The dashboard's cards summed from the daily snapshot: card name → its column.
CARD_SUMS = {
    "revenue": "gross_revenue",
    "orders": "total_orders",
    "discount": "total_discount",
    "new_customers": "new_customers",
    "daily_returning": "returning_customers",
    "collected_revenue": "collected_revenue",
    "refunds": "refunds",
    "cancelled_orders": "cancelled_orders",
}
#: The dashboard's daily trend and breakdowns over the window (`{window}`: the join on it),
#: each from the mart the static dashboard draws the same panel from.
BREAKDOWNS = {
    "trend": """
        select m.website_id, m.business_date as date, m.total_orders, m.gross_revenue,
            m.total_discount, m.average_order_value, m.unique_customers, m.new_customers,
            m.returning_customers, m.cancelled_orders, m.collected_revenue, m.refunds,
            m.vip_orders, m.subscription_orders
        from marts.fct_daily_snapshot as m {window}
        order by m.website_id, m.business_date""",
    "order_status": """
        select m.website_id, m.status, bool_and(m.is_counted) as is_counted,
            sum(m.order_count) as order_count, sum(m.total_amount) as total_amount
        from marts.fct_order_status as m {window}
        group by m.website_id, m.status
        order by m.website_id, order_count desc, m.status""",
    "payment_methods": """
        select m.website_id, m.payment_method,
            any_value(m.payment_method_group) as payment_method_group,
            sum(m.order_count) as order_count, sum(m.gross_revenue) as gross_revenue
        from marts.fct_payment_methods as m {window}
        group by m.website_id, m.payment_method
        order by m.website_id, order_count desc, m.payment_method""",
    # Ties: the lowest meal id first, as the static page.
    "top_items": f"""
        select m.website_id, m.meal_id,
            any_value(m.meal_name order by m.business_date desc) as meal_name,
            any_value(m.category order by m.business_date desc) as category,
            sum(m.quantity_sold) as quantity_sold, sum(m.order_count) as order_count,
            sum(m.line_total) as line_total
        from marts.fct_item_sales as m {{window}}
        group by m.website_id, m.meal_id
        qualify row_number() over (
            partition by m.website_id order by sum(m.quantity_sold) desc, m.meal_id
        ) <= {TOP_ITEMS}
        order by m.website_id, quantity_sold desc, m.meal_id""",
    "discounts": """
        select m.website_id, m.discount_type, sum(m.order_count) as order_count,
            sum(m.discount_total) as discount_total
        from marts.fct_discounts as m {window}
        group by m.website_id, m.discount_type
        order by m.website_id, discount_total desc, m.discount_type""",
}


def _card_sums(marts, w: str, params: list[Any]) -> dict[int, dict[str, Any]]:
    """Per website, CARD_SUMS over the window and over the previous one (`<name>_prev`)."""
    columns = [
        f"coalesce(sum(d.{column}) filter (where d.business_date {op} w.date_from), 0) "
        f"as {name}{suffix}"
        for suffix, op in (("", ">="), ("_prev", "<"))
        for name, column in CARD_SUMS.items()
    ]
    rows = _query(
        marts,
        f"""
        select d.website_id, {", ".join(columns)}
        from marts.fct_daily_snapshot as d
        inner join {w}
            on d.website_id = w.website_id and d.business_date between w.prev_from and w.date_to
        group by d.website_id
        """,
        params,
    )
    return {row.pop("website_id"): row for row in rows}


def _cards(f: dict[str, Any], people: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The cards of a website: each figure, the previous window's, and the change."""
    def summed(name: str) -> dict[str, Any]:
        return _change(f[name], f[f"{name}_prev"])

    return {
        "revenue": summed("revenue"),
        "orders": summed("orders"),
        "customers": _change(people["customers"], people["customers_prev"]),
        "average_order_value": _change(
            _ratio(f["revenue"], f["orders"]), _ratio(f["revenue_prev"], f["orders_prev"])
        ),
        "discount": summed("discount"),
        "new_customers": summed("new_customers"),
        "collected_revenue": summed("collected_revenue"),
        "refunds": summed("refunds"),
        "cancelled_orders": summed("cancelled_orders"),
    }


def _dashboard_block(
    site: Site, span: tuple, f: dict[str, Any], people: dict[str, int],
    parts: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """One website's dashboard: its cards, trend and breakdowns, with their shares."""
    _, start, end, prev_from, prev_to = span
    all_orders = sum(row["order_count"] for row in parts["order_status"])
    for row in parts["order_status"]:
        row["share_of_orders_pct"] = _pct(row["order_count"], all_orders)
    for row in parts["payment_methods"]:
        row["share_of_orders_pct"] = _pct(row["order_count"], f["orders"])
    for row in parts["discounts"]:
        row["share_of_gross_revenue_pct"] = _pct(row["discount_total"], f["revenue"])
    new, daily_returning = f["new_customers"], f["daily_returning"]
    return {
        **site.head(),
        "as_of": site.as_of.isoformat(),
        "window": {"date_from": start.isoformat(), "date_to": end.isoformat()},
        "previous_window": {"date_from": prev_from.isoformat(), "date_to": prev_to.isoformat()},
        "cards": _cards(f, people),
        "trend": parts["trend"],
        "order_status": parts["order_status"],
        "payment_methods": parts["payment_methods"],
        "top_items": parts["top_items"],
        "discounts": {
            "total": f["discount"],
            "share_of_gross_revenue_pct": _pct(f["discount"], f["revenue"]),
            "by_type": parts["discounts"],
        },
        "acquisition": {
            "new_customers": new,
            "returning_customers": people["returning"],
            "new_share_of_daily_customers_pct": _pct(new, new + daily_returning),
            # The window reaches back before the website's first order: every customer of
            # the data is new in it.
            "window_starts_before_data": start < site.first_date,
        },
    }


@router.get(
    "/dashboard",
    response_class=ExactJSON,
    responses={200: {"model": Dashboard}},
    summary="Cards (with the previous window), daily trend and breakdowns of a period",
    description=(
        "The period is a window of N business days ending at the website's as_of (day 1, "
        "week 7, month 30, year 365), compared with the N days before it: the static "
        "dashboard's windows. One block per website (`?website=ID` for one)."
    ),
)
def dashboard(
    token: Token, marts: Marts, period: Period = "month", website: WebsiteFilter = None
) -> ExactJSON:
    sites = _sites(token, marts, website)
    days = PERIODS[period]
    answer: dict[str, Any] = {"period": period, "days": days, "websites": []}
    if not sites:
        return ExactJSON(answer)
    spans = {}
    for site in sites:
        start = site.as_of - dt.timedelta(days=days - 1)
        spans[site.id] = (site.id, start, site.as_of, start - dt.timedelta(days=days),
                          start - dt.timedelta(days=1))
    w, params = _windows(spans.values())
    sums = _card_sums(marts, w, params)
    people = _customer_counts(marts, spans, period)
    window = (
        f"inner join {w} on m.website_id = w.website_id "
        "and m.business_date between w.date_from and w.date_to"
    )
    parts = {
        name: _by_site(_query(marts, sql.format(window=window), params))
        for name, sql in BREAKDOWNS.items()
    }
    for site in sites:
        mine = {name: rows.get(site.id, []) for name, rows in parts.items()}
        answer["websites"].append(
            _dashboard_block(site, spans[site.id], sums[site.id], people[site.id], mine)
        )
    return ExactJSON(answer)


# ---------------------------------------------------------------------------------------
# GET /revenue-streams


def _stream_window(
    site: Site, date_from: dt.date | None, date_to: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The website's window: [date_from, date_to] within [its first date, its as_of]
    (else 400); by default the last STREAM_DAYS days up to as_of (from its first date when
    its data is shorter)."""
    end = site.as_of if date_to is None else date_to
    if date_from is None:
        start = max(site.first_date, end - dt.timedelta(days=STREAM_DAYS - 1))
    else:
        start = date_from
    covered = f"website {site.id} has data from {site.first_date} to {site.as_of}"
    if end > site.as_of:
        raise HTTPException(400, f"date_to {end} is after the marts' as_of: {covered}")
    if start < site.first_date:
        raise HTTPException(400, f"date_from {start} is before the data: {covered}")
    if start > end:
        raise HTTPException(400, f"date_from {start} is after date_to {end}")
    return start, end


@router.get(
    "/revenue-streams",
    response_class=ExactJSON,
    responses={200: {"model": RevenueStreams}},
    summary="Revenue and incentives per channel in a window, with their monthly trend",
    description=(
        "Per website (`?website=ID` for one): each of request 000's seven channels with its "
        "amount and transaction count in [date_from, date_to] (default: the last 30 days up "
        "to the website's as_of), largest amount first, and per calendar month the window "
        "touches (`months` says which days of it are in the window). Revenue channels: "
        "completed payments minus refunds; incentives (referral, loyalty): what was given."
    ),
)
def revenue_streams(
    token: Token,
    marts: Marts,
    date_from: Annotated[dt.date | None, Query(description="first day (inclusive)")] = None,
    date_to: Annotated[dt.date | None, Query(description="last day (inclusive)")] = None,
    website: WebsiteFilter = None,
) -> ExactJSON:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise HTTPException(400, f"date_from {date_from} is after date_to {date_to}")
    sites = _sites(token, marts, website)
    answer: dict[str, Any] = {"websites": []}
    if not sites:
        return ExactJSON(answer)
    spans = {site.id: _stream_window(site, date_from, date_to) for site in sites}
    w, params = _windows((i, start, end, start, end) for i, (start, end) in spans.items())
    rows = _query(
        marts,
        f"""
        select m.website_id, m.channel, m.kind,
            cast(date_trunc('month', m.business_date) as date) as month,
            sum(m.amount) as amount, sum(m.transaction_count) as transaction_count
        from marts.fct_revenue_by_channel as m
        inner join {w}
            on m.website_id = w.website_id and m.business_date between w.date_from and w.date_to
        group by m.website_id, m.channel, m.kind, month
        order by m.website_id, m.channel, month
        """,
        params,
    )
    for site in sites:
        start, end = spans[site.id]
        channels: dict[tuple[str, str], dict[str, Any]] = {}
        months: dict[str, dict[str, Any]] = {}
        for row in (r for r in rows if r["website_id"] == site.id):
            channel = channels.setdefault(
                (row["channel"], row["kind"]),
                {"channel": row["channel"], "kind": row["kind"], "amount": Decimal("0.00"),
                 "transaction_count": 0, "monthly": []},
            )
            channel["amount"] += row["amount"]
            channel["transaction_count"] += row["transaction_count"]
            channel["monthly"].append({k: row[k] for k in ("month", "amount", "transaction_count")})
            months.setdefault(row["month"], _month(row["month"], start, end))
        listed = sorted(channels.values(), key=lambda c: (-c["amount"], c["channel"]))
        revenue = sum((c["amount"] for c in listed if c["kind"] == "revenue"), Decimal("0.00"))
        incentives = sum(
            (c["amount"] for c in listed if c["kind"] == "incentive"), Decimal("0.00")
        )
        answer["websites"].append({
            **site.head(),
            "date_from": start.isoformat(),
            "date_to": end.isoformat(),
            "totals": {"revenue": revenue, "incentives": incentives, "net": revenue - incentives},
            "channels": listed,
            "months": sorted(months.values(), key=lambda m: m["month"]),
        })
    return ExactJSON(answer)


def _month(month: str, start: dt.date, end: dt.date) -> dict[str, Any]:
    """A calendar month of a window: the days of it the window covers, and whether that is
    the whole month."""
    first = dt.date.fromisoformat(month)
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    covered_from, covered_to = max(first, start), min(last, end)
    return {
        "month": month,
        "date_from": covered_from.isoformat(),
        "date_to": covered_to.isoformat(),
        "complete": (covered_from, covered_to) == (first, last),
    }


# ---------------------------------------------------------------------------------------
# GET /customers


@router.get(
    "/customers",
    response_class=ExactJSON,
    responses={200: {"model": Customers}},
    summary="Customers by VIP tier, LTV band and lifecycle; churn risk, repeat purchase, "
    "retention cohorts",
    description=(
        "Per website (`?website=ID` for one), as of its as_of. Counts only: churn risk is "
        "the number of customers at risk (last delivered order more than 60 days ago), "
        "never a list of people. LTV bands are the `ltv_segments` seed's of the website's "
        "currency, in its order (a band without customers is absent). Rates are over the "
        "customers with a delivered order. Retention: monthly cohorts of first delivered "
        "orders, the share active in each later month."
    ),
)
def customers(token: Token, marts: Marts, website: WebsiteFilter = None) -> ExactJSON:
    sites = _sites(token, marts, website)
    answer: dict[str, Any] = {"websites": []}
    if not sites:
        return ExactJSON(answer)
    ids = [site.id for site in sites]
    scope = f"website_id in {_in(ids)}"
    rates = {
        row.pop("website_id"): row
        for row in _query(
            marts,
            "select website_id, as_of_date, customers, ordering_customers, at_risk_customers, "
            "churn_rate, repeat_customers, repeat_purchase_rate "
            f"from marts.fct_customer_rates where {scope}",
            ids,
        )
    }
    groups = _customer_groups(marts, ids)
    cohorts = _by_site(_query(
        marts,
        "select website_id, cohort_month, month_number, cohort_size, active_customers, "
        "retention_rate, is_partial_month "
        f"from marts.fct_customer_cohorts where {scope} "
        "order by website_id, cohort_month, month_number",
        ids,
    ))
    for site in sites:
        rate = rates.get(site.id) or {
            "as_of_date": site.as_of.isoformat(), "customers": 0, "ordering_customers": 0,
            "at_risk_customers": 0, "churn_rate": None, "repeat_customers": 0,
            "repeat_purchase_rate": None,
        }
        answer["websites"].append({
            **site.head(),
            "as_of": rate["as_of_date"],
            "customers": rate["customers"],
            "ordering_customers": rate["ordering_customers"],
            **groups.get(site.id, {"vip_tiers": [], "ltv_segments": [], "lifecycle_stages": []}),
            "churn_risk": {"customers": rate["at_risk_customers"],
                           "churn_rate": rate["churn_rate"]},
            "repeat_purchase": {"customers": rate["repeat_customers"],
                                "repeat_purchase_rate": rate["repeat_purchase_rate"]},
            "retention": cohorts.get(site.id, []),
        })
    return ExactJSON(answer)


def _customer_groups(marts, ids: list[int]) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Per website, its customers counted by VIP tier ('none' without one; most first), by
    LTV band (the seed's order for the website's currency) and by lifecycle stage (most
    first), in one pass over dim_customers."""
    rows = _query(
        marts,
        f"""
        select
            website_id,
            grouping(vip_tier) = 0 as by_tier,
            grouping(ltv_segment) = 0 as by_band,
            coalesce(vip_tier, ltv_segment, lifecycle_stage) as key,
            case when grouping(ltv_segment) = 0 then min(ltv_segment_order) end as band_order,
            count(*) as customers
        from (
            select website_id, coalesce(vip_tier_current, 'none') as vip_tier, ltv_segment,
                ltv_segment_order, lifecycle_stage
            from marts.dim_customers where website_id in {_in(ids)}
        )
        group by grouping sets (
            (website_id, vip_tier), (website_id, ltv_segment), (website_id, lifecycle_stage)
        )
        order by website_id, band_order, customers desc, key
        """,
        ids,
    )
    out: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        mine = out.setdefault(
            row["website_id"], {"vip_tiers": [], "ltv_segments": [], "lifecycle_stages": []}
        )
        if row["by_tier"]:
            mine["vip_tiers"].append({"vip_tier": row["key"], "customers": row["customers"]})
        elif row["by_band"]:
            mine["ltv_segments"].append({"ltv_segment": row["key"], "order": row["band_order"],
                                         "customers": row["customers"]})
        else:
            mine["lifecycle_stages"].append(
                {"lifecycle_stage": row["key"], "customers": row["customers"]}
            )
    return out


# ---------------------------------------------------------------------------------------
# GET /campaigns, /campaigns/{id}

#: fct_campaign_performance's columns, as the views list them.
CAMPAIGN_COLUMNS = (
    "campaign_id", "campaign_name", "status", "start_date", "end_date", "budget",
    "orders_influenced", "revenue_generated", "campaign_cost", "customers_reached",
    "converted_customers", "conversion_rate", "roi", "budget_used", "is_over_budget",
    "treated_recipients", "control_recipients", "treated_response_rate",
    "control_response_rate", "treated_revenue_per_recipient", "control_revenue_per_recipient",
    "incremental_orders", "incremental_revenue", "incremental_roi",
)


@router.get(
    "/campaigns",
    response_class=ExactJSON,
    responses={200: {"model": Campaigns}},
    summary="Campaigns with their performance and true effect, and their total budget",
    description=(
        "Per website (`?website=ID` for one), its campaigns (`?status=` draft, active, "
        "paused or completed) with fct_campaign_performance's figures, including the "
        "incremental (control-group) ones, and the total budget of those listed, in the "
        "website's currency (NULL when none of them has a budget)."
    ),
)
def campaigns(
    token: Token,
    marts: Marts,
    status: Annotated[CampaignStatus | None, Query(description="only campaigns in it")] = None,
    website: WebsiteFilter = None,
) -> ExactJSON:
    sites = _sites(token, marts, website)
    answer: dict[str, Any] = {"status": status, "websites": []}
    if not sites:
        return ExactJSON(answer)
    ids = [site.id for site in sites]
    rows = _by_site(_query(
        marts,
        f"select website_id, {', '.join(CAMPAIGN_COLUMNS)} from marts.fct_campaign_performance "
        f"where website_id in {_in(ids)} and (? is null or status = ?) "
        "order by website_id, campaign_id",
        [*ids, status, status],
    ))
    for site in sites:
        listed = rows.get(site.id, [])
        budgets = [c["budget"] for c in listed if c["budget"] is not None]
        answer["websites"].append({
            **site.head(),
            "campaign_count": len(listed),
            "total_budget": sum(budgets, Decimal("0.00")) if budgets else None,
            "campaigns": listed,
        })
    return ExactJSON(answer)


@router.get(
    "/campaigns/{campaign_id}",
    response_class=ExactJSON,
    responses={200: {"model": CampaignDetail}},
    summary="One campaign: its performance, its day-by-day history, variants and channels",
)
def campaign_detail(
    token: Token,
    marts: Marts,
    campaign_id: Annotated[int, Path(ge=1, description="the campaign")],
) -> ExactJSON:
    found = _query(
        marts,
        f"select website_id, {', '.join(CAMPAIGN_COLUMNS)} "
        "from marts.fct_campaign_performance where campaign_id = ?",
        [campaign_id],
    )
    # Another website's campaign is as unknown as one that does not exist.
    if not found or not token.sees(found[0]["website_id"]):
        raise HTTPException(404, f"no campaign {campaign_id}")
    campaign = found[0]
    site = campaign.pop("website_id")
    currency = _query(
        marts, "select currency from marts.dim_websites where website_id = ?", [site]
    )
    key = "where campaign_id = ? and website_id = ?"
    history = _query(
        marts,
        "select business_date as date, orders_influenced, revenue_generated, campaign_cost, "
        "recipients_sent, cumulative_cost, budget_used, is_over_budget "
        f"from marts.fct_campaign_days {key} order by business_date",
        [campaign_id, site],
    )
    variants = _query(
        marts,
        "select variant, recipients, converters, conversion_rate, responding_orders, "
        "responding_revenue, revenue_per_recipient, lift_over_control, z_score, p_value "
        f"from marts.fct_campaign_variants {key} order by variant",
        [campaign_id, site],
    )
    channels = _query(
        marts,
        "select channel, sent, opened, clicked, open_rate, click_rate "
        f"from marts.fct_campaign_channels {key} order by channel nulls last",
        [campaign_id, site],
    )
    return ExactJSON({
        "website": site,
        "currency": currency[0]["currency"] if currency else None,
        "campaign": campaign,
        "history": history,
        "variants": variants,
        "channels": channels,
    })


# ---------------------------------------------------------------------------------------
# GET /metrics

SNAPSHOT_COLUMNS = (
    "total_orders", "gross_revenue", "total_discount", "unique_customers",
    "average_order_value", "vip_orders", "subscription_orders", "cash_orders",
    "mobile_money_orders", "bank_transfer_orders", "new_customers", "returning_customers",
    "cancelled_orders", "collected_revenue", "refunds",
)


@router.get(
    "/metrics",
    response_class=ExactJSON,
    responses={200: {"model": Metrics}},
    summary="The latest figures per website: the daily snapshot of its as_of and headline KPIs",
    description=(
        "Request 000's api_metrics, compact: per website (`?website=ID` for one) the daily "
        "snapshot of its as_of (request 000's DailyAnalyticsSnapshot), its customers' churn "
        "and repeat rates, the loyalty points outstanding and active clients, subscriptions "
        "and MRR at the end of as_of, and its campaigns by status."
    ),
)
def metrics(token: Token, marts: Marts, website: WebsiteFilter = None) -> ExactJSON:
    sites = _sites(token, marts, website)
    answer: dict[str, Any] = {"websites": []}
    if not sites:
        return ExactJSON(answer)
    ids = [site.id for site in sites]
    sections = _latest_figures(marts, sites)
    sections["customers"] = _by_site(_query(
        marts,
        "select website_id, customers, ordering_customers, at_risk_customers, churn_rate, "
        "repeat_purchase_rate from marts.fct_customer_rates "
        f"where website_id in {_in(ids)}",
        ids,
    ))
    sections["campaigns"] = _by_site(_query(
        marts,
        "select website_id, "
        + ", ".join(f"count(*) filter (where status = '{s}') as {s}" for s in CAMPAIGN_STATUSES)
        + f" from marts.fct_campaign_performance where website_id in {_in(ids)} "
        "group by website_id",
        ids,
    ))
    for site in sites:
        # A section the marts have no row of (no loyalty program, no subscription yet):
        # null; no campaign: zeros.
        mine = {name: (rows.get(site.id) or [None])[0] for name, rows in sections.items()}
        mine["campaigns"] = mine["campaigns"] or dict.fromkeys(CAMPAIGN_STATUSES, 0)
        answer["websites"].append({**site.head(), "as_of": site.as_of.isoformat(), **mine})
    return ExactJSON(answer)


def _latest_figures(marts, sites: list[Site]) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Per website, the daily marts' rows of its as_of: the snapshot, the loyalty points
    and the subscriptions."""
    w, params = _windows((s.id, s.as_of, s.as_of, s.as_of, s.as_of) for s in sites)
    latest = f"inner join {w} on m.website_id = w.website_id and m.business_date = w.date_to"
    queries = {
        "snapshot": f"select m.website_id, {', '.join('m.' + c for c in SNAPSHOT_COLUMNS)} "
        "from marts.fct_daily_snapshot as m",
        "loyalty": "select m.website_id, m.points_balance, m.active_clients, m.points_issued, "
        "m.points_redeemed from marts.fct_loyalty_points_daily as m",
        "subscriptions": "select m.website_id, m.active_subscriptions, m.active_subscribers, "
        "m.mrr from marts.fct_subscriptions_daily as m",
    }
    return {name: _by_site(_query(marts, f"{sql} {latest}", params))
            for name, sql in queries.items()}


