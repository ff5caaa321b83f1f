"""Business constants of the source contract: the loyalty tier thresholds.

An account's `loyalty_loyaltyaccount.tier` is the highest tier whose threshold its
`lifetime_points` reach (SOURCE_SCHEMA.md's invariants, METRICS.md's Loyalty). The seeder
assigns tiers from these numbers, the source rules (`models.rules`) check them, and dbt's
`seeds/loyalty_tiers.csv` carries them to the marts (tests/unit/test_contract_dbt.py keeps
that file equal to this one).

VIP tiers have no thresholds (they are bought); their rank is their position in
`models.enums.VIP_TIERS`.
"""

from __future__ import annotations

from models.enums import LOYALTY_TIERS

#: Loyalty tiers by lifetime points, lowest first: a tier is held from its threshold on.
LOYALTY_TIER_THRESHOLDS: tuple[tuple[str, int], ...] = tuple(
    zip(LOYALTY_TIERS, (0, 1000, 5000, 10000), strict=True)
)
