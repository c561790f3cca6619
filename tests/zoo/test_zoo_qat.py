"""Zoo entries whose INT8 file is a QAT / mixed-precision one (``zoo add --int8 QDIR``): the
file is taken byte for byte after checks against the run and its data, the card says QAT
and records the QATConfig, a rebuild reruns QAT with it, and the Cortex-M section gives
the packed and the unpacked flash. On the tiny entry's run: QAT of 1 epoch, 4-bit conv2
and fc, conv1 at 7 bits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from zoo_fixtures import invoke, one_line_error

from amrkit.cli import main
from amrkit.pretrained import INT8_FILE, QUANT_FILE

QAT_FLAGS = ["--qat", "--epochs", "1", "--bits", "4", "--layer-bits", "conv1=7",
             "--calib-frames", "64", "--batch-size", "32", "--threads", "1"]  # fmt: skip
SMALL_CARD = ["--no-mcu", "--workers", "1", "--threads", "1", "--test-frames-per-class",
              "20", "--sweep-snrs", "0,30", "--sweep-frames-per-snr", "5", "--golden-frames",
              "32"]  # fmt: skip


def run_cli(*args) -> None:
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        assert not exc.code, f"amrkit {' '.join(map(str, args))} failed"


def qat_config():
    from amrkit.quant import QATConfig

    return QATConfig(epochs=1, weight_bits=4, layer_bits=(("conv1", 7),), calib_frames=64,
                     batch_size=32)  # fmt: skip


@pytest.fixture(scope="module")
def work(tiny_zoo: Path) -> Path:
    return tiny_zoo.parent / "work"  # run/ and train.h5 of the tiny entry


@pytest.fixture(scope="module")
def qat_dir(work: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``amrkit quantize RUN --qat ...`` output, as a user makes it."""
    out = tmp_path_factory.mktemp("qat") / "q"
    run_cli("quantize", work / "run", "--data", work / "train.h5", *QAT_FLAGS, "--out", out)
    return out


@pytest.fixture(scope="module")
def qat_zoo(work: Path, qat_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    zoo = tmp_path_factory.mktemp("qatzoo") / "zoo"
    run_cli("zoo", "add", work / "run", "--name", "tq", "--train-data", work / "train.h5",
            "--int8", qat_dir, "--zoo", zoo, *SMALL_CARD)  # fmt: skip
    return zoo


def test_int8_entry_carries_the_qat_file(qat_zoo, qat_dir, tiny_zoo, tmp_path, capsys):
    from amrkit.config import from_file, to_dict
    from amrkit.quant import QATConfig

    entry = qat_zoo / "tq"
    for name in (INT8_FILE, QUANT_FILE):  # byte for byte
        assert (entry / name).read_bytes() == (qat_dir / name).read_bytes(), name
    code, out, err = invoke(capsys, "zoo", "verify", "tq", "--zoo", qat_zoo)
    assert code == 0 and "zoo:tq: files ok" in out, err
    card = json.loads((entry / "card.json").read_text())
    quant = card["quantization"]
    assert quant["mode"] == "qat" and quant["summary"].startswith("QAT target portable, 1 epoch ")
    assert quant["layer_bits"] == {"conv1": 7, "conv2": 4, "fc": 4} and quant["mixed"]
    assert quant["four_bit_layers"] == ["conv2", "fc"]
    assert quant["packed_parameter_bytes"] < quant["parameter_bytes"]
    configs = card["commands"]["configs"]
    assert configs["qat"] == to_dict(qat_config()) and "ptq" not in configs
    assert quant["config"] == configs["qat"]
    rebuild = "\n".join(card["commands"]["rebuild"])
    assert "--qat --config rebuild-tq/qat.json" in rebuild and "--int8 rebuild-tq/qat" in rebuild
    # the printed rebuild command's --config reads the recorded config back
    (tmp_path / "qat.json").write_text(json.dumps(configs["qat"]))
    assert from_file(QATConfig, tmp_path / "qat.json") == qat_config()
    code, out, _ = invoke(capsys, "zoo", "show", "tq", "--zoo", qat_zoo)
    assert code == 0 and "quantization: QAT target portable" in out
    # control: a PTQ entry's card is as before (no QAT keys, a ptq config)
    tiny = json.loads((tiny_zoo / "tiny" / "card.json").read_text())
    assert "ptq" in tiny["commands"]["configs"] and "qat" not in tiny["commands"]["configs"]
    assert "layer_bits" not in tiny["quantization"]
    assert tiny["quantization"]["summary"].startswith("PTQ target portable, 7-bit weights")


def test_int8_refusals_leave_nothing(work, qat_dir, tiny_zoo, tmp_path, capsys):
    other_run = tmp_path / "other-run"  # same weights, another run folder
    shutil.copytree(work / "run", other_run)
    no_details = tmp_path / "no-details"
    shutil.copytree(qat_dir, no_details)
    (no_details / QUANT_FILE).unlink()
    other_data = tmp_path / "other-data"
    shutil.copytree(qat_dir, other_data)
    details = json.loads((other_data / QUANT_FILE).read_text())
    details["data"]["config_hash"] = "0" * 16
    (other_data / QUANT_FILE).write_text(json.dumps(details))
    swapped = tmp_path / "swapped"  # the QAT folder with the PTQ entry's INT8 file
    shutil.copytree(qat_dir, swapped)
    shutil.copyfile(tiny_zoo / "tiny" / INT8_FILE, swapped / INT8_FILE)
    zoo = tmp_path / "zoo"
    base = ["zoo", "add", "--name", "t", "--train-data", work / "train.h5", "--zoo", zoo,
            *SMALL_CARD]  # fmt: skip
    cases = [
        ([other_run, "--int8", qat_dir], "was quantized from run"),
        ([work / "run", "--int8", no_details], f"lacks {QUANT_FILE}"),
        ([work / "run", "--int8", tiny_zoo / "tiny"], "holds a PTQ file"),
        ([work / "run", "--int8", other_data], "was quantized on other data"),
        ([work / "run", "--int8", swapped], "mode, layer_bits differ"),
        ([work / "run", "--int8", qat_dir, "--calib-frames", "32"], "--int8 takes a QAT file"),
    ]
    for extra, needle in cases:
        code, _, err = invoke(capsys, *base[:2], extra[0], *base[2:], *extra[1:])
        assert needle in one_line_error(code, err), err
    assert not zoo.exists() or not [p for p in zoo.iterdir() if p.name != "index.json"]


def test_rebuild_of_a_qat_entry_reruns_qat(qat_zoo, tiny_zoo, tmp_path, capsys):
    from amrkit.artifacts import read_model_info
    from amrkit.quant import PTQConfig
    from amrkit.zoo.rebuild import quant_step

    card = json.loads((qat_zoo / "tq" / "card.json").read_text())
    assert quant_step(card["commands"]["configs"]) == {"qat": qat_config()}
    tiny = json.loads((tiny_zoo / "tiny" / "card.json").read_text())
    assert quant_step(tiny["commands"]["configs"]) == {"ptq": PTQConfig(calib_frames=64)}
    out = tmp_path / "rb"
    code, stdout, err = invoke(capsys, "zoo", "rebuild", "tq", "--zoo", qat_zoo, "--out", out,
                               "--no-mcu", "--workers", "1", "--threads", "1", "--device",
                               "cpu", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["data_identical"]
    assert (out / "qat.json").is_file() and not (out / "ptq.json").exists()
    assert "QAT epoch 1" not in err  # --json: quiet
    new = json.loads((out / "zoo" / "tq" / "card.json").read_text())
    assert new["commands"]["configs"]["qat"] == card["commands"]["configs"]["qat"]
    assert new["quantization"]["mode"] == "qat"
    assert new["quantization"]["layer_bits"] == card["quantization"]["layer_bits"]
    details = json.loads((out / "zoo" / "tq" / QUANT_FILE).read_text())
    assert details["source_run"]["path"].endswith("run")  # QAT of the rebuilt run's copy
    assert details["qat"]["history"] and details["config_type"] == "QATConfig"
    meta = json.loads(read_model_info(out / "zoo" / "tq" / INT8_FILE).metadata[
        "amrkit.quantization"])  # fmt: skip
    assert meta["mode"] == "qat" and meta["layer_bits"] == {"conv1": 7, "conv2": 4, "fc": 4}


def test_mcu_section_gives_packed_and_unpacked_flash(qat_dir, tiny_zoo, tmp_path):
    from amrkit.deploy import mcu as toolchain
    from amrkit.zoo.measure import mcu, packing

    # control (no toolchain needed): a PTQ file at 7 bits packs nothing, the section is as before
    assert packing(tiny_zoo / "tiny" / INT8_FILE, {}, tmp_path / "ptq") == {}
    if toolchain.toolchain_missing():
        pytest.skip(f"Cortex-M toolchain not installed: {toolchain.toolchain_missing()}")
    res = mcu(qat_dir / INT8_FILE, tmp_path / "mcu", True)
    assert res["measured"] and res["bit_exact"]
    wp = res["weight_packing"]
    assert wp["packed_layers"] == ["conv2", "fc"]
    assert wp["weight_bytes"] < wp["weight_bytes_unpacked"]
    flash, off = res["flash_bytes"], res["flash_bytes_unpacked"]
    assert isinstance(off, int) and off > 0 and off != flash  # another library, measured
    assert res["flash_saving_pct"] == round(100.0 * (off - flash) / off, 2)
