"""One way to run any amrkit model artifact: a trained run directory or an ONNX file.

``evaluate``, ``quantize``, ``classify`` and the report all go through
:func:`load_predictor`, so FP32 PyTorch, FP32 ONNX and INT8 ONNX are measured by one path.

ONNX files written by amrkit carry metadata (``metadata_props``):
``amrkit.classes`` (JSON list), ``amrkit.frame_length``, ``amrkit.sample_rate_hz``,
``amrkit.version``, ``amrkit.spec`` (JSON of the CNNSpec), ``amrkit.precision``
("fp32" or "int8"), and ``amrkit.split_seed`` (the derived split of the training data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from amrkit.errors import AmrkitError
from amrkit.runtime import ort_session


class Predictor(Protocol):
    classes: tuple[str, ...]
    frame_length: int
    sample_rate_hz: float | None
    kind: str  # "torch", "onnx-fp32", "onnx-int8"

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

    def logits(self, iq: np.ndarray) -> np.ndarray:
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


DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str | None) -> str:
    """``cpu``, ``cuda[:N]`` or ``auto`` (cuda when available) → a torch device string."""
    text = (device or "cpu").strip().lower()
    if text == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return "cpu"
    if text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        import torch

        if not torch.cuda.is_available():
            raise AmrkitError(
                f"--device {device} requested but no CUDA device is available; use --device cpu"
            )
        return text
    raise AmrkitError(f"--device {device!r} is not one of cpu, cuda, cuda:N, auto")


def onnx_metadata(path: str | Path) -> dict[str, str]:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf/IO errors → one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AmrkitError(f"{str(path)!r} is not a readable ONNX model ({first})") from None
    return {p.key: p.value for p in model.metadata_props}


def _onnx_device(device: str | None) -> str:
    """Like :func:`resolve_device`, but CUDA means ONNX Runtime's CUDA provider, not torch's."""
    text = (device or "cpu").strip().lower()
    if text == "auto":
        import onnxruntime as ort

        return "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"
    if text == "cpu" or text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise AmrkitError(f"--device {device!r} is not one of cpu, cuda, cuda:N, auto")


def make_session(path: str | Path, threads: int | None = None, device: str = "cpu") -> Any:
    return ort_session(path, threads=threads, device=device)


def load_predictor(path: str | Path, device: str = "cpu", threads: int | None = None) -> Predictor:
    """A run directory → TorchPredictor; an ``.onnx`` file → OnnxPredictor.

    ``device``: cpu, cuda, cuda:N or auto; ``threads``: intra-op threads (torch: process-wide
    ``torch.set_num_threads``; ONNX Runtime: per session).
    """
    p = Path(path)
    if threads is not None and threads < 1:
        raise AmrkitError(f"--threads {threads} must be >= 1 (or left out for the default)")
    if p.is_dir():
        import torch

        from amrkit.train.run import load_run

        device = resolve_device(device)
        if threads:
            torch.set_num_threads(threads)
        run = load_run(p)
        return TorchPredictor(
            run.model.to(device),
            run.classes,
            run.frame_length,
            run.sample_rate_hz,
            device,
            info=run.info,
        )
    if p.suffix.lower() == ".onnx" and p.is_file():
        meta = onnx_metadata(p)
        if "amrkit.classes" not in meta:
            raise AmrkitError(
                f"{str(p)!r} has no amrkit metadata (amrkit.classes); "
                "export it with 'amrkit export'"
            )
        precision = meta.get("amrkit.precision", "fp32")
        rate = meta.get("amrkit.sample_rate_hz")
        try:
            classes = tuple(json.loads(meta["amrkit.classes"]))
            frame_length = int(meta["amrkit.frame_length"])
            sample_rate = float(rate) if rate not in (None, "", "None", "null") else None
        except (KeyError, ValueError, TypeError) as exc:
            raise AmrkitError(
                f"{str(p)!r} has damaged amrkit metadata ({type(exc).__name__}: {exc}); "
                "re-export it with 'amrkit export'"
            ) from None
        return OnnxPredictor(
            make_session(p, threads, _onnx_device(device)),
            classes,
            frame_length,
            sample_rate,
            kind=f"onnx-{precision}",
            info=meta,
        )
    raise AmrkitError(f"model {str(p)!r} is neither a run directory nor an existing .onnx file")


def check_compatible(pred: Predictor, classes: tuple[str, ...], frame_length: int) -> None:
    """Model and data must agree on classes (same names, same order) and frame length."""
    if tuple(pred.classes) != tuple(classes):
        if set(pred.classes) <= set(classes):
            fix = f"select them in the model's order with --classes {','.join(pred.classes)}"
        else:
            missing = [c for c in pred.classes if c not in classes]
            fix = (
                f"the data lacks {', '.join(missing)}; use data with the model's classes "
                "or train a model on this data"
            )
        raise AmrkitError(
            f"model classes {list(pred.classes)} differ from the data's {list(classes)}; {fix}"
        )
    if pred.frame_length != frame_length:
        raise AmrkitError(
            f"model frame length {pred.frame_length} differs from the data's {frame_length}; "
            "use data with the model's frame length"
        )
