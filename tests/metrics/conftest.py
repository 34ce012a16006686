"""Random and constructed cases shared by the metrics tests."""

from __future__ import annotations

import numpy as np


def random_spd(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random, well-conditioned, correlated covariance matrix."""
    a = rng.normal(size=(n, n))
    return a @ a.T / n + 0.5 * np.eye(n)


def make_case(seed: int, n: int, d: int, m: int, noise: float = 0.3):
    """Features with an n-dim signal plus noise, a head, correlated targets.

    The noise scale differs per dimension so that every principal direction is well defined
    (isotropic noise makes the directions beyond n arbitrary, and NRC1-by-k with them)."""
    rng = np.random.default_rng(seed)
    y = rng.multivariate_normal(rng.normal(size=n), random_spd(rng, n), size=m)
    mixing = rng.normal(size=(n, d))
    h = y @ mixing + noise * rng.normal(size=(m, d)) * np.linspace(1.0, 0.1, d) + rng.normal(size=d)
    w = rng.normal(size=(n, d))
    b = rng.normal(size=n)
    return h, w, b, y


def orthonormal_rows(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, k)))
    return q.T
