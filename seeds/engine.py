"""The vectorized business model shared by the generator and the activity simulator.

Frames are dicts of equal-length NumPy arrays. Functions here build the rows of a time
window [lo, hi) for a set of customers: their orders and items, discounts, payments,
refunds, deliveries and loyalty ledger entries. `generate` calls them once per chunk of
customers over the whole period; `advance` once per simulated day over every customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models import enums
from models.thresholds import LOYALTY_TIER_THRESHOLDS
from seeds import catalog
from seeds import lifecycle as lc_
from seeds.lifecycle import DAY, FAR, HOUR
from seeds.rand import normal, uniform
from seeds.writer import NULL

# Streams of seeds.rand for per-user traits.
S_USER_LAM, S_USER_NEVER, S_USER_LIFE, S_USER_PAY, S_USER_WEB, S_USER_CORP = range(100, 106)
S_USER_ACTIVE = 106

#: Mean orders per customer-day while a customer is active, before the weekday thinning;
#: calibrated so that a population averages about 10 orders in 180 days.
BASE_RATE = 0.18
LAM_SIGMA = 1.1
MAX_RATE = 1.5
LIFE_MEAN_DAYS = 240.0
WEEKDAY_WEIGHT = np.array([0.80, 0.80, 0.85, 0.90, 1.10, 1.20, 1.00])  # Mon..Sun
WEEKDAY_ACCEPT = WEEKDAY_WEIGHT / WEEKDAY_WEIGHT.max()

DISCOUNT_TYPES = enums.DISCOUNT_TYPES  # vip, referral, campaign, loyalty, subscription
D_VIP, D_REFERRAL, D_CAMPAIGN, D_LOYALTY, D_SUBSCRIPTION = range(5)
CHANNELS = enums.ORDER_CHANNELS
C_DIRECT, C_CORPORATE, C_CATERING = range(3)
LEDGER_TYPES = enums.LEDGER_TYPES  # earn, bonus, redeem, expire, adjust
L_EARN, L_BONUS, L_REDEEM, L_EXPIRE, L_ADJUST = range(5)
LEDGER_SOURCES = enums.LEDGER_SOURCES  # order, referral, campaign, redemption, manual
SRC_ORDER, SRC_REFERRAL, SRC_CAMPAIGN, SRC_REDEMPTION, SRC_MANUAL = range(5)
ITEM_TYPES = enums.REDEMPTION_ITEM_TYPES
IT_DISCOUNT, IT_WALLET, IT_FREE_MEAL, IT_MERCH = range(4)
EXPIRY_DAYS = 90
REFERRAL_BONUS_POINTS = 500
CAMPAIGN_BONUS_POINTS = 150


def labels(codes: np.ndarray, values: tuple[str, ...]) -> np.ndarray:
    """Text values for integer codes (-1 -> None)."""
    table = np.array([*values, None], dtype=object)
    return table[np.where(np.asarray(codes) < 0, len(values), codes)]


def take(frame: dict, idx) -> dict:
    return {k: v[idx] for k, v in frame.items()}


def concat(frames: list[dict]) -> dict:
    frames = [f for f in frames if f]
    if not frames:
        return {}
    return {k: np.concatenate([f[k] for f in frames]) for k in frames[0]}


def size(frame: dict) -> int:
    return len(next(iter(frame.values()))) if frame else 0


@dataclass
class Ids:
    """The next free id of every table (ids are never reused, even after deletes)."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, table: str, n: int) -> np.ndarray:
        first = self.next.get(table, 1)
        self.next[table] = first + n
        return np.arange(first, first + n, dtype=np.int64)


@dataclass
class World:
    """Reference data, as arrays indexed by website id, meal position, reward position."""

    seed: int
    offset: np.ndarray  # website id -> UTC offset (us)
    unit: np.ndarray
    points_per: np.ndarray
    fees: np.ndarray  # website id -> 3 delivery fees
    referral_bonus: np.ndarray
    method_cdf: np.ndarray  # website id -> cumulative method shares
    meal_id: dict[int, np.ndarray]
    meal_price: dict[int, np.ndarray]
    meal_p: dict[int, np.ndarray]
    reward_id: np.ndarray
    reward_web: np.ndarray
    reward_type: np.ndarray
    reward_points: np.ndarray
    reward_value: np.ndarray
    plan_id: np.ndarray
    plan_web: np.ndarray
    plan_price: np.ndarray
    plan_period: np.ndarray

    @classmethod
    def build(cls, seed: int) -> World:
        nweb = len(catalog.WEBSITES) + 1
        offset = np.zeros(nweb, dtype=np.int64)
        unit = np.ones(nweb, dtype=np.int64)
        points_per = np.ones(nweb, dtype=np.int64)
        fees = np.zeros((nweb, 3), dtype=np.int64)
        bonus = np.zeros(nweb, dtype=np.int64)
        cdf = np.zeros((nweb, 4))
        meal_id, meal_price, meal_p = {}, {}, {}
        next_meal = 1
        for w in catalog.WEBSITES:
            offset[w.id] = w.utc_offset_hours * HOUR
            unit[w.id] = w.unit
            points_per[w.id] = w.points_per
            fees[w.id] = w.delivery_fees
            bonus[w.id] = w.referral_bonus
            cdf[w.id] = np.cumsum(w.mobile_methods)
            meals = catalog.MEALS[w.id]
            meal_id[w.id] = np.arange(next_meal, next_meal + len(meals), dtype=np.int64)
            next_meal += len(meals)
            meal_price[w.id] = np.array([m[2] for m in meals], dtype=np.int64)
            # A few favourites sell most (Zipf-like), in an order fixed per website.
            rank = np.random.default_rng([seed, 7, w.id]).permutation(len(meals))
            p = 1.0 / (rank + 1.5) ** 1.1
            meal_p[w.id] = p / p.sum()
        rewards = [(w.id, r) for w in catalog.WEBSITES for r in catalog.REWARDS[w.id]]
        plans = [(w.id, p) for w in catalog.WEBSITES for p in catalog.PLANS[w.id]]
        return cls(
            seed=seed, offset=offset, unit=unit, points_per=points_per, fees=fees,
            referral_bonus=bonus, method_cdf=cdf, meal_id=meal_id, meal_price=meal_price,
            meal_p=meal_p,
            reward_id=np.arange(1, len(rewards) + 1, dtype=np.int64),
            reward_web=np.array([w for w, _ in rewards], dtype=np.int64),
            reward_type=np.array([ITEM_TYPES.index(r[2]) for _, r in rewards]),
            reward_points=np.array([r[3] for _, r in rewards], dtype=np.int64),
            reward_value=np.array([r[4] for _, r in rewards], dtype=np.int64),
            plan_id=np.arange(1, len(plans) + 1, dtype=np.int64),
            plan_web=np.array([w for w, _ in plans], dtype=np.int64),
            plan_price=np.array([p[1] for _, p in plans], dtype=np.int64),
            plan_period=np.array([(7 if p[2] == "weekly" else 30) * DAY for _, p in plans]),
        )


# -- customers -------------------------------------------------------------------------
def user_traits(seed: int, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Traits of a customer drawn from its id: website, order rate, lifetime, habits."""
    ids = np.asarray(ids, dtype=np.int64)
    web = np.where(uniform(seed, S_USER_WEB, ids) < catalog.WEBSITES[0].share, 1, 2)
    lam = BASE_RATE * np.exp(LAM_SIGMA * normal(seed, S_USER_LAM, ids) - LAM_SIGMA**2 / 2)
    # Nobody keeps up more than about two orders a day for long.
    lam = np.minimum(lam, MAX_RATE)
    lam = np.where(uniform(seed, S_USER_NEVER, ids) < 0.15, 0.0, lam)
    # 2% of accounts are deactivated (is_active false) and never order.
    active = uniform(seed, S_USER_ACTIVE, ids) >= 0.02
    lam = np.where(active, lam, 0.0)
    life = (-np.log1p(-uniform(seed, S_USER_LIFE, ids)) * LIFE_MEAN_DAYS * DAY).astype(np.int64)
    return {
        "web": web.astype(np.int64),
        "lam": lam,
        "life": life,
        "pay_u": uniform(seed, S_USER_PAY, ids),
        "corp": uniform(seed, S_USER_CORP, ids) < 0.03,
        "active": active,
    }


def user_rows(world: World, ids: np.ndarray, web: np.ndarray, joined: np.ndarray,
              rng: np.random.Generator) -> dict:
    """accounts_user rows (without referred_by_id) for new customers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(ids)
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    phone_prefix = np.empty(n, dtype=object)
    for w in (1, 2):
        m = web == w
        first[m] = np.array(catalog.FIRST_NAMES[w], dtype=object)[
            rng.integers(0, len(catalog.FIRST_NAMES[w]), m.sum())]
        last[m] = np.array(catalog.LAST_NAMES[w], dtype=object)[
            rng.integers(0, len(catalog.LAST_NAMES[w]), m.sum())]
        phone_prefix[m] = catalog.PHONE_PREFIX[w]
    first_a = pa.array(first, pa.string())
    last_a = pa.array(last, pa.string())
    id_a = pc.cast(pa.array(ids), pa.string())
    email = pc.binary_join_element_wise(
        pc.utf8_lower(first_a), ".", pc.utf8_lower(last_a), id_a, "@example.com", ""
    )
    digits = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 10**8, n)), pa.string()), 8, "0")
    phone = pc.binary_join_element_wise(pa.array(phone_prefix, pa.string()), digits, "")
    return {
        "id": ids, "website_id": web, "email": email, "phone": phone,
        "first_name": first_a, "last_name": last_a,
        "is_active": user_traits(world.seed, ids)["active"],
        "referred_by_id": np.full(n, NULL),
        "date_joined": joined, "updated_at": joined,
    }


# -- orders -----------------------------------------------------------------------------
def local_time_of_day(rng: np.random.Generator, n: int, lunch_only: np.ndarray) -> np.ndarray:
    """Microseconds after local midnight: lunch and dinner peaks, a little all day."""
    kind = rng.random(n)
    hours = np.where(kind < 0.45, rng.normal(12.8, 0.9, n), rng.normal(19.4, 1.2, n))
    hours = np.where(kind > 0.9, rng.uniform(7.0, 23.0, n), hours)
    hours = np.where(lunch_only, rng.normal(12.5, 0.6, n), hours)
    return (np.clip(hours, 6.5, 23.9) * HOUR).astype(np.int64)


def shape_times(world: World, rng: np.random.Generator, t: np.ndarray,
                web: np.ndarray) -> np.ndarray:
    """Move instants to a lunch or dinner time of the same local day."""
    off = world.offset[web]
    local_day = (t + off) // DAY
    return local_day * DAY + local_time_of_day(rng, len(t), np.zeros(len(t), bool)) - off


def sample_orders(world: World, rng: np.random.Generator, users: dict, lo: int,
                  hi: int, rate_boost: float = 1.0) -> dict:
    """Order headers (no ids yet) placed by `users` during [lo, hi).

    users: pos, web, joined, lam, life_end, corp. A customer orders at its own Poisson
    rate while active (from sign-up until its lifetime ends), more on Fridays and
    Saturdays, at lunch and dinner in its website's time zone.
    """
    a = np.maximum(users["joined"], lo)
    b = np.minimum(users["life_end"], hi)
    span = np.maximum(b - a, 0)
    expected = users["lam"] * span / DAY * rate_boost / WEEKDAY_ACCEPT.mean()
    n = rng.poisson(expected)
    idx = np.repeat(np.arange(len(a)), n)
    t = a[idx] + (rng.random(len(idx)) * span[idx]).astype(np.int64)
    off = world.offset[users["web"][idx]]
    local_day = (t + off) // DAY
    weekday = (local_day + 3) % 7
    corp = users["corp"][idx] & (weekday < 5) & (rng.random(len(idx)) < 0.7)
    keep = rng.random(len(idx)) < WEEKDAY_ACCEPT[weekday]
    t = local_day * DAY + local_time_of_day(rng, len(idx), corp) - off
    keep &= (t >= a[idx]) & (t < b[idx])
    channel = np.where(corp, C_CORPORATE, C_DIRECT)
    channel = np.where(~corp & (rng.random(len(idx)) < 0.008), C_CATERING, channel)
    return {
        "pos": idx[keep], "created": t[keep], "channel": channel[keep].astype(np.int8),
        "campaign_id": np.full(int(keep.sum()), NULL, dtype=np.int64),
    }


def add_items(world: World, rng: np.random.Generator, orders: dict, web: np.ndarray) -> dict:
    """Order lines; sets orders['subtotal'] (= the sum of line totals) and returns items."""
    n = size(orders)
    channel = orders["channel"]
    lines = np.minimum(rng.geometric(0.55, n), 5)
    lines = np.where(channel == C_CATERING, rng.integers(4, 9, n), lines)
    lines = np.where(channel == C_CORPORATE, rng.integers(1, 4, n), lines)
    oi = np.repeat(np.arange(n), lines)
    m = len(oi)
    meal = np.empty(m, dtype=np.int64)
    price = np.empty(m, dtype=np.int64)
    lw = web[oi]
    for w in world.meal_id:
        sel = lw == w
        k = rng.choice(len(world.meal_id[w]), size=int(sel.sum()), p=world.meal_p[w])
        meal[sel] = world.meal_id[w][k]
        price[sel] = world.meal_price[w][k]
    qty = np.searchsorted(np.array([0.72, 0.93]), rng.random(m), side="right") + 1
    ch = channel[oi]
    qty = np.where(ch == C_CORPORATE, rng.integers(3, 13, m), qty)
    qty = np.where(ch == C_CATERING, rng.integers(5, 26, m), qty)
    line_total = price * qty
    starts = np.cumsum(lines) - lines
    orders["subtotal"] = np.add.reduceat(line_total, starts) if m else np.zeros(0, np.int64)
    return {"order_index": oi, "meal_id": meal, "quantity": qty.astype(np.int64),
            "unit_price": price, "line_total": line_total}


def payment_methods(world: World, web: np.ndarray, pay_u: np.ndarray,
                    channel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A customer mostly pays the same way; corporate orders go by bank transfer."""
    cdf = world.method_cdf[web]
    method = (pay_u[:, None] >= cdf[:, :3]).sum(axis=1)
    switch = rng.random(len(web)) < 0.15
    other = (rng.random(len(web))[:, None] >= cdf[:, :3]).sum(axis=1)
    method = np.where(switch, other, method)
    method = np.where(channel == C_CORPORATE, lc_.M_BANK, method)
    return method.astype(np.int8)


def discount_amount(subtotal: np.ndarray, percent: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """percent% of the subtotal, rounded down to the website's rounding unit."""
    raw = (subtotal * percent.astype(np.float64) / 100.0).astype(np.int64)
    return raw // unit * unit


def apply_discount(orders: dict, mask: np.ndarray, dtype: int, amount: np.ndarray) -> None:
    """Give `dtype` to orders in `mask` that have no discount yet (amount <= subtotal)."""
    free = mask & (orders["discount_type"] < 0)
    orders["discount_type"][free] = dtype
    orders["discount"][free] = np.minimum(amount[free], orders["subtotal"][free])


def finish_orders(world: World, orders: dict, web: np.ndarray) -> None:
    """Delivery fee from the distance, total = subtotal - discount + fee, payments plan."""
    d = orders["lc"]["distance_centi"]
    bucket = (d >= 300).astype(np.int64) + (d >= 700)
    fee = world.fees[web, bucket]
    fee = np.where(orders["channel"] == C_CORPORATE, 0, fee)
    fee = np.where(orders["channel"] == C_CATERING, world.fees[web, 2], fee)
    orders["fee"] = fee
    orders["total"] = orders["subtotal"] - orders["discount"] + fee
    orders["pp"] = lc_.payment_plan(
        world.seed, orders["id"], orders["created"], orders["method"], orders["total"],
        world.unit[web], orders["lc"],
    )
    orders["dp"] = lc_.delivery_plan(world.seed, orders["id"], orders["lc"])


# -- loyalty -----------------------------------------------------------------------------
def ledger(pos, ts, points, type_, source, order_id=None, redemption_id=None) -> dict:
    n = len(pos)
    none = np.full(n, NULL, dtype=np.int64)
    return {
        "pos": np.asarray(pos, np.int64), "ts": np.asarray(ts, np.int64),
        "points": np.asarray(points, np.int64),
        "type": np.full(n, type_, np.int8) if np.isscalar(type_) else type_,
        "source": np.full(n, source, np.int8) if np.isscalar(source) else source,
        "order_id": none if order_id is None else np.asarray(order_id, np.int64),
        "redemption_id": none if redemption_id is None else np.asarray(redemption_id, np.int64),
    }


def loyalty_window(world: World, rng: np.random.Generator, ids: Ids, *, web: np.ndarray,
                   balance: np.ndarray, last_ts: np.ndarray, entries: dict, orders: dict,
                   ws: int, we: int, now: int) -> tuple[dict, dict]:
    """Expiries and redemptions of one window [ws, we), given each account's balance and
    last ledger time before `ws` and the (positive) entries inside the window.

    At most one negative entry per account per window, so `balance` (the balance at `ws`)
    is a lower bound of the balance at any instant of the window: a redemption never
    spends points the account does not have. Points expire after EXPIRY_DAYS without any
    ledger activity. Redemptions use an affordable reward: a discount code or free meal
    applied to an order placed in the window (discount type 'loyalty'), or a wallet
    credit or merchandise on their own.

    Returns (new ledger entries, redemptions frame); may set loyalty discounts on orders.
    """
    n = len(balance)
    hi = min(we, now)
    first_in = np.full(n, FAR, dtype=np.int64)
    if size(entries):
        inside = (entries["ts"] >= ws) & (entries["ts"] < we)
        np.minimum.at(first_in, entries["pos"][inside], entries["ts"][inside])
    expire_at = last_ts + EXPIRY_DAYS * DAY
    expires = ((last_ts > NULL) & (balance > 0) & (expire_at >= ws) & (expire_at < hi)
               & (expire_at < first_in))
    out = [ledger(np.flatnonzero(expires), expire_at[expires], -balance[expires],
                  L_EXPIRE, SRC_MANUAL)]
    # Redemptions.
    cheapest = np.full(len(world.offset), np.iinfo(np.int64).max)
    np.minimum.at(cheapest, world.reward_web, world.reward_points)
    # About one redemption per affordable account every six weeks.
    p = 1.0 - np.exp(-(we - ws) / DAY / 45.0)
    want = (~expires & (balance >= cheapest[web]) & (rng.random(n) < p) & (ws < hi))
    cand = np.flatnonzero(want)
    red = {"pos": np.zeros(0, np.int64)}
    if len(cand) == 0:
        return concat(out), {}
    # An eligible order per candidate account: the first delivered, undiscounted direct
    # order it places in the window.
    o_pos = orders["pos"]
    eligible = ((orders["lc"]["outcome"] == lc_.O_DELIVERED) & (orders["discount_type"] < 0)
                & (orders["channel"] == C_DIRECT) & (orders["created"] >= ws)
                & (orders["created"] < hi - 10 * 1_000_000)) if size(orders) else np.zeros(0, bool)
    first_order = np.full(n, -1, dtype=np.int64)
    if eligible.any():
        e = np.flatnonzero(eligible)
        e = e[np.argsort(orders["created"][e], kind="stable")][::-1]
        first_order[o_pos[e]] = e  # the earliest wins (written last)
    with_order = (first_order[cand] >= 0) & (rng.random(len(cand)) < 0.7)
    types = np.where(with_order, 0, 1)  # 0: discount/free meal, 1: wallet/merch
    # Pick an affordable reward of the right kind for each candidate.
    item = np.full(len(cand), -1, dtype=np.int64)
    u = rng.random(len(cand))
    for w in np.unique(web[cand]):
        for kind, kinds in ((0, (IT_DISCOUNT, IT_FREE_MEAL)), (1, (IT_WALLET, IT_MERCH))):
            pool = np.flatnonzero((world.reward_web == w) & np.isin(world.reward_type, kinds))
            pool = pool[np.argsort(world.reward_points[pool], kind="stable")]
            sel = np.flatnonzero((web[cand] == w) & (types == kind))
            afford = np.searchsorted(world.reward_points[pool], balance[cand[sel]], side="right")
            ok = afford > 0
            pick = (u[sel] * afford).astype(np.int64)
            item[sel[ok]] = pool[np.minimum(pick[ok], np.maximum(afford[ok] - 1, 0))]
    keep = item >= 0
    cand, item, with_order = cand[keep], item[keep], with_order[keep]
    k = len(cand)
    red_ids = ids.take("loyalty_redemption", k)
    ts = np.where(
        with_order,
        orders["created"][np.maximum(first_order[cand], 0)] + 10 * 1_000_000
        if size(orders) else 0,
        ws + (rng.random(k) * (hi - ws)).astype(np.int64),
    )
    ts = np.maximum(ts, ws)
    spent = world.reward_points[item]
    # A few merchandise and wallet redemptions are reversed 1-3 days later.
    reversed_at = ts + ((1 + 2 * rng.random(k)) * DAY).astype(np.int64)
    reverses = ~with_order & (rng.random(k) < 0.04) & (reversed_at <= now)
    out.append(ledger(cand, ts, -spent, L_REDEEM, SRC_REDEMPTION, redemption_id=red_ids))
    out.append(ledger(cand[reverses], reversed_at[reverses], spent[reverses], L_ADJUST,
                      SRC_REDEMPTION, redemption_id=red_ids[reverses]))
    red = {
        "id": red_ids, "pos": cand, "item_id": world.reward_id[item], "points_spent": spent,
        "status": np.where(reverses, 1, 0).astype(np.int8), "created": ts,
        "updated": np.where(reverses, reversed_at, ts),
    }
    # Order-attached redemptions become the order's loyalty discount.
    if with_order.any():
        oi = first_order[cand[with_order]]
        value = world.reward_value[item[with_order]]
        orders["discount_type"][oi] = D_LOYALTY
        orders["discount"][oi] = np.minimum(value, orders["subtotal"][oi])
        orders["points_used"][oi] = spent[with_order]
        out[-2]["order_id"][with_order] = orders["id"][oi]
    return concat(out), red


def loyalty_tier(lifetime: np.ndarray) -> np.ndarray:
    """The tier each lifetime points total reaches (models.thresholds)."""
    tiers = np.array([tier for tier, _ in LOYALTY_TIER_THRESHOLDS], dtype=object)
    starts = np.array([threshold for _, threshold in LOYALTY_TIER_THRESHOLDS[1:]])
    return tiers[np.searchsorted(starts, lifetime, side="right")]
