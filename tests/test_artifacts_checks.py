"""The checks every command applies to a model file before running it
(amrkit.artifacts.check_onnx_model / check_qdq_scales / load_run), on hand-built graphs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from amrkit.artifacts import check_onnx_model, check_qdq_scales, metadata_for, read_model_info
from amrkit.errors import AmrkitError
from amrkit.models import get_spec


def qdq_graph(scale: float, *, as_constant: bool, channels: int = 2, length: int = 16,
              elem: int = TensorProto.FLOAT) -> onnx.ModelProto:  # fmt: skip
    """x (n, C, L) → QuantizeLinear → DequantizeLinear → GlobalAveragePool → Flatten: a
    minimal graph whose scale sits in an initializer or a Constant node."""
    s = numpy_helper.from_array(np.array(scale, np.float32), "s")
    z = numpy_helper.from_array(np.array(0, np.uint8), "z")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q_node"),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"], name="dq_node"),
        helper.make_node("GlobalAveragePool", ["d"], ["p"]),
        helper.make_node("Flatten", ["p"], ["y"]),
    ]
    inits = [z]
    if as_constant:
        nodes.insert(0, helper.make_node("Constant", [], ["s"], value=s))
    else:
        inits.append(s)
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", elem, ["n", channels, length])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", channels])], inits,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("as_constant", [False, True], ids=["initializer", "constant-node"])
@pytest.mark.parametrize("scale", [math.nan, math.inf, 0.0, -0.5])
def test_bad_scales_are_refused_wherever_they_are_stored(scale, as_constant):
    model = qdq_graph(scale, as_constant=as_constant)
    with pytest.raises(AmrkitError, match="scales must be > 0") as exc:
        check_qdq_scales(model, "m.onnx")
    assert "q_node" in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("as_constant", [False, True])
def test_a_good_scale_passes(as_constant):
    model = qdq_graph(0.01, as_constant=as_constant)
    check_qdq_scales(model, "m.onnx")
    assert check_onnx_model("m.onnx", model) is model


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"channels": 3}, "is declared ?x3x16"),
        ({"elem": TensorProto.DOUBLE}, "is DOUBLE"),
    ],
)
def test_the_declared_input_must_be_float_iq(kw, needle):
    with pytest.raises(AmrkitError, match=None) as exc:
        check_onnx_model("m.onnx", qdq_graph(0.01, as_constant=False, **kw))
    assert needle in str(exc.value)


def test_read_model_info_applies_every_check(tmp_path: Path):
    model = qdq_graph(0.0, as_constant=False, channels=2, length=16)
    spec = get_spec("4x4", num_classes=2)
    meta = metadata_for(spec, ["A", "B"], 16, None, "int8")
    onnx.helper.set_model_props(model, meta)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    with pytest.raises(AmrkitError, match="has scale 0.0; scales must be > 0"):
        read_model_info(path)
    good = qdq_graph(0.5, as_constant=False)
    onnx.helper.set_model_props(good, meta)
    onnx.save(good, str(path))
    info = read_model_info(path)
    assert info.classes == ("A", "B") and info.path == path


def test_nan_float_weights_are_refused(tmp_path: Path):
    w = numpy_helper.from_array(np.array([[1.0, np.nan]], np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])], [w],
    )  # fmt: skip
    with pytest.raises(AmrkitError, match="weight tensor 'w' holds NaN or inf"):
        check_onnx_model("m.onnx", helper.make_model(graph))
