"""CLI command: search (multi-objective architecture search to a budget)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from amrkit.commands import options

# search's options
DataArg = Annotated[
    str, typer.Argument(help="Dataset (train/val for trials; test for the result).")
]
OutOpt = Annotated[
    Path, typer.Option("--out", "-o", help="Search folder (continued if it exists).")
]
TrialsOpt = Annotated[int | None, typer.Option("--trials", help="Proxy trials in the study [40].")]
MaxMacsOpt = Annotated[int | None, typer.Option("--max-macs", help="MAC budget per frame.")]
MaxInt8KbOpt = Annotated[
    float | None,
    typer.Option("--max-int8-kb", help="INT8 parameter budget in kB (1 kB = 1000 bytes)."),
]
MaxLatencyUsOpt = Annotated[
    float | None,
    typer.Option("--max-latency-us", help="ORT INT8 batch-1 latency budget (µs, median)."),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", help="YAML/JSON of SearchConfig fields; options override it."),
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Optuna storage URL \\[sqlite:///OUT/study.db]; postgresql://... "
        "lets many machines share one study.",
    ),
]
StudyOpt = Annotated[str, typer.Option("--study", help="Study name in the storage.")]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Worker processes on this machine.")]
WorkerOpt = Annotated[
    int | None,
    typer.Option("--worker", help="Only run trials, as worker K >= 1 (another process finishes)."),
]
ProxyEpochsOpt = Annotated[int | None, typer.Option("--proxy-epochs", help="Epochs per trial [4].")]
ProxyFramesOpt = Annotated[
    int | None, typer.Option("--proxy-frames", help="Training frames per class in a trial [1000].")
]
FinalEpochsOpt = Annotated[
    int | None,
    typer.Option("--final-epochs", help="Epochs of the Pareto models' full training [12]."),
]
TeacherOpt = Annotated[str | None, typer.Option("--teacher", help="Distill from this run.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampler/proxy/training seed [0].")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="Threads per worker [1].")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


def search(
    data: DataArg,
    out: OutOpt,
    trials: TrialsOpt = None,
    max_macs: MaxMacsOpt = None,
    max_int8_kb: MaxInt8KbOpt = None,
    max_latency_us: MaxLatencyUsOpt = None,
    config: ConfigOpt = None,
    storage: StorageOpt = None,
    study: StudyOpt = "amrkit-search",
    workers: WorkersOpt = 1,
    worker: WorkerOpt = None,
    proxy_epochs: ProxyEpochsOpt = None,
    proxy_frames: ProxyFramesOpt = None,
    final_epochs: FinalEpochsOpt = None,
    teacher: TeacherOpt = None,
    seed: SeedOpt = None,
    threads: ThreadsOpt = None,
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    quiet: QuietOpt = False,
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
