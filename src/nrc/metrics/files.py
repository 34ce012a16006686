"""Reading users' array files for the command line (``nrc metrics FILE.npz``, ``nrc ufm
--targets FILE.npy``). Owns the checks that turn a missing, empty, truncated or foreign file
into a FileNotFoundError or ValueError naming the file and what is wrong with it."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"
# What np.load raises on damaged files (a truncated member, a bad header, a compressed stream
# that ends early).
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def first_bytes(path: Path, what: str) -> bytes:
    """The first bytes of ``path``; raises if it is missing, not a file, or empty."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open("rb") as f:
        head = f.read(len(NPY_MAGIC))
    if not head:
        raise ValueError(f"{path}: empty file, expected {what}")
    return head


def read_npz(path: Path, required: Sequence[str]) -> dict[str, np.ndarray]:
    """Every array of the .npz archive ``path``; raises unless the arrays ``required`` are in it."""
    head = first_bytes(path, "an .npz archive")
    if head.startswith(NPY_MAGIC):
        raise ValueError(
            f"{path}: a single .npy array, not an .npz archive of arrays {list(required)} "
            "(write one with np.savez(path, H=..., W=..., Y=...))"
        )
    if not head.startswith(ZIP_MAGIC) or not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not an .npz archive (not a complete zip file; truncated?)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except _READ_ERRORS as err:
        raise ValueError(f"{path}: unreadable .npz archive ({type(err).__name__}: {err})") from err
    missing = [k for k in required if k not in arrays]
    if missing:
        raise ValueError(f"{path}: missing array(s) {missing}; found {sorted(arrays)}")
    return arrays


def read_npy(path: Path) -> np.ndarray:
    """The array of the .npy file ``path``."""
    head = first_bytes(path, "an .npy array")
    if not head.startswith(NPY_MAGIC):
        kind = "an .npz archive" if head.startswith(ZIP_MAGIC) else "no NumPy header"
        raise ValueError(f"{path}: not an .npy array ({kind}; write one with np.save)")
    try:
        return np.load(path, allow_pickle=False)
    except _READ_ERRORS as err:
        raise ValueError(f"{path}: unreadable .npy array ({type(err).__name__}: {err})") from err
