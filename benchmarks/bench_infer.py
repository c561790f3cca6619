"""Inference speed: torch eager FP32, ONNX Runtime FP32 and ONNX Runtime INT8 (QDQ PTQ).

Both paper models (``original``, ``optimized``) with random weights at L = 1024, the same
thread count everywhere (default 2), batch 1 (latency) and batch 256 (throughput), in one
run. The INT8 model is made the way ``amrkit quantize`` makes it (default portable target:
per-channel 7-bit weights, uint8 activations, calibrated on noise frames) and is checked to
run integer kernels and to compute the golden model's integers bit for bit on this CPU
(``golden_match``). For ``optimized`` the full-range (``vnni``) file is timed too, opened as
amrkit opens it (``session.x64quantprecision`` where the CPU lacks VNNI) and raw
(``int8-vnni-raw``: ORT's fast u8s8 path, which saturates on such CPUs), so the cost of the
exact path is measured. Prints one JSON object with this CPU's instruction set, frames/s,
latency, the INT8-vs-torch ratio and the issue's floor (ORT INT8 ≥ 3× torch eager FP32
frames/s at batch 256 for ``optimized``).

    .venv/bin/python benchmarks/bench_infer.py [--threads 2] [--min-time 1.0] [--variants]

``--variants`` also times INT8 variants of ``optimized`` (per-tensor weights,
ORT_ENABLE_EXTENDED instead of the default ORT_ENABLE_ALL).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from amrkit.export.graph import executed_op_types, integer_kernels
from amrkit.export.onnx_export import export_model
from amrkit.golden import load_integer_model
from amrkit.metrics.speed import summarize, time_interleaved
from amrkit.models import build
from amrkit.quant.calibrate import calibrate
from amrkit.quant.config import PTQConfig
from amrkit.quant.details import learnables, parameter_memory
from amrkit.quant.ptq import ptq_onnx
from amrkit.quant.qdq import describe_layers
from amrkit.runtime import cpu_info, ort_session, pair_bounds

FLOOR_INT8_VS_TORCH = 3.0


def make_int8(fp32: Path, out: Path, calib: np.ndarray, cfg: PTQConfig) -> dict[str, object]:
    model = ptq_onnx(fp32, cfg, calibrate(fp32, calib, cfg.method))
    onnx.save_model(model, str(out))
    ops = executed_op_types(out)
    rows = learnables(describe_layers(model), cfg.bits)
    return {
        "target": cfg.target,
        "integer_kernels": integer_kernels(ops),
        "max_pair_sum": max(b or 0 for b in pair_bounds(model).values()),
        **parameter_memory(rows),
    }


def golden_match(path: Path, sess: object, x: np.ndarray) -> dict[str, object]:
    """Golden model vs this session on ``x``: are the output integers identical?"""
    model = load_integer_model(path)
    logits, _ = model.run(x)
    ref = sess.run(None, {model.input_name: x})[0]  # type: ignore[attr-defined]
    return {
        "frames": len(x),
        "logits_identical": bool(np.array_equal(logits, ref)),
        "top1_agreement": float(np.mean(logits.argmax(1) == ref.argmax(1))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="original,optimized")
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,256")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds timed per case")
    ap.add_argument("--variants", action="store_true", help="also time INT8 variants")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    batches = [int(b) for b in args.batches.split(",")]
    big = max(batches)
    x = (rng.standard_normal((big, 2, args.length)) / np.sqrt(2)).astype(np.float32)
    calib = (rng.standard_normal((256, 2, args.length)) / np.sqrt(2)).astype(np.float32)
    results: list[dict[str, object]] = []
    models: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-infer-") as tmp:
        for name in args.models.split(","):
            torch.manual_seed(0)
            model = build(name).eval()
            fp32 = Path(tmp) / f"{name}_fp32.onnx"
            export_model(
                model,
                fp32,
                classes=[str(i) for i in range(model.spec.num_classes)],
                frame_length=args.length,
            )
            files = {("onnxruntime", "fp32", "all"): fp32}
            variants = [("int8", PTQConfig())]
            if name == "optimized":
                variants += [("int8-vnni", PTQConfig(target="vnni"))]
            if args.variants and name == "optimized":
                variants += [("int8-per-tensor", PTQConfig(per_channel=False))]
            info: dict[str, object] = {}
            for label, cfg in variants:
                path = Path(tmp) / f"{name}_{label}.onnx"
                info[label] = make_int8(fp32, path, calib, cfg)
                files[("onnxruntime", label, "all")] = path
            if args.variants and name == "optimized":
                files[("onnxruntime", "int8", "extended")] = files[("onnxruntime", "int8", "all")]
                files[("onnxruntime", "fp32", "extended")] = fp32
            sessions = {
                key: ort_session(path, threads=args.threads, level=key[2])
                for key, path in files.items()
            }
            if ("onnxruntime", "int8-vnni", "all") in files:
                raw = ort_session(files[("onnxruntime", "int8-vnni", "all")], exact_pairs=False)
                sessions[("onnxruntime", "int8-vnni-raw", "all")] = raw
            for (_, precision, level), sess in sessions.items():
                if precision.startswith("int8") and level == "all":
                    label = precision.removesuffix("-raw")
                    src = files[("onnxruntime", label, "all")]
                    entry = info.setdefault(precision, dict(info[label]))
                    entry["x64quantprecision"] = bool(sess.amrkit_exact_pairs)
                    entry["golden_match"] = golden_match(src, sess, x[:64])
            models[name] = info
            for batch in batches:
                xb = x[:batch]
                xt = torch.from_numpy(xb)
                cases: dict[str, Callable[[], object]] = {}

                def run_torch(m: torch.nn.Module = model, t: torch.Tensor = xt) -> object:
                    with torch.inference_mode():
                        return m(t)

                cases["torch-eager/fp32/-"] = run_torch
                for (backend, precision, level), sess in sessions.items():
                    feed = {sess.get_inputs()[0].name: xb}
                    cases[f"{backend}/{precision}/{level}"] = lambda s=sess, f=feed: s.run(None, f)
                timed = time_interleaved(cases, args.min_time)
                for key, times in timed.items():
                    backend, precision, level = key.split("/")
                    results.append(
                        {
                            "model": name,
                            "backend": backend,
                            "precision": precision,
                            "ort_level": None if level == "-" else level,
                            "batch": batch,
                            **summarize(times, batch),
                        }
                    )
            del sessions

    def fps(model: str, backend: str, precision: str, batch: int, level: str | None) -> float:
        return next(
            r["frames_per_s"]
            for r in results
            if r["model"] == model
            and r["backend"] == backend
            and r["precision"] == precision
            and r["batch"] == batch
            and r["ort_level"] == level
        )

    ratios = {}
    for name in models:
        torch_fps = fps(name, "torch-eager", "fp32", big, None)
        ratios[name] = {
            f"ort_int8_vs_torch_fp32_b{big}": round(
                fps(name, "onnxruntime", "int8", big, "all") / torch_fps, 2
            ),
            f"ort_fp32_vs_torch_fp32_b{big}": round(
                fps(name, "onnxruntime", "fp32", big, "all") / torch_fps, 2
            ),
            f"ort_int8_vs_ort_fp32_b{big}": round(
                fps(name, "onnxruntime", "int8", big, "all")
                / fps(name, "onnxruntime", "fp32", big, "all"),
                2,
            ),
        }
    key = f"ort_int8_vs_torch_fp32_b{big}"
    out = {
        "benchmark": "infer",
        "frame_length": args.length,
        "threads": args.threads,
        "batches": batches,
        "machine": {
            **cpu_info(),
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
        },
        "int8": models,
        "results": results,
        "ratios": ratios,
        "floor": {
            "rule": f"optimized: ORT INT8 >= {FLOOR_INT8_VS_TORCH}x torch eager FP32, batch {big}",
            "value": ratios.get("optimized", {}).get(key),
            "met": (
                ratios["optimized"][key] >= FLOOR_INT8_VS_TORCH if "optimized" in ratios else None
            ),
        },
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
