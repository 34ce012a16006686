"""Target sets with known covariance for the UFM tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def _correlated(m: int, n: int, seed: int) -> np.ndarray:
    """M×n targets with a random, correlated (non-diagonal) covariance and a non-zero mean."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(n, n)) + np.eye(n)
    return rng.normal(size=(m, n)) @ mixing + rng.normal(size=n)


def _diagonal(m: int, sigmas: list[float], seed: int) -> np.ndarray:
    """M×n targets whose covariance is exactly diag(σ_j²) (orthogonal centred columns)."""
    rng = np.random.default_rng(seed)
    n = len(sigmas)
    basis, _ = np.linalg.qr(np.column_stack([np.ones(m), rng.normal(size=(m, n))]))
    return np.sqrt(m) * basis[:, 1:] * np.asarray(sigmas) + rng.normal(size=n)


@pytest.fixture
def correlated_targets() -> Callable[[int, int, int], np.ndarray]:
    return _correlated


@pytest.fixture
def diagonal_targets() -> Callable[[int, list[float], int], np.ndarray]:
    return _diagonal
