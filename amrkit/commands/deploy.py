"""CLI command: deploy (C code for microcontrollers from an INT8 model)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from amrkit.commands import options
from amrkit.errors import AmrkitError


def deploy(
    model: Path = typer.Argument(
        ..., help="INT8 QDQ .onnx file (amrkit quantize) or an 'amrkit simulate --dump' folder."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder (new, or a previous deploy folder: replaced)."
    ),
    target: str = typer.Option("c", "--target", help="What to generate: c (a C99 library)."),
    name: str = typer.Option("amr", "--name", help="C prefix of the files and functions."),
    rounding: str | None = typer.Option(
        None,
        "--rounding",
        help="Requantization rounding: float32 (ONNX Runtime's, the golden model's default), "
        "half_even, half_away, half_up.",
    ),
    report: bool = typer.Option(
        False,
        "--report",
        help="Also cross-compile for Cortex-M, run under QEMU: flash, RAM, stack, instructions "
        "per frame (portable C and the DSP/SMLAD kernels).",
    ),
    cpu: str = typer.Option(
        "cortex-m4",
        "--cpu",
        help="--report CPU: cortex-m4 (mps2-an386) or cortex-m55 (mps3-an547).",
    ),
    json_out: options.JsonOpt = False,
) -> None:
    """Generate a self-contained C99 library (no malloc, one static arena) from an INT8 model,
    bit-exact with 'amrkit simulate'."""
    from amrkit.deploy import mcu
    from amrkit.deploy.report import TARGETS, deploy_c, load_model, measure_library, noise_frames
    from amrkit.fileio import dumps_json

    if target not in TARGETS:
        raise AmrkitError(f"--target {target!r} is not one of {', '.join(TARGETS)}; use --target c")
    if report:
        if cpu not in mcu.CPUS:
            raise AmrkitError(f"--cpu {cpu!r} is not one of {', '.join(mcu.CPUS)}")
        mcu.require_toolchain()
    result = deploy_c(model, out, name=name, rounding=rounding)
    if report:
        integer_model = load_model(model, rounding)
        xq = noise_frames(integer_model, 2)
        with tempfile.TemporaryDirectory(prefix="amrkit-mcu-") as work:
            result["mcu"] = [
                measure_library(
                    integer_model, out, Path(work) / str(dsp), xq, name=name, cpu=cpu, dsp=dsp
                )  # fmt: skip
                for dsp in (False, True)
            ]
    if json_out:
        typer.echo(dumps_json(result))
        return
    _print(result)


def _print(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"wrote {result['out']}/ ({', '.join(result['files'])}): {result['macs_per_frame']:,} MACs"
        f"/frame, parameters {result['parameter_bytes']:,} B, arena {result['arena_bytes']:,} B"
    )
    if "mcu" not in result:
        return
    table = Table(title=f"On a microcontroller ({result['mcu'][0]['cpu']}, QEMU)")
    for col in ("variant", "flash B", "RAM B", "stack B", "arena B", "instr/frame", "instr/MAC",
                "bit-exact"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in result["mcu"]:
        table.add_row(
            r["variant"], f"{r['flash_bytes']:,}", f"{r['ram_bytes']:,}", f"{r['stack_bytes']:,}",
            f"{r['arena_bytes']:,}", f"{r['instructions_per_frame']:,}",
            f"{r['instructions_per_mac']:.2f}", "yes" if r["bit_exact"] else "NO",
        )  # fmt: skip
    console.print(table)


COMMANDS = {"deploy": deploy}
