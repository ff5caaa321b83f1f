"""What the dashboard embeds: the daily mart rows it windows in the browser, plus the few
figures that cannot be summed from daily rows (distinct customers and loyalty engagement of
a window), computed here for the four windows the page offers.

Everything is read from the warehouse's marts (schema `marts`, nothing else: staging and
intermediate models are the build's, not the readers') through a read-only connection; a
mart that is not built (yet) is simply absent from the payload and its panel says so.
"""

from __future__ import annotations

import datetime as dt
import decimal
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from pipelines import duck

MARTS = "marts"
#: The page's period selector: a window of N business days ending at as_of (request 000's
#: day / week / month / year).
PERIODS: dict[str, int] = {"day": 1, "week": 7, "month": 30, "year": 365}
#: Daily rows kept: the longest window and the one before it, for the change figures.
HISTORY_DAYS = 2 * max(PERIODS.values())
#: Churn-risk customers listed per website (ids and figures only: no names, no contacts).
CHURN_LIST = 10


def _plain(value: Any) -> Any:
    """A JSON-ready value: decimals as floats (2 decimals suffice), dates as ISO text."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _table(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> dict:
    """A query's result as {"cols": [...], "rows": [[...], ...]} (compact, column names once)."""
    relation = con.execute(sql, list(params))
    cols = [d[0] for d in relation.description]
    rows = [[_plain(v) for v in row] for row in relation.fetchall()]
    return {"cols": cols, "rows": rows}


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The marts (not the table macros) of schema marts, by name: tables in the build file,
    views over Parquet in the published catalog."""
    return [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_catalog = current_database() and table_type in ('BASE TABLE', 'VIEW') "
            "order by table_name",
            [MARTS],
        ).fetchall()
    ]


def _has_macro(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_functions() where schema_name = ? and function_name = ?",
            [MARTS, name],
        ).fetchall()[0][0]
    )


def _websites(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Each website with its currency, its as_of (the last date of its daily snapshot) and
    its first_date (the first); `today_so_far` when as_of is today in the website's zone (a
    frequent refresh's marts end with today's partial day)."""
    rows = con.execute(
        """
        select
            websites.website_id,
            websites.website_name,
            websites.currency,
            websites.timezone,
            snapshot.as_of_date,
            snapshot.first_date
        from marts.dim_websites as websites
        inner join (
            select website_id, max(business_date) as as_of_date, min(business_date) as first_date
            from marts.fct_daily_snapshot
            group by website_id
        ) as snapshot on websites.website_id = snapshot.website_id
        order by websites.website_id
        """
    ).fetchall()
    now = dt.datetime.now(dt.UTC)
    return [
        {
            "id": r[0],
            "name": r[1],
            "currency": r[2],
            "timezone": r[3],
            "as_of": r[4].isoformat(),
            # The first day of its daily snapshot (its first order): a window starting before
            # it covers less history than its length says.
            "first_date": r[5].isoformat(),
            "today_so_far": r[4] == now.astimezone(zoneinfo.ZoneInfo(r[3])).date(),
        }
        for r in rows
    ]


def _since(websites: Iterable[dict[str, Any]]) -> str:
    earliest = min(dt.date.fromisoformat(w["as_of"]) for w in websites)
    return (earliest - dt.timedelta(days=HISTORY_DAYS - 1)).isoformat()


#: A window of the page: (its last day, None for each website's as_of; its length in days).
#: The periods are (None, PERIODS[p]); the live dashboard (pipelines/api/dashboard.py) asks
#: for other lengths and for date ranges.
Window = tuple[dt.date | None, int]


def _period_windows() -> dict[str, Window]:
    return {period: (None, days) for period, days in PERIODS.items()}


def _bounds(window: Window, as_of: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """(start, end, the previous window's start) of a window for a website of this as_of."""
    end, days = window
    end = as_of if end is None else end
    start = end - dt.timedelta(days=days - 1)
    return start, end, start - dt.timedelta(days=days)


def _customer_counts(
    con: duckdb.DuckDBPyConnection,
    website_id: int,
    as_of: dt.date,
    windows: dict[str, Window] | None = None,
) -> dict:
    """Per window (default: the periods, ending at as_of): distinct ordering customers of the
    window and of the one before, and the window's returning ones (who ordered in it on a
    day after their first counted order day). One pass over the website's customer days for
    every window: the first order day of each customer needs their whole history."""
    windows = windows or _period_windows()
    bounds = {key: _bounds(window, as_of) for key, window in windows.items()}
    # $1 website, $2 the last end, then per window: start, end, previous start.
    counts = ", ".join(
        f"count(distinct user_id) filter (where business_date between ${3 + 3 * k} "
        f"and ${4 + 3 * k}), "
        f"count(distinct user_id) filter (where business_date >= ${5 + 3 * k} "
        f"and business_date < ${3 + 3 * k}), "
        f"count(distinct user_id) filter (where business_date between ${3 + 3 * k} "
        f"and ${4 + 3 * k} and business_date > first_date)"
        for k in range(len(bounds))
    )
    params: list[Any] = [website_id, max(end for _, end, _ in bounds.values())]
    for start, end, previous in bounds.values():
        params += [start, end, previous]
    row = con.execute(
        f"""
        with days as (
            select
                business_date,
                user_id,
                min(business_date) over (partition by user_id) as first_date
            from marts.fct_customer_order_days
            where website_id = $1 and business_date <= $2
        )
        select {counts} from days
        """,
        params,
    ).fetchall()[0]
    return {
        key: dict(
            zip(("customers", "customers_prev", "returning"), row[3 * k : 3 * k + 3], strict=True)
        )
        for k, key in enumerate(bounds)
    }


def window_figures(
    con: duckdb.DuckDBPyConnection,
    websites: list[dict[str, Any]],
    windows: dict[str, Window] | None = None,
) -> dict:
    """Per website and window (default: the periods): distinct ordering customers (this
    window and the previous one), the distinct returning ones of the window (who ordered in
    it on a day after their first counted order day: the customers behind the daily
    "returning" bars), and request 003's engagement stats for the window. None of them sums
    from daily rows. Keyed `<website id>|<window key>`.

    Returning customers are not "customers - new customers": that is the customers acquired
    before the window, 0 for a window reaching back before the first order (a year of four
    months' data), while the daily bars show them coming back."""
    windows = windows or _period_windows()
    out: dict[str, dict[str, Any]] = {}
    engagement = _has_macro(con, "loyalty_engagement_stats")
    for website in websites:
        as_of = dt.date.fromisoformat(website["as_of"])
        counts = _customer_counts(con, website["id"], as_of, windows)
        for key, window in windows.items():
            figures: dict[str, Any] = dict(counts[key])
            if engagement:
                _, end, _ = _bounds(window, as_of)
                stats = _table(
                    con,
                    "select total_clients, active_clients, clients_with_redemptions, "
                    "clients_with_transactions, engagement_rate, redemption_rate "
                    "from marts.loyalty_engagement_stats(?, days := ?, website := ?)",
                    [end, window[1], website["id"]],
                )
                if stats["rows"]:
                    figures["engagement"] = dict(zip(stats["cols"], stats["rows"][0], strict=True))
            out[f"{website['id']}|{key}"] = figures
    return out


def kitchen_hours(
    con: duckdb.DuckDBPyConnection,
    websites: list[dict[str, Any]],
    windows: dict[str, Window] | None = None,
) -> dict:
    """Orders prepared per local hour, per website and window (default: the periods), summed
    here (24 hours x every day would be too many rows): column `period` is the window key."""
    rows = []
    for website in websites:
        as_of = dt.date.fromisoformat(website["as_of"])
        for key, window in (windows or _period_windows()).items():
            start, end, _ = _bounds(window, as_of)
            for hour, prepared in con.execute(
                "select local_hour, sum(orders_prepared) from marts.fct_kitchen_hourly "
                "where website_id = ? and business_date between ? and ? "
                "group by local_hour order by local_hour",
                [website["id"], start, end],
            ).fetchall():
                rows.append([website["id"], key, hour, _plain(prepared)])
    return {"cols": ["website_id", "period", "local_hour", "orders_prepared"], "rows": rows}


def has_kitchen_hours(con: duckdb.DuckDBPyConnection, marts: set[str]) -> bool:
    return "fct_kitchen_hourly" in marts and {"local_hour", "orders_prepared"} <= _columns(
        con, "fct_kitchen_hourly"
    )


#: Daily marts embedded as rows (columns the page uses), each limited to the last
#: HISTORY_DAYS days. Money stays per website: the page never adds two currencies.
DAILY_QUERIES: dict[str, str] = {
    "daily": """
        select website_id, business_date, total_orders, gross_revenue, total_discount,
            unique_customers, new_customers, returning_customers, cancelled_orders,
            collected_revenue, refunds, vip_orders, subscription_orders
        from marts.fct_daily_snapshot where business_date >= ?
        order by website_id, business_date""",
    "channels": """
        select website_id, business_date, channel, kind, amount, transaction_count
        from marts.fct_revenue_by_channel
        where business_date >= ? and (amount <> 0 or transaction_count <> 0)
        order by website_id, business_date, channel""",
    "payments": """
        select website_id, business_date, payment_method, order_count, gross_revenue
        from marts.fct_payment_methods where business_date >= ?
        order by website_id, business_date, payment_method""",
    "statuses": """
        select website_id, business_date, status, order_count
        from marts.fct_order_status where business_date >= ?
        order by website_id, business_date, status""",
    "items": """
        select website_id, business_date, meal_id, quantity_sold, line_total
        from marts.fct_item_sales where business_date >= ?
        order by website_id, business_date, meal_id""",
    "discounts": """
        select website_id, business_date, discount_type, order_count, discount_total
        from marts.fct_discounts where business_date >= ?
        order by website_id, business_date, discount_type""",
    "points": """
        select website_id, business_date, points_issued, points_redeemed, points_expired,
            points_balance, active_clients
        from marts.fct_loyalty_points_daily where business_date >= ?
        order by website_id, business_date""",
    "redemptions": """
        select website_id, business_date, redemption_item_id, redemption_count, points_spent
        from marts.fct_redemption_items where business_date >= ?
        order by website_id, business_date, redemption_item_id""",
    "redemption_categories": """
        select website_id, business_date, category, redemption_count, points_spent
        from marts.fct_redemption_categories where business_date >= ?
        order by website_id, business_date, category""",
    "redemption_patterns": """
        select website_id, business_date, local_weekday, local_weekday_name, local_hour,
            redemption_count
        from marts.fct_redemption_patterns where business_date >= ?
        order by website_id, business_date, local_weekday, local_hour""",
    "wallet": """
        select website_id, business_date, redemption_count, points_spent, value_amount
        from marts.fct_wallet_conversions where business_date >= ?
        order by website_id, business_date""",
    "vip_revenue": """
        select website_id, business_date, gross_revenue, vip_revenue
        from marts.fct_vip_revenue_daily where business_date >= ?
        order by website_id, business_date""",
    "deliveries": """
        select website_id, business_date, deliveries, delivered_deliveries, failed_deliveries,
            on_time_deliveries, delivery_minutes_total, median_delivery_minutes,
            p90_delivery_minutes
        from marts.fct_deliveries_daily where business_date >= ?
        order by website_id, business_date""",
    "support": """
        select website_id, business_date, tickets_opened, tickets_resolved, first_responses,
            first_response_hours_total, resolution_hours_total
        from marts.fct_support_tickets_daily where business_date >= ?
        order by website_id, business_date""",
    "consultations": """
        select website_id, business_date, booked, completed, no_show, cancelled,
            completed_fees
        from marts.fct_consultations_daily where business_date >= ?
        order by website_id, business_date""",
}

#: The mart each daily query reads (a query runs only when its mart is built).
DAILY_SOURCES = {
    "daily": "fct_daily_snapshot",
    "channels": "fct_revenue_by_channel",
    "payments": "fct_payment_methods",
    "statuses": "fct_order_status",
    "items": "fct_item_sales",
    "discounts": "fct_discounts",
    "points": "fct_loyalty_points_daily",
    "redemptions": "fct_redemption_items",
    "redemption_categories": "fct_redemption_categories",
    "redemption_patterns": "fct_redemption_patterns",
    "wallet": "fct_wallet_conversions",
    "vip_revenue": "fct_vip_revenue_daily",
    "deliveries": "fct_deliveries_daily",
    "support": "fct_support_tickets_daily",
    "consultations": "fct_consultations_daily",
}


def _columns(con: duckdb.DuckDBPyConnection, mart: str) -> set[str]:
    """The columns of a mart (a warehouse built before a column was added lacks it)."""
    return {
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? "
            "and table_name = ? and table_catalog = current_database()",
            [MARTS, mart],
        ).fetchall()
    }


def _customer_panels(con: duckdb.DuckDBPyConnection, payload: dict, marts: set[str]) -> None:
    if "dim_customers" in marts:
        payload["vip_tiers"] = _table(
            con,
            """
            select website_id, coalesce(vip_tier_current, 'none') as vip_tier, count(*) as customers
            from marts.dim_customers group by all order by website_id, vip_tier""",
        )
        # The bands of each website's currency, in the seed's order (ltv_segment_order).
        order = (
            "ltv_segment_order"
            if "ltv_segment_order" in _columns(con, "dim_customers")
            else "cast(null as integer)"
        )
        payload["ltv_segments"] = _table(
            con,
            f"""
            select website_id, ltv_segment, {order} as ltv_segment_order, count(*) as customers
            from marts.dim_customers group by all
            order by website_id, ltv_segment_order, ltv_segment""",
        )
        payload["churn_list"] = _table(
            con,
            """
            select website_id, user_id, days_since_last_order, total_orders, lifetime_value,
                ltv_segment, coalesce(vip_tier_current, '') as vip_tier
            from marts.dim_customers
            where churn_risk
            qualify row_number() over (
                partition by website_id order by lifetime_value desc, user_id
            ) <= ?
            order by website_id, lifetime_value desc, user_id""",
            [CHURN_LIST],
        )
    if "fct_customer_rates" in marts:
        payload["rates"] = _table(
            con,
            """
            select website_id, customers, ordering_customers, at_risk_customers,
                repeat_customers, churn_rate, repeat_purchase_rate
            from marts.fct_customer_rates order by website_id""",
        )
    if "fct_customer_cohorts" in marts:
        partial = (
            "is_partial_month"
            if "is_partial_month" in _columns(con, "fct_customer_cohorts")
            else "false"
        )
        payload["cohorts"] = _table(
            con,
            f"""
            select website_id, cohort_month, month_number, cohort_size, active_customers,
                {partial} as is_partial_month
            from marts.fct_customer_cohorts order by website_id, cohort_month, month_number""",
        )


def _loyalty_panels(con: duckdb.DuckDBPyConnection, payload: dict, marts: set[str]) -> None:
    if "fct_loyalty_tier_daily" in marts:
        # The distribution at each website's last business date (its as_of).
        payload["loyalty_tiers"] = _table(
            con,
            """
            select tiers.website_id, tiers.tier, tiers.tier_rank, tiers.active_clients,
                tiers.threshold
            from marts.fct_loyalty_tier_daily as tiers
            inner join (
                select website_id, max(business_date) as business_date
                from marts.fct_loyalty_tier_daily group by website_id
            ) as latest
                on tiers.website_id = latest.website_id
                and tiers.business_date = latest.business_date
            order by tiers.website_id, tiers.tier_rank""",
        )
    if "fct_redemption_items" in marts:
        payload["redemption_item_names"] = _table(
            con,
            """
            select redemption_item_id, any_value(item_name order by business_date desc),
                any_value(category order by business_date desc)
            from marts.fct_redemption_items group by redemption_item_id
            order by redemption_item_id""",
        )


def _campaign_panels(con: duckdb.DuckDBPyConnection, payload: dict, marts: set[str]) -> None:
    if "fct_campaign_performance" in marts:
        payload["campaigns"] = _table(
            con, "select * from marts.fct_campaign_performance order by website_id, campaign_id"
        )
    if "fct_campaign_variants" in marts:
        payload["campaign_variants"] = _table(
            con, "select * from marts.fct_campaign_variants order by all"
        )


#: The views issue 17 adds (marts built on other branches, landing one by one: DESIGN.md
#: "More marts"). Each is optional twice over: a mart not built is absent from the payload
#: (its panel says "not built yet"), and of the columns the page reads, those a built mart
#: lacks are left out (the panel shows "n/a" there), never an error that stops publishing.
#: key: (mart, key columns (required), optional columns, filter, order).
OPTIONAL_QUERIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str, str]] = {
    # Daily rows, windowed in the browser like DAILY_QUERIES.
    "subscriptions": (
        "fct_subscriptions_daily",
        ("website_id", "business_date"),
        ("active_subscriptions", "active_subscribers", "mrr"),
        "business_date >= $since",
        "website_id, business_date",
    ),
    "payment_health": (
        "fct_payment_health_daily",
        ("website_id", "business_date", "method"),
        (
            "attempts",
            "completed",
            "failed",
            "pending",
            "amount_attempted",
            "amount_collected",
            "amount_failed",
            "retries",
        ),
        "business_date >= $since",
        "website_id, business_date, method",
    ),
    "reconciliation": (
        "fct_revenue_reconciliation_daily",
        ("website_id", "business_date"),
        ("gross_revenue", "collected_revenue", "refunds", "receivables"),
        "business_date >= $since",
        "website_id, business_date",
    ),
    "campaign_days": (
        "fct_campaign_days",
        ("campaign_id", "website_id", "business_date"),
        (
            "orders_influenced",
            "revenue_generated",
            "campaign_cost",
            "recipients_sent",
            "cumulative_cost",
            "budget_used",
            "is_over_budget",
        ),
        "business_date >= $since",
        "website_id, campaign_id, business_date",
    ),
    "kitchen": (
        "fct_kitchen_daily",
        ("website_id", "business_date"),
        (
            "orders_prepared",
            "prepared_within_20_min",
            "median_prep_minutes",
            "p90_prep_minutes",
            "share_within_20_min",
        ),
        "business_date >= $since",
        "website_id, business_date",
    ),
    # Plan mix at each website's last day.
    "subscription_plans": (
        "fct_subscription_plans_daily",
        ("website_id", "business_date", "plan_id"),
        ("plan_name", "billing_interval", "active_subscriptions", "active_subscribers", "mrr"),
        "business_date = (select max(latest.business_date) "
        "from marts.fct_subscription_plans_daily as latest "
        "where latest.website_id = m.website_id)",
        "website_id, plan_id",
    ),
    # Monthly rows (the page shows the months its window touches).
    "mrr_movements": (
        "fct_mrr_movements_monthly",
        ("website_id", "month"),
        (
            "opening_mrr",
            "new_mrr",
            "reactivation_mrr",
            "expansion_mrr",
            "contraction_mrr",
            "churned_mrr",
            "closing_mrr",
            "subscribers_churned",
            "subscriber_churn_rate",
            "revenue_churn_rate",
        ),
        "month >= $since_month",
        "website_id, month",
    ),
    "referral_funnel": (
        "fct_referral_funnel_monthly",
        ("website_id", "month"),
        (
            "referrals_created",
            "qualified",
            "rewarded",
            "qualification_rate",
            "reward_rate",
            "bonus_amount",
            "referee_orders_90d",
            "referee_revenue_90d",
        ),
        "month >= $since_month",
        "website_id, month",
    ),
    "riders": (
        "fct_rider_performance_monthly",
        ("website_id", "rider_name", "month"),
        (
            "deliveries",
            "delivered",
            "failed",
            "on_time",
            "failure_rate",
            "median_minutes",
            "p90_minutes",
            "on_time_rate",
        ),
        "month >= $since_month",
        "website_id, month, rider_name",
    ),
    "nutritionists": (
        "fct_nutritionist_performance_monthly",
        ("website_id", "nutritionist_name", "month"),
        (
            "booked",
            "completed",
            "cancelled",
            "no_show",
            "no_show_rate",
            "completed_fees",
            "upcoming",
        ),
        "month >= $since_month",
        "website_id, month, nutritionist_name",
    ),
    "agents": (
        "fct_support_agents_monthly",
        ("website_id", "assigned_agent", "month"),
        ("tickets", "resolved", "median_first_response_hours", "median_resolution_hours"),
        "month >= $since_month",
        "website_id, month, assigned_agent",
    ),
    "vip_tier_revenue": (
        "fct_vip_revenue_by_tier_daily",
        ("website_id", "business_date", "tier"),
        ("tier_rank", "orders", "gross_revenue"),
        "business_date >= $since",
        "website_id, business_date, tier",
    ),
    "loyalty_liability": (
        "fct_loyalty_liability_daily",
        ("website_id", "business_date"),
        ("outstanding_points", "value_per_point", "liability"),
        "business_date >= $since",
        "website_id, business_date",
    ),
    "loyalty_engagement": (
        "fct_loyalty_engagement_daily",
        ("website_id", "business_date"),
        ("redemptions", "points_redeemed", "clients_with_entries", "engagement_rate_30d"),
        "business_date >= $since",
        "website_id, business_date",
    ),
    "loyalty_members": (
        "fct_loyalty_members_monthly",
        ("website_id", "month", "member_group"),
        ("orders", "customers", "gross_revenue"),
        "month >= $since_month",
        "website_id, month, member_group",
    ),
    # As of as_of (no history to window).
    "campaign_channels": (
        "fct_campaign_channels",
        ("campaign_id", "website_id", "channel"),
        ("sent", "opened", "clicked", "open_rate", "click_rate"),
        "true",
        "website_id, campaign_id, channel",
    ),
    "health_goals": (
        "fct_health_goals",
        ("website_id", "dietary_goal"),
        ("customers", "customers_with_delivered_order", "delivered_orders", "revenue"),
        "true",
        "website_id, dietary_goal",
    ),
    "recent_orders": (
        "fct_recent_orders",
        ("order_id", "website_id", "business_date"),
        (
            "local_time",
            "status",
            "channel",
            "total",
            "payment_method",
            "payment_status",
            "item_count",
        ),
        # The latest RECENT_ORDERS of each website (the mart keeps more).
        "order_id in (select ranked.order_id from marts.fct_recent_orders as ranked "
        "where ranked.website_id = m.website_id "
        "order by strftime(ranked.local_time, '%Y-%m-%d %H:%M') desc, ranked.order_id desc "
        "limit $recent)",
        "website_id, local_time desc, order_id desc",
    ),
}
#: Predicted customer value per website (dim_customer_predictions is one row per customer:
#: the page gets sums and the customers per band of p_alive, no customer).
PREDICTIONS_SQL = """
    select
        website_id,
        count(*) as customers,
        count(p_alive) as scored,
        sum(predicted_value_12m) as predicted_value_12m,
        sum(expected_orders_90d) as expected_orders_90d,
        count(*) filter (where p_alive < 0.25) as alive_0_25,
        count(*) filter (where p_alive >= 0.25 and p_alive < 0.5) as alive_25_50,
        count(*) filter (where p_alive >= 0.5 and p_alive < 0.75) as alive_50_75,
        count(*) filter (where p_alive >= 0.75) as alive_75_100
    from marts.dim_customer_predictions
    group by website_id
    order by website_id"""
#: Orders listed per website in the recent-orders panel.
RECENT_ORDERS = 20


def _optional_panels(
    con: duckdb.DuckDBPyConnection, payload: dict, marts: set[str], websites: list[dict]
) -> None:
    """OPTIONAL_QUERIES, each when its mart is built with its key columns (else absent), and
    the kitchen's hours summed per window (24 hours x every day would be too many rows)."""
    since = dt.date.fromisoformat(payload["since"])
    values = {"$since_month": since.replace(day=1), "$since": since, "$recent": RECENT_ORDERS}
    for key, (mart, keys, optional, where, order) in OPTIONAL_QUERIES.items():
        if mart not in marts:
            continue
        present = _columns(con, mart)
        if not set(keys) <= present:
            continue
        cols = [*keys, *(c for c in optional if c in present)]
        if "local_time" in cols:  # a naive local timestamp: shown as it reads
            cols[cols.index("local_time")] = "strftime(local_time, '%Y-%m-%d %H:%M') as local_time"
        params: list[Any] = []
        for name, value in values.items():
            if name in where:
                where = where.replace(name, "?")
                params.append(value)
        payload[key] = _table(
            con,
            f"select {', '.join(cols)} from marts.{mart} as m where {where} order by {order}",
            params,
        )
    if "dim_customer_predictions" in marts and {
        "p_alive",
        "expected_orders_90d",
        "predicted_value_12m",
    } <= _columns(con, "dim_customer_predictions"):
        payload["predictions"] = _table(con, PREDICTIONS_SQL)
    if has_kitchen_hours(con, marts):
        payload["kitchen_hours"] = kitchen_hours(con, websites)


#: The mart behind each payload key, for the panel of one not built.
SOURCES: dict[str, str] = {
    **DAILY_SOURCES,
    **{key: spec[0] for key, spec in OPTIONAL_QUERIES.items()},
    "kitchen_hours": "fct_kitchen_hourly",
    "predictions": "dim_customer_predictions",
    "windows": "fct_customer_order_days",
    "rates": "fct_customer_rates",
    "vip_tiers": "dim_customers",
    "ltv_segments": "dim_customers",
    "cohorts": "fct_customer_cohorts",
    "loyalty_tiers": "fct_loyalty_tier_daily",
    "campaigns": "fct_campaign_performance",
}


def collect(con: duckdb.DuckDBPyConnection, since: dt.date | None = None) -> dict[str, Any]:
    """The dashboard's payload from an open warehouse connection: daily rows from `since`
    (default: HISTORY_DAYS before the earliest as_of; an earlier one gives more history,
    for the live dashboard's longer ranges, never less)."""
    marts = set(mart_tables(con))
    for required in ("fct_daily_snapshot", "dim_websites"):
        if required not in marts:
            raise LookupError(f"marts.{required} is missing: build the marts first")
    websites = _websites(con)
    if not websites:
        raise LookupError("marts.fct_daily_snapshot has no rows: nothing to publish")
    history_from = min(_since(websites), since.isoformat()) if since else _since(websites)
    payload: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "periods": PERIODS,
        "websites": websites,
        "since": history_from,
        "marts": sorted(marts),
        "sources": SOURCES,
    }
    for key, sql in DAILY_QUERIES.items():
        if DAILY_SOURCES[key] in marts:
            payload[key] = _table(con, sql, [history_from])
    if "fct_item_sales" in marts:
        payload["meal_names"] = _table(
            con,
            "select meal_id, any_value(meal_name order by business_date desc) "
            "from marts.fct_item_sales group by meal_id order by meal_id",
        )
    if "fct_customer_order_days" in marts:
        payload["windows"] = window_figures(con, websites)
    _customer_panels(con, payload, marts)
    _loyalty_panels(con, payload, marts)
    _campaign_panels(con, payload, marts)
    _optional_panels(con, payload, marts, websites)
    return payload


def collect_from(warehouse_path: str) -> dict[str, Any]:
    """`collect` over a read-only connection to the warehouse file."""
    con = duck.connect(warehouse_path, read_only=True)
    try:
        return collect(con)
    finally:
        con.close()
