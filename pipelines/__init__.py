"""Mealytics: the Dagster code location and the product's Python (extraction, CLI)."""
