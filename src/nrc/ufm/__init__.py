"""The Unconstrained Feature Model (paper §4): closed forms, gradient solver, phase diagram
(its figure is :func:`nrc.plots.phase.plot_phase`).

Features are M×d here (one row per sample, like ``nrc.metrics``); the paper writes H as d×M.
"""

from nrc.ufm.phase import c_grid, phase_diagram, write_phase
from nrc.ufm.solver import SolverResult, minimize, objective, relative_gap
from nrc.ufm.theory import (
    Regime,
    UFMSolution,
    optimal_loss,
    optimal_norms,
    optimal_wwt,
    predicted_residuals,
    solve,
    unregularized_features,
)

__all__ = [
    "Regime",
    "SolverResult",
    "UFMSolution",
    "c_grid",
    "minimize",
    "objective",
    "optimal_loss",
    "optimal_norms",
    "optimal_wwt",
    "phase_diagram",
    "predicted_residuals",
    "relative_gap",
    "solve",
    "unregularized_features",
    "write_phase",
]
