"""From finished stages to ``results.json`` (:func:`assemble`) and from ``results.json`` to the
report's blocks and figures (:func:`render`).

Every number shown in the report is read from the results dict, already rounded to the
precision it is shown with, so ``report.md`` and ``results.json`` cannot disagree.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

from amrkit import __version__
from amrkit.config import to_dict
from amrkit.fileio import read_json
from amrkit.report.config import PAPER, ReproduceConfig
from amrkit.report.document import (
    Block,
    BulletList,
    Figure,
    Heading,
    Paragraph,
    Table,
)

SCHEMA = "amrkit-reproduce/1"
FIGURES = "figures"


# ---- number formats: the only way numbers reach the report ------------------------------
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


def display_names(models: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Registry names capitalized, spec files by their stem; the full entry where two clash."""
    short = {n: n[:1].upper() + n[1:] if n in PAPER else Path(n).stem or n for n in models}
    counts = {v: list(short.values()).count(v) for v in short.values()}
    return {n: (v if counts[v] == 1 else n) for n, v in short.items()}


# ---- assemble ---------------------------------------------------------------------------
def _layer_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for layer in metrics["layers"]:
        hp = layer["hyperparameters"]
        if layer["type"] == "conv":
            text = f"{hp['filters']} filters of size {hp['kernel']}"
            if hp.get("pool"):
                text += f", max-pool {hp['pool']}"
        else:
            text = f"{hp.get('in_features', '?')} → {hp.get('out_features', '?')}"
        rows.append(
            {
                "layer": layer["name"],
                "type": "Conv1d" if layer["type"] == "conv" else "Fully connected",
                "hyperparameters": text,
                "learnables": int(layer["learnables"]),
                "macs": int(layer["macs"]),
            }
        )
    return rows


def _quant_summary(details: dict[str, Any]) -> dict[str, Any]:
    layers = {}
    for name, layer in details["layers"].items():
        entry: dict[str, Any] = {"quantized": bool(layer.get("quantized"))}
        for part in ("weight", "bias"):
            if part in layer and layer[part]:
                entry[f"{part}_min"] = round(float(layer[part]["float_min"]), 4)
                entry[f"{part}_max"] = round(float(layer[part]["float_max"]), 4)
        for part in ("input", "output"):
            if layer.get(part) and "calibrated_min" in layer[part]:
                entry[f"{part}_min"] = round(float(layer[part]["calibrated_min"]), 4)
                entry[f"{part}_max"] = round(float(layer[part]["calibrated_max"]), 4)
                if "scale" in layer[part]:
                    entry[f"{part}_scale"] = float(layer[part]["scale"])
                    entry[f"{part}_zero_point"] = int(layer[part]["zero_point"])
        layers[name] = entry
    return {
        "is_quantized": bool(details["is_quantized"]),
        "quantized_layers": list(details["quantized_layers"]),
        "learnables": [
            {
                "layer": r["layer"],
                "learnable": r["learnable"],
                "stored_type": r["stored_type"],
                "shape": list(r["shape"]),
            }
            for r in details["learnables"]
        ],
        "parameter_memory_mb": round(float(details["parameter_memory_mb"]), 4),
        "val_accuracy_fp32_pct": pct(details["accuracy"]["fp32"]),
        "val_accuracy_int8_pct": pct(details["accuracy"]["int8"]),
        "integer_kernels": list(details["onnxruntime"]["integer_kernels"]),
        "runs_integer_kernels": bool(details["onnxruntime"]["runs_integer_kernels"]),
        "layers": layers,
    }


def _per_snr(report: dict[str, Any]) -> dict[str, float | None]:
    return {k: pct(v["accuracy"]) for k, v in report["per_snr"].items()}


def _slim(report: dict[str, Any]) -> dict[str, Any]:
    """What results.json keeps of an accuracy report (rounded, confusion counts kept)."""
    return {
        "frames": int(report["num_frames"]),
        "accuracy_pct": pct(report["accuracy"]),
        "per_snr_pct": _per_snr(report),
        "per_class_pct": {c: pct(v["accuracy"]) for c, v in report["per_class"].items()},
        "classes": list(report["classes"]),
        "confusion": report["confusion"],
        "most_confused": [
            {
                "true": m["true"],
                "predicted": m["predicted"],
                "count": int(m["count"]),
                "share_of_true_pct": pct(m["fraction_of_true"]),
            }
            for m in report["most_confused"]
        ],
    }


def assemble(
    cfg: ReproduceConfig,
    out: Path,
    *,
    per_model: dict[str, dict[str, Any]],
    fig5: list[dict[str, Any]],
    bench: dict[str, Any],
    data: dict[str, Any],
    stages: list[Any],
    machine: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    from amrkit.metrics.network import network_metrics
    from amrkit.metrics.onnx_metrics import onnx_network_metrics

    frame_length = int(data["main"].result.get("frame_length", 1024))  # older caches lack it
    names_shown = display_names(list(per_model))
    models: dict[str, Any] = {}
    for name, m in per_model.items():
        int8_path = m["ptq"].path / "ptq" / "model_int8.onnx"
        fp32 = network_metrics(m["spec"], frame_length)
        int8 = onnx_network_metrics(int8_path)
        details = read_json(m["ptq"].path / "ptq" / "quantization.json")
        train_metrics = read_json(m["train"].path / "run" / "metrics.json")
        ev = m["eval"].result
        models[name] = {
            "display_name": names_shown[name],
            "spec": m["spec"].to_dict(),
            "spec_short": m["spec"].short(),
            "fp32": {
                "learnables": int(fp32["learnables"]),
                "bn_learnables": int(fp32["bn_learnables"]),
                "macs": int(fp32["macs"]),
                "parameter_memory_mb": round(float(fp32["parameter_memory_mb"]), 4),
                "layers": _layer_rows(fp32),
                "test": _slim(ev["fp32"]["test"]),
                "sweep": _slim(ev["fp32"]["sweep"]),
            },
            "int8": {
                "learnables": int(int8["learnables"]),
                "macs": int(int8["macs"]),
                "parameter_memory_mb": round(float(int8["parameter_memory_mb"]), 4),
                "test": _slim(ev["int8"]["test"]),
                "sweep": _slim(ev["int8"]["sweep"]),
                "quantization": _quant_summary(details),
            },
            "training": {
                "epochs": int(train_metrics["epochs"]),
                "best_epoch": int(train_metrics["best_epoch"]),
                "train_frames": int(train_metrics["train_frames"]),
                "val_accuracy_pct": pct(train_metrics["best_val_accuracy"]),
                "test_accuracy_pct": pct(train_metrics["test_accuracy"]),
                "train_frames_per_s": (
                    None
                    if train_metrics.get("train_frames_per_s") is None
                    else round(float(train_metrics["train_frames_per_s"]), 1)
                ),
            },
        }

    names = list(per_model)
    base, target = names[0], names[-1]

    # Table III: every model FP32, then the target INT8, then the others INT8
    rows = [(n, "fp32") for n in names] + [(target, "int8")]
    rows += [(n, "int8") for n in names[:-1]]
    base_fp32 = models[base]["fp32"]
    table3 = []
    for n, prec in rows:
        entry = models[n][prec]
        label = models[n]["display_name"] + (" + INT8" if prec == "int8" else "")
        paper_key = n + ("+int8" if prec == "int8" else "")
        paper = PAPER.get(paper_key)
        row = {
            "row": label,
            "model": n,
            "precision": prec,
            "accuracy_pct": entry["test"]["accuracy_pct"],
            "macs": entry["macs"],
            "parameter_memory_mb": entry["parameter_memory_mb"],
            "macs_reduction_pct": round(100 * (1 - entry["macs"] / base_fp32["macs"]), 2),
            "memory_reduction_pct": round(
                100 * (1 - entry["parameter_memory_mb"] / base_fp32["parameter_memory_mb"]), 2
            ),
            "accuracy_change_pt": (
                None
                if entry["test"]["accuracy_pct"] is None
                else round(entry["test"]["accuracy_pct"] - base_fp32["test"]["accuracy_pct"], 2)
            ),
            "paper": paper,
            "diff_vs_paper": None,
        }
        if paper is not None:
            row["diff_vs_paper"] = {
                "accuracy_pt": round(row["accuracy_pct"] - paper["accuracy_pct"], 2) + 0.0,
                "macs": int(row["macs"] - paper["macs"]),
                "parameter_memory_mb": round(
                    row["parameter_memory_mb"] - paper["parameter_memory_mb"], 4
                )
                + 0.0,
            }
        table3.append(row)

    # Fig. 5 and Fig. 6 data
    fig5_data = {
        "model": target,
        "frames_per_class": cfg.fig5_frames_per_class,
        "epochs": cfg.fig5_epochs,
        "points": [
            {
                "snr_db": float(p["snr_db"]),
                "test_frames": int(p["eval"].result["int8"]["test"]["num_frames"]),
                "int8_accuracy_pct": pct(p["eval"].result["int8"]["test"]["accuracy"]),
                "fp32_accuracy_pct": pct(p["eval"].result["fp32"]["test"]["accuracy"]),
            }
            for p in fig5
        ],
    }
    n_classes = len(models[target]["fp32"]["test"]["classes"])
    series = {f"{models[n]['display_name']} FP32": models[n]["fp32"]["sweep"] for n in names}
    series[f"{models[target]['display_name']} INT8"] = models[target]["int8"]["sweep"]
    for n in names[:-1]:
        series[f"{models[n]['display_name']} INT8"] = models[n]["int8"]["sweep"]
    fig6 = {
        "snrs": [float(s) for s in cfg.sweep_snrs],
        "frames_per_snr": cfg.sweep_frames_per_snr * n_classes,
        "series": {label: rep["per_snr_pct"] for label, rep in series.items()},
        "worst_int8_drop_pt_at_snr_ge_0": {},
    }
    for n in names:
        fp, q = models[n]["fp32"]["sweep"]["per_snr_pct"], models[n]["int8"]["sweep"]["per_snr_pct"]
        drops = [
            fp[k] - q[k]
            for k in fp
            if k in q and _snr(k) >= 0 and fp[k] is not None and q[k] is not None
        ]
        fig6["worst_int8_drop_pt_at_snr_ge_0"][n] = round(max(drops), 2) if drops else None

    latency = []
    for n, rec in bench.items():
        for r in rec.result["rows"]:
            latency.append(
                {
                    "model": n,
                    "runtime": r["runtime"],
                    "batch": int(r["batch"]),
                    "frames_per_s": round(float(r["frames_per_s"]), 1),
                    "ms_per_batch": round(float(r["ms_per_batch_median"]), 3),
                }
            )
    speedups = {}
    for n in bench:

        def fps(runtime: str, n: str = n) -> float | None:
            return next(
                (
                    r["frames_per_s"]
                    for r in latency
                    if r["model"] == n and r["runtime"] == runtime and r["batch"] == 256
                ),
                None,
            )

        t, i8 = fps("torch FP32"), fps("ORT INT8")
        speedups[n] = round(i8 / t, 2) if t and i8 else None

    finished = time.time()
    return {
        "schema": SCHEMA,
        "mode": cfg.label,
        "quick": cfg.quick,
        "amrkit_version": __version__,
        "config": to_dict(cfg),
        "models_order": names,
        "baseline": base,
        "target": target,
        "snr_convention": cfg.snr_convention,
        "frame_length": frame_length,
        "data": {
            k: {
                "stage": rec.key,
                "frames": int(rec.result["frames"]),
                "path": str(Path(rec.path, rec.result["file"]).relative_to(out)),
            }
            for k, rec in data.items()
        },
        "models": models,
        "table3": table3,
        "fig5": fig5_data,
        "fig6": fig6,
        "latency": latency,
        "int8_speedup_vs_torch_b256": speedups,
        "provenance": {
            "amrkit_version": __version__,
            "seed": cfg.seed,
            "seeds": {
                "main_data": cfg.seed,
                "sweep_data": int(data["sweep"].result.get("seed", cfg.seed + 1000)),
                "fig5_data": [int(p["seed"]) for p in fig5],
                "training": cfg.seed,
                "calibration": cfg.seed,
            },
            "machine": machine,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(finished)),
            "wall_time_s": round(finished - started, 1),
            "stages_total_s": round(sum(r.seconds for r in stages), 1),
            "stages": [
                {
                    "stage": r.name,
                    "key": r.key,
                    "cached": r.cached,
                    "seconds": round(r.seconds, 1),
                }
                for r in stages
            ],
        },
        "figures": {
            "fig4": f"{FIGURES}/fig4_dynamic_ranges.png",
            "fig5": f"{FIGURES}/fig5_accuracy_per_snr_model.png",
            "fig6": f"{FIGURES}/fig6_accuracy_vs_snr.png",
            "confusion_fp32": f"{FIGURES}/confusion_fp32.png",
            "confusion_int8": f"{FIGURES}/confusion_int8.png",
        },
    }


def _snr(key: str) -> float:
    try:
        return float(key)
    except ValueError:
        return math.nan


# ---- render -----------------------------------------------------------------------------
def _figures(results: dict[str, Any], out: Path, fig4_png: Path | None) -> None:
    from amrkit.metrics.plots import plot_accuracy_vs_snr, plot_confusion

    figs = out / FIGURES
    figs.mkdir(parents=True, exist_ok=True)
    target = results["target"]
    tname = results["models"][target]["display_name"]
    if fig4_png is not None and fig4_png.is_file():
        shutil.copyfile(fig4_png, out / results["figures"]["fig4"])

    def as_report(per_snr: dict[str, float | None], frames: int) -> dict[str, Any]:
        valid = {k: v for k, v in per_snr.items() if v is not None}
        mean = sum(valid.values()) / len(valid) / 100 if valid else None
        return {
            "accuracy": mean,
            "per_snr": {k: {"accuracy": v / 100, "frames": frames} for k, v in valid.items()},
        }

    pts = results["fig5"]["points"]
    plot_accuracy_vs_snr(
        {
            f"{tname} INT8": as_report(
                {f"{p['snr_db']:g}": p["int8_accuracy_pct"] for p in pts}, 1
            ),
            f"{tname} FP32": as_report(
                {f"{p['snr_db']:g}": p["fp32_accuracy_pct"] for p in pts}, 1
            ),
        },
        out / results["figures"]["fig5"],
        title=f"Fig. 5 — {tname}, trained, quantized and tested at each SNR",
    )
    fig6 = results["fig6"]
    plot_accuracy_vs_snr(
        {
            label: as_report(per_snr, fig6["frames_per_snr"])
            for label, per_snr in fig6["series"].items()
        },
        out / results["figures"]["fig6"],
        title=f"Fig. 6 — models trained at {results['config']['snr_db']:g} dB, tested across SNR",
    )
    for prec in ("fp32", "int8"):
        test = results["models"][target][prec]["test"]
        plot_confusion(
            {"classes": test["classes"], "confusion": test["confusion"]},
            out / results["figures"][f"confusion_{prec}"],
            title=f"{tname} {prec.upper()} — confusion at {results['config']['snr_db']:g} dB "
            f"(test split, {test['frames']} frames)",
        )


def render(results: dict[str, Any], out: Path, fig4_png: Path | None = None) -> list[Block]:
    """Draw the figures into ``out/figures`` (Fig. 4 is PTQ's own plot, copied from
    ``fig4_png``) and return the report's blocks."""
    _figures(results, out, fig4_png)
    cfg = results["config"]
    models = results["models"]
    names = results["models_order"]
    target = results["target"]
    tname = models[target]["display_name"]
    b: list[Block] = [Heading("amrkit reproduce — AMR CNN compression study", 1)]
    scale = (
        f"{cfg['frames_per_class']:,} frames per class at {cfg['snr_db']:g} dB, "
        f"{cfg['epochs']} epochs, SNR convention `{cfg['snr_convention']}`"
    )
    if cfg.get("augment", "none") != "none":
        scale += f", augmentation `{cfg['augment']}`"
    if results["quick"]:
        b.append(
            Paragraph(
                f"**Quick run** ({scale}): every table and figure of the paper, from small "
                "data — the numbers are indicative only. `amrkit reproduce --full` runs the "
                "paper's scale (10,000 frames per class)."
            )
        )
    else:
        b.append(Paragraph(f"**Full run** ({scale}): the paper's scale."))

    # Table I
    b.append(Heading("Table I — architecture of the models"))
    rows = []
    for n in names:
        for layer in models[n]["fp32"]["layers"]:
            rows.append(
                [
                    models[n]["display_name"],
                    layer["layer"],
                    layer["type"],
                    f_int(layer["learnables"]),
                    layer["hyperparameters"],
                    f_int(layer["macs"]),
                ]
            )
    b.append(
        Table(
            ["Model", "Layer", "Type", "Learnables", "Hyperparameters", "MACs"],
            rows,
            caption="Conv and fully connected layers (each conv: 'same' padding, batch norm, "
            "ReLU); batch-norm learnables are not counted, as in the paper.",
            align=["l", "l", "l", "r", "l", "r"],
        )
    )

    # Table II
    b.append(Heading("Table II — stored type of each learnable in the quantized model"))
    for n in [target] + names[:-1]:
        q = models[n]["int8"]["quantization"]
        rows = [
            [
                r["layer"],
                "Weights" if r["learnable"] == "weight" else "Bias",
                f"{'×'.join(str(s) for s in r['shape'])} {r['stored_type']}",
            ]
            for r in q["learnables"]
        ]
        b.append(
            Table(
                ["Layer", "Parameter", "Value"],
                rows,
                caption=f"{models[n]['display_name']} + INT8: quantized layers "
                f"{', '.join(q['quantized_layers'])}; ONNX Runtime runs integer kernels "
                f"{', '.join(q['integer_kernels'])}.",
            )
        )

    # Table III
    b.append(Heading("Table III — accuracy, MACs and parameter memory"))
    rows = []
    for r in results["table3"]:
        p, d = r["paper"], r["diff_vs_paper"]
        rows.append(
            [
                r["row"],
                f_pct(r["accuracy_pct"]),
                f_int(r["macs"]),
                f_mb(r["parameter_memory_mb"]),
                f_pct(p["accuracy_pct"]) if p else "–",
                f_int(p["macs"]) if p else "–",
                f_num(p["parameter_memory_mb"], 8) if p else "–",
                f_signed(d["accuracy_pt"]) if d else "–",
                f"{d['macs']:+,}" if d else "–",
                f_signed(d["parameter_memory_mb"], 4) if d else "–",
            ]
        )
    b.append(
        Table(
            [
                "Model",
                "Accuracy (%)",
                "MACs",
                "Memory (MB)",
                "Paper acc. (%)",
                "Paper MACs",
                "Paper memory (MB)",
                "Δ acc. (pt)",
                "Δ MACs",
                "Δ memory (MB)",
            ],
            rows,
            caption=f"Top-1 accuracy on the disjoint test split at {cfg['snr_db']:g} dB; MB = "
            "bytes / 2^20 (FP32: 4 B per learnable; INT8: 1 B per weight, 4 B per int32 bias).",
            align=["l"] + ["r"] * 9,
        )
    )
    base_name = models[results["baseline"]]["display_name"]
    rows = [
        [
            r["row"],
            f_pct(r["macs_reduction_pct"]),
            f_pct(r["memory_reduction_pct"]),
            f_signed(r["accuracy_change_pt"]),
        ]
        for r in results["table3"]
    ]
    b.append(
        Table(
            ["Model", "MACs reduction (%)", "Memory reduction (%)", "Accuracy change (pt)"],
            rows,
            caption=f"Reductions relative to {base_name} FP32.",
            align=["l", "r", "r", "r"],
        )
    )

    # Fig. 4
    b.append(Heading("Fig. 4 — calibrated dynamic ranges"))
    q = models[target]["int8"]["quantization"]
    b.append(Figure(results["figures"]["fig4"], f"{tname}: per-layer dynamic ranges"))
    rows = []
    for layer, e in q["layers"].items():
        rows.append(
            [
                layer,
                f"{f_num(e.get('weight_min'), 4)} … {f_num(e.get('weight_max'), 4)}",
                f"{f_num(e.get('bias_min'), 4)} … {f_num(e.get('bias_max'), 4)}",
                f"{f_num(e.get('output_min'), 4)} … {f_num(e.get('output_max'), 4)}",
            ]
        )
    b.append(
        Table(
            ["Layer", "Weights (min … max)", "Biases (min … max)", "Activations (min … max)"],
            rows,
            caption=f"Calibration on {cfg['calib_frames']} training frames (min/max), "
            f"validation accuracy FP32 {f_pct(q['val_accuracy_fp32_pct'])} % → INT8 "
            f"{f_pct(q['val_accuracy_int8_pct'])} %.",
        )
    )

    # Fig. 5
    f5 = results["fig5"]
    b.append(Heading("Fig. 5 — accuracy of the INT8 model at different SNRs"))
    b.append(
        Figure(
            results["figures"]["fig5"],
            f"{tname}: one model trained ({f5['frames_per_class']:,} frames per class, "
            f"{f5['epochs']} epochs), quantized and tested at each SNR",
        )
    )
    b.append(
        Table(
            ["SNR (dB)", "Test frames", "FP32 accuracy (%)", "INT8 accuracy (%)"],
            [
                [
                    f"{p['snr_db']:g}",
                    f_int(p["test_frames"]),
                    f_pct(p["fp32_accuracy_pct"]),
                    f_pct(p["int8_accuracy_pct"]),
                ]
                for p in f5["points"]
            ],
            align=["r", "r", "r", "r"],
        )
    )

    # Fig. 6
    f6 = results["fig6"]
    b.append(Heading(f"Fig. 6 — the {cfg['snr_db']:g} dB models tested across SNR"))
    b.append(
        Figure(
            results["figures"]["fig6"],
            f"Independent sweep test set, {f6['frames_per_snr']:,} frames per SNR",
        )
    )
    labels = list(f6["series"])
    keys = list(next(iter(f6["series"].values())))
    b.append(
        Table(
            ["SNR (dB)"] + [f"{lab} (%)" for lab in labels],
            [[k] + [f_pct(f6["series"][lab].get(k)) for lab in labels] for k in keys],
            align=["r"] * (len(labels) + 1),
        )
    )
    b.append(
        Paragraph(
            "Largest INT8 accuracy drop at SNR ≥ 0 dB: "
            + "; ".join(
                f"{models[n]['display_name']} {f_pct(v)} pt"
                for n, v in f6["worst_int8_drop_pt_at_snr_ge_0"].items()
            )
            + "."
        )
    )

    # confusion
    b.append(Heading("Confusion matrices"))
    for prec in ("fp32", "int8"):
        b.append(
            Figure(results["figures"][f"confusion_{prec}"], f"{tname} {prec.upper()}, test split")
        )
    items = []
    for prec in ("fp32", "int8"):
        test = models[target][prec]["test"]
        for m in test["most_confused"][:3]:
            items.append(
                f"{tname} {prec.upper()}: {m['true']} is taken for {m['predicted']} in "
                f"{m['count']} test frames ({f_pct(m['share_of_true_pct'])} % of {m['true']})."
            )
    b.append(BulletList(items or ["No confusions on the test split."]))

    # latency
    threads = results["provenance"]["machine"]["threads"]
    b.append(Heading("Latency and throughput"))
    rows = [
        [
            models[r["model"]]["display_name"],
            r["runtime"],
            f_int(r["batch"]),
            f_num(r["frames_per_s"], 1),
            f_num(r["ms_per_batch"], 3),
        ]
        for r in results["latency"]
    ]
    b.append(
        Table(
            ["Model", "Runtime", "Batch", "Frames/s", "ms per batch"],
            rows,
            caption=(
                f"Median over interleaved repeats, {threads} threads, random frames of length "
                "1024. INT8 throughput vs torch FP32 at batch 256: "
                + "; ".join(
                    f"{models[n]['display_name']} {f_num(v)}×"
                    for n, v in results["int8_speedup_vs_torch_b256"].items()
                )
                + "."
            ),
            align=["l", "l", "r", "r", "r"],
        )
    )

    # differences
    b.append(Heading("How this differs from the paper"))
    b.append(BulletList(differences(results)))

    # provenance
    prov = results["provenance"]
    mach = prov["machine"]
    b.append(Heading("Provenance"))
    b.append(
        BulletList(
            [
                f"amrkit {prov['amrkit_version']}, torch {mach['torch']}, onnxruntime "
                f"{mach['onnxruntime']}, numpy {mach['numpy']}, Python {mach['python']}",
                f"machine: {mach['cpu']}, {mach['cpus']} CPUs, {mach['threads']} threads, "
                f"{mach['platform']}",
                f"seeds: data {prov['seeds']['main_data']}, sweep {prov['seeds']['sweep_data']}, "
                f"Fig. 5 data {', '.join(map(str, prov['seeds']['fig5_data']))}, training and "
                f"calibration {prov['seeds']['training']}",
                f"started {prov['started']}, finished {prov['finished']}, wall time of this "
                f"run {f_num(prov['wall_time_s'], 1)} s; all stages, cached ones included, "
                f"{f_num(prov['stages_total_s'], 1)} s",
                "config: `" + ", ".join(f"{k}={_short(v)}" for k, v in cfg.items()) + "`",
            ]
        )
    )
    b.append(
        Table(
            ["Stage", "Key", "Cached", "Seconds"],
            [
                [s["stage"], s["key"], "yes" if s["cached"] else "no", f_num(s["seconds"], 1)]
                for s in prov["stages"]
            ],
            caption="Wall time per stage (a cached stage took its time in an earlier run).",
            align=["l", "l", "l", "r"],
        )
    )
    return b


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def differences(results: dict[str, Any]) -> list[str]:
    cfg = results["config"]
    models = results["models"]
    out = [
        "**Disjoint splits.** The reference's split helper draws validation and test frames "
        "from the training frames; amrkit's train / validation / test splits are disjoint "
        "(80/10/10, stratified by class and SNR), so its accuracies are held-out numbers and "
        "usually lower than the paper's.",
        f"**SNR convention `{cfg['snr_convention']}`.** "
        + (
            "Noise is scaled to each frame's measured signal power. The reference assumes unit "
            "signal power, so its RRC-shaped classes (PSK/QAM/PAM) really see about 9 dB less "
            "than the nominal SNR; `--snr-convention matlab` reproduces that."
            if cfg["snr_convention"] == "measured"
            else "Noise assumes unit signal power, as in the reference: the RRC-shaped classes "
            "(PSK/QAM/PAM) see about 9 dB less than the nominal SNR."
        ),
        "**Synthetic analog source.** The reference modulates a music/speech recording for "
        "B-FM, DSB-AM and SSB-AM; amrkit synthesizes a band-limited speech/music-like source "
        "per frame (coloured noise with a syllable-rate envelope plus harmonic tones; "
        "`amrkit generate --audio FILE.wav` uses a recording).",
    ]
    if "optimized" in models:
        out.append(
            f"**MACs {models['optimized']['fp32']['macs']:,} vs the paper's 2,491,798.** "
            "amrkit counts multiply-accumulates of conv and fully connected layers only "
            "(MATLAB's convention); the paper's figure is 22 higher, apparently the FC's 11 bias "
            "additions and 11 softmax operations."
        )
    if "optimized" in models:
        out.append(
            f"**INT8 memory {f_mb(models['optimized']['int8']['parameter_memory_mb'])} MB vs the "
            "paper's 0.0521 MB.** amrkit counts the bytes actually stored (1 per int8 weight, 4 "
            "per int32 bias); the paper's figure is not a whole number of bytes and is not "
            "explained there."
        )
    out += [
        "**Training and quantization tools.** PyTorch (SGD, the reference's hyperparameters, "
        "PyTorch's default initialization, weight decay on every parameter) instead of MATLAB; "
        "INT8 via ONNX Runtime's static QDQ quantization (per-channel int8 weights, int8 "
        "activations, int32 biases, min/max calibration) instead of MATLAB's dlquantizer.",
        "**Channel.** Rician multipath with time-varying (sum-of-sinusoids, 4 Hz Doppler) "
        "path gains, band-limited fractional delays, clock offset (±5 ppm frequency and "
        "sample-rate offset) and AWGN, drawn per frame, as in the reference; the random draws "
        "themselves differ from MATLAB's.",
    ]
    if results["quick"]:
        out.append(
            f"**Quick run.** {cfg['frames_per_class']:,} frames per class instead of 10,000 and "
            f"Fig. 5 with {cfg['fig5_frames_per_class']:,} frames per class at "
            f"{len(cfg['fig5_snrs'])} SNRs: accuracies are lower and noisier than at full scale."
        )
    else:
        out.append(
            f"**Fig. 5 at reduced scale.** Each per-SNR model is trained on "
            f"{cfg['fig5_frames_per_class']:,} frames per class (not 10,000) to keep the full "
            "run within 90 minutes on 2 CPU cores."
        )
    return out
