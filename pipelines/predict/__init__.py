"""Predicted customer value: BG/NBD and Gamma-Gamma fitted per website (METRICS.md,
"Customer value, predicted"). Plain numpy/scipy, no dbt or dagster import: the dbt Python
model `int_customers_predicted` calls `clv.predict_customers`, and so do the tests."""
