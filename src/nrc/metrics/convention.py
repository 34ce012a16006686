"""Measurement conventions (owns ``Convention``, ``FEATURE_CONVENTIONS`` and
``TARGET_CONVENTIONS``). Published NRC numbers differ by orders of magnitude between conventions
(docs/metrics.md, Conventions), so every report records the one that produced it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FeatureConvention = Literal["normalized", "centered", "raw"]
FEATURE_CONVENTIONS: tuple[str, ...] = ("normalized", "centered", "raw")
TargetConvention = Literal["centered", "uncentered"]
TARGET_CONVENTIONS: tuple[str, ...] = ("centered", "uncentered")


def check_target_convention(value: str, name: str = "convention.targets") -> TargetConvention:
    """``value`` if it names a target convention, else a ValueError naming ``name``."""
    if value not in TARGET_CONVENTIONS:
        raise ValueError(f"{name}: {value!r} is not one of {TARGET_CONVENTIONS}")
    return value  # type: ignore[return-value]


@dataclass(frozen=True)
class Convention:
    """How NRC1 and NRC2 treat the features and which Σ NRC3 and the UFM use (paper §3.1).

    ``features``:

    - ``"normalized"`` (paper, default): row-normalised, uncentred features h/‖h‖ projected onto
      the top-n principal directions of the *centred* features; mean squared distance, ÷M.
    - ``"centered"``: centred features h − h̄; the squared distance to the subspace divided by the
      total centred variance (scale-free; the "noise component" of Deep NRC).
    - ``"raw"``: unnormalised, uncentred features (the authors' submission-era code); mean squared
      distance ÷M, in units of ‖h‖².

    In every convention the principal directions are those of the centred feature covariance
    (as sklearn's PCA) and NRC3 is the squared Frobenius distance of the normalised matrices.

    ``targets`` (the Σ of NRC3 and of the UFM):

    - ``"centered"`` (paper, default): Σ = (Y − Ȳ)ᵀ(Y − Ȳ)/M, the covariance;
    - ``"uncentered"``: Σ = YᵀY/M, the second moment (the authors' CARLA code; the Σ of a head
      without bias, docs/metrics.md).
    """

    features: FeatureConvention = "normalized"
    targets: TargetConvention = "centered"

    def __post_init__(self) -> None:
        if self.features not in FEATURE_CONVENTIONS:
            raise ValueError(
                f"convention.features: {self.features!r} is not one of {FEATURE_CONVENTIONS}"
            )
        check_target_convention(self.targets)


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
