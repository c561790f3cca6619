"""Accuracy-vs-SNR and confusion-matrix figures from :func:`accuracy_report` results.

Matplotlib with the Agg backend (no display needed); every file is written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError
from amrkit.fileio import atomic_path
from amrkit.metrics.accuracy import snr_value


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100.0 * value:.2f} %"


def _save(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    p = Path(path)
    if p.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise AmrkitError(f"plot file {str(p)!r} must end in .png, .pdf or .svg")
    with atomic_path(p, suffix=p.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=p.suffix[1:].lower())
    return p


def plot_accuracy_vs_snr(
    reports: Mapping[str, Mapping[str, Any]] | Mapping[str, Any],
    path: str | Path,
    title: str = "Top-1 accuracy vs SNR",
) -> Path:
    """One line per labelled report (``{"FP32": report, "INT8": report}``, or one report).

    Noiseless frames (SNR = inf) are drawn at the right edge, labelled "∞"; frames of
    unknown SNR are left out (they are in the overall accuracy given in the legend).
    """
    if "per_snr" in reports:  # a single report
        reports = {"model": reports}
    if not reports:
        raise AmrkitError("nothing to plot: no accuracy reports given")
    plt = _pyplot()
    finite = sorted(
        {
            snr_value(k)
            for r in reports.values()
            for k in r["per_snr"]
            if math.isfinite(snr_value(k))
        }
    )
    span = (finite[-1] - finite[0]) if len(finite) > 1 else 10.0
    inf_x = (finite[-1] if finite else 0.0) + max(span * 0.15, 2.0)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, report in reports.items():
        pts = []
        for key, entry in report["per_snr"].items():
            v = snr_value(key)
            if math.isnan(v):
                continue
            pts.append((inf_x if math.isinf(v) else v, 100.0 * entry["accuracy"]))
        pts.sort()
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", label=f"{label} (overall {_pct(report['accuracy'])})")
    has_inf = any(
        math.isinf(snr_value(k)) and snr_value(k) > 0
        for r in reports.values()
        for k in r["per_snr"]
    )
    if has_inf:  # explicit ticks: the measured SNRs (at most ~10 of them) and "∞"
        step = max(1, math.ceil(len(finite) / 10))
        ticks = finite[::step] + [inf_x]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks[:-1]] + ["∞"])
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_confusion(
    report: Mapping[str, Any],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Row-normalized confusion matrix (% of each true class), counts written in the cells."""
    plt = _pyplot()
    classes = list(report["classes"])
    counts = np.asarray(report["confusion"], dtype=np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    pct = np.divide(100.0 * counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    c = len(classes)
    size = max(4.5, 0.55 * c + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("share of the true class (%)")
    ax.set_xticks(range(c))
    ax.set_yticks(range(c))
    ax.set_xticklabels(classes, rotation=45, ha="right")
    ax.set_yticklabels(classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if c <= 24:
        for i in range(c):
            for j in range(c):
                if counts[i, j]:
                    ax.text(
                        j,
                        i,
                        str(counts[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if pct[i, j] > 50 else "black",
                    )
    ax.set_title(
        title
        or (
            f"Confusion matrix ({report['num_frames']} frames, accuracy {_pct(report['accuracy'])})"
        )
    )
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
