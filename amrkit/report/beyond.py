"""results.json's ``beyond``: the search stage's Pareto set next to this run's hand design.

The comparisons are computed here from the numbers (never written by hand): the best
retrained Pareto model at ≤ the paper's optimized MACs, and the smallest one within 1 pt of
this run's Table III row of the target model in INT8. Accuracies are percentages.
"""

from __future__ import annotations

from typing import Any

from amrkit.report.config import PAPER
from amrkit.report.formats import pct

FIGURE = "beyond_pareto.png"
WITHIN_PT = 1.0  # "close to the hand design": at most this many points below it


def _point(p: dict[str, Any]) -> dict[str, Any]:
    golden = p.get("golden") or {}
    return {
        "trial": p.get("trial"),
        "spec": p["spec"],
        "macs": int(p["macs"]),
        "int8_bytes": int(p["int8_bytes"]),
        "int8_kb": round(int(p["int8_bytes"]) / 1000, 2),
        "learnables": p.get("learnables"),
        "proxy_accuracy_pct": pct(p.get("proxy_accuracy")),
        "fp32_test_accuracy_pct": pct(p.get("fp32_test_accuracy")),
        "int8_test_accuracy_pct": pct(p.get("int8_test_accuracy")),
        "golden_agreement_pct": pct(golden.get("top1_agreement_with_ort")),
        "latency_us": None if p.get("latency_us") is None else round(float(p["latency_us"]), 1),
    }


def _accuracy(p: dict[str, Any]) -> tuple[float | None, str]:
    """The accuracy a comparison uses: INT8 test after retraining, else only the proxy's."""
    if p["int8_test_accuracy_pct"] is not None:
        return p["int8_test_accuracy_pct"], "int8_test"
    return p["proxy_accuracy_pct"], "proxy"


def _reference(results: dict[str, Any], study: Any, frame_length: int) -> dict[str, Any]:
    """This run's Table III row of the target model in INT8 (last protocol)."""
    from amrkit.metrics.network import network_metrics

    proto, target = results["protocols"][-1]["name"], results["target"]
    rows = {
        r["precision"]: r
        for r in results["table3"]
        if r["protocol"] == proto and r["model"] == target
    }
    row = rows["int8"]
    spec = study.specs[target]
    frames = int(results["runs"][proto][target]["int8"]["test"]["frames"])
    nbytes = int(network_metrics(spec, frame_length, "int8")["parameter_bytes"])
    return {
        "row": row["row"],
        "protocol_label": row["protocol_label"],
        "accuracy_pct": row["accuracy_pct"],
        "fp32_accuracy_pct": rows["fp32"]["accuracy_pct"],
        "macs": int(row["macs"]),
        "int8_bytes": nbytes,
        "int8_kb": round(nbytes / 1000, 2),
        "spec": spec.short(),
        "test_frames": frames,
        "frame_pt": round(100 / frames, 2) if frames else None,
    }


def _trial_counts(trials: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"total": len(trials)}
    for state in ("complete", "pruned", "fail"):
        counts[state] = sum(1 for t in trials if t.get("state") == state)
    return counts


def _compare(points: list[dict[str, Any]], ref: dict[str, Any], budget: int) -> dict[str, Any]:
    scored = [(p, *_accuracy(p)) for p in points]
    scored = [s for s in scored if s[1] is not None]
    under = [s for s in scored if s[0]["macs"] <= budget]
    best = max(under, key=lambda s: (s[1], -s[0]["macs"]), default=None)
    close: tuple | None = None
    if ref["accuracy_pct"] is not None:
        near = [s for s in scored if s[1] >= ref["accuracy_pct"] - WITHIN_PT]
        close = min(near, key=lambda s: (s[0]["macs"], s[0]["int8_bytes"]), default=None)
    top = max(scored, key=lambda s: s[1], default=None)

    def entry(s: tuple | None) -> dict[str, Any] | None:
        if s is None:
            return None
        p, acc = s[0], s[1]
        ref_acc = ref["accuracy_pct"]
        return {k: p[k] for k in ("spec", "macs", "int8_bytes", "int8_kb")} | {
            "accuracy_pct": acc,
            "basis": s[2],
            "vs_reference_pt": None if ref_acc is None else round(acc - ref_acc, 2),
            "macs_share_pct": round(100 * p["macs"] / ref["macs"], 2),
            "int8_bytes_share_pct": round(100 * p["int8_bytes"] / ref["int8_bytes"], 2),
        }

    return {
        "best_within_budget": entry(best),
        "smallest_within_1pt": entry(close),
        "most_accurate": entry(top),
    }


def assemble_beyond(study: Any, results: dict[str, Any], frame_length: int) -> dict[str, Any]:
    cfg = study.cfg
    budget = int(PAPER["optimized"]["macs"])
    out: dict[str, Any] = {
        "ran": study.search is not None,
        "search_trials": cfg.search_trials,
        "paper_optimized_macs": budget,
        "within_pt": WITHIN_PT,
    }
    if study.search is None:
        return out
    res = study.search.result
    points = sorted((_point(p) for p in res["pareto"]), key=lambda p: p["macs"])
    ref = _reference(results, study, frame_length)
    out.update(
        {
            "stage": study.search.key,
            "config": res["config"],
            "trials": _trial_counts(res["trials"]),
            "pareto_json": f"stages/{study.search.path.name}/{res['pareto_json']}",
            "points": points,
            "reference": ref,
            **_compare(points, ref, budget),
        }
    )
    return out
