"""The one way amrkit opens an ONNX Runtime session, and the int16 pair bound that decides
whether ONNX Runtime computes a model's integers exactly on this CPU.

On x86 without VNNI (see :mod:`amrkit.runtime.cpu`) ONNX Runtime's u8×s8 kernels add two
products ``a1·w1 + a2·w2`` in a saturating int16 lane. Signed activations are shifted to u8
first, so ``a`` spans the whole 0…255 whatever the zero point, and which two weights form a
pair depends on the kernel's packing. The worst case of a layer is therefore, per output
channel, ``255 · max(sum of its two largest positive weights, sum of its two largest
negative magnitudes)`` — :func:`pair_bounds`. When every layer's bound is ≤ 32,767 no
packing and no input can saturate the lane: ONNX Runtime computes the model's integers
exactly on every CPU. A file past that bound (full-range 8-bit weights) gets the session
option ``session.x64quantprecision`` (ONNX Runtime then converts its weights to u8 and uses
its exact u8×u8 kernels on such CPUs; elsewhere the option does nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError

PAIR_LIMIT = 32767  # int16 lane of vpmaddubsw
ACT_RAW_MAX = 255  # a u8 activation as the kernel sees it (s8 inputs are shifted by 128)
WEIGHTED_OPS = {"Conv": (1, 0), "Gemm": (1, None), "MatMul": (1, 1)}  # weight input, axis
LEVELS = ("disable", "basic", "extended", "all")
PRECISION_KEY = "session.x64quantprecision"


def pair_bound(weights: np.ndarray, axis: int = 0) -> np.ndarray:
    """Worst-case ``|a1·w1 + a2·w2|`` per output channel (along ``axis``) for u8 ``a``."""
    w = np.moveaxis(np.asarray(weights, dtype=np.int64), axis, 0)
    w = w.reshape(w.shape[0], -1)
    pos = -np.sort(-np.maximum(w, 0), axis=1)[:, :2].sum(axis=1)
    neg = -np.sort(np.minimum(w, 0), axis=1)[:, :2].sum(axis=1)
    return ACT_RAW_MAX * np.maximum(pos, neg)


def _weight_axis(node: Any) -> int:
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    return WEIGHTED_OPS[node.op_type][1]


def pair_bounds(model: Any) -> dict[str, int | None]:
    """Layer name → worst-case pair sum of its int8 weights (:func:`pair_bound`, max over
    channels); ``None`` for a layer fed quantized activations whose weights are not an int8
    initializer behind a DequantizeLinear (the bound is then unknown). FP32 layers (no
    DequantizeLinear input) are left out."""
    from onnx import TensorProto, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    out: dict[str, int | None] = {}
    for node in g.node:
        if node.op_type not in WEIGHTED_OPS or len(node.input) < 2:
            continue
        dq_in = producer.get(node.input[0])
        dq_w = producer.get(node.input[WEIGHTED_OPS[node.op_type][0]])
        if dq_in is None or dq_in.op_type != "DequantizeLinear":
            continue
        name = node.name or node.output[0]
        init = inits.get(dq_w.input[0]) if dq_w is not None else None
        if dq_w is None or dq_w.op_type != "DequantizeLinear" or init is None:
            out[name] = None
        elif init.data_type != TensorProto.INT8:
            out[name] = 0 if init.data_type == TensorProto.UINT8 else None  # u8×u8 is exact
        else:
            w = numpy_helper.to_array(init)
            out[name] = int(pair_bound(w, _weight_axis(node)).max())
    return out


def needs_exact_pairs(model: Any) -> bool:
    """True when some layer can saturate the int16 pair lane (or its bound is unknown)."""
    return any(b is None or b > PAIR_LIMIT for b in pair_bounds(model).values())


def _load(source: str | Path | bytes | Any) -> Any:
    import onnx

    if isinstance(source, onnx.ModelProto):
        return source
    try:
        if isinstance(source, bytes):
            return onnx.load_from_string(source)
        return onnx.load(str(source), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf/IO errors → one line
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise AmrkitError(f"{str(source)[:200]!r} is not a readable ONNX model ({first})") from None


def _providers(device: str) -> list[Any]:
    import onnxruntime as ort

    if not device.startswith("cuda"):
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise AmrkitError(
            f"--device {device}: this onnxruntime has no CUDAExecutionProvider "
            f"(available: {', '.join(ort.get_available_providers())}); use --device cpu"
        )
    index = int(device.split(":")[1]) if ":" in device else 0
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def session_options(
    exact_pairs: bool,
    threads: int | None = None,
    level: str = "all",
    optimized_path: str | Path | None = None,
) -> Any:
    import onnxruntime as ort

    if level not in LEVELS:
        raise AmrkitError(f"graph optimization level {level!r} is not one of {', '.join(LEVELS)}")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # "hardware specific optimizations" notes are expected
    opts.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if exact_pairs:
        opts.add_session_config_entry(PRECISION_KEY, "1")
    if optimized_path is not None:
        opts.optimized_model_filepath = str(optimized_path)
    return opts


def ort_session(
    model: str | Path | bytes | Any,
    *,
    threads: int | None = None,
    device: str = "cpu",
    level: str = "all",
    optimized_path: str | Path | None = None,
    exact_pairs: bool | None = None,
) -> Any:
    """An ``onnxruntime.InferenceSession`` for a path, serialized bytes or a ModelProto.

    ``exact_pairs`` (default: decided from the file by :func:`needs_exact_pairs`) sets
    ``session.x64quantprecision`` so a full-range INT8 file is computed exactly on CPUs
    without VNNI too. ``threads``: intra-op threads (inter-op 1); ``level``: graph
    optimizations; ``device``: cpu, cuda or cuda:N (ONNX Runtime's CUDA provider).
    """
    proto = _load(model)
    auto = exact_pairs is None
    exact = needs_exact_pairs(proto) if auto else bool(exact_pairs)
    source = str(model) if isinstance(model, (str, Path)) else proto.SerializeToString()
    try:
        sess = _open(source, session_options(exact, threads, level, optimized_path), device)
    except AmrkitError:
        if not (auto and exact):
            raise
        # ORT's s8→u8 weight rewrite fails on some hand-made graphs: open it as it is
        exact = False
        sess = _open(source, session_options(False, threads, level, optimized_path), device)
    sess.amrkit_exact_pairs = exact  # type: ignore[attr-defined]
    return sess


def _open(source: str | bytes, opts: Any, device: str) -> Any:
    import onnxruntime as ort

    try:
        return ort.InferenceSession(source, opts, providers=_providers(device))
    except Exception as exc:  # noqa: BLE001 - ORT raises many types; report one line
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        where = f" {source!r}" if isinstance(source, str) else " the model"
        raise AmrkitError(f"ONNX Runtime cannot load{where}: {first}") from None


def kernel_info(exact_pairs: bool, cpu: dict[str, Any]) -> dict[str, Any]:
    """Which integer kernel ONNX Runtime uses for a file on this CPU, and whether its sums are
    exact (``cpu`` from :func:`amrkit.runtime.cpu.cpu_info`)."""
    if cpu["exact_u8s8"]:
        kernel = cpu["u8s8_kernel"]
    elif exact_pairs:
        kernel = "MLAS u8u8 (session.x64quantprecision: weights shifted to u8, exact int32)"
    else:
        kernel = cpu["u8s8_kernel"] + "; cannot saturate: pair bound <= 32767"
    return {
        "kernel": kernel,
        "x64quantprecision": bool(exact_pairs),
        "cpu": cpu["cpu"],
        "isa": list(cpu["isa"]),
        "exact_u8s8": cpu["exact_u8s8"],
    }
