"""Models whose last layer is a linear head `W h + b` on penultimate features `h` (paper §1)."""

from nrc.models.mlp import ACTIVATIONS, MLP, RegressionModel

__all__ = ["ACTIVATIONS", "MLP", "RegressionModel"]
