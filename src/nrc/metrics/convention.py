"""Measurement conventions (owns ``Convention`` and ``FEATURE_CONVENTIONS``). Published NRC
numbers differ by orders of magnitude between conventions (docs/metrics.md, Conventions), so
every report records the one that produced it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FeatureConvention = Literal["normalized", "centered", "raw"]
FEATURE_CONVENTIONS: tuple[str, ...] = ("normalized", "centered", "raw")


@dataclass(frozen=True)
class Convention:
    """How NRC1 and NRC2 treat the features (paper §3.1).

    - ``"normalized"`` (paper, default): row-normalised, uncentred features h/‖h‖ projected onto
      the top-n principal directions of the *centred* features; mean squared distance, ÷M.
    - ``"centered"``: centred features h − h̄; the squared distance to the subspace divided by the
      total centred variance (scale-free; the "noise component" of Deep NRC).
    - ``"raw"``: unnormalised, uncentred features (the authors' submission-era code); mean squared
      distance ÷M, in units of ‖h‖².

    In every convention the principal directions are those of the centred feature covariance
    (as sklearn's PCA), NRC3 is the squared Frobenius distance of the normalised matrices, and
    the target covariance Σ is centred and divided by M.
    """

    features: FeatureConvention = "normalized"

    def __post_init__(self) -> None:
        if self.features not in FEATURE_CONVENTIONS:
            raise ValueError(
                f"convention.features: {self.features!r} is not one of {FEATURE_CONVENTIONS}"
            )


def as_convention(value: Convention | str | None) -> Convention:
    """``value`` as a :class:`Convention`: None gives the default, a string names ``features``."""
    if value is None:
        return Convention()
    if isinstance(value, Convention):
        return value
    if isinstance(value, str):
        if value not in FEATURE_CONVENTIONS:
            raise ValueError(f"convention: {value!r} is not one of {FEATURE_CONVENTIONS}")
        return Convention(features=value)  # type: ignore[arg-type]
    raise TypeError(
        f"convention: expected a Convention or one of {FEATURE_CONVENTIONS}, "
        f"got {type(value).__name__}"
    )
