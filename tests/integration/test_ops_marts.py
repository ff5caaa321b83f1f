"""Staff, kitchen, health-profile and recent-order marts (METRICS.md, "Staff, kitchen and
health profiles") on the shared whole build (`owners_build`), against the same figures
computed independently in pandas from the SOURCE tables: business dates and hours in each
website's zone with zoneinfo, exact microsecond durations, interpolated percentiles in
Decimal, percentages rounded half up."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

MICROS_PER_MINUTE = 60_000_000
MICROS_PER_HOUR = 3_600_000_000


@pytest.fixture(scope="module")
def source(owners_build) -> Path:
    return owners_build.source


@pytest.fixture(scope="module")
def mart(owners_build):
    con = duckdb.connect(str(owners_build.warehouse), read_only=True)

    def read(sql: str) -> pd.DataFrame:
        return con.execute(sql).df()

    yield read
    con.close()


@pytest.fixture(scope="module")
def zones(source) -> dict[int, ZoneInfo]:
    sites = _read(source, "select id, timezone from accounts_website")
    return {int(w): ZoneInfo(z) for w, z in zip(sites.id, sites.timezone, strict=True)}


@pytest.fixture(scope="module")
def as_of_end(owners_build, zones) -> dict[int, pd.Timestamp]:
    """The instant as_of's business day ends in each website's zone (its next midnight)."""
    midnight = dt.datetime.combine(owners_build.as_of + dt.timedelta(days=1), dt.time())
    return {
        w: pd.Timestamp(midnight.replace(tzinfo=zone)).tz_convert("UTC")
        for w, zone in zones.items()
    }


def _read(source: Path, sql: str) -> pd.DataFrame:
    with sqlite3.connect(source) as con:
        return pd.read_sql(sql, con)


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601")


def _local(times: pd.Series, sites: pd.Series, zones: dict) -> list:
    return [
        None if pd.isna(ts) else ts.astimezone(zones[int(w)])
        for ts, w in zip(times, sites, strict=True)
    ]


def _micros(start: pd.Series, end: pd.Series) -> pd.Series:
    """Exact elapsed microseconds (NA where either end is missing)."""
    return ((end - start) // pd.Timedelta(microseconds=1)).astype("Int64")


def _pct(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(int(numerator)) * 100 / Decimal(int(denominator))).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )


def _percentile(micros, fraction: str, unit: int) -> Decimal | None:
    """The continuous (interpolated) percentile of exact microseconds, in `unit`s, exact."""
    values = sorted(int(v) for v in micros if not pd.isna(v))
    if not values:
        return None
    position = Decimal(fraction) * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    exact = values[low] + (position - low) * (values[high] - values[low])
    return exact / unit


def _near(got, exact: Decimal | None) -> bool:
    """`got` (2 decimals) is `exact` rounded: within half a cent either way (a value on the
    half is rounded by the database's double either way)."""
    if exact is None or got is None or pd.isna(got):
        return (exact is None) and (got is None or pd.isna(got))
    return abs(Decimal(str(got)) - exact) <= Decimal("0.005")


def _dec(value) -> Decimal | None:
    return (
        None if value is None or pd.isna(value) else Decimal(str(value)).quantize(Decimal("0.01"))
    )


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _orders(source, zones, as_of) -> pd.DataFrame:
    """Orders placed on or before as_of (their local created date), as the marts see them."""
    orders = _read(
        source,
        "select id, website_id, user_id, status, channel, total, payment_method,"
        " payment_status, created_at, confirmed_at, prepared_at from orders_order",
    )
    for column in ("created_at", "confirmed_at", "prepared_at"):
        orders[column] = _utc(orders[column])
    orders["created_local"] = _local(orders.created_at, orders.website_id, zones)
    orders["created_date"] = [t.date() for t in orders.created_local]
    return orders[orders.created_date <= as_of].copy()


def test_rider_performance_matches_the_source(owners_build, source, mart, zones):
    orders = _orders(source, zones, owners_build.as_of)
    deliveries = _read(
        source, "select id, order_id, rider_name, status, delivered_at from delivery_delivery"
    )
    deliveries["delivered_at"] = _utc(deliveries.delivered_at)
    rows = deliveries.merge(
        orders[["id", "website_id", "created_at", "created_date"]].rename(
            columns={"id": "order_id"}
        ),
        on="order_id",
    )
    rows["month"] = [_month(d) for d in rows.created_date]
    delivered = (rows.status == "delivered") & rows.delivered_at.notna()
    rows["micros"] = _micros(rows.created_at, rows.delivered_at).where(delivered)
    got = mart("select * from marts.fct_rider_performance_monthly")
    assert len(got) == rows.groupby(["website_id", "rider_name", "month"]).ngroups > 20
    assert set(rows.status) >= {"delivered", "failed"}
    unfinished = 0
    for row in got.itertuples():
        mine = rows[
            (rows.website_id == row.website_id)
            & (rows.rider_name == row.rider_name)
            & (rows.month == row.month.date())
        ]
        n_delivered = int(mine.micros.notna().sum())
        failed = int((mine.status == "failed").sum())
        on_time = int((mine.micros <= 45 * MICROS_PER_MINUTE).sum())
        unfinished += len(mine) - n_delivered - failed
        assert (row.deliveries, row.delivered, row.failed, row.on_time) == (
            len(mine),
            n_delivered,
            failed,
            on_time,
        ), row
        assert _dec(row.failure_rate) == _pct(failed, n_delivered + failed), row
        assert _dec(row.on_time_rate) == _pct(on_time, n_delivered), row
        assert _near(row.median_minutes, _percentile(mine.micros, "0.5", MICROS_PER_MINUTE)), row
        assert _near(row.p90_minutes, _percentile(mine.micros, "0.9", MICROS_PER_MINUTE)), row
    assert got.deliveries.sum() == len(rows)
    assert unfinished >= 1  # assigned / picked-up deliveries exist and count in neither rate


def test_nutritionist_performance_matches_the_source(source, mart, zones, as_of_end):
    consultations = _read(
        source,
        "select website_id, nutritionist_name, status, fee, scheduled_at, created_at"
        " from nutrition_consultation",
    )
    consultations["scheduled_at"] = _utc(consultations.scheduled_at)
    consultations["created_at"] = _utc(consultations.created_at)
    end = consultations.website_id.map(as_of_end)
    known = consultations[consultations.created_at < end].copy()
    known["month"] = [_month(t.date()) for t in _local(known.scheduled_at, known.website_id, zones)]
    known["past"] = known.scheduled_at < known.website_id.map(as_of_end)
    expected = {}
    for (website, name, month), group in known.groupby(
        ["website_id", "nutritionist_name", "month"]
    ):
        past = group[group.past]
        future = group[~group.past]
        count = {
            s: int((past.status == s).sum())
            for s in ("booked", "completed", "cancelled", "no_show")
        }
        fees = sum((Decimal(str(f)) for f in past[past.status == "completed"].fee), Decimal(0))
        expected[(website, name, month)] = (
            count["booked"],
            count["completed"],
            count["cancelled"],
            count["no_show"],
            _pct(count["no_show"], count["completed"] + count["no_show"]),
            fees.quantize(Decimal("0.01")),
            int((future.status != "cancelled").sum()),
            int((future.status == "cancelled").sum()),
        )
    got = {
        (row.website_id, row.nutritionist_name, row.month.date()): (
            row.booked,
            row.completed,
            row.cancelled,
            row.no_show,
            _dec(row.no_show_rate),
            _dec(row.completed_fees),
            row.upcoming,
            row.upcoming_cancelled,
        )
        for row in mart("select * from marts.fct_nutritionist_performance_monthly").itertuples()
    }
    assert got == expected
    # The fixture exercises every rule: no-shows in the past, upcoming ones after as_of.
    completed, no_show, upcoming = (sum(v[i] for v in got.values()) for i in (1, 3, 6))
    assert completed > 0 and no_show > 0 and upcoming > 0, (completed, no_show, upcoming)


def test_support_agents_match_the_source(owners_build, source, mart, zones, as_of_end):
    tickets = _read(
        source,
        "select website_id, assigned_agent, created_at, first_response_at, resolved_at"
        " from support_ticket",
    )
    for column in ("created_at", "first_response_at", "resolved_at"):
        tickets[column] = _utc(tickets[column])
    tickets["created_date"] = [
        t.date() for t in _local(tickets.created_at, tickets.website_id, zones)
    ]
    tickets = tickets[tickets.created_date <= owners_build.as_of].copy()
    tickets["month"] = [_month(d) for d in tickets.created_date]
    end = tickets.website_id.map(as_of_end)
    tickets["response"] = _micros(tickets.created_at, tickets.first_response_at).where(
        tickets.first_response_at < end
    )
    tickets["resolution"] = _micros(tickets.created_at, tickets.resolved_at).where(
        tickets.resolved_at < end
    )
    tickets["agent"] = tickets.assigned_agent.fillna("(unassigned)")
    got = mart("select * from marts.fct_support_agents_monthly")
    got["agent"] = got.assigned_agent.fillna("(unassigned)")
    assert len(got) == tickets.groupby(["website_id", "agent", "month"]).ngroups > 10
    for row in got.itertuples():
        mine = tickets[
            (tickets.website_id == row.website_id)
            & (tickets.agent == row.agent)
            & (tickets.month == row.month.date())
        ]
        assert (row.tickets, row.resolved, row.responded) == (
            len(mine),
            int(mine.resolution.notna().sum()),
            int(mine.response.notna().sum()),
        ), row
        assert _near(
            row.median_first_response_hours, _percentile(mine.response, "0.5", MICROS_PER_HOUR)
        )
        assert _near(
            row.median_resolution_hours, _percentile(mine.resolution, "0.5", MICROS_PER_HOUR)
        )
    # Nothing is lost: the agents' tickets add up to every ticket opened up to as_of.
    assert got.tickets.sum() == len(tickets)


def _kitchen(owners_build, source, zones) -> pd.DataFrame:
    orders = _orders(source, zones, owners_build.as_of)
    orders = orders[orders.confirmed_at.notna()].copy()
    local = _local(orders.confirmed_at, orders.website_id, zones)
    orders["day"] = [t.date() for t in local]
    orders["hour"] = [t.hour for t in local]
    orders["micros"] = _micros(orders.confirmed_at, orders.prepared_at)
    return orders[orders.day <= owners_build.as_of]


def _kitchen_figures(group: pd.DataFrame) -> tuple:
    prepared = group.micros.dropna()
    within = int((prepared <= 20 * MICROS_PER_MINUTE).sum())
    return (
        len(group),
        len(prepared),
        within,
        _percentile(prepared, "0.5", MICROS_PER_MINUTE),
        _percentile(prepared, "0.9", MICROS_PER_MINUTE),
        _pct(within, len(prepared)),
    )


def _check_kitchen_row(row, figures: tuple) -> None:
    assert (row.orders_confirmed, row.orders_prepared, row.prepared_within_20_min) == figures[:3], (
        row
    )
    assert _near(row.median_prep_minutes, figures[3]), row
    assert _near(row.p90_prep_minutes, figures[4]), row
    assert _dec(row.share_within_20_min) == figures[5], row


def _local_dates(frame: pd.DataFrame, column: str, zones: dict) -> list:
    return [None if t is None else t.date() for t in _local(frame[column], frame.website_id, zones)]


def _operations_calendar(owners_build, source, zones) -> dict[int, list[dt.date]]:
    """int_operations_days_spined, independently: per website, every day from its first
    order placed or confirmed, ticket opened or resolved, or consultation scheduled (local
    dates, on or after the website's opening) to as_of."""
    as_of = owners_build.as_of
    sites = _read(source, "select id as website_id, created_at from accounts_website")
    sites["created_at"] = _utc(sites.created_at)
    opened = dict(zip(sites.website_id, _local_dates(sites, "created_at", zones), strict=True))
    orders = _read(source, "select website_id, created_at, confirmed_at from orders_order")
    tickets = _read(source, "select website_id, created_at, resolved_at from support_ticket")
    consultations = _read(source, "select website_id, scheduled_at from nutrition_consultation")
    activity = defaultdict(list)
    for frame, columns in (
        (orders, ("created_at", "confirmed_at")),
        (tickets, ("created_at", "resolved_at")),
        (consultations, ("scheduled_at",)),
    ):
        for column in columns:
            frame[column] = _utc(frame[column])
            for website, day in zip(
                frame.website_id, _local_dates(frame, column, zones), strict=True
            ):
                if day is not None and day >= opened[int(website)]:
                    activity[int(website)].append(day)
    return {
        website: [min(days) + dt.timedelta(days=i) for i in range((as_of - min(days)).days + 1)]
        for website, days in activity.items()
    }


def test_kitchen_daily_matches_the_source(owners_build, source, mart, zones):
    kitchen = _kitchen(owners_build, source, zones)
    got = mart("select * from marts.fct_kitchen_daily")
    calendar = _operations_calendar(owners_build, source, zones)
    assert set(got.website_id) == set(calendar)
    for website, expected_days in calendar.items():
        days = got[got.website_id == website].business_date.dt.date
        assert sorted(days) == expected_days
    by_day = {key: group for key, group in kitchen.groupby(["website_id", "day"])}
    for row in got.itertuples():
        group = by_day.get((row.website_id, row.business_date.date()))
        if group is None:
            assert (row.orders_confirmed, row.orders_prepared) == (0, 0)
            assert pd.isna(row.median_prep_minutes) and pd.isna(row.share_within_20_min)
            continue
        _check_kitchen_row(row, _kitchen_figures(group))
    assert got.orders_confirmed.sum() == len(kitchen)
    # Both sides of the 20-minute line occur in the fixture.
    assert 0 < got.prepared_within_20_min.sum() < got.orders_prepared.sum()


def test_kitchen_hourly_matches_the_source(owners_build, source, mart, zones):
    kitchen = _kitchen(owners_build, source, zones)
    got = mart("select * from marts.fct_kitchen_hourly")
    groups = {key: group for key, group in kitchen.groupby(["website_id", "day", "hour"])}
    assert len(got) == len(groups)
    for row in got.itertuples():
        _check_kitchen_row(
            row,
            _kitchen_figures(groups[(row.website_id, row.business_date.date(), row.local_hour)]),
        )
    # An order prepared after local midnight stays on its confirmation's day and hour.
    local_prepared = _local(kitchen.prepared_at, kitchen.website_id, zones)
    crossing = kitchen[
        [p is not None and p.date() != d for p, d in zip(local_prepared, kitchen.day, strict=True)]
    ]
    assert len(crossing) >= 1
    for order in crossing.itertuples():
        hour = got[
            (got.website_id == order.website_id)
            & (got.business_date.dt.date == order.day)
            & (got.local_hour == order.hour)
        ]
        assert len(hour) == 1 and hour.iloc[0].orders_prepared >= 1


def test_operations_daily_marts_keep_every_day_of_their_activity(owners_build, source, mart, zones):
    """The support, consultation and kitchen daily marts share the operations calendar
    (first order, confirmation, ticket or consultation to as_of), which starts on or before
    the orders' calendar: a ticket opened before the website's first order keeps its day,
    so the daily tickets add up to every ticket opened up to as_of (as the agents' mart
    counts them) and the consultations to every one scheduled up to as_of."""
    as_of = owners_build.as_of
    calendar = _operations_calendar(owners_build, source, zones)
    orders = _orders(source, zones, as_of)
    for table in ("fct_support_tickets_daily", "fct_consultations_daily", "fct_kitchen_daily"):
        got = mart(f"select website_id, business_date from marts.{table}")
        days = {w: sorted(g.business_date.dt.date) for w, g in got.groupby("website_id")}
        assert days == calendar, table
    for website, first_order in orders.groupby("website_id").created_date.min().items():
        assert calendar[website][0] <= first_order

    tickets = _read(source, "select website_id, created_at, resolved_at from support_ticket")
    for column in ("created_at", "resolved_at"):
        tickets[column] = _utc(tickets[column])
    tickets["opened"] = _local_dates(tickets, "created_at", zones)
    tickets["resolved"] = _local_dates(tickets, "resolved_at", zones)
    consultations = _read(source, "select website_id, scheduled_at from nutrition_consultation")
    consultations["scheduled_at"] = _utc(consultations.scheduled_at)
    consultations["day"] = _local_dates(consultations, "scheduled_at", zones)
    support = mart(
        "select website_id, sum(tickets_opened) as opened, sum(tickets_resolved) as resolved"
        " from marts.fct_support_tickets_daily group by website_id"
    ).set_index("website_id")
    booked = mart(
        "select website_id, sum(consultations) as consultations"
        " from marts.fct_consultations_daily group by website_id"
    ).set_index("website_id")
    for website, days in calendar.items():
        mine = tickets[tickets.website_id == website]
        assert support.opened[website] == int((mine.opened <= as_of).sum()) > 0
        resolved = [d for d in mine.resolved if d is not None and days[0] <= d <= as_of]
        assert support.resolved[website] == len(resolved) > 0
        scheduled = consultations[
            (consultations.website_id == website) & (consultations.day <= as_of)
        ]
        assert booked.consultations[website] == len(scheduled) > 0
    # Nothing between the two marts is lost (what assert_staff_and_kitchen_marts_add_up
    # checks month by month): the agents' tickets are the daily mart's opened tickets.
    agents = mart("select sum(tickets) as n from marts.fct_support_agents_monthly").n[0]
    assert agents == support.opened.sum()


def _goal_customers(source, as_of_end) -> pd.DataFrame:
    profiles = _read(
        source,
        "select h.user_id, h.dietary_goal, h.created_at, u.website_id"
        " from health_healthprofile h join accounts_user u on u.id = h.user_id",
    )
    profiles["created_at"] = _utc(profiles.created_at)
    return profiles[profiles.created_at < profiles.website_id.map(as_of_end)]


def test_health_goals_match_the_source(owners_build, source, mart, zones, as_of_end):
    customers = _goal_customers(source, as_of_end)
    orders = _orders(source, zones, owners_build.as_of)
    delivered = orders[orders.status == "delivered"]
    expected = {}
    for (website, goal), group in customers.groupby(["website_id", "dietary_goal"]):
        mine = delivered[delivered.user_id.isin(group.user_id)]
        revenue = sum((Decimal(str(v)) for v in mine.total), Decimal(0)).quantize(Decimal("0.01"))
        expected[(website, goal)] = (len(group), mine.user_id.nunique(), len(mine), revenue)
    got = {
        (row.website_id, row.dietary_goal): (
            row.customers,
            row.customers_with_delivered_order,
            row.delivered_orders,
            _dec(row.revenue),
        )
        for row in mart("select * from marts.fct_health_goals").itertuples()
    }
    assert got == expected
    assert len({goal for _, goal in got}) == 5


def test_health_goal_meals_match_the_source(owners_build, source, mart, zones, as_of_end):
    customers = _goal_customers(source, as_of_end)
    orders = _orders(source, zones, owners_build.as_of)
    delivered = orders[orders.status == "delivered"]
    items = _read(source, "select order_id, meal_id, quantity from orders_orderitem")
    meals = _read(source, "select id, name from menu_meal").set_index("id").name
    sold = items.merge(
        delivered[["id", "user_id"]].rename(columns={"id": "order_id"}), on="order_id"
    )
    sold = sold.merge(customers[["user_id", "website_id", "dietary_goal"]], on="user_id")
    expected = []
    for (website, goal), group in sold.groupby(["website_id", "dietary_goal"]):
        totals = group.groupby("meal_id").agg(
            quantity=("quantity", "sum"), orders=("order_id", "nunique")
        )
        ranked = sorted(totals.itertuples(), key=lambda t: (-t.quantity, t.Index))[:10]
        expected += [
            (website, goal, rank, int(t.Index), meals[t.Index], int(t.quantity), int(t.orders))
            for rank, t in enumerate(ranked, 1)
        ]
    got = mart(
        "select website_id, dietary_goal, meal_rank, meal_id, meal_name, quantity, orders"
        " from marts.fct_health_goal_meals order by all"
    )
    assert [tuple(r) for r in got.itertuples(index=False)] == sorted(expected)
    assert len(expected) > 40


def test_recent_orders_match_the_source(owners_build, source, mart, zones):
    orders = _orders(source, zones, owners_build.as_of)
    items = _read(source, "select order_id, quantity from orders_orderitem")
    counts = items.groupby("order_id").quantity.agg(["sum", "count"])
    got = mart("select * from marts.fct_recent_orders order by website_id, recency_rank")
    assert not {"user_id", "customer_name", "email", "phone"} & set(got.columns)
    expected = []
    for _website, group in orders.groupby("website_id"):
        latest = group.sort_values(["created_at", "id"], ascending=False).head(100)
        assert len(group) > 100
        for rank, order in enumerate(latest.itertuples(), 1):
            local = order.created_local.replace(tzinfo=None)
            expected.append(
                (
                    order.id,
                    order.website_id,
                    order.created_date,
                    pd.Timestamp(local),
                    order.status,
                    order.channel,
                    Decimal(str(order.total)).quantize(Decimal("0.01")),
                    order.payment_method,
                    order.payment_status,
                    int(counts["sum"].get(order.id, 0)),
                    int(counts["count"].get(order.id, 0)),
                    rank,
                )
            )
    rows = [
        (
            r.order_id,
            r.website_id,
            r.business_date.date(),
            pd.Timestamp(r.local_time),
            r.status,
            r.channel,
            _dec(r.total),
            r.payment_method,
            r.payment_status,
            r.item_count,
            r.line_count,
            r.recency_rank,
        )
        for r in got.itertuples()
    ]
    assert rows == expected


def test_staff_marts_carry_no_customer(mart):
    """Staff and health marts are aggregates: no customer identifier is a column of them."""
    columns = defaultdict(set)
    for table, column in mart(
        "select table_name, column_name from duckdb_columns() where schema_name = 'marts'"
        " and table_name in ('fct_rider_performance_monthly',"
        " 'fct_nutritionist_performance_monthly',"
        " 'fct_support_agents_monthly', 'fct_kitchen_daily', 'fct_kitchen_hourly',"
        " 'fct_health_goals', 'fct_health_goal_meals', 'fct_recent_orders')"
    ).itertuples(index=False):
        columns[table].add(column)
    assert len(columns) == 8
    personal = {
        "user_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "allergies",
        "daily_calorie_target",
        "activity_level",
        "health_profile_id",
        "consultation_id",
        "ticket_id",
    }
    assert {t: c & personal for t, c in columns.items() if c & personal} == {}
