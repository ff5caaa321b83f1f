"""The changes a Django app makes to its database, each logged with what it changed.

`ChangeLog.behaviour(name)` reads every table of the source (plain driver) before and
after the block and records each row the block inserted, updated (with the columns) or
deleted, under `name`. So the tests know, row by row, which behaviour made a difference
they find, and can check that Django did what the contract says it does (`updated_at`
bumped by `save()` only, `on_delete` applied in Python).

`saves_only` is the control: changes made through `save()` alone, which bump `updated_at`
and which today's incremental cursor already copies. `django_behaviours` is the rest of
what a real app does, each on rows last written days ago (outside the cursor's lookback)
and not touched by the control, so that a run sees a change only if it can.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from unittest import mock

from django.db.models import F
from django.utils import timezone

from django_source.business import (
    Business,
    Campaign,
    Meal,
    Order,
    Payment,
    User,
    catering_order,
)
from django_source.compare import read_source
from django_source.database import DjangoDatabase
from django_source.models import MODELS

SAVE = "instance.save()"
UPDATE_FIELDS = "save(update_fields=['status'])"
BULK_CANCEL = "QuerySet.update(): pending orders cancelled in bulk"
BULK_UPDATE = "bulk_update(): payment status"
F_EXPRESSION = "F() expression: delivery_fee and total + 1500"
MEAL_PRICE = "QuerySet.update(): meal price"
DELETE_CAMPAIGN = "campaign.delete(): orders' campaign_id SET_NULL, recipients CASCADE"
DELETE_USER = "user.delete(): referred_by_id SET_NULL, CASCADE elsewhere"
CLOCK_BACK_INSERT = "clock 3 h back: a new order saved"
CLOCK_BACK_SAVE = "clock 3 h back: user.save()"

#: Every behaviour of `django_behaviours`, in the order they run.
BEHAVIOURS = (
    SAVE, UPDATE_FIELDS, BULK_CANCEL, BULK_UPDATE, F_EXPRESSION, MEAL_PRICE,
    DELETE_CAMPAIGN, DELETE_USER, CLOCK_BACK_INSERT, CLOCK_BACK_SAVE,
)

CLOCK_STEP = dt.timedelta(hours=3)


@dataclass(frozen=True)
class Change:
    behaviour: str
    table: str
    key: Any
    #: "insert", "update" or "delete".
    kind: str
    #: The columns an update changed.
    columns: frozenset[str] = frozenset()
    #: The row's `updated_at` before the change (None: inserted, or no such column).
    updated_before: dt.datetime | None = None


Snapshot = dict[str, dict[Any, dict[str, Any]]]


class ChangeLog:
    def __init__(self, db: DjangoDatabase) -> None:
        self.db = db
        self.changes: list[Change] = []

    def snapshot(self) -> Snapshot:
        """Every table's rows, {table: {id: {column: value}}}, read by the plain driver."""
        out: Snapshot = {}
        with self.db.driver() as con:
            for table in MODELS:
                t = read_source(con, table)
                out[table] = {r[0]: dict(zip(t.columns, r, strict=True)) for r in t.rows}
        return out

    @contextmanager
    def behaviour(self, name: str) -> Iterator[None]:
        before = self.snapshot()
        yield
        self.db.close()
        after = self.snapshot()
        for table in MODELS:
            old, new = before[table], after[table]
            for key in sorted(set(new) - set(old)):
                self.changes.append(Change(name, table, key, "insert"))
            for key in sorted(set(old) - set(new)):
                stamp = old[key].get("updated_at")
                self.changes.append(Change(name, table, key, "delete", updated_before=stamp))
            for key in sorted(set(old) & set(new)):
                cols = frozenset(c for c in new[key] if repr(new[key][c]) != repr(old[key][c]))
                if cols:
                    stamp = old[key].get("updated_at")
                    self.changes.append(Change(name, table, key, "update", cols, stamp))

    def of(self, behaviour: str) -> list[Change]:
        return [c for c in self.changes if c.behaviour == behaviour]

    def explain(self, table: str, key: Any, column: str | None) -> tuple[str, ...]:
        """The behaviours that made a difference in `column` of row `key` (the whole row
        when None): those that inserted or deleted the row, or updated that column."""
        return tuple(
            dict.fromkeys(
                c.behaviour
                for c in self.changes
                if c.table == table
                and c.key == key
                and (c.kind != "update" or column is None or column in c.columns)
            )
        )


@contextmanager
def clock_stepped_back(step: dt.timedelta = CLOCK_STEP) -> Iterator[None]:
    """The application's clock `step` behind: `timezone.now()` (which `auto_now` calls)."""
    real = timezone.now
    with mock.patch("django.utils.timezone.now", lambda: real() - step):
        yield


def saves_only(log: ChangeLog, business: Business) -> None:
    """The control: rows changed and created through `save()` alone."""
    a = log.db.alias
    with log.behaviour("save(): catering order confirmed → preparing"):
        order = Order.objects.using(a).get(id=business.orders["confirmed"][0])
        order.status = "preparing"
        order.save()
    with log.behaviour("save(): a customer's phone"):
        others = [business.user_to_erase, *business.referee_ids]
        user = User.objects.using(a).exclude(id__in=others).order_by("id").first()
        user.phone = "+256700000001"
        user.save()
    with log.behaviour("save(): a meal taken off the menu"):
        meal = Meal.objects.using(a).exclude(id__in=business.platter_ids).order_by("id").first()
        meal.is_active = False
        meal.save()
    with log.behaviour("save(): a support ticket resolved"):
        ticket = MODELS["support_ticket"].objects.using(a).order_by("id").first()
        ticket.status = "resolved"
        ticket.resolved_at = timezone.now()
        ticket.save()
    with log.behaviour("objects.create(): a new catering order"):
        platters = list(Meal.objects.using(a).filter(id__in=business.platter_ids).order_by("id"))
        order = catering_order(
            log.db, random.Random(11), user.id, platters, "confirmed", timezone.now()
        )
        business.orders["confirmed"].append(order.id)


def django_behaviours(log: ChangeLog, business: Business) -> None:
    """What a real Django app also does, one behaviour at a time (`BEHAVIOURS`)."""
    a = log.db.alias
    now = timezone.now
    with log.behaviour(SAVE):
        order = Order.objects.using(a).get(id=business.orders["out_for_delivery"][0])
        order.status, order.delivered_at = "delivered", now()
        order.save()
    with log.behaviour(UPDATE_FIELDS):
        order = Order.objects.using(a).get(id=business.orders["preparing"][0])
        order.status = "out_for_delivery"
        order.save(update_fields=["status"])
    with log.behaviour(BULK_CANCEL):
        Order.objects.using(a).filter(status="pending").update(
            status="cancelled", cancelled_at=now()
        )
    with log.behaviour(BULK_UPDATE):
        delivered = business.orders["delivered"]
        payments = list(Payment.objects.using(a).filter(order_id__in=delivered[:3]))
        for payment in payments:
            payment.status = "refunded"
        Payment.objects.using(a).bulk_update(payments, ["status"])
    with log.behaviour(F_EXPRESSION):
        Order.objects.using(a).filter(id__in=business.orders["delivered"][3:5]).update(
            delivery_fee=F("delivery_fee") + Decimal("1500.00"),
            total=F("total") + Decimal("1500.00"),
        )
    with log.behaviour(MEAL_PRICE):
        Meal.objects.using(a).filter(id=business.platter_ids[0]).update(
            price=Decimal("272731.28")
        )
    with log.behaviour(DELETE_CAMPAIGN):
        Campaign.objects.using(a).get(id=business.campaign_id).delete()
    with log.behaviour(DELETE_USER):
        User.objects.using(a).get(id=business.user_to_erase).delete()
    with log.behaviour(CLOCK_BACK_INSERT), clock_stepped_back():
        platters = list(Meal.objects.using(a).filter(id__in=business.platter_ids).order_by("id"))
        user_id = business.referee_ids[0]
        created = timezone.now()  # the stepped-back clock
        catering_order(log.db, random.Random(12), user_id, platters, "confirmed", created)
    with log.behaviour(CLOCK_BACK_SAVE), clock_stepped_back():
        user = User.objects.using(a).get(id=business.referee_ids[1])
        user.first_name = "Nakato"
        user.save()
