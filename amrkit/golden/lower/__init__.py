"""Lower a QDQ ONNX graph to the golden model's integer program (reads ONNX itself, no ORT).

The walk follows the graph in topological order and gives every tensor a symbolic value:

- ``_FloatIn``  the float frames (graph input); only a QuantizeLinear may read it.
- ``QAct``      an integer tensor of the program (a QuantizeLinear output).
- ``_DQ``       the float view of a QAct (DequantizeLinear output). Integer-exact ops on it
               (MaxPool, Pad, Relu, shape ops) are emitted at once as integer operators.
- ``_QConst``   a constant held as integers + scale + zero point (weights, int32 biases).
- ``_Acc``      an accumulator awaiting its requantization: Conv / Gemm / MatMul / mean /
               rescale, with BatchNormalization, bias Add and ReLU folded in, and MaxPool or
               shape ops queued to run after the requant. The next QuantizeLinear fixes the
               output scale and emits the operator.

Plain constant sub-graphs (shape arithmetic, QuantizeLinear of float weights, Cast of zero
points) are folded with ``onnx.reference``.
"""

from __future__ import annotations

from pathlib import Path

from amrkit.artifacts import check_qdq_scales
from amrkit.golden.lower.core import _Core
from amrkit.golden.lower.linear import LinearOps
from amrkit.golden.lower.pool import PoolOps
from amrkit.golden.lower.qdq import QdqOps
from amrkit.golden.lower.shape import ShapeOps
from amrkit.golden.lower.values import SUPPORTED_OPS, Lowered, QAct, _err
from amrkit.runtime.ort import check_external_data

__all__ = ["SUPPORTED_OPS", "Lowered", "QAct", "lower"]


class _Lowering(QdqOps, LinearOps, PoolOps, ShapeOps, _Core):
    """One ``op_<OpType>`` method per ONNX operator, found by :meth:`_Core.node`: QDQ in
    ``qdq.py``, accumulating layers in ``linear.py``, pooling in ``pool.py``, integer-exact
    ops in ``shape.py``; the walk and the requantization in ``core.py``."""


def lower(path: str | Path, rounding: str = "float32") -> Lowered:
    """Read the QDQ ONNX file at ``path`` into an integer program."""
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    if not p.is_file():
        raise _err(f"model {str(p)!r} does not exist; give the INT8 .onnx file")
    try:
        check_external_data(onnx.load(str(p), load_external_data=False), p)
        model = onnx.load(str(p), load_external_data=True)
    except (DecodeError, RuntimeWarning, ValueError, OSError) as exc:
        raise _err(
            f"{str(p)!r} is not an ONNX model ({type(exc).__name__}); give the INT8 "
            ".onnx file written by 'amrkit quantize'"
        ) from None
    if not model.graph.node:
        raise _err(f"{str(p)!r} is not an ONNX model (no graph nodes); give the INT8 .onnx file")
    check_qdq_scales(model, p)  # the check (and message) of every command that loads models
    return _Lowering(model, rounding, str(p)).run()
