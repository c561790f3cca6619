"""Estimated seconds of each stage on 2 idle CPU cores (2 threads), for the run's ETA.

Rates measured with amrkit 0.1 (docs/reproduce.md, "Budget"): a training step costs about
``TRAIN_S_PER_FRAME + TRAIN_S_PER_MAC x MACs`` per frame (optimized ≈ 0.8 ms, original
≈ 1.2 ms), inference about a third of that. The ETA rescales these by the speed the run
actually shows, so only their ratios matter much.
"""

from __future__ import annotations

from typing import Any

TRAIN_S_PER_FRAME = 6.6e-4
TRAIN_S_PER_MAC = 6.3e-11
INFER_FRACTION = 1 / 3
GENERATE_FRAMES_PER_S = 4000.0
FRAME_LENGTH = 1024  # the study's frames (the matlab preset)
CUDA_SPEEDUP = 15.0  # a rough figure: the ETA corrects it after the first stages


def _macs(spec: Any) -> int:
    from amrkit.metrics.network import network_metrics

    try:
        return int(network_metrics(spec, 1024)["macs"])
    except Exception:  # noqa: BLE001 — an estimate only; a bad spec fails elsewhere first
        return 2_500_000


def per_frame(spec: Any) -> float:
    """Training seconds per frame of ``spec`` (forward + backward + step)."""
    return TRAIN_S_PER_FRAME + TRAIN_S_PER_MAC * _macs(spec)


def generate(frames: int) -> float:
    return 1.0 + frames / GENERATE_FRAMES_PER_S


def train(spec: Any, frames: int, epochs: int, device: str = "cpu", crop: int = 0) -> float:
    """80 % of ``frames`` trained per epoch (on ``crop`` of the 1,024 samples when cropped),
    10 % validated per epoch, 10 % tested."""
    c = per_frame(spec)
    part = crop / FRAME_LENGTH if 0 < crop < FRAME_LENGTH else 1.0
    seconds = 3.0 + frames * c * (0.8 * epochs * part + INFER_FRACTION * (0.1 * epochs + 0.1))
    return seconds / CUDA_SPEEDUP if device == "cuda" else seconds


def ptq(spec: Any, calib_frames: int) -> float:
    """Export, calibration, ONNX Runtime quantization, runtime check, validation, plot."""
    return 15.0 + calib_frames * per_frame(spec) * INFER_FRACTION * 4


def evaluate(spec: Any, frames: int) -> float:
    """FP32 (torch) and INT8 (ONNX Runtime) on ``frames``."""
    return 2.0 + 2 * frames * per_frame(spec) * INFER_FRACTION


def golden(spec: Any, frames: int) -> float:
    return 3.0 + frames * per_frame(spec) * 3


def mcu(spec: Any) -> float:
    """Generate, cross-compile and run two frames under QEMU (≈ 5 s for optimized)."""
    return 5.0 + 2 * per_frame(spec)


def bench(min_time: float) -> float:
    """Three runtimes x two batch sizes, each timed ``min_time`` after a warm-up."""
    return 3.0 + 6 * 3 * min_time


def search(scfg: Any, classes: int, train_frames: int) -> float:
    """Proxy trials (models of about half the MAC budget, a few seconds of set-up each), then
    each Pareto model retrained on ``train_frames``, quantized, timed and golden-checked."""
    macs = (scfg.max_macs or 2_500_000) / 2
    c = TRAIN_S_PER_FRAME + TRAIN_S_PER_MAC * macs
    proxy = classes * (scfg.proxy_train_per_class + INFER_FRACTION * scfg.proxy_val_per_class)
    trials = scfg.trials * (2.0 + c * proxy * scfg.proxy_epochs)
    n = train_frames * (scfg.final_epochs + INFER_FRACTION * (0.125 * scfg.final_epochs + 0.25))
    final = scfg.max_final * (12.0 + c * n + 3 * c * scfg.golden_frames)
    return 3.0 + trials + final
