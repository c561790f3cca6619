"""This machine's GEMM peak on ONNX Runtime, and each paper model's bound in frames/s.

The int8 peak is ORT's ``MatMulInteger`` with u8 activations and an s8 constant weight (the
kernel an INT8 amrkit file's convolutions end up in; prepacked as in a real session), the
fp32 peak ORT's ``MatMul``, both on the benchmark's thread count, over a few sizes large
enough to reach it; the best size is the peak. A model's bound is ``peak / MACs per frame``
(:func:`amrkit.metrics.network.network_metrics`): no runtime on this machine can classify
faster with these kernels. ``bench_infer.py`` prints the fraction of it each runtime reaches.

    .venv/bin/python benchmarks/bench_peak.py [--threads 2] [--min-time 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from amrkit.metrics.network import network_metrics
from amrkit.models import get_spec
from amrkit.runtime import cpu_info, ort_session

# (M, K, N): M rows of activations (frames × positions), K = C_in · kernel, N = C_out
# small ones too: on a loaded machine a short call is less often preempted
SIZES = ((256, 256, 256), (512, 512, 256), (2048, 512, 512), (1024, 1024, 1024), (4096, 256, 256))


def gemm_model(k: int, n: int, precision: str, rng: np.random.Generator) -> onnx.ModelProto:
    """A one-node graph ``Y = A @ W`` with a constant weight ``W`` (K, N)."""
    if precision == "int8":
        w = rng.integers(-64, 65, (k, n), dtype=np.int8)
        a = helper.make_tensor_value_info("A", TensorProto.UINT8, ["M", k])
        y = helper.make_tensor_value_info("Y", TensorProto.INT32, ["M", n])
        node = helper.make_node("MatMulInteger", ["A", "W"], ["Y"])
    else:
        w = rng.standard_normal((k, n)).astype(np.float32)
        a = helper.make_tensor_value_info("A", TensorProto.FLOAT, ["M", k])
        y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", n])
        node = helper.make_node("MatMul", ["A", "W"], ["Y"])
    graph = helper.make_graph([node], "gemm", [a], [y], [numpy_helper.from_array(w, "W")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def time_call(fn: object, min_time: float) -> float:
    """Median seconds per call over at least ``min_time`` seconds (after one warm-up)."""
    fn()  # type: ignore[operator]
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_cases(threads: int, sizes: tuple = SIZES) -> dict[str, tuple[object, int]]:
    """``"peak/<precision>/MxKxN"`` → (a call running that GEMM once, its MACs), so that
    ``bench_infer.py`` can time them interleaved with the models (the same load for both)."""
    rng = np.random.default_rng(0)
    out: dict[str, tuple[object, int]] = {}
    for precision in ("int8", "fp32"):
        for m, k, n in sizes:
            sess = ort_session(gemm_model(k, n, precision, rng), threads=threads)
            if precision == "int8":
                a = rng.integers(0, 256, (m, k), dtype=np.uint8)
            else:
                a = rng.standard_normal((m, k)).astype(np.float32)
            call = lambda s=sess, x=a: s.run(None, {"A": x})  # noqa: E731
            out[f"peak/{precision}/{m}x{k}x{n}"] = (call, m * k * n)
    return out


def peak_from_times(cases: dict[str, tuple[object, int]], seconds: dict[str, float]) -> dict:
    """Per precision: the best MAC/s over the timed sizes (median seconds per call) and every
    size's MAC/s."""
    out: dict[str, dict[str, object]] = {}
    for name, (_, macs) in cases.items():
        precision, size = name.split("/")[1:]
        entry = out.setdefault(precision, {"mac_per_s": 0, "sizes": {}})
        rate = round(macs / seconds[name])
        entry["sizes"][size] = rate  # type: ignore[index]
        entry["mac_per_s"] = max(int(entry["mac_per_s"]), rate)  # type: ignore[call-overload]
    return out


def measure_peak(threads: int, min_time: float = 0.5) -> dict[str, dict[str, object]]:
    """Per precision: the best MAC/s over :data:`SIZES` and every size's MAC/s."""
    cases = peak_cases(threads)
    seconds = {name: time_call(call, min_time) for name, (call, _) in cases.items()}
    return peak_from_times(cases, seconds)


def model_bounds(peak: dict[str, dict[str, object]], models: list[str], length: int) -> dict:
    """Model → MACs per frame and the bound in frames/s for each precision."""
    out = {}
    for name in models:
        macs = network_metrics(get_spec(name), length)["macs"]
        out[name] = {
            "macs_per_frame": macs,
            **{f"bound_{p}_frames_per_s": round(v["mac_per_s"] / macs) for p, v in peak.items()},
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="original,optimized")
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds timed per size")
    args = ap.parse_args()
    peak = measure_peak(args.threads, args.min_time)
    out = {
        "benchmark": "peak",
        "threads": args.threads,
        "frame_length": args.length,
        "machine": {**cpu_info(), "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]},
        "peak": peak,
        "bounds": model_bounds(peak, args.models.split(","), args.length),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
