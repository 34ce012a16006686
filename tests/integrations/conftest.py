"""Tiny regression data shared by the integration tests."""

from __future__ import annotations

import torch


def regression_data(
    m: int = 120, d_in: int = 6, n: int = 2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, I); y a smooth nonlinear function of x with n correlated columns."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, d_in, generator=g)
    cols = [x[:, 0] * x[:, 1] + 0.5 * x[:, 2], torch.sin(x[:, 3]) - 0.3 * x[:, 0], x[:, 4] ** 2]
    return x, torch.stack(cols[:n], 1)
