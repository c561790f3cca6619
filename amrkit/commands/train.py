"""CLI command: train."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from amrkit.commands import options

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from amrkit.train.config import TrainConfig
    from amrkit.train.synth import SynthData

# the run: data, model, run folder
DataArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[DATA]",
        help="Dataset file (amrkit HDF5, RadioML, .npz); a missing split is derived (--seed). "
        "With --synth only its val/test splits are used; optional then (and on --resume "
        "of a --synth run without one).",
        show_default=False,
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Registered model (original, optimized), a spec file (.yaml/.json) or a spec "
        "string like 16x8p,32x8. Required for a new run; taken from the run on --resume.",
    ),
]
OutOpt = Annotated[str, typer.Option("--out", "-o", help="Run folder to create (or resume).")]
RecipeOpt = Annotated[
    str | None,
    typer.Option(
        "--recipe",
        help="Named defaults: reference (the reference pipeline's) or robust (for data amrkit "
        "did not generate, or --preset wide; docs/training.md) \\[reference].",
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        help="YAML/JSON file of TrainConfig fields; overrides --recipe, options below override it.",
    ),
]

# TrainConfig fields (None: not given; the --config/--recipe value or the default)
EpochsOpt = Annotated[int | None, typer.Option("--epochs", help="Epochs to train [12].")]
BatchSizeOpt = Annotated[int | None, typer.Option("--batch-size", help="Global mini-batch [256].")]
LrOpt = Annotated[float | None, typer.Option("--lr", help="Initial learning rate [0.02].")]
MomentumOpt = Annotated[float | None, typer.Option("--momentum", help="SGD momentum [0.9].")]
WeightDecayOpt = Annotated[
    float | None,
    typer.Option("--weight-decay", help="L2 regularization of weights and batch norm [1e-4]."),
]
BiasDecayOpt = Annotated[
    bool | None,
    typer.Option(
        "--bias-decay/--no-bias-decay",
        help="Also regularize conv/FC biases \\[no, as MATLAB's BiasL2Factor 0].",
    ),
]
InitOpt = Annotated[
    str | None,
    typer.Option(
        "--init",
        help="Weight init: glorot (MATLAB's: Glorot-uniform weights, zero biases) or torch "
        "(PyTorch's defaults) \\[glorot].",
    ),
]
LrDropEpochOpt = Annotated[
    int | None,
    typer.Option("--lr-drop-epoch", help="Learning rate x lr-drop-factor after this epoch [9]."),
]
LrDropFactorOpt = Annotated[
    float | None, typer.Option("--lr-drop-factor", help="Learning-rate drop factor [0.1].")
]
OptimizerOpt = Annotated[
    str | None,
    typer.Option("--optimizer", help="sgd (with --momentum, the reference's) or adamw \\[sgd]."),
]
ScheduleOpt = Annotated[
    str | None,
    typer.Option(
        "--schedule",
        help="Learning-rate schedule: step (x lr-drop-factor after lr-drop-epoch) or cosine "
        "(linear warm-up over --warmup of the steps, then a half cosine to 0) \\[step].",
    ),
]
WarmupOpt = Annotated[
    float | None, typer.Option("--warmup", help="Cosine warm-up, a fraction of all steps [0.05].")
]
CropOpt = Annotated[
    int | None,
    typer.Option(
        "--crop",
        help="Train on a random window of this many samples of each frame; validation and "
        "test frames stay whole [0: whole frames].",
    ),
]
AugmentOpt = Annotated[
    str | None,
    typer.Option(
        "--augment",
        help="Training-time augmentation: none, or a comma list of phase (random carrier "
        "rotation), conj (random complex conjugate), freq (random frequency shift up to "
        "--freq-shift), noise (half the frames at --noise-snr-db to +20 dB SNR), timescale "
        "(resample by up to --time-scale; needs --crop) \\[none, as the reference].",
    ),
]
FreqShiftOpt = Annotated[
    float | None,
    typer.Option("--freq-shift", help="--augment freq: max |shift|, cycles per sample [0.01]."),
]
NoiseSnrDbOpt = Annotated[
    float | None,
    typer.Option("--noise-snr-db", help="--augment noise: lowest SNR of the added noise [10]."),
]
TimeScaleOpt = Annotated[
    float | None,
    typer.Option(
        "--time-scale",
        help="--augment timescale: resampling factors from 1/(1+a) to 1+a, log-uniform [0.2].",
    ),
]
SnrCurriculumOpt = Annotated[
    float | None,
    typer.Option(
        "--snr-curriculum",
        help="Fraction of the epochs (the first) whose loss skips frames below a falling SNR "
        "threshold [0: none].",
    ),
]
CurriculumStartDbOpt = Annotated[
    float | None,
    typer.Option(
        "--curriculum-start-db", help="--snr-curriculum: the first epoch's threshold [10]."
    ),
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Seed of model init, shuffling and derived splits [0].")
]
CheckpointEveryOpt = Annotated[
    int | None,
    typer.Option(
        "--checkpoint-every",
        help="Also write checkpoint.pt every N steps mid-epoch [0: epoch ends only].",
    ),
]
MemoryMbOpt = Annotated[
    float | None,
    typer.Option("--memory-mb", help="Stream a split from disk if its I/Q exceed this [4096]."),
]
TeacherOpt = Annotated[
    str | None,
    typer.Option(
        "--teacher",
        help="Run folder of a trained model on the same classes: distill its soft targets.",
    ),
]
KdTemperatureOpt = Annotated[
    float | None, typer.Option("--kd-temperature", help="Distillation softmax temperature T [4].")
]
KdAlphaOpt = Annotated[
    float | None,
    typer.Option("--kd-alpha", help="Distillation weight a: (1-a) CE + a T^2 KL [0.5]."),
]
InitFromOpt = Annotated[
    str | None,
    typer.Option(
        "--init-from",
        help="Run folder of a trained model (same model and classes) whose weights start "
        "this run: fine-tune it on this data.",
    ),
]
CompileOpt = Annotated[
    str | None,
    typer.Option(
        "--compile",
        help="torch.compile the training step: auto (CPU runs of >= 1000 steps, when a C++ "
        "compiler is there), on, off \\[auto].",
    ),
]
PrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="The step's arithmetic: auto (bf16 autocast on CPUs with native bf16, else "
        "fp32), fp32, bf16 \\[auto].",
    ),
]

# training on synthesized frames (amrkit.train.synth.synth_request)
SynthOpt = Annotated[
    str | None,
    typer.Option(
        "--synth",
        help="Train on frames synthesized afresh every epoch: a preset (matlab, wide) or a "
        "synth config file (YAML/JSON, or an .h5 made by generate); several comma-separated "
        "(wide.json,matlab) train on their mixture, val/test from the first; docs/training.md.",
    ),
]
FramesPerClassOpt = Annotated[
    str | None,
    typer.Option(
        "--frames-per-class",
        help="--synth: training frames of each class per epoch, one integer for every source "
        "or a comma list with one per source (3000,1500) \\[a config file's].",
    ),
]
SynthSeedOpt = Annotated[
    int | None,
    typer.Option(
        "--synth-seed",
        help="--synth: seed of the synthesized frames; epoch e's frames and the val/test "
        "frames get seeds derived from it [--seed].",
    ),
]
EvalFramesPerClassOpt = Annotated[
    int | None,
    typer.Option(
        "--eval-frames-per-class",
        help="--synth without DATA: validation+test frames of each class, synthesized once "
        "and split half/half [--frames-per-class].",
    ),
]
SynthWorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--synth-workers", help="--synth: synthesis processes; the frames do not depend on it [1]."
    ),
]

# how the run executes (amrkit.train.runner.train_model)
TorchThreadsOpt = Annotated[
    int | None, typer.Option("--threads", help="torch CPU threads (torch.set_num_threads).")
]
DeterministicOpt = Annotated[
    bool,
    typer.Option(
        "--deterministic/--no-deterministic",
        help="On CUDA, only reproducible cuDNN kernels (same seed => same weights); "
        "--no-deterministic lets cuDNN pick faster ones.",
    ),
]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the interrupted run in --out.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the run in --out.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or epoch lines.")]


# The parameters of `train` that set the TrainConfig field of the same name.
CONFIG_OPTIONS = (
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "bias_decay",
    "init",
    "lr_drop_epoch",
    "lr_drop_factor",
    "optimizer",
    "schedule",
    "warmup",
    "crop",
    "augment",
    "freq_shift",
    "noise_snr_db",
    "time_scale",
    "snr_curriculum",
    "curriculum_start_db",
    "seed",
    "checkpoint_every",
    "memory_mb",
    "teacher",
    "kd_temperature",
    "kd_alpha",
    "init_from",
    "compile",
    "precision",
)


def train(
    data: DataArg = None,
    model: ModelOpt = None,
    out: OutOpt = ...,
    recipe: RecipeOpt = None,
    config: ConfigOpt = None,
    epochs: EpochsOpt = None,
    batch_size: BatchSizeOpt = None,
    lr: LrOpt = None,
    momentum: MomentumOpt = None,
    weight_decay: WeightDecayOpt = None,
    bias_decay: BiasDecayOpt = None,
    init: InitOpt = None,
    lr_drop_epoch: LrDropEpochOpt = None,
    lr_drop_factor: LrDropFactorOpt = None,
    optimizer: OptimizerOpt = None,
    schedule: ScheduleOpt = None,
    warmup: WarmupOpt = None,
    crop: CropOpt = None,
    augment: AugmentOpt = None,
    freq_shift: FreqShiftOpt = None,
    noise_snr_db: NoiseSnrDbOpt = None,
    time_scale: TimeScaleOpt = None,
    snr_curriculum: SnrCurriculumOpt = None,
    curriculum_start_db: CurriculumStartDbOpt = None,
    seed: SeedOpt = None,
    checkpoint_every: CheckpointEveryOpt = None,
    memory_mb: MemoryMbOpt = None,
    teacher: TeacherOpt = None,
    kd_temperature: KdTemperatureOpt = None,
    kd_alpha: KdAlphaOpt = None,
    init_from: InitFromOpt = None,
    compile: CompileOpt = None,
    precision: PrecisionOpt = None,
    synth: SynthOpt = None,
    frames_per_class: FramesPerClassOpt = None,
    synth_seed: SynthSeedOpt = None,
    eval_frames_per_class: EvalFramesPerClassOpt = None,
    synth_workers: SynthWorkersOpt = None,
    device: options.DeviceOpt = "auto",
    drop_nonfinite: options.DropNonfiniteOpt = False,
    threads: TorchThreadsOpt = None,
    deterministic: DeterministicOpt = True,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    quiet: QuietOpt = False,
    json_out: options.JsonOpt = False,
) -> None:
    """Train a CNN on split 0, validate on split 1 each epoch, test the best weights on split 2.

    With --synth, every epoch trains on fresh synthesized frames instead of split 0."""
    args = dict(locals())  # the options by parameter name (the first statement: nothing else yet)
    cfg, given = _train_config(config, recipe, {k: args[k] for k in CONFIG_OPTIONS})
    synth_data = _synth_data(cfg.seed, **args)
    with _writer_lock(out):
        metrics = _train_model(cfg, given, synth_data, **args)
    if metrics:  # empty: not rank 0 under torchrun
        _print_metrics(out, metrics, json_out)


def _train_config(
    config: str | None, recipe: str | None, overrides: dict[str, Any]
) -> tuple[TrainConfig, set[str]]:
    """The run's TrainConfig, and the names of the fields the options or --config set (a
    resumed run checks those against its own)."""
    from amrkit.config import load_mapping
    from amrkit.train.config import make_config

    given = {k for k, v in overrides.items() if v is not None}
    if config is not None:
        given |= set(load_mapping(config))
    if recipe is not None:
        given.add("recipe")  # a resumed run's recipe must match; its values come from run.json
    cfg = make_config(config, recipe=recipe, **overrides)
    if cfg.teacher is None and (
        overrides["kd_temperature"] is not None or overrides["kd_alpha"] is not None
    ):
        from amrkit.errors import AmrkitError

        raise AmrkitError("--kd-temperature/--kd-alpha need --teacher RUN; add it or drop them")
    return cfg, given


def _synth_data(
    default_seed: int,
    *,
    synth: str | None,
    data: str | None,
    frames_per_class: str | None,
    synth_seed: int | None,
    eval_frames_per_class: int | None,
    synth_workers: int | None,
    resume: bool,
    **_other: Any,
) -> SynthData | None:
    """The --synth options as a SynthData (None without --synth); ``_other``: the rest of
    `train`'s options."""
    from amrkit.train.synth import synth_request

    return synth_request(
        synth,
        has_data=data is not None,
        frames_per_class=frames_per_class,
        synth_seed=synth_seed,
        default_seed=default_seed,
        eval_frames_per_class=eval_frames_per_class,
        workers=synth_workers,
        resume=resume,
    )


def _writer_lock(out: str) -> AbstractContextManager[Any]:
    """One writer per run folder; under torchrun only rank 0 writes (and locks)."""
    import contextlib
    import os

    from amrkit.fileio import output_lock

    lead = os.environ.get("RANK", "0") == "0"
    return output_lock(out) if lead else contextlib.nullcontext()


def _train_model(
    cfg: TrainConfig,
    given: set[str],
    synth_data: SynthData | None,
    *,
    data: str | None,
    model: str | None,
    out: str,
    resume: bool,
    force: bool,
    device: str,
    threads: int | None,
    deterministic: bool,
    format: str | None,
    classes: str | None,
    classes_file: str | None,
    snr_min: float | None,
    snr_max: float | None,
    drop_nonfinite: bool,
    quiet: bool,
    synth_workers: int | None,
    **_other: Any,
) -> dict[str, Any]:
    """Train the run (amrkit.train.runner.train_model); its metrics, empty when not rank 0
    under torchrun. ``_other``: the rest of `train`'s options."""
    from amrkit.train.runner import DataOptions, train_model

    open_kw = options.open_options(format, classes, classes_file, snr_min, snr_max)
    return train_model(
        data,
        model,
        out,
        cfg,
        given=given,
        resume=resume,
        force=force,
        device=device,
        threads=threads,
        deterministic=deterministic,
        data_options=DataOptions(**open_kw, drop_nonfinite=drop_nonfinite),
        progress=not quiet,
        synth=synth_data,
        synth_workers=1 if synth_workers is None else synth_workers,
    )


def _print_metrics(out: Path, metrics: dict[str, Any], json_out: bool) -> None:
    """The run's summary line, or its metrics as JSON."""
    if json_out:
        from amrkit.fileio import dumps_json

        typer.echo(dumps_json(metrics), nl=False)  # strict JSON: NaN/inf become strings
        return
    from rich.console import Console

    test = metrics["test_accuracy"]
    fps = metrics["train_frames_per_s"]  # None when no time was measured
    Console().print(
        f"[bold]{out}[/]: best epoch {metrics['best_epoch']}, "
        f"val {100 * metrics['best_val_accuracy']:.2f}%, "
        + (f"test {100 * test:.2f}% " if test is not None else "no test split ")
        + f"({f'{fps:.0f}' if fps is not None else '-'} frames/s, "
        + f"{metrics['wall_time_s']:.1f} s)",
        highlight=False,
    )


COMMANDS = {"train": train}
