"""NRC metrics (paper §3.1): streaming statistics, the report, NRC3's optimal γ, feature capture."""

from nrc.metrics.capture import FeatureCapture
from nrc.metrics.convention import Convention
from nrc.metrics.nrc3 import nrc3_at, optimal_gamma, sqrtm_psd
from nrc.metrics.report import CollapseReport, Moments
from nrc.metrics.stats import CollapseStats, compute

__all__ = [
    "CollapseReport",
    "CollapseStats",
    "Convention",
    "FeatureCapture",
    "Moments",
    "compute",
    "nrc3_at",
    "optimal_gamma",
    "sqrtm_psd",
]
