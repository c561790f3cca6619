"""``PruneConfig``: what to remove and how channels are ranked (fine-tuning is a TrainConfig)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from amrkit.errors import AmrkitError

METHODS = ("l1", "l2", "taylor")


@dataclass(frozen=True)
class PruneConfig:
    """Exactly one of ``target_macs`` (at most this many MACs) and ``ratio`` (at most
    ``ratio`` x the run's MACs). Every conv layer keeps the same fraction of its filters
    (rounded, >= ``min_filters``), the largest fraction that meets the budget."""

    method: str = "l1"  # l1/l2: group weight magnitude; taylor: |weight x gradient|
    target_macs: int | None = None
    ratio: float | None = None
    min_filters: int = 1
    taylor_frames: int = 1024  # training frames whose gradients rank channels (taylor)
    seed: int = 0  # which frames (taylor)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise AmrkitError(
                f"--method {self.method!r} is not one of {', '.join(METHODS)}; e.g. l1"
            )
        if (self.target_macs is None) == (self.ratio is None):
            raise AmrkitError(
                "give exactly one of --target-macs N and --ratio R (e.g. --ratio 0.5 halves "
                "the MACs)"
            )
        if self.target_macs is not None and (
            isinstance(self.target_macs, bool)
            or int(self.target_macs) != self.target_macs
            or self.target_macs < 1
        ):
            raise AmrkitError(f"--target-macs {self.target_macs!r} must be an integer >= 1")
        if self.ratio is not None and not (math.isfinite(self.ratio) and 0 < self.ratio < 1):
            raise AmrkitError(f"--ratio {self.ratio!r} must be in (0, 1); e.g. 0.5 halves MACs")
        if self.min_filters < 1:
            raise AmrkitError(f"min_filters {self.min_filters!r} must be >= 1")
        if self.taylor_frames < 1:
            raise AmrkitError(f"taylor_frames {self.taylor_frames!r} must be >= 1")
