"""BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers the easy way") and
Gamma-Gamma (Fader, Hardie and Lee 2005, "RFM and CLV"; Colombo and Jiang 1999), fitted
by maximum likelihood, and the per-customer figures METRICS.md asks for.

Inputs per customer, in days: `frequency` (x, repeat purchase days), `recency` (t_x, first
to last purchase), `T` (first purchase to as_of), `monetary` (mean value of the repeat
purchases; ignored where x = 0).

The fits are deterministic for equal inputs whatever their row order: the likelihood is
summed over the distinct (x, t_x, T) rows (resp. (x, m)) in sorted order, weighted by
their count, and the optimiser starts from fixed values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

#: Horizons of the expected orders, in days (METRICS.md: the next 90 and 365 days).
HORIZONS = (90, 365)


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float

    @property
    def mean_value(self) -> float:
        """The population mean of a purchase's value, E[Z] = p v / (q - 1) (q > 1)."""
        return self.p * self.v / (self.q - 1.0) if self.q > 1.0 else float("nan")


def bgnbd_log_likelihood(params, x, t_x, T) -> np.ndarray:
    """Each customer's BG/NBD log-likelihood (FHL 2005, equation 6)."""
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    common = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
              + betaln(a, b + x) - betaln(a, b))
    still = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1.0, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return common + np.logaddexp(still, dropped)


def gamma_gamma_log_likelihood(params, x, m) -> np.ndarray:
    """Each repeat customer's Gamma-Gamma log-likelihood of their mean value m over x
    purchases (x > 0, m > 0)."""
    p, q, v = params
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
            + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * np.log(x * m + v))


#: Bounds of every log-parameter: a likelihood whose supremum lies at infinity (BG/NBD's
#: a and b growing together: next to no dropout; Gamma-Gamma's p: next to no spread of a
#: customer's order values) stops at a bound, deterministically, with figures equal to
#: the limiting model's to many digits.
LOG_BOUND = 15.0


def _maximise(neg_ll, dims: int) -> np.ndarray:
    """Maximum likelihood over log-parameters: L-BFGS-B (finite-difference gradients) from 0
    (every parameter 1) within ±LOG_BOUND. Its stop is kept when finite, also when its line
    search gave up at the precision of the differences: a polish by Nelder-Mead then walks
    a flat ridge for thousands of steps and gains < 1e-5 of the mean log-likelihood.
    Nelder-Mead from 0 only when L-BFGS-B ended on no finite value."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * dims
    first = minimize(neg_ll, np.zeros(dims), method="L-BFGS-B", bounds=bounds,
                     options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
    if np.isfinite(first.fun):
        return np.exp(first.x)
    again = minimize(neg_ll, np.zeros(dims), method="Nelder-Mead", bounds=bounds,
                     options={"xatol": 1e-8, "fatol": 1e-13, "maxfev": 4000 * dims})
    return np.exp(again.x)


def _column(values) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(-1)


def _distinct(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The distinct rows of `columns`, sorted, with their count as `weight`."""
    counted = frame.groupby(columns, sort=True).size().rename("weight").reset_index()
    return counted.sort_values(columns, kind="mergesort").reset_index(drop=True)


def fit_bgnbd(frequency, recency, T) -> BgNbd:
    frame = pd.DataFrame({"x": _column(frequency), "t_x": _column(recency), "T": _column(T)})
    rows = _distinct(frame, ["x", "t_x", "T"])
    x, t_x, big_t = (rows[c].to_numpy(float) for c in ("x", "t_x", "T"))
    weight = rows["weight"].to_numpy(float)
    total = weight.sum()

    def neg_ll(log_params):
        ll = bgnbd_log_likelihood(np.exp(log_params), x, t_x, big_t)
        value = -(weight * ll).sum() / total
        return value if np.isfinite(value) else np.inf

    return BgNbd(*(float(v) for v in _maximise(neg_ll, 4)))


def fit_gamma_gamma(frequency, monetary) -> GammaGamma:
    """Fitted on the customers with frequency > 0 and a positive mean value only."""
    frame = pd.DataFrame({"x": _column(frequency), "m": _column(monetary)})
    frame = frame[(frame["x"] > 0) & (frame["m"] > 0)]
    rows = _distinct(frame, ["x", "m"])
    x, m = rows["x"].to_numpy(float), rows["m"].to_numpy(float)
    weight = rows["weight"].to_numpy(float)
    total = weight.sum()

    def neg_ll(log_params):
        value = -(weight * gamma_gamma_log_likelihood(np.exp(log_params), x, m)).sum() / total
        return value if np.isfinite(value) else np.inf

    return GammaGamma(*(float(v) for v in _maximise(neg_ll, 3)))


def p_alive(model: BgNbd, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) (FHL 2005, equation 11 ff.); 1 where x = 0 (in BG/NBD a
    customer can only drop out right after a repeat purchase)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_odds = np.log(a) - np.log(b + x - 1.0) + (r + x) * np.log((alpha + T) / (alpha + t_x))
        odds = np.where(x > 0, np.exp(log_odds), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(model: BgNbd, t: float, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchase days in the next t days (FHL 2005, eq. 10)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    z = t / (alpha + T + t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        head = (a + b + x - 1.0) / (a - 1.0)
        tail = 1.0 - np.exp((r + x) * np.log((alpha + T) / (alpha + T + t))) * hyp2f1(
            r + x, b + x, a + b + x - 1.0, z)
    return head * tail * p_alive(model, x, t_x, T)


def expected_value(model: GammaGamma, x, m) -> np.ndarray:
    """E[Z | x, m]: a customer's expected mean purchase value, p (v + x m) / (p x + q - 1),
    the population mean p v / (q - 1) where x = 0 (Fader, Hardie and Lee 2005, "RFM and
    CLV", equation 5); NaN where that mean does not exist (x = 0 and q <= 1)."""
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.asarray(m, dtype=float), 0.0)
    p, q, v = model.p, model.q, model.v
    weight = p * x + q - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(weight > 0, p * (v + x * m) / weight, np.nan)


#: The columns `predict_customers` reads and adds.
INPUT_COLUMNS = ["website_id", "user_id", "frequency", "recency", "T", "monetary"]
FIGURES = ["p_alive", "expected_orders_90d", "expected_orders_365d", "expected_order_value",
           "predicted_value_12m"]
PARAMETERS = ["bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "gg_p", "gg_q", "gg_v"]


def _website_figures(customers: pd.DataFrame) -> pd.DataFrame:
    """One website's customers with the figures, the fitted parameters and `fit_status`:
    'fitted'; 'no_repeat_customers' (nothing to fit: every figure NULL); 'no_value_model'
    (no repeat customer with a positive mean value to fit Gamma-Gamma on, or no finite
    value: the value figures NULL); 'fit_failed' (non-finite order figures: NULL)."""
    out = customers.copy()
    for column in FIGURES + PARAMETERS:
        out[column] = np.nan
    x, t_x, big_t = (out[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    if not (x > 0).any():
        out["fit_status"] = "no_repeat_customers"
        return out
    bg = fit_bgnbd(x, t_x, big_t)
    monetary = out["monetary"].to_numpy(float)
    valued = (x > 0) & (monetary > 0)
    gg = fit_gamma_gamma(x, monetary) if valued.any() else GammaGamma(np.nan, np.nan, np.nan)
    out["p_alive"] = p_alive(bg, x, t_x, big_t)
    for horizon in HORIZONS:
        out[f"expected_orders_{horizon}d"] = expected_purchases(bg, horizon, x, t_x, big_t)
    value = expected_value(gg, x, monetary)
    out["expected_order_value"] = value
    out["predicted_value_12m"] = out["expected_orders_365d"] * value
    for column, number in zip(PARAMETERS, (bg.r, bg.alpha, bg.a, bg.b, gg.p, gg.q, gg.v),
                              strict=True):
        out[column] = number
    orders = ["p_alive", "expected_orders_90d", "expected_orders_365d"]
    finite = np.isfinite(out[orders]).all(axis=1)
    out.loc[~finite, orders] = np.nan
    out["fit_status"] = np.where(finite, "fitted", "fit_failed")
    no_value = ~np.isfinite(out["predicted_value_12m"])
    out.loc[no_value, ["expected_order_value", "predicted_value_12m"]] = np.nan
    out.loc[no_value & finite, "fit_status"] = "no_value_model"
    return out


def predict_customers(rfm: pd.DataFrame) -> pd.DataFrame:
    """Every customer of `rfm` (INPUT_COLUMNS, one row per website and user) with FIGURES,
    PARAMETERS and fit_status, both models fitted per website; sorted by website and user,
    so equal inputs give equal rows whatever their order."""
    frame = rfm[INPUT_COLUMNS].sort_values(["website_id", "user_id"], kind="mergesort")
    parts = [_website_figures(group.reset_index(drop=True))
             for _, group in frame.groupby("website_id", sort=True)]
    if not parts:
        empty = frame.copy()
        for column in FIGURES + PARAMETERS:
            empty[column] = pd.Series(dtype=float)
        empty["fit_status"] = pd.Series(dtype=str)
        return empty
    return pd.concat(parts, ignore_index=True)
