"""Mixed precision: per-layer weight bits (explicit or chosen for a byte budget), QAT, export,
packed memory and the golden model."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import numpy_helper

from amrkit.cli import main
from amrkit.config import from_dict
from amrkit.data.open import open_frames
from amrkit.errors import AmrkitError
from amrkit.quant import QATConfig, quantize
from amrkit.quant.config import parse_layer_bits
from amrkit.quant.details import packed_size
from amrkit.quant.mixed import greedy_bits, packed_bytes

# the fixture model "8x4p,16x4p,16x2", 2 input channels, 4 classes: (weights, biases)
COUNTS = {"conv1": (8 * 2 * 4, 8), "conv2": (16 * 8 * 4, 16), "conv3": (16 * 16 * 2, 16)}
COUNTS["fc"] = (16 * 4, 4)


def hand_packed(bits: dict[str, int]) -> int:
    """Packed bytes counted by hand: weights at their width (whole bytes per tensor), int32
    biases."""
    return sum(-(-w * bits[n] // 8) + 4 * b for n, (w, b) in COUNTS.items())


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def int8_weights(path) -> dict[str, np.ndarray]:
    model = onnx.load(str(path))
    return {
        i.name.removesuffix(".weight_quantized"): numpy_helper.to_array(i)
        for i in model.graph.initializer
        if i.name.endswith(".weight_quantized")
    }


def levels_per_channel(q: np.ndarray) -> list[int]:
    return [len(np.unique(row)) for row in q.reshape(q.shape[0], -1)]


# ---- config and the greedy choice (no data) -------------------------------------------------
def test_config_per_layer_bits_and_parsing():
    cfg = QATConfig(layer_bits=parse_layer_bits("conv1=4, fc=5"))
    assert cfg.layer_bits == (("conv1", 4), ("fc", 5))
    assert (cfg.bits_of("conv1"), cfg.bits_of("fc"), cfg.bits_of("conv2")) == (4, 5, 7)
    assert QATConfig(target="vnni", layer_bits=(("conv2", 8),)).bits_of("conv2") == 8
    # a config file gives the pairs as lists
    assert from_dict(QATConfig, {"layer_bits": [["conv2", 4]]}).layer_bits == (("conv2", 4),)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer_bits": (("conv1", 3),)}, "4..8"),
        ({"layer_bits": (("conv1", 9),)}, "4..8"),
        ({"layer_bits": (("conv1", 8),)}, "not portable"),
        ({"layer_bits": (("conv1", 4), ("conv1", 5))}, "twice"),
        ({"layer_bits": (("conv1", 4),), "exclude": ("conv1",)}, "FP32"),
        ({"max_packed_bytes": 0}, "max_packed_bytes"),
        ({"max_packed_bytes": 900, "mixed_low_bits": 7}, "mixed_low_bits 7"),
    ],
)
def test_config_rejects(kwargs, message):
    with pytest.raises(AmrkitError, match=message) as err:
        QATConfig(**kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["conv1", "conv1=", "=4", "conv1:4", "conv1=4,,fc=4", "c=x"])
def test_parse_layer_bits_rejects(text):
    with pytest.raises(AmrkitError, match="LAYER=BITS"):
        parse_layer_bits(text)


def test_greedy_lowers_cheapest_sensitivity_per_byte_and_only_what_it_needs():
    assert packed_size(13, 4) == 7 and packed_size(16, 7) == 14  # whole bytes per tensor
    start = dict.fromkeys(COUNTS, 7)
    assert packed_bytes(COUNTS, start, ()) == hand_packed(start) == 1184
    # conv2 and conv3 each save 192 B at 4 bits; conv1 and fc 24 B each
    sens = {"conv1": 0.0, "fc": 0.001, "conv2": 0.5, "conv3": 0.2}
    bits, order = greedy_bits(sens, COUNTS, start, 4, 1000)
    assert order == ["conv1", "fc", "conv3", "conv2"]
    # conv1, fc and conv3 were lowered on the way; conv3 alone meets 1000 B: the others go back
    assert bits == {"conv1": 7, "conv2": 7, "conv3": 4, "fc": 7}
    assert packed_bytes(COUNTS, bits, ()) == 992
    # an FP32 (excluded) layer counts 4 B per weight and bias
    assert packed_bytes(COUNTS, start, ("conv1",)) == 1184 - 56 - 32 + 4 * (64 + 8)
    # a budget met at the default widths lowers nothing
    assert greedy_bits(sens, COUNTS, start, 4, 1184)[0] == start


@settings(max_examples=50, deadline=None)
@given(
    sens=st.lists(st.floats(0, 1), min_size=4, max_size=4),
    budget=st.integers(752, 1300),
    low=st.integers(4, 6),
)
def test_greedy_meets_every_reachable_budget_without_needless_lowering(sens, budget, low):
    start = dict.fromkeys(COUNTS, 7)
    smallest = hand_packed(dict.fromkeys(COUNTS, low))
    bits, _ = greedy_bits(dict(zip(COUNTS, sens, strict=True)), COUNTS, start, low, budget)
    if budget >= smallest:
        assert packed_bytes(COUNTS, bits, ()) <= budget
    for name in (n for n, b in bits.items() if b == low):  # each lowered layer is needed
        assert packed_bytes(COUNTS, {**bits, name: 7}, ()) > budget


# ---- the CLI's one-line errors (fail before calibration) ------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--qat", "--layer-bits", "conv7=4"], "conv7"),
        (["--qat", "--layer-bits", "conv1:4"], "LAYER=BITS"),
        (["--qat", "--layer-bits", "conv1=8"], "not portable"),
        (["--layer-bits", "conv1=4"], "--qat"),
        (["--max-packed-kb", "1"], "--qat"),
        (["--qat", "--max-packed-kb", "0.7"], "smallest reachable size is 752 bytes"),
        (["--qat", "--layer-bits", "conv2=7", "--max-packed-kb", "0.9"], "944 bytes"),
    ],
)
def test_cli_bad_mixed_input(extra, message, quant_run, quant_data, tmp_path, capsys):
    args = ["quantize", str(quant_run), "--data", str(quant_data), "--out", str(tmp_path / "o")]
    code, _, err = run_cli([*args, *extra], capsys)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]
    if "conv7" in extra[-1]:  # names the model's layers
        assert "conv1, conv2, conv3, fc" in lines[0]
    assert not list(tmp_path.iterdir())


# ---- quantizing (QAT) -----------------------------------------------------------------------
def test_explicit_layer_bits_export_packed_memory_and_golden(quant_run, quant_data, tmp_path):
    cfg = QATConfig(epochs=1, layer_bits=(("conv2", 4), ("fc", 5)), calib_frames=128)
    with open_frames(quant_data) as frames:
        result = quantize(quant_run, cfg, frames, tmp_path / "q")
    d = result.details
    bits = {"conv1": 7, "conv2": 4, "conv3": 7, "fc": 5}
    assert d["layer_bits"] == bits and d["mixed"] and d["weight_bits"] == 7
    q = int8_weights(result.int8_path)
    assert all(a.dtype == np.int8 for a in q.values())  # int8 storage whatever the width
    # 4 bits: |q| <= 7, at most 15 levels per channel; 7 bits (control): more levels, |q| to 63
    assert np.abs(q["conv2"]).max() <= 7 and max(levels_per_channel(q["conv2"])) <= 15
    assert np.abs(q["fc"]).max() <= 15
    assert np.abs(q["conv3"]).max() == 63 and max(levels_per_channel(q["conv3"])) > 15
    # memory at each layer's packed width, counted by hand
    assert d["packed_bytes"] == hand_packed(bits) == 56 + 256 + 448 + 40 + 4 * 44
    assert d["parameter_memory_mb_packed"] == pytest.approx(hand_packed(bits) / 2**20)
    rows = {(r["layer"], r["learnable"]): r for r in d["learnables"]}
    assert (
        rows[("conv2", "weight")]["bits"] == 4 and rows[("conv2", "weight")]["packed_bytes"] == 256
    )
    # the same integers in ONNX Runtime and the golden model; no pair can saturate
    assert d["onnxruntime"]["golden_match"]["bit_exact"]
    assert d["max_pair_sum"] <= d["pair_limit"] and d["layers"]["conv2"]["pair_bound"] <= 255 * 14
    meta = {p.key: p.value for p in onnx.load(str(result.int8_path)).metadata_props}
    assert json.loads(meta["amrkit.quantization"])["layer_bits"] == bits


def test_budget_chooses_the_less_sensitive_big_layer(quant_run, quant_data, tmp_path, capsys):
    """1,000 B: the default 7 bits take 1,184 B; only conv2 or conv3 (192 B each) at 4 bits
    fits, so the chooser must pick the one whose 4-bit weights change the outputs less."""
    out = tmp_path / "mixed"
    args = ["quantize", str(quant_run), "--data", str(quant_data), "--out", str(out)]
    args += ["--qat", "--epochs", "0", "--calib-frames", "128", "--max-packed-kb", "1"]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    d = json.loads((out / "quantization.json").read_text())
    m = d["mixed_precision"]
    sens = m["sensitivity"]
    assert set(sens) == set(COUNTS) and all(v > 0 for v in sens.values())
    assert sens["conv2"] != sens["conv3"]
    low = min(("conv2", "conv3"), key=sens.get)
    bits = {**dict.fromkeys(COUNTS, 7), low: 4}
    assert m["chosen_bits"] == d["layer_bits"] == bits
    assert m["packed_bytes"] == d["packed_bytes"] == hand_packed(bits) == 992
    assert m["packed_bytes_default"] == 1184 and m["budget_bytes"] == 1000
    q = int8_weights(out / "model_int8.onnx")
    high = "conv3" if low == "conv2" else "conv2"
    assert np.abs(q[low]).max() <= 7 and np.abs(q[high]).max() == 63
    assert d["onnxruntime"]["golden_match"]["bit_exact"]
    assert "mixed-precision weights" in stdout and "992 B" in stdout
