"""The allowed values of the source's choice columns (SOURCE_SCHEMA.md), one tuple per set.

The one place these values are written down. `models.schema` attaches each tuple to its
columns (`column.info["choices"]`); the seeder draws from them by position; the raw checks
and the test that keeps dbt's `accepted_values` in step read them from here.

Order matters and is part of the contract: the seeder stores values as positions in these
tuples, and tier tuples are in rank order, lowest first (dbt's tier seeds rank them so).
"""

from __future__ import annotations

ORDER_STATUSES = ("pending", "confirmed", "preparing", "out_for_delivery", "delivered", "cancelled")
ORDER_CHANNELS = ("direct", "corporate", "catering")
DISCOUNT_TYPES = ("vip", "referral", "campaign", "loyalty", "subscription")
#: orders_order.payment_method and payments_payment.method.
PAYMENT_METHODS = ("cash_on_delivery", "mtn_mobile_money", "airtel_money", "bank_transfer")
#: orders_order.payment_status and payments_payment.status.
PAYMENT_STATUSES = ("pending", "completed", "failed", "refunded")
PAYMENT_PURPOSES = ("order", "subscription", "vip_upgrade", "corporate", "catering")
PLAN_INTERVALS = ("weekly", "monthly")
SUBSCRIPTION_STATUSES = ("ACTIVE", "PAUSED", "CANCELLED", "EXPIRED")
#: VIP tiers, lowest first.
VIP_TIERS = ("silver", "gold", "platinum")
#: Loyalty tiers, lowest first (their thresholds: `models.thresholds`).
LOYALTY_TIERS = ("bronze", "silver", "gold", "platinum")
LEDGER_TYPES = ("earn", "bonus", "redeem", "expire", "adjust")
LEDGER_SOURCES = ("order", "referral", "campaign", "redemption", "manual")
REDEMPTION_ITEM_TYPES = ("discount_code", "wallet_credit", "free_meal", "merchandise")
REDEMPTION_STATUSES = ("completed", "reversed")
REFERRAL_STATUSES = ("pending", "qualified", "rewarded")
CAMPAIGN_DISCOUNT_TYPES = ("percent", "fixed")
CAMPAIGN_STATUSES = ("draft", "active", "paused", "completed")
CAMPAIGN_VARIANTS = ("A", "B", "control")
#: campaigns_campaignrecipient.channel: how the message reached the recipient.
RECIPIENT_CHANNELS = ("email", "sms", "push")
BILLING_CYCLES = ("monthly", "quarterly")
CONTRACT_STATUSES = ("active", "ended", "cancelled")
BOOKING_STATUSES = ("requested", "confirmed", "completed", "cancelled")
DELIVERY_STATUSES = ("assigned", "picked_up", "delivered", "failed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("open", "pending", "resolved", "closed")
CONSULTATION_STATUSES = ("booked", "completed", "cancelled", "no_show")
DIETARY_GOALS = ("weight_loss", "muscle_gain", "maintenance", "diabetic_friendly", "heart_healthy")
ACTIVITY_LEVELS = ("low", "moderate", "high")

#: Every choice set by its name above.
ENUMS: dict[str, tuple[str, ...]] = {
    name: value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, tuple)
}
