"""``load_predictor(..., runtime=)``: one place picks the runtime of an ONNX file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from amrkit.cli import app
from amrkit.errors import AmrkitError
from amrkit.golden import load_integer_model
from amrkit.infer import load_predictor


def test_auto_is_ort_and_exact_on_portable_int8(tiny_models: dict[str, Path], noise) -> None:
    x = noise(20, 7)
    ref, _ = load_integer_model(tiny_models["int8"]).run(x)
    pred = load_predictor(tiny_models["int8"], threads=1)
    assert pred.runtime == "ort" and load_predictor(tiny_models["int8"], runtime="ort").runtime
    assert np.array_equal(pred.logits(x), ref)


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_runtime_c_predictor(tiny_models: dict[str, Path], noise) -> None:
    x = noise(9, 8)
    pred = load_predictor(tiny_models["int8"], runtime="c")
    assert (pred.runtime, pred.kind, pred.frame_length) == ("c", "onnx-int8", 64)
    assert pred.classes == ("a", "b", "c", "d")
    ref, _ = load_integer_model(tiny_models["int8"]).run(x)
    assert np.array_equal(pred.logits(x), ref)


def test_runtime_errors(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(AmrkitError, match="--runtime 'tflite' is not one of auto, ort"):
        load_predictor(tiny_models["int8"], runtime="tflite")
    with pytest.raises(AmrkitError, match="--runtime c runs INT8 files"):
        load_predictor(tiny_models["fp32"], runtime="c")
    with pytest.raises(AmrkitError, match="runs on the CPU"):
        load_predictor(tiny_models["int8"], runtime="c", device="cuda")
    with pytest.raises(AmrkitError, match="is a run directory"):
        load_predictor(tmp_path, runtime="ort")


def test_cli_rejects_unknown_runtime(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    rec = tmp_path / "x.cf32"
    np.zeros(256, np.complex64).tofile(rec)
    for args in (
        ["evaluate", str(tiny_models["int8"]), str(tmp_path / "none.h5"), "--runtime", "x"],
        ["classify", str(tiny_models["int8"]), str(rec), "--format", "cf32",
         "--sample-rate", "1e6", "--runtime", "x"],
    ):  # fmt: skip
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 1
        assert "--runtime 'x' is not one of auto, ort, openvino, c" in res.output
