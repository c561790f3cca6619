"""Run directories and ONNX files are checked when they are read: one-line errors, before any
work, for damaged, mismatched or foreign artifacts (and nothing outside the model's folder)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from amrkit.artifacts import (
    RUN_FILE,
    WEIGHTS_FILE,
    check_compatible,
    load_run,
    metadata_for,
    read_model_info,
    save_run_info,
    save_weights,
)
from amrkit.errors import AmrkitError
from amrkit.models import build, get_spec
from amrkit.runtime import ort_session

CLASSES = ("BPSK", "QPSK", "8PSK")


@pytest.fixture()
def run_dir(tmp_path):
    model = build(get_spec("8x4p,8x2", num_classes=3))
    save_run_info(tmp_path, model.spec, CLASSES, 64, 2e5)
    save_weights(tmp_path, model)
    return tmp_path


def test_a_good_run_loads(run_dir):
    run = load_run(run_dir)
    assert run.classes == CLASSES and run.frame_length == 64 and not run.model.training


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: [], "not a JSON object"),
        (lambda d: {k: v for k, v in d.items() if k != "classes"}, "lacks classes"),
        (lambda d: {**d, "classes": "BPSK"}, "classes must be a non-empty list"),
        (lambda d: {**d, "classes": ["BPSK", "BPSK", "QPSK"]}, "names a class twice"),
        (lambda d: {**d, "frame_length": "64"}, "frame_length must be a positive integer"),
        (lambda d: {**d, "frame_length": 0}, "frame_length must be a positive integer"),
        (lambda d: {**d, "spec": [1, 2]}, "spec must be a JSON object"),
    ],
)
def test_damaged_run_json_is_a_one_line_error(run_dir, edit, message):
    info = json.loads((run_dir / RUN_FILE).read_text())
    (run_dir / RUN_FILE).write_text(json.dumps(edit(info)))
    with pytest.raises(AmrkitError, match=message) as err:
        load_run(run_dir)
    assert "\n" not in str(err.value)


def test_weights_that_do_not_fit_run_json(run_dir):
    other = build(get_spec("16x4p,8x2", num_classes=3))  # another width: shapes differ
    save_weights(run_dir, other)
    with pytest.raises(AmrkitError, match="does not match run.json"):
        load_run(run_dir)
    (run_dir / WEIGHTS_FILE).write_bytes(b"\x80\x04garbage")
    with pytest.raises(AmrkitError, match="damaged"):
        load_run(run_dir)


def tiny_onnx(path, classes=CLASSES, length=64, out_width=3, meta_length=None):
    """A float model iq (n, 2, length) → logits (n, out_width), with amrkit metadata."""
    w = numpy_helper.from_array(np.ones((2 * length, out_width), np.float32), "w")
    nodes = [
        helper.make_node("Flatten", ["iq"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("iq", TensorProto.FLOAT, [None, 2, length])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, out_width])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    spec = get_spec("8x4p,8x2", num_classes=len(classes))
    meta = metadata_for(spec, classes, meta_length or length, 2e5)
    helper.set_model_props(model, meta)
    onnx.save(model, str(path))
    return path


def test_onnx_metadata_is_checked_against_the_graph(tmp_path):
    good = read_model_info(tiny_onnx(tmp_path / "good.onnx"))
    assert good.classes == CLASSES and good.frame_length == 64 and good.precision == "fp32"
    with pytest.raises(AmrkitError, match="4 graph outputs but 3 classes"):
        read_model_info(tiny_onnx(tmp_path / "wide.onnx", out_width=4))
    with pytest.raises(AmrkitError, match="graph input length 64 contradicts"):
        read_model_info(tiny_onnx(tmp_path / "len.onnx", meta_length=128))
    with pytest.raises(AmrkitError, match="names a class twice"):
        read_model_info(tiny_onnx(tmp_path / "dup.onnx", classes=("A", "A", "B")))


def test_external_data_outside_the_folder_is_refused(tmp_path):
    inside = tmp_path / "models"
    inside.mkdir()
    path = tiny_onnx(inside / "m.onnx")
    model = onnx.load(str(path))
    onnx.save(model, str(path), save_as_external_data=True, location="m.bin", size_threshold=0)
    ort_session(path)  # next to the model: fine
    model = onnx.load(str(path), load_external_data=False)
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../secret.bin"
    (tmp_path / "secret.bin").write_bytes((inside / "m.bin").read_bytes())
    onnx.save(model, str(inside / "evil.onnx"))
    with pytest.raises(AmrkitError, match="outside the model's folder"):
        ort_session(inside / "evil.onnx")
    from amrkit.golden import load_integer_model

    with pytest.raises(AmrkitError, match="outside the model's folder"):
        load_integer_model(inside / "evil.onnx")


def test_check_compatible_names_the_fix():
    check_compatible(CLASSES, 64, CLASSES, 64)
    with pytest.raises(AmrkitError, match="--classes BPSK,QPSK,8PSK$"):
        check_compatible(CLASSES, 64, ("8PSK", "BPSK", "QPSK", "GFSK"), 64)
    with pytest.raises(AmrkitError, match="model frame length 64 differs from the data's 1024"):
        check_compatible(CLASSES, 64, CLASSES, 1024)
