"""BG/NBD and Gamma-Gamma fitted per website on int_customers_rfm_summarised: each
customer's p_alive, expected delivered orders in the next 90 and 365 days, expected mean
order value and predicted 12-month value, with the website's fitted parameters.

A thin dbt Python model (run in dbt's own process): the computing is
pipelines.predict.clv.predict_customers, a plain module the tests call directly.
dim_customer_predictions is the contracted mart over it. A table rebuilt whole: the fit
takes every customer of a website at once. On Spark it runs in the dbt process too, on the
session's Spark (dbt_project/dbt_spark_session.py)."""

import pandas as pd

from pipelines.predict import clv


def model(dbt, session):
    dbt.config(materialized="table")
    # DuckDB hands a relation (.df()), Spark a DataFrame (.toPandas(): dbt_spark_session.py).
    relation = dbt.ref("int_customers_rfm_summarised")
    rfm = relation.toPandas() if hasattr(relation, "toPandas") else relation.df()
    frequency = rfm["frequency"].astype(float)
    repeat_total = rfm["repeat_total"].astype(float)
    inputs = pd.DataFrame({
        "website_id": rfm["website_id"].astype("int64"),
        "user_id": rfm["user_id"].astype("int64"),
        "frequency": frequency,
        "recency": rfm["recency_days"].astype(float),
        "T": rfm["t_days"].astype(float),
        "monetary": (repeat_total / frequency).where(frequency > 0),
    })
    found = clv.predict_customers(inputs)
    figures = found[["website_id", "user_id", *clv.FIGURES, *clv.PARAMETERS, "fit_status"]]
    # NaN (no figure) becomes NULL in the warehouse: a nullable float column.
    return figures.astype({column: "Float64" for column in clv.FIGURES + clv.PARAMETERS})
