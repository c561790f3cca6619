"""The integer-only golden model of an INT8 QDQ network (the paper's Fig. 3 accelerator).

``load_integer_model(path)`` reads a QDQ ONNX file (ONNX Runtime's ``quantize_static`` or a
fake-quant QAT export) with the ``onnx`` package and lowers it to a list of integer
operators: int8 × int8 products summed in int32 accumulators seeded with the int32 bias,
requantized by an integer multiplier and right shift (``M ≈ M0 · 2^-n``) with saturation,
integer max-pool and average-pool (sum, then the 1/count folded into the multiplier).

Floats appear only at the two boundaries: the float frames are quantized once by the
graph's input QuantizeLinear (float32, round half to even, as ONNX Runtime does), and the
final integers are dequantized to logits. :meth:`IntegerModel.run_integer` is the integer
core and refuses float input.

``simulate`` runs the golden model and ONNX Runtime on the same frames and reports
accuracy, top-1 agreement and, per layer, the largest accumulator seen and the worst-case
bound in bits; ``dump`` writes the integer parameters for hardware test benches and
``load_dump`` rebuilds the model from them. See ``docs/golden-model.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.artifacts import check_compatible
from amrkit.errors import AmrkitError
from amrkit.fileio import dumps_json, staging_folder
from amrkit.golden.ops import (
    M0_BITS,
    OP_TYPES,
    REQUANT_FORMULA,
    ROUNDING_MODES,
    AccumulatingOp,
    Conv1d,
    Dense,
    Op,
    Requant,
    decompose_multiplier,
    dtype_range,
    op_params,
    rounding_shift,
    signed_bits,
)
from amrkit.runtime import cpu_info, kernel_info, ort_session

__all__ = [
    "IntegerModel",
    "Stats",
    "compare_activations",
    "decompose_multiplier",
    "dump",
    "load_dump",
    "load_integer_model",
    "rounding_shift",
    "simulate",
]

DUMP_FORMAT = "amrkit-golden"
DUMP_VERSION = 1
INPUT_FORMULA = "q = clamp(round_half_even(float32(x) / float32(scale)) + zero_point, lo, hi)"
OUTPUT_FORMULA = "logits = float32(y - zero_point) * float32(scale[c])"


@dataclass
class Stats:
    """Largest |accumulator| seen per accumulating layer (integers, exact)."""

    acc_max: dict[str, int] = field(default_factory=dict)
    frames: int = 0

    def update(self, name: str, acc: np.ndarray) -> None:
        if acc.size:
            m = int(np.max(np.abs(acc.astype(np.int64))))
            self.acc_max[name] = max(self.acc_max.get(name, 0), m)


@dataclass
class IntegerModel:
    """An integer program: input quantization → integer ops → output dequantization."""

    input_scale: float
    input_zero_point: int
    input_dtype: str
    input_shape: tuple[int, ...]  # (C, L)
    ops: list[Op]
    output_tensor: str
    output_scale: np.ndarray  # (1,) or (classes,)
    output_zero_point: int
    output_shape: tuple[int, ...]
    rounding: str = "float32"
    source: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    onnx_names: dict[str, str] = field(default_factory=dict)  # ONNX Q output → tensor id
    onnx_dtypes: dict[str, str] = field(default_factory=dict)
    input_name: str = "iq"

    def __post_init__(self) -> None:
        last: dict[str, int] = {}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                last[t] = i
        self._last_use = last

    # ---- description --------------------------------------------------------------------
    @property
    def frame_length(self) -> int:
        return int(self.input_shape[-1])

    @property
    def num_classes(self) -> int:
        return int(self.output_shape[0])

    @property
    def classes(self) -> tuple[str, ...] | None:
        raw = self.metadata.get("amrkit.classes")
        return tuple(json.loads(raw)) if raw else None

    def accumulating(self) -> list[AccumulatingOp]:
        return [op for op in self.ops if isinstance(op, AccumulatingOp)]

    def layer_table(self, stats: Stats | None = None) -> list[dict[str, Any]]:
        """Per accumulating layer: accumulator seen vs worst-case bound (bits), weights,
        multipliers."""
        rows = []
        for op in self.accumulating():
            bound = op.acc_bound()
            row: dict[str, Any] = {
                "layer": op.name,
                "kind": op.kind,
                "onnx_node": op.source,
                "in_shape": list(op.in_shape),
                "out_shape": list(op.out_shape),
                "acc_bound": bound,
                "acc_bound_bits": signed_bits(bound),
                "acc_dtype": op.acc_dtype,
            }
            if op.notes:
                row["notes"] = op.notes
            if stats is not None and op.name in stats.acc_max:
                seen = stats.acc_max[op.name]
                row.update(acc_max=seen, acc_max_bits=signed_bits(seen))
            if isinstance(op, (Conv1d, Dense)):
                w = op.weight.astype(np.int64) - np.asarray(op.weight_zero_point).reshape(
                    (-1,) + (1,) * (op.weight.ndim - 1)
                )
                row.update(
                    weight_min=int(w.min()),
                    weight_max=int(w.max()),
                    weight_bits=signed_bits(int(np.abs(w).max())),
                    per_channel=bool(np.unique(op.requant.real).size > 1)
                    if op.requant is not None
                    else False,
                )
            if op.requant is not None:
                row.update(
                    multiplier_min=float(np.min(op.requant.real)),
                    multiplier_max=float(np.max(op.requant.real)),
                    shift_min=int(np.min(op.requant.shift)),
                    shift_max=int(np.max(op.requant.shift)),
                    out_dtype=op.requant.dtype,
                    relu=op.relu,
                )
            rows.append(row)
        return rows

    # ---- running ------------------------------------------------------------------------
    def quantize_input(self, iq: np.ndarray) -> np.ndarray:
        """The float boundary: frames → integers, as the graph's input QuantizeLinear."""
        iq = np.asarray(iq, dtype=np.float32)
        if iq.ndim != 3 or tuple(iq.shape[1:]) != tuple(self.input_shape):
            raise AmrkitError(
                f"frames have shape {tuple(iq.shape)}, the model wants (n, "
                f"{', '.join(map(str, self.input_shape))}); use frames of the model's length"
            )
        lo, hi = dtype_range(self.input_dtype)
        q = np.rint(iq / np.float32(self.input_scale)) + np.float32(self.input_zero_point)
        return np.clip(q, lo, hi).astype(self.input_dtype)

    def dequantize_output(self, y: np.ndarray) -> np.ndarray:
        scale = np.asarray(self.output_scale, np.float32).reshape(1, -1)
        return (y.astype(np.int64) - self.output_zero_point).astype(np.float32) * scale

    def run_integer(
        self, xq: np.ndarray, stats: Stats | None = None, trace: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """The integer core: (n, C, L) integers of the input dtype → output integers.

        ``trace`` (a dict) receives every intermediate tensor and every accumulator
        (``name + ".acc"``); all are integer arrays.
        """
        xq = np.asarray(xq)
        if xq.dtype != np.dtype(self.input_dtype):
            raise AmrkitError(
                f"run_integer takes {self.input_dtype} input, got {xq.dtype}; quantize the "
                "frames first (quantize_input)"
            )
        env = {"input": xq}
        for i, op in enumerate(self.ops):
            x = env[op.inputs[0]]
            if isinstance(op, AccumulatingOp):
                acc = op.accumulate(x)
                if stats is not None:
                    stats.update(op.name, acc)
                if trace is not None:
                    trace[f"{op.name}.acc"] = acc
                y = op.finish(acc)
            else:
                y = op.run(x)
            if y.dtype.kind not in "iu":  # the layer loop is integer-only
                raise AmrkitError(f"internal error: layer {op.name} produced {y.dtype}")
            env[op.name] = y
            if trace is not None:
                trace[op.name] = y
            for t in op.inputs:
                if self._last_use.get(t) == i and t != self.output_tensor:
                    env.pop(t, None)
        if stats is not None:
            stats.frames += len(xq)
        return env[self.output_tensor]

    def run(self, iq: np.ndarray, stats: Stats | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Float frames (n, C, L) → (logits float32 (n, classes), output integers)."""
        y = self.run_integer(self.quantize_input(iq), stats)
        return self.dequantize_output(y), y


def load_integer_model(path: str | Path, rounding: str = "float32") -> IntegerModel:
    """Read an INT8 QDQ ONNX file into an :class:`IntegerModel` (no onnxruntime involved)."""
    from amrkit.golden.lower import lower

    if rounding not in ROUNDING_MODES:
        raise AmrkitError(f"rounding {rounding!r} is not one of {', '.join(ROUNDING_MODES)}")
    low = lower(path, rounding)
    return IntegerModel(
        low.input_scale,
        low.input_zero_point,
        low.input_dtype,
        low.input_shape,
        low.ops,
        low.output_tensor,
        low.output_scale,
        low.output_zero_point,
        low.output_shape,
        rounding,
        str(path),
        low.metadata,
        low.onnx_names,
        low.onnx_dtypes,
        low.input_name,
    )


# ---- ONNX Runtime comparison -------------------------------------------------------------
def _ort_session(model: bytes | str, threads: int | None = None) -> Any:
    return ort_session(model, threads=threads)


def compare_activations(
    model: IntegerModel, path: str | Path, iq: np.ndarray, threads: int | None = None
) -> dict[str, dict[str, Any]]:
    """Every QuantizeLinear output of the ONNX graph, ONNX Runtime vs the golden model.

    ORT runs a copy of the model with those tensors added as graph outputs. Per ONNX tensor:
    ``max_lsb`` / ``frac_differ`` compare the golden model run end to end (differences
    propagate from layer to layer), ``layer_max_lsb`` / ``layer_frac_differ`` feed each
    operator ORT's own integer input (the operator's arithmetic alone).
    """
    import onnx

    proto = onnx.load(str(path))
    existing = {o.name for o in proto.graph.output}
    names = list(model.onnx_names)
    elem = {
        "int8": onnx.TensorProto.INT8,
        "uint8": onnx.TensorProto.UINT8,
        "int16": onnx.TensorProto.INT16,
        "uint16": onnx.TensorProto.UINT16,
    }
    for name in names:
        if name not in existing:
            proto.graph.output.append(
                onnx.helper.make_tensor_value_info(name, elem[model.onnx_dtypes[name]], None)
            )
    sess = _ort_session(proto.SerializeToString(), threads)
    outs = sess.run(names, {model.input_name: np.ascontiguousarray(iq, np.float32)})
    ort_by_tensor = {model.onnx_names[n]: np.asarray(v) for n, v in zip(names, outs, strict=True)}
    trace: dict[str, np.ndarray] = {}
    xq = model.quantize_input(iq)
    trace["input"] = xq
    model.run_integer(xq, trace=trace)
    isolated: dict[str, np.ndarray] = {"input": ort_by_tensor.get("input", xq)}
    for op in model.ops:
        src = op.inputs[0]
        x = ort_by_tensor.get(src, isolated[src])
        isolated[op.name] = op.run(x.reshape((len(x), *op.in_shape)).astype(x.dtype))

    def diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.abs(a.astype(np.int64) - b.astype(np.int64).reshape(a.shape))

    result = {}
    for name in names:
        tensor = model.onnx_names[name]
        ref = ort_by_tensor[tensor]
        end = diff(trace[tensor], ref)
        one = diff(isolated[tensor], ref)
        result[name] = {
            "tensor": tensor,
            "max_lsb": int(end.max()),
            "frac_differ": float(np.mean(end > 0)),
            "layer_max_lsb": int(one.max()),
            "layer_frac_differ": float(np.mean(one > 0)),
            "values": int(end.size),
        }
    return result


# ---- simulate ----------------------------------------------------------------------------
def check_data(model: IntegerModel, classes: tuple[str, ...], frame_length: int) -> None:
    """The data must fit the model (:func:`amrkit.artifacts.check_compatible`); a file without
    amrkit metadata names no classes, so only their number is checked."""
    mine = model.classes
    if mine is None:
        if model.num_classes != len(classes):
            raise AmrkitError(
                f"model has {model.num_classes} outputs but the data has {len(classes)} "
                "classes; use data with the model's classes (--classes)"
            )
        mine = tuple(classes)
    check_compatible(mine, model.frame_length, classes, frame_length)


def select_frames(frames: Any, split: str = "test", max_frames: int | None = None) -> np.ndarray:
    """Positions of ``split``; at most ``max_frames`` of them, evenly spaced (deterministic)."""
    idx = frames.indices(split)
    if max_frames is not None:
        if max_frames < 1:
            raise AmrkitError(f"--max-frames {max_frames} must be >= 1")
        if len(idx) > max_frames:
            idx = idx[np.linspace(0, len(idx) - 1, max_frames).round().astype(np.int64)]
    if len(idx) == 0:
        raise AmrkitError(f"split {split!r} has no frames; choose another --split")
    return idx


@dataclass
class _Runs:
    """What one pass over the frames collected: golden and (optionally) ORT outputs."""

    pred: list[np.ndarray] = field(default_factory=list)
    out_int: list[np.ndarray] = field(default_factory=list)
    pred_ort: list[np.ndarray] = field(default_factory=list)
    out_ort: list[np.ndarray] = field(default_factory=list)
    logits_equal: bool = True
    t_golden: float = 0.0
    t_ort: float = 0.0
    acts: dict[str, dict[str, Any]] | None = None


def _run_batches(model: IntegerModel, frames: Any, idx: np.ndarray, sess: Any, opts: dict) -> _Runs:
    from rich.console import Console
    from rich.progress import Progress

    runs, stats = _Runs(), opts["stats"]
    disable = not opts["progress"]
    with Progress(console=Console(stderr=True), disable=disable, transient=True) as bar:
        task = bar.add_task("simulate", total=len(idx))
        for _, iq in frames.iter_batches(idx, opts["batch_size"]):
            t0 = time.perf_counter()
            logits, y = model.run(iq, stats)
            runs.t_golden += time.perf_counter() - t0
            runs.pred.append(np.argmax(logits, axis=1))
            runs.out_int.append(y.astype(np.int64))
            if sess is not None:
                t0 = time.perf_counter()
                ref = sess.run(None, {model.input_name: iq})[0]
                runs.t_ort += time.perf_counter() - t0
                runs.logits_equal = runs.logits_equal and np.array_equal(logits, ref)
                runs.pred_ort.append(np.argmax(ref, axis=1))
                runs.out_ort.append(np.asarray(ref, np.float64))
                if runs.acts is None and opts["activation_frames"] > 0:
                    head = iq[: opts["activation_frames"]]
                    runs.acts = compare_activations(model, model.source, head, opts["threads"])
            bar.advance(task, len(iq))
    return runs


def _ort_fields(model: IntegerModel, runs: _Runs, labels: np.ndarray, sess: Any) -> dict:
    """Golden vs the unmodified ORT session: decisions, output integers, the kernel."""
    pred_a, ort_a = np.concatenate(runs.pred), np.concatenate(runs.pred_ort)
    ref = np.concatenate(runs.out_ort)
    scale = np.asarray(model.output_scale, np.float64).reshape(1, -1)
    lsb = np.abs(np.concatenate(runs.out_int) - (np.rint(ref / scale) + model.output_zero_point))
    return {
        "ort_accuracy": float(np.mean(ort_a == labels)),
        "top1_agreement": float(np.mean(ort_a == pred_a)),
        "disagreements": int(np.sum(ort_a != pred_a)),
        "output_max_lsb": int(lsb.max()),
        "output_frac_differ": float(np.mean(lsb > 0)),
        "logits_identical": bool(runs.logits_equal),
        "bit_exact": bool(lsb.max() == 0),
        "seconds_ort": round(runs.t_ort, 3),
        "runtime": kernel_info(bool(sess.amrkit_exact_pairs), cpu_info()),
    }


def _attach_activations(result: dict[str, Any], acts: dict[str, dict[str, Any]]) -> None:
    """Diagnostic: ORT ran a copy with these tensors as extra outputs, which can change how it
    runs the graph; ``bit_exact`` compares the unmodified session."""
    by_tensor = {v["tensor"]: v for v in acts.values()}
    for row in result["layers"]:
        if row["layer"] in by_tensor:
            row["ort_max_lsb"] = by_tensor[row["layer"]]["max_lsb"]
            row["ort_layer_max_lsb"] = by_tensor[row["layer"]]["layer_max_lsb"]
    result["activations_vs_ort"] = acts
    result["activation_max_lsb"] = max(v["max_lsb"] for v in acts.values())
    result["activation_layer_max_lsb"] = max(v["layer_max_lsb"] for v in acts.values())


def simulate(
    model: IntegerModel | str | Path,
    frames: Any,
    *,
    split: str = "test",
    max_frames: int | None = None,
    batch_size: int = 256,
    compare_ort: bool = True,
    activation_frames: int = 64,
    threads: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run the golden model (and ONNX Runtime) on a FrameSet's ``split``.

    Returns accuracy vs labels, top-1 agreement with ORT, the output difference in LSB,
    per-layer accumulator statistics and, on the first ``activation_frames`` frames, the
    largest difference of every intermediate integer tensor from ORT's.
    """
    if not isinstance(model, IntegerModel):
        model = load_integer_model(model)
    check_data(model, tuple(frames.classes), int(frames.frame_length))
    if batch_size < 1:
        raise AmrkitError(f"--batch-size {batch_size} must be >= 1")
    idx = select_frames(frames, split, max_frames)
    compare_ort = compare_ort and Path(model.source).is_file()  # not for a load_dump model
    sess = _ort_session(str(model.source), threads) if compare_ort else None
    stats = Stats()
    opts = dict(stats=stats, progress=progress, batch_size=batch_size, threads=threads)
    runs = _run_batches(model, frames, idx, sess, {**opts, "activation_frames": activation_frames})
    labels = frames.label[idx]
    result: dict[str, Any] = {
        "model": str(model.source),
        "split": split,
        "frames": int(len(idx)),
        "classes": list(frames.classes),
        "rounding": model.rounding,
        "accuracy": float(np.mean(np.concatenate(runs.pred) == labels)),
        "seconds_golden": round(runs.t_golden, 3),
        "frames_per_second_golden": round(len(idx) / max(runs.t_golden, 1e-9), 1),
        "input": {
            "scale": model.input_scale,
            "zero_point": model.input_zero_point,
            "dtype": model.input_dtype,
        },
        "layers": model.layer_table(stats),
    }
    if sess is not None:
        result.update(_ort_fields(model, runs, labels, sess))
        if runs.acts:
            _attach_activations(result, runs.acts)
    return result


# ---- dump / load -------------------------------------------------------------------------
def _array_entry(folder: Path, fname: str, a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a)
    np.save(folder / fname, a, allow_pickle=False)
    return {"file": fname, "dtype": a.dtype.name, "shape": list(a.shape)}


def _requant_dtype(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.int64)
    return a.astype(np.int32) if np.all(np.abs(a) < 2**31) else a


def manifest(model: IntegerModel, folder: Path | None, stats: Stats | None = None) -> dict:
    """The JSON description of ``model``; with ``folder``, also writes the ``.npy`` files."""
    layers = []
    table = {r["layer"]: r for r in model.layer_table(stats)}
    for op in model.ops:
        entry: dict[str, Any] = {"name": op.name, "kind": op.kind, **op_params(op)}
        arrays = {}
        for name in op.arrays:
            value = np.asarray(getattr(op, name))
            if name == "weight_zero_point":
                value = value.astype(np.int32)
            arrays[name] = (
                _array_entry(folder, f"{op.name}.{name}.npy", value)
                if folder
                else {"dtype": value.dtype.name, "shape": list(value.shape)}
            )
        if arrays:
            entry["arrays"] = arrays
        if isinstance(op, AccumulatingOp):
            rq = op.requant
            if rq is not None:
                m0, n = _requant_dtype(rq.multiplier), _requant_dtype(rq.shift)
                entry["requant"] = {
                    **rq.describe(),
                    "multiplier": (
                        _array_entry(folder, f"{op.name}.multiplier.npy", m0)
                        if folder
                        else m0.tolist()
                    ),
                    "shift": (
                        _array_entry(folder, f"{op.name}.shift.npy", n) if folder else n.tolist()
                    ),
                }
            else:
                entry["requant"] = None
            for key in ("acc_bound", "acc_bound_bits", "acc_max", "acc_max_bits"):
                if key in table[op.name]:
                    entry[key] = table[op.name][key]
        layers.append(entry)
    return {
        "format": DUMP_FORMAT,
        "version": DUMP_VERSION,
        "source": str(model.source),
        "rounding": model.rounding,
        "multiplier_bits": M0_BITS,
        "requant_formula": REQUANT_FORMULA,
        "classes": list(model.classes) if model.classes else None,
        "frame_length": model.frame_length,
        "input": {
            "tensor": "input",
            "onnx_name": model.input_name,
            "shape": list(model.input_shape),
            "dtype": model.input_dtype,
            "scale": float(model.input_scale),
            "zero_point": model.input_zero_point,
            "formula": INPUT_FORMULA,
        },
        "output": {
            "tensor": model.output_tensor,
            "shape": list(model.output_shape),
            "scale": [float(s) for s in np.atleast_1d(model.output_scale)],
            "zero_point": model.output_zero_point,
            "formula": OUTPUT_FORMULA,
        },
        "layers": layers,
        "onnx_tensors": model.onnx_names,
        "onnx_dtypes": model.onnx_dtypes,
        "metadata": model.metadata,
    }


def dump(model: IntegerModel, folder: str | Path, stats: Stats | None = None) -> Path:
    """Write every layer's integer parameters as ``.npy`` and ``manifest.json`` to ``folder``.

    The folder must not exist or be empty; it appears complete or not at all.
    """
    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AmrkitError(
            f"--dump folder {str(target)!r} exists and is not empty; choose a new folder"
        )
    tmp = staging_folder(target, suffix="")
    try:
        data = manifest(model, tmp, stats)
        (tmp / "manifest.json").write_text(dumps_json(data))
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _load_array(folder: Path, entry: dict[str, Any]) -> np.ndarray:
    path = folder / entry["file"]
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise AmrkitError(f"cannot read {str(path)!r} ({exc}); is the dump complete?") from None
    if a.dtype.name != entry["dtype"] or list(a.shape) != entry["shape"]:
        raise AmrkitError(
            f"{str(path)!r} is {a.dtype}{a.shape}, manifest says {entry['dtype']}{entry['shape']}"
        )
    return a


def load_dump(folder: str | Path) -> IntegerModel:
    """Rebuild an :class:`IntegerModel` from a ``dump`` folder (the ``.npy`` files only)."""
    folder = Path(folder)
    data = json.loads((folder / "manifest.json").read_text())
    if data.get("format") != DUMP_FORMAT:
        raise AmrkitError(f"{str(folder)!r} is not an amrkit golden-model dump")
    ops: list[Op] = []
    for entry in data["layers"]:
        cls = OP_TYPES[entry["kind"]]
        names = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for key, value in entry.items():
            if key in names and key not in ("requant",):
                kw[key] = tuple(value) if isinstance(value, list) and key != "inputs" else value
        for key, arr in entry.get("arrays", {}).items():
            kw[key] = _load_array(folder, arr)
        rq = entry.get("requant")
        if rq is not None:
            kw["requant"] = Requant(
                _load_array(folder, rq["multiplier"]).astype(np.int64),
                _load_array(folder, rq["shift"]).astype(np.int64),
                rq["zero_point"],
                rq["lo"],
                rq["hi"],
                rq["dtype"],
                rq["rounding"],
                np.asarray(rq["real_multiplier"], np.float64),
            )
        ops.append(cls(**kw))
    inp, out = data["input"], data["output"]
    return IntegerModel(
        inp["scale"],
        inp["zero_point"],
        inp["dtype"],
        tuple(inp["shape"]),
        ops,
        out["tensor"],
        np.asarray(out["scale"], np.float64),
        out["zero_point"],
        tuple(out["shape"]),
        data["rounding"],
        str(folder),
        data.get("metadata", {}),
        data.get("onnx_tensors", {}),
        data.get("onnx_dtypes", {}),
        inp.get("onnx_name", "iq"),
    )
