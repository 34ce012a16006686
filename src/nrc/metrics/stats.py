"""Streaming sufficient statistics for NRC1–3 (owns ``CollapseStats`` and ``compute``).

Everything the metrics need is a function of a few float64 sums accumulated batch by batch:
Σh, Σhhᵀ, Σh̃h̃ᵀ (h̃ = h/‖h‖), Σ‖h‖, Σy, Σyyᵀ, Σhyᵀ, the count and, when predictions are given,
the residual sums. Memory is O(d² + n²) whatever the number of samples, and sums from several
batches, processes or GPUs simply add.

h and y are accumulated relative to a shift (the first batch's mean): covariances computed as
E[hhᵀ] − E[h]E[h]ᵀ would otherwise lose the small variances of collapsed features to rounding
when the features have a large mean (ReLU features; docs/metrics.md). Sums with different shifts are
moved to a common shift before they are added (exact algebra).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from scipy.linalg import blas
from threadpoolctl import ThreadpoolController

from nrc.metrics.convention import Convention
from nrc.metrics.report import CollapseReport, Moments, report_from_moments
from nrc.metrics.validate import ArrayLike, as_float64, shares_memory

# The input each accumulated sum comes from, to name it when the float64 sum overflows.
_SUM_SOURCES = {
    "sum_h": "features",
    "sum_hh": "features",
    "sum_norm": "features",
    "sum_y": "targets",
    "sum_yy": "targets",
    "sum_hy": "features and targets",
    "sum_r": "predictions",
    "sum_rr": "predictions",
}


def _add_gram(acc: torch.Tensor, x: torch.Tensor) -> None:
    """acc += xᵀx, written into the lower triangle only (the rest is never read).

    On CPU this calls BLAS dsyrk, which does half the flops of the general product torch offers;
    it is the hot loop of the engine, so the hand-picked kernel is worth it (docs/benchmarks.md).
    """
    if x.device.type == "cpu":
        out = acc.numpy()
        blas.dsyrk(1.0, x.numpy().T, beta=1.0, c=out.T, trans=0, lower=0, overwrite_c=1)
    else:
        acc.add_(x.T @ x)


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The BLAS/OpenMP thread pools loaded in this process (inspected once)."""
    return ThreadpoolController()


def blas_threads(threads: int) -> contextlib.AbstractContextManager[Any]:
    """Limit the BLAS libraries (numpy's, scipy's) to `threads` threads for a block.

    Their default (one per core) spins against other processes on a loaded machine: an eigh
    of 256×256 took 20× longer with two threads than with one under load (docs/benchmarks.md).
    """
    return _threadpools().limit(limits=threads, user_api="blas")


def _block_rows(d: int) -> int:
    """Rows per block of a CPU update: about 2 MiB of float64, so that a block's passes (norms,
    scaling, shift, Gram) read it from cache rather than memory (at 20k × 256 on one thread
    0.078 s in blocks of 1,024 rows against 0.128 s in one block; docs/benchmarks.md)."""
    return max(64, (1 << 18) // d)


def _fields_of(sums: _Sums) -> list[torch.Tensor]:
    return [getattr(sums, f.name) for f in fields(sums)]


def _check_sums_finite(sums: dict[str, np.ndarray]) -> None:
    """Raise, naming the input, when a float64 moment overflowed (inputs that pass the
    finiteness check but whose squares or products exceed float64, |x| ≳ 1e154)."""
    for key, source in _SUM_SOURCES.items():
        if not np.all(np.isfinite(sums[key])):
            raise ValueError(
                f"{source}: the float64 moment {key} overflows; the values are too large to "
                "square in float64 (docs/metrics.md, float64 range) — rescale them"
            )


@dataclass
class _Sums:
    """Running sums; h and y enter as h − shift_h and y − shift_y."""

    count: torch.Tensor
    sum_h: torch.Tensor
    sum_hh: torch.Tensor
    sum_hn_hn: torch.Tensor
    sum_norm: torch.Tensor
    zero_rows: torch.Tensor
    sum_y: torch.Tensor
    sum_yy: torch.Tensor
    sum_hy: torch.Tensor
    pred_count: torch.Tensor
    sum_r: torch.Tensor
    sum_rr: torch.Tensor
    shift_h: torch.Tensor
    shift_y: torch.Tensor

    @classmethod
    def zeros(cls, shift_h: torch.Tensor, shift_y: torch.Tensor) -> _Sums:
        d, n = shift_h.numel(), shift_y.numel()

        def z(*shape: int) -> torch.Tensor:
            return torch.zeros(shape, dtype=torch.float64, device=shift_h.device)

        return cls(
            z(),
            z(d),
            z(d, d),
            z(d, d),
            z(),
            z(),
            z(n),
            z(n, n),
            z(d, n),
            z(),
            z(n),
            z(n, n),
            shift_h.clone(),
            shift_y.to(shift_h.device).clone(),
        )

    def tensors(self) -> list[torch.Tensor]:
        """The additive sums (everything but the shifts)."""
        return [getattr(self, f.name) for f in fields(self) if not f.name.startswith("shift")]

    def reshift(self, shift_h: torch.Tensor, shift_y: torch.Tensor) -> None:
        """Re-express the sums relative to new shifts: h − K' = (h − K) + δ with δ = K − K'."""
        dh, dy = self.shift_h - shift_h, self.shift_y - shift_y
        m = self.count
        self.sum_hh += (
            torch.outer(self.sum_h, dh) + torch.outer(dh, self.sum_h) + m * torch.outer(dh, dh)
        )
        self.sum_yy += (
            torch.outer(self.sum_y, dy) + torch.outer(dy, self.sum_y) + m * torch.outer(dy, dy)
        )
        self.sum_hy += (
            torch.outer(self.sum_h, dy) + torch.outer(dh, self.sum_y) + m * torch.outer(dh, dy)
        )
        self.sum_h += m * dh
        self.sum_y += m * dy
        self.shift_h, self.shift_y = shift_h.clone(), shift_y.clone()


def _accumulate(
    s: _Sums, h: torch.Tensor, y: torch.Tensor, p: torch.Tensor | None, *, in_place: bool
) -> None:
    """Add one block of rows (float64 h, y and predictions p on the sums' device) to `s`; with
    `in_place` the block h is the caller's own copy and is shifted in place."""
    norms = torch.linalg.vector_norm(h, dim=1)
    nonzero = norms > 0
    h_unit = h * torch.where(nonzero, norms, 1.0).reciprocal_().unsqueeze(1)
    hs = h.sub_(s.shift_h) if in_place else h - s.shift_h
    ys = y - s.shift_y
    s.count += h.shape[0]
    s.sum_h += hs.sum(0)
    _add_gram(s.sum_hh, hs)
    _add_gram(s.sum_hn_hn, h_unit)
    s.sum_norm += norms.sum()
    s.zero_rows += (~nonzero).sum()
    s.sum_y += ys.sum(0)
    s.sum_yy += ys.T @ ys
    s.sum_hy += hs.T @ ys
    if p is not None:
        r = p - y
        s.pred_count += r.shape[0]
        s.sum_r += r.sum(0)
        s.sum_rr += r.T @ r


class CollapseStats:
    """Streaming accumulator of the moments behind NRC1–3, EVR, MSE and R².

    ``update`` once per batch (any device; sums kept in float64 on the first batch's device),
    ``merge`` or ``all_reduce`` to combine, then ``compute`` for a :class:`CollapseReport`.
    Predictions must be given for every batch or for none.

    Feature rows that are exactly zero have no direction: they contribute h̃ = 0, i.e. distance 0
    to every subspace, and are counted in ``CollapseReport.zero_feature_rows``.
    """

    def __init__(self) -> None:
        self._sums: _Sums | None = None
        self._with_predictions: bool | None = None

    @property
    def count(self) -> int:
        """Number of samples accumulated."""
        return 0 if self._sums is None else int(self._sums.count.item())

    @property
    def dims(self) -> tuple[int, int] | None:
        """(d, n) once the first batch fixed them."""
        return None if self._sums is None else tuple(self._sums.sum_hy.shape)  # type: ignore[return-value]

    def update(
        self,
        features: ArrayLike,
        targets: ArrayLike,
        predictions: ArrayLike | None = None,
    ) -> CollapseStats:
        """Add a batch: features B×d, targets B×n (or B), predictions B×n (or B) if known."""
        h = as_float64(features, "features", ndim=2)
        owned = not shares_memory(h, features)  # True if h is a copy
        y = as_float64(targets, "targets", ndim=(1, 2))
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if h.shape[1] == 0 or y.shape[1] == 0:
            raise ValueError(
                f"features/targets: shapes {tuple(h.shape)} and {tuple(y.shape)}; the metrics "
                "need d >= 1 feature and n >= 1 target columns"
            )
        if y.shape[0] != h.shape[0]:
            raise ValueError(
                f"targets: {y.shape[0]} rows but features have {h.shape[0]} rows in this batch"
            )
        p = None
        if predictions is not None:
            p = as_float64(predictions, "predictions", ndim=(1, 2)).to(h.device)
            p = p.reshape(-1, 1) if p.ndim == 1 else p
            if p.shape != y.shape:
                raise ValueError(
                    f"predictions: shape {tuple(p.shape)} differs from targets {tuple(y.shape)}"
                )
        self._check_layout(h.shape[1], y.shape[1], p is not None)
        if h.shape[0] == 0:
            return self
        if self._sums is None:
            self._sums = _Sums.zeros(h.mean(0), y.mean(0))
        s = self._sums
        if h.device != s.count.device or not h.is_contiguous():
            h, owned = h.to(s.count.device).contiguous(), True
        y = y.to(s.count.device)
        p = None if p is None else p.to(s.count.device)
        rows = _block_rows(h.shape[1]) if h.device.type == "cpu" else h.shape[0]
        with blas_threads(torch.get_num_threads()):
            for start in range(0, h.shape[0], rows):
                block = slice(start, start + rows)
                pb = None if p is None else p[block]
                _accumulate(s, h[block], y[block], pb, in_place=owned)
        return self

    def _check_layout(self, d: int, n: int, with_predictions: bool) -> None:
        if self._sums is not None and (d, n) != self.dims:
            raise ValueError(
                f"features/targets: batch has d={d}, n={n} but earlier batches had "
                f"d={self.dims[0]}, n={self.dims[1]}"
            )
        if self._with_predictions is not None and with_predictions != self._with_predictions:
            raise ValueError("predictions: give them for every batch or for none")
        self._with_predictions = with_predictions

    def merge(self, other: CollapseStats) -> CollapseStats:
        """Add the sums of ``other`` (e.g. another shard of the data) into this one."""
        if other._sums is None:
            return self
        d, n = other.dims
        self._check_layout(d, n, bool(other._with_predictions))
        if self._sums is None:
            self._sums = _Sums.zeros(other._sums.shift_h, other._sums.shift_y)
        theirs = _Sums(*(t.to(self._sums.count.device).clone() for t in _fields_of(other._sums)))
        theirs.reshift(self._sums.shift_h, self._sums.shift_y)
        for mine, add in zip(self._sums.tensors(), theirs.tensors(), strict=True):
            mine += add
        return self

    def all_reduce(self, group: object | None = None) -> CollapseStats:
        """Sum the moments over all ``torch.distributed`` ranks (in one flat collective)."""
        import torch.distributed as dist

        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError("all_reduce: torch.distributed has no initialised process group")
        if self._sums is None:
            raise ValueError("all_reduce: this rank has no statistics; update() it first")
        shifts = torch.cat([self._sums.shift_h, self._sums.shift_y])
        dist.all_reduce(shifts, op=dist.ReduceOp.SUM, group=group)
        shifts /= dist.get_world_size(group)
        d = self._sums.shift_h.numel()
        self._sums.reshift(shifts[:d], shifts[d:])
        tensors = self._sums.tensors()
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        offset = 0
        for t in tensors:
            t.copy_(flat[offset : offset + t.numel()].reshape(t.shape))
            offset += t.numel()
        return self

    def moments(self) -> Moments:
        """The accumulated sums as float64 numpy arrays (Gram matrices symmetrised)."""
        if self._sums is None or self.count == 0:
            raise ValueError("statistics: empty, no samples were accumulated (call update first)")
        a = {
            f.name: t.cpu().numpy()
            for f, t in zip(fields(_Sums), _fields_of(self._sums), strict=True)
        }
        _check_sums_finite(a)
        for key in ("sum_hh", "sum_hn_hn"):
            lower = np.tril(a[key])
            a[key] = lower + np.tril(lower, -1).T
        return Moments(
            count=int(a["count"]),
            sum_h=a["sum_h"],
            sum_hh=a["sum_hh"],
            sum_hn_hn=a["sum_hn_hn"],
            sum_norm=float(a["sum_norm"]),
            zero_rows=int(a["zero_rows"]),
            sum_y=a["sum_y"],
            sum_yy=a["sum_yy"],
            sum_hy=a["sum_hy"],
            shift_h=a["shift_h"],
            shift_y=a["shift_y"],
            sum_r=a["sum_r"] if self._with_predictions else None,
            sum_rr=a["sum_rr"] if self._with_predictions else None,
        )

    def target_covariance(self) -> np.ndarray:
        """Σ = (1/M) Σ (y − ȳ)(y − ȳ)ᵀ, centred and ÷M (paper §1)."""
        return self.moments().target_covariance()

    def compute(
        self,
        W: ArrayLike,
        b: ArrayLike | None = None,
        *,
        gamma: float | None = None,
        convention: Convention | str | None = None,
        evr_k: int | None = None,
    ) -> CollapseReport:
        """The :class:`CollapseReport` for head weight ``W`` (n×d) and optional bias ``b``.

        ``gamma=None`` reports NRC3 at its optimal γ ∈ [0, λmin]; a number fixes γ (the UFM
        protocol γ = λ_W·λ_H, or the paper's γ from the final W). ``convention`` is a
        :class:`Convention` or its name (``"raw"``). ``evr_k`` principal components enter EVR
        and NRC1-by-k (default min(d, 10)).
        """
        w = as_float64(W, "W", ndim=2).cpu().numpy()
        bias = None if b is None else as_float64(b, "b", ndim=1).cpu().numpy()
        with blas_threads(1):  # d×d problems: a second thread gains nothing (docs/benchmarks.md)
            return report_from_moments(
                self.moments(), w, bias, gamma=gamma, convention=convention, evr_k=evr_k
            )


def compute(
    H: ArrayLike,
    W: ArrayLike,
    Y: ArrayLike,
    b: ArrayLike | None = None,
    *,
    predictions: ArrayLike | None = None,
    gamma: float | None = None,
    convention: Convention | str | None = None,
    evr_k: int | None = None,
) -> CollapseReport:
    """One-call metrics on in-memory arrays: H (M×d features), W (n×d), Y (M×n targets)."""
    stats = CollapseStats().update(H, Y, predictions)
    return stats.compute(W, b, gamma=gamma, convention=convention, evr_k=evr_k)
