"""The activity simulator: the same business, N more days, on an existing source.

Each simulated day reads what it needs back from the database and writes, in one
transaction with the state of the simulator (`seeds_simulation`):
- new rows: sign-ups (with loyalty accounts and referrals), orders with their items,
  payments, deliveries and ledger entries, campaign recipients, subscriptions, VIP
  purchases, redemptions, support tickets, consultations;
- updates of existing rows through `save()`, with `updated_at` bumped: orders that were
  in progress move on (confirmed, prepared, delivered), cash is collected, refunds arrive
  days later, subscriptions renew, pause, cancel and expire, referrals qualify and are
  rewarded, loyalty accounts change, campaigns start and end, recipients open and click,
  tickets are answered (and assigned to an agent), consultations happen, late payments
  complete, health profiles are filled in and change goal;
- updates as Django's `queryset.update()`, `save(update_fields=[...])` and
  `bulk_update()` make them: the row changes, `updated_at` does not (SOURCE_SCHEMA.md,
  "updated_at is a hint"). The shares are the fields of `Behaviour` (defaults below; pass
  another to `advance(..., behaviour=...)`), each draw deterministic per seed:
  - `bulk_cancel_share` (0.5): of the stale abandoned orders (pending, placed more than two
    hours before the nightly sweep at 20:00 UTC), the share an admin cancels in bulk
    (status 'cancelled', payment_status 'failed', cancelled_at; their pending payments
    'failed') instead of leaving them to the purge;
  - `payment_sweep_share` (0.5): of the late non-order payments that complete, the share the
    provider's status sweep completes with `update()`;
  - `price_change_day_share` (0.1): the days on which 1 to 3 meals of a website get a new
    price (+5 to +15 %, rounded to the website's unit, at least one unit more;
    `bulk_update`); new orders use the menu's price from then on;
  - `fee_waiver_share` (0.03): of the orders delivered that day with a delivery fee, the
    share whose fee support waives with an F() expression (delivery_fee 0, total − fee);
  - `tracking_share` (0.5): of the recipients who open or click, the share whose opens and
    clicks the tracking endpoint records with `update()`;
  - `reassign_share` (0.05): of the answered open tickets, the share a supervisor hands to
    another agent with `save(update_fields=["assigned_agent"])`;
  - `campaign_purge_day_share` (0.05): the days on which an admin deletes the oldest
    campaign that ended more than 90 days ago (its recipients cascade; orders'
    campaign_id is set NULL);
- an application clock that steps back: on a share `clock_step_day_share` (0.1) of days,
  chosen per seed and day (`clock_step`), the app's clock runs 30 minutes to
  `clock_step_max_hours` (3) behind: the rows of new customers, orders, recipients,
  subscriptions, VIP purchases, tickets, consultations and campaigns are stamped that much
  early (their created_at and the events of their lifecycle), and every `updated_at` an
  update writes that day is that much behind the event. Events within a row stay in order
  (models.rules), so the rules still hold;
- hard deletes, as the application does them: abandoned pending orders, erased customers
  and old campaigns, following each foreign key's `info["on_delete"]`; SET_NULL clears the
  column without touching the child's `updated_at`, as Django's collector does.

Lifecycles come from `seeds.lifecycle` (a function of the row's id), so a row moves on
exactly as the generator planned it; the day's other randomness is seeded by the
simulator's seed and the day, so the same database advanced the same days is the same.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from models import enums, metadata
from models import schema as s
from seeds import catalog
from seeds import emit as em
from seeds import engine as en
from seeds import lifecycle as lc_
from seeds.db import make_engine, mask_url, nonempty_tables, one_line, read_state, write_state
from seeds.errors import SourceError
from seeds.lifecycle import DAY, FAR, HOUR
from seeds.progress import Progress, report
from seeds.rand import uniform
from seeds.summary import Summary
from seeds.writer import NULL, Writer

T = metadata.tables

# Streams of seeds.rand for the draws of `Behaviour` (per row id, or per day number).
S_BULK_CANCEL, S_SWEEP, S_PRICE_DAY, S_FEE_WAIVE, S_TRACK = range(200, 205)
S_CLOCK_DAY, S_CLOCK_STEP, S_PURGE_DAY = range(205, 208)


@dataclass(frozen=True)
class Behaviour:
    """How the simulated app changes rows behind `updated_at` (see the module docstring)."""

    bulk_cancel_share: float = 0.5
    payment_sweep_share: float = 0.5
    price_change_day_share: float = 0.1
    fee_waiver_share: float = 0.03
    tracking_share: float = 0.5
    reassign_share: float = 0.05
    campaign_purge_day_share: float = 0.05
    clock_step_day_share: float = 0.1
    clock_step_max_hours: float = 3.0


def clock_step(seed: int, day_no: int, behaviour: Behaviour = Behaviour()) -> int:
    """How far (microseconds, >= 0) the app's clock is behind true time on day `day_no`:
    0 on most days; on a share `clock_step_day_share`, 30 min to `clock_step_max_hours`,
    rounded to the second. A function of the seed and the day alone."""
    if uniform(seed, S_CLOCK_DAY, [day_no])[0] >= behaviour.clock_step_day_share:
        return 0
    hours = 0.5 + (behaviour.clock_step_max_hours - 0.5) * uniform(seed, S_CLOCK_STEP, [day_no])[0]
    return int(hours * 3600) * 1_000_000


def exists(url: str) -> bool:
    """True when the source at `url` holds data (any source table with a row)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return False
    engine = make_engine(url, create=False)
    try:
        with engine.connect() as conn:
            return bool(nonempty_tables(conn))
    finally:
        engine.dispose()


def advance(url: str, *, days: int = 1, progress: bool = True,
            behaviour: Behaviour = Behaviour()) -> Summary:
    """Simulate `days` more days of activity on the source at `url` (see module doc)."""
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise SourceError(f"days must be a whole number >= 1, got {days!r}")
    began = time.perf_counter()
    engine = make_engine(url, create=False)
    try:
        with engine.connect() as conn:
            state = read_state(conn)
            if not state or not nonempty_tables(conn):
                    raise SourceError(
                    f"{mask_url(url)} holds no generated source; run "
                    "`mealytics source generate` first"
                )
            conn.rollback()
            with conn.begin():
                writer = Writer(conn)
                sim = _Simulator(conn, writer, state, behaviour)
                with Progress(progress, total=days, description="days") as bar:
                    for _ in range(days):
                        sim.day()
                        bar.advance()
                if conn.dialect.name == "postgresql":
                    from seeds.generate import sync_sequences

                    sync_sequences(conn)
                write_state(conn, sim.state)
    except sa.exc.SQLAlchemyError as exc:
        # A database that fails mid-way (a file that is not a database, a full disk, a
        # server that went away): one line for the command line, the cause chained.
        raise SourceError(f"{mask_url(url)}: {one_line(exc)}") from exc
    finally:
        engine.dispose()
    through = dt.datetime.fromtimestamp(sim.state["through"] / 1e6, dt.UTC).date()
    summary = Summary(action="advance", rows=dict(writer.rows_written),
                      updated=dict(writer.rows_updated), deleted=dict(sim.deleted),
                      seconds=time.perf_counter() - began, through=through,
                      untracked=dict(sim.untracked), clock_steps=list(sim.clock_steps))
    report(progress, str(summary))
    return summary


# -- reading back -------------------------------------------------------------------------
def read(conn: sa.Connection, sql: str, params: dict | None = None, *, ts=(), money=()) -> dict:
    """A query's result as a frame: timestamps as int64 us (NULL), money as hundredths."""
    stmt = sa.text(sql)
    for key, value in (params or {}).items():
        if isinstance(value, list | tuple | np.ndarray):
            stmt = stmt.bindparams(sa.bindparam(key, expanding=True))
    result = conn.execute(stmt, {k: _py(v) for k, v in (params or {}).items()})
    names = list(result.keys())
    rows = result.all()
    out = {}
    for i, name in enumerate(names):
        values = [r[i] for r in rows]
        if name in ts:
            series = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
            out[name] = series.dt.as_unit("us").astype("int64").to_numpy()
        elif name in money:
            v = np.array([np.nan if x is None else float(x) for x in values], dtype=float)
            out[name] = np.where(np.isnan(v), NULL, np.round(v * 100)).astype(np.int64)
        elif values and isinstance(values[0], str):
            out[name] = np.array(values, dtype=object)
        else:
            try:
                out[name] = np.array([NULL if x is None else x for x in values], dtype=np.int64)
            except (TypeError, ValueError):
                out[name] = np.array(values, dtype=object)
    return out


def _py(value):
    if isinstance(value, np.ndarray):
        return [int(x) for x in value] if value.dtype.kind in "iu" else list(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _ids_param(ids) -> list[int]:
    return [int(x) for x in ids] or [-1]


# -- hard deletes ---------------------------------------------------------------------------
def delete_rows(conn: sa.Connection, table: sa.Table, ids, *, now: int,
                deleted: dict[str, int] | None = None,
                untracked: dict[str, int] | None = None) -> dict[str, int]:
    """Delete rows by id as Django's collector does, following each foreign key's
    `info["on_delete"]`: CASCADE deletes the children (recursively), SET_NULL clears the
    column and leaves the child's updated_at as it was (Django's collector sets the field
    with a queryset update; counted per table in `untracked` when given), PROTECT refuses
    the whole delete with SourceError. `now` is unused, kept for callers."""
    deleted = {} if deleted is None else deleted
    ids = _ids_param(np.unique(np.asarray(list(ids), dtype=np.int64)))
    if ids == [-1]:
        return deleted
    for child in metadata.sorted_tables:
        for column in child.columns:
            for fk in column.foreign_keys:
                if fk.column.table is not table:
                    continue
                rule = column.info.get("on_delete")
                if rule == s.PROTECT:
                    hit = conn.execute(
                        sa.select(child.c.id).where(column.in_(ids)).limit(1)).first()
                    if hit:
                        raise SourceError(
                            f"cannot delete {table.name} rows: {child.name}.{column.name} "
                            "protects them")
                elif rule == s.SET_NULL:
                    values = {column.name: None}
                    if child is table:
                        where = column.in_(ids) & child.c.id.not_in(ids)
                    else:
                        where = column.in_(ids)
                    n = conn.execute(child.update().where(where).values(values)).rowcount
                    if untracked is not None and n > 0:
                        untracked[child.name] = untracked.get(child.name, 0) + n
    for child in metadata.sorted_tables:
        for column in child.columns:
            for fk in column.foreign_keys:
                if fk.column.table is table and column.info.get("on_delete") == s.CASCADE:
                    for part in _parts(ids):
                        kids = [r[0] for r in conn.execute(
                            sa.select(child.c.id).where(column.in_(part)))]
                        if kids:
                            delete_rows(conn, child, kids, now=now, deleted=deleted,
                                        untracked=untracked)
    for part in _parts(ids):
        n = conn.execute(table.delete().where(table.c.id.in_(part))).rowcount
        deleted[table.name] = deleted.get(table.name, 0) + n
    return deleted


def _parts(ids: list[int], size: int = 5000):
    for offset in range(0, len(ids), size):
        yield ids[offset: offset + size]


def _dt(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))


# -- one simulated day ---------------------------------------------------------------------
class _Simulator:
    def __init__(self, conn: sa.Connection, writer: Writer, state: dict,
                 behaviour: Behaviour = Behaviour()):
        self.conn = conn
        self.w = writer
        self.state = dict(state)
        self.seed = int(state["seed"])
        self.world = en.World.build(self.seed)
        self.ids = en.Ids(dict(state["next_ids"]))
        self.deleted: dict[str, int] = {}
        self.be = behaviour
        #: Rows changed without their updated_at, per table; the day number and step of
        #: every day the clock was behind.
        self.untracked: dict[str, int] = {}
        self.clock_steps: list[tuple[int, int]] = []
        self.step = 0

    def insert(self, name: str, rows: dict) -> None:
        if rows and en.size(rows):
            self.w.insert(T[name], rows)

    def update(self, name: str, rows: dict) -> None:
        """`save()`: updated_at as the app's clock reads it (behind on a clock-step day)."""
        if rows and en.size(rows):
            if self.step and "updated_at" in rows:
                rows = dict(rows, updated_at=np.asarray(rows["updated_at"]) - self.step)
            self.w.update(T[name], rows)

    def update_quietly(self, name: str, rows: dict) -> None:
        """`queryset.update()`, `save(update_fields=...)`, `bulk_update()`: updated_at stays."""
        if rows and en.size(rows):
            assert "updated_at" not in rows, name
            self.w.update(T[name], rows)
            self.untracked[name] = self.untracked.get(name, 0) + en.size(rows)

    def quietly_where(self, name: str, ids, **values) -> None:
        """A `queryset.filter(id__in=ids).update(**values)` (values may be SQL expressions)."""
        table = T[name]
        for part in _parts(_ids_param(ids)):
            n = self.conn.execute(table.update().where(table.c.id.in_(part)).values(values))
            self.untracked[name] = self.untracked.get(name, 0) + max(n.rowcount, 0)

    def q(self, sql: str, params: dict | None = None, **kw) -> dict:
        return read(self.conn, sql, params, **kw)

    def day(self) -> None:
        t0 = int(self.state["through"])
        t1 = t0 + DAY
        self.t0, self.t1 = t0, t1
        self.since = t0 - 8 * DAY
        day_no = int((t1 - self.start_us()) // DAY)
        rng = np.random.default_rng([self.seed, 9, day_no])
        self.rng = rng
        self.day_no = day_no
        # The day's own draws for the app's quiet changes: the main stream stays as it was.
        self.qrng = np.random.default_rng([self.seed, 11, day_no])
        self.step = clock_step(self.seed, day_no, self.be)
        if self.step:
            self.clock_steps.append((day_no, self.step))
        self.refresh_prices()
        users = self.users()
        self.sign_ups(rng, users)
        users = self.users()
        self.pos_of = pd.Index(users["id"])
        existing = self.existing_orders()
        new = self.new_orders(rng, users)
        entries = [em.earn_entries(self.world, existing, existing["web"], t1, t0),
                   em.earn_entries(self.world, new, new["web"], t1, NULL)]
        entries.append(self.referrals(existing, new, users))
        entries.append(self.recipients(rng, users))
        entries = en.concat([e for e in entries if en.size(e)]) or en.ledger(
            [], [], [], en.L_EARN, en.SRC_ORDER)
        self.later = []
        self.loyalty(rng, users, entries, new)
        en.finish_orders(self.world, new, new["web"])
        self.write_new_orders(new, users)
        self.write_existing_orders(existing)
        for action, table, rows in self.later:
            getattr(self, action)(table, rows)
        self.waive_fees(existing, new)
        self.subscriptions(rng, users)
        self.vip(rng, users)
        self.side_tables(rng, users)
        self.reassign_tickets()
        self.health_profiles(users)
        self.contracts(rng, users)
        self.late_payments()
        self.change_prices()
        self.bulk_cancel()
        self.deletes(rng, users)
        self.purge_campaign()
        self.state["through"] = t1
        self.state["next_ids"] = self.ids.next

    def start_us(self) -> int:
        d = dt.date.fromisoformat(self.state["start"])
        return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()) * 1_000_000

    # -- customers ---------------------------------------------------------------------
    def users(self) -> dict:
        u = self.q("SELECT id, website_id, date_joined FROM accounts_user ORDER BY id",
                   ts=("date_joined",))
        tr = en.user_traits(self.seed, u["id"])
        return {"id": u["id"], "pos": np.arange(len(u["id"])), "web": u["website_id"],
                "joined": u["date_joined"], "lam": tr["lam"],
                "life_end": u["date_joined"] + tr["life"], "corp": tr["corp"],
                "pay_u": tr["pay_u"]}

    def sign_ups(self, rng, users) -> None:
        rate = self.state["customers"] / self.state["days"]
        n = int(rng.poisson(rate))
        self.new_user_ids = np.zeros(0, np.int64)
        if n == 0:
            return
        ids = self.new_user_ids = self.ids.take("accounts_user", n)
        tr = en.user_traits(self.seed, ids)
        joined = np.sort(self.t0 + (rng.random(n) * DAY).astype(np.int64)) - self.step
        rows = en.user_rows(self.world, ids, tr["web"], joined, rng)
        referred = (rng.random(n) < 0.12) & (len(users["id"]) > 0)
        same_web = users["web"]
        referrer = np.full(n, NULL, dtype=np.int64)
        for i in np.flatnonzero(referred):
            pool = users["id"][same_web == tr["web"][i]]
            if len(pool):
                referrer[i] = pool[rng.integers(0, len(pool))]
        rows["referred_by_id"] = referrer
        self.insert("accounts_user", rows)
        self.insert("loyalty_loyaltyaccount", {
            "id": self.ids.take("loyalty_loyaltyaccount", n), "website_id": tr["web"],
            "user_id": ids, "points_balance": np.zeros(n, np.int64),
            "lifetime_points": np.zeros(n, np.int64), "tier": np.full(n, "bronze", object),
            "created_at": joined, "updated_at": joined,
        })
        r = np.flatnonzero(referrer != NULL)
        self.insert("referrals_referral", {
            "id": self.ids.take("referrals_referral", len(r)), "referrer_id": referrer[r],
            "referee_id": ids[r], "status": np.full(len(r), "pending", object),
            "bonus_amount": self.world.referral_bonus[tr["web"][r]],
            "rewarded_at": np.full(len(r), NULL), "created_at": joined[r],
            "updated_at": joined[r],
        })

    # -- orders -------------------------------------------------------------------------
    def existing_orders(self) -> dict:
        """Orders that may still change: in progress, or recent enough for a refund.

        An order finishes within hours and is refunded within 6 days of finishing, and an
        abandoned one is purged a day later, so every such order was touched (updated_at,
        indexed) in the last 8 days.
        """
        o = self.q(
            "SELECT id, website_id, user_id, created_at, payment_method, subtotal, total, "
            "channel FROM orders_order WHERE updated_at >= :since ORDER BY id",
            {"since": _dt(self.since)},
            ts=("created_at",), money=("subtotal", "total"))
        o["created"] = o.pop("created_at")
        o["web"] = o.pop("website_id")
        o["pos"] = self.pos_of.get_indexer(o["user_id"])
        o["method"] = np.array([lc_.METHODS.index(m) for m in o["payment_method"]],
                               dtype=np.int8) if len(o["id"]) else np.zeros(0, np.int8)
        o["lc"] = lc_.order_lifecycle(self.seed, o["id"], o["created"])
        o["pp"] = lc_.payment_plan(self.seed, o["id"], o["created"], o["method"], o["total"],
                                   self.world.unit[o["web"]], o["lc"])
        o["dp"] = lc_.delivery_plan(self.seed, o["id"], o["lc"])
        return o

    def new_orders(self, rng, users) -> dict:
        w = self.world
        o = en.sample_orders(w, rng, users, self.t0, self.t1)
        extra = self.campaign_orders(rng, users)
        o = en.concat([o, extra])
        o = en.take(o, np.argsort(o["created"], kind="stable"))
        # The app's clock (behind on a clock-step day), never before the customer signed up.
        o["created"] = np.maximum(o["created"] - self.step, users["joined"][o["pos"]])
        m = en.size(o)
        o["id"] = self.ids.take("orders_order", m)
        o["web"] = users["web"][o["pos"]]
        o["user_id"] = users["id"][o["pos"]]
        self.new_items = en.add_items(w, rng, o, o["web"])
        o["method"] = en.payment_methods(w, o["web"], users["pay_u"][o["pos"]], o["channel"],
                                         rng)
        o["lc"] = lc_.order_lifecycle(self.seed, o["id"], o["created"])
        o["discount_type"] = np.full(m, -1, dtype=np.int8)
        o["discount"] = np.zeros(m, dtype=np.int64)
        o["points_used"] = np.zeros(m, dtype=np.int64)
        self.discounts(o)
        return o

    def campaign_orders(self, rng, users) -> dict:
        r = self.q(
            "SELECT r.user_id, r.variant, r.sent_at, c.id AS campaign_id, c.start_date, "
            "c.end_date FROM campaigns_campaignrecipient r JOIN campaigns_campaign c "
            "ON c.id = r.campaign_id WHERE c.end_date > :t0 ORDER BY r.id",
            {"t0": _dt(self.t0)}, ts=("sent_at", "start_date", "end_date"))
        empty = {"pos": np.zeros(0, np.int64), "created": np.zeros(0, np.int64),
                 "channel": np.zeros(0, np.int8), "campaign_id": np.zeros(0, np.int64)}
        if not len(r["user_id"]):
            return empty
        pos = self.pos_of.get_indexer(r["user_id"])
        lo = np.maximum(r["sent_at"], self.t0)
        hi = np.minimum(r["end_date"], self.t1)
        ok = (pos >= 0) & (hi > lo)
        ok[ok] &= users["life_end"][pos[ok]] > lo[ok]
        variant = np.array([enums.CAMPAIGN_VARIANTS.index(v) for v in r["variant"]])
        rate = np.array([0.55, 0.4, 0.08])[variant]
        frac = np.clip((hi - lo) / np.maximum(r["end_date"] - r["start_date"], 1), 0, 1)
        count = np.where(ok, rng.poisson(rate * frac), 0)
        idx = np.repeat(np.arange(len(pos)), count)
        t = lo[idx] + (rng.random(len(idx)) * (hi - lo)[idx]).astype(np.int64)
        t = en.shape_times(self.world, rng, t, users["web"][pos[idx]])
        ok = (t >= lo[idx]) & (t < hi[idx])
        idx, t = idx[ok], t[ok]
        return {"pos": pos[idx], "created": t, "channel": np.zeros(len(idx), np.int8),
                "campaign_id": r["campaign_id"][idx]}

    def discounts(self, o: dict) -> None:
        w = self.world
        unit = w.unit[o["web"]]
        sub = o["subtotal"]
        if (o["campaign_id"] != NULL).any():
            c = self.q("SELECT id, discount_type, discount_value FROM campaigns_campaign "
                       "WHERE id IN :ids", {"ids": _ids_param(np.unique(o["campaign_id"]))},
                       money=("discount_value",))
            ix = pd.Index(c["id"]).get_indexer(o["campaign_id"])
            has = ix >= 0
            percent = c["discount_type"][np.maximum(ix, 0)] == "percent"
            value = c["discount_value"][np.maximum(ix, 0)]
            amount = np.where(percent, en.discount_amount(sub, value // 100, unit), value)
            en.apply_discount(o, has, en.D_CAMPAIGN, amount)
        v = self.q("SELECT user_id, tier_level, upgraded_at, expires_at FROM vip_viptier",
                   ts=("upgraded_at", "expires_at"))
        if len(v["user_id"]):
            ix = pd.Index(v["user_id"]).get_indexer(o["user_id"])
            j = np.maximum(ix, 0)
            held = ((ix >= 0) & (v["upgraded_at"][j] <= o["created"])
                    & ((v["expires_at"][j] == NULL) | (o["created"] < v["expires_at"][j])))
            tier = np.array([enums.VIP_TIERS.index(x) for x in v["tier_level"]])[j]
            en.apply_discount(o, held, en.D_VIP,
                              en.discount_amount(sub, np.array([5, 10, 15])[tier], unit))
        subs = self.open_subscriptions()
        if len(subs["id"]):
            last = pd.Series(np.arange(len(subs["id"])), index=subs["user_id"])
            last = last[~last.index.duplicated(keep="last")]
            j = last.reindex(o["user_id"]).to_numpy()
            has = ~np.isnan(j)
            jj = np.where(has, j, 0).astype(np.int64)
            sp = subs["sp"]
            t = o["created"]
            active = has & (sp["started"][jj] <= t) & (t < sp["end"][jj]) & ~(
                (sp["pause_at"][jj] <= t) & (t < sp["pause_end"][jj]))
            en.apply_discount(o, active, en.D_SUBSCRIPTION,
                              en.discount_amount(sub, np.full(len(unit), 10), unit))
        # A referred customer's very first order.
        ref = self.q(
            "SELECT r.referee_id FROM referrals_referral r WHERE r.status = 'pending' AND NOT "
            "EXISTS (SELECT 1 FROM orders_order o WHERE o.user_id = r.referee_id)")
        if len(ref["referee_id"]):
            first = np.zeros(len(o["id"]), dtype=bool)
            if len(o["id"]):
                _, where = np.unique(o["pos"], return_index=True)
                first[where] = True
            mask = first & np.isin(o["user_id"], ref["referee_id"])
            en.apply_discount(o, mask, en.D_REFERRAL, np.minimum(
                w.referral_bonus[o["web"]] // 2, sub // 2 // unit * unit))

    def write_new_orders(self, o: dict, users) -> None:
        w = self.world
        m = en.size(o)
        self.insert("orders_order", em.order_rows(w, o, o["web"], o["user_id"], self.t1))
        self.insert("orders_orderitem", em.item_rows(
            self.new_items, o["id"], o["created"],
            self.ids.take("orders_orderitem", en.size(self.new_items))))
        rows, p1, p2 = em.order_payment_rows(w, self.ids, o, o["web"], o["user_id"], self.t1,
                                             np.full(m, NULL))
        self.insert("payments_payment", rows)
        pay = np.where(p2 != NULL, p2, p1)
        self.insert("payments_refund", em.refund_rows(self.ids, o, pay, self.t1, NULL))
        self.insert("delivery_delivery", em.delivery_rows(self.ids, o, self.t1, NULL))

    def write_existing_orders(self, o: dict) -> None:
        if not len(o["id"]):
            return
        t0, t1 = self.t0, self.t1
        old, new = em.order_state(o, t0), em.order_state(o, t1)
        changed = np.flatnonzero(new["updated_at"] != old["updated_at"])
        self.update("orders_order", {
            "id": o["id"][changed],
            "status": en.labels(new["status"][changed], lc_.ORDER_STATUSES),
            "payment_status": en.labels(new["payment_status"][changed], lc_.PAY_STATUSES),
            "delivered_at": new["delivered_at"][changed],
            "cancelled_at": new["cancelled_at"][changed],
            "confirmed_at": new["confirmed_at"][changed],
            "prepared_at": new["prepared_at"][changed],
            "updated_at": new["updated_at"][changed],
        })
        # Payments: attempts already written move on; attempts due now are written.
        p = self.q("SELECT id, order_id FROM payments_payment WHERE updated_at >= :since "
                   "AND order_id IS NOT NULL ORDER BY id", {"since": _dt(self.since)})
        ix = pd.Index(o["id"]).get_indexer(p["order_id"])
        p = {k: v[ix >= 0] for k, v in p.items()}
        ix = ix[ix >= 0]
        first_seen = np.r_[True, p["order_id"][1:] != p["order_id"][:-1]] if len(ix) else \
            np.zeros(0, bool)
        p1 = np.full(len(o["id"]), NULL, dtype=np.int64)
        p2 = np.full(len(o["id"]), NULL, dtype=np.int64)
        p1[ix[first_seen]] = p["id"][first_seen]
        p2[ix[~first_seen]] = p["id"][~first_seen]
        updates = []
        for attempt, pid in ((1, p1), (2, p2)):
            has = np.flatnonzero(pid != NULL)
            sub = em.take_pp(o, has)
            a, b = em.attempt_state(sub, t0, attempt), em.attempt_state(sub, t1, attempt)
            ch = np.flatnonzero((a["updated_at"] != b["updated_at"]) | (a["status"] != b["status"]))
            updates.append({
                "id": pid[has][ch],
                "status": en.labels(b["status"][ch], lc_.PAY_STATUSES),
                "updated_at": b["updated_at"][ch], "completed_at": b["completed_at"][ch],
            })
        self.update("payments_payment", en.concat(updates))
        lo = np.full(len(o["id"]), t0, dtype=np.int64)
        rows, n1, n2 = em.order_payment_rows(self.world, self.ids, o, o["web"], o["user_id"],
                                             t1, lo)
        self.insert("payments_payment", rows)
        p1 = np.where(n1 != NULL, n1, p1)
        p2 = np.where(n2 != NULL, n2, p2)
        pay = np.where(p2 != NULL, p2, p1)
        self.insert("payments_refund", em.refund_rows(self.ids, o, pay, t1, t0))
        # Deliveries.
        d = self.q("SELECT id, order_id FROM delivery_delivery WHERE updated_at >= :since",
                   {"since": _dt(self.since)})
        j = pd.Index(o["id"]).get_indexer(d["order_id"])
        d = {k: v[j >= 0] for k, v in d.items()}
        j = j[j >= 0]
        if len(d["id"]):
            sub_dp = {k: v[j] for k, v in o["dp"].items()}
            sub_lc = {k: v[j] for k, v in o["lc"].items()}
            s0, c0 = lc_.delivery_status_at(sub_dp, sub_lc, t0)
            s1, c1 = lc_.delivery_status_at(sub_dp, sub_lc, t1)
            ch = np.flatnonzero(c0 != c1)
            self.update("delivery_delivery", {
                "id": d["id"][ch],
                "status": en.labels(s1[ch], lc_.DELIVERY_STATUSES),
                "picked_up_at": np.where(sub_lc["out_for_delivery"][ch] <= t1,
                                         sub_lc["out_for_delivery"][ch], NULL),
                "delivered_at": np.where(s1[ch] == 2, sub_dp["finished"][ch], NULL),
                "updated_at": c1[ch],
            })
        self.insert("delivery_delivery", em.delivery_rows(self.ids, o, t1, t0))

    # -- referrals, campaigns, loyalty ----------------------------------------------------
    def referrals(self, existing: dict, new: dict, users) -> dict:
        r = self.q("SELECT id, referrer_id, referee_id, status FROM referrals_referral "
                   "WHERE status IN ('pending', 'qualified') ORDER BY id")
        if not len(r["id"]):
            return {}
        first = en.concat([self.q(
            "SELECT user_id, MIN(delivered_at) AS first_at FROM orders_order WHERE "
            "delivered_at IS NOT NULL AND user_id IN :ids GROUP BY user_id",
            {"ids": part}, ts=("first_at",)) for part in _parts(_ids_param(r["referee_id"]))])
        best = pd.Series(FAR, index=pd.Index(np.unique(r["referee_id"])), dtype=np.int64)
        for uid, t in ((first["user_id"], first["first_at"]),
                       (existing["user_id"], existing["lc"]["delivered"]),
                       (new["user_id"], new["lc"]["delivered"])):
            if len(uid):
                s_ = pd.Series(np.where(t <= self.t1, t, FAR), index=uid).groupby(level=0).min()
                s_ = s_.reindex(best.index).fillna(FAR).astype(np.int64)
                best = np.minimum(best, s_)
        qualified = best.reindex(r["referee_id"]).to_numpy()
        rewarded = np.where(qualified < FAR,
                            qualified + lc_.referral_reward_delay(self.seed, r["id"]), FAR)
        status = np.where(rewarded <= self.t1, 2, np.where(qualified <= self.t1, 1, 0))
        old = np.array([enums.REFERRAL_STATUSES.index(x) for x in r["status"]])
        ch = np.flatnonzero(status != old)
        self.update("referrals_referral", {
            "id": r["id"][ch], "status": en.labels(status[ch], enums.REFERRAL_STATUSES),
            "rewarded_at": np.where(status[ch] == 2, rewarded[ch], NULL),
            "updated_at": np.where(status[ch] == 2, rewarded[ch], qualified[ch]),
        })
        got = ch[status[ch] == 2]
        pos = self.pos_of.get_indexer(r["referrer_id"][got])
        ok = pos >= 0
        return en.ledger(pos[ok], rewarded[got][ok], np.full(ok.sum(), en.REFERRAL_BONUS_POINTS),
                         en.L_BONUS, en.SRC_REFERRAL)

    def recipients(self, rng, users) -> dict:
        """Campaigns that start today get their recipients; statuses move on; a new
        campaign is planned when a website has none coming up."""
        c = self.q("SELECT id, website_id, status, start_date, end_date FROM "
                   "campaigns_campaign ORDER BY id", ts=("start_date", "end_date"))
        paused = c["status"] == "paused"
        s0 = np.array([lc_.CAMPAIGN_STATUSES.index(x) for x in c["status"]])
        s1, changed = lc_.campaign_status_at(c["start_date"], c["end_date"], paused, self.t1)
        ch = np.flatnonzero(s0 != s1)
        self.update("campaigns_campaign", {
            "id": c["id"][ch], "status": en.labels(s1[ch], lc_.CAMPAIGN_STATUSES),
            "updated_at": np.maximum(changed[ch], self.t0 + 1),
        })
        self.engagement(c)
        bonus = []
        rows = []
        for i in np.flatnonzero((c["start_date"] > self.t0) & (c["start_date"] <= self.t1)):
            eligible = np.flatnonzero((users["web"] == c["website_id"][i])
                                      & (users["joined"] < c["start_date"][i])
                                      & (users["life_end"] > c["start_date"][i])
                                      & (users["lam"] > 0))
            chosen = eligible[rng.random(len(eligible)) < 0.3]
            k = len(chosen)
            variant = np.searchsorted(np.array([0.4, 0.8]), rng.random(k), side="right")
            sent = np.minimum(c["start_date"][i] + (rng.uniform(0, 6, k) * HOUR).astype(np.int64),
                              self.t1) - self.step
            rows.append(em.recipient_rows(
                self.seed, self.ids.take("campaigns_campaignrecipient", k),
                np.full(k, c["id"][i]), users["id"][chosen], variant, sent, self.t1))
            b = variant == 1
            bonus.append(en.ledger(chosen[b], sent[b], np.full(b.sum(), en.CAMPAIGN_BONUS_POINTS),
                                   en.L_BONUS, en.SRC_CAMPAIGN))
        self.insert("campaigns_campaignrecipient", en.concat(rows))
        for web in catalog.WEBSITES:
            coming = (c["website_id"] == web.id) & (c["start_date"] > self.t1)
            if not coming.any():
                self.plan_campaign(rng, web.id)
        return en.concat(bonus)

    def plan_campaign(self, rng, web: int) -> None:
        start = self.t1 + int(rng.uniform(7, 14) * DAY)
        end = start + int(rng.integers(7, 22)) * DAY
        percent = rng.random() < 0.7
        value = int(rng.choice([10, 15, 20, 25])) * 100 if percent else (
            5000_00 if web == 1 else 1000_00)
        cid = self.ids.take("campaigns_campaign", 1)
        created = self.t0 + int(rng.random() * DAY) - self.step
        themes = catalog.CAMPAIGN_THEMES
        self.insert("campaigns_campaign", {
            "id": cid, "website_id": [web], "name": [f"{themes[cid[0] % len(themes)]} {cid[0]}"],
            "description": [f"{value // 100}% off" if percent else f"{value // 100} off"],
            "discount_type": ["percent" if percent else "fixed"], "discount_value": [value],
            "status": ["draft"], "start_date": [start], "end_date": [end],
            "target_audience": ["all customers"],
            "budget": [int(rng.integers(50, 500)) * 10_000_00],
            "created_at": [created], "updated_at": [created],
        })

    def loyalty(self, rng, users, entries: dict, new: dict) -> None:
        n = len(users["id"])
        a = self.q("SELECT a.id, a.user_id, a.points_balance, a.lifetime_points, "
                   "a.created_at, a.updated_at FROM loyalty_loyaltyaccount a ORDER BY a.id",
                   ts=("created_at", "updated_at"))
        apos = self.pos_of.get_indexer(a["user_id"])
        account_id = np.full(n, NULL, dtype=np.int64)
        balance = np.zeros(n, dtype=np.int64)
        lifetime = np.zeros(n, dtype=np.int64)
        updated = np.zeros(n, dtype=np.int64)
        ok = apos >= 0
        account_id[apos[ok]] = a["id"][ok]
        balance[apos[ok]] = a["points_balance"][ok]
        lifetime[apos[ok]] = a["lifetime_points"][ok]
        updated[apos[ok]] = a["updated_at"][ok]
        # An account's updated_at is its last ledger entry (or its creation, when it has
        # none, and then its balance is 0 and nothing can expire).
        last_ts = np.where(balance > 0, updated, NULL)
        entries = en.take(entries, np.flatnonzero(account_id[entries["pos"]] != NULL))
        more, red = en.loyalty_window(self.world, rng, self.ids, web=users["web"],
                                      balance=balance, last_ts=last_ts, entries=entries,
                                      orders=new, ws=self.t0, we=self.t1, now=self.t1)
        entries = en.concat([entries, more]) if en.size(more) else entries
        # Written after the day's orders, which redemptions and entries point at.
        if red:
            self.later.append(("insert", "loyalty_redemption",
                               em.redemption_rows(red, account_id)))
        self.later.append(("insert", "loyalty_loyaltytransaction",
                           em.ledger_rows(self.ids, entries, account_id)))
        touched = np.unique(entries["pos"])
        if not len(touched):
            return
        pts = entries["points"]
        delta = np.bincount(entries["pos"], weights=pts, minlength=n).astype(np.int64)
        gained = np.bincount(entries["pos"], weights=np.maximum(pts, 0),
                             minlength=n).astype(np.int64)
        newest = updated.copy()
        np.maximum.at(newest, entries["pos"], entries["ts"])
        life = lifetime[touched] + gained[touched]
        self.later.append(("update", "loyalty_loyaltyaccount", {
            "id": account_id[touched], "points_balance": balance[touched] + delta[touched],
            "lifetime_points": life, "tier": en.loyalty_tier(life),
            "updated_at": newest[touched],
        }))

    # -- subscriptions and VIP ---------------------------------------------------------------
    def open_subscriptions(self) -> dict:
        subs = self.q(
            "SELECT s.id, s.user_id, s.plan_id, s.status, s.started_at, s.current_period_end "
            "FROM subscriptions_subscription s WHERE s.status IN ('ACTIVE', 'PAUSED') "
            "ORDER BY s.id", ts=("started_at", "current_period_end"))
        plan = pd.Index(self.world.plan_id).get_indexer(subs["plan_id"])
        subs["plan"] = plan
        subs["sp"] = lc_.subscription_plan(self.seed, subs["id"], subs["started_at"],
                                           self.world.plan_period[plan])
        return subs

    def subscriptions(self, rng, users) -> None:
        subs = self.open_subscriptions()
        a = lc_.subscription_state_at(subs["sp"], self.t0)
        b = lc_.subscription_state_at(subs["sp"], self.t1)
        ch = np.flatnonzero(a["updated_at"] != b["updated_at"])
        self.update("subscriptions_subscription", {
            "id": subs["id"][ch], "status": en.labels(b["status"][ch], lc_.SUB_STATUSES),
            "current_period_end": b["current_period_end"][ch],
            "cancelled_at": b["cancelled_at"][ch], "updated_at": b["updated_at"][ch],
        })
        pos = self.pos_of.get_indexer(subs["user_id"])
        self.charge(rng, subs, pos, self.t0, self.t1, users)
        # New subscribers: keen customers who do not have one running.
        busy = np.zeros(len(users["id"]), dtype=bool)
        busy[pos[pos >= 0]] = True
        p = np.clip(0.0004 + 0.002 * users["lam"], 0, 0.01)
        takes = ~busy & (users["lam"] > 0) & (rng.random(len(p)) < p) & (
            users["life_end"] > self.t0)
        np_ = np.flatnonzero(takes)
        if not len(np_):
            return
        started = np.sort(np.maximum(users["joined"][np_], self.t0)
                          + (rng.random(len(np_)) * DAY / 2).astype(np.int64)) - self.step
        plan = np.empty(len(np_), dtype=np.int64)
        for web_id in (1, 2):
            sel = users["web"][np_] == web_id
            choices = np.flatnonzero(self.world.plan_web == web_id)
            plan[sel] = choices[rng.integers(0, len(choices), sel.sum())]
        ids = self.ids.take("subscriptions_subscription", len(np_))
        sp = lc_.subscription_plan(self.seed, ids, started, self.world.plan_period[plan])
        st = lc_.subscription_state_at(sp, self.t1)
        self.insert("subscriptions_subscription", {
            "id": ids, "user_id": users["id"][np_], "plan_id": self.world.plan_id[plan],
            "status": en.labels(st["status"], lc_.SUB_STATUSES), "started_at": started,
            "current_period_end": st["current_period_end"], "cancelled_at": st["cancelled_at"],
            "created_at": started, "updated_at": st["updated_at"],
        })
        self.charge(rng, {"id": ids, "plan": plan, "sp": sp}, np_, self.t0 - self.step, self.t1,
                    users)

    def charge(self, rng, subs, pos, lo, hi, users) -> None:
        i, t = lc_.subscription_charges(subs["sp"], lo, hi)
        keep = pos[i] >= 0
        i, t = i[keep], t[keep]
        if not len(i):
            return
        p = pos[i]
        web = users["web"][p]
        method = np.where(web == 2, lc_.M_BANK, np.where(users["pay_u"][p] < 0.6, lc_.M_MTN,
                                                         lc_.M_AIRTEL))
        self.insert("payments_payment", em.side_payments(
            self.seed, self.ids, rng, "subscription", web, users["id"][p], subs["id"][i],
            method, self.world.plan_price[subs["plan"][i]], t, self.t1))

    def vip(self, rng, users) -> None:
        v = self.q("SELECT id, user_id, tier_level, upgraded_at, expires_at FROM vip_viptier",
                   ts=("upgraded_at", "expires_at"))
        n = len(users["id"])
        cur = np.full(n, -1, dtype=np.int64)
        row = np.full(n, NULL, dtype=np.int64)
        vp = self.pos_of.get_indexer(v["user_id"])
        ok = vp >= 0
        valid = (v["expires_at"] == NULL) | (v["expires_at"] > self.t0)
        tiers = np.array([enums.VIP_TIERS.index(x) for x in v["tier_level"]], dtype=np.int64)
        cur[vp[ok]] = np.where(valid[ok], tiers[ok], -1)
        row[vp[ok]] = v["id"][ok]
        p = np.clip(0.0006 * users["lam"] / en.BASE_RATE, 0, 0.01)
        buys = (rng.random(n) < p) & (cur < 2) & (users["lam"] > 0) & (users["joined"] < self.t0)
        b = np.flatnonzero(buys)
        if not len(b):
            return
        when = np.sort(self.t0 + (rng.random(len(b)) * DAY).astype(np.int64)) - self.step
        to_tier = cur[b] + 1
        web = users["web"][b]
        prices = np.array([[catalog.VIP_PRICES[wid][x] for x in enums.VIP_TIERS]
                           for wid in (1, 1, 2)])
        price = prices[web, to_tier]
        ids = self.ids.take("vip_vipupgrade", len(b))
        self.insert("vip_vipupgrade", {
            "id": ids, "user_id": users["id"][b], "from_tier": en.labels(cur[b], enums.VIP_TIERS),
            "to_tier": en.labels(to_tier, enums.VIP_TIERS), "price": price, "created_at": when,
        })
        method = np.where(web == 2, lc_.M_BANK, lc_.M_MTN)
        self.insert("payments_payment", em.side_payments(
            self.seed, self.ids, rng, "vip_upgrade", web, users["id"][b], ids, method, price,
            when, self.t1))
        expires = when + catalog.VIP_TERM_DAYS * DAY
        upd = row[b] != NULL
        self.update("vip_viptier", {
            "id": row[b][upd], "tier_level": en.labels(to_tier[upd], enums.VIP_TIERS),
            "discount_percent": np.array([500, 1000, 1500])[to_tier[upd]],
            "upgraded_at": when[upd], "expires_at": expires[upd], "updated_at": when[upd],
        })
        ins = ~upd
        self.insert("vip_viptier", {
            "id": self.ids.take("vip_viptier", int(ins.sum())), "user_id": users["id"][b][ins],
            "tier_level": en.labels(to_tier[ins], enums.VIP_TIERS),
            "discount_percent": np.array([500, 1000, 1500])[to_tier[ins]],
            "upgraded_at": when[ins], "expires_at": expires[ins], "created_at": when[ins],
            "updated_at": when[ins],
        })

    # -- tickets, consultations, bookings, late payments ---------------------------------------
    def side_tables(self, rng, users) -> None:
        t0, t1 = self.t0, self.t1
        tk = self.q("SELECT id, created_at, status FROM support_ticket WHERE status <> "
                    "'closed' ORDER BY id", ts=("created_at",))
        tp = lc_.ticket_plan(self.seed, tk["id"], tk["created_at"])
        a = lc_.ticket_state_at(tp, tk["created_at"], t0)
        b = lc_.ticket_state_at(tp, tk["created_at"], t1)
        ch = np.flatnonzero(a["updated_at"] != b["updated_at"])
        # The first answer assigns the agent; later changes leave whoever holds it.
        answered = (a["first_response_at"] == NULL) & (b["first_response_at"] != NULL)
        for part, extra in ((ch[answered[ch]], ("assigned_agent",)), (ch[~answered[ch]], ())):
            self.update("support_ticket", {
                "id": tk["id"][part], "status": en.labels(b["status"][part], lc_.TICKET_STATUSES),
                "first_response_at": b["first_response_at"][part],
                "resolved_at": b["resolved_at"][part], "updated_at": b["updated_at"][part],
                **{k: b[k][part] for k in extra},
            })
        active = np.flatnonzero((users["lam"] > 0) & (users["life_end"] > t0))
        k = rng.poisson(0.0035 * len(active))
        who = np.sort(active[rng.integers(0, max(len(active), 1), k)]) if len(active) else []
        created = np.sort(t0 + (rng.random(k) * DAY).astype(np.int64)) - self.step
        tid = self.ids.take("support_ticket", k)
        tp = lc_.ticket_plan(self.seed, tid, created)
        st = lc_.ticket_state_at(tp, created, t1)
        cats = np.array(catalog.TICKET_CATEGORIES, dtype=object)
        who = np.asarray(who, dtype=np.int64)
        self.insert("support_ticket", {
            "id": tid, "website_id": users["web"][who], "user_id": users["id"][who],
            "category": cats[rng.integers(0, len(cats), k)],
            "priority": en.labels(tp["priority"], lc_.TICKET_PRIORITIES),
            "status": en.labels(st["status"], lc_.TICKET_STATUSES), "created_at": created,
            "first_response_at": st["first_response_at"], "resolved_at": st["resolved_at"],
            "updated_at": st["updated_at"], "assigned_agent": st["assigned_agent"],
        })
        # Consultations that were booked happen (or not).
        c = self.q("SELECT id, created_at, scheduled_at FROM nutrition_consultation WHERE "
                   "status = 'booked' ORDER BY id", ts=("created_at", "scheduled_at"))
        a = lc_.consultation_state_at(self.seed, c["id"], c["created_at"], c["scheduled_at"], t0)
        b = lc_.consultation_state_at(self.seed, c["id"], c["created_at"], c["scheduled_at"], t1)
        ch = np.flatnonzero(a["status"] != b["status"])
        self.update("nutrition_consultation", {
            "id": c["id"][ch], "status": en.labels(b["status"][ch], lc_.CONSULTATION_STATUSES),
            "updated_at": b["updated_at"][ch],
        })
        k = rng.poisson(0.0007 * len(active))
        who = active[rng.integers(0, max(len(active), 1), k)] if len(active) else np.zeros(0, int)
        created = np.sort(t0 + (rng.random(k) * DAY).astype(np.int64)) - self.step
        off = self.world.offset[users["web"][who]]
        day = (created + off) // DAY + rng.integers(1, 15, k)
        scheduled = day * DAY + rng.integers(9, 17, k) * HOUR - off
        cid = self.ids.take("nutrition_consultation", k)
        st = lc_.consultation_state_at(self.seed, cid, created, scheduled, t1)
        names = np.array(catalog.NUTRITIONISTS, dtype=object)
        self.insert("nutrition_consultation", {
            "id": cid, "website_id": users["web"][who], "user_id": users["id"][who],
            "nutritionist_name": names[cid % len(names)], "scheduled_at": scheduled,
            "status": en.labels(st["status"], lc_.CONSULTATION_STATUSES),
            "fee": np.where(users["web"][who] == 1, 50_000_00, 15_000_00),
            "created_at": created, "updated_at": st["updated_at"],
        })
        # Catering bookings move on; a confirmation is paid for.
        bk = self.q("SELECT id, website_id, user_id, created_at, event_date, amount FROM "
                    "catering_booking WHERE status IN ('requested', 'confirmed') ORDER BY id",
                    ts=("created_at",), money=("amount",))
        if len(bk["id"]):
            event_day = np.array([dt.date.fromisoformat(str(x)[:10]).toordinal()
                                  - dt.date(1970, 1, 1).toordinal() for x in bk["event_date"]])
            off = self.world.offset[bk["website_id"]]
            bp = lc_.booking_plan(self.seed, bk["id"], bk["created_at"], event_day, off)
            a = lc_.booking_state_at(bp, bk["created_at"], t0)
            b = lc_.booking_state_at(bp, bk["created_at"], t1)
            ch = np.flatnonzero(a["status"] != b["status"])
            self.update("catering_booking", {
                "id": bk["id"][ch], "status": en.labels(b["status"][ch], lc_.BOOKING_STATUSES),
                "updated_at": b["updated_at"][ch],
            })
            paid = np.flatnonzero((bp["confirm_at"] > t0) & (bp["confirm_at"] <= t1))
            if len(paid):
                self.insert("payments_payment", em.side_payments(
                    self.seed, self.ids, rng, "catering", bk["website_id"][paid],
                    bk["user_id"][paid], bk["id"][paid], np.full(len(paid), lc_.M_BANK),
                    bk["amount"][paid], bp["confirm_at"][paid], t1))

    def contracts(self, rng, users) -> None:
        """Corporate contracts end on their end date and bill each cycle by bank transfer."""
        c = self.q("SELECT id, website_id, contract_value, billing_cycle, start_date, "
                   "end_date, status FROM corporate_contract WHERE status = 'active' "
                   "ORDER BY id", money=("contract_value",))
        if not len(c["id"]):
            return
        epoch = dt.date(1970, 1, 1).toordinal()
        start = np.array([dt.date.fromisoformat(str(x)[:10]).toordinal() - epoch
                          for x in c["start_date"]], dtype=np.int64)
        end = np.array([dt.date.fromisoformat(str(x)[:10]).toordinal() - epoch
                        for x in c["end_date"]], dtype=np.int64)
        ended = end * DAY <= self.t1
        self.update("corporate_contract", {
            "id": c["id"][ended], "status": np.full(int(ended.sum()), "ended", object),
            "updated_at": np.maximum(end[ended] * DAY, self.t0 + 1),
        })
        cycle = np.where(c["billing_cycle"] == "quarterly", 90, 30)
        months = np.maximum((end - start) // 30, 1)
        amount = c["contract_value"] // np.where(cycle == 90, np.maximum(months // 3, 1), months)
        # Invoices fall at 09:00 UTC on start + k cycles; bill those due today.
        base = start * DAY + 9 * HOUR
        k = (self.t1 - base) // (cycle * DAY)
        due = base + k * cycle * DAY
        bill = np.flatnonzero((due > self.t0) & (due <= self.t1) & (due < end * DAY) & (k >= 0))
        if not len(bill):
            return
        payer = self.q("SELECT reference_id, user_id FROM payments_payment WHERE purpose = "
                       "'corporate' ORDER BY id")
        last = dict(zip(payer["reference_id"].tolist(), payer["user_id"].tolist(), strict=True))
        alive = set(users["id"].tolist())
        contact = np.array([
            last[i] if last.get(i) in alive
            else int(users["id"][users["web"] == w][0]) if (users["web"] == w).any()
            else int(users["id"][0])
            for i, w in zip(c["id"][bill].tolist(), c["website_id"][bill].tolist(), strict=True)
        ], dtype=np.int64)
        self.insert("payments_payment", em.side_payments(
            self.seed, self.ids, rng, "corporate", c["website_id"][bill], contact,
            c["id"][bill], np.full(len(bill), lc_.M_BANK), amount[bill], due[bill], self.t1))

    def late_payments(self) -> None:
        """Non-order payments left pending (a slow provider) complete 30 s after creation."""
        p = self.q("SELECT id, created_at FROM payments_payment WHERE updated_at >= :since "
                   "AND status = 'pending' AND order_id IS NULL ORDER BY id",
                   {"since": _dt(self.since)}, ts=("created_at",))
        done = np.maximum(p["created_at"] + 30 * 1_000_000, self.t0 + 1)
        swept = uniform(self.seed, S_SWEEP, p["id"]) < self.be.payment_sweep_share
        self.update("payments_payment", {
            "id": p["id"][~swept], "status": np.full(int((~swept).sum()), "completed", object),
            "completed_at": done[~swept], "updated_at": done[~swept],
        })
        self.update_quietly("payments_payment", {
            "id": p["id"][swept], "status": np.full(int(swept.sum()), "completed", object),
            "completed_at": done[swept],
        })

    # -- hard deletes ------------------------------------------------------------------------
    def deletes(self, rng, users) -> None:
        """Abandoned orders are purged a day later; a few customers erase their account."""
        o = self.q("SELECT id, created_at FROM orders_order WHERE updated_at >= :since AND "
                   "status = 'pending' ORDER BY id", {"since": _dt(self.since)},
                   ts=("created_at",))
        lc = lc_.order_lifecycle(self.seed, o["id"], o["created_at"])
        old = o["created_at"] < self.t1 - DAY
        gone = o["id"][(lc["outcome"] == lc_.O_ABANDONED) & old]
        delete_rows(self.conn, T["orders_order"], gone, now=self.t1, deleted=self.deleted,
                    untracked=self.untracked)
        k = rng.poisson(0.0001 * len(users["id"]))  # about 1.8% of customers a half-year
        if k and len(users["id"]):
            who = np.unique(users["id"][rng.integers(0, len(users["id"]), k)])
            delete_rows(self.conn, T["accounts_user"], who, now=self.t1, deleted=self.deleted,
                        untracked=self.untracked)

    # -- the app's other ways (module docstring) ----------------------------------------------
    def refresh_prices(self) -> None:
        """New orders are priced from the menu as it stands (a price may have changed)."""
        m = self.q("SELECT id, price FROM menu_meal ORDER BY id", money=("price",))
        price = dict(zip(m["id"].tolist(), m["price"].tolist(), strict=True))
        for web, ids in self.world.meal_id.items():
            self.world.meal_price[web] = np.array(
                [price.get(int(i), int(p)) for i, p in zip(ids, self.world.meal_price[web],
                                                          strict=True)], dtype=np.int64)

    def change_prices(self) -> None:
        """On some days 1-3 active meals of a website cost 5-15 % more (`bulk_update`)."""
        if uniform(self.seed, S_PRICE_DAY, [self.day_no])[0] >= self.be.price_change_day_share:
            return
        rng = self.qrng
        web = catalog.WEBSITES[int(rng.integers(0, len(catalog.WEBSITES)))]
        m = self.q("SELECT id, price FROM menu_meal WHERE website_id = :w AND is_active = :a "
                   "ORDER BY id", {"w": web.id, "a": True}, money=("price",))
        if not len(m["id"]):
            return
        pick = rng.choice(len(m["id"]), size=min(len(m["id"]), int(rng.integers(1, 4))),
                          replace=False)
        # Whole hundredths throughout: +5 to +15 %, rounded down to the website's unit, and
        # at least one unit more.
        raised = m["price"][pick] * (100 + rng.integers(5, 16, len(pick))) // 100
        price = np.maximum(raised // web.unit * web.unit, m["price"][pick] + web.unit)
        self.update_quietly("menu_meal", {"id": m["id"][pick], "price": price})

    def waive_fees(self, existing: dict, new: dict) -> None:
        """Support waives the delivery fee of a few orders delivered today, with an F()
        expression: delivery_fee 0, total − the fee (total = subtotal − discount + fee)."""
        ids = [o["id"][(o["lc"]["delivered"] > self.t0) & (o["lc"]["delivered"] <= self.t1)]
               for o in (existing, new) if len(o["id"])]
        ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        ids = ids[uniform(self.seed, S_FEE_WAIVE, ids) < self.be.fee_waiver_share]
        if not len(ids):
            return
        o = T["orders_order"]
        fee = self.q("SELECT id FROM orders_order WHERE id IN :ids AND delivery_fee > 0",
                     {"ids": _ids_param(ids)})["id"]
        self.quietly_where("orders_order", fee, total=o.c.total - o.c.delivery_fee,
                           delivery_fee=0)

    def engagement(self, campaigns: dict) -> None:
        """Recipients of recent campaigns open and click: through `save()`, or through the
        tracking endpoint's `update()` (a share of recipients, by id)."""
        recent = campaigns["id"][(campaigns["start_date"] > self.t0 - 5 * DAY)
                                 & (campaigns["start_date"] <= self.t0)]
        if not len(recent):
            return
        r = self.q("SELECT id, variant, sent_at FROM campaigns_campaignrecipient WHERE "
                   "campaign_id IN :ids ORDER BY id", {"ids": _ids_param(recent)},
                   ts=("sent_at",))
        variant = np.array([enums.CAMPAIGN_VARIANTS.index(v) for v in r["variant"]], np.int64)
        rp = lc_.recipient_plan(self.seed, r["id"], r["sent_at"], variant)
        a = lc_.recipient_state_at(rp, r["sent_at"], self.t0)
        b = lc_.recipient_state_at(rp, r["sent_at"], self.t1)
        ch = np.flatnonzero(a["updated_at"] != b["updated_at"])
        quiet = uniform(self.seed, S_TRACK, r["id"][ch]) < self.be.tracking_share
        for part, kind in ((ch[~quiet], "save"), (ch[quiet], "update")):
            rows = {"id": r["id"][part], "opened_at": b["opened_at"][part],
                    "clicked_at": b["clicked_at"][part]}
            if kind == "save":
                self.update("campaigns_campaignrecipient",
                            dict(rows, updated_at=b["updated_at"][part]))
            else:
                self.update_quietly("campaigns_campaignrecipient", rows)

    def reassign_tickets(self) -> None:
        """A supervisor hands a few answered open tickets to another agent, with
        `save(update_fields=["assigned_agent"])`."""
        t = self.q("SELECT id, assigned_agent FROM support_ticket WHERE status = 'pending' "
                   "AND assigned_agent IS NOT NULL ORDER BY id")
        if not len(t["id"]):
            return
        moved = np.flatnonzero(self.qrng.random(len(t["id"])) < self.be.reassign_share)
        agents = list(catalog.SUPPORT_AGENTS)
        other = [agents[(agents.index(a) + 1 + int(k)) % len(agents)] if a in agents else agents[0]
                 for a, k in zip(t["assigned_agent"][moved],
                                 self.qrng.integers(0, len(agents) - 1, len(moved)), strict=True)]
        self.update_quietly("support_ticket", {"id": t["id"][moved],
                                               "assigned_agent": np.array(other, dtype=object)})

    def health_profiles(self, users: dict) -> None:
        """Customers fill in health profiles (seeds.lifecycle.health_plan), and change goal."""
        hp = lc_.health_plan(self.seed, users["id"], users["joined"])
        # Today's sign-ups (stamped up to a clock step before the day) fill theirs in too.
        fresh = np.isin(users["id"], self.new_user_ids)
        new = np.flatnonzero((hp["at"] <= self.t1) & ((hp["at"] > self.t0) | fresh))
        new = new[np.argsort(hp["at"][new], kind="stable")]
        sub = {k: v[new] for k, v in hp.items()}
        self.insert("health_healthprofile", em.health_rows(
            self.ids.take("health_healthprofile", len(new)), users["id"][new], sub, self.t1))
        moves = np.flatnonzero((hp["change_at"] > self.t0) & (hp["change_at"] <= self.t1)
                               & (hp["at"] <= self.t0))
        if not len(moves):
            return
        prof = self.q("SELECT id, user_id FROM health_healthprofile WHERE user_id IN :ids",
                      {"ids": _ids_param(users["id"][moves])})
        at = pd.Index(users["id"]).get_indexer(prof["user_id"])
        st = lc_.health_state_at({k: v[at] for k, v in hp.items()}, self.t1)
        self.update("health_healthprofile", {
            "id": prof["id"], "dietary_goal": en.labels(st["goal"], lc_.DIETARY_GOALS),
            "daily_calorie_target": st["kcal"], "updated_at": st["updated_at"],
        })

    def bulk_cancel(self) -> None:
        """The nightly admin sweep (20:00 UTC) cancels a share of the stale abandoned orders
        with `update()`, and fails their pending payments the same way."""
        sweep = self.t1 - HOUR
        o = self.q("SELECT id, created_at FROM orders_order WHERE updated_at >= :since AND "
                   "status = 'pending' ORDER BY id", {"since": _dt(self.since)},
                   ts=("created_at",))
        lc = lc_.order_lifecycle(self.seed, o["id"], o["created_at"])
        stale = (lc["outcome"] == lc_.O_ABANDONED) & (o["created_at"] < sweep - 2 * HOUR)
        ids = o["id"][stale & (uniform(self.seed, S_BULK_CANCEL, o["id"])
                               < self.be.bulk_cancel_share)]
        if not len(ids):
            return
        self.quietly_where("orders_order", ids, status="cancelled", payment_status="failed",
                           cancelled_at=_dt(sweep - self.step))
        pay = self.q("SELECT id FROM payments_payment WHERE order_id IN :ids AND status = "
                     "'pending'", {"ids": _ids_param(ids)})["id"]
        self.quietly_where("payments_payment", pay, status="failed")

    def purge_campaign(self) -> None:
        """Now and then an admin deletes the oldest campaign that ended 90 days ago: its
        recipients go (CASCADE), its orders keep their rows with campaign_id NULL."""
        if uniform(self.seed, S_PURGE_DAY, [self.day_no])[0] >= self.be.campaign_purge_day_share:
            return
        c = self.q("SELECT id FROM campaigns_campaign WHERE end_date < :old ORDER BY end_date, "
                   "id", {"old": _dt(self.t1 - 90 * DAY)})
        if len(c["id"]):
            delete_rows(self.conn, T["campaigns_campaign"], c["id"][:1], now=self.t1,
                        deleted=self.deleted, untracked=self.untracked)
