"""The deterministic demo generator: a whole operational database from a seed.

The business opens on `start` and runs `days` days: customers sign up over the period
(more and more of them), order at their own heavy-tailed rates at lunch and dinner in
their website's time zone, pay (some attempts fail and are retried), get refunds, earn and
redeem loyalty points, buy VIP tiers, subscribe, refer friends, answer campaigns, book
caterers and nutritionists and open support tickets. Every row is written as it stands at
the end of the period, so orders placed in the last hour are still in progress.

Customers are generated in chunks of at most CHUNK (their rows depend only on the seed
and the chunk), so memory stays bounded at any size, and each table is written in bulk.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from models import enums, metadata
from seeds import catalog
from seeds import emit as em
from seeds import engine as en
from seeds import lifecycle as lc_
from seeds.db import make_engine, mask_url, nonempty_tables, one_line, seeds_simulation, write_state
from seeds.errors import SourceError
from seeds.lifecycle import DAY, FAR, HOUR
from seeds.progress import Progress, report
from seeds.summary import Summary
from seeds.writer import NULL, Writer, tune_sqlite_for_bulk_load

CHUNK = 10_000


def chunk_size(customers: int) -> int:
    """At most CHUNK customers at a time (memory), and about 20 chunks for a progress bar
    that moves, but not under 1,000 (per-chunk overhead)."""
    return min(CHUNK, max(1000, -(-customers // 20)))
T = metadata.tables


def to_us(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1_000_000


def utc_now() -> dt.datetime:
    """The clock the default `start` reads (a test freezes it)."""
    return dt.datetime.now(dt.UTC)


def latest_yesterday(now: dt.datetime | None = None) -> dt.date:
    """The latest of the websites' yesterdays (each in its own zone) at `now` (default: the
    clock): the day the marts' default `as_of` describes for the website furthest east.
    From 21:00 UTC on, Kampala's (UTC+3) yesterday is UTC's today."""
    now = now or utc_now()
    return max(now.astimezone(ZoneInfo(site.timezone)).date() for site in catalog.WEBSITES) - (
        dt.timedelta(days=1)
    )


def default_start(days: int, now: dt.datetime | None = None) -> dt.date:
    """The first business day when none is given: `days` days that end on the latest
    website's yesterday (`latest_yesterday`), so the default `as_of` of every website is a
    day the demo has complete data for, whatever the hour (the snapshot is taken at 21:00
    UTC of the last day: midnight in Kampala)."""
    return latest_yesterday(now) - dt.timedelta(days=days - 1)


def validate(customers: int, days: int, seed: int) -> None:
    for name, value, least in (("customers", customers, 1), ("days", days, 1), ("seed", seed, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise SourceError(f"{name} must be a whole number >= {least}, got {value!r}")


def generate(url: str, *, customers: int = 5000, days: int = 180, seed: int = 42,
             start: dt.date | None = None, force: bool = False,
             progress: bool = True) -> Summary:
    """Write the demo operational database at `url` (see the module docstring)."""
    validate(customers, days, seed)
    if start is None:
        start = default_start(days)
    if isinstance(start, dt.datetime):
        start = start.date()
    elif isinstance(start, str):
        try:
            start = dt.date.fromisoformat(start)
        except ValueError:
            raise SourceError(f"start must be a date (YYYY-MM-DD), got {start!r}") from None
    began = time.perf_counter()
    engine = make_engine(url, create=True)
    try:
        with engine.connect() as conn:
            full = nonempty_tables(conn)
        if full and not force:
            raise SourceError(
                f"{mask_url(url)} already holds data ({', '.join(full[:3])}"
                f"{', ...' if len(full) > 3 else ''}); use --force to replace it"
            )
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                tune_sqlite_for_bulk_load(conn)
                conn.commit()
            with conn.begin():
                _drop(conn)
                for table in metadata.sorted_tables:
                    conn.execute(sa.schema.CreateTable(table))
                writer = Writer(conn)
                gen = _Generator(writer, customers=customers, days=days, seed=seed, start=start)
                with Progress(progress, total=customers) as bar:
                    gen.run(bar)
                for table in metadata.sorted_tables:
                    for index in table.indexes:
                        index.create(conn)
                if conn.dialect.name == "postgresql":
                    sync_sequences(conn)
                write_state(conn, gen.state())
    except sa.exc.SQLAlchemyError as exc:
        # A database that fails mid-way (a file that is not a database, a full disk, a
        # server that went away): one line for the command line, the cause chained.
        raise SourceError(f"{mask_url(url)}: {one_line(exc)}") from exc
    finally:
        engine.dispose()
    summary = Summary(
        action="generate", rows=dict(writer.rows_written), updated={}, deleted={},
        seconds=time.perf_counter() - began, through=gen.end_date - dt.timedelta(days=1),
    )
    report(progress, str(summary))
    return summary


def _drop(conn: sa.Connection) -> None:
    seeds_simulation.drop(conn, checkfirst=True)
    metadata.drop_all(conn, checkfirst=True)


def sync_sequences(conn: sa.Connection) -> None:
    """Explicit ids leave PostgreSQL's sequences behind: move them past the data."""
    for table in metadata.sorted_tables:
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
            f'COALESCE((SELECT MAX(id) FROM "{table.name}"), 0) + 1, false)'
        )


class _Generator:
    def __init__(self, writer: Writer, *, customers: int, days: int, seed: int,
                 start: dt.date):
        self.w = writer
        self.n = customers
        self.days = days
        self.seed = seed
        self.start_date = start
        self.end_date = start + dt.timedelta(days=days)
        self.start = to_us(start)
        # The snapshot is taken at 21:00 UTC on the last day: midnight in Kampala, so its
        # last business day is complete, and 22:00 in Lagos, where the last dinners of the
        # day are still on their way.
        self.now = to_us(self.end_date) - 3 * HOUR
        self.world = en.World.build(seed)
        self.ids = en.Ids()
        self.rng = np.random.default_rng([seed, 0])

    def state(self) -> dict:
        return {
            "seed": self.seed, "start": self.start_date.isoformat(),
            "through": self.now, "customers": self.n, "days": self.days,
            "next_ids": self.ids.next, "version": 1,
        }

    def insert(self, name: str, rows: dict) -> None:
        self.w.insert(T[name], rows)

    # -- reference data ----------------------------------------------------------------
    def run(self, bar) -> None:
        self.reference()
        joined = self.joined = self.sign_ups()
        size = chunk_size(self.n)
        for c, first in enumerate(range(0, self.n, size)):
            ids = np.arange(first + 1, min(first + size, self.n) + 1, dtype=np.int64)
            self.chunk(c, ids, joined[ids - 1])
            bar.advance(len(ids))
        self.contracts()

    def reference(self) -> None:
        opened = self.start - 30 * DAY
        w = self.world
        webs = catalog.WEBSITES
        self.ids.take("accounts_website", len(webs))
        self.insert("accounts_website", {
            "id": [x.id for x in webs], "name": [x.name for x in webs],
            "domain": [x.domain for x in webs], "currency": [x.currency for x in webs],
            "timezone": [x.timezone for x in webs], "created_at": [opened] * len(webs),
            "updated_at": [opened] * len(webs),
        })
        meals = [(x.id, m) for x in webs for m in catalog.MEALS[x.id]]
        self.ids.take("menu_meal", len(meals))
        inactive = {"Goat stew", "Efo riro & semo"}
        self.insert("menu_meal", {
            "id": np.arange(1, len(meals) + 1), "website_id": [m[0] for m in meals],
            "name": [m[1][0] for m in meals], "category": [m[1][1] for m in meals],
            "price": [m[1][2] for m in meals],
            "is_active": [m[1][0] not in inactive for m in meals],
            "created_at": [opened] * len(meals),
            "updated_at": [opened + (DAY if m[1][0] in inactive else 0) for m in meals],
        })
        plans = [(x.id, p) for x in webs for p in catalog.PLANS[x.id]]
        self.ids.take("subscriptions_plan", len(plans))
        self.insert("subscriptions_plan", {
            "id": w.plan_id, "website_id": w.plan_web, "name": [p[1][0] for p in plans],
            "price": w.plan_price, "interval": [p[1][2] for p in plans],
            "meals_per_week": [p[1][3] for p in plans], "is_active": [True] * len(plans),
            "created_at": [opened] * len(plans), "updated_at": [opened] * len(plans),
        })
        rewards = [(x.id, r) for x in webs for r in catalog.REWARDS[x.id]]
        self.ids.take("loyalty_redemptionitem", len(rewards))
        self.insert("loyalty_redemptionitem", {
            "id": w.reward_id, "website_id": w.reward_web, "name": [r[1][0] for r in rewards],
            "category": [r[1][1] for r in rewards], "item_type": [r[1][2] for r in rewards],
            "points_required": w.reward_points, "value_amount": w.reward_value,
            "is_active": [True] * len(rewards), "created_at": [opened] * len(rewards),
            "updated_at": [opened] * len(rewards),
        })
        retired = [(x.id, r) for x in webs for r in catalog.RETIRED_REWARDS[x.id]]
        self.insert("loyalty_redemptionitem", {
            "id": self.ids.take("loyalty_redemptionitem", len(retired)),
            "website_id": [r[0] for r in retired], "name": [r[1][0] for r in retired],
            "category": [r[1][1] for r in retired], "item_type": [r[1][2] for r in retired],
            "points_required": [r[1][3] for r in retired],
            "value_amount": [r[1][4] for r in retired],
            "is_active": [False] * len(retired), "created_at": [opened] * len(retired),
            "updated_at": [opened + DAY] * len(retired),
        })
        self.campaigns()

    def campaigns(self) -> None:
        """A campaign every three weeks or so per website, some still to come (drafts)."""
        rng = np.random.default_rng([self.seed, 2])
        rows = []
        for web in catalog.WEBSITES:
            t = self.start + int(rng.uniform(3, 12) * DAY)
            while t < self.now + 30 * DAY:
                length = int(rng.integers(7, 22)) * DAY
                rows.append((web.id, t, t + length))
                t += int(rng.uniform(14, 28) * DAY)
        rows.sort(key=lambda r: r[1])
        n = len(rows)
        ids = self.ids.take("campaigns_campaign", n)
        web = np.array([r[0] for r in rows], dtype=np.int64)
        start = np.array([r[1] for r in rows], dtype=np.int64)
        end = np.array([r[2] for r in rows], dtype=np.int64)
        percent = rng.random(n) < 0.7
        value = np.where(percent, rng.choice([10, 15, 20, 25], n) * 100,
                         np.where(web == 1, rng.choice([3000, 5000], n) * 100,
                                  rng.choice([500, 1000], n) * 100))
        paused = rng.random(n) < 0.1
        status, changed = lc_.campaign_status_at(start, end, paused, self.now)
        # Planned days ahead, and never later than the snapshot (no row from the future).
        created = start - (rng.uniform(2, 10, n) * DAY).astype(np.int64)
        created = np.minimum(created, self.now - (rng.uniform(0.1, 2, n) * DAY).astype(np.int64))
        share = np.array([0, catalog.WEBSITES[0].share, catalog.WEBSITES[1].share])[web]
        avg_order = np.where(web == 1, 30_000_00, 7_000_00)
        expected_cost = self.n * share * 0.2 * 0.3 * avg_order * np.where(
            percent, value / 10000, 0.15)
        budget = np.round(expected_cost * rng.uniform(0.6, 1.6, n), -4).astype(np.int64)
        budget = np.where(rng.random(n) < 0.15, NULL, np.maximum(budget, 100_000_00))
        themes = np.array(catalog.CAMPAIGN_THEMES, dtype=object)
        audience = np.array(["all customers", "lapsed customers", "new customers",
                             "loyalty members"], dtype=object)
        self.campaign = {"id": ids, "web": web, "start": start, "end": end,
                         "percent": percent, "value": value}
        self.insert("campaigns_campaign", {
            "id": ids, "website_id": web,
            "name": [f"{themes[i % len(themes)]} {i // len(themes) + 1}" for i in range(n)],
            "description": [
                f"{v // 100}% off" if p else f"{v // 100} off every order"
                for p, v in zip(percent, value, strict=True)
            ],
            "discount_type": np.where(percent, "percent", "fixed"), "discount_value": value,
            "status": en.labels(status, lc_.CAMPAIGN_STATUSES), "start_date": start,
            "end_date": end, "target_audience": audience[rng.integers(0, 4, n)],
            "budget": budget, "created_at": created,
            "updated_at": np.where(changed == NULL, created, np.maximum(changed, created)),
        })

    def sign_ups(self) -> np.ndarray:
        """Sign-up instants of customers 1..n in order: a launch crowd, then growth."""
        n = self.n
        span = self.now - self.start
        u = self.rng.random(n)
        launch = self.rng.random(n) < 0.06
        frac = np.where(launch, u * 3 * DAY / span, np.where(u < 0.5, u * 2, np.sqrt(
            self.rng.random(n))))
        t = self.start + (np.clip(frac, 0, 0.9999) * span).astype(np.int64)
        return np.sort(t)

    # -- contracts (after every customer exists) -------------------------------------------
    def contracts(self) -> None:
        rng = np.random.default_rng([self.seed, 3])
        rows = []
        for web in catalog.WEBSITES:
            for _ in range(max(2, min(8, self.n // 1500))):
                rows.append(web.id)
        n = len(rows)
        ids = self.ids.take("corporate_contract", n)
        web = np.array(rows, dtype=np.int64)
        start_day = (self.start // DAY) + rng.integers(-60, max(1, self.days - 10), n)
        months = rng.choice([6, 12, 24], n)
        end_day = start_day + months * 30
        quarterly = rng.random(n) < 0.3
        cancelled = rng.random(n) < 0.1
        monthly_value = np.where(web == 1, rng.integers(2, 20, n) * 1_000_000_00,
                                 rng.integers(2, 20, n) * 250_000_00)
        value = monthly_value * months
        now_day = self.now // DAY
        status = np.where(cancelled & (start_day + 60 <= now_day), "cancelled",
                          np.where(end_day <= now_day, "ended", "active"))
        stop_day = np.where(status == "cancelled", start_day + 60, end_day)
        created = start_day * DAY - 7 * DAY
        updated = np.where(status == "active", created, np.minimum(stop_day, now_day) * DAY)
        companies = np.array(catalog.COMPANIES, dtype=object)
        self.insert("corporate_contract", {
            "id": ids, "website_id": web, "company_name": companies[np.arange(n) % len(companies)],
            "contract_value": value, "billing_cycle": np.where(quarterly, "quarterly", "monthly"),
            "start_date": start_day, "end_date": end_day, "status": status,
            "created_at": created, "updated_at": np.maximum(created, updated),
        })
        # Billing: an invoice per cycle, paid by bank transfer by the company's contact.
        cycle = np.where(quarterly, 90, 30)
        count = np.maximum(0, (np.minimum(stop_day, now_day) - start_day + cycle - 1) // cycle)
        idx = np.repeat(np.arange(n), count)
        k = np.arange(len(idx)) - np.repeat(np.cumsum(count) - count, count)
        t = (start_day[idx] + k * cycle[idx]) * DAY + 9 * HOUR
        contact = self.contacts(web)
        # Invoices are paid by the contact, from when the contact has an account.
        keep = (t >= self.joined[contact[idx] - 1]) & (t < self.now)
        idx, t = idx[keep], t[keep]
        amount = value[idx] // np.where(quarterly, months // 3, months)[idx]
        pids = self.ids.take("payments_payment", len(idx))
        done = t + 2 * DAY
        completed = done <= self.now
        self.insert("payments_payment", em.payment_rows(
            self.seed, pids, web[idx], contact[idx], "corporate", NULL, ids[idx],
            np.full(len(idx), lc_.M_BANK), amount,
            np.where(completed, lc_.P_COMPLETED, lc_.P_PENDING), t,
            np.where(completed, done, t), np.where(completed, done, NULL),
        ))

    def contacts(self, web: np.ndarray) -> np.ndarray:
        """A contact customer per contract: one of the first customers of its website."""
        users = np.arange(1, self.n + 1)
        traits = en.user_traits(self.seed, users[: min(self.n, 5000)])
        out = np.empty(len(web), dtype=np.int64)
        for i, w in enumerate(web):
            pool = users[: len(traits["web"])][traits["web"] == w]
            if len(pool) == 0:
                pool = users[:1]
            out[i] = pool[i % min(len(pool), 3)]
        return out

    # -- one chunk of customers ------------------------------------------------------------
    def chunk(self, c: int, user_ids: np.ndarray, joined: np.ndarray) -> None:
        rng = np.random.default_rng([self.seed, 1, c])
        w = self.world
        n = len(user_ids)
        tr = en.user_traits(self.seed, user_ids)
        web = tr["web"]
        users = {"pos": np.arange(n), "web": web, "joined": joined, "lam": tr["lam"],
                 "life_end": joined + tr["life"], "corp": tr["corp"]}
        rows = en.user_rows(w, user_ids, web, joined, rng)
        referrer = self.referrals_pick(rng, n, tr["lam"])
        rows["referred_by_id"] = np.where(referrer >= 0, user_ids[np.maximum(referrer, 0)], NULL)
        self.ids.take("accounts_user", n)
        self.insert("accounts_user", rows)
        account_id = self.ids.take("loyalty_loyaltyaccount", n)

        vip = self.vip(rng, user_ids, users, tr)
        subs = self.subscriptions(rng, user_ids, users)
        recipients, extra = self.recipients(rng, user_ids, users)

        # Orders.
        o = en.sample_orders(w, rng, users, self.start, self.now)
        o = en.concat([o, extra])
        order = np.argsort(o["created"], kind="stable")
        o = en.take(o, order)
        m = en.size(o)
        o["id"] = self.ids.take("orders_order", m)
        # The application purges abandoned orders a day later (their ids stay unused).
        lc = lc_.order_lifecycle(self.seed, o["id"], o["created"])
        kept = ~((lc["outcome"] == lc_.O_ABANDONED) & (o["created"] < self.now - DAY))
        o = en.take(o, kept)
        o["lc"] = en.take(lc, kept)
        m = en.size({"id": o["id"]})
        oweb = web[o["pos"]]
        items = en.add_items(w, rng, o, oweb)
        o["method"] = en.payment_methods(w, oweb, tr["pay_u"][o["pos"]], o["channel"], rng)
        o["discount_type"] = np.full(m, -1, dtype=np.int8)
        o["discount"] = np.zeros(m, dtype=np.int64)
        o["points_used"] = np.zeros(m, dtype=np.int64)
        self.discounts(o, oweb, vip, subs, referrer, users)

        referral = self.referral_rows(user_ids, referrer, o, web, joined)
        # Loyalty: earn, bonuses, then windowed redemptions and expiries.
        entries = en.concat([
            em.earn_entries(w, o, oweb, self.now, NULL),
            referral.pop("_bonus"),
            recipients.pop("_bonus"),
        ])
        entries, redemptions = self.loyalty(rng, web, entries, o)
        en.finish_orders(w, o, oweb)

        self.insert("referrals_referral", referral)
        self.write_vip(vip, user_ids, web, tr)
        self.write_subscriptions(subs, user_ids, web, tr)
        self.insert("campaigns_campaignrecipient", recipients)
        user_of = user_ids[o["pos"]]
        self.insert("orders_order", em.order_rows(w, o, oweb, user_of, self.now))
        self.insert("orders_orderitem", em.item_rows(
            items, o["id"], o["created"], self.ids.take("orders_orderitem", en.size(items))))
        pay_rows, pid1, pid2 = em.order_payment_rows(w, self.ids, o, oweb, user_of, self.now,
                                                     np.full(m, NULL))
        self.insert("payments_payment", pay_rows)
        pay_id = np.where(pid2 != NULL, pid2, pid1)
        self.insert("payments_refund", em.refund_rows(self.ids, o, pay_id, self.now, NULL))
        self.insert("delivery_delivery", em.delivery_rows(self.ids, o, self.now, NULL))
        self.write_accounts(account_id, user_ids, web, joined, entries)
        self.insert("loyalty_redemption", em.redemption_rows(redemptions, account_id))
        self.insert("loyalty_loyaltytransaction", em.ledger_rows(self.ids, entries, account_id))
        self.side_activity(rng, user_ids, users, o)

    def referrals_pick(self, rng, n: int, lam: np.ndarray) -> np.ndarray:
        """For each customer, the position of the (earlier) customer who referred it, or -1."""
        pos = np.arange(n)
        referred = (rng.random(n) < 0.12) & (pos >= 5)
        # Keen customers refer more: pick among earlier customers weighted by order rate.
        referrer = np.full(n, -1, dtype=np.int64)
        cum = np.cumsum(lam + 0.01)
        target = rng.random(n) * np.concatenate([[0.0], cum[:-1]])
        referrer[referred] = np.searchsorted(cum, target[referred], side="right")
        return np.minimum(referrer, pos - 1)

    def vip(self, rng, user_ids, users, tr) -> dict:
        """Up to three tier purchases per VIP customer (keen customers buy more often)."""
        n = len(user_ids)
        lam = tr["lam"]
        p = np.clip(0.4 * lam / en.BASE_RATE * 0.15, 0, 0.5)
        buys = (rng.random(n) < p) & (lam > 0)
        t = np.full((n, 3), FAR, dtype=np.int64)
        tier = np.full((n, 3), -1, dtype=np.int64)
        t0 = users["joined"] + (rng.random(n) * (self.now - users["joined"])).astype(np.int64)
        first_tier = np.searchsorted(np.array([0.7, 0.95]), rng.random(n), side="right")
        t[buys, 0] = t0[buys]
        tier[buys, 0] = first_tier[buys]
        for k in (1, 2):
            more = (tier[:, k - 1] >= 0) & (tier[:, k - 1] < 2) & (rng.random(n) < 0.35)
            tk = t[:, k - 1] + (rng.uniform(20, 100, n) * DAY).astype(np.int64)
            more &= tk < self.now
            t[more, k] = tk[more]
            tier[more, k] = tier[more, k - 1] + 1
        return {"t": t, "tier": tier}

    def vip_at(self, vip: dict, pos: np.ndarray, when: np.ndarray) -> np.ndarray:
        """The VIP tier code (or -1) each customer holds at `when`."""
        t, tier = vip["t"][pos], vip["tier"][pos]
        k = (t <= when[:, None]).sum(axis=1) - 1
        held = np.where(k >= 0, tier[np.arange(len(pos)), np.maximum(k, 0)], -1)
        since = t[np.arange(len(pos)), np.maximum(k, 0)]
        return np.where((k >= 0) & (when < since + catalog.VIP_TERM_DAYS * DAY), held, -1)

    def subscriptions(self, rng, user_ids, users) -> dict:
        n = len(user_ids)
        lam = users["lam"]
        takes = (rng.random(n) < np.clip(0.05 + 0.3 * lam, 0, 0.4)) & (lam > 0)
        pos = np.flatnonzero(takes)
        started = users["joined"][pos] + (
            rng.random(len(pos)) * np.maximum(self.now - users["joined"][pos], 0) * 0.9
        ).astype(np.int64)
        order = np.argsort(started, kind="stable")
        pos, started = pos[order], started[order]
        w = self.world
        plan = np.empty(len(pos), dtype=np.int64)
        for web_id in (1, 2):
            sel = users["web"][pos] == web_id
            choices = np.flatnonzero(w.plan_web == web_id)
            plan[sel] = choices[rng.integers(0, len(choices), sel.sum())]
        ids = self.ids.take("subscriptions_subscription", len(pos))
        sp = lc_.subscription_plan(self.seed, ids, started, w.plan_period[plan])
        batches = [{"id": ids, "pos": pos, "plan": plan, "sp": sp}]
        # Plan switches and comebacks (lifecycle.subscription_follow_up) that began by now,
        # and theirs in turn: each batch holds at most one subscription per customer.
        while True:
            last = batches[-1]
            fu = lc_.subscription_follow_up(self.seed, last["id"], last["sp"], last["plan"],
                                            w.plan_web)
            k = np.flatnonzero(fu["at"] <= self.now)
            if not len(k):
                break
            ids = self.ids.take("subscriptions_subscription", len(k))
            plan = fu["plan"][k]
            sp = lc_.subscription_plan(self.seed, ids, fu["at"][k], w.plan_period[plan])
            batches.append({"id": ids, "pos": last["pos"][k], "plan": plan, "sp": sp})
        subs = {key: np.concatenate([b[key] for b in batches]) for key in ("id", "pos", "plan")}
        subs["sp"] = {key: np.concatenate([b["sp"][key] for b in batches])
                      for key in batches[0]["sp"]}
        subs["batches"] = batches
        return subs

    def sub_active(self, subs: dict, n_users: int, pos: np.ndarray, when: np.ndarray):
        active = np.zeros(len(pos), dtype=bool)
        for batch in subs["batches"]:
            start = np.full(n_users, FAR, dtype=np.int64)
            end = np.zeros(n_users, dtype=np.int64)
            pause_at = np.full(n_users, FAR, dtype=np.int64)
            pause_end = np.full(n_users, FAR, dtype=np.int64)
            start[batch["pos"]] = batch["sp"]["started"]
            end[batch["pos"]] = batch["sp"]["end"]
            pause_at[batch["pos"]] = batch["sp"]["pause_at"]
            pause_end[batch["pos"]] = batch["sp"]["pause_end"]
            active |= ((start[pos] <= when) & (when < end[pos])
                       & ~((pause_at[pos] <= when) & (when < pause_end[pos])))
        return active

    def recipients(self, rng, user_ids, users) -> tuple[dict, dict]:
        """Campaign recipients (A/B/control) and the promo orders they place."""
        cp = self.campaign
        live = cp["start"] <= self.now
        rows, extra, bonus = [], [], []
        for i in np.flatnonzero(live):
            eligible = np.flatnonzero(
                (users["web"] == cp["web"][i]) & (users["joined"] < cp["start"][i])
                & (users["life_end"] > cp["start"][i]) & (users["lam"] > 0))
            chosen = eligible[rng.random(len(eligible)) < 0.3]
            k = len(chosen)
            if k == 0:
                continue
            variant = np.searchsorted(np.array([0.4, 0.8]), rng.random(k), side="right")
            sent = cp["start"][i] + (rng.uniform(0, 6, k) * HOUR).astype(np.int64)
            keep = sent < self.now
            chosen, variant, sent = chosen[keep], variant[keep], sent[keep]
            rows.append({"pos": chosen, "variant": variant, "sent": sent,
                         "campaign": np.full(len(chosen), cp["id"][i])})
            # Promo orders: A converts best, control only finds the code by chance.
            lo = sent
            hi = np.minimum(np.minimum(cp["end"][i], self.now), users["life_end"][chosen])
            rate = np.array([0.55, 0.4, 0.08])[variant]
            frac = np.clip((hi - lo) / max(cp["end"][i] - cp["start"][i], 1), 0, 1)
            count = rng.poisson(rate * frac)
            idx = np.repeat(np.arange(len(chosen)), count)
            t = lo[idx] + (rng.random(len(idx)) * np.maximum(hi - lo, 0)[idx]).astype(np.int64)
            t = en.shape_times(self.world, rng, t, users["web"][chosen[idx]])
            ok = (t >= lo[idx]) & (t < hi[idx])
            idx, t = idx[ok], t[ok]
            extra.append({"pos": chosen[idx], "created": t,
                          "channel": np.zeros(len(idx), np.int8),
                          "campaign_id": np.full(len(idx), cp["id"][i])})
            b = variant == 1
            bonus.append(en.ledger(chosen[b], sent[b], np.full(b.sum(), en.CAMPAIGN_BONUS_POINTS),
                                   en.L_BONUS, en.SRC_CAMPAIGN))
        r = en.concat(rows) or {"pos": np.zeros(0, np.int64), "variant": np.zeros(0, np.int64),
                                "sent": np.zeros(0, np.int64), "campaign": np.zeros(0, np.int64)}
        n = en.size(r)
        out = em.recipient_rows(
            self.seed, self.ids.take("campaigns_campaignrecipient", n), r["campaign"],
            user_ids[r["pos"]], r["variant"], r["sent"], self.now)
        out["_bonus"] = en.concat(bonus) or en.ledger([], [], [], en.L_BONUS, en.SRC_CAMPAIGN)
        ex = en.concat(extra) or {"pos": np.zeros(0, np.int64), "created": np.zeros(0, np.int64),
                                  "channel": np.zeros(0, np.int8),
                                  "campaign_id": np.zeros(0, np.int64)}
        return out, ex

    def discounts(self, o, oweb, vip, subs, referrer, users) -> None:
        w = self.world
        sub_total = o["subtotal"]
        unit = w.unit[oweb]
        cp = self.campaign
        has_campaign = o["campaign_id"] != NULL
        if has_campaign.any():
            ci = np.searchsorted(cp["id"], np.where(has_campaign, o["campaign_id"], cp["id"][0]))
            by_percent = en.discount_amount(sub_total, cp["value"][ci] // 100, unit)
            amount = np.where(cp["percent"][ci], by_percent, cp["value"][ci])
            en.apply_discount(o, has_campaign, en.D_CAMPAIGN, amount)
        tier = self.vip_at(vip, o["pos"], o["created"])
        pct = np.array([5, 10, 15, 0])[tier]
        en.apply_discount(o, tier >= 0, en.D_VIP, en.discount_amount(sub_total, pct, unit))
        active = self.sub_active(subs, len(users["pos"]), o["pos"], o["created"])
        en.apply_discount(o, active, en.D_SUBSCRIPTION,
                          en.discount_amount(sub_total, np.full(len(unit), 10), unit))
        # A referred customer's first order.
        first = np.zeros(len(o["pos"]), dtype=bool)
        if len(o["pos"]):
            _, where = np.unique(o["pos"], return_index=True)
            first[where] = True
        referred = referrer[o["pos"]] >= 0
        en.apply_discount(o, first & referred, en.D_REFERRAL,
                          np.minimum(w.referral_bonus[oweb] // 2, sub_total // 2 // unit * unit))

    def referral_rows(self, user_ids, referrer, o, web, joined) -> dict:
        referee = np.flatnonzero(referrer >= 0)
        n = len(referee)
        ids = self.ids.take("referrals_referral", n)
        # Qualified at the referee's first confirmed order; rewarded 1-5 days after their
        # first delivered one (so a referee whose orders were all cancelled stays qualified).
        first = {}
        for stage in ("confirmed", "delivered"):
            first[stage] = np.full(len(user_ids), FAR, dtype=np.int64)
            at = o["lc"][stage]
            ok = at <= self.now
            np.minimum.at(first[stage], o["pos"][ok], at[ok])
        delivered = first["delivered"][referee]
        qualified = np.minimum(first["confirmed"][referee], delivered)
        rewarded = np.where(delivered < FAR, delivered + lc_.referral_reward_delay(self.seed, ids),
                            FAR)
        status = np.where(rewarded <= self.now, 2, np.where(qualified <= self.now, 1, 0))
        joined = joined[referee]
        updated = np.where(status == 2, rewarded, np.where(status == 1, qualified, joined))
        got = status == 2
        return {
            "id": ids, "referrer_id": user_ids[referrer[referee]], "referee_id": user_ids[referee],
            "status": en.labels(status, enums.REFERRAL_STATUSES),
            "bonus_amount": self.world.referral_bonus[web[referee]],
            "rewarded_at": np.where(got, rewarded, NULL), "created_at": joined,
            "updated_at": updated,
            "_bonus": en.ledger(referrer[referee][got], rewarded[got],
                                np.full(got.sum(), en.REFERRAL_BONUS_POINTS), en.L_BONUS,
                                en.SRC_REFERRAL),
        }

    def loyalty(self, rng, web, entries: dict, o: dict) -> tuple[dict, dict]:
        n = len(web)
        balance = np.zeros(n, dtype=np.int64)
        last_ts = np.full(n, NULL, dtype=np.int64)
        all_entries = [entries]
        redemptions = []
        ws = self.start
        while ws < self.now:
            we = min(ws + 14 * DAY, self.now)
            current = en.concat(all_entries)
            before = current["ts"] < ws
            balance = np.bincount(current["pos"][before], weights=current["points"][before],
                                  minlength=n).astype(np.int64)
            last_ts = np.full(n, NULL, dtype=np.int64)
            np.maximum.at(last_ts, current["pos"][before], current["ts"][before])
            new, red = en.loyalty_window(self.world, rng, self.ids, web=web, balance=balance,
                                         last_ts=last_ts, entries=current, orders=o, ws=ws,
                                         we=we, now=self.now)
            if en.size(new):
                all_entries.append(new)
            if red:
                redemptions.append(red)
            ws = we
        red = en.concat(redemptions) or {k: np.zeros(0, np.int64) for k in (
            "id", "pos", "item_id", "points_spent", "status", "created", "updated")}
        return en.concat(all_entries), red

    def write_accounts(self, account_id, user_ids, web, joined, entries) -> None:
        n = len(user_ids)
        pts = entries["points"]
        balance = np.bincount(entries["pos"], weights=pts, minlength=n).astype(np.int64)
        lifetime = np.bincount(entries["pos"], weights=np.maximum(pts, 0),
                               minlength=n).astype(np.int64)
        last = joined.copy()
        np.maximum.at(last, entries["pos"], entries["ts"])
        self.insert("loyalty_loyaltyaccount", {
            "id": account_id, "website_id": web, "user_id": user_ids,
            "points_balance": balance, "lifetime_points": lifetime,
            "tier": en.loyalty_tier(lifetime), "created_at": joined, "updated_at": last,
        })

    def write_vip(self, vip, user_ids, web, tr) -> None:
        t, tier = vip["t"], vip["tier"]
        pos, k = np.nonzero(tier >= 0)
        order = np.argsort(t[pos, k], kind="stable")
        pos, k = pos[order], k[order]
        n = len(pos)
        ids = self.ids.take("vip_vipupgrade", n)
        to_tier = tier[pos, k]
        from_tier = np.where(k > 0, tier[pos, np.maximum(k - 1, 0)], -1)
        prices = np.array([[catalog.VIP_PRICES[wid][x] for x in enums.VIP_TIERS]
                           for wid in (1, 1, 2)])
        price = prices[web[pos], to_tier]
        when = t[pos, k]
        self.insert("vip_vipupgrade", {
            "id": ids, "user_id": user_ids[pos], "from_tier": en.labels(from_tier, enums.VIP_TIERS),
            "to_tier": en.labels(to_tier, enums.VIP_TIERS), "price": price, "created_at": when,
        })
        # Each purchase is paid for (mobile money or bank), some after a failed attempt.
        method = np.where(tr["pay_u"][pos] < 0.5, lc_.M_MTN, lc_.M_AIRTEL)
        method = np.where(web[pos] == 2, lc_.M_BANK, method)
        self.write_side_payments("vip_upgrade", web[pos], user_ids[pos], ids, method, price,
                                 when)
        # Current tier: the last purchase (expired after its term unless renewed).
        _, rev = np.unique(pos[::-1], return_index=True)
        last = np.sort(n - 1 - rev)
        lp = pos[last]
        first_at = np.full(len(user_ids), FAR, dtype=np.int64)
        np.minimum.at(first_at, pos, when)
        self.insert("vip_viptier", {
            "id": self.ids.take("vip_viptier", len(last)), "user_id": user_ids[lp],
            "tier_level": en.labels(to_tier[last], enums.VIP_TIERS),
            "discount_percent": np.array([500, 1000, 1500])[to_tier[last]],
            "upgraded_at": when[last],
            "expires_at": when[last] + catalog.VIP_TERM_DAYS * DAY,
            "created_at": first_at[lp],
            "updated_at": when[last],
        })

    def write_side_payments(self, purpose, web, user_id, ref_id, method, amount, when) -> None:
        n = len(ref_id)
        rng = np.random.default_rng(
            [self.seed, 5, enums.PAYMENT_PURPOSES.index(purpose), int(ref_id[0]) if n else 0, n])
        self.insert("payments_payment", em.side_payments(
            self.seed, self.ids, rng, purpose, web, user_id, ref_id, method, amount, when,
            self.now))

    def write_subscriptions(self, subs, user_ids, web, tr) -> None:
        sp = subs["sp"]
        st = lc_.subscription_state_at(sp, self.now)
        pos = subs["pos"]
        self.insert("subscriptions_subscription", {
            "id": subs["id"], "user_id": user_ids[pos], "plan_id": self.world.plan_id[subs["plan"]],
            "status": en.labels(st["status"], lc_.SUB_STATUSES), "started_at": sp["started"],
            "current_period_end": st["current_period_end"], "cancelled_at": st["cancelled_at"],
            "created_at": sp["started"], "updated_at": st["updated_at"],
        })
        i, t = lc_.subscription_charges(sp, self.start, self.now)
        order = np.argsort(t, kind="stable")
        i, t = i[order], t[order]
        p = pos[i]
        method = np.where(web[p] == 2, lc_.M_BANK, np.where(tr["pay_u"][p] < 0.6, lc_.M_MTN,
                                                           lc_.M_AIRTEL))
        if len(i):
            self.write_side_payments("subscription", web[p], user_ids[p], subs["id"][i], method,
                                     self.world.plan_price[subs["plan"][i]], t)

    def side_activity(self, rng, user_ids, users, o) -> None:
        """Support tickets, nutrition consultations and catering bookings."""
        n = len(user_ids)
        a = np.maximum(users["joined"], self.start)
        b = np.minimum(users["life_end"], self.now)
        span = np.maximum(b - a, 0)
        active_days = span / DAY
        web = users["web"]
        # Tickets: customers who order more complain more.
        orders_per_user = np.bincount(o["pos"], minlength=n)
        k = rng.poisson(0.01 + 0.04 * orders_per_user)
        idx = np.repeat(np.arange(n), k)
        created = a[idx] + (rng.random(len(idx)) * span[idx]).astype(np.int64)
        keep = span[idx] > 0
        idx, created = idx[keep], created[keep]
        order = np.argsort(created, kind="stable")
        idx, created = idx[order], created[order]
        tid = self.ids.take("support_ticket", len(idx))
        tp = lc_.ticket_plan(self.seed, tid, created)
        st = lc_.ticket_state_at(tp, created, self.now)
        cats = np.array(catalog.TICKET_CATEGORIES, dtype=object)
        self.insert("support_ticket", {
            "id": tid, "website_id": web[idx], "user_id": user_ids[idx],
            "category": cats[rng.integers(0, len(cats), len(idx))],
            "priority": en.labels(tp["priority"], lc_.TICKET_PRIORITIES),
            "status": en.labels(st["status"], lc_.TICKET_STATUSES), "created_at": created,
            "first_response_at": st["first_response_at"], "resolved_at": st["resolved_at"],
            "updated_at": st["updated_at"], "assigned_agent": st["assigned_agent"],
        })
        self.health_profiles(user_ids, users["joined"])
        # Nutrition consultations.
        k = rng.poisson(np.where(users["lam"] > 0, 0.0008, 0.0002) * active_days)
        k = _at_least(rng, k, span, 2)
        idx = np.repeat(np.arange(n), k)
        created = a[idx] + (rng.random(len(idx)) * span[idx]).astype(np.int64)
        order = np.argsort(created, kind="stable")
        idx, created = idx[order], created[order]
        off = self.world.offset[web[idx]]
        day = (created + off) // DAY + rng.integers(1, 15, len(idx))
        scheduled = day * DAY + rng.integers(9, 17, len(idx)) * HOUR - off
        cid = self.ids.take("nutrition_consultation", len(idx))
        st = lc_.consultation_state_at(self.seed, cid, created, scheduled, self.now)
        names = np.array(catalog.NUTRITIONISTS, dtype=object)
        self.insert("nutrition_consultation", {
            "id": cid, "website_id": web[idx], "user_id": user_ids[idx],
            "nutritionist_name": names[cid % len(names)], "scheduled_at": scheduled,
            "status": en.labels(st["status"], lc_.CONSULTATION_STATUSES),
            "fee": np.where(web[idx] == 1, 50_000_00, 15_000_00), "created_at": created,
            "updated_at": st["updated_at"],
        })
        # Catering bookings: corporate customers book most.
        k = rng.poisson(np.where(users["corp"], 0.015, 0.001) * active_days)
        k = _at_least(rng, k, span, 2)
        idx = np.repeat(np.arange(n), k)
        created = a[idx] + (rng.random(len(idx)) * span[idx]).astype(np.int64)
        order = np.argsort(created, kind="stable")
        idx, created = idx[order], created[order]
        off = self.world.offset[web[idx]]
        event_day = (created + off) // DAY + rng.integers(7, 46, len(idx))
        guests = rng.integers(20, 301, len(idx))
        per_head = np.where(web[idx] == 1, 30_000_00, 7_500_50)
        amount = guests * per_head
        bid = self.ids.take("catering_booking", len(idx))
        bp = lc_.booking_plan(self.seed, bid, created, event_day, off)
        st = lc_.booking_state_at(bp, created, self.now)
        self.insert("catering_booking", {
            "id": bid, "website_id": web[idx], "user_id": user_ids[idx],
            "event_date": event_day, "guests": guests, "amount": amount,
            "status": en.labels(st["status"], lc_.BOOKING_STATUSES), "created_at": created,
            "updated_at": st["updated_at"],
        })
        paid = bp["confirm_at"] <= self.now
        p = np.flatnonzero(paid)
        if len(p):
            self.write_side_payments(
                "catering", web[idx][p], user_ids[idx][p], bid[p],
                np.full(len(p), lc_.M_BANK), amount[p], bp["confirm_at"][p])


    def health_profiles(self, user_ids: np.ndarray, joined: np.ndarray) -> None:
        """The health profiles these customers filled in by the end of the period."""
        hp = lc_.health_plan(self.seed, user_ids, joined)
        made = np.flatnonzero(hp["at"] <= self.now)
        made = made[np.argsort(hp["at"][made], kind="stable")]
        hp = {k: v[made] for k, v in hp.items()}
        ids = self.ids.take("health_healthprofile", len(made))
        self.insert("health_healthprofile", em.health_rows(ids, user_ids[made], hp, self.now))


def _at_least(rng: np.random.Generator, k: np.ndarray, span: np.ndarray, least: int):
    """Counts per customer, topped up so that even a tiny source has `least` rows of a
    rare kind (the demo exercises every table): extra rows go to active customers."""
    missing = least - int(k.sum())
    active = np.flatnonzero(span > 0)
    if missing > 0 and len(active):
        k = k.copy()
        np.add.at(k, active[rng.integers(0, len(active), missing)], 1)
    return k
