"""Request 003's worked example as a SOURCE: an operational database whose rows give exactly
the example's figures for January 2024 (`calculate`, and the tier distribution and
engagement stats of the same page).

One website (Africa/Kampala, UTC+3), 2000 users, each with a loyalty account opened in
November 2023. As of the end of 2024-01-31 (METRICS.md, Loyalty):

- 1250 accounts hold 216 points each (270000 in all; active), the other 750 hold none:
  350 earned and had it all expire in December, 100 earn only in February (after the
  window and after as_of), 300 never had a ledger entry;
- the active accounts' lifetime earned points put 800 in bronze, 300 in silver, 120 in
  gold and 30 in platinum (thresholds 0 / 1000 / 5000 / 10000), and their stored `tier`
  agrees;
- in the window, 800 of them have ledger entries: 450 earn 40 and redeem 40 (one completed
  redemption each: item 5 "$10 Discount Code" 250 times, item 3 180, item 7 20), 100 earn
  50 on January 1st (written 2023-12-31 22:30 UTC: already January in Kampala) and 40
  later, 250 earn 72: issued 45000, redeemed 18000;
- outside it, and not to be counted: December's earnings, expiries and 100 redemptions of
  item 7 (the last at 2023-12-31 15:00 local), and February's 300 redemptions of item 7
  (the first written 2024-01-31 21:30 UTC: already February 1st in Kampala) and earnings.

So `calculate` for [2024-01-01, 2024-01-31] answers request 003's example field for field,
the tier distribution 800 / 300 / 120 / 30 (64.00 / 24.00 / 9.60 / 2.40) and the 30-day
engagement stats 2000 clients, 1250 active, 450 with redemptions, 800 with transactions
(40.00, 36.00), as the request's examples do. Every rule of a healthy source holds
(`models.rules.check_rules`), and the pipeline needs one order to give the website its
calendar (fct_daily_snapshot): one delivered, paid order in November.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from models import metadata

AS_OF = dt.date(2024, 1, 31)
WINDOW = {"date_from": "2024-01-01", "date_to": "2024-01-31"}
#: Request 003's answer to `POST analytics/calculate/` with WINDOW (without `id`).
CALCULATE = {
    "website": 1,
    "date_from": "2024-01-01",
    "date_to": "2024-01-31",
    "total_active_clients": 1250,
    "total_points_issued": 45000,
    "total_points_redeemed": 18000,
    "total_points_balance": 270000,
    "total_redemptions": 450,
    "total_redemption_value": 18000,
    "most_popular_item": 5,
    "most_popular_item_name": "$10 Discount Code",
    "bronze_count": 800,
    "silver_count": 300,
    "gold_count": 120,
    "platinum_count": 30,
    "active_redemptions_ratio": Decimal("36.00"),
    "average_points_per_client": Decimal("216.00"),
}
#: Request 003's `tier_distribution/` example.
TIERS = [
    {"tier_name": "Bronze", "count": 800, "threshold": 0, "percentage": Decimal("64.00")},
    {"tier_name": "Silver", "count": 300, "threshold": 1000, "percentage": Decimal("24.00")},
    {"tier_name": "Gold", "count": 120, "threshold": 5000, "percentage": Decimal("9.60")},
    {"tier_name": "Platinum", "count": 30, "threshold": 10000, "percentage": Decimal("2.40")},
]
#: Request 003's `engagement_stats/?days=30` example.
ENGAGEMENT = {
    "total_clients": 2000,
    "active_clients": 1250,
    "clients_with_redemptions": 450,
    "clients_with_transactions": 800,
    "engagement_rate": Decimal("40.00"),
    "redemption_rate": Decimal("36.00"),
}

ACCOUNTS = 2000
ACTIVE = 1250
BALANCE = 216
#: Lifetime earned points of an active account of each tier (within its band).
LIFETIME = {"bronze": 600, "silver": 2500, "gold": 7000, "platinum": 12500}
TIER_COUNTS = {"bronze": 800, "silver": 300, "gold": 120, "platinum": 30}
#: id → (name, category, item_type, points_required, value_amount)
ITEMS = {
    1: ("Free Juice", "Drinks", "free_meal", 300, "3000.00"),
    2: ("Tote Bag", "Merchandise", "merchandise", 800, "15000.00"),
    3: ("$5 Wallet Credit", "Cash", "wallet_credit", 500, "18500.00"),
    4: ("Free Delivery", "Discounts", "discount_code", 200, "3000.00"),
    5: ("$10 Discount Code", "Discounts", "discount_code", 1000, "37000.00"),
    6: ("Water Bottle", "Merchandise", "merchandise", 1500, "25000.00"),
    7: ("Free Meal", "Meals", "free_meal", 2000, "20000.00"),
}
#: The window's redemptions per item (40 points each): item 5 the most popular.
WINDOW_REDEMPTIONS = {5: 250, 3: 180, 7: 20}
SPENT = 40


def _utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)


OPENED = _utc(dt.date(2023, 11, 1), 8)
DEC_EARN = _utc(dt.date(2023, 12, 1), 9)
DEC_EXPIRE = _utc(dt.date(2023, 12, 15), 9)
DEC_REDEEM = _utc(dt.date(2023, 12, 31), 12)  # 15:00 in Kampala: still December
JAN_FIRST = _utc(dt.date(2023, 12, 31), 22, 30)  # 01:30 on January 1st in Kampala
FEB_FIRST = _utc(dt.date(2024, 1, 31), 21, 30)  # 00:30 on February 1st in Kampala


def _january(n: int) -> dt.datetime:
    """A moment between January 2nd and 31st (Kampala), spread by n."""
    return _utc(dt.date(2024, 1, 2) + dt.timedelta(days=n % 30), 6 + n % 12, n % 60)


def rows() -> dict[str, list[dict]]:
    """The source's rows, table by table."""
    rng = random.Random(3)
    ids = list(range(1, ACTIVE + 1))
    tiers = [tier for tier, count in TIER_COUNTS.items() for _ in range(count)]
    rng.shuffle(tiers)
    tier_of = dict(zip(ids, tiers, strict=True))
    order = ids[:]
    rng.shuffle(order)
    redeemers, early, earners = order[:450], order[450:550], order[550:800]
    items = [item for item, count in WINDOW_REDEMPTIONS.items() for _ in range(count)]
    rng.shuffle(items)
    december_redeemers = set(order[800:900])  # quiet in January: 100 redemptions of item 7
    february_redeemers = order[:300]  # 300 redemptions of item 7 after the window

    ledger: list[dict] = []
    redemptions: list[dict] = []

    def entry(account: int, points: int, kind: str, source: str, at: dt.datetime,
              redemption: int | None = None) -> None:
        ledger.append(dict(id=len(ledger) + 1, account_id=account, points=points,
                           transaction_type=kind, source=source, order_id=None,
                           redemption_id=redemption, created_at=at))

    def redeem(account: int, item: int, at: dt.datetime) -> None:
        redemptions.append(dict(id=len(redemptions) + 1, account_id=account, item_id=item,
                                points_spent=SPENT, status="completed", created_at=at,
                                updated_at=at))
        entry(account, -SPENT, "redeem", "redemption", at, redemptions[-1]["id"])

    # January first: what the window counts (and what the state at its end follows from).
    january: dict[int, tuple[int, int]] = {}  # account → (earned, redeemed) in the window
    for n, account in enumerate(redeemers):
        entry(account, SPENT, "bonus", "campaign", _january(n))
        redeem(account, items[n], _january(n) + dt.timedelta(hours=1))
        january[account] = (SPENT, SPENT)
    for n, account in enumerate(early):
        entry(account, 50, "bonus", "campaign", JAN_FIRST)
        entry(account, 40, "earn", "manual", _january(n))
        january[account] = (90, 0)
    for n, account in enumerate(earners):
        entry(account, 72, "earn", "manual", _january(n))
        january[account] = (72, 0)

    # December: each active account earns what its tier needs (lifetime - January's) and
    # loses what would leave it above 216 by the end of January.
    for account in ids:
        earned, redeemed = january.get(account, (0, 0))
        lifetime = LIFETIME[tier_of[account]]
        entry(account, lifetime - earned, "earn", "manual", DEC_EARN)
        debit = lifetime - BALANCE - redeemed
        if account in december_redeemers:
            redeem(account, 7, DEC_REDEEM)
            debit -= SPENT
        entry(account, -debit, "expire", "manual", DEC_EXPIRE)
    for account in range(ACTIVE + 1, ACTIVE + 351):  # earned, all expired: not active
        entry(account, 500, "earn", "manual", DEC_EARN)
        entry(account, -500, "expire", "manual", DEC_EXPIRE)

    # February (after the window and after as_of): not seen.
    for n, account in enumerate(february_redeemers):
        redeem(account, 7, FEB_FIRST if n == 0 else FEB_FIRST + dt.timedelta(days=1 + n % 20))
    for account in range(ACTIVE + 351, ACTIVE + 451):
        entry(account, 300, "earn", "manual", FEB_FIRST + dt.timedelta(days=4))

    ledger.sort(key=lambda row: (row["created_at"], row["id"]))
    for n, row in enumerate(ledger, 1):  # ids in time order, as an append-only ledger
        row["id"] = n

    balance = dict.fromkeys(range(1, ACCOUNTS + 1), 0)
    lifetime_points = dict.fromkeys(range(1, ACCOUNTS + 1), 0)
    for row in ledger:
        balance[row["account_id"]] += row["points"]
        lifetime_points[row["account_id"]] += max(row["points"], 0)

    def tier(points: int) -> str:
        return next(t for t, floor in (("platinum", 10000), ("gold", 5000), ("silver", 1000),
                                       ("bronze", 0)) if points >= floor)

    return {
        "accounts_website": [
            dict(id=1, name="Kampala Meals", domain="meals.example.ug", currency="UGX",
                 timezone="Africa/Kampala", created_at=OPENED, updated_at=OPENED),
        ],
        "accounts_user": [
            dict(id=u, website_id=1, email=f"client{u}@example.ug", phone=f"+2567{u:08d}",
                 first_name="Client", last_name=str(u), is_active=True, referred_by_id=None,
                 date_joined=OPENED, updated_at=OPENED)
            for u in range(1, ACCOUNTS + 1)
        ],
        "menu_meal": [
            dict(id=1, website_id=1, name="Rolex", category="breakfast",
                 price=Decimal("5000.00"), is_active=True, created_at=OPENED, updated_at=OPENED),
        ],
        "orders_order": [
            dict(id=1, website_id=1, user_id=1, status="delivered", channel="direct",
                 subtotal=Decimal("10000.00"), discount_amount=Decimal("0.00"),
                 discount_type=None, delivery_fee=Decimal("2000.00"),
                 total=Decimal("12000.00"), payment_method="mtn_mobile_money",
                 payment_status="completed", campaign_id=None, loyalty_points_used=0,
                 created_at=OPENED, updated_at=OPENED + dt.timedelta(minutes=50),
                 confirmed_at=OPENED + dt.timedelta(minutes=2),
                 prepared_at=OPENED + dt.timedelta(minutes=20),
                 delivered_at=OPENED + dt.timedelta(minutes=50), cancelled_at=None),
        ],
        "orders_orderitem": [
            dict(id=1, order_id=1, meal_id=1, quantity=2, unit_price=Decimal("5000.00"),
                 line_total=Decimal("10000.00"), created_at=OPENED, updated_at=OPENED),
        ],
        "delivery_delivery": [
            dict(id=1, order_id=1, rider_name="Sam", status="delivered",
                 assigned_at=OPENED + dt.timedelta(minutes=20),
                 picked_up_at=OPENED + dt.timedelta(minutes=25),
                 delivered_at=OPENED + dt.timedelta(minutes=50), distance_km=Decimal("3.20"),
                 created_at=OPENED + dt.timedelta(minutes=20),
                 updated_at=OPENED + dt.timedelta(minutes=50)),
        ],
        "payments_payment": [
            dict(id=1, website_id=1, user_id=1, purpose="order", order_id=1, reference_id=None,
                 method="mtn_mobile_money", amount=Decimal("12000.00"), status="completed",
                 provider_reference="MTN-1", created_at=OPENED, updated_at=OPENED,
                 completed_at=OPENED),
        ],
        "loyalty_loyaltyaccount": [
            dict(id=a, website_id=1, user_id=a, points_balance=balance[a],
                 lifetime_points=lifetime_points[a], tier=tier(lifetime_points[a]),
                 created_at=OPENED, updated_at=OPENED)
            for a in range(1, ACCOUNTS + 1)
        ],
        "loyalty_redemptionitem": [
            dict(id=i, website_id=1, name=name, category=category, item_type=kind,
                 points_required=points, value_amount=Decimal(value), is_active=True,
                 created_at=OPENED, updated_at=OPENED)
            for i, (name, category, kind, points, value) in ITEMS.items()
        ],
        "loyalty_redemption": redemptions,
        "loyalty_loyaltytransaction": ledger,
    }


def build_source(path: Path) -> str:
    """Write the example's source as a SQLite database at `path`; its SQLAlchemy URL."""
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        data = rows()
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                if data.get(table.name):
                    conn.execute(table.insert(), data[table.name])
    finally:
        engine.dispose()
    return url
