"""CLI commands: simulate (the integer-only golden model of an INT8 QDQ ONNX file)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from amrkit.commands import options
from amrkit.errors import AmrkitError


def simulate(
    model: Path = typer.Argument(
        ..., help="INT8 QDQ .onnx file (amrkit quantize / QAT export) or zoo:NAME:int8."
    ),
    data: Path = typer.Argument(..., help="Dataset file (amrkit HDF5, RadioML, NumPy)."),
    split: str = typer.Option("test", "--split", help="Frames to run: train, val, test or all."),
    format: options.FormatOpt = None,
    classes: options.ClassesOpt = None,
    classes_file: options.ClassesFileOpt = None,
    snr_min: options.SnrMinOpt = None,
    snr_max: options.SnrMaxOpt = None,
    split_seed: options.SplitSeedOpt = None,
    max_frames: int | None = typer.Option(
        None, "--max-frames", help="At most this many frames of the split (evenly spaced)."
    ),
    batch_size: int = typer.Option(256, "--batch-size", help="Frames per batch."),
    rounding: str = typer.Option(
        "float32",
        "--rounding",
        help="Requantization rounding: float32 (ONNX Runtime's float32 product acc*M, "
        "then ties to even; in integers), half_even / half_away / half_up (the exact product "
        "rounded once, ties as named).",
    ),
    no_ort: bool = typer.Option(False, "--no-ort", help="Skip the ONNX Runtime comparison."),
    threads: int | None = typer.Option(None, "--threads", help="ONNX Runtime threads."),
    dump: Path | None = typer.Option(
        None,
        "--dump",
        help="Write integer weights, biases, multipliers, shifts (.npy) and "
        "manifest.json to this new folder.",
    ),
    json_out: options.JsonOpt = False,
) -> None:
    """Run the integer-only golden model (int8 products, int32 accumulators, multiplier+shift
    requantization) on a dataset and compare it with ONNX Runtime."""
    from amrkit.data.open import open_frames
    from amrkit.fileio import dumps_json
    from amrkit.golden import dump as dump_model
    from amrkit.golden import load_integer_model
    from amrkit.golden import simulate as run_simulation

    if dump is not None and dump.exists() and (not dump.is_dir() or any(dump.iterdir())):
        raise AmrkitError(f"--dump folder {str(dump)!r} exists and is not empty; choose a new one")
    if threads is not None and threads < 1:
        raise AmrkitError(f"--threads {threads} must be >= 1")
    from amrkit.artifacts import check_onnx_model, onnx_metadata, resolve_model_path
    from amrkit.data.split import resolve_split_seed

    path = resolve_model_path(model, "onnx")
    try:
        integer_model = load_integer_model(path, rounding=rounding)
    except AmrkitError:
        _structural_error_first(path)
        raise
    check_onnx_model(path)  # the checks of every command that loads a model (load_predictor's)
    seed = resolve_split_seed(split_seed, onnx_metadata(path), repr(str(model)))
    open_kw = options.open_options(format, classes, classes_file, snr_min, snr_max)
    frames = open_frames(data, split_seed=seed, **open_kw)
    try:
        result = run_simulation(
            integer_model,
            frames,
            split=split,
            max_frames=max_frames,
            batch_size=batch_size,
            compare_ort=not no_ort,
            threads=threads,
            progress=not json_out and sys.stderr.isatty(),
        )
    finally:
        frames.close()
    if dump is not None:
        from amrkit.golden import Stats

        stats = Stats({r["layer"]: r["acc_max"] for r in result["layers"] if "acc_max" in r})
        dump_model(integer_model, dump, stats)
        result["dump"] = str(dump)
    if json_out:
        typer.echo(dumps_json(result), nl=False)
        return
    _print(result)


def _structural_error_first(path: Path) -> None:
    """A readable graph that the golden model refuses: when every command's check
    (:func:`amrkit.artifacts.check_onnx_model`) refuses it too, its message wins, so a
    damaged file gets the same line from simulate as from evaluate or classify."""
    from amrkit.artifacts import check_onnx_model, load_graph

    try:
        graph = load_graph(path)
    except AmrkitError:
        return  # not readable: the golden model's own message says so
    check_onnx_model(path, graph)


def _print(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    line = (
        f"{result['frames']} frames ({result['split']}), golden accuracy {result['accuracy']:.2%}"
    )
    if "top1_agreement" in result:
        line += (
            f", ONNX Runtime accuracy {result['ort_accuracy']:.2%}, top-1 agreement "
            f"{result['top1_agreement']:.3%} ({result['disagreements']} differ), logits "
            f"within {result['output_max_lsb']} LSB"
        )
    console.print(line)
    if "runtime" in result:
        rt = result["runtime"]
        verdict = (
            "ONNX Runtime matched the golden model bit for bit"
            if result["bit_exact"]
            else "ONNX Runtime did NOT match the golden model "
            f"(up to {result['output_max_lsb']} LSB)"
        )
        console.print(
            f"{verdict} on this CPU: {rt['cpu']} [{', '.join(rt['isa']) or 'no SIMD flags'}]; "
            f"kernel: {rt['kernel']}"
        )
    inp = result["input"]
    console.print(
        f"input: float → {inp['dtype']} at the boundary (scale {inp['scale']:.6g}, "
        f"zero point {inp['zero_point']}); rounding {result['rounding']}; "
        f"{result['frames_per_second_golden']:.0f} frames/s"
    )
    table = Table(title="accumulators per layer (signed bits)")
    for col in (
        "layer",
        "kind",
        "out shape",
        "weights",
        "acc seen",
        "bits",
        "bound",
        "bits",
        "multiplier",
        "vs ORT LSB (alone, diagnostic)",
    ):
        table.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for r in result["layers"]:
        weights = f"[{r['weight_min']}, {r['weight_max']}]" if "weight_min" in r else ""
        mult = (
            f"{r['multiplier_min']:.3g}..{r['multiplier_max']:.3g}"
            if "multiplier_min" in r
            else "float out"
        )
        ort = f"{r['ort_max_lsb']} ({r['ort_layer_max_lsb']})" if "ort_max_lsb" in r else ""
        table.add_row(
            r["layer"],
            r["kind"],
            "×".join(map(str, r["out_shape"])),
            weights,
            str(r.get("acc_max", "")),
            str(r.get("acc_max_bits", "")),
            str(r["acc_bound"]),
            str(r["acc_bound_bits"]),
            mult,
            ort,
        )
    console.print(table)
    for r in result["layers"]:
        if r.get("notes"):
            console.print(f"{r['layer']}: {r['notes']}")
    if "dump" in result:
        console.print(f"integer parameters written to {result['dump']}/ (manifest.json)")


COMMANDS = {"simulate": simulate}
