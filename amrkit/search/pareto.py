"""Pareto fronts (pure) and the search's result files: pareto.json and pareto.png."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# The paper's Table III (MATLAB's figures): accuracy %, MACs, parameter memory in MB
PAPER_MODELS = (
    {"name": "original (paper)", "accuracy": 0.977, "macs": 8127520, "memory_mb": 0.3693999},
    {"name": "optimized (paper)", "accuracy": 0.9743, "macs": 2491798, "memory_mb": 0.19202802},
    {
        "name": "optimized INT8 (paper)",
        "accuracy": 0.9705,
        "macs": 2491798,
        "memory_mb": 0.05206704,
    },
)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (all minimized)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def pareto_front(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated ``points`` (every coordinate minimized), in input order.
    Equal points are all kept."""
    return [
        i
        for i, p in enumerate(points)
        if not any(dominates(q, p) for j, q in enumerate(points) if j != i)
    ]


def spread(indices: list[int], key: Sequence[float], k: int) -> list[int]:
    """At most ``k`` of ``indices``, spread evenly over ``key`` (ends included)."""
    order = sorted(indices, key=lambda i: (key[i], i))
    if len(order) <= k:
        return order
    picks = np.unique(np.round(np.linspace(0, len(order) - 1, k)).astype(int))
    return [order[p] for p in picks]


def plot_pareto(result: dict[str, Any], path: str | Path) -> Path:
    """Accuracy vs MACs and vs INT8 kB: every trial, the Pareto set, the paper's models."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    from amrkit.fileio import atomic_path

    trials = [t for t in result["trials"] if t.get("accuracy") is not None]
    final = result["pareto"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, scale, label in (
        (axes[0], "macs", 1e6, "MACs (millions)"),
        (axes[1], "int8_bytes", 1e3, "INT8 parameter memory (kB)"),
    ):
        ax.scatter(
            [t[key] / scale for t in trials],
            [100 * t["accuracy"] for t in trials],
            s=12, c="0.7", label="proxy trials (subset, few epochs)",
        )  # fmt: skip
        pts = [
            (m[key] / scale, 100 * m["int8_test_accuracy"])
            for m in final
            if m.get("int8_test_accuracy") is not None
        ]
        if pts:
            xs, ys = zip(*sorted(pts), strict=True)
            ax.plot(xs, ys, "o-", c="tab:blue", label="Pareto set, retrained, INT8 (test)")
        for m, marker in zip(PAPER_MODELS, ("s", "D", "^"), strict=True):
            x = m["macs"] / scale if key == "macs" else m["memory_mb"] * 2**20 / scale
            ax.scatter([x], [100 * m["accuracy"]], marker=marker, s=40, label=m["name"])
        budget = result.get("budgets", {}).get("max_" + key)
        if budget:
            ax.axvline(budget / scale, ls="--", c="0.4", lw=1, label="budget")
        ax.set_xscale("log")
        # 1-2-5 per decade: a span under one decade (2-8 M MACs) still gets labelled ticks
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(label)
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "amrkit search: paper figures are MATLAB's (Table III; its memory of the FP32 models "
        "is FP32 bytes)",
        fontsize=9,
    )
    fig.tight_layout()
    target = Path(path)
    with atomic_path(target, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return target
