"""Counter-based randomness: a uniform number from (seed, stream, id), with no state.

The generator draws the lifecycle of a row (how long an order takes, whether a payment
fails, when a subscription is cancelled) from the row's id, so the activity simulator can
recompute exactly the same lifecycle later from what it reads back from the database.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def hash64(seed: int, stream: int, ids) -> np.ndarray:
    """A well-mixed uint64 per id, different for every (seed, stream)."""
    with np.errstate(over="ignore"):
        key = _splitmix(np.array([(seed << 20) ^ stream], dtype=np.uint64))[0]
        x = np.asarray(ids, dtype=np.int64).astype(np.uint64) * _GOLDEN
        return _splitmix(x ^ key)


def uniform(seed: int, stream: int, ids) -> np.ndarray:
    """Uniform floats in [0, 1), one per id."""
    return (hash64(seed, stream, ids) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def normal(seed: int, stream: int, ids) -> np.ndarray:
    """Standard normal floats, one per id (Box-Muller on two hashed uniforms)."""
    u1 = uniform(seed, stream, ids)
    u2 = uniform(seed, stream + 7919, ids)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
