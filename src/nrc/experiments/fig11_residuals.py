"""Fig. 11: residuals ε = ŷ − y at initialisation and after convergence, coloured by z(2)/z(1)
with z = Σ^{-½}(y − ȳ) the ZCA-whitened targets (paper App. B: ε = −√c·z at the UFM optimum)."""

from __future__ import annotations

import numpy as np

from nrc.experiments.common import Artifact, Context
from nrc.metrics import sqrtm_psd, target_covariance
from nrc.plots import save_figure, subplots


def zca(y: np.ndarray) -> np.ndarray:
    """ZCA-whitened targets Σ^{-½}(y − ȳ) (paper App. B)."""
    return (y - y.mean(0)) @ np.linalg.inv(sqrtm_psd(target_covariance(y)))


def residuals(ctx: Context, dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ε at initialisation, ε after training, z) on the training set of the main run, as the run
    stored them at its first and last evaluation (eval mode, the targets it trained on)."""
    stored = ctx.results.residuals(dataset)
    missing = {"initial", "final", "y_train"} - set(stored)
    if missing:
        raise ValueError(f"{dataset}: the main run stored no {sorted(missing)} residuals")
    return stored["initial"], stored["final"], zca(stored["y_train"])


def make(ctx: Context) -> Artifact:
    """Two scatter panels (Reacher, as the paper, or the first dataset with n = 2)."""
    res = ctx.results
    candidates = [d for d in ("reacher", *res.plan.datasets) if d in res.plan.datasets]
    name = next(d for d in candidates if int(res.main(d).n.iloc[0]) >= 2)
    eps_init, eps_final, z = residuals(ctx, name)
    colour = np.clip(z[:, 1] / z[:, 0], -1, 1)
    fig, axes = subplots(1, 2, width=3.8, height=3.4)
    for ax, eps, title in ((axes[0], eps_init, "initialisation"), (axes[1], eps_final, "end")):
        points = ax.scatter(eps[:, 0], eps[:, 1], c=colour, cmap="coolwarm", s=5, vmin=-1, vmax=1)
        lim = 1.1 * np.abs(eps[:, :2]).max()
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("ε(1)")
        ax.set_ylabel("ε(2)")
        ax.set_title(f"{name}: {title}")
    fig.colorbar(points, ax=axes[1], label="z(2)/z(1) (clipped to [−1, 1])")
    paths = save_figure(fig, ctx.figures / "fig11_residuals", ctx.formats)
    cov = np.cov(eps_final.T, bias=True)
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    return Artifact(
        "fig11",
        "Fig. 11: residuals at initialisation and after convergence",
        f"{name}, training set. After training the residual correlation is {corr:+.3f} and the "
        f"variances are {cov[0, 0]:.3g}, {cov[1, 1]:.3g}: white noise has correlation 0; the "
        "colour pattern turns around the origin when ε ∝ −z.",
        paths,
    )
