"""``TrainConfig``: every knob of a training run, frozen and validated.

Defaults are the reference pipeline's (docs/reference.md, "Training"): SGD with momentum 0.9,
learning rate 0.02, L2 weight decay 1e-4, 12 epochs, mini-batch 256, learning rate x 0.1 after
epoch 9, shuffle every epoch, validation once per epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from amrkit.config import from_dict, load_mapping, replace, to_dict
from amrkit.errors import AmrkitError
from amrkit.train.accel import COMPILE_MODES, PRECISIONS
from amrkit.train.augment import parse_augment
from amrkit.train.recipes import RECIPES

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine")

# fields that may change when a run is resumed: they do not change the trained weights
RESUMABLE_CHANGES = frozenset({"epochs", "checkpoint_every", "eval_batch_size", "compile"})


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    batch_size: int = 256  # global mini-batch (split evenly over torchrun processes)
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-4  # L2 (SGD weight_decay) on weights and batch-norm parameters
    bias_decay: bool = False  # also on conv/FC biases (MATLAB's BiasL2Factor is 0)
    init: str = "glorot"  # "glorot": MATLAB's Glorot-uniform weights, zero biases; "torch"
    lr_drop_epoch: int = 9  # epochs 1..lr_drop_epoch use lr, later ones lr * lr_drop_factor
    lr_drop_factor: float = 0.1
    optimizer: str = "sgd"  # "sgd" (the reference's, with momentum) or "adamw"
    schedule: str = "step"  # "step": lr_drop_epoch/lr_drop_factor; "cosine": per-step decay
    warmup: float = 0.05  # cosine only: fraction of all steps with a linear warm-up
    shuffle: bool = True
    seed: int = 0  # model init, epoch permutations, derived data split
    checkpoint_every: int = 0  # also checkpoint every N steps mid-epoch (0: epoch ends only)
    eval_batch_size: int = 1024
    memory_mb: float = 4096.0  # a split larger than this (float32 I/Q) is streamed from disk
    augment: str = "none"  # "none" or a comma-separated subset of phase, conj (train/augment.py)
    crop: int = 0  # train on a random window of this many samples of each frame (0: whole)
    freq_shift: float = 0.01  # augment freq: max |frequency shift|, cycles per sample
    noise_snr_db: float = 10.0  # augment noise: SNRs drawn from [this, this + 20] dB
    time_scale: float = 0.2  # augment timescale: factors log-uniform in [1/(1+this), 1+this]
    snr_curriculum: float = 0.0  # fraction of the epochs that skip low-SNR frames (0: none)
    curriculum_start_db: float = 10.0  # curriculum: epoch 1 skips frames below this SNR
    recipe: str = "reference"  # the named set of defaults this config started from (recipes.py)
    teacher: str | None = None  # run folder of a trained teacher: knowledge distillation
    kd_temperature: float = 4.0  # softmax temperature T of the soft targets
    kd_alpha: float = 0.5  # weight of the soft term: (1 - a) CE + a T^2 KL
    init_from: str | None = None  # run folder whose weights start a new run (fine-tuning)
    compile: str = "auto"  # torch.compile the step: auto (long CPU runs), on, off (accel.py)
    precision: str = "auto"  # the step's arithmetic: auto (bf16 where native), fp32, bf16

    def __post_init__(self) -> None:
        self._check_schedule()
        self._check_augmentation()
        self._check_run()

    def _check_schedule(self) -> None:
        """Optimizer, learning-rate schedule, weight decay and initialization."""
        _check(self.epochs >= 1, "epochs", self.epochs, "an integer >= 1")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")
        _check(math.isfinite(self.lr) and self.lr > 0, "lr", self.lr, "a number > 0")
        _check(0 <= self.momentum < 1, "momentum", self.momentum, "a number in [0, 1)")
        _check(
            math.isfinite(self.weight_decay) and self.weight_decay >= 0,
            "weight_decay",
            self.weight_decay,
            "a number >= 0",
        )
        _check(self.init in ("glorot", "torch"), "init", self.init, "glorot or torch")
        _check(self.lr_drop_epoch >= 0, "lr_drop_epoch", self.lr_drop_epoch, "an integer >= 0")
        _check(
            0 < self.lr_drop_factor <= 1,
            "lr_drop_factor",
            self.lr_drop_factor,
            "a number in (0, 1]",
        )
        _check(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, " or ".join(OPTIMIZERS))
        _check(self.schedule in SCHEDULES, "schedule", self.schedule, " or ".join(SCHEDULES))
        _check(0 <= self.warmup < 1, "warmup", self.warmup, "a fraction in [0, 1)")

    def _check_augmentation(self) -> None:
        """Augmentations, crop, time scale and the SNR curriculum."""
        _check(
            math.isfinite(self.freq_shift) and 0 <= self.freq_shift <= 0.5,
            "freq_shift",
            self.freq_shift,
            "a number of cycles per sample in [0, 0.5]",
        )
        _check(math.isfinite(self.noise_snr_db), "noise_snr_db", self.noise_snr_db, "finite dB")
        _check(self.crop >= 0, "crop", self.crop, "a number of samples >= 0 (0: whole frames)")
        names = parse_augment(self.augment)  # raises on unknown names
        _check(
            math.isfinite(self.time_scale) and 0 <= self.time_scale <= 1,
            "time_scale",
            self.time_scale,
            "a number in [0, 1] (0.2: factors 1/1.2 to 1.2)",
        )
        _check(
            "timescale" not in names or self.crop > 0,
            "crop",
            self.crop,
            "> 0 with augment timescale (its spare samples; e.g. 512 for 1024-sample frames)",
        )
        _check(
            0 <= self.snr_curriculum < 1,
            "snr_curriculum",
            self.snr_curriculum,
            "a fraction of the epochs in [0, 1)",
        )
        _check(
            math.isfinite(self.curriculum_start_db),
            "curriculum_start_db",
            self.curriculum_start_db,
            "finite dB",
        )

    def _check_run(self) -> None:
        """Seed, checkpoints, memory, recipe and distillation."""
        _check(0 <= self.seed < 2**63, "seed", self.seed, "an integer in [0, 2**63)")
        _check(
            self.checkpoint_every >= 0,
            "checkpoint_every",
            self.checkpoint_every,
            "an integer >= 0 (0: only at epoch ends)",
        )
        _check(
            self.eval_batch_size >= 1, "eval_batch_size", self.eval_batch_size, "an integer >= 1"
        )
        _check(
            math.isfinite(self.memory_mb) and self.memory_mb >= 0,
            "memory_mb",
            self.memory_mb,
            "a number of MiB >= 0",
        )
        if self.recipe not in RECIPES:
            raise AmrkitError(
                f"recipe = {self.recipe!r} is unknown; choose one of {', '.join(RECIPES)} "
                "(config key recipe or --recipe)"
            )
        for key in ("teacher", "init_from"):
            value = getattr(self, key)
            _check(
                value is None or (isinstance(value, str) and value != ""),
                key,
                value,
                "the path of a trained run folder",
            )
        _check(
            math.isfinite(self.kd_temperature) and self.kd_temperature > 0,
            "kd_temperature",
            self.kd_temperature,
            "a number > 0",
        )
        _check(0 <= self.kd_alpha <= 1, "kd_alpha", self.kd_alpha, "a number in [0, 1]")
        _check(self.compile in COMPILE_MODES, "compile", self.compile, " or ".join(COMPILE_MODES))
        _check(self.precision in PRECISIONS, "precision", self.precision, " or ".join(PRECISIONS))

    def curriculum_epochs(self) -> int:
        """Epochs (the first ones) that skip low-SNR frames: floor(snr_curriculum · epochs)."""
        return math.floor(self.snr_curriculum * self.epochs)

    def snr_threshold(self, epoch: int, lowest_db: float) -> float:
        """Frames below this SNR count 0 in epoch ``epoch`` (1-based): curriculum_start_db in
        epoch 1, falling linearly toward ``lowest_db`` (the data's lowest SNR), ``-inf`` once
        the curriculum is over (every frame counts)."""
        n = self.curriculum_epochs()
        if epoch > n:
            return -math.inf
        return self.curriculum_start_db - (self.curriculum_start_db - lowest_db) * (epoch - 1) / n

    def lr_at(self, epoch: int, step: int = 0, steps: int = 1) -> float:
        """Learning rate of step ``step`` (0-based) of ``steps`` in ``epoch`` (1-based).

        ``step``: x lr_drop_factor after ``lr_drop_epoch``. ``cosine``: linear warm-up over
        the first ``warmup`` of all steps, then half a cosine from lr down to 0.
        """
        if self.schedule == "step":
            return self.lr if epoch <= self.lr_drop_epoch else self.lr * self.lr_drop_factor
        total = self.epochs * steps
        done = (epoch - 1) * steps + step  # steps taken before this one
        warm = int(self.warmup * total)
        if done < warm:
            return self.lr * (done + 1) / warm
        return self.lr * 0.5 * (1 + math.cos(math.pi * (done - warm) / max(1, total - warm)))

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "train config") -> TrainConfig:
        return from_dict(cls, data, where=where)


def _check(ok: bool, name: str, value: Any, allowed: str) -> None:
    if not ok:
        flag = "--" + name.replace("_", "-")
        raise AmrkitError(
            f"{name} = {value!r} is invalid; it must be {allowed} (config key or {flag})"
        )


def make_config(
    config_file: str | None = None, *, recipe: str | None = None, **overrides: Any
) -> TrainConfig:
    """Defaults, then the recipe, then the YAML/JSON file (unknown keys are errors), then
    non-None overrides. The recipe is ``recipe``, else the file's ``recipe`` key, else
    ``reference`` (the defaults)."""
    data = load_mapping(config_file) if config_file is not None else {}
    name = recipe if recipe is not None else data.get("recipe", "reference")
    if not isinstance(name, str) or name not in RECIPES:
        raise AmrkitError(
            f"recipe = {name!r} is unknown; choose one of {', '.join(RECIPES)} "
            "(config key recipe or --recipe)"
        )
    merged = {**RECIPES[name], **data, "recipe": name}
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(TrainConfig, merged, where=config_file or "train config")


def resume_config(
    stored: dict[str, Any], requested: TrainConfig | None, given: set[str]
) -> TrainConfig:
    """The config of a resumed run: the stored one, with the ``given`` fields of ``requested``.

    Only fields in :data:`RESUMABLE_CHANGES` may differ from the stored run; anything else
    would make the resumed weights differ from an uninterrupted run.
    """
    # runs from before these fields trained eager in fp32
    stored = {"compile": "off", "precision": "fp32", **stored}
    base = TrainConfig.from_dict(stored, where="run.json train_config")
    if requested is None or not given:
        return base
    changes = {k: getattr(requested, k) for k in given if getattr(requested, k) != getattr(base, k)}
    allowed = RESUMABLE_CHANGES - ({"epochs"} if base.schedule == "cosine" else set())
    bad = sorted(set(changes) - allowed)
    if bad:
        name = bad[0]
        why = " (schedule cosine: the epochs set every step's learning rate)"
        raise AmrkitError(
            f"--resume: {name} = {changes[name]!r} differs from the run's {getattr(base, name)!r}; "
            f"only {', '.join(sorted(allowed))} may change on resume"
            f"{why if base.schedule == 'cosine' else ''} "
            "(drop the option, or start a new run with --force)"
        )
    return replace(base, **changes)
