"""Every artifact amrkit writes and reads back: names, the run directory, ONNX metadata.

A run directory (``amrkit train --out``)::

    run.json        spec, classes, frame_length, sample_rate_hz, train config, dataset identity
    model.pt        state_dict of the best-validation weights (torch.load(weights_only=True))
    metrics.json    how training went: best/final validation and test accuracy, frames,
                    timings, parameter count (network metrics: ``amrkit metrics RUN``)
    history.csv     one row per epoch
    checkpoint.pt   last full training state, for --resume (weights_only loadable)

A quantization folder (``amrkit quantize --out``): ``model_int8.onnx``, ``model_fp32.onnx``,
``quantization.json``, ``quantization.png``. ONNX files carry ``amrkit.*`` metadata
(:func:`metadata_for`, read back by :func:`read_model_info`). Which models fit which data:
:func:`check_compatible`, the one rule every command applies.

A shipped model's name (``zoo:NAME``: its run, ``zoo:NAME:int8``: its INT8 file;
:mod:`amrkit.pretrained`) is accepted wherever a path is: :func:`resolve_model_path` turns it
into the entry's checked file, and :func:`load_run`, :func:`weights_hash`,
:func:`onnx_metadata`, :func:`read_model_info` (and so :func:`amrkit.infer.load_predictor`)
call it first. Model files are checked as strictly as data files before they run: weights
and ONNX initializers must be finite, quantization scales finite and > 0, and the graph
must take (frames, 2, length) float32 I/Q (:func:`check_onnx_model`).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amrkit import __version__, pretrained
from amrkit.errors import AmrkitError
from amrkit.fileio import atomic_path, read_json, write_json
from amrkit.models.spec import CNNSpec

if TYPE_CHECKING:  # torch is heavy: imported where weights are read or written
    import torch

    from amrkit.models import AmrCNN

RUN_FILE = "run.json"
WEIGHTS_FILE = "model.pt"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CHECKPOINT_FILE = "checkpoint.pt"
RUN_FILES = (RUN_FILE, WEIGHTS_FILE, METRICS_FILE, HISTORY_FILE, CHECKPOINT_FILE)

INT8_FILE = "model_int8.onnx"
FP32_FILE = "model_fp32.onnx"
DETAILS_FILE = "quantization.json"
PLOT_FILE = "quantization.png"
QUANT_FILES = (INT8_FILE, FP32_FILE, DETAILS_FILE, PLOT_FILE)

META_PREFIX = "amrkit."
PRECISIONS = ("fp32", "int8")


@dataclass
class Run:
    path: Path
    model: AmrCNN  # eval mode, on CPU
    spec: CNNSpec
    classes: tuple[str, ...]
    frame_length: int
    sample_rate_hz: float | None
    info: dict[str, Any]  # the whole run.json
    ref: str | None = None  # the zoo name it was loaded by (zoo:NAME), else None


def resolve_model_path(path: str | Path, want: str | None = None) -> Path:
    """A zoo name → its entry's file after every file of the entry was checked against the
    index (``zoo:NAME``: the run folder, ``zoo:NAME:int8``: the INT8 ONNX file); any other
    path unchanged. ``want`` ("run" or "onnx"): what the caller can open, for a clear error
    when the name gives the other."""
    parsed = pretrained.parse_ref(path)
    if parsed is None:
        return Path(path)
    name, variant = parsed
    if want == "run" and variant != "fp32":
        raise AmrkitError(
            f"{str(path)!r} is an INT8 ONNX file; this needs a trained run: give "
            f"{pretrained.PREFIX}{name}"
        )
    if want == "onnx" and variant == "fp32":
        raise AmrkitError(
            f"{str(path)!r} is a trained run (PyTorch); this needs an ONNX file: give "
            f"{pretrained.PREFIX}{name}:int8"
        )
    return pretrained.resolve(str(path))


def source_commit() -> str | None:
    """The git commit of the amrkit source in use (``-dirty`` with uncommitted changes to
    tracked files), or None outside amrkit's own git checkout (what a card or run records)."""
    src = Path(__file__).resolve().parents[1]
    try:
        top = subprocess.run(["git", "-C", str(src), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=10, check=True)  # fmt: skip
        if Path(top.stdout.strip()).resolve() != src:  # amrkit installed inside another repo
            return None
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "") if head else None


def is_run_dir(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / RUN_FILE).is_file()


def save_run_info(
    run_dir: str | Path,
    spec: CNNSpec,
    classes: tuple[str, ...] | list[str],
    frame_length: int,
    sample_rate_hz: float | None,
    **extra: Any,
) -> Path:
    info = {
        "amrkit_version": __version__,
        "spec": spec.to_dict(),
        "classes": list(classes),
        "frame_length": int(frame_length),
        "sample_rate_hz": sample_rate_hz,
        **extra,
    }
    return write_json(Path(run_dir) / RUN_FILE, info)


def save_weights(run_dir: str | Path, model: torch.nn.Module) -> Path:
    import torch

    target = Path(run_dir) / WEIGHTS_FILE
    with atomic_path(target, suffix=".pt") as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    return target


def weights_hash(run_dir: str | Path) -> str:
    """SHA-256 of a run's ``model.pt`` (what a run that builds on it records)."""
    path = resolve_model_path(run_dir, "run") / WEIGHTS_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_run_info(run_dir: str | Path) -> dict[str, Any]:
    """``run.json`` of a run directory, its required fields checked (names, types)."""
    where = str(Path(run_dir) / RUN_FILE)
    info = read_json(Path(run_dir) / RUN_FILE)
    if not isinstance(info, dict):
        raise AmrkitError(f"{where!r} is not a JSON object; retrain or restore the run")
    missing = [k for k in ("spec", "classes", "frame_length") if k not in info]
    if missing:
        raise AmrkitError(
            f"{where!r} lacks {', '.join(missing)}; it was not written by "
            "'amrkit train' (retrain or restore the run)"
        )
    classes, length = info["classes"], info["frame_length"]
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        raise AmrkitError(f"{where!r}: classes must be a non-empty list of names, got {classes!r}")
    if len(set(classes)) != len(classes):
        raise AmrkitError(f"{where!r}: classes {classes!r} names a class twice; restore the run")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise AmrkitError(f"{where!r}: frame_length must be a positive integer, got {length!r}")
    if not isinstance(info["spec"], dict):
        raise AmrkitError(f"{where!r}: spec must be a JSON object, got {info['spec']!r}")
    return info


def load_run(path: str | Path) -> Run:
    """Load a trained run directory or ``zoo:NAME`` (weights with ``weights_only=True``,
    checked finite)."""
    import torch

    from amrkit.models import AmrCNN

    ref = str(path) if pretrained.is_ref(path) else None
    p = resolve_model_path(path, "run")
    if not is_run_dir(p):
        raise AmrkitError(
            f"{str(p)!r} is not a run directory (no {RUN_FILE}); pass the --out folder of "
            "'amrkit train'"
        )
    info = read_run_info(p)
    spec = CNNSpec.from_dict(info["spec"], where=str(p / RUN_FILE))
    model = AmrCNN(spec)
    weights = p / WEIGHTS_FILE
    if not weights.is_file():
        raise AmrkitError(f"run {str(p)!r} has no {WEIGHTS_FILE}; has training finished an epoch?")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - unpickling/shape errors become one line
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise AmrkitError(
            f"{str(weights)!r} is damaged or does not match run.json ({type(exc).__name__}: "
            f"{first}); retrain or restore the run"
        ) from None
    _check_finite_state(weights, state)
    model.eval()
    return Run(
        path=p,
        model=model,
        spec=spec,
        classes=tuple(info["classes"]),
        frame_length=int(info["frame_length"]),
        sample_rate_hz=info.get("sample_rate_hz"),
        info=info,
        ref=ref,
    )


def _check_finite_state(weights: Path, state: dict[str, Any]) -> None:
    """Every floating tensor of a state_dict must be finite (a NaN weight would make every
    frame the same class without an error)."""
    import torch

    for key, value in state.items():
        floating = isinstance(value, torch.Tensor) and value.is_floating_point()
        if floating and not bool(torch.isfinite(value).all()):
            raise AmrkitError(
                f"{str(weights)!r}: {key} holds NaN or inf values; retrain or restore the run"
            )


def check_run_classes(run: Run, classes: tuple[str, ...] | list[str], flag: str) -> None:
    """A run that another run builds on (``flag``: --teacher, --init-from) must know the
    data's classes in the same order."""
    if tuple(run.classes) != tuple(classes):
        raise AmrkitError(
            f"{flag} {str(run.path)!r} was trained on classes {list(run.classes)}, the data has "
            f"{list(classes)}; use a run trained on the same classes in the same order"
        )


# ---- ONNX files --------------------------------------------------------------------------
def metadata_for(
    spec: CNNSpec,
    classes: tuple[str, ...] | list[str],
    frame_length: int,
    sample_rate_hz: float | None,
    precision: str = "fp32",
    **extra: Any,
) -> dict[str, str]:
    """The ``amrkit.*`` metadata entries of an ONNX file amrkit writes."""
    meta = {
        "amrkit.classes": json.dumps(list(classes)),
        "amrkit.frame_length": str(int(frame_length)),
        "amrkit.sample_rate_hz": "" if sample_rate_hz is None else repr(float(sample_rate_hz)),
        "amrkit.version": __version__,
        "amrkit.spec": json.dumps(spec.to_dict(), sort_keys=True),
        "amrkit.precision": precision,
    }
    for key, value in extra.items():
        meta[f"{META_PREFIX}{key}"] = value if isinstance(value, str) else json.dumps(value)
    return meta


def _load_graph(path: str | Path) -> Any:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf/IO errors → one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AmrkitError(f"{str(path)!r} is not a readable ONNX model ({first})") from None


def load_graph(path: str | Path) -> Any:
    """The ONNX graph of a file (external data not loaded); one-line error when unreadable."""
    return _load_graph(path)


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """The metadata entries of an ONNX file or ``zoo:NAME:int8`` (weights and external data
    are not touched)."""
    return {p.key: p.value for p in _load_graph(resolve_model_path(path, "onnx")).metadata_props}


def _static_dims(value_info: Any) -> list[int | None]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else None for d in dims]


def _constants(model: Any) -> dict[str, Any]:
    """Name → TensorProto of the graph's initializers and Constant nodes' values."""
    found = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    found[node.output[0]] = attr.t
    return found


_FLOAT_TYPES = (1, 10, 11, 16)  # TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16


def _array(tensor: Any) -> Any:
    """The values of a stored tensor (None for external data, which is not read here)."""
    from onnx import TensorProto, numpy_helper

    if tensor.data_location == TensorProto.EXTERNAL:
        return None
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # noqa: BLE001 - a damaged tensor; ONNX Runtime reports it on load
        return None


def check_qdq_scales(model: Any, path: str | Path) -> None:
    """Every QuantizeLinear / DequantizeLinear scale stored in the graph must be finite and
    > 0 (a NaN or zero scale makes every output the same). The one check, and the one
    message, of every command that loads a quantized model (the golden model included)."""
    import numpy as np

    consts = _constants(model)
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 2:
            continue
        tensor = consts.get(node.input[1])
        values = None if tensor is None else _array(tensor)
        if values is None:
            continue
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        bad = values[~(np.isfinite(values) & (values > 0))]
        if bad.size:
            raise AmrkitError(
                f"{str(path)!r}: {node.op_type} {node.name!r} has scale {float(bad[0])}; scales "
                "must be > 0 (and finite): the file is damaged, quantize the model again with "
                "'amrkit quantize'"
            )


def _check_finite_initializers(model: Any, path: str | Path) -> None:
    import numpy as np

    for name, tensor in _constants(model).items():
        if tensor.data_type not in _FLOAT_TYPES:
            continue
        values = _array(tensor)
        if values is not None and not bool(np.isfinite(np.asarray(values, np.float64)).all()):
            raise AmrkitError(
                f"{str(path)!r}: weight tensor {name!r} holds NaN or inf values; the file is "
                "damaged, export or quantize the model again"
            )


def _check_io(path: str | Path, model: Any) -> tuple[list[int | None], list[int | None]]:
    """One float32 (frames, 2, length) input and one (frames, classes) output, where the
    graph declares them; returns their static dims."""
    feeds = [
        i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}
    ]
    if len(feeds) != 1 or len(model.graph.output) != 1:
        raise AmrkitError(
            f"{str(path)!r} has {len(feeds)} inputs and {len(model.graph.output)} outputs; an "
            "amrkit model has one of each (I/Q frames in, logits out)"
        )
    kind = feeds[0].type.tensor_type.elem_type
    if kind not in (0, 1):  # 0: undeclared, 1: FLOAT
        from onnx import TensorProto

        raise AmrkitError(
            f"{str(path)!r}: graph input {feeds[0].name!r} is {TensorProto.DataType.Name(kind)}; "
            "amrkit feeds float32 I/Q frames: re-export the model"
        )
    inp, out = _static_dims(feeds[0]), _static_dims(model.graph.output[0])
    if inp and (len(inp) != 3 or inp[1] not in (None, 2)):
        shown = "x".join("?" if d is None else str(d) for d in inp)
        raise AmrkitError(
            f"{str(path)!r}: graph input {feeds[0].name!r} is declared {shown}; amrkit feeds "
            "(frames, 2, length) I/Q: re-export the model with 'amrkit export'"
        )
    if out and len(out) != 2:
        raise AmrkitError(
            f"{str(path)!r}: graph output has rank {len(out)}; an amrkit model returns "
            "(frames, classes) logits: re-export the model"
        )
    return inp, out


def check_onnx_model(path: str | Path, model: Any | None = None) -> Any:
    """The checks every command applies to an ONNX file before running it: graph inputs and
    outputs, finite weights, finite positive quantization scales. Returns the graph."""
    model = _load_graph(path) if model is None else model
    _check_io(path, model)
    check_qdq_scales(model, path)
    _check_finite_initializers(model, path)
    return model


def _check_graph(path: str | Path, model: Any, classes: tuple[str, ...], length: int) -> None:
    """The graph's declared input length and output width must be the metadata's."""
    inp, out = _check_io(path, model)
    if len(inp) == 3 and inp[2] not in (None, length):
        raise AmrkitError(
            f"{str(path)!r}: graph input length {inp[2]} contradicts amrkit.frame_length {length}"
            "; re-export the model"
        )
    if out and out[-1] not in (None, len(classes)):
        raise AmrkitError(
            f"{str(path)!r}: {out[-1]} graph outputs but {len(classes)} classes in its metadata;"
            " re-export the model"
        )


@dataclass(frozen=True)
class ModelInfo:
    """What an amrkit ONNX file says about itself."""

    classes: tuple[str, ...]
    frame_length: int
    sample_rate_hz: float | None
    precision: str
    metadata: dict[str, str]
    path: Path | None = None  # the file read (a zoo name's entry file)


def read_model_info(path: str | Path) -> ModelInfo:
    """An amrkit ONNX file's (or ``zoo:NAME:int8``'s) metadata, checked against itself and
    the graph, and the graph checked (:func:`check_onnx_model`): one-line errors for foreign
    or damaged files."""
    path = resolve_model_path(path, "onnx")
    model = _load_graph(path)
    meta = {p.key: p.value for p in model.metadata_props}
    if "amrkit.classes" not in meta:
        raise AmrkitError(
            f"{str(path)!r} has no amrkit metadata (amrkit.classes); export it with 'amrkit export'"
        )
    rate = meta.get("amrkit.sample_rate_hz")
    try:
        classes = tuple(json.loads(meta["amrkit.classes"]))
        frame_length = int(meta["amrkit.frame_length"])
        sample_rate = float(rate) if rate not in (None, "", "None", "null") else None
        if not classes or not all(isinstance(c, str) for c in classes) or frame_length < 1:
            raise ValueError(f"classes {list(classes)!r}, frame length {frame_length}")
    except (KeyError, ValueError, TypeError) as exc:
        raise AmrkitError(
            f"{str(path)!r} has damaged amrkit metadata ({type(exc).__name__}: {exc}); "
            "re-export it with 'amrkit export'"
        ) from None
    if len(set(classes)) != len(classes):
        raise AmrkitError(f"{str(path)!r}: amrkit.classes {list(classes)} names a class twice")
    _check_graph(path, model, classes, frame_length)
    precision = meta.get("amrkit.precision", "fp32")
    if precision not in PRECISIONS:
        raise AmrkitError(
            f"{str(path)!r}: amrkit.precision {precision!r} is not one of {', '.join(PRECISIONS)}"
        )
    check_qdq_scales(model, path)
    _check_finite_initializers(model, path)
    return ModelInfo(classes, frame_length, sample_rate, precision, meta, Path(path))


# ---- models meet data --------------------------------------------------------------------
def check_compatible(
    model_classes: tuple[str, ...] | list[str],
    model_length: int,
    data_classes: tuple[str, ...] | list[str],
    data_length: int,
) -> None:
    """Model and data must agree on classes (same names, same order) and frame length."""
    model_classes, data_classes = tuple(model_classes), tuple(data_classes)
    if model_classes != data_classes:
        if set(model_classes) <= set(data_classes):
            fix = f"select them in the model's order with --classes {','.join(model_classes)}"
        else:
            missing = [c for c in model_classes if c not in data_classes]
            fix = (
                f"the data lacks {', '.join(missing)}; use data with the model's classes "
                "or train a model on this data"
            )
        raise AmrkitError(
            f"model classes {list(model_classes)} differ from the data's {list(data_classes)}; "
            f"{fix}"
        )
    if int(model_length) != int(data_length):
        raise AmrkitError(
            f"model frame length {model_length} differs from the data's {data_length}; "
            f"use data with the model's frame length ({model_length} samples)"
        )
