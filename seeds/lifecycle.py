"""Lifecycles of rows as pure functions of (seed, id, what the row says) and `now`.

Every duration and outcome is drawn from the row's id with `seeds.rand`, so the state of
a row at any instant can be recomputed from the database alone: the generator writes the
state at the end of the generated period, and the activity simulator later writes the
state at a later instant, and the two always agree.

Times are int64 microseconds since the epoch (UTC); `NULL` marks a missing time.
"""

from __future__ import annotations

import numpy as np

from models import enums
from seeds import catalog
from seeds.rand import uniform
from seeds.writer import NULL

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
FAR = np.int64(2**62)  # "never": later than any simulated instant

# Streams of seeds.rand: one per independent draw.
S_OUTCOME, S_CONFIRM, S_PREP, S_COOK, S_DIST, S_RIDE, S_CANCEL = range(1, 8)
S_PAYFAIL, S_PAYDELAY, S_RETRY, S_REFUND, S_REFUND_AT, S_REFUND_FRAC = range(10, 16)
S_CLEARING = 16
S_SUB_LEN, S_SUB_KIND, S_SUB_CUT, S_SUB_PAUSE, S_SUB_PAUSE_AT = range(20, 25)
S_SUB_SWITCH, S_SUB_SWITCH_PLAN, S_SUB_BACK, S_SUB_BACK_GAP, S_SUB_BACK_PLAN = range(25, 30)
S_TICKET_PRI, S_TICKET_RESP, S_TICKET_RES, S_TICKET_OPEN = range(30, 34)
S_CONS_KIND, S_CONS_AT = range(40, 42)
S_BOOK_KIND, S_BOOK_CONF, S_BOOK_WAIT = range(50, 53)
S_REF_DELAY = 60
S_RIDER = 61
S_TICKET_AGENT = 34
S_RCP_CHANNEL, S_RCP_OPEN, S_RCP_OPEN_AT, S_RCP_CLICK, S_RCP_CLICK_AT = range(70, 75)
S_HEALTH, S_HEALTH_AT, S_HEALTH_GOAL, S_HEALTH_ALLERGY, S_HEALTH_KCAL = range(80, 85)
S_HEALTH_ACTIVITY, S_HEALTH_CHANGE, S_HEALTH_GOAL2, S_HEALTH_NO_KCAL = range(85, 89)

ORDER_OUTCOMES = ("delivered", "cancelled_early", "delivery_failed", "abandoned")
O_DELIVERED, O_CANCEL_EARLY, O_DELIVERY_FAILED, O_ABANDONED = range(4)

METHODS = enums.PAYMENT_METHODS
M_CASH, M_MTN, M_AIRTEL, M_BANK = range(4)
ORDER_STATUSES = enums.ORDER_STATUSES
PAY_STATUSES = enums.PAYMENT_STATUSES
P_PENDING, P_COMPLETED, P_FAILED, P_REFUNDED = range(4)


def _minutes(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return ((lo + (hi - lo) * u) * MINUTE).astype(np.int64)


def _at_or_null(cond: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.where(cond, t, NULL)


def order_lifecycle(seed: int, ids: np.ndarray, created: np.ndarray) -> dict[str, np.ndarray]:
    """When each stage of an order happens (FAR when it never does), and its distance.

    Created -> confirmed (1-6 min) -> preparing (1-5 min) -> out for delivery (cooking,
    10-25 min) -> delivered (riding, about 2.5 min per km): 20-70 minutes in all. About
    6% are cancelled before dispatch, 1.5% fail on the road (the order is cancelled), 1%
    are abandoned in 'pending' (the simulator later deletes them).
    """
    u = uniform(seed, S_OUTCOME, ids)
    outcome = np.full(len(ids), O_DELIVERED, dtype=np.int8)
    outcome[u < 0.085] = O_DELIVERY_FAILED
    outcome[u < 0.07] = O_CANCEL_EARLY
    outcome[u < 0.01] = O_ABANDONED
    distance = np.clip(np.exp(np.log(4.0) + 0.6 * _norm(seed, S_DIST, ids)), 0.5, 18.0)
    distance_centi = np.round(distance * 100).astype(np.int64)
    t_confirm = created + _minutes(uniform(seed, S_CONFIRM, ids), 1, 6)
    t_prep = t_confirm + _minutes(uniform(seed, S_PREP, ids), 1, 5)
    t_ofd = t_prep + _minutes(uniform(seed, S_COOK, ids), 10, 25)
    ride = ((4 + 2.5 * distance) * (0.8 + 0.4 * uniform(seed, S_RIDE, ids)) * MINUTE)
    t_done = t_ofd + ride.astype(np.int64)
    t_cancel = np.full(len(ids), FAR, dtype=np.int64)
    early = outcome == O_CANCEL_EARLY
    frac = uniform(seed, S_CANCEL, ids)
    before_dispatch = (t_ofd - created)[early] * (0.05 + 0.85 * frac[early])
    t_cancel[early] = created[early] + before_dispatch.astype(np.int64)
    failed = outcome == O_DELIVERY_FAILED
    t_cancel[failed] = t_done[failed]
    t_delivered = np.where(outcome == O_DELIVERED, t_done, FAR)
    never = outcome == O_ABANDONED
    for t in (t_confirm, t_prep, t_ofd):
        t[never] = FAR
        t[early] = np.where(t[early] < t_cancel[early], t[early], FAR)
    return {
        "outcome": outcome,
        "confirmed": t_confirm,
        "preparing": t_prep,
        "out_for_delivery": t_ofd,
        "delivered": t_delivered,
        "cancelled": t_cancel,
        "distance_centi": distance_centi,
    }


def _norm(seed: int, stream: int, ids: np.ndarray) -> np.ndarray:
    from seeds.rand import normal

    return normal(seed, stream, ids)


def order_status_at(lc: dict[str, np.ndarray], created: np.ndarray, now) -> tuple:
    """(status code, updated_at of the status, delivered_at, cancelled_at) at `now`."""
    status = np.zeros(len(created), dtype=np.int8)
    changed = created.copy()
    for code, key in ((1, "confirmed"), (2, "preparing"), (3, "out_for_delivery"),
                      (4, "delivered"), (5, "cancelled")):
        reached = lc[key] <= now
        status[reached] = code
        changed = np.where(reached, lc[key], changed)
    delivered_at = _at_or_null(lc["delivered"] <= now, lc["delivered"])
    cancelled_at = _at_or_null(lc["cancelled"] <= now, lc["cancelled"])
    return status, changed, delivered_at, cancelled_at


def kitchen_times_at(lc: dict[str, np.ndarray], now) -> tuple[np.ndarray, np.ndarray]:
    """(confirmed_at, prepared_at) at `now`: when the kitchen accepted the order, and when
    it marked it ready, which is when it goes out for delivery (NULL until they happen;
    an order cancelled before a stage never reaches it)."""
    confirmed = _at_or_null(lc["confirmed"] <= now, lc["confirmed"])
    prepared = _at_or_null(lc["out_for_delivery"] <= now, lc["out_for_delivery"])
    return confirmed, prepared


def payment_plan(
    seed: int, order_ids: np.ndarray, created: np.ndarray, method: np.ndarray,
    total: np.ndarray, unit: np.ndarray, lc: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The payments of each order: one or two attempts, their outcome, and refunds.

    Prepaid (mobile money, bank transfer): an attempt seconds after the order; 12% of
    mobile-money attempts (5% of bank transfers) fail and a retry minutes later succeeds.
    Half of the bank transfers take 12-48 hours to clear (pending until then), so an order
    can stay unpaid across days. A refund comes at least a day after the money it returns.
    Cash on delivery: one payment, pending until the rider collects it at delivery, failed
    if the order is cancelled. Prepaid orders that are cancelled are refunded in full 1-4
    days later; 5% of delivered orders get a refund 1-6 days later (most partial).
    An abandoned order's only payment stays pending.
    """
    n = len(order_ids)
    prepaid = method != M_CASH
    outcome = lc["outcome"]
    abandoned = outcome == O_ABANDONED
    fail_p = np.where(method == M_BANK, 0.05, 0.12)
    fails = prepaid & ~abandoned & (uniform(seed, S_PAYFAIL, order_ids) < fail_p)
    delay_hi = np.where(method == M_BANK, 30.0, 1.5)
    t1 = created + (uniform(seed, S_PAYDELAY, order_ids) * delay_hi * MINUTE).astype(np.int64)
    t1 = np.where(prepaid, t1 + 20 * US, created + 5 * US)
    t1_failed = np.where(fails, t1 + MINUTE, FAR)
    t2 = np.where(fails, t1 + _minutes(uniform(seed, S_RETRY, order_ids), 2, 6), FAR)
    last = np.where(fails, t2, t1)
    u_clear = uniform(seed, S_CLEARING, order_ids)
    clearing = np.where((method == M_BANK) & (u_clear < 0.5),
                        (12 * HOUR + u_clear * 2 * 36 * HOUR).astype(np.int64), 30 * US)
    completed = np.where(prepaid, last + clearing, lc["delivered"])
    completed[abandoned] = FAR
    cash_failed = np.where(~prepaid, lc["cancelled"], FAR)
    # Refunds of money actually taken.
    paid = prepaid & ~abandoned
    cancelled = outcome != O_DELIVERED
    u_ref = uniform(seed, S_REFUND, order_ids)
    refund_at = np.full(n, FAR, dtype=np.int64)
    refund_amount = np.zeros(n, dtype=np.int64)
    base = np.where(cancelled, lc["cancelled"], lc["delivered"])
    days = np.where(cancelled, 1 + 3 * uniform(seed, S_REFUND_AT, order_ids),
                    1 + 5 * uniform(seed, S_REFUND_AT, order_ids))
    full_cancel = paid & cancelled & ~abandoned
    complaint = (outcome == O_DELIVERED) & (u_ref < 0.05)
    has_refund = full_cancel | complaint
    refund_at[has_refund] = base[has_refund] + (days[has_refund] * DAY).astype(np.int64)
    refund_at = np.where(has_refund & paid, np.maximum(refund_at, completed + DAY), refund_at)
    frac = 0.2 + 0.3 * uniform(seed, S_REFUND_FRAC, order_ids)
    partial = np.maximum(unit, (total * frac // unit).astype(np.int64) * unit)
    partial = np.minimum(partial, total)
    full = full_cancel | (complaint & (u_ref < 0.01))
    refund_amount[has_refund] = np.where(full, total, partial)[has_refund]
    # Cash is refunded too when a rider collected it and the customer complained.
    return {
        "prepaid": prepaid,
        "fails": fails,
        "t1": t1,
        "t1_failed": t1_failed,
        "t2": t2,
        "completed": completed,
        "cash_failed": cash_failed,
        "refund_at": refund_at,
        "refund_amount": refund_amount,
        "refund_full": has_refund & (refund_amount == total),
    }


def last_payment_status_at(pp: dict[str, np.ndarray], now) -> tuple[np.ndarray, np.ndarray]:
    """Status code and updated_at of the last attempt of each order's payment at `now`."""
    last_created = np.where(pp["t2"] <= now, pp["t2"], pp["t1"])
    status = np.full(len(last_created), P_PENDING, dtype=np.int8)
    changed = last_created.copy()
    on_first = pp["t2"] > now
    first_failed = on_first & (pp["t1_failed"] <= now)
    status[first_failed] = P_FAILED
    changed = np.where(first_failed, pp["t1_failed"], changed)
    done = (pp["completed"] <= now) & ~first_failed
    status[done] = P_COMPLETED
    changed = np.where(done, pp["completed"], changed)
    cash_failed = pp["cash_failed"] <= now
    status[cash_failed] = P_FAILED
    changed = np.where(cash_failed, pp["cash_failed"], changed)
    refunded = pp["refund_full"] & (pp["refund_at"] <= now)
    status[refunded] = P_REFUNDED
    changed = np.where(refunded, pp["refund_at"], changed)
    return status, changed


DELIVERY_STATUSES = enums.DELIVERY_STATUSES


def delivery_plan(seed: int, order_ids: np.ndarray, lc: dict[str, np.ndarray]) -> dict:
    """The delivery of each dispatched order: assigned while cooking, picked up, done."""
    dispatched = np.isin(lc["outcome"], (O_DELIVERED, O_DELIVERY_FAILED))
    assigned = lc["preparing"] + ((lc["out_for_delivery"] - lc["preparing"]) * 0.6).astype(
        np.int64
    )
    assigned = np.where(dispatched, assigned, FAR)
    finished = np.where(lc["outcome"] == O_DELIVERED, lc["delivered"], lc["cancelled"])
    rider = (uniform(seed, S_RIDER, order_ids) * 1000).astype(np.int64)
    return {"dispatched": dispatched, "assigned": assigned, "finished": finished, "rider": rider}


def delivery_status_at(dp: dict, lc: dict, now) -> tuple:
    status = np.zeros(len(dp["assigned"]), dtype=np.int8)
    changed = dp["assigned"].copy()
    picked = lc["out_for_delivery"] <= now
    status[picked] = 1
    changed = np.where(picked, lc["out_for_delivery"], changed)
    done = dp["finished"] <= now
    status[done] = np.where(lc["outcome"][done] == O_DELIVERED, 2, 3)
    changed = np.where(done, dp["finished"], changed)
    return status, changed


# -- subscriptions -----------------------------------------------------------------------
SUB_STATUSES = enums.SUBSCRIPTION_STATUSES


def subscription_plan(seed: int, ids: np.ndarray, started: np.ndarray,
                      period: np.ndarray) -> dict[str, np.ndarray]:
    """How long a subscription lives and how it ends.

    It runs for a geometric number of periods (mean about 5), then is either cancelled
    mid-period (60%) or expires at a period end (40%); a fifth pause once for two weeks.
    """
    u = uniform(seed, S_SUB_LEN, ids)
    periods = 1 + np.floor(np.log1p(-u) / np.log(0.8)).astype(np.int64)
    cancels = uniform(seed, S_SUB_KIND, ids) < 0.6
    end_expire = started + periods * period
    cut = started + (periods - 1) * period + (uniform(seed, S_SUB_CUT, ids) * period).astype(
        np.int64
    )
    end = np.where(cancels, cut, end_expire)
    pauses = uniform(seed, S_SUB_PAUSE, ids) < 0.2
    pause_at = started + ((end - started) * uniform(seed, S_SUB_PAUSE_AT, ids) * 0.8).astype(
        np.int64
    )
    pause_at = np.where(pauses & (end - started > 21 * DAY), pause_at, FAR)
    pause_end = np.where(pause_at < FAR, pause_at + 14 * DAY, FAR)
    return {"end": end, "cancels": cancels, "pause_at": pause_at, "pause_end": pause_end,
            "period": period, "started": started}


#: Shares of subscription endings that lead to another subscription of the same user.
SUB_SWITCH_SHARE = 0.35  # of cancellations: a plan switch (upgrade or downgrade)
SUB_BACK_SHARE = 0.3  # of the other endings: the subscriber comes back later
SUB_BACK_DAYS = (14, 70)  # how much later (days)
SUB_BACK_SAME_PLAN = 0.6  # of comebacks: on the plan they had


def subscription_follow_up(seed: int, ids: np.ndarray, sp: dict, plan: np.ndarray,
                           plan_web: np.ndarray) -> dict[str, np.ndarray]:
    """The subscription each one leads to when it ends: when it starts (FAR: none) and
    its plan (an index into `plan_web`, the website of every plan).

    A share of cancellations are plan switches, as a Django app without price history
    records an upgrade or downgrade: the subscription is cancelled and one on another
    plan of the same website starts at the same instant. Of the other endings (cancelled
    or expired), a share come back weeks later, on the same plan or another one.
    Drawn from the ending subscription's id, so the generator and the simulator agree.
    """
    ids = np.asarray(ids, dtype=np.int64)
    plan = np.asarray(plan, dtype=np.int64)
    switch = sp["cancels"] & (uniform(seed, S_SUB_SWITCH, ids) < SUB_SWITCH_SHARE)
    back = ~switch & (uniform(seed, S_SUB_BACK, ids) < SUB_BACK_SHARE)
    lo, hi = SUB_BACK_DAYS
    gap = ((lo + (hi - lo) * uniform(seed, S_SUB_BACK_GAP, ids)) * DAY).astype(np.int64)
    at = np.where(switch, sp["end"], np.where(back, sp["end"] + gap, FAR))
    # Another plan of the same website, uniformly among the others.
    other = plan.copy()
    u = uniform(seed, S_SUB_SWITCH_PLAN, ids)
    for web in np.unique(plan_web[plan]) if len(plan) else ():
        mine = np.flatnonzero(plan_web[plan] == web)
        choices = np.flatnonzero(plan_web == web)
        if len(choices) < 2:
            continue
        rest = np.array([choices[choices != p] for p in choices])  # per current plan
        row = np.searchsorted(choices, plan[mine])
        other[mine] = rest[row, (u[mine] * (len(choices) - 1)).astype(np.int64)]
    same = back & (uniform(seed, S_SUB_BACK_PLAN, ids) < SUB_BACK_SAME_PLAN)
    return {"at": at, "plan": np.where(same, plan, other), "switch": switch}


def subscription_state_at(sp: dict, now) -> dict[str, np.ndarray]:
    started, period, end = sp["started"], sp["period"], sp["end"]
    status = np.zeros(len(started), dtype=np.int8)
    elapsed = np.maximum(np.minimum(now, end) - started, 0)
    k = elapsed // period
    current_end = started + (k + 1) * period
    changed = np.where(k > 0, started + k * period, started)
    paused = (sp["pause_at"] <= now) & (now < sp["pause_end"])
    status[paused] = 1
    changed = np.where(sp["pause_at"] <= now, np.maximum(changed, sp["pause_at"]), changed)
    changed = np.where(sp["pause_end"] <= now, np.maximum(changed, sp["pause_end"]), changed)
    over = end <= now
    cancelled = over & sp["cancels"]
    expired = over & ~sp["cancels"]
    status[cancelled] = 2
    status[expired] = 3
    current_end = np.where(expired, end, current_end)
    changed = np.where(over, end, changed)
    cancelled_at = np.where(cancelled, end, NULL)
    return {"status": status, "current_period_end": current_end, "updated_at": changed,
            "cancelled_at": cancelled_at}


def subscription_charges(sp: dict, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """(index of subscription, charge time) of every period start in [lo, hi) before its end,
    skipping periods that start while paused."""
    started, period, end = sp["started"], sp["period"], sp["end"]
    first_k = np.maximum(0, -((started - lo) // period))
    last_k = (np.minimum(end, hi) - 1 - started) // period  # inclusive
    count = np.maximum(0, last_k - first_k + 1)
    idx = np.repeat(np.arange(len(started)), count)
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    t = started[idx] + (first_k[idx] + offsets) * period[idx]
    keep = ~((sp["pause_at"][idx] <= t) & (t < sp["pause_end"][idx]))
    keep &= (t >= lo) & (t < hi)
    return idx[keep], t[keep]


# -- support tickets, consultations, catering --------------------------------------------
TICKET_STATUSES = enums.TICKET_STATUSES
TICKET_PRIORITIES = enums.TICKET_PRIORITIES
SUPPORT_AGENTS = np.array(catalog.SUPPORT_AGENTS, dtype=object)


def ticket_plan(seed: int, ids: np.ndarray, created: np.ndarray) -> dict:
    u_pri = uniform(seed, S_TICKET_PRI, ids)
    priority = np.searchsorted(np.array([0.25, 0.8, 0.95]), u_pri, side="right").astype(np.int8)
    speed = np.array([1.6, 1.0, 0.5, 0.25])[priority]
    resp_h = np.exp(np.log(2.0) + 0.9 * _norm(seed, S_TICKET_RESP, ids)) * speed
    responded = created + (np.clip(resp_h, 0.05, 72) * HOUR).astype(np.int64)
    res_h = np.exp(np.log(18.0) + 0.8 * _norm(seed, S_TICKET_RES, ids)) * speed
    resolved = responded + (np.clip(res_h, 0.2, 240) * HOUR).astype(np.int64)
    stuck = uniform(seed, S_TICKET_OPEN, ids) < 0.05
    resolved = np.where(stuck, FAR, resolved)
    closed = np.where(stuck, FAR, resolved + 3 * DAY)
    # The agent who answers first takes the ticket (models: support_ticket.assigned_agent).
    agent = (uniform(seed, S_TICKET_AGENT, ids) * len(SUPPORT_AGENTS)).astype(np.int64)
    return {"priority": priority, "responded": responded, "resolved": resolved,
            "closed": closed, "agent": agent}


def ticket_state_at(tp: dict, created: np.ndarray, now) -> dict:
    status = np.zeros(len(created), dtype=np.int8)
    changed = created.copy()
    for code, key in ((1, "responded"), (2, "resolved"), (3, "closed")):
        reached = tp[key] <= now
        status[reached] = code
        changed = np.where(reached, tp[key], changed)
    answered = tp["responded"] <= now
    return {
        "status": status,
        "updated_at": changed,
        "first_response_at": _at_or_null(answered, tp["responded"]),
        "resolved_at": _at_or_null(tp["resolved"] <= now, tp["resolved"]),
        "assigned_agent": np.where(answered, SUPPORT_AGENTS[tp["agent"]], None),
    }


CONSULTATION_STATUSES = enums.CONSULTATION_STATUSES


def consultation_state_at(seed: int, ids: np.ndarray, created: np.ndarray,
                          scheduled: np.ndarray, now) -> dict:
    """Booked until the appointment; then completed (78%) or a no-show (12%); 10% cancel
    half-way between booking and appointment."""
    u = uniform(seed, S_CONS_KIND, ids)
    cancel_at = created + (scheduled - created) // 2
    status = np.zeros(len(ids), dtype=np.int8)
    changed = created.copy()
    cancels = u < 0.10
    done_at = scheduled + HOUR
    cancelled = cancels & (cancel_at <= now)
    finished = ~cancels & (done_at <= now)
    status[cancelled] = 2
    status[finished] = np.where(u[finished] < 0.22, 3, 1)
    changed = np.where(cancelled, cancel_at, changed)
    changed = np.where(finished, done_at, changed)
    return {"status": status, "updated_at": changed}


BOOKING_STATUSES = enums.BOOKING_STATUSES


def booking_plan(seed: int, ids: np.ndarray, created: np.ndarray, event_day: np.ndarray,
                 offset: np.ndarray) -> dict:
    """Requested -> confirmed 1-3 days later (paid then) -> completed the evening of the
    event; 12% are cancelled before confirmation. Half the clients fix their menu late: their
    booking is confirmed no earlier than two weeks before the event, so a booking for an
    event weeks ahead may stay requested."""
    u = uniform(seed, S_BOOK_KIND, ids)
    cancels = u < 0.12
    confirm = created + ((1 + 2 * uniform(seed, S_BOOK_CONF, ids)) * DAY).astype(np.int64)
    event_end = event_day * DAY + 20 * HOUR - offset
    late = uniform(seed, S_BOOK_WAIT, ids) < 0.5
    confirm = np.where(late, np.maximum(confirm, event_end - 14 * DAY), confirm)
    confirm = np.minimum(confirm, event_end - 2 * HOUR)
    return {
        "cancel_at": np.where(cancels, confirm, FAR),
        "confirm_at": np.where(cancels, FAR, confirm),
        "complete_at": np.where(cancels, FAR, event_end),
    }


def booking_state_at(bp: dict, created: np.ndarray, now) -> dict:
    status = np.zeros(len(created), dtype=np.int8)
    changed = created.copy()
    for code, key in ((1, "confirm_at"), (2, "complete_at"), (3, "cancel_at")):
        reached = bp[key] <= now
        status[reached] = code
        changed = np.where(reached, bp[key], changed)
    return {"status": status, "updated_at": changed}


def referral_reward_delay(seed: int, ids: np.ndarray) -> np.ndarray:
    """Referrals are rewarded 1-5 days after the referee's first delivered order."""
    return ((1 + 4 * uniform(seed, S_REF_DELAY, ids)) * DAY).astype(np.int64)


def campaign_status_at(start: np.ndarray, end: np.ndarray, paused: np.ndarray, now):
    """'draft' before its start, 'active' (or 'paused') during, 'completed' after."""
    status = np.full(len(start), 0, dtype=np.int8)  # draft
    running = (start <= now) & (now <= end)
    status[running] = np.where(paused[running], 2, 1)
    status[end < now] = 3
    changed = np.where(end < now, end, np.where(start <= now, start, NULL))
    return status, changed


CAMPAIGN_STATUSES = enums.CAMPAIGN_STATUSES


# -- campaign recipients ------------------------------------------------------------------
RECIPIENT_CHANNELS = enums.RECIPIENT_CHANNELS
#: Shares of email, sms and push among recipients; the chance that each opens a message;
#: the median minutes from sending to opening.
CHANNEL_SHARES = (0.5, 0.3, 0.2)
OPEN_RATE = np.array([0.35, 0.6, 0.25])
OPEN_MINUTES = np.array([180.0, 15.0, 30.0])
#: The chance that an opened message is clicked, by variant (A, B, control).
CLICK_RATE = np.array([0.30, 0.22, 0.06])


def recipient_plan(seed: int, ids: np.ndarray, sent: np.ndarray,
                   variant: np.ndarray) -> dict[str, np.ndarray]:
    """How each message went: its channel, when it was opened and clicked (FAR: never).

    Opened (by channel) a log-normal delay after it was sent, at most three days later;
    clicked (by variant) 10 s to 10 min after it was opened: sent ≤ opened ≤ clicked.
    """
    channel = np.searchsorted(np.cumsum(CHANNEL_SHARES)[:-1], uniform(seed, S_RCP_CHANNEL, ids),
                              side="right").astype(np.int8)
    opens = uniform(seed, S_RCP_OPEN, ids) < OPEN_RATE[channel]
    minutes = OPEN_MINUTES[channel] * np.exp(1.2 * _norm(seed, S_RCP_OPEN_AT, ids))
    opened = sent + (np.clip(minutes, 0.2, 3 * 24 * 60) * MINUTE).astype(np.int64)
    opened = np.where(opens, opened, FAR)
    clicks = opens & (uniform(seed, S_RCP_CLICK, ids) < CLICK_RATE[np.asarray(variant)])
    clicked = opened + _minutes(uniform(seed, S_RCP_CLICK_AT, ids), 1 / 6, 10)
    return {"channel": channel, "opened": opened, "clicked": np.where(clicks, clicked, FAR)}


def recipient_state_at(rp: dict, sent: np.ndarray, now) -> dict[str, np.ndarray]:
    opened = _at_or_null(rp["opened"] <= now, rp["opened"])
    clicked = _at_or_null(rp["clicked"] <= now, rp["clicked"])
    return {"opened_at": opened, "clicked_at": clicked,
            "updated_at": np.maximum(sent, np.maximum(opened, clicked))}


# -- health profiles ------------------------------------------------------------------------
DIETARY_GOALS = enums.DIETARY_GOALS
ACTIVITY_LEVELS = enums.ACTIVITY_LEVELS
#: The share of customers who fill in a health profile.
HEALTH_SHARE = 0.3
GOAL_SHARES = (0.34, 0.16, 0.3, 0.1, 0.1)
ACTIVITY_SHARES = (0.35, 0.45, 0.2)
#: Daily calorie targets by goal: (low, high), drawn uniformly and rounded to 50 kcal.
KCAL = np.array([[1400, 1900], [2600, 3400], [1900, 2600], [1600, 2200], [1700, 2300]])


def health_plan(seed: int, user_ids: np.ndarray, joined: np.ndarray) -> dict[str, np.ndarray]:
    """Who fills in a health profile, when, what it says, and whether the goal changes.

    A share HEALTH_SHARE of customers: 40% at sign-up (within minutes), the rest days to
    weeks later. A fifth change their goal (and calorie target) 20 to 120 days later.
    About 15% leave the calorie target empty.
    """
    ids = np.asarray(user_ids, dtype=np.int64)
    has = uniform(seed, S_HEALTH, ids) < HEALTH_SHARE
    u_at = uniform(seed, S_HEALTH_AT, ids)
    delay = np.where(u_at < 0.4, (2 + 30 * u_at / 0.4) * MINUTE,
                     -np.log1p(-(u_at - 0.4) / 0.6 * 0.999) * 12 * DAY)
    at = np.where(has, joined + delay.astype(np.int64), FAR)
    goal = _pick(uniform(seed, S_HEALTH_GOAL, ids), GOAL_SHARES)
    goal2 = (goal + 1 + (uniform(seed, S_HEALTH_GOAL2, ids) * 4).astype(np.int64)) % 5
    changes = uniform(seed, S_HEALTH_CHANGE, ids) < 0.2
    change_at = np.where(has & changes, at + _minutes(uniform(seed, S_HEALTH_CHANGE + 100, ids),
                                                      20 * 24 * 60, 120 * 24 * 60), FAR)
    allergy = _pick(uniform(seed, S_HEALTH_ALLERGY, ids), [w for _, w in catalog.ALLERGIES])
    u_kcal = uniform(seed, S_HEALTH_KCAL, ids)
    no_kcal = uniform(seed, S_HEALTH_NO_KCAL, ids) < 0.15
    return {"has": has, "at": at, "goal": goal, "goal2": goal2, "change_at": change_at,
            "allergy": allergy, "u_kcal": u_kcal, "no_kcal": no_kcal,
            "activity": _pick(uniform(seed, S_HEALTH_ACTIVITY, ids), ACTIVITY_SHARES)}


def health_state_at(hp: dict, now) -> dict[str, np.ndarray]:
    """Each profile's goal, calorie target and updated_at at `now` (for profiles that exist)."""
    changed = hp["change_at"] <= now
    goal = np.where(changed, hp["goal2"], hp["goal"])
    low, high = KCAL[goal, 0], KCAL[goal, 1]
    kcal = (low + hp["u_kcal"] * (high - low)) // 50 * 50
    return {"goal": goal, "kcal": np.where(hp["no_kcal"], NULL, kcal).astype(np.int64),
            "updated_at": np.where(changed, hp["change_at"], hp["at"])}


def _pick(u: np.ndarray, shares) -> np.ndarray:
    cdf = np.cumsum(shares) / np.sum(shares)
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1).astype(np.int64)
