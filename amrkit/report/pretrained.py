"""The shipped pretrained models in the report: evaluated in this run, on its own test split
and SNR sweep, shown as their own row group of Table III and series of Fig. 6.

Entries of the zoo (:mod:`amrkit.pretrained`) whose card puts them in the ``paper`` group
(``amrkit zoo add --report paper``: the paper's networks trained at its scale) are shown
there; ``beyond`` entries (searched, pruned, distilled models) are evaluated too and shown in
"Beyond the paper" (:mod:`amrkit.report.shipped`). Only the quick run loads them: ``--full``
trains the same networks at the paper's scale itself, which is what rebuilding them means
(``amrkit zoo rebuild`` reruns an entry's own card exactly).
"""

from __future__ import annotations

from typing import Any

from amrkit.report.config import PAPER
from amrkit.report.formats import paper_diff, pct

GROUP = "pretrained"  # the protocol id of the row group in table3 / fig6
LABEL = "amrkit pretrained, paper scale (shipped; evaluated in this run)"
GROUPS = ("paper", "beyond")  # card report groups the run evaluates


def candidates(classes: tuple[str, ...], frame_length: int) -> tuple[list[Any], list[dict]]:
    """The zoo entries to evaluate (report group set, same classes and frame length as the
    study's data) and the skipped ones with the reason."""
    from amrkit import pretrained

    shown, skipped = [], []
    for e in pretrained.entries():
        group = e.record.get("report_group")
        if group not in GROUPS:
            continue
        if tuple(e.record["classes"]) != tuple(classes):
            skipped.append({"entry": e.name, "reason": "other classes than this run's data"})
        elif int(e.record["frame_length"]) != int(frame_length):
            skipped.append({"entry": e.name, "reason": f"frame length {e.record['frame_length']}"})
        else:
            shown.append(e)
    return shown, skipped


def _slim(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "frames": int(report["num_frames"]),
        "accuracy_pct": pct(report["accuracy"]),
        "per_snr_pct": {k: pct(v["accuracy"]) for k, v in report["per_snr"].items()},
        "per_class_pct": {c: pct(v["accuracy"]) for c, v in report["per_class"].items()},
    }


def assemble(study: Any, frame_length: int) -> dict[str, Any]:
    """results.json's ``pretrained``: each evaluated entry's numbers in this run, its card's
    headline, and its size (FP32 and INT8 parameter memory in the paper's MB)."""
    from amrkit import pretrained
    from amrkit.artifacts import read_run_info
    from amrkit.fileio import read_json
    from amrkit.metrics.network import network_metrics
    from amrkit.metrics.onnx_metrics import onnx_network_metrics
    from amrkit.zoo.cards import origin

    entries = {}
    for name, rec in study.pretrained.items():
        e = pretrained.entry(name)
        spec = spec_of(e)
        card = read_json(e.path / pretrained.CARD_FILE)
        fp32 = network_metrics(spec, frame_length)
        int8 = onnx_network_metrics(e.file("int8"))
        ev = rec.result
        entries[name] = {
            "ref": e.ref,
            "group": e.record.get("report_group"),
            "summary": e.record.get("summary", ""),
            "model": spec.name,
            "spec_short": spec.short(),
            "card": e.record["metrics"],
            "recipe": e.record["recipe"],
            "stage": rec.key,
            "source": origin(card, read_run_info(e.file("fp32"))),
            "macs": int(fp32["macs"]),
            # sub-byte (QAT 4-bit) layers: the packed bytes the C library stores, from the card
            "int8_bytes": int(_packed(card) or int8["parameter_bytes"]),
            "fp32_memory_mb": round(float(fp32["parameter_memory_mb"]), 4),
            "int8_memory_mb": round(float(int8["parameter_memory_mb"]), 4),
            "fp32": {t: _slim(ev["fp32"][t]) for t in ("test", "sweep")},
            "int8": {t: _slim(ev["int8"][t]) for t in ("test", "sweep")},
        }
    paper = [n for n, v in entries.items() if v["group"] == "paper"]
    return {
        "label": LABEL,
        "shown": bool(paper),
        "order": sorted(paper, key=lambda n: -entries[n]["macs"]),  # the baseline first
        "entries": entries,
        "skipped": list(study.pretrained_skipped),
        "loaded": bool(study.cfg.quick),
    }


def spec_of(e: Any) -> Any:
    """The entry's CNNSpec (from its run.json)."""
    from amrkit.artifacts import read_run_info
    from amrkit.models import CNNSpec

    return CNNSpec.from_dict(read_run_info(e.file("fp32"))["spec"], where=f"zoo:{e.name}")


def table3_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Table III's rows of the shipped group: every entry FP32, then every entry INT8."""
    pre = results.get("pretrained") or {}
    order = pre.get("order", [])
    if not order:
        return []
    entries, base = pre["entries"], pre["entries"][order[0]]
    rows = []
    for prec in ("fp32", "int8"):
        for n in order:
            e = entries[n]
            acc = e[prec]["test"]["accuracy_pct"]
            mem = e[f"{prec}_memory_mb"]
            paper = PAPER.get(e["model"] + ("+int8" if prec == "int8" else ""))
            row = {
                "protocol": GROUP,
                "protocol_label": LABEL,
                "row": e["ref"] + (" + INT8" if prec == "int8" else ""),
                "model": n,
                "precision": prec,
                "accuracy_pct": acc,
                "accuracy_sd_pt": None,
                "seeds": 1,
                "macs": e["macs"],
                "parameter_memory_mb": mem,
                "macs_reduction_pct": round(100 * (1 - e["macs"] / base["macs"]), 2),
                "memory_reduction_pct": round(100 * (1 - mem / base["fp32_memory_mb"]), 2),
                "accuracy_change_pt": None
                if acc is None or base["fp32"]["test"]["accuracy_pct"] is None
                else round(acc - base["fp32"]["test"]["accuracy_pct"], 2),
                "paper": paper,
                "diff_vs_paper": paper_diff(acc, e["macs"], mem, paper),
            }
            rows.append(row)
    return rows


def fig6_series(results: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float | None]]:
    """Fig. 6's series of the shipped group (``zoo:NAME FP32`` …) and each entry's largest
    INT8 drop at SNR ≥ 0 dB."""
    from amrkit.report.formats import snr_value

    pre = results.get("pretrained") or {}
    series, drops = {}, {}
    for prec in ("fp32", "int8"):
        for n in pre.get("order", []):
            e = pre["entries"][n]
            series[f"{e['ref']} {prec.upper()}"] = e[prec]["sweep"]["per_snr_pct"]
    for n in pre.get("order", []):
        e = pre["entries"][n]
        fp, q = e["fp32"]["sweep"]["per_snr_pct"], e["int8"]["sweep"]["per_snr_pct"]
        d = [fp[k] - q[k] for k in fp
             if snr_value(k) >= 0 and fp[k] is not None and q.get(k) is not None]  # fmt: skip
        drops[n] = round(max(d), 2) if d else None
    return series, drops


def _packed(card: dict[str, Any]) -> int | None:
    return (card.get("quantization") or {}).get("packed_parameter_bytes")
