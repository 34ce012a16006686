"""A gradient solver of the UFM problem (1) with free H, W, b, for a grid of (λ_W, λ_H) at once.

The closed forms of :mod:`nrc.ufm.theory` are claims; this solver checks them independently by
minimising (1) from random initialisations. Features are M×d here (rows = samples), the
transpose of the paper's d×M H. Everything runs in float64 on the CPU.

Method: torch.optim.LBFGS with a strong-Wolfe line search, one run per grid point, in
rescaled variables that equalise the curvature of the W- and H-blocks (see
:func:`_variable_scales`). Plain gradient descent crawls along the weakly penalised directions
of H and near the strict saddles of Theorem 4.1 (measured in docs/ufm.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from nrc.metrics.convention import TargetConvention
from nrc.metrics.validate import real_float64
from nrc.ufm.theory import center_targets, check_lambdas

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SolverResult:
    """Solutions of (1) for G grid points: W (G, n, d), H (G, M, d), b (G, n), loss (G,)."""

    W: np.ndarray
    H: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    lambda_w: np.ndarray
    lambda_h: np.ndarray
    grad_max: np.ndarray  # largest |∂L/∂θ| per grid point at the end, (G,)
    iterations: np.ndarray  # L-BFGS iterations per grid point, (G,)
    evaluations: np.ndarray  # loss/gradient evaluations per grid point, (G,)
    seconds: float  # wall time of all the runs
    target_convention: str = "centered"  # "uncentered": solved without a bias (b = 0)


def objective(
    h: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    y: torch.Tensor,
    lambda_w: torch.Tensor | float,
    lambda_h: torch.Tensor | float,
) -> torch.Tensor:
    """Problem (1) for a batch of G problems sharing targets ``y`` (M×n); returns (G,) losses.

    ‖H Wᵀ + 1bᵀ − Y‖²/(2M) + λ_H‖H‖²/(2M) + λ_W‖W‖²/2 with h (G, M, d), w (G, n, d),
    b (G, n) and λ's (G,) tensors or floats. Unbatched inputs (no leading G) give a scalar.
    """
    m = y.shape[-2]
    residual = h @ w.transpose(-1, -2) + b.unsqueeze(-2) - y
    fit = residual.square().sum((-2, -1)) / (2 * m)
    return (
        fit
        + lambda_h * h.square().sum((-2, -1)) / (2 * m)
        + lambda_w * w.square().sum((-2, -1)) / 2
    )


def relative_gap(loss: float, optimum: float, sigma: np.ndarray) -> float:
    """(loss − optimum)/optimum; for optimum 0 (λ_W = λ_H = 0), loss/(tr Σ/2) instead.

    tr Σ/2 is the loss of the trivial point (W, H, b) = (0, 0, ȳ), the natural scale of (1).
    """
    if optimum > 0.0:
        return (loss - optimum) / optimum
    return loss / (0.5 * float(np.trace(sigma)))


def _grid(lambda_w: float | Sequence[float], lambda_h: float | Sequence[float]) -> np.ndarray:
    """The (λ_W, λ_H) pairs as a G×2 array, scalars broadcast; each pair validated."""
    lw = np.atleast_1d(real_float64(lambda_w, "lambda_w"))
    lh = np.atleast_1d(real_float64(lambda_h, "lambda_h"))
    if lw.ndim != 1 or lh.ndim != 1:
        raise ValueError("lambda_w, lambda_h: must be numbers or 1-D sequences")
    try:
        pairs = np.stack(np.broadcast_arrays(lw, lh), axis=1)
    except ValueError as err:
        raise ValueError(
            f"lambda_w, lambda_h: lengths {lw.size} and {lh.size} do not broadcast"
        ) from err
    for pair in pairs:
        check_lambdas(*pair)
    return pairs


def _variable_scales(lambda_w: float, lambda_h: float, m: int) -> tuple[float, float]:
    """Scales α, √M/α with W = α·W′, H = (√M/α)·H′ and α = (λ_H/λ_W)^¼ (1 when unregularized).

    In (W′, H′) the penalties of (1) become √c(‖W′‖² + ‖H′‖²)/2 and every block of the
    Hessian is O(1), whereas in (W, H) the H-block is O(1/M): a diagonal preconditioner for
    L-BFGS, which has no preconditioner argument. It uses only λ_W, λ_H and M, not the answer.
    """
    alpha = (lambda_h / lambda_w) ** 0.25 if lambda_w > 0.0 else 1.0
    return alpha, np.sqrt(m) / alpha


@dataclass(frozen=True)
class _Run:
    h: torch.Tensor
    w: torch.Tensor
    b: torch.Tensor
    iterations: int
    evaluations: int


def _initial_point(
    m: int, n: int, d: int, kappa_sq: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random (H, W, b): W ~ N(0, κ²/d), H ~ N(0, κ²), b ~ N(0, κ⁴), from ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    w = torch.randn(n, d, generator=gen, dtype=torch.float64) * np.sqrt(kappa_sq / d)
    h = torch.randn(m, d, generator=gen, dtype=torch.float64) * np.sqrt(kappa_sq)
    b = torch.randn(n, generator=gen, dtype=torch.float64) * kappa_sq
    return h, w, b


def _lbfgs(
    y: torch.Tensor,
    lambda_w: float,
    lambda_h: float,
    start: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    max_iter: int,
    tolerance_grad: float,
    history_size: int,
    bias: bool,
) -> _Run:
    """One problem (1) by L-BFGS (strong Wolfe) in the preconditioned variables (W′, H′, b);
    without ``bias`` b stays 0 and only (W′, H′) are free."""
    w_scale, h_scale = _variable_scales(lambda_w, lambda_h, y.shape[0])
    h0, w0, b0 = start
    h_free = (h0 / h_scale).requires_grad_()
    w_free = (w0 / w_scale).requires_grad_()
    b = b0.clone().requires_grad_() if bias else torch.zeros_like(b0)

    def loss() -> torch.Tensor:
        return objective(h_free * h_scale, w_free * w_scale, b, y, lambda_w, lambda_h)

    with torch.no_grad():
        initial = loss()
    optimizer = torch.optim.LBFGS(
        [h_free, w_free, b] if bias else [h_free, w_free],
        lr=1.0,
        max_iter=max_iter,
        max_eval=2 * max_iter,
        tolerance_grad=tolerance_grad,
        tolerance_change=0.0,
        history_size=history_size,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = loss() / initial  # relative to the start, so tolerance_grad is scale-free
        value.backward()
        return value

    optimizer.step(closure)
    state = optimizer.state[h_free]
    return _Run(
        (h_free * h_scale).detach(),
        (w_free * w_scale).detach(),
        b.detach(),
        int(state["n_iter"]),
        int(state["func_evals"]),
    )


def minimize(
    y: ArrayLike,
    lambda_w: float | Sequence[float],
    lambda_h: float | Sequence[float],
    d: int,
    *,
    seed: int = 0,
    max_iter: int = 5_000,
    tolerance_grad: float = 1e-12,
    history_size: int = 50,
    targets: TargetConvention = "centered",
) -> SolverResult:
    """Minimise (1) for targets ``y`` (M×n) over free H, W, b at each (λ_W, λ_H) of a grid.

    ``targets="uncentered"`` solves (1) without a bias (b fixed at 0), the problem whose closed
    form uses Σ = YᵀY/M (:func:`nrc.ufm.solve` with the same ``targets``).

    ``lambda_w`` and ``lambda_h`` are numbers or equal-length sequences (G grid points). Every
    grid point starts from the same random point drawn from ``seed`` (W ~ N(0, κ²/d),
    H ~ N(0, κ²), b ~ N(0, κ⁴), κ⁴ = tr(Σ)/n, so H Wᵀ starts at the targets' scale) and runs
    its own L-BFGS until the largest gradient entry of the loss relative to its initial value
    is ≤ ``tolerance_grad``, the line search stops making progress (float64 precision), or
    after ``max_iter`` iterations (logged as a warning). One L-BFGS over the stacked sum of the
    G problems took 2–3 times longer to reach the same gaps (its line search and curvature
    pairs mix decoupled problems; docs/ufm.md), so the grid is solved point by point.
    """
    targets = center_targets(y, targets=targets)
    bias = targets.convention == "centered"
    m, n = targets.raw.shape
    if int(d) != d or d < n:
        raise ValueError(f"d: feature width must be an integer >= n = {n}, got {d}")
    if max_iter < 1 or history_size < 1 or not tolerance_grad >= 0.0:
        raise ValueError(
            f"max_iter, history_size: must be >= 1 and tolerance_grad >= 0, got {max_iter}, "
            f"{history_size}, {tolerance_grad}"
        )
    pairs = _grid(lambda_w, lambda_h)
    kappa_sq = float(np.sqrt(np.trace(targets.spectrum.sigma) / n))
    y_t = torch.from_numpy(targets.raw)
    start_time = time.perf_counter()
    runs = [
        _lbfgs(
            y_t,
            float(lw),
            float(lh),
            _initial_point(m, n, int(d), kappa_sq, seed),
            max_iter,
            tolerance_grad,
            history_size,
            bias,
        )
        for lw, lh in pairs
    ]
    seconds = time.perf_counter() - start_time
    h = torch.stack([r.h for r in runs]).requires_grad_()
    w = torch.stack([r.w for r in runs]).requires_grad_()
    b = torch.stack([r.b for r in runs]).requires_grad_(bias)
    loss = objective(h, w, b, y_t, torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1]))
    grads = torch.autograd.grad(loss.sum(), [h, w, b] if bias else [h, w])
    grad_max = torch.stack([g.abs().flatten(1).amax(1) for g in grads]).amax(0)
    iterations = np.array([r.iterations for r in runs])
    for (lw, lh), its in zip(pairs, iterations, strict=True):
        if its >= max_iter:
            log.warning("UFM solver: λ_W = %g, λ_H = %g stopped at max_iter = %d", lw, lh, its)
    log.info(
        "UFM solver: %d problems, %d L-BFGS iterations in all, %.2f s",
        len(runs),
        iterations.sum(),
        seconds,
    )
    return SolverResult(
        W=w.detach().numpy(),
        H=h.detach().numpy(),
        b=b.detach().numpy(),
        loss=loss.detach().numpy(),
        lambda_w=pairs[:, 0],
        lambda_h=pairs[:, 1],
        grad_max=grad_max.numpy(),
        iterations=iterations,
        evaluations=np.array([r.evaluations for r in runs]),
        seconds=seconds,
        target_convention=targets.convention,
    )
