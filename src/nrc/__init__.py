"""nrc: Neural Regression Collapse toolkit (Andriopoulos et al., NeurIPS 2024)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nrc")  # one source: the version in pyproject.toml
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
