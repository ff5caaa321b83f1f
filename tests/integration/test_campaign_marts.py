"""Campaign, referral, corporate and catering marts (METRICS.md, "VIP, campaigns, discounts")
on the shared whole build (`owners_build`), each against the same figures computed
independently here (pandas and Decimal) from the source tables."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

CENT = Decimal("0.01")


def _read(build, sql: str) -> pd.DataFrame:
    with sqlite3.connect(build.source) as con:
        return pd.read_sql(sql, con)


def _mart(build, sql: str) -> list[tuple]:
    with duckdb.connect(str(build.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601")


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def _div(numerator, denominator, scale: str = "0.01") -> Decimal | None:
    """round(numerator / denominator), half away from zero; None for a 0 denominator."""
    if not denominator:
        return None
    quotient = Decimal(str(numerator)) / Decimal(str(denominator))
    return quotient.quantize(Decimal(scale), ROUND_HALF_UP)


def _pct(numerator, denominator) -> Decimal | None:
    return _div(Decimal(str(numerator)) * 100, denominator)


@pytest.fixture(scope="module")
def source(owners_build) -> dict:
    """The source tables these marts read, with UTC instants and local business dates."""
    websites = _read(owners_build, "select id, timezone from accounts_website")
    zones = {int(w): ZoneInfo(z) for w, z in zip(websites.id, websites.timezone, strict=True)}
    as_of = owners_build.as_of
    as_of_end = {
        w: pd.Timestamp(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), zone))
        .tz_convert("UTC")
        for w, zone in zones.items()
    }

    def local(times: pd.Series, sites: pd.Series) -> list:
        return [
            None if pd.isna(t) else t.astimezone(zones[int(w)]).date()
            for t, w in zip(times, sites, strict=True)
        ]

    orders = _read(
        owners_build,
        "select id, website_id, user_id, status, channel, total, discount_amount, campaign_id,"
        " created_at from orders_order",
    )
    orders["created"] = _utc(orders.created_at)
    orders["day"] = local(orders.created, orders.website_id)
    orders = orders[orders.day <= as_of]
    campaigns = _read(owners_build, "select * from campaigns_campaign")
    campaigns["starts"] = _utc(campaigns.start_date)
    campaigns["ends"] = _utc(campaigns.end_date)
    campaigns["start_day"] = local(campaigns.starts, campaigns.website_id)
    campaigns["end_day"] = local(campaigns.ends, campaigns.website_id)
    recipients = _read(owners_build, "select * from campaigns_campaignrecipient").merge(
        campaigns[["id", "website_id"]].rename(columns={"id": "campaign_id"}), on="campaign_id"
    )
    for column in ("sent_at", "opened_at", "clicked_at"):
        recipients[column] = _utc(recipients[column])
    recipients["sent_day"] = local(recipients.sent_at, recipients.website_id)
    return {
        "zones": zones, "as_of": as_of, "as_of_end": as_of_end, "local": local,
        "orders": orders, "campaigns": campaigns, "recipients": recipients,
    }


def _responses(source: dict) -> pd.DataFrame:
    """One row per campaign, variant and recipient sent by as_of's end: their counted
    orders (with or without the code) within [max(sent_at, start), end], and Σ total."""
    r = source["recipients"]
    r = r[r.sent_at < r.website_id.map(source["as_of_end"])]
    r = r.groupby(["campaign_id", "variant", "user_id"], as_index=False).sent_at.min()
    r = r.merge(source["campaigns"][["id", "starts", "ends"]], left_on="campaign_id", right_on="id")
    r["from_"] = r[["sent_at", "starts"]].max(axis=1)
    counted = source["orders"][source["orders"].status != "cancelled"]
    joined = r.merge(counted[["user_id", "created", "total"]], on="user_id", how="left")
    inside = joined[(joined.created >= joined.from_) & (joined.created <= joined.ends)]
    per = inside.groupby(["campaign_id", "variant", "user_id"]).agg(
        orders=("total", "size"), revenue=("total", lambda v: sum(_money(x) for x in v))
    )
    out = r.set_index(["campaign_id", "variant", "user_id"]).join(per)
    out["orders"] = out.orders.fillna(0).astype(int)
    out["revenue"] = [Decimal(0) if pd.isna(v) else v for v in out.revenue]
    return out.reset_index()


def _influenced(source: dict) -> pd.DataFrame:
    o = source["orders"]
    o = o[(o.status != "cancelled") & o.campaign_id.notna()].merge(
        source["campaigns"][["id", "starts", "ends", "budget"]],
        left_on="campaign_id", right_on="id", suffixes=("", "_campaign"),
    )
    return o[(o.created >= o.starts) & (o.created <= o.ends)]


def test_campaign_performance_is_over_budget_and_incremental(owners_build, source) -> None:
    responses = _responses(source)
    influenced = _influenced(source)
    got = {
        row[0]: row[1:]
        for row in _mart(
            owners_build,
            "select campaign_id, budget_used, is_over_budget, treated_recipients,"
            " control_recipients, treated_response_rate, control_response_rate,"
            " treated_revenue_per_recipient, control_revenue_per_recipient,"
            " incremental_orders, incremental_revenue, incremental_roi"
            " from marts.fct_campaign_performance",
        )
    }
    campaigns = source["campaigns"]
    assert set(got) == set(campaigns.id)
    for campaign in campaigns.itertuples():
        cost = sum((_money(v) for v in influenced[influenced.campaign_id == campaign.id]
                    .discount_amount), Decimal(0))
        budget = None if pd.isna(campaign.budget) else _money(campaign.budget)
        used = _div(cost * 100, budget)
        mine = responses[responses.campaign_id == campaign.id]
        treated, control = mine[mine.variant != "control"], mine[mine.variant == "control"]
        nt, nc = len(treated), len(control)
        ot, oc = int(treated.orders.sum()), int(control.orders.sum())
        rt = sum(treated.revenue, Decimal(0))
        rc = sum(control.revenue, Decimal(0))
        inc_orders = _div(ot * nc - oc * nt, nc) if nt else None
        inc_revenue = _div(rt * nc - rc * nt, nc) if nt else None
        inc_roi = None if inc_revenue is None else _div((inc_revenue - cost) * 100, cost)
        expected = (
            used, used is not None and used > 100, nt, nc,
            _pct((treated.orders > 0).sum(), nt), _pct((control.orders > 0).sum(), nc),
            _div(rt, nt), _div(rc, nc), inc_orders, inc_revenue, inc_roi,
        )
        assert got[campaign.id] == expected, campaign.id
    # The fixture exercises every rule: over budget, no control group, and control
    # recipients who respond without the code.
    assert any(row[1] for row in got.values())
    assert any(row[2] and not row[3] and row[8] is None for row in got.values())
    control_orders = responses[(responses.variant == "control") & (responses.orders > 0)]
    coded = set(zip(influenced.campaign_id, influenced.user_id, strict=True))
    assert any((c, u) not in coded for c, u in zip(
        control_orders.campaign_id, control_orders.user_id, strict=True))


def test_campaign_variants_convert_by_response(owners_build, source) -> None:
    responses = _responses(source)
    got = {
        (row[0], row[1]): row[2:]
        for row in _mart(
            owners_build,
            "select campaign_id, variant, recipients, converters, conversion_rate,"
            " responding_orders, responding_revenue, lift_over_control"
            " from marts.fct_campaign_variants",
        )
    }
    groups = responses.groupby(["campaign_id", "variant"])
    assert set(got) == set(groups.groups)
    for (campaign, variant), rows in groups:
        control = responses[(responses.campaign_id == campaign)
                            & (responses.variant == "control")]
        n, k = len(rows), int((rows.orders > 0).sum())
        nc, kc = len(control), int((control.orders > 0).sum())
        lift = (None if variant == "control" or not nc
                else _div((k * nc - kc * n) * 100, kc * n))
        assert got[(campaign, variant)] == (
            n, k, _pct(k, n), int(rows.orders.sum()), sum(rows.revenue, Decimal(0)), lift
        ), (campaign, variant)
    assert any(v[1] for (c, variant), v in got.items() if variant == "control")


def test_campaign_channels_count_sends_opens_and_clicks(owners_build, source) -> None:
    r = source["recipients"]
    end = r.website_id.map(source["as_of_end"])
    r = r.assign(opened=r.opened_at < end, clicked=r.clicked_at < end)[r.sent_at < end]
    got = {
        (row[0], row[1]): row[2:]
        for row in _mart(
            owners_build,
            "select campaign_id, channel, sent, opened, clicked, open_rate, click_rate"
            " from marts.fct_campaign_channels",
        )
    }
    groups = r.groupby(["campaign_id", "channel"])
    assert set(got) == set(groups.groups)
    for key, rows in groups:
        sent, opened, clicked = len(rows), int(rows.opened.sum()), int(rows.clicked.sum())
        assert got[key] == (sent, opened, clicked, _pct(opened, sent), _pct(clicked, sent)), key
    assert {c for _, c in got} == {"email", "sms", "push"}
    assert sum(v[2] for v in got.values()) > 0


def test_campaign_days_follow_each_campaign_to_as_of(owners_build, source) -> None:
    influenced = _influenced(source)
    recipients = source["recipients"]
    first_sent = recipients.groupby(["campaign_id", "user_id"]).sent_day.min().reset_index()
    got: dict = {}
    for row in _mart(
        owners_build,
        "select campaign_id, business_date, orders_influenced, revenue_generated,"
        " campaign_cost, recipients_sent, budget_used, is_over_budget"
        " from marts.fct_campaign_days order by campaign_id, business_date",
    ):
        got.setdefault(row[0], []).append(row[1:])
    expected: dict = {}
    for campaign in source["campaigns"].itertuples():
        last = min(campaign.end_day, source["as_of"])
        budget = None if pd.isna(campaign.budget) else _money(campaign.budget)
        mine = influenced[influenced.campaign_id == campaign.id]
        sent = first_sent[first_sent.campaign_id == campaign.id]
        cumulative, day = Decimal(0), campaign.start_day
        while day <= last:
            today = mine[mine.day == day]
            cost = sum((_money(v) for v in today.discount_amount), Decimal(0))
            cumulative += cost
            used = _div(cumulative * 100, budget)
            expected.setdefault(campaign.id, []).append((
                day, len(today), sum((_money(v) for v in today.total), Decimal(0)), cost,
                int((sent.sent_day == day).sum()), used, used is not None and used > 100,
            ))
            day += dt.timedelta(days=1)
    assert got == expected
    assert any(day[-1] for days in got.values() for day in days)


def test_referral_funnel_by_month(owners_build, source) -> None:
    as_of, local = source["as_of"], source["local"]
    referrals = _read(
        owners_build,
        "select r.*, u.website_id from referrals_referral as r"
        " join accounts_user as u on u.id = r.referrer_id",
    )
    referrals["created"] = _utc(referrals.created_at)
    referrals["day"] = local(referrals.created, referrals.website_id)
    referrals["rewarded_day"] = local(_utc(referrals.rewarded_at), referrals.website_id)
    referrals = referrals[referrals.day <= as_of]
    referrals["month"] = [d.replace(day=1) for d in referrals.day]
    orders = source["orders"]
    delivered = orders[orders.status == "delivered"]
    expected = {}
    for (website, month), rows in referrals.groupby(["website_id", "month"]):
        qualified = rows.status.isin(["qualified", "rewarded"])
        rewarded = (rows.status == "rewarded") & pd.Series([
            (d or c) <= as_of for d, c in zip(rows.rewarded_day, rows.day, strict=True)],
            index=rows.index)
        n_orders, revenue = 0, Decimal(0)
        for referral in rows.itertuples():
            mine = delivered[(delivered.user_id == referral.referee_id)
                             & (delivered.created >= referral.created)
                             & (delivered.created < referral.created + pd.Timedelta(days=90))]
            n_orders += len(mine)
            revenue += sum((_money(v) for v in mine.total), Decimal(0))
        nq, nr = int((qualified | rewarded).sum()), int(rewarded.sum())
        expected[(website, month)] = (
            len(rows), nq, nr, _pct(nq, len(rows)), _pct(nr, nq),
            sum((_money(v) for v in rows.bonus_amount[rewarded]), Decimal(0)), n_orders, revenue,
        )
    got = {
        (row[0], row[1]): row[2:]
        for row in _mart(
            owners_build,
            "select website_id, month, referrals_created, qualified, rewarded,"
            " qualification_rate, reward_rate, bonus_amount, referee_orders_90d,"
            " referee_revenue_90d from marts.fct_referral_funnel_monthly",
        )
    }
    assert got == expected
    assert set(_read(owners_build, "select status from referrals_referral").status) == {
        "pending", "qualified", "rewarded"}


def test_corporate_contracts(owners_build, source) -> None:
    as_of, local = source["as_of"], source["local"]
    contracts = _read(owners_build, "select * from corporate_contract")
    contracts["start"] = [dt.date.fromisoformat(str(v)[:10]) for v in contracts.start_date]
    contracts["end"] = [dt.date.fromisoformat(str(v)[:10]) for v in contracts.end_date]
    contracts["updated_day"] = local(_utc(contracts.updated_at), contracts.website_id)
    contracts["active_end"] = [
        min(e, as_of, u if s == "cancelled" else e)
        for e, u, s in zip(contracts.end, contracts.updated_day, contracts.status, strict=True)
    ]
    payments = _read(owners_build, "select * from payments_payment where purpose = 'corporate'")
    payments["done_day"] = local(_utc(payments.completed_at), payments.website_id)
    refunds = _read(owners_build, "select f.*, p.website_id, p.reference_id from payments_refund"
                    " as f join payments_payment as p on p.id = f.payment_id"
                    " where p.purpose = 'corporate'")
    refunds["day"] = local(_utc(refunds.created_at), refunds.website_id)
    orders = source["orders"]
    corporate = orders[(orders.channel == "corporate") & (orders.status != "cancelled")]
    expected = {}
    for c in contracts.itertuples():
        active = c.active_end >= c.start
        mine = corporate[(corporate.website_id == c.website_id) & (corporate.day >= c.start)
                         & (corporate.day <= c.active_end)]
        others = contracts[(contracts.website_id == c.website_id) & (contracts.id != c.id)
                           & (contracts.active_end >= contracts.start)
                           & (contracts.start <= c.active_end)
                           & (contracts.active_end >= c.start)]
        paid = payments[(payments.reference_id == c.id)
                        & payments.status.isin(["completed", "refunded"])
                        & payments.done_day.notna()]
        paid = paid[[d <= as_of for d in paid.done_day]]
        back = refunds[(refunds.reference_id == c.id)
                       & pd.Series([d <= as_of for d in refunds.day], index=refunds.index)]
        amount = (sum((_money(v) for v in paid.amount), Decimal(0))
                  - sum((_money(v) for v in back.amount), Decimal(0)))
        months = ((c.active_end.year - c.start.year) * 12 + c.active_end.month - c.start.month + 1
                  if active else 0)
        expected[c.id] = (
            c.active_end if active else None, months, len(others) if active else 0, len(mine),
            sum((_money(v) for v in mine.total), Decimal(0)), len(paid), amount,
            _pct(amount, _money(c.contract_value)),
        )
    got = {
        row[0]: row[1:]
        for row in _mart(
            owners_build,
            "select contract_id, active_end_date, months_active, overlapping_contracts,"
            " corporate_orders, corporate_revenue, payments_collected, amount_collected,"
            " collection_rate from marts.fct_corporate_contracts",
        )
    }
    assert got == expected
    assert any(v[3] for v in got.values()) and any(v[5] for v in got.values())


def test_catering_by_event_month(owners_build, source) -> None:
    as_of = source["as_of"]
    bookings = _read(owners_build, "select * from catering_booking")
    bookings["made"] = source["local"](_utc(bookings.created_at), bookings.website_id)
    bookings = bookings[bookings.made <= as_of]
    bookings["event"] = [dt.date.fromisoformat(str(v)[:10]) for v in bookings.event_date]
    bookings["month"] = [d.replace(day=1) for d in bookings.event]
    expected = {}
    for (website, month), rows in bookings.groupby(["website_id", "month"]):
        live = rows[rows.status != "cancelled"]
        due = rows[rows.event <= as_of]
        count = rows.status.value_counts()
        expected[(website, month)] = (
            len(rows), *(int(count.get(s, 0)) for s in
                         ("requested", "confirmed", "completed", "cancelled")),
            int(live.guests.sum()), sum((_money(v) for v in live.amount), Decimal(0)), len(due),
            _pct((due.status == "completed").sum(), len(due)),
        )
    got = {
        (row[0], row[1]): row[2:]
        for row in _mart(
            owners_build,
            "select website_id, month, bookings, requested, confirmed, completed, cancelled,"
            " guests, amount, events_due, completion_rate from marts.fct_catering_monthly",
        )
    }
    assert got == expected
    assert set(bookings.status) == {"requested", "confirmed", "completed", "cancelled"}
