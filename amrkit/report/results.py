"""From finished stages to ``results.json`` (:func:`assemble`), one function per part.

Every number is rounded here to the precision the report shows (amrkit.report.formats).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from amrkit import __version__
from amrkit.config import to_dict
from amrkit.fileio import read_json
from amrkit.report.beyond import FIGURE as BEYOND_FIGURE
from amrkit.report.beyond import assemble_beyond
from amrkit.report.config import PAPER
from amrkit.report.formats import display_names, paper_diff, pct, snr_value
from amrkit.report.pretrained import GROUP as PRETRAINED_GROUP
from amrkit.report.pretrained import assemble as assemble_pretrained
from amrkit.report.pretrained import fig6_series as pretrained_series
from amrkit.report.pretrained import table3_rows as pretrained_rows
from amrkit.report.shipped import FIGURE as SHIPPED_FIGURE
from amrkit.report.shipped import assemble_shipped

SCHEMA = "amrkit-reproduce/2"
FIGURES = "figures"
FIGURE_FILES = {
    "fig4": "fig4_dynamic_ranges.png",
    "fig5": "fig5_accuracy_per_snr_model.png",
    "fig6": "fig6_accuracy_vs_snr.png",
    "confusion_fp32": "confusion_fp32.png",
    "confusion_int8": "confusion_int8.png",
}


# ---- per model -----------------------------------------------------------------------------
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


def _model_info(spec: Any, int8_path: Path, shown: str, frame_length: int) -> dict[str, Any]:
    """Architecture, learnables, MACs and memory (independent of the trained weights)."""
    from amrkit.metrics.network import network_metrics
    from amrkit.metrics.onnx_metrics import onnx_network_metrics

    fp32 = network_metrics(spec, frame_length)
    int8 = onnx_network_metrics(int8_path)
    return {
        "display_name": shown,
        "spec": spec.to_dict(),
        "spec_short": spec.short(),
        "fp32": {
            "learnables": int(fp32["learnables"]),
            "bn_learnables": int(fp32["bn_learnables"]),
            "macs": int(fp32["macs"]),
            "parameter_memory_mb": round(float(fp32["parameter_memory_mb"]), 4),
            "layers": _layer_rows(fp32),
        },
        "int8": {
            "learnables": int(int8["learnables"]),
            "macs": int(int8["macs"]),
            "parameter_memory_mb": round(float(int8["parameter_memory_mb"]), 4),
        },
    }


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
        "target": details.get("target"),
        "max_pair_sum": details.get("max_pair_sum"),
        "golden_match": details["onnxruntime"].get("golden_match"),
        "layers": layers,
    }


def _slim(report: dict[str, Any]) -> dict[str, Any]:
    """What results.json keeps of an accuracy report (rounded, confusion counts kept)."""
    return {
        "frames": int(report["num_frames"]),
        "accuracy_pct": pct(report["accuracy"]),
        "per_snr_pct": {k: pct(v["accuracy"]) for k, v in report["per_snr"].items()},
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


def _mean_sd(values: list[float | None]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    mean = round(statistics.fmean(vals), 2)
    return mean, (round(statistics.stdev(vals), 2) if len(vals) > 1 else None)


def _run_results(study: Any, proto: str, name: str) -> dict[str, Any]:
    """One (protocol, model): the first seed's full reports, every seed's accuracies."""
    seeds = study.cfg.seeds
    first = study.runs[(proto, name, seeds[0])]
    ev = first.eval.result
    train = read_json(first.train.path / "run" / "metrics.json")
    per_seed = []
    for seed in seeds:
        r = study.runs[(proto, name, seed)]
        m = read_json(r.train.path / "run" / "metrics.json")
        per_seed.append(
            {
                "seed": seed,
                "fp32_pct": pct(r.eval.result["fp32"]["test"]["accuracy"]),
                "int8_pct": pct(r.eval.result["int8"]["test"]["accuracy"]),
                "best_epoch": int(m["best_epoch"]),
                "val_pct": pct(m["best_val_accuracy"]),
            }
        )
    fp_mean, fp_sd = _mean_sd([s["fp32_pct"] for s in per_seed])
    q_mean, q_sd = _mean_sd([s["int8_pct"] for s in per_seed])
    fps = train.get("train_frames_per_s")
    return {
        "fp32": {"test": _slim(ev["fp32"]["test"]), "sweep": _slim(ev["fp32"]["sweep"])},
        "int8": {
            "test": _slim(ev["int8"]["test"]),
            "sweep": _slim(ev["int8"]["sweep"]),
            "quantization": _quant_summary(read_json(first.ptq.path / "ptq" / "quantization.json")),
        },
        "training": {
            "epochs": int(train["epochs"]),
            "best_epoch": int(train["best_epoch"]),
            "train_frames": int(train["train_frames"]),
            "val_accuracy_pct": pct(train["best_val_accuracy"]),
            "test_accuracy_pct": pct(train["test_accuracy"]),
            "train_frames_per_s": None if fps is None else round(float(fps), 1),
            "device": train.get("device"),
            "seconds": round(float(first.train.seconds), 1),
        },
        "seeds": per_seed,
        "fp32_mean_pct": fp_mean,
        "fp32_sd_pt": fp_sd,
        "int8_mean_pct": q_mean,
        "int8_sd_pt": q_sd,
    }


# ---- tables and figures ---------------------------------------------------------------------
def _table3_row(results: dict[str, Any], proto: dict[str, Any], n: str, prec: str) -> dict:
    models, run = results["models"], results["runs"][proto["name"]][n]
    base = results["runs"][proto["name"]][results["baseline"]]
    entry, base_fp32 = models[n][prec], models[results["baseline"]]["fp32"]
    acc, sd = run[f"{prec}_mean_pct"], run[f"{prec}_sd_pt"]
    paper = PAPER.get(n + ("+int8" if prec == "int8" else ""))
    row = {
        "protocol": proto["name"],
        "protocol_label": proto["label"],
        "row": models[n]["display_name"] + (" + INT8" if prec == "int8" else ""),
        "model": n,
        "precision": prec,
        "accuracy_pct": acc,
        "accuracy_sd_pt": sd,
        "seeds": len(run["seeds"]),
        "macs": entry["macs"],
        "parameter_memory_mb": entry["parameter_memory_mb"],
        "macs_reduction_pct": round(100 * (1 - entry["macs"] / base_fp32["macs"]), 2),
        "memory_reduction_pct": round(
            100 * (1 - entry["parameter_memory_mb"] / base_fp32["parameter_memory_mb"]), 2
        ),
        "accuracy_change_pt": None
        if acc is None or base["fp32_mean_pct"] is None
        else round(acc - base["fp32_mean_pct"], 2),
        "paper": paper,
    }
    row["diff_vs_paper"] = paper_diff(acc, row["macs"], row["parameter_memory_mb"], paper)
    return row


def _table3(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per protocol: every model FP32, then the target INT8, then the others INT8."""
    names, target = results["models_order"], results["target"]
    order = [(n, "fp32") for n in names] + [(target, "int8")]
    order += [(n, "int8") for n in names[:-1]]
    return [_table3_row(results, p, n, prec) for p in results["protocols"] for n, prec in order]


def _fig5(study: Any, results: dict[str, Any]) -> dict[str, Any]:
    cfg = study.cfg
    series = {}
    for proto in results["protocols"]:
        points = study.fig5[proto["name"]]
        series[proto["name"]] = {
            "label": proto["label"],
            "epochs": cfg.fig5_epochs or proto["train_config"]["epochs"],
            "points": [
                {
                    "snr_db": float(p["snr_db"]),
                    "test_frames": int(p["eval"].result["int8"]["test"]["num_frames"]),
                    "int8_accuracy_pct": pct(p["eval"].result["int8"]["test"]["accuracy"]),
                    "fp32_accuracy_pct": pct(p["eval"].result["fp32"]["test"]["accuracy"]),
                    "is_main_model": bool(p["reused"]),
                }
                for p in points
            ],
        }
    return {"model": results["target"], "frames_per_class": cfg.fig5_frames, "series": series}


def series_label(results: dict[str, Any], name: str, prec: str, proto: dict[str, Any]) -> str:
    label = f"{results['models'][name]['display_name']} {prec.upper()}"
    return label + (f" ({proto['label']})" if len(results["protocols"]) > 1 else "")


def _fig6(study: Any, results: dict[str, Any]) -> dict[str, Any]:
    names, target = results["models_order"], results["target"]
    order = [(n, "fp32") for n in names] + [(target, "int8")] + [(n, "int8") for n in names[:-1]]
    series, drops = {}, {}
    for proto in results["protocols"]:
        runs = results["runs"][proto["name"]]
        for n, prec in order:
            series[series_label(results, n, prec, proto)] = runs[n][prec]["sweep"]["per_snr_pct"]
        drops[proto["name"]] = {}
        for n in names:
            fp, q = runs[n]["fp32"]["sweep"]["per_snr_pct"], runs[n]["int8"]["sweep"]["per_snr_pct"]
            d = [
                fp[k] - q[k]
                for k in fp
                if snr_value(k) >= 0 and fp[k] is not None and q.get(k) is not None
            ]
            drops[proto["name"]][n] = round(max(d), 2) if d else None
    n_classes = len(
        results["runs"][results["protocols"][0]["name"]][target]["fp32"]["test"]["classes"]
    )
    return {
        "snrs": [float(s) for s in study.cfg.sweep_snrs],
        "frames_per_snr": study.cfg.sweep_frames_per_snr * n_classes,
        "series": series,
        "worst_int8_drop_pt_at_snr_ge_0": drops,
    }


def _latency(study: Any) -> tuple[list[dict[str, Any]], dict[str, float | None]]:
    latency = [
        {
            "model": n,
            "runtime": r["runtime"],
            "batch": int(r["batch"]),
            "frames_per_s": round(float(r["frames_per_s"]), 1),
            "ms_per_batch": round(float(r["ms_per_batch_median"]), 3),
        }
        for n, rec in study.bench.items()
        for r in rec.result["rows"]
    ]

    def fps(n: str, runtime: str) -> float | None:
        hits = [r for r in latency if (r["model"], r["runtime"], r["batch"]) == (n, runtime, 256)]
        return hits[0]["frames_per_s"] if hits else None

    speedups = {}
    for n in study.bench:
        t, i8 = fps(n, "torch FP32"), fps(n, "ORT INT8")
        speedups[n] = round(i8 / t, 2) if t and i8 else None
    return latency, speedups


def _golden(study: Any) -> dict[str, Any]:
    out = {}
    for proto, rec in study.golden.items():
        r = rec.result
        out[proto] = {
            "model": study.cfg.models[-1],
            "frames": int(r["frames"]),
            "accuracy_pct": pct(r.get("accuracy")),
            "ort_accuracy_pct": pct(r.get("ort_accuracy")),
            "top1_agreement_pct": pct(r.get("top1_agreement")),
            "disagreements": r.get("disagreements"),
            "output_max_lsb": r.get("output_max_lsb"),
            "activation_max_lsb": r.get("activation_max_lsb"),
            "bit_exact": r.get("bit_exact"),
        }
    return out


MCU_KEYS = (
    "toolchain_available",
    "reason",
    "cpu",
    "variant",
    "flash_bytes",
    "ram_bytes",
    "stack_bytes",
    "arena_bytes",
    "instructions_per_frame",
    "instructions_per_mac",
    "bit_exact",
    "frames",
)


def _mcu(study: Any) -> dict[str, Any]:
    return {n: {k: rec.result.get(k) for k in MCU_KEYS} for n, rec in study.mcu.items()}


def runtime_info(study: Any) -> dict[str, Any]:
    """The CPU and the INT8 kernel ONNX Runtime used (the golden stage's, else asked now)."""
    for rec in study.golden.values():
        if isinstance(rec.result.get("runtime"), dict):
            return dict(rec.result["runtime"])
    try:
        from amrkit.runtime import cpu_info
    except ImportError:
        return {}
    return dict(cpu_info())


def _protocols(study: Any) -> list[dict[str, Any]]:
    """Each protocol with the configs its target run really used (run.json,
    quantization.json), so the report's prose describes what ran."""
    target, seed = study.cfg.models[-1], study.cfg.seed
    out = []
    for p in study.cfg.protocols:
        run = study.runs[(p.name, target, seed)]
        info = read_json(run.train.path / "run" / "run.json")
        q = read_json(run.ptq.path / "ptq" / "quantization.json")
        out.append(
            {
                "name": p.name,
                "label": p.label,
                "train_config": info["train_config"],
                "quantization": {
                    "mode": q.get("mode", "ptq"),
                    "config": q.get("config", {}),
                    "target": q.get("target"),
                    "weight_bits": q.get("weight_bits"),
                    "activation_bits": q.get("activation_bits"),
                    "calibration_frames": q.get("calibration", {}).get("frames"),
                },
            }
        )
    return out


def _provenance(study: Any, records: list[Any], machine: dict, started: float) -> dict:
    cfg = study.cfg
    finished = time.time()
    fig5_seeds = sorted({int(p["seed"]) for pts in study.fig5.values() for p in pts})
    return {
        "amrkit_version": __version__,
        "seed": cfg.seed,
        "seeds": {
            "main_data": cfg.seed,
            "sweep_data": int(study.data["sweep"].result.get("seed", cfg.seed + 1000)),
            "fig5_data": fig5_seeds,
            "training": list(cfg.seeds),
            "calibration": cfg.seed,
        },
        "machine": machine,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(finished)),
        "wall_time_s": round(finished - started, 1),
        "cpu_time_s": round(sum(os.times()[:4]), 1),
        "stages_total_s": round(sum(r.seconds for r in records), 1),
        "stages": [
            {"stage": r.name, "key": r.key, "cached": r.cached, "seconds": round(r.seconds, 1)}
            for r in records
        ],
    }


def machine_info(threads: int, device: str) -> dict[str, Any]:
    import numpy
    import onnxruntime
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if device != "cpu" and torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "threads": threads,
        "device": device,
        "gpu": gpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
    }


def assemble(study: Any, out: Path, records: list[Any], started: float) -> dict[str, Any]:
    """results.json's content (schema in docs/reproduce.md)."""
    cfg = study.cfg
    names = list(cfg.models)
    frame_length = int(study.data["main"].result.get("frame_length", 1024))
    shown = display_names(names)
    first = {n: study.runs[(cfg.protocols[-1].name, n, cfg.seed)] for n in names}
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "mode": cfg.label,
        "quick": cfg.quick,
        "amrkit_version": __version__,
        "config": to_dict(cfg),
        "models_order": names,
        "baseline": names[0],
        "target": names[-1],
        "snr_convention": cfg.snr_convention,
        "frame_length": frame_length,
        "data": {
            k: {
                "stage": rec.key,
                "frames": int(rec.result["frames"]),
                "path": str(Path(rec.path, rec.result["file"]).relative_to(out)),
            }
            for k, rec in study.data.items()
        },
        "protocols": _protocols(study),
        "models": {
            n: _model_info(
                study.specs[n],
                first[n].ptq.path / "ptq" / "model_int8.onnx",
                shown[n],
                frame_length,
            )
            for n in names
        },
    }
    results["runs"] = {
        p.name: {n: _run_results(study, p.name, n) for n in names} for p in cfg.protocols
    }
    results["pretrained"] = assemble_pretrained(study, frame_length)
    results["table3"] = _table3(results) + pretrained_rows(results)
    results["fig5"] = _fig5(study, results)
    results["fig6"] = _fig6(study, results)
    series, drops = pretrained_series(results)
    results["fig6"]["series"].update(series)
    if drops:
        results["fig6"]["worst_int8_drop_pt_at_snr_ge_0"][PRETRAINED_GROUP] = drops
    results["golden"] = _golden(study)
    results["mcu"] = _mcu(study)
    results["runtime"] = runtime_info(study)
    results["latency"], results["int8_speedup_vs_torch_b256"] = _latency(study)
    results["provenance"] = _provenance(
        study, records, machine_info(cfg.threads, cfg.device), started
    )
    results["figures"] = {k: f"{FIGURES}/{v}" for k, v in FIGURE_FILES.items()}
    results["budget_points"] = budget_points() if cfg.quick else []
    results["beyond"] = assemble_beyond(study, results, frame_length)
    if results["beyond"]["ran"]:
        results["figures"]["beyond_pareto"] = f"{FIGURES}/{BEYOND_FIGURE}"
    results["beyond"]["shipped"] = assemble_shipped(study, results, frame_length)
    if results["beyond"]["shipped"]["shown"]:
        results["figures"]["beyond_zoo"] = f"{FIGURES}/{SHIPPED_FIGURE}"
    return results


def budget_points() -> list[dict[str, Any]]:
    from amrkit.report.budget import MEASURED

    keys = ("frames_per_class", "training", "batch_size", "frame_epochs", "accuracy")
    return [dict(zip(keys, point, strict=True)) for point in MEASURED]
