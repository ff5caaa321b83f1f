"""A small business written through the Django ORM.

- The demo generator's rows (`seeds.generate`, a few dozen customers over a few weeks),
  read back typed and loaded with `bulk_create` as a fixture load of history;
- catering orders created with `objects.create()` (so `auto_now` stamps them), with
  amounts between 100,000 and 1,000,000 that have cents (272731.28 …): Django's SQLite
  backend stores those as REAL, the nearest binary float;
- a campaign those orders used, with its recipients; a customer who referred two others.

The invariants of a healthy source hold (total = subtotal − discount + fee, subtotal = the
items' line totals, a payment per order for its total, completed payments have
`completed_at`), so dbt builds every mart on it.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from unittest import mock

from django.db.models import Count
from django.utils import timezone

import seeds
from django_source.compare import read_source
from django_source.database import DjangoDatabase
from django_source.models import MODELS
from models.enums import CAMPAIGN_VARIANTS, PAYMENT_METHODS
from models.schema import metadata

Website = MODELS["accounts_website"]
User = MODELS["accounts_user"]
Meal = MODELS["menu_meal"]
Campaign = MODELS["campaigns_campaign"]
Recipient = MODELS["campaigns_campaignrecipient"]
Order = MODELS["orders_order"]
Item = MODELS["orders_orderitem"]
Payment = MODELS["payments_payment"]

#: The demo source the business starts from: small, so the tests stay fast.
CUSTOMERS = 40
DAYS = 21
SEED = 14

#: Catering orders: their statuses in turn (each behaviour finds the orders it needs).
CATERING_STATUSES = (
    "pending", "confirmed", "out_for_delivery", "delivered", "delivered", "preparing",
    "delivered", "pending",
)
CATERING_ORDERS = 24
#: Support tickets the catering customers open (whatever the demo drew).
TICKETS = 3
TICKET_CATEGORIES = ("late_delivery", "missing_item", "quality")
#: The first platter's price; a later `update()` sets the issue's example, 272731.28.
FIRST_PLATTER_PRICE = Decimal("249999.99")
CAMPAIGN_DISCOUNT = Decimal("15000.00")


def demo_rows(path: Path, *, start: dt.date) -> dict[str, list[dict]]:
    """The demo generator's source at `path` (SQLite), read back typed by the contract."""
    seeds.generate(
        f"sqlite:///{path}", customers=CUSTOMERS, days=DAYS, seed=SEED, start=start,
        progress=False,
    )
    con = sqlite3.connect(path)
    try:
        present = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        out = {}
        for table in metadata.sorted_tables:
            if table.name in present:
                rows = read_source(con, table.name)
                out[table.name] = [dict(zip(rows.columns, r, strict=True)) for r in rows.rows]
        return out
    finally:
        con.close()


@dataclass
class Business:
    """The rows the behaviours act on, by what they are."""

    website_id: int
    campaign_id: int
    platter_ids: list[int]
    #: Catering orders by status, as created.
    orders: dict[str, list[int]] = field(default_factory=dict)
    #: The customer with the most orders, who referred `referee_ids`.
    user_to_erase: int = 0
    referee_ids: list[int] = field(default_factory=list)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    """An amount in [low, high) with cents."""
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


@contextmanager
def clock_at(moment: dt.datetime) -> Iterator[None]:
    """The application's clock (`timezone.now()`, which `auto_now` calls) at `moment`:
    rows written within are stamped as they were when the app wrote them."""
    with mock.patch("django.utils.timezone.now", lambda: moment):
        yield


def has(model, column: str) -> bool:
    return any(f.column == column for f in model._meta.concrete_fields)


def populate(db: DjangoDatabase, rows: dict[str, list[dict]], *, seed: int = 3) -> Business:
    """Create the tables, load the demo rows, then write the catering business as the app
    wrote it over the last ten days (each row stamped by the clock of its day)."""
    rng = random.Random(seed)
    db.create_tables()
    db.load(rows)
    a = db.alias
    now = timezone.now()
    erase, referees = _referrer(db)
    website = Website.objects.using(a).filter(currency="UGX").order_by("id").first()
    opened = now - dt.timedelta(days=11)
    with clock_at(opened):
        campaign = Campaign.objects.using(a).create(
            website_id=website.id, name="Catering week", description="Platters for offices",
            discount_type="fixed", discount_value=CAMPAIGN_DISCOUNT, status="active",
            start_date=now - dt.timedelta(days=10), end_date=now + dt.timedelta(days=4),
            target_audience="corporate", budget=Decimal("2500000.00"), created_at=opened,
        )
        platters = [
            Meal.objects.using(a).create(
                website_id=website.id, name=f"Catering platter {k + 1}", category="Catering",
                price=FIRST_PLATTER_PRICE if k == 0 else _money(rng, 100_000, 450_000),
                is_active=True, created_at=opened,
            )
            for k in range(4)
        ]
    users = list(
        User.objects.using(a).filter(website_id=website.id).exclude(id__in=[erase, *referees])
        .order_by("id")[:10]
    )
    sent = now - dt.timedelta(days=9)
    with clock_at(sent):
        for k, user in enumerate(users[:6]):
            Recipient.objects.using(a).create(
                campaign_id=campaign.id, user_id=user.id,
                variant=CAMPAIGN_VARIANTS[k % len(CAMPAIGN_VARIANTS)], sent_at=sent,
                created_at=sent,
            )
    business = Business(website.id, campaign.id, [p.id for p in platters])
    business.user_to_erase, business.referee_ids = erase, referees
    start = now - dt.timedelta(days=10)
    for i in range(CATERING_ORDERS):
        status = CATERING_STATUSES[i % len(CATERING_STATUSES)]
        created = start + dt.timedelta(hours=9 * i, minutes=rng.randrange(60))
        with clock_at(created + dt.timedelta(minutes=5)):
            order = catering_order(
                db, rng, users[i % len(users)].id, platters, status, created,
                campaign_id=campaign.id if i % 3 == 0 else None,
            )
        business.orders.setdefault(status, []).append(order.id)
    # The demo draws its support tickets at random, so some start dates give none: the
    # catering customers open their own (the saves behaviour resolves one).
    Ticket = MODELS["support_ticket"]
    for k, user in enumerate(users[:TICKETS]):
        opened_at = start + dt.timedelta(days=2 * k + 1, hours=rng.randrange(8, 18))
        with clock_at(opened_at):
            Ticket.objects.using(a).create(
                website_id=website.id, user_id=user.id, category=TICKET_CATEGORIES[k],
                priority="normal", status="open", created_at=opened_at,
            )
    return business


def catering_order(db, rng, user_id, platters, status, created, *, campaign_id=None):
    """A catering order with its items and its payment, each saved by the ORM."""
    a = db.alias
    lines = [(rng.choice(platters), rng.randrange(1, 3)) for _ in range(rng.randrange(1, 3))]
    subtotal = sum((meal.price * qty for meal, qty in lines), Decimal("0.00"))
    discount = CAMPAIGN_DISCOUNT if campaign_id else Decimal("0.00")
    fee = _money(rng, 3_000, 15_000)
    paid = status in ("out_for_delivery", "delivered")
    method = rng.choice([m for m in PAYMENT_METHODS if m != "cash_on_delivery"])
    extra = {}
    if has(Order, "confirmed_at") and status != "pending":
        extra["confirmed_at"] = created + dt.timedelta(minutes=10)
    if has(Order, "prepared_at") and paid:
        extra["prepared_at"] = created + dt.timedelta(hours=2)
    order = Order.objects.using(a).create(
        website_id=platters[0].website_id, user_id=user_id, status=status, channel="catering",
        subtotal=subtotal, discount_amount=discount,
        discount_type="campaign" if campaign_id else None, delivery_fee=fee,
        total=subtotal - discount + fee, payment_method=method,
        payment_status="completed" if paid else "pending", campaign_id=campaign_id,
        loyalty_points_used=0, created_at=created,
        delivered_at=created + dt.timedelta(hours=3) if status == "delivered" else None,
        **extra,
    )
    for meal, qty in lines:
        Item.objects.using(a).create(
            order_id=order.id, meal_id=meal.id, quantity=qty, unit_price=meal.price,
            line_total=meal.price * qty, created_at=created,
        )
    Payment.objects.using(a).create(
        website_id=order.website_id, user_id=user_id, purpose="order", order_id=order.id,
        method=method, amount=order.total, status="completed" if paid else "pending",
        provider_reference=f"CAT-{order.id:06d}", created_at=created + dt.timedelta(minutes=1),
        completed_at=created + dt.timedelta(minutes=2) if paid else None,
    )
    return order


def _referrer(db: DjangoDatabase) -> tuple[int, list[int]]:
    """The customer with the most orders, made the referrer of two customers."""
    a = db.alias
    top = (
        Order.objects.using(a).values("user_id").annotate(n=Count("id"))
        .order_by("-n", "user_id").first()
    )["user_id"]
    referees = list(
        User.objects.using(a).exclude(id=top).filter(referred_by__isnull=True)
        .order_by("id").values_list("id", flat=True)[:2]
    )
    User.objects.using(a).filter(id__in=referees).update(referred_by_id=top)
    return top, referees
