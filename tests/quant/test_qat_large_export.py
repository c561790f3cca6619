"""QAT export of networks whose weight scales the exporter does not constant-fold (issue 26).

``torch.onnx.export`` folds constants through onnxscript, which skips inputs above 8192
elements: a weight scale computed in the graph (``abs → max → div``) of such a layer stayed a
computation, and ``finalize_qdq`` stopped at "QuantizeLinear has non-constant scale". The
paper-scale optimized network (7 conv layers, conv6 64→96 and conv7 96→128 at kernel 2) hit
it, and grouped networks did not even run (the fake-quant conv ignored ``groups``). Both
specs here have a layer above the limit; the second is grouped."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest

from amrkit.data.open import open_frames
from amrkit.golden import load_integer_model
from amrkit.quant import QATConfig, quantize
from amrkit.quant.qdq import describe_layers


def _train_run(*args, **kwargs):
    """tests/quant/conftest.py's ``train_run`` (importlib mode: conftest is no module here)."""
    spec = importlib.util.spec_from_file_location("_quant_conftest", CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.train_run(*args, **kwargs)


CONFTEST = Path(__file__).with_name("conftest.py")

SPECS = {
    "deep": "8x2p,16x2p,32x2p,64x2p,96x2p,96x2",  # conv6: 96·96·2 = 18,432 weights
    "grouped": "8x2p,16x2p,32x2g2p,64x2g4p,128x2g2p,96x2g2",  # conv6: 96·64·2 = 12,288
}


@pytest.mark.parametrize("kind", list(SPECS))
def test_qat_4_bit_export_of_large_and_grouped_layers(kind, quant_data, tmp_path):
    run = _train_run(tmp_path / "run", quant_data, spec=SPECS[kind], steps=30)
    cfg = QATConfig(epochs=1, weight_bits=4, layer_bits=(("fc", 7),), calib_frames=64)
    with open_frames(quant_data) as frames:
        res = quantize(run, cfg, frames, tmp_path / "q")
    proto = onnx.load(str(res.int8_path))
    ops = {n.op_type for n in proto.graph.node}
    assert not ops & {"Abs", "ReduceMax", "Div", "Where"}  # no scale computed in the graph
    layers = describe_layers(proto)
    assert len(layers) == 7
    for name, row in layers.items():
        qmax = 2 ** (7 - 1) - 1 if name == "fc" else 2 ** (4 - 1) - 1
        assert row["weight"]["stored_type"] == "int8"
        assert -qmax <= row["weight"]["int_min"] and row["weight"]["int_max"] <= qmax
    assert max(abs(layers["conv6"]["weight"]["int_min"]), layers["conv6"]["weight"]["int_max"]) == 7
    # the golden model reads it and equals ONNX Runtime on the validation frames
    match = res.details["onnxruntime"]["golden_match"]
    assert match["applicable"] and match["bit_exact"] and match["frames"] >= 100
    model = load_integer_model(res.int8_path)
    assert model.metadata and "layer_bits" in model.metadata["amrkit.quantization"]
    assert np.all(np.isfinite(model.output_scale))
