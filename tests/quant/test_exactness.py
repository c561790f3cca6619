"""INT8 files whose integers ONNX Runtime computes exactly on every CPU: the pair bound
(proved from the quantization parameters), the portable target, and the golden check."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from onnx import numpy_helper

from amrkit.data.open import open_frames
from amrkit.errors import AmrkitError
from amrkit.quant import PTQConfig, QATConfig, quantize
from amrkit.quant.exactness import check_target
from amrkit.runtime import needs_exact_pairs, pair_bounds
from amrkit.runtime.ort import PAIR_LIMIT, pair_bound


def brute_pair_bound(w: np.ndarray) -> int:
    """max over every pair (i, j) and u8 inputs a of |a_i·w_i + a_j·w_j| (a at 0 or 255 is
    enough: the sum is linear in each a)."""
    best = 0
    for i, j in itertools.combinations(range(len(w)), 2):
        for a1, a2 in itertools.product((0, 255), repeat=2):
            best = max(best, abs(a1 * int(w[i]) + a2 * int(w[j])))
    return best


@settings(max_examples=60, deadline=None, derandomize=True)
@given(hnp.arrays(np.int8, st.tuples(st.integers(1, 4), st.integers(2, 9))))
def test_pair_bound_equals_brute_force(w):
    got = pair_bound(w, axis=0)
    assert got.tolist() == [brute_pair_bound(row) for row in w]


def test_pair_bound_of_the_two_grids():
    # 7-bit portable grid: the worst channel still fits the int16 lane; 8-bit does not
    assert pair_bound(np.array([[64, 64, -64, 3]], np.int8))[0] == 255 * 128 <= PAIR_LIMIT
    assert pair_bound(np.array([[127, 90, -5]], np.int8))[0] == 255 * 217 > PAIR_LIMIT
    assert pair_bound(np.array([[127, -127, 1]], np.int8))[0] == 255 * 128  # signs never add


def test_check_target_refuses_portable_overflow_and_warns_for_vnni():
    over = {"conv1": {"pair_bound": PAIR_LIMIT + 1, "acc_bound": 1000}}
    fine = {"conv1": {"pair_bound": PAIR_LIMIT, "acc_bound": 1000}}
    with pytest.raises(AmrkitError, match="not portable"):
        check_target("portable", over)
    assert check_target("portable", fine) == []
    assert "x64quantprecision" in check_target("vnni", over)[0]
    with pytest.raises(AmrkitError, match="int32"):
        check_target("vnni", {"fc": {"pair_bound": 10, "acc_bound": 2**31}})


def test_config_rules():
    assert PTQConfig().bits == 7 and PTQConfig(target="vnni").bits == 8
    assert QATConfig().bits == 7 and QATConfig(target="vnni").bits == 8
    with pytest.raises(AmrkitError, match="not portable"):
        QATConfig(weight_bits=8)
    with pytest.raises(AmrkitError, match="uint8"):
        PTQConfig(activation_type="int8")
    PTQConfig(activation_type="int8", target="vnni")  # allowed, explicitly


@pytest.fixture(scope="module")
def paper_runs(tmp_path_factory, quant_helpers):
    """Both paper architectures (4 classes), briefly trained on 1024-sample frames."""
    h = quant_helpers
    root = tmp_path_factory.mktemp("paper")
    data = h.write_dataset(root / "frames.h5", n_per_class=40, length=1024, snr_db=10.0)
    runs = {m: h.train_run(root / m, data, spec=m, steps=25) for m in ("original", "optimized")}
    return data, runs


@pytest.mark.parametrize("model", ["original", "optimized"])
def test_paper_models_portable_by_proof_and_exact_here(paper_runs, model, tmp_path):
    data, runs = paper_runs
    with open_frames(data) as frames:
        portable = quantize(runs[model], PTQConfig(calib_frames=64), frames, tmp_path / "p")
        full = quantize(
            runs[model], PTQConfig(calib_frames=64, target="vnni"), frames, tmp_path / "v"
        )
    d, v = portable.details, full.details
    proto = onnx.load(str(portable.int8_path))
    weights = [
        numpy_helper.to_array(i) for i in proto.graph.initializer if i.name.endswith("_quantized")
    ]
    assert max(int(np.abs(w).max()) for w in weights if w.dtype == np.int8) <= 64
    assert d["target"] == "portable" and d["warnings"] == []
    assert 0 < d["max_pair_sum"] <= PAIR_LIMIT
    for layer in d["quantized_layers"]:
        row = d["layers"][layer]
        assert 0 < row["pair_bound"] <= PAIR_LIMIT and row["acc_bound"] < 2**31
    assert not needs_exact_pairs(proto)
    assert pair_bounds(proto) == {k: d["layers"][k]["pair_bound"] for k in d["quantized_layers"]}
    # control: the same run at full range passes the int16 limit in some layer
    assert v["max_pair_sum"] > PAIR_LIMIT and v["warnings"]
    assert needs_exact_pairs(onnx.load(str(full.int8_path)))
    # both are computed exactly by ONNX Runtime on this CPU, whatever its instruction set
    for details in (d, v):
        gm = details["onnxruntime"]["golden_match"]
        assert gm["frames"] == d["accuracy"]["frames"] > 0
        assert gm["bit_exact"] and gm["logits_identical"] and gm["top1_agreement"] == 1.0
        assert gm["x64quantprecision"] == (details is v)
