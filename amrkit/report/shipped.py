"""results.json's ``beyond.shipped``: the zoo's ``beyond`` entries (``amrkit zoo add --report
beyond``: searched, pruned, distilled models) evaluated in this run beside its own models,
and the data of the figure that shows them with the paper's (:mod:`amrkit.zoo.figure`).

Accuracies are this run's (its test split at its SNR; the run's models: Table III's mean over
seeds, last protocol); MACs and INT8 bytes are computed from each model's files; the source
(search, prune, distillation) is what each card says (:func:`amrkit.zoo.cards.origin`).
Like the paper group, the entries are evaluated by quick runs only (``--full`` trains its own
models at the paper's scale and loads none; it names the entries it left out).
"""

from __future__ import annotations

from typing import Any

GROUP = "beyond"  # the card report group shown here
FIGURE = "beyond_zoo.png"
CARD_KEYS = ("fp32_test_pct", "int8_test_pct", "test_frames", "test_snr_db")  # its headline


def _run_models(results: dict[str, Any], study: Any, frame_length: int) -> list[dict[str, Any]]:
    """This run's models: Table III's accuracies (last protocol), MACs and INT8 bytes."""
    from amrkit.metrics.network import network_metrics

    proto = results["protocols"][-1]["name"]
    out = []
    for n in results["models_order"]:
        run = results["runs"][proto][n]
        nbytes = network_metrics(study.specs[n], frame_length, "int8")["parameter_bytes"]
        out.append(
            {
                "name": n,
                "row": results["models"][n]["display_name"],
                "macs": int(results["models"][n]["fp32"]["macs"]),
                "int8_bytes": int(nbytes),
                "fp32_pct": run["fp32_mean_pct"],
                "int8_pct": run["int8_mean_pct"],
            }
        )
    return out


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 2)


def _share(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _entry(name: str, e: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    card, data, train = e["card"], e["recipe"]["data"], e["recipe"]["train"]
    int8 = e["int8"]["test"]["accuracy_pct"]
    return {
        "name": name,
        "ref": e["ref"],
        "summary": e["summary"],
        "source": e["source"],
        "spec_short": e["spec_short"],
        "macs": e["macs"],
        "int8_bytes": e["int8_bytes"],
        "fp32_pct": e["fp32"]["test"]["accuracy_pct"],
        "int8_pct": int8,
        "test_frames": e["int8"]["test"]["frames"],
        "vs_reference_pt": _diff(int8, ref["int8_pct"]),
        "macs_share_pct": _share(e["macs"], ref["macs"]),
        "int8_bytes_share_pct": _share(e["int8_bytes"], ref["int8_bytes"]),
        "card": {k: card.get(k) for k in CARD_KEYS},
        "trained": {
            "frames_per_class": data.get("frames_per_class"),
            "epochs": train.get("epochs"),
        },
    }


def _not_loaded(study: Any, results: dict[str, Any], frame_length: int) -> list[str]:
    """``--full``: the zoo's beyond entries this run could have shown (none is loaded)."""
    from amrkit.report.pretrained import candidates

    if study.cfg.quick:
        return []
    proto, target = results["protocols"][-1]["name"], results["target"]
    classes = tuple(results["runs"][proto][target]["fp32"]["test"]["classes"])
    shown, _ = candidates(classes, frame_length)
    return [e.name for e in shown if e.record.get("report_group") == GROUP]


def assemble_shipped(study: Any, results: dict[str, Any], frame_length: int) -> dict[str, Any]:
    pre = results.get("pretrained") or {}
    models = _run_models(results, study, frame_length)
    ref = models[-1]  # the target: the paper's optimized network in the default study
    for m in models:
        m["vs_reference_pt"] = _diff(m["int8_pct"], ref["int8_pct"])
    evaluated = pre.get("entries", {})
    entries = [_entry(n, e, ref) for n, e in evaluated.items() if e["group"] == GROUP]
    entries.sort(key=lambda x: (x["macs"], x["name"]))
    frames = results["runs"][results["protocols"][-1]["name"]][results["target"]]["int8"]
    frames = int(frames["test"]["frames"])
    out: dict[str, Any] = {
        "shown": bool(entries),
        "protocol_label": results["protocols"][-1]["label"],
        "models": models,
        "reference": ref["name"],
        "entries": entries,
        "test_frames": frames,
        "frame_pt": round(100 / frames, 2) if frames else None,
        "not_loaded": _not_loaded(study, results, frame_length),
    }
    out["figure"] = figure(out, evaluated, results).to_dict() if entries else None
    return out


def figure(shipped: dict[str, Any], evaluated: dict[str, Any], results: dict[str, Any]) -> Any:
    """The figure's data: the paper's models (MATLAB), this run's, and every zoo entry this
    run evaluated (both report groups), all at this run's numbers."""
    from amrkit.zoo.figure import ModelFigure, ModelPoint, paper_points

    points = paper_points()
    points += [
        ModelPoint(f"{m['row']} (this run)", "run", m["macs"], m["int8_bytes"], m["fp32_pct"],
                   m["int8_pct"])
        for m in shipped["models"]
    ]  # fmt: skip
    points += [
        ModelPoint(e["ref"], f"zoo-{e['group']}", e["macs"], e["int8_bytes"],
                   e["fp32"]["test"]["accuracy_pct"], e["int8"]["test"]["accuracy_pct"])
        for e in evaluated.values()
    ]  # fmt: skip
    snr = results["config"]["snr_db"]
    return ModelFigure(
        title=f"This run's test split at {snr:g} dB ({shipped['test_frames']:,} frames): its "
        f"models ({shipped['protocol_label']}) and the shipped ones; the paper's at MATLAB's "
        "figures (Table III)",
        points=tuple(points),
    )
