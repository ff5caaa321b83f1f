"""Rows of the source tables from the engine's frames, as of an instant `now`.

Shared by the generator (every row of a new entity at the end of the period) and the
simulator (new rows of events in (lo, now], and changed rows of existing entities).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from models import enums
from seeds import catalog
from seeds import engine as en
from seeds import lifecycle as lc_
from seeds.lifecycle import FAR
from seeds.rand import hash64
from seeds.writer import NULL

_REF_PREFIX = np.array(["COD-", "MTN-", "ATL-", "BNK-"], dtype=object)


def provider_reference(seed: int, payment_ids: np.ndarray, method: np.ndarray) -> pa.Array:
    digits = (hash64(seed, 900, payment_ids) % np.uint64(10**12)).astype(np.int64)
    text = pc.utf8_lpad(pc.cast(pa.array(digits), pa.string()), 12, "0")
    return pc.binary_join_element_wise(pa.array(_REF_PREFIX[method], pa.string()), text, "")


def _null_unless(cond, values):
    return np.where(cond, values, NULL)


def order_rows(world: en.World, o: dict, web: np.ndarray, user_id: np.ndarray, now: int):
    """orders_order rows of new orders at `now` (statuses, timestamps, payment status)."""
    status, changed, delivered_at, cancelled_at = lc_.order_status_at(o["lc"], o["created"], now)
    pay_status, pay_changed = lc_.last_payment_status_at(o["pp"], now)
    pay_changed = np.where(o["pp"]["t1"] <= now, pay_changed, o["created"])
    confirmed_at, prepared_at = lc_.kitchen_times_at(o["lc"], now)
    return {
        "id": o["id"], "website_id": web, "user_id": user_id,
        "status": en.labels(status, lc_.ORDER_STATUSES),
        "channel": en.labels(o["channel"], en.CHANNELS),
        "subtotal": o["subtotal"], "discount_amount": o["discount"],
        "discount_type": en.labels(o["discount_type"], en.DISCOUNT_TYPES),
        "delivery_fee": o["fee"], "total": o["total"],
        "payment_method": en.labels(o["method"], lc_.METHODS),
        "payment_status": en.labels(np.where(o["pp"]["t1"] <= now, pay_status, 0),
                                    lc_.PAY_STATUSES),
        "campaign_id": o["campaign_id"], "loyalty_points_used": o["points_used"],
        "created_at": o["created"], "updated_at": np.maximum(changed, pay_changed),
        "delivered_at": delivered_at, "cancelled_at": cancelled_at,
        "confirmed_at": confirmed_at, "prepared_at": prepared_at,
    }


def order_state(o: dict, now: int) -> dict:
    """The changeable columns of orders at `now` (for updates)."""
    status, changed, delivered_at, cancelled_at = lc_.order_status_at(o["lc"], o["created"], now)
    pay_status, pay_changed = lc_.last_payment_status_at(o["pp"], now)
    started = o["pp"]["t1"] <= now
    confirmed_at, prepared_at = lc_.kitchen_times_at(o["lc"], now)
    return {
        "status": status, "delivered_at": delivered_at, "cancelled_at": cancelled_at,
        "confirmed_at": confirmed_at, "prepared_at": prepared_at,
        "payment_status": np.where(started, pay_status, 0),
        "updated_at": np.maximum(changed, np.where(started, pay_changed, o["created"])),
    }


def item_rows(items: dict, order_id: np.ndarray, created: np.ndarray, ids: np.ndarray) -> dict:
    oi = items["order_index"]
    return {
        "id": ids, "order_id": order_id[oi], "meal_id": items["meal_id"],
        "quantity": items["quantity"], "unit_price": items["unit_price"],
        "line_total": items["line_total"], "created_at": created[oi], "updated_at": created[oi],
    }


def payment_attempts(o: dict, now: int, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which attempts are created in (lo, now]: boolean masks for attempt 1 and 2."""
    pp = o["pp"]
    first = (pp["t1"] <= now) & (pp["t1"] > lo)
    second = (pp["t2"] <= now) & (pp["t2"] > lo)
    return first, second


def attempt_state(o: dict, now: int, attempt: int) -> dict:
    """status, updated_at and completed_at of attempt 1 or 2 of every order at `now`."""
    pp = o["pp"]
    last_status, last_changed = lc_.last_payment_status_at(pp, now)
    if attempt == 1:
        failed_first = pp["fails"]
        status = np.where(failed_first,
                          np.where(pp["t1_failed"] <= now, lc_.P_FAILED, lc_.P_PENDING),
                          last_status)
        changed = np.where(failed_first,
                           np.where(pp["t1_failed"] <= now, pp["t1_failed"], pp["t1"]),
                           last_changed)
    else:
        status, changed = last_status, last_changed
    took_money = np.isin(status, (lc_.P_COMPLETED, lc_.P_REFUNDED))
    completed_at = np.where(took_money & (pp["completed"] <= now), pp["completed"], NULL)
    return {"status": status, "updated_at": changed, "completed_at": completed_at}


def payment_rows(seed, ids, web, user_id, purpose, order_id, reference_id, method, amount,
                 status, created, updated, completed) -> dict:
    n = len(ids)

    def full(v, dtype=np.int64):
        return np.full(n, v, dtype=dtype) if np.isscalar(v) else v

    method = full(method, np.int8)
    return {
        "id": ids, "website_id": full(web), "user_id": full(user_id),
        "purpose": np.full(n, purpose, dtype=object),
        "order_id": full(order_id), "reference_id": full(reference_id),
        "method": en.labels(method, lc_.METHODS), "amount": full(amount),
        "status": en.labels(full(status, np.int8), lc_.PAY_STATUSES),
        "provider_reference": provider_reference(seed, ids, method),
        "created_at": full(created), "updated_at": full(updated),
        "completed_at": full(completed),
    }


def order_payment_rows(world: en.World, ids: en.Ids, o: dict, web, user_id, now: int, lo):
    """New payment rows of orders for attempts created in (lo, now]; returns the rows and
    per-order payment ids of attempt 1 and 2 (NULL where not created here)."""
    first, second = payment_attempts(o, now, lo)
    out = []
    pid = {}
    for attempt, mask in ((1, first), (2, second)):
        idx = np.flatnonzero(mask)
        state = attempt_state(take_pp(o, idx), now, attempt)
        pids = ids.take("payments_payment", len(idx))
        created = o["pp"]["t1" if attempt == 1 else "t2"][idx]
        out.append(payment_rows(
            world.seed, pids, web[idx], user_id[idx], "order", o["id"][idx], NULL,
            o["method"][idx], o["total"][idx], state["status"], created,
            state["updated_at"], state["completed_at"],
        ))
        full = np.full(len(mask), NULL, dtype=np.int64)
        full[idx] = pids
        pid[attempt] = full
    return en.concat(out), pid[1], pid[2]


def take_pp(o: dict, idx) -> dict:
    return {"pp": {k: v[idx] for k, v in o["pp"].items()}}


def refund_rows(ids: en.Ids, o: dict, pay_id: np.ndarray, now: int, lo) -> dict:
    """Refunds dated in (lo, now] against the payment that took the money."""
    pp = o["pp"]
    idx = np.flatnonzero((pp["refund_at"] <= now) & (pp["refund_at"] > lo) & (pay_id != NULL))
    reasons = np.array(catalog.REFUND_REASONS, dtype=object)
    cancelled = o["lc"]["outcome"][idx] != lc_.O_DELIVERED
    reason = np.where(cancelled, "order cancelled", reasons[o["id"][idx] % len(reasons)])
    return {
        "id": ids.take("payments_refund", len(idx)), "payment_id": pay_id[idx],
        "amount": pp["refund_amount"][idx], "reason": reason, "created_at": pp["refund_at"][idx],
    }


def delivery_rows(ids: en.Ids, o: dict, now: int, lo) -> dict:
    dp = o["dp"]
    idx = np.flatnonzero(dp["dispatched"] & (dp["assigned"] <= now) & (dp["assigned"] > lo))
    sub = {k: v[idx] for k, v in dp.items()}
    lc = {k: v[idx] for k, v in o["lc"].items()}
    status, changed = lc_.delivery_status_at(sub, lc, now)
    riders = np.array(catalog.RIDERS, dtype=object)
    return {
        "id": ids.take("delivery_delivery", len(idx)), "order_id": o["id"][idx],
        "rider_name": riders[sub["rider"] % len(riders)],
        "status": en.labels(status, lc_.DELIVERY_STATUSES), "assigned_at": sub["assigned"],
        "picked_up_at": _null_unless(lc["out_for_delivery"] <= now, lc["out_for_delivery"]),
        "delivered_at": _null_unless((status == 2), sub["finished"]),
        "distance_km": lc["distance_centi"], "created_at": sub["assigned"],
        "updated_at": changed,
    }


def earn_entries(world: en.World, o: dict, web: np.ndarray, now: int, lo) -> dict:
    """'earn' ledger entries for orders delivered in (lo, now]: a point per `points_per`
    of the subtotal (before discounts, so redemptions never change what was earned)."""
    t = o["lc"]["delivered"]
    points = o["subtotal"] // world.points_per[web]
    idx = np.flatnonzero((t <= now) & (t > lo) & (t < FAR) & (points > 0))
    return en.ledger(o["pos"][idx], t[idx], points[idx], en.L_EARN, en.SRC_ORDER,
                     order_id=o["id"][idx])


def ledger_rows(ids: en.Ids, entries: dict, account_id: np.ndarray) -> dict:
    """loyalty_loyaltytransaction rows, ids in time order."""
    order = np.argsort(entries["ts"], kind="stable")
    e = {k: v[order] for k, v in entries.items()}
    return {
        "id": ids.take("loyalty_loyaltytransaction", len(order)),
        "account_id": account_id[e["pos"]], "points": e["points"],
        "transaction_type": en.labels(e["type"], en.LEDGER_TYPES),
        "source": en.labels(e["source"], en.LEDGER_SOURCES),
        "order_id": e["order_id"], "redemption_id": e["redemption_id"], "created_at": e["ts"],
    }


def redemption_rows(red: dict, account_id: np.ndarray) -> dict:
    return {
        "id": red["id"], "account_id": account_id[red["pos"]], "item_id": red["item_id"],
        "points_spent": red["points_spent"],
        "status": en.labels(red["status"], enums.REDEMPTION_STATUSES),
        "created_at": red["created"], "updated_at": red["updated"],
    }


def side_payments(seed, ids: en.Ids, rng, purpose, web, user_id, ref_id, method, amount,
                  when, now) -> dict:
    """A payment per purchase (subscription period, VIP tier, catering booking) at `when`;
    8% fail first and a retry minutes later succeeds."""
    from seeds.lifecycle import MINUTE

    n = len(ref_id)
    fails = rng.random(n) < 0.08
    t1 = when + (rng.uniform(5, 60, n) * 1_000_000).astype(np.int64)
    t2 = t1 + (rng.uniform(2, 8, n) * MINUTE).astype(np.int64)
    t2 = np.where(t2 <= now, t2, FAR)
    done1 = t1 + 30 * 1_000_000
    ok1 = ~fails & (done1 <= now)
    first_status = np.where(fails, lc_.P_FAILED, np.where(ok1, lc_.P_COMPLETED, lc_.P_PENDING))
    first_updated = np.where(fails, t1 + MINUTE, np.where(ok1, done1, t1))
    rows = [payment_rows(
        seed, ids.take("payments_payment", n), web, user_id, purpose, NULL,
        ref_id, method, amount, first_status, t1, np.minimum(first_updated, now),
        np.where(ok1, done1, NULL))]
    r = np.flatnonzero(fails & (t2 < FAR))
    done2 = t2[r] + 30 * 1_000_000
    ok2 = done2 <= now
    rows.append(payment_rows(
        seed, ids.take("payments_payment", len(r)), web[r], user_id[r], purpose,
        NULL, ref_id[r], method[r], amount[r],
        np.where(ok2, lc_.P_COMPLETED, lc_.P_PENDING), t2[r], np.where(ok2, done2, t2[r]),
        np.where(ok2, done2, NULL)))
    return en.concat(rows)


def recipient_rows(seed: int, ids: np.ndarray, campaign_id, user_id, variant: np.ndarray,
                   sent: np.ndarray, now: int) -> dict:
    """campaigns_campaignrecipient rows as they stand at `now` (variant: codes)."""
    rp = lc_.recipient_plan(seed, ids, sent, variant)
    st = lc_.recipient_state_at(rp, sent, now)
    return {
        "id": ids, "campaign_id": campaign_id, "user_id": user_id,
        "variant": en.labels(variant, enums.CAMPAIGN_VARIANTS), "sent_at": sent,
        "created_at": sent, "channel": en.labels(rp["channel"], lc_.RECIPIENT_CHANNELS),
        "opened_at": st["opened_at"], "clicked_at": st["clicked_at"],
        "updated_at": st["updated_at"],
    }


def health_rows(ids: np.ndarray, user_id: np.ndarray, hp: dict, now: int) -> dict:
    """health_healthprofile rows of the profiles in `hp` (created by `now`) at `now`."""
    st = lc_.health_state_at(hp, now)
    allergies = np.array([a for a, _ in catalog.ALLERGIES], dtype=object)
    return {
        "id": ids, "user_id": user_id,
        "dietary_goal": en.labels(st["goal"], lc_.DIETARY_GOALS),
        "allergies": allergies[hp["allergy"]],
        "daily_calorie_target": st["kcal"],
        "activity_level": en.labels(hp["activity"], lc_.ACTIVITY_LEVELS),
        "created_at": hp["at"], "updated_at": st["updated_at"],
    }
