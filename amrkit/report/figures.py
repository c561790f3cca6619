"""The report's figures, drawn from results.json (Fig. 4 is PTQ's own plot, copied)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from amrkit.report.results import FIGURES


def _as_report(per_snr: dict[str, float | None], frames: int) -> dict[str, Any]:
    """A per-SNR series in the shape ``plot_accuracy_vs_snr`` draws."""
    valid = {k: v for k, v in per_snr.items() if v is not None}
    mean = sum(valid.values()) / len(valid) / 100 if valid else None
    return {
        "accuracy": mean,
        "per_snr": {k: {"accuracy": v / 100, "frames": frames} for k, v in valid.items()},
    }


def _fig5(results: dict[str, Any], path: Path) -> None:
    from amrkit.metrics.plots import plot_accuracy_vs_snr

    tname = results["models"][results["target"]]["display_name"]
    many = len(results["fig5"]["series"]) > 1
    reports = {}
    for s in results["fig5"]["series"].values():
        suffix = f" ({s['label']})" if many else ""
        for prec in ("int8", "fp32"):
            reports[f"{tname} {prec.upper()}{suffix}"] = _as_report(
                {f"{p['snr_db']:g}": p[f"{prec}_accuracy_pct"] for p in s["points"]}, 1
            )
    plot_accuracy_vs_snr(
        reports, path, title=f"Fig. 5 — {tname}, trained, quantized and tested at each SNR"
    )


def _fig6(results: dict[str, Any], path: Path) -> None:
    from amrkit.metrics.plots import plot_accuracy_vs_snr

    fig6 = results["fig6"]
    plot_accuracy_vs_snr(
        {label: _as_report(s, fig6["frames_per_snr"]) for label, s in fig6["series"].items()},
        path,
        title=f"Fig. 6 — models trained at {results['config']['snr_db']:g} dB, tested across SNR",
    )


def _confusions(results: dict[str, Any], out: Path) -> None:
    from amrkit.metrics.plots import plot_confusion

    target = results["target"]
    proto = results["protocols"][-1]
    tname = results["models"][target]["display_name"]
    for prec in ("fp32", "int8"):
        test = results["runs"][proto["name"]][target][prec]["test"]
        plot_confusion(
            {"classes": test["classes"], "confusion": test["confusion"]},
            out / results["figures"][f"confusion_{prec}"],
            title=f"{tname} {prec.upper()} ({proto['label']}) — confusion at "
            f"{results['config']['snr_db']:g} dB (test split, {test['frames']} frames)",
        )


def draw_figures(results: dict[str, Any], out: Path, study: Any) -> None:
    """Every figure into ``out/figures`` (Fig. 4: the last protocol's target PTQ plot)."""
    (out / FIGURES).mkdir(parents=True, exist_ok=True)
    cfg = study.cfg
    run = study.runs[(cfg.protocols[-1].name, cfg.models[-1], cfg.seed)]
    fig4 = run.ptq.path / "ptq" / "quantization.png"
    if fig4.is_file():
        shutil.copyfile(fig4, out / results["figures"]["fig4"])
    _fig5(results, out / results["figures"]["fig5"])
    _fig6(results, out / results["figures"]["fig6"])
    _confusions(results, out)
    if study.search is not None:  # amrkit search's own plot (the paper's models on its axes)
        png = study.search.path / study.search.result["png"]
        shutil.copyfile(png, out / results["figures"]["beyond_pareto"])
    if "beyond_zoo" in results["figures"]:  # the zoo's figure, drawn from this run's numbers
        from amrkit.zoo.figure import ModelFigure, plot_models

        data = ModelFigure.from_dict(results["beyond"]["shipped"]["figure"])
        plot_models(data, out / results["figures"]["beyond_zoo"])
