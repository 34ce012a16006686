"""Input checks shared by the metrics engine: every error names the input and what is wrong."""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def as_float64(x: ArrayLike, name: str, ndim: int | tuple[int, ...] = 2) -> torch.Tensor:
    """``x`` as a float64 tensor on its own device, after checking dtype, rank and finiteness.

    Integer and boolean inputs are rejected rather than cast, so that a label tensor passed by
    mistake is caught. 1-D inputs are accepted where ``ndim`` allows it.
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")
    if not (x.is_floating_point()):
        raise ValueError(f"{name}: dtype {x.dtype} is not floating point; cast it first")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in allowed:
        raise ValueError(
            f"{name}: expected {' or '.join(map(str, allowed))}-D, got {tuple(x.shape)}"
        )
    x = x.detach().to(torch.float64)
    # A NaN or Inf anywhere makes the float64 sum non-finite: one cheap reduction instead of an
    # elementwise mask; the entries are counted only to word the error.
    if not bool(torch.isfinite(x.sum())):
        finite = torch.isfinite(x)
        n_nan = int(torch.isnan(x).sum())
        n_inf = int((~finite).sum()) - n_nan
        raise ValueError(f"{name}: {n_nan} NaN and {n_inf} Inf entries in shape {tuple(x.shape)}")
    return x
