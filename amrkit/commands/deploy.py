"""CLI command: deploy (C code for microcontrollers from an INT8 model)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from amrkit.commands import options
from amrkit.errors import AmrkitError


def deploy(
    model: Path = typer.Argument(
        ...,
        help="INT8 QDQ .onnx file (amrkit quantize), an 'amrkit simulate --dump' folder, or "
        "a shipped model's INT8 file: zoo:NAME:int8.",
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
        "per frame (portable C, the DSP/SMLAD kernels and, on the M55, Helium).",
    ),
    cpu: str = typer.Option(
        "generic",
        "--cpu",
        help="The CPU to generate for: generic (portable C99, with the DSP/Helium kernels on a "
        "Cortex-M), cortex-m4 or cortex-m55 (generic C; --report runs it on mps2-an386 / "
        "mps3-an547), x86-avx2 or x86-avx512vnni (SIMD kernels, compiled with that instruction "
        "set), native (this machine's fastest exact path).",
    ),
    pack: str = typer.Option(
        "auto",
        "--pack",
        help="Weight storage: auto (layers whose weights fit 4 bits, e.g. QAT --bits 4 or mixed "
        "precision, two weights per byte; generic/Cortex-M builds) or off (one per byte). With "
        "--report, auto also states the flash of the --pack off build and the saving.",
    ),
    json_out: options.JsonOpt = False,
) -> None:
    """Generate a self-contained C99 library (no malloc, one static arena) from an INT8 model,
    bit-exact with 'amrkit simulate'."""
    from amrkit.deploy import mcu, x86
    from amrkit.deploy.report import (
        TARGETS,
        deploy_c,
        load_model,
        measure_library,
        noise_frames,
        packing_report,
        variants,
    )
    from amrkit.fileio import dumps_json

    if target not in TARGETS:
        raise AmrkitError(f"--target {target!r} is not one of {', '.join(TARGETS)}; use --target c")
    if cpu not in (*x86.HOST_CPUS, *mcu.CPUS):
        raise AmrkitError(f"--cpu {cpu!r} is not one of {', '.join((*x86.HOST_CPUS, *mcu.CPUS))}")
    host = cpu if cpu in x86.HOST_CPUS else "generic"
    if report:
        if host != "generic":
            raise AmrkitError(
                f"--report measures the library on a Cortex-M; --cpu {cpu} generates x86 "
                "kernels: use --cpu cortex-m4, cortex-m55 or generic with --report"
            )
        cpu = cpu if cpu in mcu.CPUS else "cortex-m4"
        mcu.require_toolchain()
    result = deploy_c(model, out, name=name, rounding=rounding, cpu=host, pack=pack)
    if report:
        integer_model = load_model(model, rounding)
        xq = noise_frames(integer_model, 2)
        with tempfile.TemporaryDirectory(prefix="amrkit-mcu-") as work:
            result["mcu"] = [
                measure_library(
                    integer_model,
                    out,
                    Path(work) / f"{dsp}{mve}",
                    xq,
                    name=name,
                    cpu=cpu,
                    dsp=dsp,
                    mve=mve,
                )  # fmt: skip
                for dsp, mve in variants(cpu)
            ]
            if result["weight_packing"]["packed_layers"]:
                result["packing"] = packing_report(
                    integer_model, result["mcu"], Path(work) / "pack", name=name, cpu=cpu
                )
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
    wp = result["weight_packing"]
    if wp["packed_layers"]:
        console.print(
            f"4-bit weights two per byte in {', '.join(wp['packed_layers'])}: weights "
            f"{wp['weight_bytes']:,} B instead of {wp['weight_bytes_unpacked']:,} B (--pack off)"
        )
    if result["cpu"] != "generic":
        console.print(
            f"kernels for {result['cpu']}: compile with {' '.join(result['compile_flags'])} "
            "(or -march=native on such a CPU)"
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
    for r in result.get("packing", {}).get("variants", []):
        console.print(
            f"{r['variant']}: flash {r['flash_bytes_packed']:,} B with 4-bit weights packed, "
            f"{r['flash_bytes_unpacked']:,} B with --pack off ({r['saving_pct']:.1f} % smaller)"
        )


COMMANDS = {"deploy": deploy}
