"""Closed-form global minima of the Unconstrained Feature Model (paper §4, App. C–E).

Problem (1) of the paper, written in this package's layout (features are M×d, one row per
sample, whereas the paper writes H as d×M; targets Y are M×n; head W is n×d):

    L(H, W, b) = ‖H Wᵀ + 1 bᵀ − Y‖²_F / (2M) + λ_H ‖H‖²_F / (2M) + λ_W ‖W‖²_F / 2.

With c = λ_W·λ_H and λ₁ ≥ … ≥ λ_n the eigenvalues of the centred target covariance Σ:

- 0 < c < λmin (Corollary 4.2): W has full rank n;
- λmin ≤ c < λmax (Theorem 4.1, case III): only eigen-directions with λ_i > c survive, so
  W Wᵀ = √(λ_H/λ_W)·U diag((√λ_i − √c)₊) Uᵀ (the eigen-truncated positive part of Lemma D.1);
- c ≥ λmax (case II): W = 0, H = 0, b = ȳ;
- λ_W = λ_H = 0 (Theorem 4.3): zero loss, attained by H = W⁺(Y − 1bᵀ) + (I − W⁺W)Z for any
  full-rank W — the minimiser is not unique and not collapsed.

With exactly one of λ_W, λ_H zero the infimum 0 is approached as ‖W‖ or ‖H‖ grows without
bound and never attained, so no minimiser exists; :func:`solve` refuses that input.

Target convention (docs/ufm.md): ``targets="centered"`` (default) is problem (1) with its free
bias b, whose optimum is b = ȳ and leaves Y − Ȳ and the covariance Σ. ``targets="uncentered"``
is the same problem without a bias (b = 0): every formula holds with Y in place of Y − Ȳ and the
second moment Σ = YᵀY/M in place of the covariance.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from nrc.metrics.convention import TargetConvention, check_target_convention
from nrc.metrics.targets import check_target_covariance, target_covariance
from nrc.metrics.validate import real_float64

log = logging.getLogger(__name__)


class Regime(enum.StrEnum):
    """The regimes of Theorem 4.1 / 4.3, by the size of c = λ_W·λ_H."""

    FULL_RANK = "full_rank"  # 0 < c < λmin, Corollary 4.2
    TRUNCATED = "truncated"  # λmin ≤ c < λmax, rank j* < n
    ZERO = "zero"  # c ≥ λmax, (W, H, b) = (0, 0, ȳ)
    UNREGULARIZED = "unregularized"  # λ_W = λ_H = 0, Theorem 4.3


@dataclass(frozen=True)
class Spectrum:
    """Eigen-decomposition of the target covariance Σ, eigenvalues in decreasing order."""

    sigma: np.ndarray  # Σ, (n, n)
    eigvals: np.ndarray  # λ_1 ≥ … ≥ λ_n > 0
    eigvecs: np.ndarray  # U, columns match eigvals

    @property
    def lambda_min(self) -> float:
        """Smallest eigenvalue of Σ."""
        return float(self.eigvals[-1])

    @property
    def lambda_max(self) -> float:
        """Largest eigenvalue of Σ."""
        return float(self.eigvals[0])

    def apply(self, values: np.ndarray) -> np.ndarray:
        """The symmetric matrix U diag(values) Uᵀ, a function of Σ in its eigenbasis."""
        return (self.eigvecs * values) @ self.eigvecs.T


@dataclass(frozen=True)
class CenteredTargets:
    """Targets Y (M×n), the optimal bias, the targets relative to it and the spectrum of Σ.

    Centred convention (§1): bias ȳ, Y − Ȳ and Σ = (Y − Ȳ)ᵀ(Y − Ȳ)/M. Uncentred convention
    (no bias): bias 0, Y itself and Σ = YᵀY/M.
    """

    raw: np.ndarray
    mean: np.ndarray
    centered: np.ndarray
    spectrum: Spectrum
    convention: TargetConvention = "centered"


@dataclass(frozen=True)
class UFMSolution:
    """A global minimiser of problem (1), features M×d (the paper's Hᵀ).

    ``unique`` is True when the minimiser is unique up to the rotation R of Theorem 4.1 and
    False for λ_W = λ_H = 0, where any member of Theorem 4.3's family is optimal (draw others
    with :func:`unregularized_features`).
    """

    W: np.ndarray  # (n, d)
    H: np.ndarray  # (M, d)
    b: np.ndarray  # (n,)
    loss: float  # minimal value of (1), Lemma D.1
    regime: Regime
    c: float
    lambda_w: float
    lambda_h: float
    rank: int  # rank of W: #{i : λ_i > c}, or n when unregularized
    lambda_min: float
    lambda_max: float
    unique: bool
    target_convention: str = "centered"  # Σ centred (problem (1)) or YᵀY/M (no bias)


def check_targets(y: ArrayLike, name: str = "Y") -> np.ndarray:
    """Targets as a float64 M×n array; raises on complex or non-numeric values, NaN/Inf, wrong
    shape or too few samples."""
    arr = real_float64(y, name)
    if arr.ndim != 2:
        raise ValueError(f"{name}: targets must be an M×n array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: targets contain NaN or Inf")
    m, n = arr.shape
    if n < 1 or m < n + 1:
        raise ValueError(f"{name}: need at least n + 1 samples for n = {n} targets, got M = {m}")
    return arr


def center_targets(
    y: ArrayLike, name: str = "Y", targets: TargetConvention = "centered"
) -> CenteredTargets:
    """Centre the targets (or, ``targets="uncentered"``, keep them: no bias) and diagonalise Σ;
    raises if Σ is singular.

    The paper assumes Σ ≻ 0 (§1); the test is :func:`nrc.metrics.check_target_covariance`.
    """
    check_target_convention(targets, "targets")
    arr = check_targets(y, name)
    sigma = sigma_spectrum(target_covariance(arr, convention=targets), name)
    if targets == "uncentered":
        return CenteredTargets(arr, np.zeros(arr.shape[1]), arr, sigma, targets)
    mean = arr.mean(axis=0)
    return CenteredTargets(arr, mean, arr - mean, sigma)


def sigma_spectrum(sigma: ArrayLike, name: str = "sigma") -> Spectrum:
    """Eigen-decomposition of a given target covariance Σ (symmetric positive definite, checked
    by :func:`nrc.metrics.check_target_covariance`)."""
    mat = real_float64(sigma, name)
    check_target_covariance(mat, name)
    vals, vecs = np.linalg.eigh(mat)
    return Spectrum(mat, vals[::-1], vecs[:, ::-1])


def check_lambdas(lambda_w: float, lambda_h: float) -> tuple[float, float]:
    """λ_W, λ_H as floats; raises unless both are finite and ≥ 0, and both or neither are 0."""
    lw, lh = float(lambda_w), float(lambda_h)
    for name, value in (("lambda_w", lw), ("lambda_h", lh)):
        if not np.isfinite(value) or value < 0.0:
            raise ValueError(f"{name}: must be a finite number >= 0, got {value}")
    if (lw == 0.0) != (lh == 0.0):
        raise ValueError(
            f"lambda_w = {lw}, lambda_h = {lh}: with exactly one of them 0 problem (1) has no "
            "minimiser (its infimum 0 needs ‖W‖ or ‖H‖ → ∞); use both > 0 or both = 0"
        )
    if lw > 0.0 and lw * lh == 0.0:
        raise ValueError(f"lambda_w, lambda_h: the product c = {lw:g}·{lh:g} underflows to 0")
    return lw, lh


def regime_of(c: float, spec: Spectrum) -> Regime:
    """Which case of Theorem 4.1 / 4.3 the product c = λ_W·λ_H falls in."""
    if c == 0.0:
        return Regime.UNREGULARIZED
    if c < spec.lambda_min:
        return Regime.FULL_RANK
    if c < spec.lambda_max:
        return Regime.TRUNCATED
    return Regime.ZERO


def _shrunk_roots(spec: Spectrum, c: float) -> np.ndarray:
    """(√λ_i − √c)₊, the eigenvalues of the eigen-truncated A = Σ^½ − √c I (Lemma D.1)."""
    return np.clip(np.sqrt(spec.eigvals) - np.sqrt(c), 0.0, None)


def optimal_wwt(sigma: ArrayLike, lambda_w: float, lambda_h: float) -> np.ndarray:
    """W Wᵀ at the optimum, √(λ_H/λ_W)·U diag((√λ_i − √c)₊) Uᵀ (Corollary 4.2(ii), Lemma D.1).

    For n = 1 this is the sphere ‖w‖² = λ_H(σ/√c − 1)₊ of §4.2. Needs λ_W, λ_H > 0.
    """
    lw, lh = _positive_lambdas(lambda_w, lambda_h)
    spec = sigma_spectrum(sigma)
    return np.sqrt(lh / lw) * spec.apply(_shrunk_roots(spec, lw * lh))


def optimal_loss(sigma: ArrayLike, lambda_w: float, lambda_h: float) -> float:
    """Minimal value of (1): Σ_i [min(λ_i, c)/2 + √c (√λ_i − √c)₊] (Lemma D.1 divided by M).

    For 0 < c < λmin this is √c·tr(Σ^½) − nc/2 (Corollary 4.2(iv)); for c ≥ λmax it is tr(Σ)/2;
    for c = 0 it is 0.
    """
    lw, lh = check_lambdas(lambda_w, lambda_h)
    c = lw * lh
    spec = sigma_spectrum(sigma)
    return float(np.sum(0.5 * np.minimum(spec.eigvals, c) + np.sqrt(c) * _shrunk_roots(spec, c)))


def mean_loss_lambdas(lambda_w: float, lambda_h: float, n: int) -> tuple[float, float]:
    """The (λ_W, λ_H) of problem (1) whose minimisers are those of the trainer's UFM-style loss.

    That loss is ½·MSE + λ_H‖H‖²_F/(2M) + λ_W‖W‖²_F/2 with the MSE averaged over samples *and*
    the n target dimensions (the authors' code, spec §5.3; docs/training.md). It equals
    L_(1)(H, W, b; nλ_W, nλ_H)/n, so it is problem (1) with both λ's n times larger: its optimum
    has c_eff = n²·λ_W·λ_H and residual covariance c_eff·I (App. B), not λ_W·λ_H·I.
    """
    lw, lh = check_lambdas(lambda_w, lambda_h)
    if int(n) != n or n < 1:
        raise ValueError(f"n: number of targets must be an integer >= 1, got {n}")
    return n * lw, n * lh


def optimal_mean_loss(sigma: ArrayLike, lambda_w: float, lambda_h: float) -> float:
    """Minimal value of the trainer's UFM-style loss (data term averaged over the n targets).

    optimal_loss(Σ, nλ_W, nλ_H)/n, by :func:`mean_loss_lambdas` (Theorem 4.1, Lemma D.1).
    """
    spec = sigma_spectrum(sigma)
    n = spec.eigvals.size
    return optimal_loss(spec.sigma, *mean_loss_lambdas(lambda_w, lambda_h, n)) / n


def optimal_norms(
    sigma: ArrayLike, lambda_w: float, lambda_h: float, m: int
) -> tuple[float, float]:
    """(‖W‖²_F, ‖H‖²_F) at the optimum for M = ``m`` samples.

    ‖W‖²_F = tr(W Wᵀ) and the balance λ_H‖H‖²_F = M·λ_W‖W‖²_F (Lemma C.1, Corollary 4.2(iii)).
    """
    lw, lh = _positive_lambdas(lambda_w, lambda_h)
    w_sq = float(np.trace(optimal_wwt(sigma, lw, lh)))
    return w_sq, m * lw * w_sq / lh


def predicted_residuals(
    y: ArrayLike,
    lambda_w: float,
    lambda_h: float,
    *,
    targets: TargetConvention = "centered",
) -> np.ndarray:
    """Residuals H Wᵀ + 1bᵀ − Y of the optimum (M×n), Corollary 4.2(v) and App. B.

    −(Y − Ȳ) U diag(min(√λ_i, √c)/√λ_i) Uᵀ; for 0 < c < λmin this is −√c (Y − Ȳ) Σ^{-½}, the
    scaled ZCA-whitened targets, whose covariance is c·I. ``targets="uncentered"``: the same
    with Y and Σ = YᵀY/M (a head without bias).
    """
    lw, lh = check_lambdas(lambda_w, lambda_h)
    targets = center_targets(y, targets=targets)
    roots = np.sqrt(targets.spectrum.eigvals)
    shrink = np.minimum(roots, np.sqrt(lw * lh)) / roots
    return -targets.centered @ targets.spectrum.apply(shrink)


def unregularized_features(
    y: ArrayLike, w: ArrayLike, z: ArrayLike, b: ArrayLike | None = None
) -> np.ndarray:
    """A member of Theorem 4.3's family of zero-loss minimisers (M×d features).

    In the paper's layout H = W⁺(Y − b1ᵀ) + (I − W⁺W)Z; here, with rows as samples,
    H = (Y − 1bᵀ)(W⁺)ᵀ + Z(I − W⁺W). ``w`` must be n×d of full rank n, ``z`` M×d, ``b`` (n,)
    (default 0: the theorem needs no bias).
    """
    targets = check_targets(y)
    m, n = targets.shape
    head = real_float64(w, "W")
    free = real_float64(z, "Z")
    if head.ndim != 2 or head.shape[0] != n:
        raise ValueError(f"W: must be n×d with n = {n}, got shape {head.shape}")
    d = head.shape[1]
    if free.shape != (m, d):
        raise ValueError(f"Z: must be M×d = {(m, d)}, got shape {free.shape}")
    if not (np.all(np.isfinite(head)) and np.all(np.isfinite(free))):
        raise ValueError("W, Z: contain NaN or Inf")
    if np.linalg.matrix_rank(head) < n:
        raise ValueError(f"W: must have full rank n = {n} (Theorem 4.3)")
    bias = np.zeros(n) if b is None else real_float64(b, "b")
    if bias.shape != (n,) or not np.all(np.isfinite(bias)):
        raise ValueError(f"b: must be a finite vector of length n = {n}")
    pinv = np.linalg.pinv(head)  # d×n
    return (targets - bias) @ pinv.T + free @ (np.eye(d) - pinv @ head)


def _positive_lambdas(lambda_w: float, lambda_h: float) -> tuple[float, float]:
    lw, lh = check_lambdas(lambda_w, lambda_h)
    if lw == 0.0:
        raise ValueError("lambda_w, lambda_h: this prediction needs λ_W, λ_H > 0 (Theorem 4.1)")
    return lw, lh


def _check_rotation(rotation: ArrayLike | None, n: int, d: int) -> np.ndarray:
    if rotation is None:
        return np.eye(n, d)
    rot = real_float64(rotation, "rotation")
    if rot.shape != (n, d):
        raise ValueError(f"rotation: must be n×d = {(n, d)}, got shape {rot.shape}")
    if not np.allclose(rot @ rot.T, np.eye(n), atol=1e-10):
        raise ValueError("rotation: must be semi-orthogonal, R Rᵀ = I_n (Theorem 4.1)")
    return rot


def solve(
    y: ArrayLike,
    lambda_w: float,
    lambda_h: float,
    d: int,
    *,
    rotation: ArrayLike | None = None,
    targets: TargetConvention = "centered",
) -> UFMSolution:
    """The closed-form global minimiser of (1) for targets ``y`` (M×n) and feature width d ≥ n.

    λ_W, λ_H > 0 (Theorem 4.1, with the eigen-truncated positive part):
    W = (λ_H/λ_W)^¼ A₊^½ R, H = √(λ_W/λ_H) (Y − Ȳ) Σ^{-½} W, b = ȳ, with R = ``rotation``
    (n×d, R Rᵀ = I; default the first n coordinate axes).
    λ_W = λ_H = 0 (Theorem 4.3): W = R, H = Y(W⁺)ᵀ (the member with Z = 0), b = 0.
    ``targets="uncentered"``: (1) without a bias, so Y replaces Y − Ȳ, Σ = YᵀY/M and b = 0.
    """
    lw, lh = check_lambdas(lambda_w, lambda_h)
    targets = center_targets(y, targets=targets)
    spec = targets.spectrum
    m, n = targets.raw.shape
    if int(d) != d or d < n:
        raise ValueError(f"d: feature width must be an integer >= n = {n}, got {d}")
    d = int(d)
    rot = _check_rotation(rotation, n, d)
    c = lw * lh
    regime = regime_of(c, spec)
    common = {
        "c": c,
        "lambda_w": lw,
        "lambda_h": lh,
        "regime": regime,
        "lambda_min": spec.lambda_min,
        "lambda_max": spec.lambda_max,
        "target_convention": targets.convention,
    }
    if regime is Regime.UNREGULARIZED:
        h = unregularized_features(targets.raw, rot, np.zeros((m, d)))
        return UFMSolution(rot, h, np.zeros(n), 0.0, rank=n, unique=False, **common)
    shrunk = _shrunk_roots(spec, c)
    w = (lh / lw) ** 0.25 * spec.apply(np.sqrt(shrunk)) @ rot
    h = np.sqrt(lw / lh) * targets.centered @ spec.apply(1.0 / np.sqrt(spec.eigvals)) @ w
    loss = optimal_loss(spec.sigma, lw, lh)
    rank = int(np.count_nonzero(shrunk > 0.0))
    log.debug("UFM closed form: regime %s, c = %.3g, rank %d, loss %.6g", regime, c, rank, loss)
    return UFMSolution(w, h, targets.mean, loss, rank=rank, unique=True, **common)
