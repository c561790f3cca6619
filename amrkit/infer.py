"""One way to run any amrkit model artifact: a trained run directory or an ONNX file.

``evaluate``, ``quantize``, ``classify`` and the report all go through
:func:`load_predictor`, so FP32 PyTorch, FP32 ONNX and INT8 ONNX are measured by one path.

ONNX files written by amrkit carry metadata (``metadata_props``):
``amrkit.classes`` (JSON list), ``amrkit.frame_length``, ``amrkit.sample_rate_hz``,
``amrkit.version``, ``amrkit.spec`` (JSON of the CNNSpec), ``amrkit.precision``
("fp32" or "int8").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from amrkit.errors import AmrkitError


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
        name = self.session.get_inputs()[0].name
        out = self.session.run(None, {name: np.ascontiguousarray(iq, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float32)


def onnx_metadata(path: str | Path) -> dict[str, str]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def make_session(path: str | Path, threads: int | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises many types; report one line
        raise AmrkitError(f"ONNX Runtime cannot load {str(path)!r}: {str(exc).splitlines()[0]}") from None


def load_predictor(path: str | Path, device: str = "cpu", threads: int | None = None) -> Predictor:
    """A run directory → TorchPredictor; an ``.onnx`` file → OnnxPredictor."""
    p = Path(path)
    if p.is_dir():
        from amrkit.train.run import load_run

        run = load_run(p)
        return TorchPredictor(
            run.model.to(device), run.classes, run.frame_length, run.sample_rate_hz, device,
            info=run.info,
        )
    if p.suffix.lower() == ".onnx" and p.is_file():
        meta = onnx_metadata(p)
        if "amrkit.classes" not in meta:
            raise AmrkitError(
                f"{str(p)!r} has no amrkit metadata (amrkit.classes); export it with 'amrkit export'"
            )
        precision = meta.get("amrkit.precision", "fp32")
        rate = meta.get("amrkit.sample_rate_hz")
        return OnnxPredictor(
            make_session(p, threads),
            tuple(json.loads(meta["amrkit.classes"])),
            int(meta["amrkit.frame_length"]),
            float(rate) if rate not in (None, "", "None", "null") else None,
            kind=f"onnx-{precision}",
            info=meta,
        )
    raise AmrkitError(
        f"model {str(p)!r} is neither a run directory nor an existing .onnx file"
    )


def check_compatible(pred: Predictor, classes: tuple[str, ...], frame_length: int) -> None:
    """Model and data must agree on classes (same names, same order) and frame length."""
    if tuple(pred.classes) != tuple(classes):
        raise AmrkitError(
            f"model classes {list(pred.classes)} differ from the data's {list(classes)}; "
            "use data with the model's classes (--classes) or train a model on this data"
        )
    if pred.frame_length != frame_length:
        raise AmrkitError(
            f"model frame length {pred.frame_length} differs from the data's {frame_length}; "
            "use data with the model's frame length"
        )
