"""The generator's pure pieces: counter-based randomness, lifecycles, money, loyalty."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
import sqlalchemy as sa

from seeds import engine as en
from seeds import lifecycle as lc
from seeds.lifecycle import DAY, FAR, MINUTE
from seeds.rand import normal, uniform
from seeds.writer import NULL, arrow_column

T0 = 1_767_600_000 * 1_000_000  # 2026-01-05 08:00 UTC, in microseconds


def test_uniform_is_a_pure_function_of_seed_stream_and_id():
    ids = np.arange(1, 10_001)
    a = uniform(42, 1, ids)
    assert np.array_equal(a, uniform(42, 1, ids))
    assert np.array_equal(a[500:600], uniform(42, 1, ids[500:600]))  # no hidden state
    assert not np.array_equal(a, uniform(43, 1, ids))
    assert not np.array_equal(a, uniform(42, 2, ids))
    assert 0.0 <= a.min() and a.max() < 1.0
    assert abs(a.mean() - 0.5) < 0.01  # 10,000 draws: sd of the mean is 0.003
    z = normal(42, 3, ids)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05


def test_order_stages_are_ordered_and_last_20_to_120_minutes():
    ids = np.arange(1, 20_001)
    created = np.full(len(ids), T0)
    o = lc.order_lifecycle(7, ids, created)
    done = o["outcome"] == lc.O_DELIVERED
    assert np.all(o["confirmed"][done] > created[done])
    assert np.all(o["preparing"][done] > o["confirmed"][done])
    assert np.all(o["out_for_delivery"][done] > o["preparing"][done])
    assert np.all(o["delivered"][done] > o["out_for_delivery"][done])
    minutes = (o["delivered"][done] - created[done]) / MINUTE
    assert 18 <= minutes.min() and minutes.max() <= 120
    assert 30 <= np.median(minutes) <= 50
    shares = np.bincount(o["outcome"], minlength=4) / len(ids)
    assert shares[lc.O_DELIVERED] == pytest.approx(0.915, abs=0.01)
    assert shares[lc.O_ABANDONED] == pytest.approx(0.01, abs=0.003)
    # An abandoned order never moves; a cancelled one has no delivery.
    gone = o["outcome"] == lc.O_ABANDONED
    assert np.all(o["confirmed"][gone] == FAR) and np.all(o["cancelled"][gone] == FAR)
    early = o["outcome"] == lc.O_CANCEL_EARLY
    assert np.all(o["delivered"][early] == FAR)
    assert np.all(o["cancelled"][early] < FAR)


def test_order_status_walks_through_the_lifecycle():
    ids = np.arange(1, 2001)
    created = np.full(len(ids), T0)
    o = lc.order_lifecycle(7, ids, created)
    i = int(np.flatnonzero(o["outcome"] == lc.O_DELIVERED)[0])
    expected = [
        (created[i], "pending"), (o["confirmed"][i], "confirmed"),
        (o["preparing"][i], "preparing"), (o["out_for_delivery"][i], "out_for_delivery"),
        (o["delivered"][i], "delivered"),
    ]
    for when, status in expected:
        code, changed, delivered_at, _ = lc.order_status_at(
            {k: v[i : i + 1] for k, v in o.items()}, created[i : i + 1], when)
        assert lc.ORDER_STATUSES[code[0]] == status
        assert changed[0] == when
        assert delivered_at[0] == (when if status == "delivered" else NULL)


def test_refunds_come_on_a_later_day_and_never_exceed_the_order():
    ids = np.arange(1, 50_001)
    created = np.full(len(ids), T0)
    method = (ids % 4).astype(np.int8)
    total = 10_000_00 + (ids % 97) * 1_234_50
    o = lc.order_lifecycle(3, ids, created)
    pp = lc.payment_plan(3, ids, created, method, total, np.full(len(ids), 50_000), o)
    refunded = pp["refund_at"] < FAR
    assert refunded.sum() > 2000
    finished = np.where(o["outcome"] == lc.O_DELIVERED, o["delivered"], o["cancelled"])
    assert np.all(pp["refund_at"][refunded] >= finished[refunded] + DAY)
    assert np.all(pp["refund_amount"][refunded] <= total[refunded])
    assert np.all(pp["refund_amount"][refunded] > 0)
    # Money is only refunded after it was taken.
    assert np.all(pp["completed"][refunded] < pp["refund_at"][refunded])
    # Cash that was never collected is never refunded.
    cash_cancelled = (method == lc.M_CASH) & (o["outcome"] != lc.O_DELIVERED)
    assert not refunded[cash_cancelled].any()


def test_subscription_charges_one_per_period_until_it_ends():
    period = np.array([7 * DAY, 30 * DAY])
    started = np.array([T0, T0])
    sp = {"started": started, "period": period, "end": started + np.array([21, 45]) * DAY,
          "cancels": np.array([False, True]), "pause_at": np.array([FAR, FAR]),
          "pause_end": np.array([FAR, FAR])}
    idx, t = lc.subscription_charges(sp, T0, T0 + 100 * DAY)
    assert idx.tolist() == [0, 0, 0, 1, 1]
    assert ((t - T0) // DAY).tolist() == [0, 7, 14, 0, 30]
    state = lc.subscription_state_at(sp, T0 + 50 * DAY)
    assert [lc.SUB_STATUSES[c] for c in state["status"]] == ["EXPIRED", "CANCELLED"]
    assert state["cancelled_at"].tolist() == [NULL, T0 + 45 * DAY]
    assert state["current_period_end"].tolist() == [T0 + 21 * DAY, T0 + 60 * DAY]


def test_subscription_follow_ups_switch_plans_at_once_and_come_back_weeks_later():
    """A share of cancellations switch to another plan of the website at the same instant;
    a share of the other endings come back 2 to 10 weeks later; drawn from the id alone."""
    world = en.World.build(11)
    ids = np.arange(1, 20_001)
    plan = ids % len(world.plan_id)
    sp = lc.subscription_plan(11, ids, np.full(len(ids), T0), world.plan_period[plan])
    fu = lc.subscription_follow_up(11, ids, sp, plan, world.plan_web)
    switch, back = fu["switch"], ~fu["switch"] & (fu["at"] < FAR)
    assert np.array_equal(fu["at"][switch], sp["end"][switch])
    assert sp["cancels"][switch].all()
    assert (fu["plan"][switch] != plan[switch]).all()
    assert np.array_equal(world.plan_web[fu["plan"]], world.plan_web[plan])
    gap = (fu["at"][back] - sp["end"][back]) / DAY
    assert gap.min() >= 14 and gap.max() < 70
    assert abs(switch.sum() / sp["cancels"].sum() - lc.SUB_SWITCH_SHARE) < 0.02
    assert abs(back.sum() / (~switch).sum() - lc.SUB_BACK_SHARE) < 0.02
    assert 0.5 < (fu["plan"][back] == plan[back]).mean() < 0.7
    # Every other plan of the website is a destination.
    assert len(np.unique(fu["plan"][switch & (plan == 0)])) == (world.plan_web == 1).sum() - 1
    again = lc.subscription_follow_up(11, ids[100:200], {k: v[100:200] for k, v in sp.items()},
                                      plan[100:200], world.plan_web)
    assert np.array_equal(again["at"], fu["at"][100:200])
    assert np.array_equal(again["plan"], fu["plan"][100:200])


@pytest.mark.parametrize(
    ("subtotal", "percent", "unit", "expected"),
    [(33_000_00, 15, 50_000, 4_500_00),  # UGX: rounded down to 500
     (4_999_99, 10, 1, 499_99),  # NGN: to the kobo
     (2_500_00, 5, 50_000, 0)],
)
def test_discounts_round_down_to_the_website_unit(subtotal, percent, unit, expected):
    got = en.discount_amount(np.array([subtotal]), np.array([percent]), np.array([unit]))
    assert got.tolist() == [expected]


def test_money_reaches_arrow_as_exact_decimals():
    column = sa.Column("amount", sa.Numeric(12, 2))
    array = arrow_column(column, np.array([1250, 499_99, -5, NULL, 99_999_999_999]))
    assert array.to_pylist() == [Decimal("12.50"), Decimal("499.99"), Decimal("-0.05"), None,
                                 Decimal("999999999.99")]


def test_a_redemption_never_spends_points_the_account_does_not_have():
    world = en.World.build(1)
    rng = np.random.default_rng(0)
    n = 5000
    web = np.where(np.arange(n) % 3 == 0, 2, 1)
    balance = rng.integers(0, 3000, n)
    last_ts = np.full(n, T0 - 10 * DAY)
    entries = en.ledger([], [], [], en.L_EARN, en.SRC_ORDER)
    orders = {k: np.zeros(0, np.int64) for k in ("pos", "created", "id", "subtotal",
                                                  "discount", "points_used", "channel")}
    orders["discount_type"] = np.zeros(0, np.int8)
    orders["lc"] = {"outcome": np.zeros(0, np.int8)}
    new, red = en.loyalty_window(world, rng, en.Ids(), web=web, balance=balance,
                                 last_ts=last_ts, entries=entries, orders=orders,
                                 ws=T0, we=T0 + 30 * DAY, now=T0 + 30 * DAY)
    assert len(red["pos"]) > 100
    spent = np.bincount(red["pos"], weights=red["points_spent"], minlength=n)
    assert np.all(spent <= balance)
    assert np.all(np.bincount(red["pos"], minlength=n) <= 1)  # one per window
    redeem = new["type"] == en.L_REDEEM
    assert sorted(new["redemption_id"][redeem]) == sorted(red["id"])
    assert np.array_equal(np.sort(-new["points"][redeem]), np.sort(red["points_spent"]))
    # Each item belongs to the customer's website.
    item_web = world.reward_web[np.searchsorted(world.reward_id, red["item_id"])]
    assert np.array_equal(item_web, web[red["pos"]])


def test_points_expire_after_90_quiet_days():
    world = en.World.build(1)
    balance = np.array([500, 500, 0])
    last_ts = np.array([T0 - 85 * DAY, T0 - 20 * DAY, T0 - 85 * DAY])
    entries = en.ledger([], [], [], en.L_EARN, en.SRC_ORDER)
    orders = {k: np.zeros(0, np.int64) for k in ("pos", "created", "id", "subtotal",
                                                  "discount", "points_used", "channel")}
    orders["discount_type"] = np.zeros(0, np.int8)
    orders["lc"] = {"outcome": np.zeros(0, np.int8)}

    class NeverRedeems:  # draws that are never below a redemption probability
        def random(self, n):
            return np.ones(n)

    rng = NeverRedeems()
    new, _ = en.loyalty_window(world, rng, en.Ids(), web=np.array([1, 1, 1]),
                               balance=balance, last_ts=last_ts, entries=entries,
                               orders=orders, ws=T0, we=T0 + 10 * DAY, now=T0 + 10 * DAY)
    assert new["pos"].tolist() == [0]
    assert new["points"].tolist() == [-500]
    assert new["ts"].tolist() == [T0 + 5 * DAY]
    assert en.LEDGER_TYPES[new["type"][0]] == "expire"


def test_loyalty_tiers_follow_the_thresholds():
    got = en.loyalty_tier(np.array([0, 999, 1000, 4999, 5000, 9999, 10000, 50000]))
    assert got.tolist() == ["bronze", "bronze", "silver", "silver", "gold", "gold",
                            "platinum", "platinum"]


def test_the_seeder_assigns_tiers_by_the_contract():
    """models.thresholds is the seeder's only source: each tier starts at its threshold."""
    from models.thresholds import LOYALTY_TIER_THRESHOLDS

    tiers = [tier for tier, _ in LOYALTY_TIER_THRESHOLDS]
    starts = np.array([threshold for _, threshold in LOYALTY_TIER_THRESHOLDS])
    assert en.loyalty_tier(starts).tolist() == tiers
    assert en.loyalty_tier(starts[1:] - 1).tolist() == tiers[:-1]
