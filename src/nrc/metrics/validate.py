"""Input checks shared by the metrics engine and the UFM: every error names the input and what
is wrong. Owns the conversion of user arrays to float64 (torch for the engine, numpy for the
closed forms) and the rules for dtypes, byte order, finiteness and float64 range."""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

# numpy dtype kinds that are numbers: floating, signed/unsigned integer, boolean.
_NUMERIC_KINDS = "fiub"


def _complex_error(name: str, dtype: object) -> ValueError:
    return ValueError(f"{name}: complex dtype {dtype}; only real values are accepted")


def _check_kind(dtype: np.dtype, name: str) -> None:
    """Refuse complex and non-numeric (object, text, date) numpy dtypes, naming the input."""
    if dtype.kind == "c":
        raise _complex_error(name, dtype)
    if dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{name}: dtype {dtype} is not a numeric array; convert it first")


def _native_numeric(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` in native byte order after refusing complex and non-numeric dtypes."""
    _check_kind(x.dtype, name)
    return x if x.dtype.isnative else x.astype(x.dtype.newbyteorder("="))


def shares_memory(tensor: torch.Tensor, x: ArrayLike) -> bool:
    """Whether ``tensor`` starts at the same memory as the array or tensor ``x`` (no copy made)."""
    ptr = x.data_ptr() if isinstance(x, torch.Tensor) else x.__array_interface__["data"][0]
    return tensor.data_ptr() == ptr


def as_float64(x: ArrayLike, name: str, ndim: int | tuple[int, ...] = 2) -> torch.Tensor:
    """``x`` as a float64 tensor on its own device, after checking dtype, rank and finiteness.

    Integer and boolean inputs are rejected rather than cast, so that a label tensor passed by
    mistake is caught; complex and object arrays are rejected; big-endian numpy arrays are
    converted to native order. 1-D inputs are accepted where ``ndim`` allows it.
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(_native_numeric(x, name))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")
    if x.is_complex():
        raise _complex_error(name, x.dtype)
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
        if n_nan or n_inf:
            raise ValueError(
                f"{name}: {n_nan} NaN and {n_inf} Inf entries in shape {tuple(x.shape)}"
            )
        raise ValueError(
            f"{name}: values up to {float(x.abs().max()):.3g} overflow float64 sums; "
            "rescale them (docs/metrics.md, float64 range)"
        )
    return x


def real_float64(x: object, name: str) -> np.ndarray:
    """``x`` (numpy array, torch tensor or nested sequence) as a float64 numpy array.

    Integers and booleans are cast; complex and non-numeric inputs are refused (casting would
    drop the imaginary part). A float64 numpy array is returned as is, without a copy.
    """
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise _complex_error(name, x.dtype)
        x = x.detach().cpu().to(torch.float64).numpy()
    arr = np.asarray(x)
    _check_kind(arr.dtype, name)
    return np.asarray(arr, dtype=np.float64)
