"""One way to run any amrkit model artifact: a trained run directory, an ONNX file, or a
shipped model's name (``zoo:NAME``, ``zoo:NAME:int8``; :mod:`amrkit.pretrained`).

``evaluate``, ``classify`` and the report's evaluations go through :func:`load_predictor`,
so FP32 PyTorch, FP32 ONNX and INT8 ONNX are measured by one path (``quantize`` measures its
files with the same session factory, :func:`amrkit.runtime.ort_session`). The artifacts
themselves — run directories, ONNX metadata, zoo names — are read and checked by
:mod:`amrkit.artifacts` (finite weights, finite positive quantization scales, the declared
input) before any runtime sees them.

An ONNX file runs on one of :data:`RUNTIMES` (docs/runtimes.md): ``ort`` (ONNX Runtime),
``openvino`` (optional package) or ``c`` (the ``amrkit deploy`` C library compiled for this
host, INT8 files only). ``auto`` is the runtime that ``benchmarks/bench_infer.py`` measured
fastest and exact on this CPU (``amrkit.runtime.preference``), else ONNX Runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from amrkit import artifacts
from amrkit.artifacts import load_run, read_model_info, resolve_model_path
from amrkit.errors import AmrkitError
from amrkit.runtime import ort_session
from amrkit.runtime.device import ort_device, torch_device

RUNTIMES = ("auto", "ort", "openvino", "c")


class Predictor(Protocol):
    classes: tuple[str, ...]
    frame_length: int
    sample_rate_hz: float | None
    kind: str  # "torch", "onnx-fp32", "onnx-int8"
    runtime: str  # "torch", "ort", "openvino", "c"

    def logits(self, iq: np.ndarray) -> np.ndarray:
        """(n, 2, L) float32 → (n, num_classes) float32."""
        ...


@dataclass
class TorchPredictor:
    model: Any  # torch.nn.Module in eval mode
    classes: tuple[str, ...]
    frame_length: int
    sample_rate_hz: float | None = None
    device: str = "cpu"
    kind: str = "torch"
    info: dict[str, Any] = field(default_factory=dict)
    runtime: str = "torch"

    def logits(self, iq: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(iq, dtype=np.float32)).to(self.device)
            return self.model(x).float().cpu().numpy()


@dataclass
class OnnxPredictor:
    session: Any  # onnxruntime.InferenceSession
    classes: tuple[str, ...]
    frame_length: int
    sample_rate_hz: float | None = None
    kind: str = "onnx-fp32"
    info: dict[str, Any] = field(default_factory=dict)
    runtime: str = "ort"

    def logits(self, iq: np.ndarray) -> np.ndarray:
        try:
            return self._logits(iq)
        except AmrkitError:
            raise
        except Exception as exc:  # noqa: BLE001 - an ORT failure on these frames → one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:200]
            raise AmrkitError(
                f"ONNX Runtime could not run the model on frames of shape "
                f"{tuple(np.shape(iq))} ({first}); check that the model fits the data"
            ) from None

    def _logits(self, iq: np.ndarray) -> np.ndarray:
        inp = self.session.get_inputs()[0]
        x = np.ascontiguousarray(iq, dtype=np.float32)
        fixed = inp.shape[0] if inp.shape and isinstance(inp.shape[0], int) else None
        if fixed is None or fixed == len(x):
            out = self.session.run(None, {inp.name: x})[0]
            return np.asarray(out, dtype=np.float32)
        # a graph exported with a fixed batch size: run in chunks of it, zero-padding the last
        parts = []
        for start in range(0, len(x), fixed):
            chunk = x[start : start + fixed]
            pad = fixed - len(chunk)
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), np.float32)])
            parts.append(np.asarray(self.session.run(None, {inp.name: chunk})[0])[: fixed - pad])
        if not parts:
            return np.empty((0, len(self.classes)), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)


@dataclass
class BackendPredictor:
    """An ONNX file on another runtime (``openvino``, ``c``): ``backend.logits`` does the work."""

    backend: Any  # amrkit.deploy.runtime.CRuntime | amrkit.runtime.openvino.OpenVinoRuntime
    classes: tuple[str, ...]
    frame_length: int
    sample_rate_hz: float | None = None
    kind: str = "onnx-int8"
    info: dict[str, Any] = field(default_factory=dict)
    runtime: str = "c"

    def logits(self, iq: np.ndarray) -> np.ndarray:
        return self.backend.logits(iq)


def load_predictor(
    path: str | Path,
    device: str | None = None,
    threads: int | None = None,
    runtime: str = "auto",
) -> Predictor:
    """A run directory or ``zoo:NAME`` → TorchPredictor; an ``.onnx`` file or
    ``zoo:NAME:int8`` → OnnxPredictor (``runtime`` auto or ort) or BackendPredictor
    (openvino, c). Every file is checked before it runs (:mod:`amrkit.artifacts`).

    ``device``: cpu, cuda, cuda:N or auto (:mod:`amrkit.runtime.device`); ``threads``:
    intra-op threads (torch: process-wide ``torch.set_num_threads``; ONNX Runtime, OpenVINO:
    per session; c: parallel copies of the library, default 1).
    """
    if threads is not None and threads < 1:
        raise AmrkitError(f"--threads {threads} must be >= 1 (or left out for the default)")
    if runtime not in RUNTIMES:
        raise AmrkitError(f"--runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    p = resolve_model_path(path)
    if p.is_dir():
        if runtime != "auto":
            raise AmrkitError(
                f"--runtime {runtime} runs ONNX files; {str(p)!r} is a run directory (PyTorch): "
                "leave --runtime out or give its exported .onnx file"
            )
        return _torch_predictor(p, device, threads)
    if p.suffix.lower() == ".onnx" and p.is_file():
        info = read_model_info(p)
        common = (info.classes, info.frame_length, info.sample_rate_hz)
        kind = f"onnx-{info.precision}"
        if runtime == "auto":  # the measured preference (docs/runtimes.md), else ort
            from amrkit.runtime.preference import preferred_runtime

            runtime = preferred_runtime(info.precision, device=ort_device(device))
        if runtime == "ort":
            sess = ort_session(p, threads=threads, device=ort_device(device))
            return OnnxPredictor(sess, *common, kind=kind, info=info.metadata)
        if ort_device(device) != "cpu":
            raise AmrkitError(f"--runtime {runtime} runs on the CPU; use --device cpu")
        return BackendPredictor(_backend(p, runtime, info.precision, threads), *common,
                                kind=kind, info=info.metadata, runtime=runtime)  # fmt: skip
    raise AmrkitError(f"model {str(p)!r} is neither a run directory nor an existing .onnx file")


def _torch_predictor(p: Path, device: str | None, threads: int | None) -> TorchPredictor:
    import torch

    dev = torch_device(device)
    if threads:
        torch.set_num_threads(threads)
    run = load_run(p)
    model = run.model.to(dev)
    return TorchPredictor(model, run.classes, run.frame_length, run.sample_rate_hz, dev,
                          info=run.info)  # fmt: skip


def _backend(p: Path, runtime: str, precision: str, threads: int | None) -> Any:
    """The openvino or c backend of an ONNX file (INT8 files get the golden model's output
    dequantization; the c runtime exists only for them)."""
    from amrkit.golden import load_integer_model

    if runtime == "c":
        from amrkit.deploy.runtime import CRuntime

        if precision != "int8":
            raise AmrkitError(
                f"--runtime c runs INT8 files; {str(p)!r} is {precision} "
                "(quantize it with 'amrkit quantize', or use --runtime ort)"
            )
        return CRuntime(load_integer_model(p), threads=threads)
    from amrkit.runtime.openvino import OpenVinoRuntime

    if precision != "int8":
        return OpenVinoRuntime(p, threads)
    golden = load_integer_model(p)
    return OpenVinoRuntime(p, threads, golden.output_scale, golden.output_zero_point)


def check_compatible(pred: Predictor, classes: tuple[str, ...], frame_length: int) -> None:
    """Model and data must agree on classes (same names, same order) and frame length."""
    artifacts.check_compatible(pred.classes, pred.frame_length, classes, frame_length)
