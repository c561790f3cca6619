"""What ``amrkit reproduce`` does, as one frozen config: quick default or the paper's scale.

A study trains every model under one or more training *protocols* (a row group of Table III
and a series of Figs. 5-6 each): the paper's (12 epochs, no augmentation) and amrkit's
recipe (longer schedule, phase/conjugate augmentation, docs/training.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from amrkit.errors import AmrkitError
from amrkit.runtime.device import parse_device
from amrkit.train.augment import parse_augment

PAPER = {
    # the paper's Table III (MATLAB R2023b; its test frames overlapped its training frames)
    "original": {"accuracy_pct": 97.7, "macs": 8127520, "parameter_memory_mb": 0.3693999},
    "optimized": {"accuracy_pct": 97.43, "macs": 2491798, "parameter_memory_mb": 0.19202802},
    "optimized+int8": {"accuracy_pct": 97.05, "macs": 2491798, "parameter_memory_mb": 0.05206704},
}


@dataclass(frozen=True)
class Protocol:
    """One training schedule; the remaining TrainConfig fields keep their defaults (the
    reference's: SGD 0.9, L2 1e-4 without bias decay, Glorot-uniform init)."""

    name: str  # short id used in stage names and results.json ("paper", "recipe")
    label: str  # shown in the report
    epochs: int
    lr_drop_epoch: int | None = None  # None: 3/4 of the epochs (the reference's 9 of 12)
    augment: str = "none"
    batch_size: int = 256
    lr: float = 0.02
    optimizer: str = "sgd"
    schedule: str = "step"  # "cosine": per-step decay, lr_drop_epoch unused
    crop: int = 0  # train on random windows of this many samples (0: whole frames)

    def __post_init__(self) -> None:
        if not self.name.replace("-", "").replace("_", "").isalnum():
            raise AmrkitError(f"protocol name {self.name!r} must be letters, digits, - or _")
        for field in ("epochs", "batch_size"):
            if getattr(self, field) < 1:
                raise AmrkitError(f"{field.replace('_', '-')} {getattr(self, field)} must be >= 1")
        if self.lr_drop_epoch is not None and self.lr_drop_epoch < 0:
            raise AmrkitError(f"lr-drop-epoch {self.lr_drop_epoch} must be >= 0")
        if not self.lr > 0:
            raise AmrkitError(f"lr {self.lr} must be > 0")
        parse_augment(self.augment)
        self.train_config(seed=0)  # the TrainConfig checks (optimizer, schedule, crop)

    @property
    def drop_epoch(self) -> int:
        return round(0.75 * self.epochs) if self.lr_drop_epoch is None else self.lr_drop_epoch

    def train_config(self, seed: int, epochs: int | None = None) -> Any:
        """The TrainConfig of this protocol (``epochs`` shortens it, the drop at 3/4)."""
        from amrkit.train.config import TrainConfig

        n = self.epochs if epochs is None else epochs
        drop = self.drop_epoch if epochs is None else round(0.75 * n)
        return TrainConfig(
            epochs=n,
            lr_drop_epoch=drop,
            augment=self.augment,
            batch_size=self.batch_size,
            lr=self.lr,
            optimizer=self.optimizer,
            schedule=self.schedule,
            crop=self.crop,
            seed=seed,
        )


PAPER_PROTOCOL = Protocol("paper", "paper protocol", epochs=12, lr_drop_epoch=9)
# amrkit's recipe at the paper's scale: 36 epochs took optimized to 97.28 % (docs/training.md)
RECIPE_FULL = Protocol("recipe", "amrkit recipe", epochs=36, augment="phase,conj")
# the quick run's budget version of the recipe (≤ 10 min on 2 cores, docs/reproduce.md):
# random 512-sample windows halve a step's cost; 2,000 frames per class and 24 epochs took
# both networks past 93 % (optimized 95.4 %, original 94.1 %, docs/reproduce.md "Budget")
RECIPE_QUICK = Protocol(
    "recipe",
    "amrkit recipe",
    epochs=24,
    augment="phase,conj",
    batch_size=64,
    lr=0.05,
    schedule="cosine",
    crop=512,
)


@dataclass(frozen=True)
class ReproduceConfig:
    """Every knob of the study. ``quick`` picks small data; the numbers say how small."""

    quick: bool = True
    models: tuple[str, ...] = ("original", "optimized")
    protocols: tuple[Protocol, ...] = (RECIPE_QUICK,)
    seeds: tuple[int, ...] = (1,)  # training seeds; the first also seeds data and calibration
    snr_db: float = 30.0
    snr_convention: Literal["measured", "matlab"] = "measured"
    frames_per_class: int = 2000
    device: str = "auto"  # training and FP32 evaluation (amrkit.runtime.device: a GPU if any)
    workers: int = 2
    threads: int = 2
    calib_frames: int = 512
    # Fig. 6: the main models on an independent SNR sweep (frames per class per SNR)
    sweep_snrs: tuple[float, ...] = (-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
    sweep_frames_per_snr: int = 40
    # Fig. 5: the last model trained, quantized and tested at each of these SNRs (at the main
    # SNR: the main model); None: the main data size / each protocol's own epochs
    fig5_snrs: tuple[float, ...] = (0.0, 15.0, 30.0)
    fig5_frames_per_class: int | None = 500
    fig5_epochs: int | None = 2
    fig5_finetune: bool = True  # start each Fig. 5 model from Table III's (else from scratch)
    golden_frames: int = 512  # test frames the integer-only golden model runs
    mcu: bool = True  # the INT8 models' C library on an emulated Cortex-M4 (if installed)
    bench_min_time: float = 0.25
    # "Beyond the paper": an architecture search (amrkit.search) on the main data, first seed;
    # 0 trials: no search stage. Quick: a small one (≈ 60 s on 2 idle cores, report/costs.py)
    search_trials: int = 0  # quick: off (its ≈ 60-100 s go to the main models); --search-trials 8
    search_proxy_epochs: int = 2
    search_proxy_frames_per_class: int = 100  # proxy training frames per class (val: 1/5)
    search_final_epochs: int = 1  # the Pareto set retrained on the whole training split
    search_max_final: int = 1  # Pareto models retrained (each ≈ 26 s at the quick default)
    search_max_macs: int | None = 2491798  # the paper's optimized budget (None: none)

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
        names = [p.name for p in self.protocols]
        need(len(names) >= 1, "--protocols is empty; give paper, recipe or paper,recipe")
        need(len(set(names)) == len(names), f"--protocols {','.join(names)} repeats a name")
        need(len(self.seeds) >= 1, "--seeds is empty; give e.g. 1 or 1,2,3")
        need(len(set(self.seeds)) == len(self.seeds), "--seeds names a seed twice")
        need(all(0 <= s < 2**31 for s in self.seeds), "--seeds must be integers in [0, 2**31)")
        parse_device(self.device)  # the one device rule; its error names the allowed words
        for name in ("frames_per_class", "fig5_frames_per_class"):
            value = getattr(self, name)
            need(
                value is None or value >= 10,
                f"{name.replace('_', '-')} {value} is too small; give at least 10",
            )
        for name in ("workers", "threads", "calib_frames", "sweep_frames_per_snr"):
            value = getattr(self, name)
            need(value >= 1, f"{name.replace('_', '-')} {value} must be >= 1")
        need(self.fig5_epochs is None or self.fig5_epochs >= 1, "fig5_epochs must be >= 1")
        need(self.golden_frames >= 0, "golden_frames must be >= 0 (0: skip the golden model)")
        need(len(self.sweep_snrs) >= 1, "sweep_snrs is empty")
        need(len(self.fig5_snrs) >= 1, "fig5_snrs is empty")
        need(self.bench_min_time > 0, "bench_min_time must be > 0")
        need(self.search_trials >= 0, "--search-trials must be >= 0 (0: no search)")
        for name in ("search_proxy_epochs", "search_final_epochs", "search_max_final"):
            need(getattr(self, name) >= 1, f"{name.replace('_', '-')} must be >= 1")
        need(
            self.search_proxy_frames_per_class >= 5,
            "search-proxy-frames-per-class must be >= 5",
        )
        need(
            self.search_max_macs is None or self.search_max_macs >= 1,
            "search-max-macs must be >= 1 (None: no budget)",
        )

    @property
    def seed(self) -> int:
        """Seed of the data sets and of calibration (the first training seed)."""
        return self.seeds[0]

    @property
    def fig5_frames(self) -> int:
        return (
            self.frames_per_class
            if self.fig5_frames_per_class is None
            else self.fig5_frames_per_class
        )

    def search_config(self) -> Any:
        """The SearchConfig of the search stage (accuracy, MACs and INT8 bytes: no measured
        latency objective, so the same seed gives the same trials)."""
        from amrkit.search.config import SearchConfig

        return SearchConfig(
            trials=max(1, self.search_trials),
            seed=self.seed,
            max_macs=self.search_max_macs,
            objectives=("accuracy", "macs", "int8_bytes"),
            proxy_train_per_class=self.search_proxy_frames_per_class,
            proxy_val_per_class=max(1, self.search_proxy_frames_per_class // 5),
            proxy_epochs=self.search_proxy_epochs,
            proxy_lr_drop_epoch=max(1, round(0.75 * self.search_proxy_epochs)),
            final_epochs=self.search_final_epochs,
            final_lr_drop_epoch=round(0.75 * self.search_final_epochs),
            max_final=self.search_max_final,
            golden_frames=max(1, min(256, self.golden_frames)),
            threads=self.threads,
        )

    @property
    def label(self) -> str:
        return "quick" if self.quick else "full"


def _protocols(names: tuple[str, ...] | None, full: bool, **recipe: Any) -> tuple[Protocol, ...]:
    """Named protocols; ``recipe`` options (epochs, lr_drop_epoch, augment, batch_size) change
    amrkit's recipe, never the paper's protocol."""
    known = {"paper": PAPER_PROTOCOL, "recipe": RECIPE_FULL if full else RECIPE_QUICK}
    if names is None:
        names = ("paper", "recipe") if full else ("recipe",)
    bad = [n for n in names if n not in known]
    if bad:
        raise AmrkitError(f"--protocols entry {bad[0]!r} is not one of paper, recipe")
    given = {k: v for k, v in recipe.items() if v is not None}
    if given and "recipe" not in names:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise AmrkitError(
            f"{flags} change(s) amrkit's recipe, which --protocols {','.join(names)} leaves "
            "out; add recipe to --protocols (the paper's protocol is fixed)"
        )
    if "epochs" in given and "lr_drop_epoch" not in given:
        given["lr_drop_epoch"] = None  # the drop follows the epochs
    return tuple(
        dataclasses.replace(known[n], **given) if n == "recipe" else known[n] for n in names
    )


def default_config(
    full: bool = False,
    *,
    protocols: tuple[str, ...] | None = None,
    epochs: int | None = None,
    lr_drop_epoch: int | None = None,
    augment: str | None = None,
    batch_size: int | None = None,
    **overrides: Any,
) -> ReproduceConfig:
    """The quick default (≤ 10 min on 2 cores) or ``full`` (the paper's scale, both protocols).

    ``overrides`` that are ``None`` are ignored (options not given on the command line).
    """
    base = ReproduceConfig()
    if full:
        base = dataclasses.replace(
            base,
            quick=False,
            frames_per_class=10000,
            sweep_snrs=tuple(float(s) for s in range(-10, 31, 2)),
            sweep_frames_per_snr=100,
            fig5_snrs=tuple(float(s) for s in range(0, 31, 5)),
            fig5_frames_per_class=None,
            fig5_epochs=None,
            fig5_finetune=False,
            golden_frames=2048,
            bench_min_time=2.0,
            # a real search: amrkit search's own proxy and final defaults
            search_trials=40,
            search_proxy_epochs=4,
            search_proxy_frames_per_class=1000,
            search_final_epochs=12,
            search_max_final=6,
        )
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - {f.name for f in dataclasses.fields(ReproduceConfig)})
    if unknown:
        raise AmrkitError(f"unknown reproduce option(s): {', '.join(unknown)}")
    given["protocols"] = _protocols(
        protocols,
        full,
        epochs=epochs,
        lr_drop_epoch=lr_drop_epoch,
        augment=augment,
        batch_size=batch_size,
    )
    return dataclasses.replace(base, **given)
