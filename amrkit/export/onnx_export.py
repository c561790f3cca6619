"""FP32 ONNX export of an AMR CNN: BN folded, Pad folded into Conv, layers named, metadata.

The file has one input ``iq`` of shape (batch, 2, L) with a dynamic batch and the run's
fixed frame length L, and one output ``logits`` (batch, classes). Graph, for N conv layers::

    iq → conv1 → relu1 [→ pool1] → … → convN → reluN → gap (GlobalAveragePool) → flatten → fc
                                                                         (Gemm) → logits

Every Conv carries the model's asymmetric 'same' padding in its ``pads`` attribute.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from amrkit import __version__
from amrkit.errors import AmrkitError
from amrkit.export.deploy import DeployCNN
from amrkit.export.graph import (
    clean_io,
    fold_pads,
    mean_to_global_average_pool,
    name_layers,
    set_metadata,
)
from amrkit.fileio import atomic_path
from amrkit.models import AmrCNN, CNNSpec

OPSET = 20
INPUT_NAME = "iq"
OUTPUT_NAME = "logits"


@dataclass
class ExportResult:
    path: Path
    max_abs_diff: float  # |ORT − PyTorch| over the check frames
    frames_checked: int
    layers: list[str]
    metadata: dict[str, str] = field(default_factory=dict)


def metadata_for(
    spec: CNNSpec,
    classes: tuple[str, ...] | list[str],
    frame_length: int,
    sample_rate_hz: float | None,
    precision: str = "fp32",
    **extra: Any,
) -> dict[str, str]:
    """The ``amrkit.*`` metadata entries (docs/CONVENTIONS.md)."""
    meta = {
        "amrkit.classes": json.dumps(list(classes)),
        "amrkit.frame_length": str(int(frame_length)),
        "amrkit.sample_rate_hz": "" if sample_rate_hz is None else repr(float(sample_rate_hz)),
        "amrkit.version": __version__,
        "amrkit.spec": json.dumps(spec.to_dict(), sort_keys=True),
        "amrkit.precision": precision,
    }
    for key, value in extra.items():
        meta[f"amrkit.{key}"] = value if isinstance(value, str) else json.dumps(value)
    return meta


@contextlib.contextmanager
def _quiet() -> Any:
    """The dynamo exporter prints progress to stdout and warns; keep CLI output clean."""
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")
        level = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(level)


def trace_to_onnx(
    module: torch.nn.Module, frame_length: int, in_channels: int = 2, optimize: bool = True
) -> onnx.ModelProto:
    """Raw ``torch.onnx.export`` (dynamo) with a dynamic batch dimension; no amrkit passes."""
    module = module.eval()
    example = torch.zeros(2, in_channels, frame_length)
    batch = torch.export.Dim("batch", min=1)
    with _quiet():
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            dynamic_shapes=({0: batch},),
            opset_version=OPSET,
            optimize=optimize,
            verbose=False,
            report=False,
        )
    return program.model_proto


def clean_graph(model: onnx.ModelProto) -> list[str]:
    """amrkit's passes on an exported CNN graph; returns the layer names found."""
    fold_pads(model)
    mean_to_global_average_pool(model)
    clean_io(model)
    layers = name_layers(model, OUTPUT_NAME)
    model.producer_name = "amrkit"
    model.producer_version = __version__
    return layers


def to_onnx(model: AmrCNN | DeployCNN, frame_length: int) -> tuple[onnx.ModelProto, list[str]]:
    """The clean FP32 graph of ``model`` (BN folded) as a ModelProto, and its layer names."""
    deploy = DeployCNN.from_model(model)
    proto = trace_to_onnx(deploy, frame_length, deploy.spec.in_channels)
    layers = clean_graph(proto)
    expected = deploy.layer_names()
    if layers != expected:
        raise AmrkitError(
            f"exported graph has layers {layers}, expected {expected}; this torch/onnxscript "
            "version exports the model differently (report this as a bug)"
        )
    check_structure(proto)
    return proto, layers


def check_structure(model: onnx.ModelProto) -> None:
    """onnx.checker (full) and no Pad / BatchNormalization left in the graph."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise AmrkitError(f"exported ONNX graph is invalid: {str(exc).splitlines()[0]}") from None
    left = {n.op_type for n in model.graph.node} & {"Pad", "BatchNormalization"}
    if left:
        raise AmrkitError(f"exported graph still has {sorted(left)} nodes; expected them folded")


def ort_logits(model: onnx.ModelProto | bytes | str | Path, iq: np.ndarray) -> np.ndarray:
    """Run a model with ONNX Runtime (CPU, 1 thread) on (n, 2, L) float32 frames."""
    from amrkit.runtime import ort_session

    sess = ort_session(model, threads=1)
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: np.ascontiguousarray(iq, dtype=np.float32)})[0]


def check_frames_default(frame_length: int, n: int = 16, seed: int = 0) -> np.ndarray:
    """Unit-power Gaussian I/Q frames, used when no real frames are given."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 2, frame_length)) / np.sqrt(2)).astype(np.float32)


def export_model(
    model: AmrCNN | DeployCNN,
    path: str | Path,
    *,
    classes: tuple[str, ...] | list[str],
    frame_length: int,
    sample_rate_hz: float | None = None,
    check_iq: np.ndarray | None = None,
    atol: float = 1e-4,
    extra_metadata: dict[str, Any] | None = None,
) -> ExportResult:
    """Write the FP32 ONNX file of ``model``; verified against PyTorch before it appears.

    ``check_iq`` (n, 2, L) are the frames on which ORT and PyTorch must agree within ``atol``
    (default: 16 seeded unit-power noise frames).
    """
    if len(classes) != model.spec.num_classes:
        raise AmrkitError(
            f"{len(classes)} class names for a model with {model.spec.num_classes} outputs; "
            "pass one name per output"
        )
    iq = check_frames_default(frame_length) if check_iq is None else check_iq
    if iq.ndim != 3 or iq.shape[1:] != (model.spec.in_channels, frame_length):
        raise AmrkitError(
            f"check frames have shape {tuple(iq.shape)}, expected (n, "
            f"{model.spec.in_channels}, {frame_length}); use frames of the model's length"
        )
    proto, layers = to_onnx(model, frame_length)
    meta = metadata_for(
        model.spec, classes, frame_length, sample_rate_hz, "fp32", **(extra_metadata or {})
    )
    set_metadata(proto, meta)
    diff = max_abs_diff(model, proto, iq)
    if diff > atol:
        raise AmrkitError(
            f"ONNX Runtime output differs from PyTorch by {diff:.3g} (> {atol:g}); "
            "the export is wrong, report it as a bug"
        )
    target = Path(path)
    with atomic_path(target, suffix=".onnx") as tmp:
        onnx.save_model(proto, str(tmp))
    return ExportResult(target, diff, len(iq), layers, meta)


def max_abs_diff(model: torch.nn.Module, proto: onnx.ModelProto, iq: np.ndarray) -> float:
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        ref = model(torch.from_numpy(np.ascontiguousarray(iq, dtype=np.float32))).numpy()
    model.train(was_training)
    got = ort_logits(proto, iq)
    return float(np.max(np.abs(got - ref))) if len(iq) else 0.0


def export_run(
    run: Any,
    path: str | Path,
    *,
    check_iq: np.ndarray | None = None,
    atol: float = 1e-4,
) -> ExportResult:
    """``amrkit export``: a run directory (or a loaded :class:`amrkit.train.run.Run`) → ONNX.

    A run trained on a derived split records its seed as ``amrkit.split_seed``.
    """
    from amrkit.train.run import Run, load_run

    loaded = run if isinstance(run, Run) else load_run(run)
    return export_model(
        loaded.model,
        path,
        classes=loaded.classes,
        frame_length=loaded.frame_length,
        sample_rate_hz=loaded.sample_rate_hz,
        check_iq=check_iq,
        atol=atol,
        extra_metadata=run_metadata(loaded),
    )


def run_metadata(run: Any) -> dict[str, Any]:
    """Extra ``amrkit.*`` metadata a run passes on to its ONNX files: ``split_seed`` when it
    was trained on a derived split (so evaluating the file uses the same split)."""
    from amrkit.data.split import recorded_split_seed

    seed = recorded_split_seed(getattr(run, "info", None), repr(str(getattr(run, "path", ""))))
    return {} if seed is None else {"split_seed": str(seed)}
