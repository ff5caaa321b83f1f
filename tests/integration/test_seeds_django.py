"""The new columns and table, and the simulator's Django ways, checked on real rows.

- The generator writes the contract's newer columns as the lifecycles say (hand-checked
  bounds on a small seed: kitchen times, recipients' channel, opens and clicks, tickets'
  agents, health profiles).
- The simulator's quiet changes (`queryset.update()`, `save(update_fields=...)`,
  `bulk_update()`) change rows and leave `updated_at`: each is compared on the same source
  advanced the same days twice, once with the change switched off and once with it always
  on, row by row (`seeds.simulate.Behaviour`).
- The clock step is a function of seed and day, bounded, and stamps a day's writes behind.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

import seeds
from models import TABLES, enums
from seeds import catalog
from seeds import lifecycle as lc_
from seeds.invariants import check_invariants
from seeds.simulate import Behaviour, advance, clock_step

START = dt.date(2026, 4, 1)
DAYS = 20
SEED = 8
#: Every quiet change off and no clock step: the app of old, which always called save().
OFF = Behaviour(
    bulk_cancel_share=0, payment_sweep_share=0, price_change_day_share=0, fee_waiver_share=0,
    tracking_share=0, reassign_share=0, campaign_purge_day_share=0, clock_step_day_share=0,
)
SNAPSHOT = "2026-04-20 21:00:00"  # the generated source's now: 21:00 UTC on its last day
DAY1 = "2026-04-21 21:00:00"


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def rows(url: str, sql: str, **params) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def table_rows(url: str, table: str) -> dict[int, dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.exec_driver_sql(f'SELECT * FROM "{table}" ORDER BY id')
            return {r["id"]: dict(r) for r in result.mappings()}
    finally:
        engine.dispose()


def ts(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def cents(value) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("django") / "generated.db"
    seeds.generate(url_of(path), customers=3000, days=DAYS, seed=SEED, start=START,
                   progress=False)
    return path


@pytest.fixture(scope="module")
def advanced(generated, tmp_path_factory):
    """`advanced(name, days, **shares)`: a copy of the source advanced with OFF but the
    given shares (cached per arguments)."""
    root = tmp_path_factory.mktemp("django_adv")
    cache: dict[tuple, tuple[str, seeds.Summary]] = {}

    def make(name: str, days: int = 1, **shares) -> tuple[str, seeds.Summary]:
        key = (name, days, tuple(sorted(shares.items())))
        if key not in cache:
            path = root / f"{name}_{days}_{len(cache)}.db"
            shutil.copy2(generated, path)
            behaviour = Behaviour(**{**OFF.__dict__, **shares})
            cache[key] = (url_of(path), advance(url_of(path), days=days, progress=False,
                                                behaviour=behaviour))
        return cache[key]

    return make


def differing(a: dict[int, dict], b: dict[int, dict]) -> dict[int, set[str]]:
    """id → the columns that differ, for rows in both; rows in one only are an error."""
    assert set(a) == set(b)
    return {
        i: {c for c in a[i] if a[i][c] != b[i][c]} for i in a if a[i] != b[i]
    }


# -- the generator ----------------------------------------------------------------------------
def test_generated_orders_have_kitchen_times_from_their_lifecycle(generated):
    url = url_of(generated)
    orders = table_rows(url, "orders_order")
    distance = dict(rows(url, "SELECT order_id, distance_km FROM delivery_delivery"))
    counted = {"delivered": 0, "pending": 0, "cancelled": 0}
    for o in orders.values():
        created, confirmed = ts(o["created_at"]), ts(o["confirmed_at"])
        prepared, delivered = ts(o["prepared_at"]), ts(o["delivered_at"])
        if o["status"] == "pending":
            assert (confirmed, prepared, delivered) == (None, None, None), o["id"]
        elif o["status"] == "delivered":
            # created → confirmed 1-6 min → preparing 1-5 → ready after 10-25 min of
            # cooking → delivered after (4 + 2.5 min per km) × 0.8-1.2 on the road.
            assert dt.timedelta(minutes=1) <= confirmed - created <= dt.timedelta(minutes=6)
            assert dt.timedelta(minutes=11) <= prepared - confirmed <= dt.timedelta(minutes=30)
            ride = (delivered - prepared).total_seconds() / 60
            base = 4 + 2.5 * float(distance[o["id"]])
            assert 0.8 * base - 0.1 <= ride <= 1.2 * base + 0.1, o["id"]
        elif o["status"] == "cancelled":
            assert delivered is None
            # Ready only if it went out on the road (a failed delivery has a delivery row).
            assert (prepared is not None) == (o["id"] in distance), o["id"]
        if o["status"] in counted:
            counted[o["status"]] += 1
        for a, b in ((confirmed, prepared), (prepared, delivered), (confirmed, delivered)):
            assert a is None or b is None or a <= b
    assert min(counted.values()) > 0, counted
    assert check_invariants(url) == []


def test_generated_recipients_open_and_click_in_order(generated):
    url = url_of(generated)
    recipients = table_rows(url, "campaigns_campaignrecipient")
    assert len(recipients) > 100
    sent = {c: 0 for c in enums.RECIPIENT_CHANNELS}
    opened = dict(sent)
    clicks = {v: 0 for v in enums.CAMPAIGN_VARIANTS}
    for r in recipients.values():
        s, o, c = ts(r["sent_at"]), ts(r["opened_at"]), ts(r["clicked_at"])
        assert r["channel"] in enums.RECIPIENT_CHANNELS
        assert r["created_at"] == r["sent_at"]
        assert c is None or o is not None, r["id"]  # a click opens the message first
        if o is not None:
            assert s <= o <= s + dt.timedelta(days=3), r["id"]
            assert ts(SNAPSHOT) >= o
        if c is not None:
            assert o + dt.timedelta(seconds=9) <= c <= o + dt.timedelta(minutes=10), r["id"]
            clicks[r["variant"]] += 1
        assert ts(r["updated_at"]) == max(t for t in (s, o, c) if t is not None)
        sent[r["channel"]] += 1
        opened[r["channel"]] += o is not None
    rate = {ch: opened[ch] / sent[ch] for ch in sent}
    # SMS is opened most, push least (models: lifecycle.OPEN_RATE 0.6, 0.35, 0.25).
    assert rate["sms"] > rate["email"] > rate["push"] > 0, rate
    assert clicks["A"] > clicks["control"], clicks


def test_generated_tickets_get_an_agent_at_their_first_response(generated):
    tickets = table_rows(url_of(generated), "support_ticket").values()
    assert any(t["assigned_agent"] for t in tickets) and any(not t["assigned_agent"] for t in
                                                                tickets)
    for t in tickets:
        assert (t["assigned_agent"] is None) == (t["first_response_at"] is None), t["id"]
        assert t["assigned_agent"] is None or t["assigned_agent"] in catalog.SUPPORT_AGENTS


def test_generated_health_profiles(generated):
    url = url_of(generated)
    profiles = table_rows(url, "health_healthprofile").values()
    joined = dict(rows(url, "SELECT id, date_joined FROM accounts_user"))
    users = [p["user_id"] for p in profiles]
    assert len(users) == len(set(users))
    # 30 % of customers fill one in, some weeks after signing up: fewer by the snapshot.
    assert 0.15 * len(joined) < len(users) < 0.32 * len(joined), (len(users), len(joined))
    allergies = {a for a, _ in catalog.ALLERGIES}
    goals = set()
    for p in profiles:
        assert ts(joined[p["user_id"]]) <= ts(p["created_at"]) <= ts(p["updated_at"])
        assert ts(p["updated_at"]) <= ts(SNAPSHOT)
        assert p["allergies"] in allergies and p["activity_level"] in enums.ACTIVITY_LEVELS
        goal = enums.DIETARY_GOALS.index(p["dietary_goal"])
        goals.add(goal)
        kcal = p["daily_calorie_target"]
        low, high = lc_.KCAL[goal]
        assert kcal is None or (low <= kcal <= high and kcal % 50 == 0), p
    assert goals == set(range(len(enums.DIETARY_GOALS)))


# -- the simulator's quiet changes ----------------------------------------------------------
def test_fee_waivers_change_the_total_and_leave_updated_at(advanced):
    off, _ = advanced("off")
    on, summary = advanced("fees", fee_waiver_share=1.0)
    a, b = table_rows(off, "orders_order"), table_rows(on, "orders_order")
    diff = differing(a, b)
    assert diff and summary.untracked["orders_order"] == len(diff)
    for i, columns in diff.items():
        assert columns == {"delivery_fee", "total"}, (i, columns)
        assert cents(b[i]["delivery_fee"]) == 0 < cents(a[i]["delivery_fee"])
        assert cents(b[i]["total"]) == cents(a[i]["total"]) - cents(a[i]["delivery_fee"])
        assert cents(b[i]["total"]) == cents(b[i]["subtotal"]) - cents(b[i]["discount_amount"])
        assert b[i]["updated_at"] == a[i]["updated_at"] and b[i]["status"] == "delivered"
        assert DAY1 >= b[i]["delivered_at"] > SNAPSHOT
    for table in TABLES:
        if table.name != "orders_order":
            assert table_rows(off, table.name) == table_rows(on, table.name), table.name
    assert check_invariants(on) == []


def test_tracked_opens_and_clicks_leave_updated_at(generated, advanced):
    before = table_rows(url_of(generated), "campaigns_campaignrecipient")
    # Two campaigns start on 2026-04-25 and 04-27: their recipients open and click after.
    off, _ = advanced("off", days=8)
    on, summary = advanced("tracking", days=8, tracking_share=1.0)
    a, b = (table_rows(u, "campaigns_campaignrecipient") for u in (off, on))
    diff = differing(a, b)
    assert diff and summary.untracked["campaigns_campaignrecipient"] == len(diff)
    for i, columns in diff.items():
        assert columns == {"updated_at"}, (i, columns)
        # Saved: updated_at is the open or click; tracked: it stays what it was (for a
        # recipient sent during these days, what it was written with).
        assert a[i]["updated_at"] in (a[i]["opened_at"], a[i]["clicked_at"])
        assert b[i]["sent_at"] <= b[i]["updated_at"] < a[i]["updated_at"]
        if i in before:
            assert b[i]["updated_at"] == before[i]["updated_at"]
            assert (before[i]["opened_at"], before[i]["clicked_at"]) != (
                b[i]["opened_at"], b[i]["clicked_at"])


def test_reassigned_tickets_keep_updated_at(generated, advanced):
    off, _ = advanced("off", days=2)
    on, summary = advanced("reassign", days=2, reassign_share=1.0)
    a, b = table_rows(off, "support_ticket"), table_rows(on, "support_ticket")
    diff = differing(a, b)
    assert diff and summary.untracked["support_ticket"] >= len(diff)
    for i, columns in diff.items():
        assert columns == {"assigned_agent"}, (i, columns)
        assert b[i]["assigned_agent"] in catalog.SUPPORT_AGENTS
        assert b[i]["assigned_agent"] != a[i]["assigned_agent"]
        assert b[i]["updated_at"] == a[i]["updated_at"]


def test_the_payment_sweep_completes_payments_without_updated_at(generated, tmp_path):
    """A slow provider left a few subscription payments pending: the next day they
    complete, by save() (OFF) or by the provider's status sweep (update())."""
    slow = [i for (i,) in rows(url_of(generated), "SELECT id FROM payments_payment WHERE "
                               "purpose = 'subscription' AND created_at > :t ORDER BY id "
                               "LIMIT 6", t="2026-04-19 21:00:00")]
    assert len(slow) == 6
    copies = {}
    for name, share in (("saved", 0.0), ("swept", 1.0)):
        path = tmp_path / f"{name}.db"
        shutil.copy2(generated, path)
        engine = sa.create_engine(url_of(path))
        with engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE payments_payment SET status = 'pending', completed_at = NULL, "
                f"updated_at = created_at WHERE id IN ({','.join(map(str, slow))})"))
        engine.dispose()
        before = table_rows(url_of(path), "payments_payment")
        summary = advance(url_of(path), days=1, progress=False,
                          behaviour=Behaviour(**{**OFF.__dict__, "payment_sweep_share": share}))
        copies[name] = (before, table_rows(url_of(path), "payments_payment"), summary)
    before, a, _ = copies["saved"]
    _, b, summary = copies["swept"]
    diff = differing(a, b)
    assert set(diff) == set(slow) and summary.untracked["payments_payment"] == len(slow)
    for i in slow:
        assert diff[i] == {"updated_at"}
        assert a[i]["status"] == b[i]["status"] == "completed"
        assert a[i]["completed_at"] == b[i]["completed_at"] == a[i]["updated_at"]
        assert b[i]["updated_at"] == before[i]["updated_at"] == before[i]["created_at"]


def test_a_price_change_is_a_bulk_update_that_new_orders_follow(generated, advanced):
    before = table_rows(url_of(generated), "menu_meal")
    on, summary = advanced("prices", days=1, price_change_day_share=1.0)
    after = table_rows(on, "menu_meal")
    diff = differing(before, after)
    assert 1 <= len(diff) <= 3 and summary.untracked["menu_meal"] == len(diff)
    unit = {w.id: w.unit for w in catalog.WEBSITES}
    for i, columns in diff.items():
        assert columns == {"price"}, (i, columns)
        old, new = cents(before[i]["price"]), cents(after[i]["price"])
        step = unit[after[i]["website_id"]]
        assert new % step == 0 and (old < new <= old * 115 // 100 or new == old + step)
        assert after[i]["updated_at"] == before[i]["updated_at"]
    # The next day's orders are priced from the menu as it now stands.
    last_item = rows(on, "SELECT MAX(id) FROM orders_orderitem")[0][0]
    advance(on, days=1, progress=False, behaviour=OFF)
    sold = rows(on, "SELECT meal_id, unit_price FROM orders_orderitem WHERE id > :i",
                i=last_item)
    prices = {i: cents(m["price"]) for i, m in after.items()}
    assert sold and all(cents(p) == prices[m] for m, p in sold)
    assert any(m in diff for m, _ in sold), "no order of a repriced meal"


def test_the_admin_cancels_stale_abandoned_orders_in_bulk(generated, advanced):
    g = url_of(generated)
    before = table_rows(g, "orders_order")
    pending = [o for o in before.values() if o["status"] == "pending"]
    lc = lc_.order_lifecycle(SEED, np.array([o["id"] for o in pending]), np.array(
        [int(ts(o["created_at"]).timestamp() * 1e6) for o in pending], dtype=np.int64))
    sweep = ts(DAY1) - dt.timedelta(hours=1)
    stale = [o["id"] for o, outcome in zip(pending, lc["outcome"], strict=True)
             if outcome == lc_.O_ABANDONED and ts(o["created_at"]) < sweep - dt.timedelta(hours=2)]
    assert stale, "no stale abandoned order in the snapshot"
    on, summary = advanced("cancel", days=1, bulk_cancel_share=1.0)
    off, _ = advanced("off")
    after = table_rows(on, "orders_order")
    payments = {p["id"]: p for p in table_rows(g, "payments_payment").values()
                if p["order_id"] in stale}
    after_payments = table_rows(on, "payments_payment")
    for i in stale:
        assert after[i]["status"] == "cancelled" and after[i]["payment_status"] == "failed"
        assert ts(after[i]["cancelled_at"]) == sweep
        assert after[i]["updated_at"] == before[i]["updated_at"]
        assert {k: v for k, v in after[i].items() if k not in (
            "status", "payment_status", "cancelled_at")} == {
            k: v for k, v in before[i].items() if k not in (
                "status", "payment_status", "cancelled_at")}
    assert payments
    for pid, p in payments.items():
        assert after_payments[pid]["status"] == "failed"
        assert after_payments[pid]["updated_at"] == p["updated_at"]
    # Left alone (OFF), the same orders are purged with the abandoned ones.
    assert not set(stale) & set(table_rows(off, "orders_order"))
    assert summary.untracked["orders_order"] >= len(stale)
    assert check_invariants(on) == []


def test_deleting_an_old_campaign_nulls_its_orders_without_updated_at(tmp_path):
    path = tmp_path / "campaigns.db"
    seeds.generate(url_of(path), customers=400, days=130, seed=3, start=START, progress=False)
    url = url_of(path)
    old = rows(url, "SELECT id FROM campaigns_campaign WHERE end_date < :t ORDER BY end_date, id",
               t=(dt.datetime(2026, 8, 9, 21) - dt.timedelta(days=90)).isoformat(" "))
    assert old
    gone = old[0][0]
    orders = dict(rows(url, "SELECT id, updated_at FROM orders_order WHERE campaign_id = :c",
                       c=gone))
    assert orders
    summary = advance(url, days=1, progress=False,
                      behaviour=Behaviour(**{**OFF.__dict__, "campaign_purge_day_share": 1.0}))
    assert summary.deleted["campaigns_campaign"] == 1
    assert rows(url, "SELECT COUNT(*) FROM campaigns_campaign WHERE id = :c", c=gone) == [(0,)]
    assert rows(url, "SELECT COUNT(*) FROM campaigns_campaignrecipient WHERE campaign_id = :c",
                c=gone) == [(0,)]
    after = {i: (c, u) for i, c, u in rows(
        url, f"SELECT id, campaign_id, updated_at FROM orders_order WHERE id IN "
             f"({','.join(map(str, orders))})")}
    assert after == {i: (None, u) for i, u in orders.items()}
    assert summary.untracked["orders_order"] == len(orders)
    assert check_invariants(url) == []


# -- the clock step -------------------------------------------------------------------------
def test_the_clock_step_is_a_bounded_function_of_seed_and_day():
    steps = [clock_step(SEED, day) for day in range(2000)]
    assert steps == [clock_step(SEED, day) for day in range(2000)]
    stepped = [s for s in steps if s]
    assert 0.07 < len(stepped) / len(steps) < 0.13
    assert min(stepped) >= 30 * 60 * 10**6 and max(stepped) <= 3 * 3600 * 10**6
    assert all(s % 10**6 == 0 for s in stepped)
    assert [clock_step(SEED + 1, day) for day in range(2000)] != steps
    never = Behaviour(clock_step_day_share=0)
    always = Behaviour(clock_step_day_share=1, clock_step_max_hours=1)
    assert all(clock_step(SEED, d, never) == 0 for d in range(200))
    assert all(30 * 60 * 10**6 <= clock_step(SEED, d, always) <= 3600 * 10**6 for d in range(200))


def test_a_clock_step_day_stamps_behind_and_keeps_events_in_order(generated, advanced):
    g = url_of(generated)
    off, _ = advanced("off")
    on, summary = advanced("clock", clock_step_day_share=1.0)
    ((_, step),) = summary.clock_steps
    behind = dt.timedelta(microseconds=step)
    assert dt.timedelta(minutes=30) <= behind <= dt.timedelta(hours=3)
    before = table_rows(g, "orders_order")
    a, b = table_rows(off, "orders_order"), table_rows(on, "orders_order")
    # Orders of the snapshot that moved on: same change, stamped `step` behind true time.
    moved = [i for i in before if i in a and a[i]["updated_at"] != before[i]["updated_at"]]
    assert moved
    events = ("status", "confirmed_at", "prepared_at", "delivered_at", "cancelled_at")
    for i in moved:
        assert ts(b[i]["updated_at"]) == ts(a[i]["updated_at"]) - behind, i
        assert [b[i][e] for e in events] == [a[i][e] for e in events]
    # Orders and customers of that day carry the app's clock, `step` behind: nothing is
    # stamped in the last `step` of the day, and an order's events follow its created_at.
    new = [o for i, o in b.items() if i not in before]
    assert new and all(ts(o["created_at"]) < ts(DAY1) - behind for o in new)
    for o in new:
        if o["confirmed_at"]:
            gap = ts(o["confirmed_at"]) - ts(o["created_at"])
            assert dt.timedelta(minutes=1) <= gap <= dt.timedelta(minutes=6), o["id"]
    joined = [ts(j) for (j,) in rows(on, "SELECT date_joined FROM accounts_user WHERE "
                                          "date_joined > :t", t=SNAPSHOT)]
    assert all(j < ts(DAY1) - behind for j in joined)
    assert len(joined) < len(rows(off, "SELECT id FROM accounts_user WHERE date_joined > :t",
                                  t=SNAPSHOT))
    assert check_invariants(on) == []


# -- an older source ------------------------------------------------------------------------
def test_advance_migrates_a_source_generated_before_the_new_columns(generated, tmp_path):
    """As Django's migrate does: the new table is created, the new columns added (NULL on
    the rows already there) and filled from then on; the rules hold throughout."""
    from models.schema import ADDED, ADDED_TABLES

    path = tmp_path / "older.db"
    shutil.copy2(generated, path)
    url = url_of(path)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql('DROP TABLE "health_healthprofile"')
        conn.exec_driver_sql('DROP INDEX "ix_campaigns_campaignrecipient_updated_at"')
        for name, columns in ADDED.items():
            for column in columns if name not in ADDED_TABLES else ():
                conn.exec_driver_sql(f'ALTER TABLE "{name}" DROP COLUMN "{column}"')
    engine.dispose()
    assert check_invariants(url) == []  # an older source is a source
    last_order = rows(url, "SELECT MAX(id) FROM orders_order")[0][0]
    advance(url, days=2, progress=False)
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    for name, columns in ADDED.items():
        assert set(columns) <= {c["name"] for c in inspector.get_columns(name)}, name
    assert "ix_campaigns_campaignrecipient_updated_at" in {
        i["name"] for i in inspector.get_indexes("campaigns_campaignrecipient")}
    engine.dispose()
    # History stays NULL; what the app writes from now on has the new columns.
    assert rows(url, "SELECT COUNT(*) FROM orders_order WHERE id <= :i AND status = "
                     "'delivered' AND confirmed_at IS NULL", i=last_order)[0][0] > 0
    assert rows(url, "SELECT COUNT(*), COUNT(confirmed_at) FROM orders_order WHERE id > :i "
                     "AND status = 'delivered'", i=last_order)[0] == (
        rows(url, "SELECT COUNT(*) FROM orders_order WHERE id > :i AND status = 'delivered'",
             i=last_order)[0][0],) * 2
    assert rows(url, "SELECT COUNT(*) FROM health_healthprofile")[0][0] > 0
    assert check_invariants(url) == []
