"""The measured runtime preference behind ``--runtime auto`` (docs/runtimes.md).

``auto`` must be exact and cheap to decide, so it never times anything at start-up:
``benchmarks/bench_infer.py`` times every runtime on this machine, keeps the exact ones (those
whose INT8 logits are the golden model's) and writes the fastest here with what it measured;
:func:`preferred_runtime` reads it. The file belongs to one machine: it records the CPU (model
name and instruction-set flags) and is ignored on any other CPU, so a home directory shared
between machines cannot carry a preference across. Without a file, on another CPU, for FP32
files, off the CPU, or when the preferred runtime cannot run here (no C compiler), ``auto``
is ONNX Runtime.

The file: ``$AMRKIT_RUNTIME_PREFERENCE``, else ``$XDG_CACHE_HOME/amrkit/runtime-preference.json``
(``~/.cache/...``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from amrkit.errors import AmrkitError
from amrkit.fileio import write_json
from amrkit.runtime.cpu import cpu_info

ENV = "AMRKIT_RUNTIME_PREFERENCE"
VERSION = 1
DEFAULT_RUNTIME = "ort"
EXACT_INT8 = ("ort", "c")  # runtimes that compute the golden model's integers by design


def preference_path() -> Path:
    """Where the preference lives (``$AMRKIT_RUNTIME_PREFERENCE`` or the user cache)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "amrkit" / "runtime-preference.json"


def machine_key() -> dict[str, Any]:
    """The CPU a preference belongs to: model name and the integer-relevant flags."""
    info = cpu_info()
    return {"cpu": info["cpu"], "isa": list(info["isa"])}


def choose(frames_per_s: dict[str, dict[str, float]]) -> str:
    """The fastest runtime by the geometric mean of its frames/s over the measured cases
    (``{case: {runtime: frames/s}}``), among runtimes measured in every case; ties → ort."""
    runtimes = set.intersection(*(set(v) for v in frames_per_s.values())) if frames_per_s else set()
    runtimes &= set(EXACT_INT8)
    if not runtimes:
        return DEFAULT_RUNTIME

    def score(rt: str) -> float:
        return sum(math.log(max(v[rt], 1e-9)) for v in frames_per_s.values())

    return max(sorted(runtimes, key=lambda r: r != DEFAULT_RUNTIME), key=score)


def write_preference(
    frames_per_s: dict[str, dict[str, float]], source: str, path: str | Path | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Record the fastest exact INT8 runtime of this machine (``{case: {runtime: frames/s}}``,
    exact runtimes only) and return what was written (with ``path``)."""
    bad = {rt for v in frames_per_s.values() for rt in v} - set(EXACT_INT8)
    if bad:
        raise AmrkitError(
            f"runtimes {sorted(bad)} cannot be preferred: only exact ones ({', '.join(EXACT_INT8)})"
        )
    target = Path(path) if path is not None else preference_path()
    entry = {
        "version": VERSION,
        "machine": machine_key(),
        "int8": choose(frames_per_s),
        "frames_per_s": frames_per_s,
        "written_by": source,
        **({"detail": detail} if detail else {}),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json(target, entry)
    return {**entry, "path": str(target)}


def read_preference(path: str | Path | None = None) -> dict[str, Any] | None:
    """The preference recorded for *this* CPU, or None (no file, another CPU or version)."""
    target = Path(path) if path is not None else preference_path()
    if not target.is_file():
        return None
    try:
        entry = json.loads(target.read_text())
    except (OSError, ValueError) as exc:
        raise AmrkitError(
            f"runtime preference {str(target)!r} is not readable JSON ({exc}); delete it or rerun "
            "benchmarks/bench_infer.py"
        ) from None
    if not isinstance(entry, dict) or entry.get("version") != VERSION:
        return None
    if entry.get("machine") != machine_key():
        return None
    if entry.get("int8") not in EXACT_INT8:
        raise AmrkitError(
            f"runtime preference {str(target)!r} names {entry.get('int8')!r}; allowed: "
            f"{', '.join(EXACT_INT8)}; delete it or rerun benchmarks/bench_infer.py"
        )
    return entry


def preferred_runtime(precision: str, device: str = "cpu", path: str | Path | None = None) -> str:
    """What ``--runtime auto`` runs a file of ``precision`` on: the measured preference for INT8
    files on the CPU, else ONNX Runtime."""
    if precision != "int8" or device != "cpu":
        return DEFAULT_RUNTIME
    entry = read_preference(path)
    if entry is None:
        return DEFAULT_RUNTIME
    runtime = str(entry["int8"])
    if runtime == "c" and shutil.which("cc") is None:
        return DEFAULT_RUNTIME  # measured with a compiler this environment lacks
    return runtime
