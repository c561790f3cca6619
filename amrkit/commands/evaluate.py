"""CLI command: ``amrkit evaluate MODEL DATA`` — accuracy overall, per SNR, per class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from amrkit.commands import options

PLOT_FILES = ("accuracy_vs_snr.png", "confusion.png")


def evaluate(
    model: Path = typer.Argument(
        ...,
        help="Trained run directory (PyTorch), .onnx file (FP32 or INT8), or a shipped model: "
        "zoo:NAME (its run) or zoo:NAME:int8.",
    ),
    data: Path = typer.Argument(..., help="Dataset file (amrkit HDF5, ...)."),
    split: str = typer.Option("test", "--split", help="Frames to use: train, val, test or all."),
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    split_seed: options.SplitSeedOpt = None,
    drop_nonfinite: options.DropNonfiniteOpt = False,
    batch_size: int = typer.Option(1024, "--batch-size", min=1, help="Frames per inference batch."),
    threads: options.InferThreadsOpt = None,
    device: options.DeviceOpt = "auto",
    runtime: str = typer.Option(
        "auto", "--runtime", help="ONNX files: auto (= ort), ort, openvino or c (INT8)."
    ),
    top_confused: int = typer.Option(
        5, "--top-confused", min=0, help="Most-confused pairs to list."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Folder for accuracy_vs_snr.png and confusion.png."
    ),
    snr_bands: str | None = typer.Option(
        None,
        "--snr-bands",
        help="Also summarize accuracy per SNR band: increasing dB edges, e.g. 0,10,20 for "
        "< 0, 0-10, 10-20 and >= 20 dB.",
    ),
    by: str | None = typer.Option(
        None,
        "--by",
        help="Also report accuracy per value of a per-frame field recorded in the file, e.g. "
        "channel/delay_spread (amrkit HDF5 files).",
    ),
    bins: str | None = typer.Option(
        None,
        "--bins",
        help="Bin edges for --by: increasing numbers, e.g. 0,1,2,3,4,5 for [0, 1) ... [4, 5]; "
        "without it one row per distinct value (at most 20).",
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the JSON report to this file."),
    as_json: options.JsonOpt = False,
) -> None:
    """Measure a model on a dataset split: top-1 accuracy, per SNR, per class, confusion."""
    import sys

    from amrkit.errors import AmrkitError
    from amrkit.fileio import dumps_json, write_json
    from amrkit.metrics.accuracy import parse_snr_bands
    from amrkit.metrics.by_field import parse_bin_edges
    from amrkit.metrics.evaluate import SPLITS, evaluate_path

    if split not in SPLITS:
        raise AmrkitError(f"--split {split!r} is not one of {', '.join(SPLITS)}")
    edges = None if snr_bands is None else parse_snr_bands(snr_bands)
    if bins is not None and by is None:
        raise AmrkitError("--bins needs --by FIELD (e.g. --by channel/delay_spread)")
    by_edges = None if bins is None else parse_bin_edges(bins)
    _check_outputs(out, plot)  # fail before the (long) evaluation, creating nothing yet

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    err = Console(stderr=True)
    with Progress(
        TextColumn("evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("evaluate", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = evaluate_path(
            model,
            data,
            split=split,
            batch_size=batch_size,
            device=device,
            threads=threads,
            top_confused=top_confused,
            progress=progress,
            split_seed=split_seed,
            drop_nonfinite=drop_nonfinite,
            runtime=runtime,
            snr_bands=edges,
            by=by,
            bins=by_edges,
            **options.open_options(format, classes, classes_file, snr_min, snr_max),
        )
    dropped = result["data"].get("dropped_nonfinite")
    if dropped:
        err.print(f"skipped {dropped:,} frame(s) with NaN or inf samples", highlight=False)
    if plot is not None:
        result["plots"] = _plots(result, model, split, plot)
    if out is not None:
        write_json(out, result)
    if as_json:
        typer.echo(dumps_json(result), nl=False)
        return
    print_report(result)


def _check_outputs(out: Path | None, plot: Path | None) -> None:
    """--out and --plot can be written (nothing is created yet)."""
    from amrkit.errors import AmrkitError
    from amrkit.fileio import check_writable

    if out is not None:
        if out.is_dir():
            raise AmrkitError(
                f"--out {str(out)!r} is a folder; give a file path such as report.json"
            )
        try:
            check_writable(out, create=False)
        except AmrkitError as exc:
            raise AmrkitError(f"--out: {exc}") from None
    if plot is not None:
        if plot.exists() and not plot.is_dir():
            raise AmrkitError(f"--plot {str(plot)!r} is a file; give a folder for the figures")
        try:
            for name in PLOT_FILES:
                check_writable(plot / name, create=False)
        except AmrkitError as exc:
            raise AmrkitError(f"--plot: {exc}") from None


def _plots(result: dict[str, Any], model: Path, split: str, plot: Path) -> list[str]:
    """accuracy_vs_snr.png and confusion.png in ``plot``: their paths."""
    from amrkit.metrics.plots import plot_accuracy_vs_snr, plot_confusion

    label = f"{Path(model).name} ({result['model']['kind']})"
    title = f"Top-1 accuracy vs SNR, {split} split"
    curve = plot_accuracy_vs_snr({label: result}, plot / PLOT_FILES[0], title=title)
    title = (
        f"{label}, {split} split: {result['num_frames']} frames, "
        f"accuracy {100 * result['accuracy']:.2f} %"
    )
    return [str(curve), str(plot_confusion(result, plot / PLOT_FILES[1], title=title))]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def print_report(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{r['model'].get('path', '')}[/] ({r['model']['kind']}) on "
        f"{r['data'].get('path', 'data')}, split {r['split']}: "
        f"[bold]{_pct(r['accuracy'])}[/] top-1 ({r['correct']:,} / {r['num_frames']:,} frames), "
        f"loss {r['loss']:.4f}",
        highlight=False,
    )
    snr = Table(title="accuracy per SNR")
    for col in ("SNR (dB)", "frames", "accuracy"):
        snr.add_column(col, justify="right")
    for key, e in r["per_snr"].items():
        snr.add_row(key, f"{e['frames']:,}", _pct(e["accuracy"]))
    cls = Table(title="accuracy per class")
    for col in ("class", "frames", "accuracy (recall)", "precision"):
        cls.add_column(col, justify="right" if col != "class" else "left")
    for name, e in r["per_class"].items():
        cls.add_row(name, f"{e['frames']:,}", _pct(e["accuracy"]), _pct(e["precision"]))
    console.print(snr)
    if r.get("snr_bands"):
        bands = Table(title="accuracy per SNR band")
        for col in ("SNR band", "frames", "accuracy"):
            bands.add_column(col, justify="right")
        for e in r["snr_bands"]:
            bands.add_row(e["band"], f"{e['frames']:,}", _pct(e["accuracy"]))
        console.print(bands)
    if r.get("by"):
        console.print(by_table(r["by"]))
    console.print(cls)
    if r["most_confused"]:
        conf = Table(title="most confused (true -> predicted)")
        for col in ("true", "predicted", "frames", "share of true"):
            conf.add_column(col)
        for e in r["most_confused"]:
            conf.add_row(e["true"], e["predicted"], f"{e['count']:,}", _pct(e["fraction_of_true"]))
        console.print(conf)
    for p in r.get("plots", []):
        console.print(f"wrote {p}", highlight=False)


def by_table(by: dict[str, Any]) -> Any:
    """The ``--by`` section as a rich table: bin, frames, accuracy."""
    from rich.table import Table

    from amrkit.metrics.by_field import bin_name

    rows = by["bins"]
    caption = (
        f"{by['outside']:,} of {by['frames']:,} frames outside the bins" if by["outside"] else None
    )
    table = Table(title=f"accuracy by {by['field']}", caption=caption)
    for col in (by["field"], "frames", "accuracy"):
        table.add_column(col, justify="right")
    for k, e in enumerate(rows):
        acc = "-" if e["accuracy_pct"] is None else f"{e['accuracy_pct']:.2f} %"
        table.add_row(bin_name(e, k == len(rows) - 1), f"{e['frames']:,}", acc)
    return table


COMMANDS = {"evaluate": evaluate}
