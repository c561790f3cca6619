"""Packed 4-bit weights (``amrkit deploy --pack``): the nibble layout, packed and unpacked
builds equal to each other and to the golden model (host, and Cortex-M4 / M55 under QEMU), a
packed weight array half the bytes, and 7-bit models left unpacked (the control)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from amrkit.deploy import mcu, write_library
from amrkit.deploy.host import build_host, find_cc, run_example
from amrkit.deploy.pack import fits, pack_rows, unpack_rows
from amrkit.deploy.report import library_flash
from amrkit.errors import AmrkitError

NO_CC = find_cc() is None
MISSING = mcu.toolchain_missing()


# ---- the layout -------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(cout=st.integers(1, 9), groups=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_pack_round_trip_and_half_the_bytes(cout, groups, seed):
    rows = np.random.default_rng(seed).integers(-8, 8, (cout, 8 * groups)).astype(np.int8)
    packed = pack_rows(rows)
    assert packed.dtype == np.uint8 and packed.shape == (cout, 4 * groups)
    assert np.array_equal(unpack_rows(packed), rows)


def test_nibble_order_is_the_documented_one():
    row = np.array([[-8, -1, 0, 7, 1, 2, 3, -7, *range(-4, 4)]], np.int8)  # 16 taps
    b = pack_rows(row)[0]
    # byte j of a group: tap j + 8 (low nibble), tap j + 4 + 8 (high nibble)
    assert b[0] == (-8 + 8) | (1 + 8) << 4 and b[3] == (7 + 8) | (-7 + 8) << 4
    assert b[4] == (-4 + 8) | (0 + 8) << 4


def test_values_outside_4_bits_do_not_pack():
    rows = np.zeros((2, 8), np.int8)
    rows[1, 3] = 8
    assert not fits(rows) and fits(rows - 8 * (rows > 0))
    with pytest.raises(AmrkitError, match="--pack off"):
        pack_rows(rows)


# ---- packed vs unpacked builds ---------------------------------------------------------------
def _array_sizes(lib: Path) -> dict[str, int]:
    text = (lib / "amr_weights.c").read_text()
    return {m[1]: int(m[2]) for m in re.finditer(r"const \w+ (amr_\w+)\[(\d+)\]", text)}


@pytest.fixture(scope="module")
def packed_pair(mixed_model, tmp_path_factory) -> dict:
    """The mixed-precision model (conv2 at 4 bits) generated with --pack auto and off."""
    from amrkit.golden import load_integer_model

    path, test = mixed_model
    model = load_integer_model(path)
    root = tmp_path_factory.mktemp("packed")
    info = {mode: write_library(model, root / mode, pack_weights=mode) for mode in ("auto", "off")}
    return {"model": model, "path": path, "test": test, "root": root, "info": info}


def test_only_the_4_bit_layer_is_packed_in_half_the_bytes(packed_pair):
    auto, off = packed_pair["info"]["auto"], packed_pair["info"]["off"]
    assert auto["weight_packing"]["packed_layers"] == ["conv2"]  # conv4 5 bits, fc 6: int8
    assert off["weight_packing"]["packed_layers"] == []
    a, o = _array_sizes(packed_pair["root"] / "auto"), _array_sizes(packed_pair["root"] / "off")
    assert "amr_conv2_w" not in a and "amr_conv2_wp" not in o
    assert a["amr_conv2_wp"] * 2 == o["amr_conv2_w"]
    assert a["amr_conv3_w"] == o["amr_conv3_w"]  # 7-bit layer: unchanged
    saved = off["parameter_bytes"] - auto["parameter_bytes"]
    assert saved == a["amr_conv2_wp"]
    header = (packed_pair["root"] / "auto" / "amr_model.h").read_text()
    assert "#define AMR_PACKED_LAYERS 1" in header
    stored = json.loads((packed_pair["root"] / "auto" / "deploy.json").read_text())
    rows = {r["layer"]: r for r in stored["weight_packing"]["layers"]}
    assert rows["conv2"]["recorded_bits"] == 4 and rows["conv2"]["storage"] == "int4x2"
    assert rows["conv4"]["recorded_bits"] == 5 and rows["conv4"]["storage"] == "int8"


def test_7_bit_models_are_not_packed(libraries):
    """The control: PTQ (7-bit) layers reach ±63, so nothing packs."""
    for _, lib in libraries.values():
        info = json.loads((lib / "deploy.json").read_text())
        assert info["weight_packing"]["packed_layers"] == []
        assert "#define AMR_PACKED_LAYERS 0" in (lib / "amr_model.h").read_text()


@pytest.mark.skipif(NO_CC, reason="no host C compiler (cc)")
def test_packed_and_unpacked_host_builds_equal_the_golden_model(packed_pair, golden, tmp_path):
    from amrkit.data.open import open_frames
    from amrkit.deploy.host import frames_file

    model = packed_pair["model"]
    with open_frames(packed_pair["test"]) as frames:
        iq = frames.read(frames.indices("all")[::5])  # 220 frames
    want = golden.ints(model, iq)
    f = frames_file(iq, tmp_path / "frames.f32")
    for mode in ("auto", "off"):
        exe = build_host(packed_pair["root"] / mode, tmp_path / mode)
        got = run_example(exe, f, num_classes=model.num_classes)
        assert np.array_equal(got, want), mode


def _all_4_bit_hand_model():
    """The hand model (every kernel: reflect pad, strided dilated conv with a negative
    multiplier, a padded 3-wide pool, dense) with all weights in -8..7: every layer packs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_dc", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build_hand_model()
    rng = np.random.default_rng(5)
    for op in model.ops:
        if hasattr(op, "weight") and op.weight is not None:
            op.weight = rng.integers(-8, 8, op.weight.shape).astype(np.int8)
            op.__post_init__()  # the golden op's centered weights
    return model


@pytest.mark.skipif(NO_CC, reason="no host C compiler (cc)")
def test_every_kernel_path_packed_on_the_host(tmp_path):
    model = _all_4_bit_hand_model()
    info = write_library(model, tmp_path / "lib")
    assert info["weight_packing"]["packed_layers"] == ["conv", "fc"]
    assert "#define AMR_INT8_LAYERS 0" in (tmp_path / "lib" / "amr_model.h").read_text()
    xq = np.random.default_rng(2).integers(-128, 128, (50, 2, 64)).astype(np.int8)
    offset = mcu.header_value(tmp_path / "lib", "INPUT_OFFSET")
    f = mcu.int8_frames_file(xq, tmp_path / "f.i8", offset)
    got = run_example(build_host(tmp_path / "lib", tmp_path / "exe"), f, "--int8", num_classes=4)
    assert np.array_equal(got, model.run_integer(xq).astype(np.int64))


# ---- Cortex-M under QEMU ---------------------------------------------------------------------
@pytest.mark.skipif(MISSING is not None, reason=f"Cortex-M toolchain: {MISSING}")
@pytest.mark.parametrize(("cpu", "dsp", "mve"), [("cortex-m4", True, False),
                                                 ("cortex-m4", False, False),
                                                 ("cortex-m55", False, True)])  # fmt: skip
def test_packed_build_bit_exact_under_qemu_100_frames(packed_pair, cpu, dsp, mve, tmp_path):
    from amrkit.data.open import open_frames

    model = packed_pair["model"]
    with open_frames(packed_pair["test"]) as frames:
        xq = model.quantize_input(frames.read(frames.indices("all")[::11][:100]))
    lib = packed_pair["root"] / "auto"
    run = mcu.measure(lib, tmp_path / "run", xq, cpu=cpu, dsp=dsp, mve=mve)
    assert len(run["logits"]) == 100
    assert np.array_equal(run["logits"], model.run_integer(xq).astype(np.int64))
    flash = run["library"]["text"] + run["library"]["data"]
    off = library_flash(packed_pair["root"] / "off", tmp_path / "off", cpu=cpu, dsp=dsp, mve=mve)
    info = packed_pair["info"]
    saved = info["off"]["parameter_bytes"] - info["auto"]["parameter_bytes"]
    # the image saves the packed weights' bytes, less the unpacking code (under 1.5 KB)
    assert saved - 1536 < off - flash <= saved


@pytest.mark.skipif(MISSING is not None, reason=f"Cortex-M toolchain: {MISSING}")
def test_all_packed_hand_model_under_qemu(tmp_path):
    model = _all_4_bit_hand_model()
    write_library(model, tmp_path / "lib")
    xq = np.random.default_rng(3).integers(-128, 128, (20, 2, 64)).astype(np.int8)
    want = model.run_integer(xq).astype(np.int64)
    for cpu, dsp, mve in (("cortex-m4", True, False), ("cortex-m55", False, True)):
        run = mcu.measure(tmp_path / "lib", tmp_path / cpu, xq, cpu=cpu, dsp=dsp, mve=mve)
        assert np.array_equal(run["logits"], want), cpu


# ---- CLI ---------------------------------------------------------------------------------------
def test_cli_pack_option(packed_pair, tmp_path):
    from amrkit.cli import app

    path = packed_pair["path"]
    runner = CliRunner()
    bad = runner.invoke(app, ["deploy", str(path), "--out", str(tmp_path / "x"), "--pack", "on"])
    assert bad.exit_code == 1 and "--pack 'on'" in bad.output and not (tmp_path / "x").exists()
    ok = runner.invoke(app, ["deploy", str(path), "--out", str(tmp_path / "y"), "--pack", "off",
                             "--json"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["weight_packing"]["packed_layers"] == []
