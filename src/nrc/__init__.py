"""nrc: Neural Regression Collapse toolkit (Andriopoulos et al., NeurIPS 2024)."""

__version__ = "0.1.0"
