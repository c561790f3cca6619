"""What ``amrkit reproduce`` does, as one frozen config: quick default or the paper's scale."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from amrkit.errors import AmrkitError
from amrkit.train.augment import parse_augment

PAPER = {
    # the paper's Table III (MATLAB R2023b; its test frames overlapped its training frames)
    "original": {"accuracy_pct": 97.7, "macs": 8127520, "parameter_memory_mb": 0.3693999},
    "optimized": {"accuracy_pct": 97.43, "macs": 2491798, "parameter_memory_mb": 0.19202802},
    "optimized+int8": {"accuracy_pct": 97.05, "macs": 2491798, "parameter_memory_mb": 0.05206704},
}


@dataclass(frozen=True)
class ReproduceConfig:
    """Every knob of the study. ``quick`` picks small data; the numbers say how small."""

    quick: bool = True
    models: tuple[str, ...] = ("original", "optimized")
    snr_db: float = 30.0
    snr_convention: Literal["measured", "matlab"] = "measured"
    frames_per_class: int = 800
    epochs: int = 12
    lr_drop_epoch: int | None = None  # None: 3/4 of the epochs (the reference's 9 of 12)
    augment: str = "none"  # training-time augmentation (amrkit.train.augment); reference: none
    batch_size: int = 256
    seed: int = 1
    workers: int = 2
    threads: int = 2
    calib_frames: int = 512
    # Fig. 6: the 30 dB models on an independent SNR sweep (frames per class per SNR)
    sweep_snrs: tuple[float, ...] = (-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
    sweep_frames_per_snr: int = 40
    # Fig. 5: the last model trained, quantized and tested at each of these SNRs
    fig5_snrs: tuple[float, ...] = (0.0, 15.0, 30.0)
    fig5_frames_per_class: int = 800
    fig5_epochs: int = 12
    bench_min_time: float = 0.5

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise AmrkitError(what)

        need(
            self.snr_convention in ("measured", "matlab"),
            f"--snr-convention {self.snr_convention!r} is not one of measured, matlab",
        )
        need(len(self.models) >= 1, "--models is empty; give e.g. original,optimized")
        need(
            len(set(self.models)) == len(self.models),
            f"--models {','.join(self.models)} names a model twice; list each once",
        )
        for name in ("frames_per_class", "fig5_frames_per_class"):
            value = getattr(self, name)
            need(value >= 10, f"{name} {value} is too small; give at least 10 frames per class")
        for name in ("epochs", "fig5_epochs", "batch_size", "workers", "threads"):
            value = getattr(self, name)
            need(value >= 1, f"{name.replace('_', '-')} {value} must be >= 1")
        need(
            self.lr_drop_epoch is None or self.lr_drop_epoch >= 0,
            f"lr-drop-epoch {self.lr_drop_epoch} must be >= 0",
        )
        parse_augment(self.augment)
        need(self.sweep_frames_per_snr >= 1, "sweep_frames_per_snr must be >= 1")
        need(self.calib_frames >= 1, "calib_frames must be >= 1")
        need(len(self.sweep_snrs) >= 1, "sweep_snrs is empty")
        need(len(self.fig5_snrs) >= 1, "fig5_snrs is empty")
        need(self.bench_min_time > 0, "bench_min_time must be > 0")

    def drop_epoch(self, epochs: int) -> int:
        """The learning-rate drop of a run of ``epochs`` epochs."""
        return round(0.75 * epochs) if self.lr_drop_epoch is None else self.lr_drop_epoch

    @property
    def label(self) -> str:
        return "quick" if self.quick else "full"


def default_config(full: bool = False, **overrides: Any) -> ReproduceConfig:
    """The quick default (≤ 10 min on 2 cores) or ``full`` (the paper's scale, ≤ 90 min).

    ``overrides`` that are ``None`` are ignored (options not given on the command line).
    """
    base = ReproduceConfig()
    if full:
        base = dataclasses.replace(
            base,
            quick=False,
            frames_per_class=10000,
            epochs=12,
            sweep_snrs=tuple(float(s) for s in range(-10, 31, 2)),
            sweep_frames_per_snr=100,
            fig5_snrs=tuple(float(s) for s in range(0, 31, 5)),
            fig5_frames_per_class=2000,
            fig5_epochs=12,
            bench_min_time=2.0,
        )
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - {f.name for f in dataclasses.fields(ReproduceConfig)})
    if unknown:
        raise AmrkitError(f"unknown reproduce option(s): {', '.join(unknown)}")
    return dataclasses.replace(base, **given)
