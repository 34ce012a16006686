"""NRC metrics (paper §3.1): streaming statistics, the report and its flat row, NRC3's optimal
γ, the target covariance, feature capture and layer probes; Deep NRC at any layer and the
intrinsic dimension (docs/metrics.md)."""

from nrc.metrics.capture import FeatureCapture
from nrc.metrics.convention import FEATURE_CONVENTIONS, TARGET_CONVENTIONS, Convention
from nrc.metrics.intrinsic import intrinsic_dimension
from nrc.metrics.layers import LayerReport, LayerStats, layer_report
from nrc.metrics.nrc3 import nrc3_at, optimal_gamma, sqrtm_psd
from nrc.metrics.probes import Captured, LayerProbe
from nrc.metrics.report import CollapseReport, Moments
from nrc.metrics.schema import ROW_KEYS, report_to_row, row_matrix
from nrc.metrics.stats import CollapseStats, compute
from nrc.metrics.targets import SINGULAR_RTOL, check_target_covariance, target_covariance

__all__ = [
    "FEATURE_CONVENTIONS",
    "ROW_KEYS",
    "SINGULAR_RTOL",
    "TARGET_CONVENTIONS",
    "Captured",
    "CollapseReport",
    "CollapseStats",
    "Convention",
    "FeatureCapture",
    "LayerProbe",
    "LayerReport",
    "LayerStats",
    "Moments",
    "check_target_covariance",
    "compute",
    "intrinsic_dimension",
    "layer_report",
    "nrc3_at",
    "optimal_gamma",
    "report_to_row",
    "row_matrix",
    "sqrtm_psd",
    "target_covariance",
]
