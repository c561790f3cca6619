"""``SearchConfig``: the family searched, the budgets, the proxy and the final training."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from amrkit.config import from_dict, to_dict
from amrkit.errors import AmrkitError

OBJECTIVES = ("accuracy", "macs", "int8_bytes", "latency_us")  # accuracy up, the rest down
DEFAULT_FILTERS = (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
DEFAULT_KERNELS = (2, 3, 4, 8)


@dataclass(frozen=True)
class SearchConfig:
    trials: int = 40  # proxy trials in the study, over all workers (pruned ones count)
    seed: int = 0  # sampler (worker k uses seed + k), proxy subset, every training run
    # ---- budgets (None: unconstrained) -------------------------------------------------
    max_macs: int | None = None
    max_int8_bytes: int | None = None  # int8 weights + int32 biases (docs/metrics.md)
    max_latency_us: float | None = None  # ORT INT8, batch 1, median
    # ---- the family ---------------------------------------------------------------------
    min_layers: int = 3
    max_layers: int = 8
    filters: tuple[int, ...] = DEFAULT_FILTERS
    kernels: tuple[int, ...] = DEFAULT_KERNELS
    groups: tuple[int, ...] = (1,)  # grouped-conv choices, e.g. (1, 2, 4): a cheaper block
    objectives: tuple[str, ...] = OBJECTIVES
    # known designs tried first (registry names or spec strings, e.g. "optimized"); each is
    # fitted to the budget like any sample, so the sampler starts from the hand design
    start_from: tuple[str, ...] = ()
    # ---- proxy trials: a subset of the frames, few epochs, successive halving ----------
    # (a proxy needs a few hundred SGD steps to rank models at all: 300 frames per class and
    # 3 epochs at batch 128 gave near-chance proxy accuracies on the 11-class matlab data)
    proxy_train_per_class: int = 1000
    proxy_val_per_class: int = 200
    proxy_epochs: int = 4
    proxy_lr_drop_epoch: int = 3
    proxy_batch_size: int = 64
    halving_eta: int = 3  # keep the top 1/eta at each rung (epochs 1, eta, eta^2, ...)
    halving_min_trials: int = 3  # no pruning before this many peers reached a rung
    batch_size: int = 256  # the Pareto models' full training
    lr: float = 0.02
    augment: str = "none"
    teacher: str | None = None  # distill from this run in proxy and final training
    kd_temperature: float = 4.0
    kd_alpha: float = 0.5
    # ---- the Pareto set: full retraining and export -------------------------------------
    final_epochs: int = 12
    final_lr_drop_epoch: int = 9
    max_final: int = 6  # Pareto models retrained (spread over MACs)
    golden_frames: int = 256  # test frames the golden model checks per Pareto model
    latency_min_time: float = 0.3  # seconds of timing per latency measurement
    threads: int = 1  # torch/ORT threads per worker
    heartbeat_s: int = 10  # a worker silent for 3x this loses its trial (retried once)

    def __post_init__(self) -> None:
        for name in ("trials", "min_layers", "max_layers", "proxy_train_per_class"):
            _int_at_least(self, name, 1)
        for name in ("proxy_val_per_class", "proxy_epochs", "final_epochs", "max_final"):
            _int_at_least(self, name, 1)
        for name in ("batch_size", "proxy_batch_size", "threads", "heartbeat_s", "golden_frames"):
            _int_at_least(self, name, 1)
        _int_at_least(self, "halving_eta", 2)
        _int_at_least(self, "halving_min_trials", 1)
        _int_at_least(self, "seed", 0)
        if self.max_layers < self.min_layers:
            raise AmrkitError(
                f"max_layers {self.max_layers} < min_layers {self.min_layers}; give "
                "min_layers <= max_layers"
            )
        for name in ("filters", "kernels", "groups"):
            values = getattr(self, name)
            object.__setattr__(self, name, tuple(sorted(set(values))))
            if not values or any(not isinstance(v, int) or v < 1 for v in values):
                raise AmrkitError(f"{name} {values!r} must be a non-empty list of integers >= 1")
        object.__setattr__(self, "objectives", tuple(self.objectives))
        object.__setattr__(self, "start_from", tuple(self.start_from))
        if any(not isinstance(s, str) or not s for s in self.start_from):
            raise AmrkitError(
                f"start_from {list(self.start_from)!r} must be a list of model names or spec "
                "strings, e.g. [optimized, 16x4p,24x2p,32x2]"
            )
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        if bad or "accuracy" not in self.objectives or len(set(self.objectives)) < 2:
            raise AmrkitError(
                f"objectives {list(self.objectives)} must include accuracy and at least one of "
                f"{', '.join(OBJECTIVES[1:])}"
            )
        for name in ("max_macs", "max_int8_bytes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise AmrkitError(f"--{name.replace('_', '-')} {value!r} must be an integer >= 1")
        if self.max_latency_us is not None and not (
            math.isfinite(self.max_latency_us) and self.max_latency_us > 0
        ):
            raise AmrkitError(f"--max-latency-us {self.max_latency_us!r} must be a number > 0")

    @property
    def measures_latency(self) -> bool:
        return "latency_us" in self.objectives or self.max_latency_us is not None

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "search config") -> SearchConfig:
        return from_dict(cls, data, where=where)


def _int_at_least(cfg: SearchConfig, name: str, low: int) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise AmrkitError(
            f"{name} = {value!r} is invalid; it must be an integer >= {low} "
            f"(config key or --{name.replace('_', '-')})"
        )
