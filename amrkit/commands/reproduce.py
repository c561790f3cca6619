"""CLI command: reproduce (the paper's tables and figures as a report)."""

from __future__ import annotations

from pathlib import Path

import typer

from amrkit.commands import options


def reproduce(
    out: str = typer.Option("results", "--out", help="Folder for report.md/.html, results.json."),
    full: bool = typer.Option(
        False,
        "--full",
        help="The paper's scale: 10,000 frames per class, paper protocol and amrkit's recipe "
        "(hours on 2 CPU cores, minutes with --device cuda).",
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
        help="Frames per class of the main dataset (quick 2,000; --full 10,000, also for Fig. 5).",
    ),
    protocols: str = typer.Option(
        None,
        "--protocols",
        help="Training protocols, comma-separated: paper (12 epochs, no augmentation) and/or "
        "recipe (amrkit's: augmentation, longer schedule). Default: recipe; --full: "
        "paper,recipe.",
    ),
    epochs: int = typer.Option(
        None, "--epochs", help="Epochs of amrkit's recipe (quick 24, --full 36)."
    ),
    lr_drop_epoch: int = typer.Option(
        None,
        "--lr-drop-epoch",
        help="Recipe: learning rate x 0.1 after this epoch (default: 3/4 of --epochs).",
    ),
    augment: str = typer.Option(
        None,
        "--augment",
        help="Recipe: training-time augmentation, none or phase,conj (see amrkit train --help).",
    ),
    batch_size: int = typer.Option(
        None, "--batch-size", help="Recipe: mini-batch (quick 64, --full 256)."
    ),
    seed: int = typer.Option(None, "--seed", help="One seed for data, training, calibration."),
    seeds: str = typer.Option(
        None,
        "--seeds",
        help="Training seeds, e.g. 1,2,3: Table III shows mean ± s.d.; the first also seeds "
        "the data and calibration.",
    ),
    search_trials: int = typer.Option(
        None,
        "--search-trials",
        help="'Beyond the paper': proxy trials of an architecture search on the main data "
        "(quick 8, a small one; --full 40); 0: no search.",
    ),
    device: options.DeviceOpt = "auto",
    workers: int = typer.Option(None, "--workers", help="Processes for data generation."),
    threads: int = typer.Option(None, "--threads", help="Torch / ONNX Runtime threads."),
    force: bool = typer.Option(False, "--force", help="Redo every stage, ignoring the cache."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Reproduce the paper's Tables I–III and Figures 4–6 as a report (cached, resumable)."""
    from amrkit.report.config import default_config
    from amrkit.report.pipeline import reproduce as run

    cfg = default_config(
        full,
        models=_split(models),
        protocols=_split(protocols),
        snr_convention=snr_convention,
        frames_per_class=frames_per_class,
        epochs=epochs,
        lr_drop_epoch=lr_drop_epoch,
        augment=augment,
        batch_size=batch_size,
        seeds=_seeds(seed, seeds),
        search_trials=search_trials,
        device=device,
        workers=workers,
        threads=threads,
    )

    def log(msg: str) -> None:
        if not quiet:
            typer.echo(msg, err=True)

    from amrkit.fileio import output_lock

    with output_lock(out):  # a second reproduce into the same folder is refused, not mixed
        results = run(cfg, out, force=force, log=log, progress=not quiet)
    for line in summary_lines(results):
        typer.echo(line)
    d = Path(out)
    typer.echo(f"report: {d / 'report.md'}  ({d / 'report.html'}, {d / 'results.json'})")


def _split(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(t.strip() for t in text.split(",") if t.strip())


def _seeds(seed: int | None, seeds: str | None) -> tuple[int, ...] | None:
    from amrkit.errors import AmrkitError

    if seed is not None and seeds is not None:
        raise AmrkitError("--seed and --seeds both given; use --seeds (e.g. --seeds 1,2,3)")
    if seed is not None:
        return (seed,)
    try:
        return None if seeds is None else tuple(int(s) for s in _split(seeds) or ())
    except ValueError:
        raise AmrkitError(
            f"--seeds {seeds!r} is not a comma list of integers; give e.g. 1,2,3"
        ) from None


def summary_lines(results: dict) -> list[str]:
    """What the command prints: mode, wall time, and Table III's rows."""
    from amrkit.report.formats import f_mean_sd

    prov = results["provenance"]
    lines = [
        f"{results['mode']} run: {prov['wall_time_s']:.0f} s wall, {prov['cpu_time_s']:.0f} s "
        f"CPU, {results['snr_convention']} SNR {results['config']['snr_db']:g} dB, disjoint "
        "test split"
    ]
    shipped = [r for r in results["table3"] if r["protocol"] == "pretrained"]
    for r in results["table3"]:
        if r["protocol"] == "pretrained":
            continue
        acc = f_mean_sd(r["accuracy_pct"], r["accuracy_sd_pt"])
        lines.append(
            f"  {r['protocol_label'] + ':':<17} {r['row']:<20} {acc:>14} %  {r['macs']:>10,} MACs"
            f"  {r['parameter_memory_mb']:.4f} MB"
        )
    if shipped:
        lines.append(f"  {shipped[0]['protocol_label']}:")
        for r in shipped:
            acc = f_mean_sd(r["accuracy_pct"], None)
            lines.append(
                f"  {'':<17} {r['row']:<20} {acc:>14} %  {r['macs']:>10,} MACs"
                f"  {r['parameter_memory_mb']:.4f} MB"
            )
    best = (results.get("beyond") or {}).get("best_within_budget")
    if best is not None:
        basis = "INT8 test" if best["basis"] == "int8_test" else "proxy val. only"
        lines.append(
            f"  beyond the paper: {best['spec']}  {f_mean_sd(best['accuracy_pct'], None)} % "
            f"({basis})  {best['macs']:,} MACs  {best['int8_bytes']:,} INT8 bytes"
        )
    return lines


COMMANDS = {"reproduce": reproduce}
