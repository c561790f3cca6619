"""Proof and check that ONNX Runtime computes a quantized file's integers exactly.

:func:`integer_bounds` derives, from the quantization parameters alone, each layer's
worst-case int16 pair sum (:func:`amrkit.runtime.ort.pair_bounds`: what the u8×s8 kernels of
x86 CPUs without VNNI can saturate) and its worst-case int32 accumulator (the golden model's
``acc_bound``). :func:`check_target` refuses a portable file whose pair bound exceeds 32,767.
:func:`golden_check` then runs the golden model and an unmodified ONNX Runtime session on the
same frames and compares their output integers: the observation next to the proof.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError
from amrkit.golden import load_integer_model
from amrkit.runtime import cpu_info, kernel_info, ort_session, pair_bounds
from amrkit.runtime.ort import PAIR_LIMIT

INT32_LIMIT = 2**31 - 1
CHECK_FRAMES = 1024  # validation frames the golden model re-computes at quantize time


def integer_bounds(proto: Any, int8_path: str | Path) -> dict[str, dict[str, int | None]]:
    """Layer → ``pair_bound`` (int16 lane) and ``acc_bound`` (int32 accumulator), worst cases
    over every input the quantized types can hold."""
    pairs = pair_bounds(proto)
    try:
        golden = load_integer_model(int8_path)
        accs = {row["layer"]: row.get("acc_bound") for row in golden.layer_table()}
    except AmrkitError:  # FP32 layers (--exclude): the integer-only model does not apply
        accs = {}
    out = {}
    for layer, bound in pairs.items():
        out[layer] = {"pair_bound": bound, "acc_bound": accs.get(layer)}
    return out


def check_target(target: str, bounds: dict[str, dict[str, int | None]]) -> list[str]:
    """Refuse a portable file that some kernel could saturate; return warnings otherwise."""
    over = {k: v["pair_bound"] for k, v in bounds.items() if (v["pair_bound"] or 0) > PAIR_LIMIT}
    unknown = [k for k, v in bounds.items() if v["pair_bound"] is None]
    wide = [k for k, v in bounds.items() if (v["acc_bound"] or 0) > INT32_LIMIT]
    if wide:
        raise AmrkitError(
            f"layer(s) {', '.join(wide)} can overflow an int32 accumulator; exclude them "
            "(--exclude) or use fewer weight bits"
        )
    if target == "portable" and (over or unknown):
        shown = ", ".join(f"{k} {v}" for k, v in over.items()) or ", ".join(unknown)
        raise AmrkitError(
            f"pair sums past {PAIR_LIMIT} ({shown}) are not portable; use 4..7-bit weights "
            "or --target vnni"
        )
    if over:
        return [
            f"full-range weights: pair sums up to {max(over.values())} > {PAIR_LIMIT} saturate "
            "ONNX Runtime's u8s8 kernels on x86 CPUs without VNNI unless "
            "session.x64quantprecision is set (amrkit sets it; other runtimes may not)"
        ]
    return []


def golden_check(
    int8_path: str | Path, frames: Any, positions: np.ndarray, threads: int | None = None
) -> dict[str, Any]:
    """Golden model vs ONNX Runtime (the session amrkit deploys: no extra outputs) on
    ``positions``: top-1 agreement, output integers that differ, and which kernel ran.
    A file with FP32 layers (``--exclude``) is not an integer-only network: ``applicable``
    is then False and nothing is compared."""
    sess = ort_session(int8_path, threads=threads)
    runtime = kernel_info(bool(sess.amrkit_exact_pairs), cpu_info())
    try:
        model = load_integer_model(int8_path)
    except AmrkitError as exc:
        return {"applicable": False, "reason": str(exc), "bit_exact": None, **runtime}
    scale = np.asarray(model.output_scale, np.float64).reshape(1, -1)
    agree = frames_seen = differ = 0
    max_lsb, logits_equal = 0, True
    for _, iq in frames.iter_batches(positions, 256):
        logits, y = model.run(iq)
        ref32 = np.asarray(sess.run(None, {model.input_name: iq})[0])
        logits_equal = logits_equal and np.array_equal(logits, ref32)
        ref = ref32.astype(np.float64)
        ref_int = np.rint(ref / scale).astype(np.int64) + model.output_zero_point
        lsb = np.abs(y.astype(np.int64).reshape(ref_int.shape) - ref_int)
        max_lsb = max(max_lsb, int(lsb.max(initial=0)))
        differ += int(np.sum(lsb.max(axis=1) > 0))
        agree += int(np.sum(y.reshape(ref_int.shape).argmax(1) == ref.argmax(1)))
        frames_seen += len(iq)
    return {
        "applicable": True,
        "frames": frames_seen,
        "top1_agreement": agree / frames_seen if frames_seen else float("nan"),
        "frames_with_different_outputs": differ,
        "output_max_lsb": max_lsb,
        "bit_exact": frames_seen > 0 and differ == 0,
        "logits_identical": bool(frames_seen > 0 and logits_equal),
        "rounding": model.rounding,
        **runtime,
    }
