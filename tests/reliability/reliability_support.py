"""Constants and helpers shared by the reliability tests and benchmarks/crash_soak.py."""

from __future__ import annotations

from dbt_helpers import mart_hashes  # noqa: F401 (the reliability tests import it here)

#: The marts' date of the shared build (the small source spans 2026-10-01 … 10-15).
AS_OF = "2026-10-14"
#: Seeds and models, not the dbt tests (tests/integration runs those).
BUILD = ("build", "--exclude", "resource_type:test", "resource_type:unit_test")

#: The published aggregates a staff name may appear in (DESIGN.md), and their name column.
STAFF_MARTS = {
    "fct_rider_performance_monthly": "rider_name",
    "fct_nutritionist_performance_monthly": "nutritionist_name",
    "fct_support_agents_monthly": "assigned_agent",
}
