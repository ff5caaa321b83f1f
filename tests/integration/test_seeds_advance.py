"""`seeds.advance` on SQLite: the business goes on, rows change and disappear, health stays."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

import seeds
from models import TABLES, metadata
from seeds.db import read_state
from seeds.invariants import check_invariants
from seeds.simulate import delete_rows

START = dt.date(2026, 1, 5)
SMALL = {"customers": 2000, "days": 15, "seed": 8, "start": START, "progress": False}


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def rows(url: str, sql: str, **params) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def dump(url: str) -> dict[str, list[tuple]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(sa.select(t).order_by(t.c.id)).all() for t in TABLES}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("adv") / "generated.db"
    seeds.generate(url_of(path), **SMALL)
    return path


@pytest.fixture(scope="module")
def advanced(generated, tmp_path_factory) -> tuple[str, str, seeds.Summary]:
    """(url before, url after three simulated days, the summary of advance)."""
    path = tmp_path_factory.mktemp("adv") / "advanced.db"
    shutil.copy2(generated, path)
    summary = seeds.advance(url_of(path), days=3, progress=False)
    return url_of(generated), url_of(path), summary


def test_advance_keeps_every_invariant(advanced):
    _, after, _ = advanced
    assert check_invariants(after) == []


def test_advance_moves_the_clock_three_days(advanced):
    before, after, summary = advanced
    engine = sa.create_engine(after)
    with engine.connect() as conn:
        state = read_state(conn)
    engine.dispose()
    through = dt.datetime.fromtimestamp(state["through"] / 1e6, dt.UTC)
    assert through == dt.datetime(2026, 1, 22, 21, 0, tzinfo=dt.UTC)
    assert summary.through == dt.date(2026, 1, 22)
    newest = rows(after, "SELECT MAX(created_at) FROM orders_order")[0][0]
    assert "2026-01-20" <= newest[:10] <= "2026-01-22"


def test_advance_adds_rows_of_many_kinds(advanced):
    before, after, summary = advanced
    for table in ("accounts_user", "orders_order", "orders_orderitem", "payments_payment",
                  "delivery_delivery", "loyalty_loyaltytransaction"):
        assert summary.rows.get(table, 0) > 0, table
    old_max = rows(before, "SELECT MAX(id) FROM orders_order")[0][0]
    new_orders = rows(after, "SELECT COUNT(*) FROM orders_order WHERE id > :m", m=old_max)[0][0]
    # Some of the new orders were abandoned and purged within the same three days.
    purged = summary.deleted.get("orders_order", 0)
    assert summary.rows["orders_order"] - purged <= new_orders <= summary.rows["orders_order"]


def test_pre_existing_rows_change_as_the_app_changes_them(advanced):
    """save() bumps updated_at; the app's quiet changes (queryset.update(), update_fields,
    bulk_update(), SET_NULL) do not, and the summary counts them per table."""
    before, after, summary = advanced
    # Seed 8's days 15-17 have no clock step (tested in test_seeds_django.py), so every
    # save() of these three days stamps a newer updated_at.
    assert summary.clock_steps == []
    old = {r[0]: r[1:] for r in rows(before, "SELECT id, status, updated_at FROM orders_order")}
    new = {r[0]: r[1:] for r in rows(after, "SELECT id, status, updated_at FROM orders_order")}
    moved = [i for i in old if i in new and new[i][0] != old[i][0]]
    assert moved, "no order that was in progress moved on"
    saved = [i for i in moved if new[i][1] != old[i][1]]
    assert saved, "no order moved on through save()"
    for i in saved:
        assert new[i][1] > old[i][1]
        assert new[i][1] > "2026-01-19 21:00:00"
    # The orders that moved without a new updated_at are the admin's bulk cancellations.
    for i in set(moved) - set(saved):
        assert (old[i][0], new[i][0]) == ("pending", "cancelled"), i
    # Every row whose content changed has a newer updated_at, in every table that has one,
    # unless the app changed it quietly: at most as many per table as the summary counts.
    b, a = dump(before), dump(after)
    changed_tables, quiet = set(), {}
    for table in TABLES:
        if "updated_at" not in table.c:
            continue
        k = list(table.c.keys()).index("updated_at")
        was = {r[0]: r for r in b[table.name]}
        for r in a[table.name]:
            if r[0] in was and r != was[r[0]]:
                if r[k] == was[r[0]][k]:
                    quiet[table.name] = quiet.get(table.name, 0) + 1
                else:
                    assert r[k] > was[r[0]][k], (table.name, r[0])
                    changed_tables.add(table.name)
    assert {"orders_order", "loyalty_loyaltyaccount"} <= changed_tables
    assert quiet, "the app changed nothing quietly in three days"
    for name, n in quiet.items():
        assert n <= summary.untracked.get(name, 0), (name, n, summary.untracked)
    assert summary.updated["orders_order"] >= len(saved)


def test_abandoned_orders_are_hard_deleted_with_their_dependents(advanced):
    before, after, summary = advanced
    engine = sa.create_engine(after)
    with engine.connect() as conn:
        next_id = read_state(conn)["next_ids"]["orders_order"]
    engine.dispose()
    old_max = rows(before, "SELECT MAX(id) FROM orders_order")[0][0]
    kept = {i for (i,) in rows(after, "SELECT id FROM orders_order")}
    pending_before = [i for (i,) in rows(before, "SELECT id FROM orders_order WHERE "
                                                 "status = 'pending'")]
    # Purged: pending orders of the snapshot, and orders placed and abandoned meanwhile.
    gone = [i for i in pending_before if i not in kept]
    gone += [i for i in range(old_max + 1, next_id) if i not in kept]
    assert gone, "no abandoned order was purged"
    # (Erased customers take their orders with them too.)
    assert summary.deleted["orders_order"] >= len(gone)
    assert summary.deleted["orders_orderitem"] >= len(gone)  # every order has a line
    listed = ",".join(map(str, gone))
    for table in ("orders_orderitem", "payments_payment", "delivery_delivery"):
        assert rows(after, f"SELECT COUNT(*) FROM {table} WHERE order_id IN ({listed})") == [(0,)]
    for i in gone:
        if i in pending_before:
            assert rows(before, "SELECT COUNT(*) FROM orders_orderitem WHERE order_id = :i",
                        i=i)[0][0] > 0


def test_advance_is_deterministic(generated, tmp_path):
    results = []
    for name in ("one.db", "two.db"):
        path = tmp_path / name
        shutil.copy2(generated, path)
        seeds.advance(url_of(path), days=2, progress=False)
        results.append(dump(url_of(path)))
    assert results[0] == results[1]


def test_advance_twice_continues_where_it_stopped(generated, tmp_path):
    path = tmp_path / "twice.db"
    shutil.copy2(generated, path)
    seeds.advance(url_of(path), days=1, progress=False)
    seeds.advance(url_of(path), days=1, progress=False)
    assert check_invariants(url_of(path)) == []
    ids = [i for (i,) in rows(url_of(path), "SELECT id FROM orders_order ORDER BY id")]
    assert len(ids) == len(set(ids))


def test_advance_on_a_missing_database_creates_nothing(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(seeds.SourceError):
        seeds.advance(url_of(missing), days=1, progress=False)
    assert not missing.exists()


def test_advance_on_an_empty_database_is_refused(tmp_path):
    path = tmp_path / "empty.db"
    sa.create_engine(url_of(path)).connect().close()
    with pytest.raises(seeds.SourceError, match="generate"):
        seeds.advance(url_of(path), days=1, progress=False)


@pytest.mark.parametrize("days", [0, -2])
def test_bad_days_change_nothing(generated, tmp_path, days):
    path = tmp_path / "copy.db"
    shutil.copy2(generated, path)
    before = path.read_bytes()
    with pytest.raises(seeds.SourceError):
        seeds.advance(url_of(path), days=days, progress=False)
    assert path.read_bytes() == before


def test_erasing_a_customer_follows_on_delete(generated, tmp_path):
    """CASCADE removes the customer's rows, SET_NULL detaches the customers it referred."""
    path = tmp_path / "erase.db"
    shutil.copy2(generated, path)
    url = url_of(path)
    (referrer,) = rows(url, "SELECT referred_by_id FROM accounts_user WHERE referred_by_id "
                            "IS NOT NULL AND referred_by_id IN (SELECT user_id FROM "
                            "orders_order) ORDER BY id LIMIT 1")[0]
    referred = [i for (i,) in rows(url, "SELECT id FROM accounts_user WHERE referred_by_id = :u",
                                   u=referrer)]
    orders = [i for (i,) in rows(url, "SELECT id FROM orders_order WHERE user_id = :u",
                                 u=referrer)]
    updated_before = dict(rows(url, "SELECT id, updated_at FROM accounts_user WHERE "
                                    "referred_by_id = :u", u=referrer))
    assert updated_before and set(updated_before) == set(referred)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        deleted = delete_rows(conn, metadata.tables["accounts_user"], [referrer],
                              now=1_800_000_000_000_000)
    engine.dispose()
    assert deleted["accounts_user"] == 1 and deleted["orders_order"] == len(orders)
    assert deleted["loyalty_loyaltyaccount"] == 1
    for table, column in (("orders_order", "user_id"), ("payments_payment", "user_id"),
                          ("loyalty_loyaltyaccount", "user_id"),
                          ("referrals_referral", "referrer_id")):
        assert rows(url, f"SELECT COUNT(*) FROM {table} WHERE {column} = :u",
                    u=referrer)[0][0] == 0
    assert rows(url, "SELECT COUNT(*) FROM orders_orderitem WHERE order_id IN "
                     f"({','.join(map(str, orders))})")[0][0] == 0
    # Still there, no longer pointing at the erased customer, and updated_at as it was:
    # Django's collector clears a SET_NULL column with a queryset update.
    for user in referred:
        (ref, updated), = rows(url, "SELECT referred_by_id, updated_at FROM accounts_user "
                                    "WHERE id = :u", u=user)
        assert ref is None
        assert updated == updated_before[user]
    assert check_invariants(url) == []


def test_protect_blocks_a_delete(generated, tmp_path):
    path = tmp_path / "protect.db"
    shutil.copy2(generated, path)
    engine = sa.create_engine(url_of(path))
    with pytest.raises(seeds.SourceError, match="protects"):
        with engine.begin() as conn:
            delete_rows(conn, metadata.tables["menu_meal"], [1], now=0)
    engine.dispose()
    assert rows(url_of(path), "SELECT COUNT(*) FROM menu_meal WHERE id = 1")[0][0] == 1


@pytest.mark.postgres
def test_advance_and_erasure_on_postgresql_respect_foreign_keys(postgres_url):
    """PostgreSQL enforces the foreign keys that SQLite does not: every write of advance
    and of an erasure must come in a valid order, and the sequences must follow the ids."""
    seeds.generate(postgres_url, **{**SMALL, "customers": 200, "days": 15})
    summary = seeds.advance(postgres_url, days=2, progress=False)
    assert summary.rows["orders_order"] > 0
    assert check_invariants(postgres_url) == []
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            (user,) = conn.execute(sa.text(
                "SELECT user_id FROM orders_order ORDER BY id LIMIT 1")).one()
            deleted = delete_rows(conn, metadata.tables["accounts_user"], [user],
                                  now=1_800_000_000_000_000)
            new_id = conn.execute(sa.text(
                "INSERT INTO accounts_website (name, domain, currency, timezone, created_at, "
                "updated_at) VALUES ('New', 'new.example', 'UGX', 'Africa/Kampala', now(), "
                "now()) RETURNING id")).scalar_one()
    finally:
        engine.dispose()
    assert deleted["accounts_user"] == 1 and deleted["orders_order"] >= 1
    assert new_id == 3  # the sequence is past the generated ids
    assert check_invariants(postgres_url) == []


def test_advance_switches_plans_and_brings_subscribers_back(tmp_path):
    """The simulator, like the generator, records plan switches (the subscription
    cancelled and one on another plan of the website started at that instant) and
    comebacks (a new subscription weeks after one ended), never two running at once."""
    path = tmp_path / "subs.db"
    seeds.generate(url_of(path), customers=600, days=60, seed=11, start=START, progress=False)
    url = url_of(path)
    generated = rows(url, "SELECT MAX(id) FROM subscriptions_subscription")[0][0]
    seeds.advance(url, days=30, progress=False)
    assert check_invariants(url) == []
    ended = ("CASE a.status WHEN 'CANCELLED' THEN a.cancelled_at "
             "WHEN 'EXPIRED' THEN a.current_period_end END")
    follow_ups = rows(url, f"""
        SELECT b.id, b.started_at = {ended} AS switched, a.plan_id <> b.plan_id AS other_plan,
               pa.website_id = pb.website_id AS same_website
        FROM subscriptions_subscription a
        JOIN subscriptions_subscription b ON b.user_id = a.user_id AND b.id <> a.id
            AND b.started_at >= {ended}
        JOIN subscriptions_plan pa ON pa.id = a.plan_id
        JOIN subscriptions_plan pb ON pb.id = b.plan_id
        WHERE b.id > :generated""", generated=generated)
    switches = [r for r in follow_ups if r[1]]
    assert switches and all(r[2] and r[3] for r in switches)
    assert [r for r in follow_ups if not r[1]]
    overlapping = rows(url, """
        WITH s AS (SELECT id, user_id, started_at AS s_at, CASE status
            WHEN 'CANCELLED' THEN cancelled_at WHEN 'EXPIRED' THEN current_period_end
            ELSE '9999' END AS e_at FROM subscriptions_subscription)
        SELECT a.id, b.id FROM s a JOIN s b ON a.user_id = b.user_id AND a.id < b.id
        WHERE a.s_at < b.e_at AND b.s_at < a.e_at""")
    assert overlapping == []


def test_a_refund_already_in_the_source_is_not_written_again(generated, tmp_path):
    """A source written by an earlier generator may already hold a refund this simulator
    dates later (its timings differed): advancing must not refund that payment twice. Here
    the refunds one day of advance writes are put into a copy first, as if an older
    generator had written them; the copy's own advance of that day writes none of them."""
    ahead, behind = tmp_path / "ahead.db", tmp_path / "behind.db"
    shutil.copy(generated, ahead)
    shutil.copy(generated, behind)
    top = rows(url_of(ahead), "select coalesce(max(id), 0) from payments_refund")[0][0]
    seeds.advance(url_of(ahead), days=1, progress=False)
    written = rows(url_of(ahead), "select id, payment_id, amount, reason, created_at "
                   "from payments_refund where id > :top order by id", top=top)
    assert written, "the day wrote no refund: the test proves nothing"
    engine = sa.create_engine(url_of(behind))
    with engine.begin() as conn:
        conn.execute(
            sa.text("insert into payments_refund (id, payment_id, amount, reason, created_at) "
                    "values (:id, :payment_id, :amount, :reason, :created_at)"),
            [dict(zip(("id", "payment_id", "amount", "reason", "created_at"),
                      (top + 1000 + i, *r[1:]), strict=True)) for i, r in enumerate(written)],
        )
    engine.dispose()
    seeds.advance(url_of(behind), days=1, progress=False)
    counts = dict(rows(url_of(behind), "select payment_id, count(*) from payments_refund "
                       "group by payment_id"))
    assert {payment: counts[payment] for _, payment, *_ in written} == {
        payment: 1 for _, payment, *_ in written
    }
    over = "select p.id from payments_refund r join payments_payment p on p.id = r.payment_id " \
        "group by p.id, p.amount having sum(r.amount) > p.amount"
    assert rows(url_of(behind), over) == []
