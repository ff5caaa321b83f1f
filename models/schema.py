"""The operational database of SOURCE_SCHEMA.md as SQLAlchemy Core metadata.

This is the contract between the demo seeder (which writes it) and the extractor (which
reads whatever it finds, at least this). It is created identically on SQLite and
PostgreSQL. As in Django:

- every table has an integer primary key `id` (on SQLite an INTEGER PRIMARY KEY, the rowid);
- money is NUMERIC(12,2), timestamps are timezone-aware and stored in UTC;
- foreign keys are plain constraints without ON DELETE: Django applies `on_delete` in
  Python, so each foreign key records its rule in `info["on_delete"]` and the activity
  simulator applies it when it hard-deletes a row (see `seeds.simulate.delete_rows`).

The contract grows as the app's migrations do: a column or table added after the first
version is marked `info["since"] = <version>` (ADDED lists them). It is added at the end of
its table, as `ALTER TABLE ... ADD COLUMN` puts it, so a source created at this version and
one migrated to it have the same shape; a source still at an older version lacks it, and is
a source all the same (the rules skip what it lacks; dbt's staging gives NULLs, or no rows).
"""

from __future__ import annotations

import sqlalchemy as sa

from models.enums import (
    ACTIVITY_LEVELS,
    BILLING_CYCLES,
    BOOKING_STATUSES,
    CAMPAIGN_DISCOUNT_TYPES,
    CAMPAIGN_STATUSES,
    CAMPAIGN_VARIANTS,
    CONSULTATION_STATUSES,
    CONTRACT_STATUSES,
    DELIVERY_STATUSES,
    DIETARY_GOALS,
    DISCOUNT_TYPES,
    LEDGER_SOURCES,
    LEDGER_TYPES,
    LOYALTY_TIERS,
    ORDER_CHANNELS,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    PAYMENT_PURPOSES,
    PAYMENT_STATUSES,
    PLAN_INTERVALS,
    RECIPIENT_CHANNELS,
    REDEMPTION_ITEM_TYPES,
    REDEMPTION_STATUSES,
    REFERRAL_STATUSES,
    SUBSCRIPTION_STATUSES,
    TICKET_PRIORITIES,
    TICKET_STATUSES,
    VIP_TIERS,
)

metadata = sa.MetaData()

#: Integer primary keys: BIGINT on PostgreSQL (Django's BigAutoField), INTEGER on SQLite,
#: where only an INTEGER PRIMARY KEY is an alias of the rowid.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Money = sa.Numeric(12, 2)
Timestamp = sa.DateTime(timezone=True)

#: The contract version that added the kitchen times, the recipients' channel and
#: engagement, the tickets' agent and the health profiles (issue 14).
V2 = 2

CASCADE = "CASCADE"
SET_NULL = "SET_NULL"
PROTECT = "PROTECT"


def _pk() -> sa.Column:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def _fk(name: str, target: str, on_delete: str, *, nullable: bool = False) -> sa.Column:
    """A Django ForeignKey column `<name>` referencing `<target>.id`, indexed as Django does."""
    if on_delete == SET_NULL and not nullable:
        raise ValueError(f"{name}: SET_NULL needs a nullable column")
    return sa.Column(
        name,
        Id,
        sa.ForeignKey(f"{target}.id"),
        nullable=nullable,
        index=True,
        info={"on_delete": on_delete},
    )


def _created() -> sa.Column:
    return sa.Column("created_at", Timestamp, nullable=False)


def _updated() -> sa.Column:
    # Indexed: incremental extraction reads by `updated_at > watermark`.
    return sa.Column("updated_at", Timestamp, nullable=False, index=True)


def _choice(name: str, values: tuple[str, ...], *, nullable: bool = False) -> sa.Column:
    """A Django CharField with `choices`: the allowed values live in `info["choices"]`.

    Django does not enforce choices in the database, and neither do we: the warehouse must
    be able to see (and report) a value outside the list.
    """
    width = max(20, max(len(v) for v in values))
    return sa.Column(name, sa.String(width), nullable=nullable, info={"choices": values})


def _since(version: int, column: sa.Column) -> sa.Column:
    """Mark a column added by a later version of the contract (a Django migration)."""
    column.info["since"] = version
    return column


accounts_website = sa.Table(
    "accounts_website",
    metadata,
    _pk(),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("domain", sa.String(100), nullable=False, unique=True),
    sa.Column("currency", sa.String(3), nullable=False, server_default="UGX"),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="Africa/Kampala"),
    _created(),
    _updated(),
)

accounts_user = sa.Table(
    "accounts_user",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("first_name", sa.String(150), nullable=False),
    sa.Column("last_name", sa.String(150), nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False),
    _fk("referred_by_id", "accounts_user", SET_NULL, nullable=True),
    sa.Column("date_joined", Timestamp, nullable=False),
    _updated(),
)

menu_meal = sa.Table(
    "menu_meal",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("category", sa.String(50), nullable=False),
    sa.Column("price", Money, nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False),
    _created(),
    _updated(),
)

campaigns_campaign = sa.Table(
    "campaigns_campaign",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    _choice("discount_type", CAMPAIGN_DISCOUNT_TYPES),
    sa.Column("discount_value", sa.Numeric(10, 2), nullable=False),
    _choice("status", CAMPAIGN_STATUSES),
    sa.Column("start_date", Timestamp, nullable=False),
    sa.Column("end_date", Timestamp, nullable=False),
    sa.Column("target_audience", sa.String(100), nullable=False),
    sa.Column("budget", Money, nullable=True),
    _created(),
    _updated(),
)

orders_order = sa.Table(
    "orders_order",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    _fk("user_id", "accounts_user", CASCADE),
    _choice("status", ORDER_STATUSES),
    _choice("channel", ORDER_CHANNELS),
    sa.Column("subtotal", Money, nullable=False),
    sa.Column("discount_amount", Money, nullable=False),
    _choice("discount_type", DISCOUNT_TYPES, nullable=True),
    sa.Column("delivery_fee", Money, nullable=False),
    sa.Column("total", Money, nullable=False),
    _choice("payment_method", PAYMENT_METHODS),
    _choice("payment_status", PAYMENT_STATUSES),
    _fk("campaign_id", "campaigns_campaign", SET_NULL, nullable=True),
    sa.Column("loyalty_points_used", sa.Integer(), nullable=False),
    _created(),
    _updated(),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.Column("cancelled_at", Timestamp, nullable=True),
    # When the kitchen accepted the order, and when it marked it ready (handed to the rider).
    _since(V2, sa.Column("confirmed_at", Timestamp, nullable=True)),
    _since(V2, sa.Column("prepared_at", Timestamp, nullable=True)),
)

orders_orderitem = sa.Table(
    "orders_orderitem",
    metadata,
    _pk(),
    _fk("order_id", "orders_order", CASCADE),
    _fk("meal_id", "menu_meal", PROTECT),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("unit_price", Money, nullable=False),
    sa.Column("line_total", Money, nullable=False),
    _created(),
    _updated(),
)

payments_payment = sa.Table(
    "payments_payment",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    _fk("user_id", "accounts_user", CASCADE),
    _choice("purpose", PAYMENT_PURPOSES),
    _fk("order_id", "orders_order", CASCADE, nullable=True),
    # Polymorphic: the id of the subscription, VIP upgrade, contract or booking paid for.
    sa.Column("reference_id", sa.BigInteger(), nullable=True),
    _choice("method", PAYMENT_METHODS),
    sa.Column("amount", Money, nullable=False),
    _choice("status", PAYMENT_STATUSES),
    sa.Column("provider_reference", sa.String(64), nullable=False),
    _created(),
    _updated(),
    sa.Column("completed_at", Timestamp, nullable=True),
)

payments_refund = sa.Table(
    "payments_refund",
    metadata,
    _pk(),
    _fk("payment_id", "payments_payment", CASCADE),
    sa.Column("amount", Money, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    _created(),
)

subscriptions_plan = sa.Table(
    "subscriptions_plan",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("price", Money, nullable=False),
    _choice("interval", PLAN_INTERVALS),
    sa.Column("meals_per_week", sa.Integer(), nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False),
    _created(),
    _updated(),
)

subscriptions_subscription = sa.Table(
    "subscriptions_subscription",
    metadata,
    _pk(),
    _fk("user_id", "accounts_user", CASCADE),
    _fk("plan_id", "subscriptions_plan", PROTECT),
    _choice("status", SUBSCRIPTION_STATUSES),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("current_period_end", Timestamp, nullable=False),
    sa.Column("cancelled_at", Timestamp, nullable=True),
    _created(),
    _updated(),
)

vip_viptier = sa.Table(
    "vip_viptier",
    metadata,
    _pk(),
    sa.Column(
        "user_id",
        Id,
        sa.ForeignKey("accounts_user.id"),
        nullable=False,
        unique=True,
        info={"on_delete": CASCADE},
    ),
    _choice("tier_level", VIP_TIERS),
    sa.Column("discount_percent", sa.Numeric(5, 2), nullable=False),
    sa.Column("upgraded_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=True),
    _created(),
    _updated(),
)

vip_vipupgrade = sa.Table(
    "vip_vipupgrade",
    metadata,
    _pk(),
    _fk("user_id", "accounts_user", CASCADE),
    _choice("from_tier", VIP_TIERS, nullable=True),
    _choice("to_tier", VIP_TIERS),
    sa.Column("price", Money, nullable=False),
    _created(),
)

loyalty_loyaltyaccount = sa.Table(
    "loyalty_loyaltyaccount",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    sa.Column(
        "user_id",
        Id,
        sa.ForeignKey("accounts_user.id"),
        nullable=False,
        unique=True,
        info={"on_delete": CASCADE},
    ),
    sa.Column("points_balance", sa.Integer(), nullable=False),
    sa.Column("lifetime_points", sa.Integer(), nullable=False),
    _choice("tier", LOYALTY_TIERS),
    _created(),
    _updated(),
)

loyalty_redemptionitem = sa.Table(
    "loyalty_redemptionitem",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("category", sa.String(50), nullable=False),
    _choice("item_type", REDEMPTION_ITEM_TYPES),
    sa.Column("points_required", sa.Integer(), nullable=False),
    sa.Column("value_amount", Money, nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False),
    _created(),
    _updated(),
)

loyalty_redemption = sa.Table(
    "loyalty_redemption",
    metadata,
    _pk(),
    _fk("account_id", "loyalty_loyaltyaccount", CASCADE),
    _fk("item_id", "loyalty_redemptionitem", PROTECT),
    sa.Column("points_spent", sa.Integer(), nullable=False),
    _choice("status", REDEMPTION_STATUSES),
    _created(),
    _updated(),
)

loyalty_loyaltytransaction = sa.Table(
    "loyalty_loyaltytransaction",
    metadata,
    _pk(),
    _fk("account_id", "loyalty_loyaltyaccount", CASCADE),
    sa.Column("points", sa.Integer(), nullable=False),
    _choice("transaction_type", LEDGER_TYPES),
    _choice("source", LEDGER_SOURCES),
    # The ledger outlives what it points at: a deleted order leaves its entries in place.
    _fk("order_id", "orders_order", SET_NULL, nullable=True),
    _fk("redemption_id", "loyalty_redemption", SET_NULL, nullable=True),
    _created(),
)

referrals_referral = sa.Table(
    "referrals_referral",
    metadata,
    _pk(),
    _fk("referrer_id", "accounts_user", CASCADE),
    _fk("referee_id", "accounts_user", CASCADE),
    _choice("status", REFERRAL_STATUSES),
    sa.Column("bonus_amount", Money, nullable=False),
    sa.Column("rewarded_at", Timestamp, nullable=True),
    _created(),
    _updated(),
)

campaigns_campaignrecipient = sa.Table(
    "campaigns_campaignrecipient",
    metadata,
    _pk(),
    _fk("campaign_id", "campaigns_campaign", CASCADE),
    _fk("user_id", "accounts_user", CASCADE),
    _choice("variant", CAMPAIGN_VARIANTS),
    sa.Column("sent_at", Timestamp, nullable=False),
    _created(),
    _since(V2, _choice("channel", RECIPIENT_CHANNELS, nullable=True)),
    _since(V2, sa.Column("opened_at", Timestamp, nullable=True)),
    _since(V2, sa.Column("clicked_at", Timestamp, nullable=True)),
    # Nullable, as a migration adds it to a table that already holds rows.
    _since(V2, sa.Column("updated_at", Timestamp, nullable=True, index=True)),
)

corporate_contract = sa.Table(
    "corporate_contract",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    sa.Column("company_name", sa.String(200), nullable=False),
    sa.Column("contract_value", Money, nullable=False),
    _choice("billing_cycle", BILLING_CYCLES),
    sa.Column("start_date", sa.Date(), nullable=False),
    sa.Column("end_date", sa.Date(), nullable=False),
    _choice("status", CONTRACT_STATUSES),
    _created(),
    _updated(),
)

catering_booking = sa.Table(
    "catering_booking",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    _fk("user_id", "accounts_user", CASCADE),
    sa.Column("event_date", sa.Date(), nullable=False),
    sa.Column("guests", sa.Integer(), nullable=False),
    sa.Column("amount", Money, nullable=False),
    _choice("status", BOOKING_STATUSES),
    _created(),
    _updated(),
)

delivery_delivery = sa.Table(
    "delivery_delivery",
    metadata,
    _pk(),
    _fk("order_id", "orders_order", CASCADE),
    sa.Column("rider_name", sa.String(100), nullable=False),
    _choice("status", DELIVERY_STATUSES),
    sa.Column("assigned_at", Timestamp, nullable=False),
    sa.Column("picked_up_at", Timestamp, nullable=True),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.Column("distance_km", sa.Numeric(6, 2), nullable=False),
    _created(),
    _updated(),
)

support_ticket = sa.Table(
    "support_ticket",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    _fk("user_id", "accounts_user", CASCADE),
    sa.Column("category", sa.String(50), nullable=False),
    _choice("priority", TICKET_PRIORITIES),
    _choice("status", TICKET_STATUSES),
    _created(),
    sa.Column("first_response_at", Timestamp, nullable=True),
    sa.Column("resolved_at", Timestamp, nullable=True),
    _updated(),
    _since(V2, sa.Column("assigned_agent", sa.String(100), nullable=True)),
)

# Personal data: allergies and calorie targets never reach a mart (only counts by goal).
health_healthprofile = sa.Table(
    "health_healthprofile",
    metadata,
    _pk(),
    sa.Column(
        "user_id",
        Id,
        sa.ForeignKey("accounts_user.id"),
        nullable=False,
        unique=True,
        info={"on_delete": CASCADE},
    ),
    _choice("dietary_goal", DIETARY_GOALS),
    sa.Column("allergies", sa.Text(), nullable=False),
    sa.Column("daily_calorie_target", sa.Integer(), nullable=True),
    _choice("activity_level", ACTIVITY_LEVELS),
    _created(),
    _updated(),
    info={"since": V2},
)

nutrition_consultation = sa.Table(
    "nutrition_consultation",
    metadata,
    _pk(),
    _fk("website_id", "accounts_website", PROTECT),
    _fk("user_id", "accounts_user", CASCADE),
    sa.Column("nutritionist_name", sa.String(100), nullable=False),
    sa.Column("scheduled_at", Timestamp, nullable=False),
    _choice("status", CONSULTATION_STATUSES),
    sa.Column("fee", Money, nullable=False),
    _created(),
    _updated(),
)

#: Every source table, parents before children (a valid insert order).
TABLES: tuple[sa.Table, ...] = tuple(metadata.sorted_tables)

#: Append-only ledgers: no `updated_at`, rows are never changed once written.
APPEND_ONLY = frozenset(
    t.name for t in metadata.sorted_tables if "updated_at" not in t.c
)

#: What later versions of the contract added, per table: every column of a table added
#: whole (`table.info["since"]`), else the columns marked `info["since"]`.
ADDED: dict[str, tuple[str, ...]] = {
    t.name: tuple(
        c.name for c in t.columns if t.info.get("since") or c.info.get("since")
    )
    for t in TABLES
    if t.info.get("since") or any(c.info.get("since") for c in t.columns)
}
#: Tables a source at an older version of the contract does not have.
ADDED_TABLES = frozenset(t.name for t in TABLES if t.info.get("since"))
