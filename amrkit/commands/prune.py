"""CLI command: prune (structured channel pruning of a trained run, then fine-tuning)."""

from __future__ import annotations

from pathlib import Path

import typer

from amrkit.commands import options


def prune(
    run: Path = typer.Argument(
        ..., help="Trained run directory (the --out of 'amrkit train') or zoo:NAME."
    ),
    data: str = typer.Option(..., "--data", help="Dataset: train split fine-tunes, val selects."),
    out: str = typer.Option(..., "--out", "-o", help="Run folder of the pruned, fine-tuned model."),
    target_macs: int | None = typer.Option(
        None, "--target-macs", help="At most this many MACs (at the run's frame length)."
    ),
    ratio: float | None = typer.Option(
        None, "--ratio", help="At most this fraction of the run's MACs, e.g. 0.5."
    ),
    method: str = typer.Option(
        "l1", "--method", help="Channel ranking: l1, l2 (weight magnitude) or taylor."
    ),
    min_filters: int = typer.Option(1, "--min-filters", help="Filters every layer keeps [1]."),
    taylor_frames: int = typer.Option(
        1024, "--taylor-frames", help="Training frames whose gradients rank channels (taylor)."
    ),
    config: str | None = typer.Option(
        None, "--config", help="YAML/JSON of TrainConfig fields for the fine-tune."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Fine-tune epochs [6]."),
    lr: float | None = typer.Option(None, "--lr", help="Fine-tune learning rate [0.002]."),
    lr_drop_epoch: int | None = typer.Option(
        None, "--lr-drop-epoch", help="Learning rate x 0.1 after this epoch [4]."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Mini-batch [256]."),
    augment: str | None = typer.Option(None, "--augment", help="none, phase, conj, phase,conj."),
    teacher: str | None = typer.Option(
        None, "--teacher", help="Distill this run during the fine-tune (e.g. the unpruned run)."
    ),
    kd_temperature: float | None = typer.Option(None, "--kd-temperature", help="T [4]."),
    kd_alpha: float | None = typer.Option(None, "--kd-alpha", help="Soft-target weight [0.5]."),
    seed: int | None = typer.Option(None, "--seed", help="Fine-tune and Taylor-frame seed [0]."),
    device: options.DeviceOpt = "auto",
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads."),
    resume: bool = typer.Option(False, "--resume", help="Continue the fine-tune in --out."),
    force: bool = typer.Option(False, "--force", help="Replace the run in --out."),
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    split_seed: options.SplitSeedOpt = None,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    json_out: options.JsonOpt = False,
) -> None:
    """Remove whole channels of a run to a MAC budget, then fine-tune: a narrower spec."""
    from amrkit.prune.config import PruneConfig
    from amrkit.prune.pipeline import finetune_config, prune_run
    from amrkit.train.runner import DataOptions

    cfg = PruneConfig(
        method=method,
        target_macs=target_macs,
        ratio=ratio,
        min_filters=min_filters,
        taylor_frames=taylor_frames,
        seed=seed or 0,
    )
    train_cfg = finetune_config(
        config,
        epochs=epochs,
        lr=lr,
        lr_drop_epoch=lr_drop_epoch,
        batch_size=batch_size,
        augment=augment,
        teacher=teacher,
        kd_temperature=kd_temperature,
        kd_alpha=kd_alpha,
        seed=seed,
    )
    open_kw = options.open_options(format, classes, classes_file, snr_min, snr_max)
    report = prune_run(
        run,
        data,
        out,
        cfg,
        train_cfg,
        split_seed=split_seed,
        data_options=DataOptions(**open_kw),
        resume=resume,
        force=force,
        device=device,
        threads=threads,
        progress=not quiet,
    )
    if not report:
        return
    if json_out:
        from amrkit.fileio import dumps_json

        typer.echo(dumps_json(report), nl=False)
        return
    o, p = report["original"], report["pruned"]
    test, base = report["test_accuracy"], report["original_test_accuracy"]
    typer.echo(
        f"{out}: {o['spec']} -> {p['spec']}; MACs {o['macs']:,} -> {p['macs']:,}, INT8 bytes "
        f"{o['int8_bytes']:,} -> {p['int8_bytes']:,}"
        + (f"; test {100 * base:.2f}% -> {100 * test:.2f}%" if test is not None else "")
    )


COMMANDS = {"prune": prune}
