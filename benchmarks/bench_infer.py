"""Inference speed of every runtime side by side: torch eager FP32, ONNX Runtime FP32 and
INT8 (QDQ PTQ), OpenVINO INT8 and FP32, and amrkit's own C runtime on each kernel path this
CPU runs (``c-generic``: portable C99, ``c-x86-avx2``, ``c-x86-avx512vnni``).

Both paper models (``original``, ``optimized``) with random weights at L = 1024, the same
thread count everywhere (default 2), batch 1 (latency) and batch 256 (throughput), in one
run. The INT8 model is made the way ``amrkit quantize`` makes it (default portable target:
per-channel 7-bit weights, uint8 activations, calibrated on noise frames) and is checked to
run integer kernels and to compute the golden model's integers bit for bit on this CPU
(``golden_match``). For ``optimized`` the full-range (``vnni``) file is timed too, opened as
amrkit opens it (``session.x64quantprecision`` where the CPU lacks VNNI) and raw
(``int8-vnni-raw``: ORT's fast u8s8 path, which saturates on such CPUs), so the cost of the
exact path is measured. The portable INT8 file also runs on amrkit's other runtimes
(``c-<path>``: the deploy C library generated and compiled for that kernel path, ``-O3``;
``openvino`` when installed), each checked against the golden model on all the benchmark's
frames (``golden_match``). This machine's GEMM peak
(``bench_peak.py``, same threads, three sizes timed interleaved with the models so that both see
the same load) gives each model's bound in frames/s, and every row its ``fraction_of_bound``.
Prints one JSON object with this CPU's name and flags, frames/s, latency, ratios and the
floors of issues 14 and 29 (amrkit's runtime = the path ``--runtime c`` picks here), and
writes the measured runtime preference that ``--runtime auto`` reads
(:mod:`amrkit.runtime.preference`: the fastest runtime whose logits are the golden model's).

    .venv/bin/python benchmarks/bench_infer.py [--threads 2] [--min-time 1.0] [--variants]
        [--runtimes ort,c,openvino] [--preference PATH | --no-preference]

``--variants`` also times INT8 variants of ``optimized`` (per-tensor weights,
ORT_ENABLE_EXTENDED instead of the default ORT_ENABLE_ALL, no spinning ORT threads, one
ORT thread).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from bench_peak import SIZES, model_bounds, peak_cases, peak_from_times

from amrkit.export.graph import executed_op_types, integer_kernels, set_metadata
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
ISSUE29 = {"b1_latency_vs_ort": 0.5, "b256_vs_ort": 1.5, "original_b256_vs_ort": 1.2,
           "avx2_fraction_of_bound": 0.5}  # fmt: skip


def make_int8(fp32: Path, out: Path, calib: np.ndarray, cfg: PTQConfig) -> dict[str, object]:
    model = ptq_onnx(fp32, cfg, calibrate(fp32, calib, cfg.method))
    set_metadata(model, {"amrkit.precision": "int8"})  # as amrkit quantize marks it
    onnx.save_model(model, str(out))
    ops = executed_op_types(out)
    rows = learnables(describe_layers(model), cfg.bits)
    return {
        "target": cfg.target,
        "integer_kernels": integer_kernels(ops),
        "max_pair_sum": max(b or 0 for b in pair_bounds(model).values()),
        **parameter_memory(rows),
    }


_GOLDEN: dict[tuple[str, int], tuple[np.ndarray, str]] = {}


def golden_match(path: Path, sess: object, x: np.ndarray) -> dict[str, object]:
    """Golden model vs this session (or runtime: ``.logits``) on ``x``: identical logits?"""
    key = (str(path), id(x))
    if key not in _GOLDEN:
        model = load_integer_model(path)
        _GOLDEN[key] = (model.run(x)[0], model.input_name)
    logits, input_name = _GOLDEN[key]
    run = getattr(sess, "logits", None) or (lambda v: sess.run(None, {input_name: v})[0])
    ref = run(x)
    return {
        "frames": len(x),
        "logits_identical": bool(np.array_equal(logits, ref)),
        "top1_agreement": float(np.mean(logits.argmax(1) == ref.argmax(1))),
    }


def c_paths() -> list[str]:
    """The C runtime's kernel paths this CPU runs: portable C and each x86 SIMD path."""
    from amrkit.deploy import x86

    return ["generic", *x86.supported_paths()]


def other_runtimes(int8: Path, fp32: Path, names: list[str], threads: int) -> dict:
    """(runtime, precision) → an object with ``.logits``: the portable INT8 file on the c
    runtime (``c-<path>``, every kernel path this CPU runs), both files on OpenVINO (when
    installed)."""
    from amrkit.deploy.runtime import CRuntime
    from amrkit.infer import load_predictor

    out: dict[tuple[str, str], object] = {}
    if "c" in names:
        golden = load_integer_model(int8)
        for path in c_paths():
            out[(f"c-{path}", "int8")] = CRuntime(golden, threads=threads, cpu=path)
    if "openvino" in names:
        try:
            import openvino  # noqa: F401
        except ImportError:
            return out
        out[("openvino", "int8")] = load_predictor(int8, threads=threads, runtime="openvino")
        out[("openvino", "fp32")] = load_predictor(fp32, threads=threads, runtime="openvino")
    return out


class SessionLogits:
    """An ORT session with ``.logits`` (for the session-option variants)."""

    def __init__(self, sess: object) -> None:
        self.sess = sess
        self.name = sess.get_inputs()[0].name  # type: ignore[attr-defined]

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.sess.run(None, {self.name: x})[0]  # type: ignore[attr-defined]


def ort_variants(int8: Path, threads: int) -> dict:
    """The portable INT8 file under other ORT session options: no spinning worker threads,
    and one intra-op thread (on a loaded machine fewer threads may win)."""
    from amrkit.runtime.ort import session_options

    nospin = session_options(False, threads)
    nospin.add_session_config_entry("session.intra_op.allow_spinning", "0")
    cpu = ["CPUExecutionProvider"]
    return {
        ("onnxruntime-nospin", "int8"): SessionLogits(
            ort.InferenceSession(str(int8), nospin, providers=cpu)
        ),
        ("onnxruntime-1thread", "int8"): SessionLogits(ort_session(int8, threads=1)),
    }


def with_bound(row: dict, bounds: dict[str, float]) -> dict:
    """``row`` plus its bound (int8 rows: the int8 peak, else fp32) and the fraction of it."""
    kind = "int8" if str(row["precision"]).startswith("int8") else "fp32"
    bound = bounds[f"bound_{kind}_frames_per_s"]
    return {**row, "bound_frames_per_s": bound,
            "fraction_of_bound": round(float(row["frames_per_s"]) / bound, 3)}  # fmt: skip


def issue_floors(results: list[dict], models: dict, big: int) -> dict:
    """Issue 14's floors, on the fastest runtime whose INT8 logits are the golden model's."""

    def rows(model: str, batch: int) -> list[dict]:
        return [
            r
            for r in results
            if r["model"] == model and r["batch"] == batch and r["precision"] == "int8"
            and r["ort_level"] in (None, "all")
            and models[model]["runtimes"][r["backend"]]["golden_match"]["logits_identical"]
        ]  # fmt: skip

    def torch_fps(model: str) -> float:
        torch_rows = [r for r in results if r["backend"] == "torch-eager"]
        return next(r["frames_per_s"] for r in torch_rows
                    if r["model"] == model and r["batch"] == big)  # fmt: skip

    out: dict[str, object] = {}
    if "optimized" in models and rows("optimized", big):
        best = max(rows("optimized", big), key=lambda r: r["frames_per_s"])
        lat = min(rows("optimized", 1), key=lambda r: r["ms_per_batch_median"]) if rows(
            "optimized", 1) else None  # fmt: skip
        out["optimized_b256"] = {
            "rule": ">= 50,000 frames/s or >= 35 % of the bound",
            "runtime": best["backend"], "frames_per_s": best["frames_per_s"],
            "fraction_of_bound": best["fraction_of_bound"],
            "met": best["frames_per_s"] >= 50_000 or best["fraction_of_bound"] >= 0.35,
        }  # fmt: skip
        if lat is not None:
            us = 1e3 * lat["ms_per_batch_median"]
            out["optimized_b1_latency"] = {"rule": "<= 60 us", "runtime": lat["backend"],
                                           "us": round(us, 1), "met": us <= 60}  # fmt: skip
        ratio = best["frames_per_s"] / torch_fps("optimized")
        out["optimized_vs_torch_fp32"] = {"rule": ">= 8x torch eager FP32",
                                          "value": round(ratio, 2), "met": ratio >= 8}  # fmt: skip
    if "original" in models and rows("original", big):
        best = max(rows("original", big), key=lambda r: r["frames_per_s"])
        out["original_b256"] = {"rule": ">= 50 % of the bound", "runtime": best["backend"],
                                "fraction_of_bound": best["fraction_of_bound"],
                                "met": best["fraction_of_bound"] >= 0.5}  # fmt: skip
    return out


def _row(results: list[dict], model: str, backend: str, batch: int) -> dict | None:
    return next((r for r in results if r["model"] == model and r["backend"] == backend
                 and r["precision"] == "int8" and r["batch"] == batch
                 and r["ort_level"] in (None, "all")), None)  # fmt: skip


def issue29_floors(results: list[dict], models: dict, big: int) -> dict:
    """Issue 29's floors: amrkit's C runtime (the path ``--runtime c`` picks on this CPU)
    against ONNX Runtime's INT8 session, both bit-exact; the AVX2 path's fraction of the
    bound (a floor on AVX2-only CPUs, where that bound is ORT's AVX2 kernel)."""
    from amrkit.deploy import x86

    paths = x86.supported_paths()
    native = f"c-{paths[0]}" if paths else "c-generic"
    out: dict[str, object] = {"runtime": native}

    def exact(model: str, backend: str) -> bool:
        rt = models[model]["runtimes"].get(backend)
        return bool(rt and rt["golden_match"]["logits_identical"])

    def ratio(model: str, batch: int, latency: bool) -> dict | None:
        c, o = _row(results, model, native, batch), _row(results, model, "onnxruntime", batch)
        if c is None or o is None:
            return None
        if latency:
            value = c["ms_per_batch_median"] / o["ms_per_batch_median"]
        else:
            value = c["frames_per_s"] / o["frames_per_s"]
        both = exact(model, native) and exact(model, "onnxruntime")
        return {"value": round(value, 3), "c_us" if latency else "c_frames_per_s":
                round(1e3 * c["ms_per_batch_median"], 1) if latency else c["frames_per_s"],
                "ort_us" if latency else "ort_frames_per_s":
                round(1e3 * o["ms_per_batch_median"], 1) if latency else o["frames_per_s"],
                "bit_exact": both}  # fmt: skip

    rules = (
        ("optimized_b1_latency", "optimized", 1, True, "<=", ISSUE29["b1_latency_vs_ort"]),
        ("optimized_b256", "optimized", big, False, ">=", ISSUE29["b256_vs_ort"]),
        ("original_b256", "original", big, False, ">=", ISSUE29["original_b256_vs_ort"]),
    )
    for key, model, batch, latency, op, floor in rules:  # fmt: skip
        r = ratio(model, batch, latency) if model in models else None
        if r is not None:
            met = r["value"] <= floor if op == "<=" else r["value"] >= floor
            what = "latency" if latency else "frames/s"
            out[key] = {"rule": f"{native} {what} {op} {floor}x ONNX Runtime INT8, batch {batch}",
                        **r, "met": bool(met and r["bit_exact"])}  # fmt: skip
    avx2 = _row(results, "optimized", "c-x86-avx2", big)
    if avx2 is not None:
        avx2_only = not any(f in cpu_info()["isa"] for f in ("avx512_vnni", "avx_vnni", "amx_int8"))
        out["avx2_fraction_of_bound"] = {
            "rule": f">= {ISSUE29['avx2_fraction_of_bound']} of the measured int8 bound, "
            f"optimized, batch {big}, on an AVX2-only CPU",
            "value": avx2["fraction_of_bound"], "applies": avx2_only,
            "met": avx2["fraction_of_bound"] >= ISSUE29["avx2_fraction_of_bound"],
        }  # fmt: skip
    return out


def runtime_preference(results: list[dict], models: dict, batches: list[int], path: str | None,
                       write: bool) -> dict | None:  # fmt: skip
    """Write which exact runtime was fastest here (what ``--runtime auto`` reads): ORT INT8
    against the C runtime's path for this CPU, per model and batch, each only if bit-exact."""
    from amrkit.deploy import x86
    from amrkit.runtime.preference import write_preference

    paths = x86.supported_paths()
    native = f"c-{paths[0]}" if paths else "c-generic"
    cases: dict[str, dict[str, float]] = {}
    for model in models:
        for batch in batches:
            case: dict[str, float] = {}
            for backend, name in (("onnxruntime", "ort"), (native, "c")):
                row = _row(results, model, backend, batch)
                rt = models[model]["runtimes"].get(backend)
                if row and rt and rt["golden_match"]["logits_identical"]:
                    case[name] = float(row["frames_per_s"])
            if case:
                cases[f"{model}/b{batch}"] = case
    if not write or not cases:
        return None
    return write_preference(cases, "benchmarks/bench_infer.py", path, {"c": native})


def machine_info() -> dict:
    """CPU name, flags and the C runtime's kernel paths (what the numbers depend on)."""
    from amrkit.deploy import x86

    flags = sorted(f for f in x86.host_flags() if f.startswith(("avx", "amx", "sse4", "fma")))
    return {**cpu_info(), "x86_flags": flags, "c_paths": c_paths(), "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0], "torch": torch.__version__,
            "onnxruntime": ort.__version__}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="original,optimized")
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,256")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds timed per case")
    ap.add_argument("--variants", action="store_true", help="also time INT8 variants")
    ap.add_argument("--runtimes", default="ort,c,openvino", help="runtimes besides torch")
    ap.add_argument("--preference", help="where to write the runtime preference (default: "
                    "amrkit.runtime.preference.preference_path())")  # fmt: skip
    ap.add_argument("--no-preference", action="store_true", help="do not write it")
    args = ap.parse_args()
    names = args.runtimes.split(",")
    pcases = peak_cases(args.threads, SIZES[:3])
    peaks: list[dict[str, object]] = []

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
                raw = ort_session(
                    files[("onnxruntime", "int8-vnni", "all")], threads=args.threads,
                    exact_pairs=False,
                )  # fmt: skip
                sessions[("onnxruntime", "int8-vnni-raw", "all")] = raw
            for (_, precision, level), sess in sessions.items():
                if precision.startswith("int8") and level == "all":
                    label = precision.removesuffix("-raw")
                    src = files[("onnxruntime", label, "all")]
                    entry = info.setdefault(precision, dict(info[label]))
                    entry["x64quantprecision"] = bool(sess.amrkit_exact_pairs)
                    entry["golden_match"] = golden_match(src, sess, x)
            others = other_runtimes(
                files[("onnxruntime", "int8", "all")], fp32, names, args.threads
            )
            if args.variants and name == "optimized":
                others.update(ort_variants(files[("onnxruntime", "int8", "all")], args.threads))
            info["runtimes"] = {"onnxruntime": {"golden_match": info["int8"]["golden_match"]}}
            for (backend, precision), pred in others.items():
                if precision == "int8":
                    src = files[("onnxruntime", "int8", "all")]
                    info["runtimes"][backend] = {"golden_match": golden_match(src, pred, x)}
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
                for (backend, precision), pred in others.items():
                    cases[f"{backend}/{precision}/-"] = lambda p=pred, b=xb: p.logits(b)
                cases.update({k: call for k, (call, _) in pcases.items()})
                timed = time_interleaved(cases, args.min_time)
                medians = {k: statistics.median(timed.pop(k)) for k in pcases}
                peak = peak_from_times(pcases, medians)
                bounds = model_bounds(peak, [name], args.length)[name]
                peaks.append({"model": name, "batch": batch, "peak": peak, **bounds})
                for key, times in timed.items():
                    backend, precision, level = key.split("/")
                    row = {
                        "model": name,
                        "backend": backend,
                        "precision": precision,
                        "ort_level": None if level == "-" else level,
                        "batch": batch,
                        **summarize(times, batch),
                    }
                    results.append(with_bound(row, bounds))
            del sessions, others

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
        "machine": machine_info(),
        "peak_and_bounds": peaks,
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
        "issue14_floors": issue_floors(results, models, big),
        "issue29_floors": issue29_floors(results, models, big),
        "runtime_preference": runtime_preference(
            results, models, batches, args.preference, not args.no_preference
        ),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
