"""Sentences about the pipeline, written from the configs a run used (never fixed text).

Each function takes the config dicts stored with the run (run.json's ``train_config``,
quantization.json's ``config``/``target``, the runtime's CPU/kernel info) and says what they
set, so changing a setting changes the report's sentence.
"""

from __future__ import annotations

import math
from typing import Any

AUGMENT_TEXT = {
    "phase": "every frame rotated by a random carrier phase",
    "conj": "half the frames conjugated",
}
TARGET_TEXT = {
    "portable": "`portable` target: no ONNX Runtime INT8 kernel can saturate, so every CPU "
    "computes the same integers",
    "vnni": "`vnni` target: full-range weights, exact only on kernels that accumulate in int32 "
    "(VNNI, Arm) or with x64quantprecision",
}


def _g(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def initialization(tc: dict[str, Any]) -> str:
    if tc.get("init") == "torch":
        return "PyTorch's default initialization"
    return "Glorot-uniform conv/FC weights and zero biases (MATLAB's default initialization)"


def weight_decay(tc: dict[str, Any]) -> str:
    wd = float(tc.get("weight_decay", 0.0))
    if wd == 0:
        return "no weight decay"
    if tc.get("bias_decay"):
        return f"L2 weight decay {_g(wd)} on every parameter, biases included"
    return (
        f"L2 weight decay {_g(wd)} on conv/FC weights and batch-norm parameters, none on "
        "conv/FC biases (MATLAB's BiasL2Factor 0)"
    )


def augmentation(tc: dict[str, Any]) -> str:
    names = [n.strip() for n in str(tc.get("augment", "none")).split(",") if n.strip()]
    text = {
        **AUGMENT_TEXT,
        "freq": f"a random frequency shift of up to ±{_g(float(tc.get('freq_shift', 0.01)))} "
        "cycles per sample",
        "noise": "noise added to half the frames at "
        f"{_g(float(tc.get('noise_snr_db', 10.0)))}–"
        f"{_g(float(tc.get('noise_snr_db', 10.0)) + 20)} dB SNR",
        "timescale": "every frame resampled in time by a random factor from "
        f"1/{_g(1 + float(tc.get('time_scale', 0.2)))} to "
        f"{_g(1 + float(tc.get('time_scale', 0.2)))} (a symbol-rate or sample-clock mismatch)",
    }
    parts = [text.get(n, n) for n in names if n != "none"]
    crop = int(tc.get("crop", 0) or 0)
    if crop:
        parts.append(f"each frame cut to a random window of {crop} samples (tests: whole frames)")
    if not parts:
        return "no augmentation"
    return "augmentation: " + " and ".join(parts) + ", fresh each epoch"


def optimizer(tc: dict[str, Any]) -> str:
    if tc.get("optimizer", "sgd") == "adamw":
        return "AdamW"
    return f"SGD (momentum {_g(float(tc['momentum']))})"


def schedule(tc: dict[str, Any]) -> str:
    epochs, lr = int(tc["epochs"]), float(tc["lr"])
    text = f"{optimizer(tc)}, mini-batch {tc['batch_size']}, {epochs} epochs, "
    if tc.get("schedule", "step") == "cosine":
        warm = float(tc.get("warmup", 0.05))
        pct = _g(round(100 * warm, 2))
        ramp = f"a linear warm-up over {pct} % of the steps, then " if warm else ""
        return text + f"learning rate {_g(lr)} with {ramp}a cosine decay to 0 per step"
    drop, factor = int(tc["lr_drop_epoch"]), float(tc.get("lr_drop_factor", 0.1))
    if drop < epochs:
        return text + f"learning rate {_g(lr)}, × {_g(factor)} after epoch {drop}"
    return text + f"learning rate {_g(lr)} throughout"


def curriculum(tc: dict[str, Any]) -> str:
    """The SNR curriculum, or "" when off."""
    n = math.floor(float(tc.get("snr_curriculum", 0) or 0) * int(tc["epochs"]))
    if n == 0:
        return ""
    start = _g(float(tc.get("curriculum_start_db", 10.0)))
    return (
        f"an SNR curriculum: in the first {plural(n, 'epoch')} frames below an SNR threshold "
        f"falling from {start} dB to the lowest training SNR count nothing in the loss"
    )


def recipe(tc: dict[str, Any]) -> str:
    """ "amrkit's `robust` recipe: " for a named recipe other than the reference's."""
    name = tc.get("recipe", "reference") or "reference"
    return "" if name == "reference" else f"amrkit's `{name}` recipe: "


def training(tc: dict[str, Any], device: str = "cpu") -> str:
    """One sentence: the whole training setup of a protocol."""
    snr = curriculum(tc)
    return (
        f"PyTorch on {device.upper()}: {recipe(tc)}{schedule(tc)}; "
        f"{initialization(tc)}; {weight_decay(tc)}; {augmentation(tc)}; "
        f"{snr + '; ' if snr else ''}the weights of the best validation epoch are kept."
    )


def calibration(q: dict[str, Any]) -> str:
    c = q.get("config", {})
    method = c.get("method", "minmax")
    what = {
        "minmax": "min/max",
        "percentile": f"{_g(c.get('percentile', 99.999))}th-percentile",
        "entropy": "entropy (KL)",
    }.get(method, method)
    frames = q.get("calibration_frames") or c.get("calib_frames")
    return f"{what} calibration on {frames} training frames"


def quantization_format(q: dict[str, Any]) -> str:
    c = q.get("config", {})
    granularity = "per-channel" if c.get("per_channel", True) else "per-tensor"
    act = c.get("activation_type", "int8")
    bits = int(q.get("weight_bits") or 8)
    weights = "int8 weights" if bits == 8 else f"{bits}-bit weights (stored as int8)"
    text = f"{granularity} {weights}, {act} activations, int32 biases"
    excluded = c.get("exclude") or []
    if excluded:
        text += f" ({', '.join(excluded)} kept in FP32)"
    target = q.get("target")
    if target:
        text += "; " + TARGET_TEXT.get(target, f"`{target}` target")
    return text


def kernel(rt: dict[str, Any]) -> str:
    return rt.get("kernel") or rt.get("u8s8_kernel") or "ONNX Runtime's INT8 kernels"


def runtime(rt: dict[str, Any], ort_version: str | None = None) -> str:
    """Which kernel ran the INT8 model on which CPU (instruction set)."""
    text = f"ONNX Runtime{' ' + ort_version if ort_version else ''}"
    if not rt:
        return text + " on this CPU (no kernel information available)"
    isa = rt.get("isa")
    isa_text = ", ".join(isa) if isinstance(isa, list) else str(isa or "")
    text += f" on {rt.get('cpu', 'an unknown CPU')}" + (f" ({isa_text})" if isa_text else "")
    return text + f", kernel: {kernel(rt)}"


def quantization(q: dict[str, Any], rt: dict[str, Any], ort_version: str | None = None) -> str:
    mode = "quantization-aware training" if q.get("mode") == "qat" else "static QDQ quantization"
    return (
        f"ONNX Runtime {mode}: {quantization_format(q)}; {calibration(q)}. "
        f"Runtime: {runtime(rt, ort_version)}."
    )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _range(values: list[int]) -> str:
    return f"{values[0]}" if len(values) == 1 else f"{values[0]}–{values[-1]}"


def search_label(sc: dict[str, Any], classes: int) -> str:
    """What a quick run's search is: N trials of P epochs on F frames."""
    frames = int(sc["proxy_train_per_class"]) * classes
    return (
        f"quick: {sc['trials']} trials of {plural(sc['proxy_epochs'], 'epoch')} on {frames:,} "
        "frames — a small search, not the paper-scale one"
    )


def search(sc: dict[str, Any]) -> str:
    """One paragraph: the search the run did, from its SearchConfig."""
    objectives = [o for o in sc["objectives"] if o != "accuracy"]
    names = {"macs": "MACs", "int8_bytes": "INT8 parameter bytes", "latency_us": "INT8 latency"}
    budget = f" at ≤ {int(sc['max_macs']):,} MACs" if sc.get("max_macs") else ""
    groups = [g for g in sc["groups"] if g > 1]
    blocks = f", grouped convs ({', '.join(map(str, groups))} groups)" if groups else ""
    from amrkit.train.config import TrainConfig  # the defaults the search's training keeps

    final = {
        "optimizer": TrainConfig().optimizer,
        "momentum": TrainConfig().momentum,
        "batch_size": sc["batch_size"],
        "epochs": sc["final_epochs"],
        "lr": sc["lr"],
        "lr_drop_epoch": sc["final_lr_drop_epoch"],
    }
    return (
        f"Optuna multi-objective search (accuracy up; {', '.join(names[o] for o in objectives)} "
        f"down) over CNNs of {sc['min_layers']}–{sc['max_layers']} conv layers, "
        f"{_range(sc['filters'])} filters, kernels {', '.join(map(str, sc['kernels']))}"
        f"{blocks}{budget}, seed {sc['seed']}: {sc['trials']} proxy trials, each trained "
        f"{plural(sc['proxy_epochs'], 'epoch')} on {sc['proxy_train_per_class']} training frames "
        f"per class (validated on {sc['proxy_val_per_class']} per class) at mini-batch "
        f"{sc['proxy_batch_size']}, successive halving keeping the best 1/{sc['halving_eta']} of "
        f"cheaper peers; then the Pareto set (at most {sc['max_final']} models, spread over MACs) "
        f"retrained on the whole training split ({schedule(final)}; "
        f"{augmentation({'augment': sc['augment']})}), quantized (INT8 PTQ) and checked with the "
        f"golden integer model on {sc['golden_frames']} test frames."
    )
