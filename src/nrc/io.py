"""Atomic file writing: a result is either complete on disk or absent, never half-written."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); on success it is renamed to
    ``path`` with mode 0644, on error it is removed. Parent folders are created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it into place."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def open_hdf5(path: str | os.PathLike[str]) -> h5py.File:
    """``path`` opened read-only as HDF5; a damaged or foreign file raises ValueError naming it."""
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 file: {err}") from err


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
