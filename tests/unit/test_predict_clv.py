"""The BG/NBD and Gamma-Gamma fits of pipelines/predict/clv.py against the published CDNOW
figures (Fader, Hardie and Lee 2005), and the per-website frame the dbt model uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.predict import clv

CDNOW = Path(__file__).parent / "fixtures" / "cdnow" / "cdnow_summary.csv"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CDNOW, comment="#")


def _close(found: float, published: float) -> bool:
    """Equal to the published figure's 3 significant digits and more (0.05 % apart)."""
    return abs(found - published) <= 5e-4 * abs(published)


def test_bgnbd_reproduces_the_published_cdnow_fit(cdnow):
    model = clv.fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    for found, published in zip((model.r, model.alpha, model.a, model.b),
                                (0.2426, 4.4135, 0.7929, 2.4258), strict=True):
        assert _close(found, published), (model, published)
    ll = clv.bgnbd_log_likelihood((model.r, model.alpha, model.a, model.b),
                                  cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert ll == pytest.approx(-9582.4, abs=0.05)  # FHL 2005, section 5


def test_bgnbd_conditional_expectation_of_the_papers_customer(cdnow):
    model = clv.BgNbd(0.2426, 4.4135, 0.7929, 2.4258)
    # FHL 2005, section 5: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in 39 weeks.
    assert clv.expected_purchases(model, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


def test_gamma_gamma_reproduces_the_published_cdnow_fit(cdnow):
    model = clv.fit_gamma_gamma(cdnow["x"], cdnow["zbar"])
    for found, published in zip((model.p, model.q, model.v), (6.2488, 3.7446, 15.4477),
                                strict=True):
        assert _close(found, published), (model, published)
    # The population mean p v / (q - 1), and the shrinkage of a customer's mean towards it.
    assert model.mean_value == pytest.approx(model.p * model.v / (model.q - 1))
    value = clv.expected_value(model, [0, 2, 2], [0.0, 22.35, 22.35])
    assert value[0] == pytest.approx(model.mean_value)
    assert 22.35 < value[1] < model.mean_value


def test_the_fit_does_not_depend_on_row_order(cdnow):
    shuffled = cdnow.sample(frac=1.0, random_state=3)
    assert clv.fit_bgnbd(shuffled["x"], shuffled["t_x"], shuffled["T"]) == clv.fit_bgnbd(
        cdnow["x"], cdnow["t_x"], cdnow["T"])


def test_p_alive_is_one_without_repeat_and_falls_with_silence():
    model = clv.BgNbd(0.2426, 4.4135, 0.7929, 2.4258)
    alive = clv.p_alive(model, [0, 3, 3], [0, 30, 10], [40, 40, 40])
    assert alive[0] == 1.0
    assert 0 < alive[2] < alive[1] < 1


def _rfm(cdnow: pd.DataFrame, website_id: int) -> pd.DataFrame:
    return pd.DataFrame({
        "website_id": website_id, "user_id": cdnow["ID"], "frequency": cdnow["x"],
        "recency": cdnow["t_x"], "T": cdnow["T"],
        "monetary": np.where(cdnow["x"] > 0, cdnow["zbar"], np.nan),
    })


def test_predict_customers_fits_each_website_apart(cdnow):
    first = _rfm(cdnow, 1)
    second = _rfm(cdnow[cdnow["x"] <= 3], 2)
    onlyfirst = _rfm(cdnow.iloc[:5].assign(x=0, t_x=0.0), 3)
    found = clv.predict_customers(pd.concat([second, onlyfirst, first]))
    assert list(found["website_id"].unique()) == [1, 2, 3]
    one = found[found["website_id"] == 1]
    assert one["bgnbd_r"].iloc[0] == pytest.approx(0.2426, rel=5e-4)
    two = found[found["website_id"] == 2]
    assert two["bgnbd_r"].iloc[0] != pytest.approx(0.2426, rel=5e-4)
    fitted = found[found["fit_status"] == "fitted"]
    assert fitted["p_alive"].between(0, 1).all()
    assert (fitted["expected_orders_365d"] >= fitted["expected_orders_90d"]).all()
    assert np.allclose(fitted["predicted_value_12m"],
                       fitted["expected_orders_365d"] * fitted["expected_order_value"])
    none = found[found["website_id"] == 3]
    assert (none["fit_status"] == "no_repeat_customers").all()
    assert none[clv.FIGURES].isna().all().all()


def test_predict_customers_of_nothing_is_empty():
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in clv.INPUT_COLUMNS})
    found = clv.predict_customers(empty)
    assert found.empty and {*clv.FIGURES, *clv.PARAMETERS, "fit_status"} <= set(found.columns)


def test_a_website_without_a_positive_repeat_value_has_no_value_model(cdnow):
    free = _rfm(cdnow.iloc[:200], 4)
    free["monetary"] = free.monetary.where(free.frequency == 0, 0.0)  # repeat days cost 0
    found = clv.predict_customers(free)
    assert (found.fit_status == "no_value_model").all()
    assert found[["expected_order_value", "predicted_value_12m"]].isna().all().all()
    assert found[["p_alive", "expected_orders_90d", "expected_orders_365d"]].notna().all().all()
