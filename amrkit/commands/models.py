"""CLI commands: ``amrkit models`` (the registered architectures and the pretrained models)
and ``amrkit metrics MODEL`` (Tables I/III)."""

from __future__ import annotations

from typing import Any

import typer

from amrkit.commands import options


def _console() -> Any:
    """Rich console; 120 columns when the output is not a terminal (pipes, files)."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=120)


def _fmt_mb(value: float) -> str:
    return f"{value:.4f}"


def _int(value: int) -> str:
    return f"{value:,}"


def models(
    frame_length: int = typer.Option(
        1024,
        "--frame-length",
        "-L",
        min=1,
        help="Input length in samples the MACs are counted for.",
    ),
    as_json: options.JsonOpt = False,
) -> None:
    """List the registered models with their learnables, MACs and parameter memory, and the
    pretrained models (zoo:NAME) with their measured accuracy."""
    from amrkit.fileio import dumps_json
    from amrkit.metrics.network import network_metrics
    from amrkit.models import describe, get_spec, list_models

    rows: list[dict[str, Any]] = []
    for name in list_models():
        spec = get_spec(name)
        m = network_metrics(spec, frame_length)
        rows.append(
            {
                "name": name,
                "source": "registry",
                "description": describe(name),
                "spec": spec.short(),
                "conv_layers": len(spec.layers),
                "num_classes": spec.num_classes,
                "frame_length": frame_length,
                "learnables": m["learnables"],
                "bn_learnables": m["bn_learnables"],
                "macs": m["macs"],
                "parameter_memory_mb": m["parameter_memory_mb"],
            }
        )
    zoo = _zoo_rows()
    if as_json:
        typer.echo(dumps_json(rows + zoo), nl=False)
        return
    from rich.table import Table

    table = Table(title=f"amrkit models (MACs at frame length {frame_length})")
    table.add_column("model", style="bold")
    table.add_column("conv layers (filters x kernel, p = pool)")
    table.add_column("learnables", justify="right")
    table.add_column("MACs", justify="right")
    table.add_column("memory (MB)", justify="right")
    for r in rows:
        table.add_row(
            r["name"],
            r["spec"],
            _int(r["learnables"]),
            _int(r["macs"]),
            _fmt_mb(r["parameter_memory_mb"]),
        )
    _console().print(table)
    typer.echo(
        "Counts follow the paper (conv + fully connected layers; MB = bytes / 2^20). "
        "Use 'amrkit metrics MODEL' for the layer table."
    )
    _print_zoo(zoo)


def _zoo_rows() -> list[dict[str, Any]]:
    """The pretrained models' headline numbers, from the zoo's index (as measured by their
    cards; 'amrkit zoo verify' checks the files)."""
    from amrkit import pretrained

    rows = []
    for e in pretrained.entries():
        m, r = e.record["metrics"], e.record["recipe"]
        rows.append({
            "name": e.ref, "source": "zoo", "description": e.record.get("summary", ""),
            "spec": e.record.get("spec_short"), "num_classes": len(e.record["classes"]),
            "frame_length": e.record["frame_length"], "learnables": m["learnables"],
            "macs": m["macs"], "int8_bytes": m["int8_bytes"],
            "fp32_test_pct": m["fp32_test_pct"], "int8_test_pct": m["int8_test_pct"],
            "test_frames": m["test_frames"], "test_snr_db": m["test_snr_db"],
            "data": r.get("data"),
        })  # fmt: skip
    return rows


def _print_zoo(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    from rich.table import Table

    table = Table(title="pretrained models (accuracy on each card's independent test set)")
    for col in ("model", "conv layers", "MACs", "INT8 bytes", "FP32 %", "INT8 %", "test"):
        table.add_column(col, justify="left" if col in ("model", "conv layers") else "right")
    for r in rows:
        table.add_row(r["name"], r["spec"], _int(r["macs"]), _int(r["int8_bytes"]),
                      f"{r['fp32_test_pct']:.2f}", f"{r['int8_test_pct']:.2f}",
                      f"{r['test_frames']:,} at {r['test_snr_db']:g} dB")  # fmt: skip
    _console().print(table)
    typer.echo("Use them as zoo:NAME (the run) or zoo:NAME:int8 anywhere a model goes; "
               "'amrkit zoo show NAME' prints the card.")  # fmt: skip


def metrics(
    model: str = typer.Argument(
        ...,
        help="Registry name, spec file (.yaml/.json), spec string (16x8p,32x8), trained "
        "run directory, .onnx file (FP32 or INT8), or zoo:NAME / zoo:NAME:int8.",
    ),
    frame_length: int | None = typer.Option(
        None,
        "--frame-length",
        "-L",
        min=1,
        help="Input length in samples (default: the run's / ONNX graph's own, else 1024).",
    ),
    num_classes: int | None = typer.Option(
        None, "--num-classes", min=2, help="Number of classes (names and specs only; default 11)."
    ),
    precision: str | None = typer.Option(
        None,
        "--precision",
        help="fp32 (default) or int8 (int8 weights, int32 biases) for names, specs and runs; "
        "an .onnx file's stored types are measured.",
    ),
    as_json: options.JsonOpt = False,
) -> None:
    """Learnables, MACs and parameter memory per layer, in the paper's convention."""
    from amrkit import pretrained
    from amrkit.artifacts import resolve_model_path
    from amrkit.fileio import dumps_json
    from amrkit.metrics.resolve import model_metrics

    named = model
    if pretrained.is_ref(model):  # zoo:NAME (its run) or zoo:NAME:int8, files checked
        model = str(resolve_model_path(model))
    result = model_metrics(
        model, frame_length=frame_length, num_classes=num_classes, precision=precision
    )
    if named != model:
        result["model"] = named
    if as_json:
        typer.echo(dumps_json(result), nl=False)
        return
    print_metrics(result)


_SHORT = {"float32": "fp32", "float16": "fp16", "float64": "fp64"}


def _dtypes(layer: dict[str, Any]) -> str:
    w = _SHORT.get(layer["weight_dtype"], layer["weight_dtype"])
    b = layer["bias_dtype"]
    return f"{w}/{_SHORT.get(b, b)}" if b else w


def print_metrics(m: dict[str, Any]) -> None:
    from rich.table import Table

    quant = any(layer.get("quantized") for layer in m["layers"])
    shape = "x".join(map(str, m["input_shape"]))
    table = Table(title=f"{m['model']} ({m['source']}, {m['precision']}, input {shape})")
    for col, justify in (
        ("layer", "left"),
        ("hyperparameters", "left"),
        ("output", "left"),
        ("learnables", "right"),
        ("MACs", "right"),
        ("stored w/b", "left"),
        ("bytes", "right"),
    ):
        table.add_column(col, justify=justify)
    if quant:
        table.add_column("quantized to")
    for layer in m["layers"]:
        h = layer["hyperparameters"]
        if layer["type"] == "conv":
            hyper = f"conv {h['filters']}x{h['kernel']}"
            if h.get("padding") is not None:
                hyper += f" pad {'/'.join(map(str, h['padding']))}"
            if h.get("stride", 1) != 1:
                hyper += f" stride {h['stride']}"
            if h.get("pool"):
                hyper += f" pool {h['pool']}"
        else:
            hyper = f"fc {h.get('in_features')}->{h.get('out_features')}"
        row = [
            layer["name"],
            hyper,
            "x".join(map(str, layer["output_shape"])),
            _int(layer["learnables"]),
            _int(layer["macs"]),
            _dtypes(layer),
            _int(layer["parameter_bytes"]),
        ]
        if quant:
            row.append(layer.get("weight_quant_dtype") or "-")
        table.add_row(*row)
    console = _console()
    console.print(table)
    console.print(
        f"total: {m['learnables']:,} learnables (+{m['bn_learnables']:,} batch-norm), "
        f"{m['macs']:,} MACs, parameter memory {m['parameter_bytes']:,} B = "
        f"{m['parameter_memory_mb']:.4f} MB",
        highlight=False,
    )
    console.print(f"convention: {m['convention']}", style="dim", highlight=False)


COMMANDS = {"models": models, "metrics": metrics}
