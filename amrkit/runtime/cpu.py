"""This machine's processor, as far as integer inference cares.

ONNX Runtime's x86 u8×s8 kernels (MLAS) sum products differently by instruction set: with
AVX-512 VNNI, AVX-VNNI or AMX they accumulate exact int32 dot products; with SSE4.1, AVX2 or
AVX-512BW alone they add *pairs* of u8×s8 products in an int16 lane with saturation
(``vpmaddubsw``) before widening. 64-bit Arm kernels accumulate exactly. See
:mod:`amrkit.runtime.ort` for what amrkit does about it.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path
from typing import Any

# flags that decide how integer dot products are computed, in the order they are printed
X86_FLAGS = (
    "sse4_1",
    "avx2",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
)
ARM_FLAGS = ("asimd", "asimddp", "i8mm", "sve")
EXACT_X86 = ("avx512_vnni", "avx_vnni", "amx_int8")


def _parse_cpuinfo(text: str) -> tuple[str, set[str]]:
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return model, flags


def describe_cpu(model: str, flags: set[str], machine: str) -> dict[str, Any]:
    """The summary :func:`cpu_info` returns, from explicit inputs (testable anywhere)."""
    arm = machine.lower() in ("aarch64", "arm64")
    isa = [f for f in (ARM_FLAGS if arm else X86_FLAGS) if f in flags]
    exact = arm or any(f in flags for f in EXACT_X86)
    if arm:
        kernel = "MLAS Arm64 int8 dot products (exact int32)"
    elif exact:
        kernel = "MLAS VNNI/AMX u8s8 dot products (exact int32)"
    else:
        kernel = "MLAS u8s8 with vpmaddubsw (pairs of products summed in saturating int16)"
    shown = ", ".join(isa) or "no SIMD flags found"
    return {
        "cpu": model or platform.processor() or machine or "unknown",
        "machine": machine,
        "isa": isa,
        "exact_u8s8": exact,
        "u8s8_kernel": kernel,
        "summary": f"{model or machine or 'unknown CPU'} ({shown}; "
        f"{'exact' if exact else 'saturating'} u8s8)",
    }


@functools.cache
def cpu_flags() -> frozenset[str]:
    """Every flag ``/proc/cpuinfo`` lists for this CPU (empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    return frozenset(_parse_cpuinfo(text)[1])


@functools.cache
def cpu_info() -> dict[str, Any]:
    """``cpu`` (model name), ``isa`` (the relevant flags present), ``exact_u8s8`` (whether
    ONNX Runtime's u8×s8 kernels on this CPU accumulate without int16 saturation),
    ``u8s8_kernel`` and a one-line ``summary``. Read from ``/proc/cpuinfo`` (Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    model, flags = _parse_cpuinfo(text)
    return describe_cpu(model, flags, platform.machine())
