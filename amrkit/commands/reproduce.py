"""CLI command: reproduce (the paper's tables and figures as a report)."""

from __future__ import annotations

from pathlib import Path

import typer


def reproduce(
    out: str = typer.Option("results", "--out", help="Folder for report.md/.html, results.json."),
    full: bool = typer.Option(
        False, "--full", help="The paper's scale: 10,000 frames per class (≤ 90 min on 2 cores)."
    ),
    models: str = typer.Option(
        None,
        "--models",
        help="Comma list of models (registry names or .yaml/.json spec files); the first is "
        "the baseline, the last the one quantized for Figs. 4-5. Default: original,optimized.",
    ),
    snr_convention: str = typer.Option(
        None, "--snr-convention", help="measured (default) or matlab (the reference's)."
    ),
    frames_per_class: int = typer.Option(
        None,
        "--frames-per-class",
        help="Frames per class of the main dataset (default 800; --full 10,000); in quick "
        "mode also of each Fig. 5 dataset (--full keeps 2,000 there).",
    ),
    epochs: int = typer.Option(None, "--epochs", help="Training epochs (default 12)."),
    lr_drop_epoch: int = typer.Option(
        None,
        "--lr-drop-epoch",
        help="Learning rate x 0.1 after this epoch (default: 3/4 of --epochs, 9 of 12).",
    ),
    augment: str = typer.Option(
        None,
        "--augment",
        help="Training-time augmentation: none (the reference) or phase,conj (see amrkit "
        "train --help).",
    ),
    seed: int = typer.Option(None, "--seed", help="Seed of data, training and calibration."),
    workers: int = typer.Option(None, "--workers", help="Processes for data generation."),
    threads: int = typer.Option(None, "--threads", help="Torch / ONNX Runtime threads."),
    force: bool = typer.Option(False, "--force", help="Redo every stage, ignoring the cache."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Reproduce the paper's Tables I–III and Figures 4–6 as a report (cached, resumable)."""
    from amrkit.report.config import default_config
    from amrkit.report.pipeline import reproduce as run

    model_list = (
        tuple(m.strip() for m in models.split(",") if m.strip()) if models is not None else None
    )
    cfg = default_config(
        full,
        models=model_list,
        snr_convention=snr_convention,
        frames_per_class=frames_per_class,
        fig5_frames_per_class=None if full else frames_per_class,
        epochs=epochs,
        fig5_epochs=epochs,
        lr_drop_epoch=lr_drop_epoch,
        augment=augment,
        seed=seed,
        workers=workers,
        threads=threads,
    )

    def log(msg: str) -> None:
        if not quiet:
            typer.echo(msg, err=True)

    results = run(cfg, out, force=force, log=log, progress=not quiet)
    t3 = results["table3"]
    typer.echo(f"{cfg.label} run: {results['provenance']['wall_time_s']:.0f} s")
    for r in t3:
        typer.echo(
            f"  {r['row']:<24} {r['accuracy_pct']:6.2f} %  {r['macs']:>10,} MACs  "
            f"{r['parameter_memory_mb']:.4f} MB"
        )
    d = Path(out)
    typer.echo(f"report: {d / 'report.md'}  ({d / 'report.html'}, {d / 'results.json'})")


COMMANDS = {"reproduce": reproduce}
