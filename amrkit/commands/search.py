"""CLI command: search (multi-objective architecture search to a budget)."""

from __future__ import annotations

from pathlib import Path

import typer

from amrkit.commands import options


def search(
    data: str = typer.Argument(..., help="Dataset (train/val for trials; test for the result)."),
    out: Path = typer.Option(..., "--out", "-o", help="Search folder (continued if it exists)."),
    trials: int | None = typer.Option(None, "--trials", help="Proxy trials in the study [40]."),
    max_macs: int | None = typer.Option(None, "--max-macs", help="MAC budget per frame."),
    max_int8_kb: float | None = typer.Option(
        None, "--max-int8-kb", help="INT8 parameter budget in kB (1 kB = 1000 bytes)."
    ),
    max_latency_us: float | None = typer.Option(
        None, "--max-latency-us", help="ORT INT8 batch-1 latency budget (µs, median)."
    ),
    config: str | None = typer.Option(
        None, "--config", help="YAML/JSON of SearchConfig fields; options override it."
    ),
    storage: str | None = typer.Option(
        None,
        "--storage",
        help="Optuna storage URL \\[sqlite:///OUT/study.db]; postgresql://... "
        "lets many machines share one study.",
    ),  # fmt: skip
    study: str = typer.Option("amrkit-search", "--study", help="Study name in the storage."),
    workers: int = typer.Option(1, "--workers", help="Worker processes on this machine."),
    worker: int | None = typer.Option(
        None, "--worker", help="Only run trials, as worker K >= 1 (another process finishes)."
    ),
    proxy_epochs: int | None = typer.Option(None, "--proxy-epochs", help="Epochs per trial [4]."),
    proxy_frames: int | None = typer.Option(
        None, "--proxy-frames", help="Training frames per class in a trial [1000]."
    ),
    final_epochs: int | None = typer.Option(
        None, "--final-epochs", help="Epochs of the Pareto models' full training [12]."
    ),
    teacher: str | None = typer.Option(None, "--teacher", help="Distill from this run."),
    seed: int | None = typer.Option(None, "--seed", help="Sampler/proxy/training seed [0]."),
    threads: int | None = typer.Option(None, "--threads", help="Threads per worker [1]."),
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    json_out: options.JsonOpt = False,
) -> None:
    """Find the accuracy / MACs / INT8-bytes / latency trade-off: DIR/pareto.json + PNG."""
    from amrkit.config import from_file, replace
    from amrkit.search import SearchConfig, run_search
    from amrkit.train.runner import DataOptions

    overrides = {
        "trials": trials,
        "max_macs": max_macs,
        "max_int8_bytes": None if max_int8_kb is None else int(max_int8_kb * 1000),
        "max_latency_us": max_latency_us,
        "proxy_epochs": proxy_epochs,
        "proxy_train_per_class": proxy_frames,
        "final_epochs": final_epochs,
        "teacher": teacher,
        "seed": seed,
        "threads": threads,
    }
    if config is not None:
        cfg = from_file(SearchConfig, config, **overrides)
    else:
        cfg = replace(SearchConfig(), **overrides)
    open_kw = options.open_options(format, classes, classes_file, snr_min, snr_max)
    result = run_search(
        cfg, data, out, storage=storage, study=study, workers=workers, worker=worker,
        data_options=DataOptions(**open_kw), progress=not quiet,
    )  # fmt: skip
    if json_out:
        from amrkit.fileio import dumps_json

        typer.echo(dumps_json(result.to_dict()), nl=False)
        return
    done = sum(t["state"] == "complete" for t in result.trials)
    typer.echo(f"{out}: {len(result.trials)} trials ({done} complete)")
    for m in result.pareto:
        acc = m["int8_test_accuracy"]
        typer.echo(
            f"  {m['spec']:<40} {m['macs']:>11,} MACs {m['int8_bytes']:>8,} B INT8 "
            f"{m['latency_us']:8.1f} us  INT8 test "
            + (f"{100 * acc:.2f}%" if acc is not None else "-")
        )
    if result.pareto_json is not None:
        typer.echo(f"wrote {result.pareto_json} and {out / 'pareto.png'}")


COMMANDS = {"search": search}
