"""Accuracy against cost: the paper's models and the zoo's in one figure, drawn from data.

:func:`plot_models` draws top-1 accuracy against MACs (log x; FP32 open, INT8 filled markers,
one label per model, the MACs budgets as guide lines) and, as a second panel, INT8 accuracy
against INT8 parameter bytes. ``amrkit zoo docs`` draws it from the cards
(``docs/zoo/pareto.png``, :func:`zoo_figure`); ``amrkit reproduce`` draws it from its own
measurements ("Beyond the paper"). The PNG is deterministic (Agg, no date or version in its
metadata) and carries its data as JSON (text chunk :data:`DATA_KEY`), so a test can check
that a shipped figure is the drawing of the shipped cards.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from amrkit.errors import AmrkitError

FIGURE_FILE = "pareto.png"  # in docs/zoo
DATA_KEY = "amrkit.figure"  # the PNG text chunk holding the figure's data (JSON)
# the MACs budgets of the compressed models: ≈ 1/4 of the paper's optimized, and its own
BUDGETS = ((623_000, "623,000 MACs (≈ 1/4)"), (2_491_798, "2,491,798 MACs (paper's optimized)"))
# group → (legend label, colour, marker)
GROUPS = {
    "paper": ("paper (MATLAB, Table III)", "0.45", "s"),
    "run": ("this run", "tab:blue", "o"),
    "zoo-paper": ("zoo: the paper's networks", "tab:orange", "D"),
    "zoo-beyond": ("zoo: beyond the paper", "tab:green", "^"),
    "zoo": ("zoo", "tab:purple", "v"),
}


@dataclass(frozen=True)
class ModelPoint:
    """One model: accuracies in %, MACs per frame, INT8 parameter bytes (None: none)."""

    label: str
    group: str
    macs: int
    int8_bytes: int | None = None
    fp32_pct: float | None = None
    int8_pct: float | None = None

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise AmrkitError(
                f"figure point {self.label!r}: group {self.group!r} is not one of "
                f"{', '.join(GROUPS)}"
            )
        if int(self.macs) <= 0:
            raise AmrkitError(f"figure point {self.label!r}: MACs {self.macs} must be > 0")


@dataclass(frozen=True)
class ModelFigure:
    """What :func:`plot_models` draws (and stores in the PNG)."""

    title: str
    points: tuple[ModelPoint, ...]
    budgets: tuple[tuple[int, str], ...] = field(default=BUDGETS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "points": [asdict(p) for p in self.points],
            "budgets": [list(b) for b in self.budgets],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFigure:
        return cls(
            title=data["title"],
            points=tuple(ModelPoint(**p) for p in data["points"]),
            budgets=tuple((int(m), str(t)) for m, t in data["budgets"]),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=True)


def paper_points() -> list[ModelPoint]:
    """The paper's Table III (MATLAB's figures): each network once, its INT8 version joined
    to it by MACs; INT8 bytes = the paper's INT8 MB × 2^20."""
    from amrkit.search.pareto import PAPER_MODELS

    int8 = {m["macs"]: m for m in PAPER_MODELS if "INT8" in m["name"]}
    out = []
    for m in PAPER_MODELS:
        if "INT8" in m["name"]:
            continue
        q = int8.get(m["macs"])
        out.append(
            ModelPoint(
                label=m["name"],
                group="paper",
                macs=int(m["macs"]),
                int8_bytes=None if q is None else round(q["memory_mb"] * 2**20),
                fp32_pct=round(100 * m["accuracy"], 2),
                int8_pct=None if q is None else round(100 * q["accuracy"], 2),
            )
        )
    return out


def card_points(cards: list[dict[str, Any]]) -> list[ModelPoint]:
    """Each card's headline: its independent test set's accuracies, its MACs and bytes (the
    packed bytes where the INT8 file has sub-byte layers: what the device stores)."""
    out = []
    for c in cards:
        test, net, group = c["evaluation"]["test"], c["model"], c.get("report_group")
        packed = (c.get("quantization") or {}).get("packed_parameter_bytes")
        out.append(
            ModelPoint(
                label=f"zoo:{c['name']}",
                group=f"zoo-{group}" if group else "zoo",
                macs=int(net["macs"]),
                int8_bytes=int(packed if packed is not None else net["int8_bytes"]),
                fp32_pct=test["fp32"]["accuracy_pct"],
                int8_pct=test["int8"]["accuracy_pct"],
            )
        )
    return out


def _test_preset(card: dict[str, Any]) -> str:
    """The synthesizer preset of the card's test sets (its training data's)."""
    data = ((card.get("commands") or {}).get("configs") or {}).get("data") or {}
    return str(data.get("preset", "matlab"))


def zoo_figure(cards: list[dict[str, Any]]) -> ModelFigure:
    """docs/zoo/pareto.png's data: the paper's models and every card tested like them (on
    the reference preset, ``matlab``); a card tested on other frames (e.g. ``wide``) is not
    comparable on these axes and stays on its own page."""
    same = [c for c in cards if _test_preset(c) == "matlab"]
    return ModelFigure(
        title="amrkit's pretrained models (each card's independent test set, reference preset) "
        "and the paper's (MATLAB, Table III)",
        points=tuple(paper_points() + card_points(same)),
    )


def _label_offset(i: int) -> tuple[int, int]:
    """Alternating label offsets (points): neighbours in MACs do not write over each other."""
    return ((5, 6), (5, -11), (5, 16), (5, -21))[i % 4]


def _panel(ax: Any, points: list[ModelPoint], key: str) -> None:
    """One panel: x = ``key`` (``macs`` or ``int8_bytes``); FP32 open, INT8 filled."""
    shown = sorted((p for p in points if getattr(p, key)), key=lambda p: (getattr(p, key), p.label))
    for i, p in enumerate(shown):
        _, colour, marker = GROUPS[p.group]
        x = getattr(p, key)
        fp32 = p.fp32_pct if key == "macs" else None  # bytes are INT8 bytes: INT8 only
        if fp32 is not None:
            ax.scatter([x], [fp32], marker=marker, s=42, facecolors="none", edgecolors=colour)
        if p.int8_pct is not None:
            ax.scatter([x], [p.int8_pct], marker=marker, s=42, c=colour)
        ys = [y for y in (fp32, p.int8_pct) if y is not None]
        if len(ys) == 2:
            ax.plot([x, x], ys, c=colour, lw=0.8)
        if ys:
            ax.annotate(p.label, (x, ys[-1]), textcoords="offset points",
                        xytext=_label_offset(i), fontsize=7, color=colour)  # fmt: skip


def _axes(ax: Any, label: str) -> None:
    from matplotlib import ticker

    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.12)  # room for the labels at both ends
    # 1-2-5 per decade: a span under one decade still gets labelled ticks
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel(label)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(True, which="both", alpha=0.3)


def _legend(fig: Any, data: ModelFigure) -> None:
    """Below both panels, where it hides no point."""
    from matplotlib.lines import Line2D

    groups = [g for g in GROUPS if any(p.group == g for p in data.points)]
    handles = [Line2D([], [], ls="", marker=GROUPS[g][2], c=GROUPS[g][1], label=GROUPS[g][0])
               for g in groups]  # fmt: skip
    handles += [
        Line2D([], [], ls="", marker="o", mfc="none", mec="0.2", label="FP32 (open)"),
        Line2D([], [], ls="", marker="o", c="0.2", label="INT8 (filled)"),
    ]
    handles += [Line2D([], [], ls=s, c="0.4", lw=1, label=f"budget {text}")
                for s, (_, text) in zip(("--", ":"), data.budgets, strict=False)]  # fmt: skip
    fig.legend(handles=handles, fontsize=7, loc="lower center", ncol=4, frameon=False)


def plot_models(fig_data: ModelFigure, path: str | Path) -> Path:
    """Draw ``fig_data`` into the PNG ``path`` (byte-identical for the same data)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from amrkit.fileio import atomic_path

    target = Path(path)
    if target.suffix.lower() != ".png":
        raise AmrkitError(f"figure file {str(target)!r} must end in .png")
    points = list(fig_data.points)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.4))
    _panel(axes[0], points, "macs")
    for style, (macs, _) in zip(("--", ":"), fig_data.budgets, strict=False):
        axes[0].axvline(macs, ls=style, c="0.4", lw=1)
    _axes(axes[0], "MACs per frame (log)")
    _panel(axes[1], points, "int8_bytes")
    _axes(axes[1], "INT8 parameter bytes (log; INT8 models only)")
    _legend(fig, fig_data)
    fig.suptitle(fig_data.title, fontsize=9)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    meta = {"Software": None, DATA_KEY: fig_data.to_json()}
    with atomic_path(target, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png", metadata=meta)
    plt.close(fig)
    return target


def figure_data(path: str | Path) -> dict[str, Any]:
    """The data a PNG drawn by :func:`plot_models` carries (what a test compares)."""
    from PIL import Image

    with Image.open(path) as img:
        text = img.text.get(DATA_KEY)  # type: ignore[attr-defined]
    if text is None:
        raise AmrkitError(f"{str(path)!r} carries no {DATA_KEY!r} data; redraw it")
    return json.loads(text)


def write_zoo_figure(out: str | Path, cards: list[dict[str, Any]]) -> Path:
    """``<out>/pareto.png`` from the cards (``amrkit zoo docs``)."""
    return plot_models(zoo_figure(cards), Path(out) / FIGURE_FILE)
