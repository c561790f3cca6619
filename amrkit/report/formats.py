"""Number formats: the only way numbers reach the report (results.json holds them rounded
to the precision shown, so report.md and results.json cannot disagree)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from amrkit.report.config import PAPER


def pct(x: float | None) -> float | None:
    """A fraction in [0, 1] as a percentage rounded to 2 decimals."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(100 * x, 2)


def f_pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def f_int(x: int | None) -> str:
    return "–" if x is None else f"{int(x):,}"


def f_mb(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def f_num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def f_signed(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:+.{digits}f}"


def f_mean_sd(mean: float | None, sd: float | None) -> str:
    """``97.12`` for one seed, ``97.12 ± 0.21`` over several."""
    return f_pct(mean) if sd is None else f"{f_pct(mean)} ± {f_pct(sd)}"


def f_minutes(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def snr_value(key: str) -> float:
    try:
        return float(key)
    except ValueError:
        return math.nan


def display_names(models: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Registry names capitalized, spec files by their stem; the full entry where two clash."""
    short = {n: n[:1].upper() + n[1:] if n in PAPER else Path(n).stem or n for n in models}
    counts = {v: list(short.values()).count(v) for v in short.values()}
    return {n: (v if counts[v] == 1 else n) for n, v in short.items()}


def short_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(short_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{short_value(v)}" for k, v in value.items()) + "}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def paper_diff(
    accuracy_pct: float | None, macs: int, memory_mb: float, paper: dict[str, Any] | None
) -> dict[str, Any] | None:
    """A Table III row's difference to the paper's row (None without both numbers)."""
    if paper is None or accuracy_pct is None:
        return None
    return {
        "accuracy_pt": round(accuracy_pct - paper["accuracy_pct"], 2) + 0.0,
        "macs": int(macs - paper["macs"]),
        "parameter_memory_mb": round(memory_mb - paper["parameter_memory_mb"], 4) + 0.0,
    }
