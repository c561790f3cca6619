"""``amrkit deploy`` as functions: generate the C library of an INT8 model, and measure it on
an emulated Cortex-M (flash, RAM, stack, executed instructions per frame)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amrkit.deploy import mcu
from amrkit.deploy.codegen import write_library
from amrkit.errors import AmrkitError
from amrkit.golden.model import IntegerModel

TARGETS = ("c",)
REPORT_FRAMES = 2  # seeded noise frames per measurement (the cost hardly depends on data)


def load_model(path: str | Path, rounding: str | None = None) -> IntegerModel:
    """An INT8 QDQ .onnx file or an ``amrkit simulate --dump`` folder → IntegerModel."""
    from amrkit.artifacts import resolve_model_path
    from amrkit.golden import load_dump, load_integer_model

    p = resolve_model_path(path, "onnx") if str(path).startswith("zoo:") else Path(path)
    if p.is_dir():
        if not (p / "manifest.json").is_file():
            raise AmrkitError(f"{str(p)!r} is a folder without manifest.json; give an INT8 .onnx "
                              "file or an 'amrkit simulate --dump' folder")  # fmt: skip
        model = load_dump(p)
        if rounding is not None and rounding != model.rounding:
            raise AmrkitError(f"the dump {str(p)!r} was made with rounding {model.rounding!r}; "
                              "--rounding cannot change it")  # fmt: skip
        return model
    if not p.is_file():
        raise AmrkitError(
            f"model {str(p)!r} does not exist; give an INT8 .onnx file (amrkit quantize)"
        )
    return load_integer_model(p) if rounding is None else load_integer_model(p, rounding=rounding)


def deploy_c(
    model_path: str | Path, out: str | Path, *, name: str = "amr", rounding: str | None = None,
    cpu: str = "generic", pack: str = "auto",
) -> dict[str, Any]:  # fmt: skip
    """Generate the C library of ``model_path`` for ``cpu`` into ``out``; returns its summary.
    ``pack``: ``auto`` (4-bit layers two weights per byte) or ``off``."""
    return write_library(load_model(model_path, rounding), out, name, cpu, pack)


def library_flash(
    lib_dir: str | Path, work: str | Path, *, name: str = "amr", cpu: str = "cortex-m4",
    dsp: bool = True, mve: bool = False,
) -> int:  # fmt: skip
    """Flash (text + rodata + data) that the library adds to the Cortex-M image: built, not run."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    frames = work / "frames.i8"
    frames.write_bytes(b"")
    kw = {"name": name, "cpu": cpu, "dsp": dsp, "mve": mve}
    full = mcu.elf_size(mcu.build_image(lib_dir, work, frames, **kw))
    base = mcu.elf_size(mcu.build_image(lib_dir, work, frames, stub=True, **kw))
    return (full["text"] - base["text"]) + (full["data"] - base["data"])


def packing_report(
    model: IntegerModel, packed: list[dict[str, Any]], work: str | Path, *, name: str = "amr",
    cpu: str = "cortex-m4",
) -> dict[str, Any]:  # fmt: skip
    """The packed library's flash (``packed``: its :func:`measure_library` rows) against the
    same model generated with ``--pack off``, per kernel variant: bytes and the saving in %."""
    unpacked_lib = Path(work) / "unpacked"
    write_library(model, unpacked_lib, name, "generic", "off")
    rows = []
    for r in packed:
        dsp, mve = r["variant"] == "dsp", r["variant"] == "mve"
        off = library_flash(unpacked_lib, Path(work) / f"off-{r['variant']}", name=name, cpu=cpu,
                            dsp=dsp, mve=mve)  # fmt: skip
        rows.append({
            "variant": r["variant"],
            "flash_bytes_packed": r["flash_bytes"],
            "flash_bytes_unpacked": off,
            "saving_pct": round(100.0 * (off - r["flash_bytes"]) / off, 2),
        })  # fmt: skip
    return {"cpu": cpu, "variants": rows}


def noise_frames(model: IntegerModel, n: int, seed: int = 0) -> np.ndarray:
    """``n`` seeded complex-Gaussian frames at unit average power, as the golden model's input
    integers (n, 2, L)."""
    rng = np.random.default_rng(seed)
    iq = rng.standard_normal((n, *model.input_shape)).astype(np.float32)
    iq /= np.sqrt(np.mean(np.sum(iq.astype(np.float64) ** 2, axis=1), axis=1)).astype(np.float32)[
        :, None, None
    ]
    return model.quantize_input(iq)


def measure_library(
    model: IntegerModel, lib_dir: str | Path, work: str | Path, xq: np.ndarray, *,
    name: str = "amr", cpu: str = "cortex-m4", dsp: bool = True, mve: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Run the generated library on the Cortex-M image; sizes, cost, and bit-exactness of the
    final integers against the golden model on the same input integers."""
    run = mcu.measure(lib_dir, work, xq, name=name, cpu=cpu, dsp=dsp, mve=mve)
    golden = model.run_integer(xq).astype(np.int64)
    lib, stack = run["library"], int(run["stack_bytes"].max())
    arena = mcu.header_value(lib_dir, "ARENA_BYTES", name)
    macs = mcu.header_value(lib_dir, "MACS", name)
    io_bytes = int(np.prod(model.input_shape)) + 4 * model.num_classes  # caller's frame, logits
    instr = float(run["instructions"].mean())
    return {
        "toolchain_available": True,
        "cpu": cpu,
        "machine": run["machine"],
        "variant": run["variant"],
        "flash_bytes": lib["text"] + lib["data"],
        "ram_bytes": lib["data"] + lib["bss"] + stack + io_bytes,
        "stack_bytes": stack,
        "arena_bytes": arena,
        "io_bytes": io_bytes,
        "instructions_per_frame": round(instr),
        "macs_per_frame": macs,
        "instructions_per_mac": round(instr / max(macs, 1), 3),
        "frames": len(xq),
        "bit_exact": bool(np.array_equal(run["logits"], golden)),
        "library_sizes": lib,
        "image_sizes": run["image"],
        "calibration": run["calibration"],
    }


def variants(cpu: str) -> list[tuple[bool, bool]]:
    """(dsp, mve) of the kernel variants a CPU runs: portable and DSP, + Helium on an M55."""
    out = [(False, False), (True, False)]
    return out + [(False, True)] if mcu.CPUS[cpu].mve else out


def mcu_report(
    int8_onnx_path: str | Path, workdir: str | Path, *, cpu: str = "cortex-m4",
    dsp: bool = True, frames: int = REPORT_FRAMES, name: str = "amr", mve: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Cost of the INT8 model's generated C library on an emulated Cortex-M.

    Keys: ``toolchain_available`` (False: ``reason`` says what to install, the numbers are
    None), ``flash_bytes`` (code + constants the library adds to the image), ``ram_bytes``
    (data + bss (the arena) + stack high-water + the caller's input frame and logits),
    ``stack_bytes``, ``arena_bytes``, ``instructions_per_frame`` (QEMU instruction counting),
    ``macs_per_frame``, ``instructions_per_mac``, ``bit_exact`` (final integers equal the golden
    model's on the measured frames), ``cpu``, ``machine``, ``variant`` ("mve": Helium VMLADAVA
    kernels, "dsp": SMLAD kernels, "portable": plain C).
    """
    why = mcu.toolchain_missing()
    if why:
        keys = ("flash_bytes", "ram_bytes", "stack_bytes", "arena_bytes", "instructions_per_frame")
        return {"toolchain_available": False, "reason": why, "cpu": cpu, **dict.fromkeys(keys)}
    model = load_model(int8_onnx_path)
    work = Path(workdir)
    lib = work / "lib"
    write_library(model, lib, name)
    xq = noise_frames(model, frames)
    variant = mcu.variant_name(dsp, mve)
    return measure_library(model, lib, work / f"{cpu}-{variant}", xq, name=name, cpu=cpu, dsp=dsp,
                           mve=mve)  # fmt: skip
