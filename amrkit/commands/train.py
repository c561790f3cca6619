"""CLI command: train."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from amrkit.commands import options


def train(
    data: str | None = typer.Argument(
        None,
        metavar="[DATA]",
        help="Dataset file (amrkit HDF5, RadioML, .npz); a missing split is derived (--seed). "
        "With --synth only its val/test splits are used; optional then (and on --resume "
        "of a --synth run without one).",
        show_default=False,
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Registered model (original, optimized), a spec file (.yaml/.json) or a spec "
        "string like 16x8p,32x8. Required for a new run; taken from the run on --resume.",
    ),
    out: str = typer.Option(..., "--out", "-o", help="Run folder to create (or resume)."),
    recipe: str | None = typer.Option(
        None,
        "--recipe",
        help="Named defaults: reference (the reference pipeline's) or robust (for data amrkit "
        "did not generate, or --preset wide; docs/training.md) [reference].",
    ),
    config: str | None = typer.Option(
        None,
        "--config",
        help="YAML/JSON file of TrainConfig fields; overrides --recipe, options below override it.",
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Epochs to train [12]."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Global mini-batch [256]."),
    lr: float | None = typer.Option(None, "--lr", help="Initial learning rate [0.02]."),
    momentum: float | None = typer.Option(None, "--momentum", help="SGD momentum [0.9]."),
    weight_decay: float | None = typer.Option(
        None, "--weight-decay", help="L2 regularization of weights and batch norm [1e-4]."
    ),
    bias_decay: bool | None = typer.Option(
        None,
        "--bias-decay/--no-bias-decay",
        help="Also regularize conv/FC biases [no, as MATLAB's BiasL2Factor 0].",
    ),
    init: str | None = typer.Option(
        None,
        "--init",
        help="Weight init: glorot (MATLAB's: Glorot-uniform weights, zero biases) or torch "
        "(PyTorch's defaults) [glorot].",
    ),
    lr_drop_epoch: int | None = typer.Option(
        None, "--lr-drop-epoch", help="Learning rate x lr-drop-factor after this epoch [9]."
    ),
    lr_drop_factor: float | None = typer.Option(
        None, "--lr-drop-factor", help="Learning-rate drop factor [0.1]."
    ),
    optimizer: str | None = typer.Option(
        None, "--optimizer", help="sgd (with --momentum, the reference's) or adamw [sgd]."
    ),
    schedule: str | None = typer.Option(
        None,
        "--schedule",
        help="Learning-rate schedule: step (x lr-drop-factor after lr-drop-epoch) or cosine "
        "(linear warm-up over --warmup of the steps, then a half cosine to 0) [step].",
    ),
    warmup: float | None = typer.Option(
        None, "--warmup", help="Cosine warm-up, a fraction of all steps [0.05]."
    ),
    crop: int | None = typer.Option(
        None,
        "--crop",
        help="Train on a random window of this many samples of each frame; validation and "
        "test frames stay whole [0: whole frames].",
    ),
    augment: str | None = typer.Option(
        None,
        "--augment",
        help="Training-time augmentation: none, or a comma list of phase (random carrier "
        "rotation), conj (random complex conjugate), freq (random frequency shift up to "
        "--freq-shift), noise (half the frames at --noise-snr-db to +20 dB SNR), timescale "
        "(resample by up to --time-scale; needs --crop) [none, as the reference].",
    ),
    freq_shift: float | None = typer.Option(
        None, "--freq-shift", help="--augment freq: max |shift|, cycles per sample [0.01]."
    ),
    noise_snr_db: float | None = typer.Option(
        None, "--noise-snr-db", help="--augment noise: lowest SNR of the added noise [10]."
    ),
    time_scale: float | None = typer.Option(
        None,
        "--time-scale",
        help="--augment timescale: resampling factors from 1/(1+a) to 1+a, log-uniform [0.2].",
    ),
    snr_curriculum: float | None = typer.Option(
        None,
        "--snr-curriculum",
        help="Fraction of the epochs (the first) whose loss skips frames below a falling SNR "
        "threshold [0: none].",
    ),
    curriculum_start_db: float | None = typer.Option(
        None, "--curriculum-start-db", help="--snr-curriculum: the first epoch's threshold [10]."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of model init, shuffling and derived splits [0]."
    ),
    checkpoint_every: int | None = typer.Option(
        None,
        "--checkpoint-every",
        help="Also write checkpoint.pt every N steps mid-epoch [0: epoch ends only].",
    ),
    memory_mb: float | None = typer.Option(
        None, "--memory-mb", help="Stream a split from disk if its I/Q exceed this [4096]."
    ),
    teacher: str | None = typer.Option(
        None,
        "--teacher",
        help="Run folder of a trained model on the same classes: distill its soft targets.",
    ),
    kd_temperature: float | None = typer.Option(
        None, "--kd-temperature", help="Distillation softmax temperature T [4]."
    ),
    kd_alpha: float | None = typer.Option(
        None, "--kd-alpha", help="Distillation weight a: (1-a) CE + a T^2 KL [0.5]."
    ),
    init_from: str | None = typer.Option(
        None,
        "--init-from",
        help="Run folder of a trained model (same model and classes) whose weights start "
        "this run: fine-tune it on this data.",
    ),
    compile: str | None = typer.Option(
        None,
        "--compile",
        help="torch.compile the training step: auto (CPU runs of >= 1000 steps, when a C++ "
        "compiler is there), on, off [auto].",
    ),
    precision: str | None = typer.Option(
        None,
        "--precision",
        help="The step's arithmetic: auto (bf16 autocast on CPUs with native bf16, else "
        "fp32), fp32, bf16 [auto].",
    ),
    synth: str | None = typer.Option(
        None,
        "--synth",
        help="Train on frames synthesized afresh every epoch: a preset (matlab, wide) or a "
        "synth config file (YAML/JSON, or an .h5 made by generate); several comma-separated "
        "(wide.json,matlab) train on their mixture, val/test from the first; docs/training.md.",
    ),
    frames_per_class: str | None = typer.Option(
        None,
        "--frames-per-class",
        help="--synth: training frames of each class per epoch, one integer for every source "
        "or a comma list with one per source (3000,1500) [a config file's].",
    ),
    synth_seed: int | None = typer.Option(
        None,
        "--synth-seed",
        help="--synth: seed of the synthesized frames; epoch e's frames and the val/test "
        "frames get seeds derived from it [--seed].",
    ),
    eval_frames_per_class: int | None = typer.Option(
        None,
        "--eval-frames-per-class",
        help="--synth without DATA: validation+test frames of each class, synthesized once "
        "and split half/half [--frames-per-class].",
    ),
    synth_workers: int | None = typer.Option(
        None,
        "--synth-workers",
        help="--synth: synthesis processes; the frames do not depend on it [1].",
    ),
    device: options.DeviceOpt = "auto",
    drop_nonfinite: options.DropNonfiniteOpt = False,
    threads: int | None = typer.Option(
        None, "--threads", help="torch CPU threads (torch.set_num_threads)."
    ),
    deterministic: bool = typer.Option(
        True,
        "--deterministic/--no-deterministic",
        help="On CUDA, only reproducible cuDNN kernels (same seed => same weights); "
        "--no-deterministic lets cuDNN pick faster ones.",
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run in --out."),
    force: bool = typer.Option(False, "--force", help="Replace the run in --out."),
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or epoch lines."),
    json_out: options.JsonOpt = False,
) -> None:
    """Train a CNN on split 0, validate on split 1 each epoch, test the best weights on split 2.

    With --synth, every epoch trains on fresh synthesized frames instead of split 0."""
    import contextlib
    import os

    from amrkit.config import load_mapping
    from amrkit.fileio import output_lock
    from amrkit.train.config import make_config
    from amrkit.train.runner import DataOptions, train_model

    overrides = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "bias_decay": bias_decay,
        "init": init,
        "lr_drop_epoch": lr_drop_epoch,
        "lr_drop_factor": lr_drop_factor,
        "optimizer": optimizer,
        "schedule": schedule,
        "warmup": warmup,
        "crop": crop,
        "augment": augment,
        "freq_shift": freq_shift,
        "noise_snr_db": noise_snr_db,
        "time_scale": time_scale,
        "snr_curriculum": snr_curriculum,
        "curriculum_start_db": curriculum_start_db,
        "seed": seed,
        "checkpoint_every": checkpoint_every,
        "memory_mb": memory_mb,
        "teacher": teacher,
        "kd_temperature": kd_temperature,
        "kd_alpha": kd_alpha,
        "init_from": init_from,
        "compile": compile,
        "precision": precision,
    }
    given = {k for k, v in overrides.items() if v is not None}
    if config is not None:
        given |= set(load_mapping(config))
    if recipe is not None:
        given.add("recipe")  # a resumed run's recipe must match; its values come from run.json
    cfg = make_config(config, recipe=recipe, **overrides)
    if cfg.teacher is None and (kd_temperature is not None or kd_alpha is not None):
        from amrkit.errors import AmrkitError

        raise AmrkitError("--kd-temperature/--kd-alpha need --teacher RUN; add it or drop them")
    open_kw = options.open_options(format, classes, classes_file, snr_min, snr_max)
    from amrkit.train.synth import synth_request

    synth_data = synth_request(
        synth,
        has_data=data is not None,
        frames_per_class=frames_per_class,
        synth_seed=synth_seed,
        default_seed=cfg.seed,
        eval_frames_per_class=eval_frames_per_class,
        workers=synth_workers,
        resume=resume,
    )
    # one writer per run folder; under torchrun only rank 0 writes (and locks)
    lead = os.environ.get("RANK", "0") == "0"
    with output_lock(out) if lead else contextlib.nullcontext():
        metrics = train_model(
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
    if metrics:  # empty: not rank 0 under torchrun
        _print_metrics(out, metrics, json_out)


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
