"""The paper's Fig. 4: per-layer dynamic ranges of weights, biases and activations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amrkit.fileio import atomic_path

PANELS = (
    ("weight", "float_min", "float_max", "Weights (BN folded)"),
    ("bias", "float_min", "float_max", "Biases (BN folded)"),
    ("output", "calibrated_min", "calibrated_max", "Activations (layer output, calibrated)"),
)


def plot_ranges(details: dict[str, Any], path: str | Path) -> Path:
    """Draw ``details["layers"]``: for each layer the float range (bar) and, where quantized,
    the range the INT8 encoding can represent (whiskers; the widest channel for per-channel
    weights; not drawn for int32 biases, which cannot clip); one panel per quantity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = details["layers"]
    names = list(layers)
    x = list(range(len(names)))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), constrained_layout=True)
    for ax, (role, lo_key, hi_key, title) in zip(axes, PANELS, strict=True):
        plotted_q = False
        for i, name in enumerate(names):
            item = layers[name].get(role) or {}
            lo, hi = item.get(lo_key), item.get(hi_key)
            if lo is None or hi is None:
                continue
            ax.bar(
                i,
                hi - lo,
                bottom=lo,
                width=0.55,
                color="tab:blue",
                label="float range" if i == 0 else None,
            )
            q_lo, q_hi = item.get("represented_min"), item.get("represented_max")
            if q_lo is not None and q_hi is not None and role != "bias":  # int32: no clipping
                ax.errorbar(
                    i,
                    (q_lo + q_hi) / 2,
                    yerr=[[(q_hi - q_lo) / 2]],
                    fmt="none",
                    ecolor="tab:orange",
                    capsize=6,
                    lw=1.5,
                    label=None if plotted_q else "INT8 representable range",
                )
                plotted_q = True
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xticks(x, names, rotation=0)
        ax.set_xlabel("layer")
        ax.set_ylabel("value")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    cfg = details.get("config", {})
    mode = details.get("mode", "ptq").upper()
    bits = details.get("weight_bits", 8)
    fig.suptitle(
        f"Dynamic ranges per layer — {mode}, {bits}-bit weights, "
        f"{cfg.get('activation_type', 'int8')} activations, calibration: {cfg.get('method', '')}"
    )
    target = Path(path)
    with atomic_path(target, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return target
