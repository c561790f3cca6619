"""``amrkit zoo add`` and ``amrkit zoo rebuild`` of a run trained with ``amrkit train --synth``
(frames synthesized per epoch, no data file): the card's synth section, the INT8 file made
from epoch 0's frames (deterministic, and those frames), the refusals, and a rebuild."""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from zoo_fixtures import invoke, one_line_error

from amrkit.cli import main

CLASSES = ("BPSK", "QPSK", "GFSK", "DSB-AM")
EPOCHS = 2
CARD = {"test_frames_per_class": 20, "sweep_snrs": [10.0], "sweep_frames_per_snr": 5,
        "golden_frames": 16, "mcu": False}  # fmt: skip
ADD = ["--calib-frames", "32", "--workers", "1", "--threads", "1"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pick_synth_seed() -> int:
    """The first synth seed whose validation seed and epoch 2's seed (minus one: the sweep
    seed is test seed + 1) are valid card test seeds, so that the refusals can be asked for."""
    from amrkit.train.synth import eval_seed, train_seed

    for seed in range(1000):
        if eval_seed(seed) < 2**62 and 0 < train_seed(seed, 1) <= 2**62:
            return seed
    raise AssertionError("no synth seed in range(1000) gives testable seeds")


def train_synth(out: Path, seed: int, data: Path | None = None, eval_fpc: int = 20) -> Path:
    """A tiny --synth run: 4 classes, 128 samples, 40 frames per class and epoch, 2 epochs."""
    from amrkit.data.synth import preset_config
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model
    from amrkit.train.synth import SynthData

    cfg = preset_config("matlab", classes=CLASSES, frames_per_class=40, frame_length=128,
                        seed=seed)  # fmt: skip
    tcfg = TrainConfig(epochs=EPOCHS, batch_size=32, lr=0.05, lr_drop_epoch=EPOCHS, seed=0)
    train_model(data, "4x4p,8x4p", out, tcfg, device="cpu", threads=1, progress=False,
                synth=SynthData(cfg, eval_fpc))  # fmt: skip
    return out


def _zoo_add(run: Path, name: str, zoo: Path, card: Path) -> None:
    """``amrkit zoo add RUN --name NAME`` into ``zoo`` with the card config ``card``."""
    args = ("zoo", "add", run, "--name", name, "--zoo", zoo, "--config", card, *ADD, "--json")
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    assert done.value.code in (0, None)


@pytest.fixture(scope="module")
def synth_entry(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A --synth run added with the CLI (no --train-data) to a zoo of its own."""
    root = tmp_path_factory.mktemp("synthzoo")
    threads = torch.get_num_threads()
    try:
        seed = pick_synth_seed()
        run = train_synth(root / "run", seed)
        (root / "card.json").write_text(json.dumps(CARD))
        _zoo_add(run, "synthy", root / "zoo", root / "card.json")
    finally:
        torch.set_num_threads(threads)
    return {"root": root, "run": run, "zoo": root / "zoo", "seed": seed}


def test_add_of_a_synth_run_records_its_frames_and_loads(synth_entry, monkeypatch):
    from amrkit import zoo
    from amrkit.data.synth import config_from_mapping
    from amrkit.metrics.evaluate import evaluate_predictor
    from amrkit.train.synth import SynthData, eval_seed, train_seed
    from amrkit.zoo.cards import render_markdown
    from amrkit.zoo.measure import CardConfig, synth_frames, test_configs

    seed, run = synth_entry["seed"], synth_entry["run"]
    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(synth_entry["zoo"]))
    card = zoo.card("synthy")
    synth = SynthData.from_dict(json.loads((run / "run.json").read_text())["synth"])
    data = card["training"]["data"]
    # the keys every card has, a --synth run's meaning: synth seed, frames per class per epoch
    assert (data["seed"], data["frames_per_class"], data["frame_length"]) == (seed, 40, 128)
    assert data["snrs"] == [30.0] and data["preset"] == "matlab"
    assert data["num_frames"] == EPOCHS * 160 + 80  # every frame the run made
    assert data["synth"] == {
        **data["synth"],
        "seed": seed, "frames_per_class_per_epoch": 40, "frames_per_epoch": 160,
        "epochs": EPOCHS, "training_frames": EPOCHS * 160, "eval_frames_per_class": 20,
        "eval_frames": 80, "eval_seed": eval_seed(seed),
        "epoch_seeds": [train_seed(seed, e) for e in range(EPOCHS)],
    }  # fmt: skip
    assert config_from_mapping(card["commands"]["configs"]["data"]) == synth.config
    frames = card["quantization"]["frames"]
    assert frames["train"] == {"epoch": 0, "seed": train_seed(seed, 0), "frames": 160}
    assert frames["calibration_frames"] == 32 and frames["validation"]["frames"] == 40
    page = render_markdown(card)
    assert "synthesized afresh every epoch" in page and f"= {EPOCHS * 160} distinct" in page
    assert "calibrated on 32 of epoch 0's 160 training frames" in page
    record = json.loads((synth_entry["zoo"] / "index.json").read_text())["entries"]["synthy"]
    assert record["recipe"]["data"]["synth"] == {
        "epochs": EPOCHS,
        "training_frames": EPOCHS * 160,
        "eval_frames_per_class": 20,
    }
    # the entry loads; its FP32 weights are the run's
    model = zoo.pretrained("synthy")
    saved = torch.load(run / "model.pt", weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    # its INT8 file gives the card's count on the card's own test frames (integer kernels)
    test_cfg, _ = test_configs(synth.config, CardConfig(**CARD))
    pred = zoo.predictor("synthy", "int8")
    res = evaluate_predictor(pred, synth_frames(test_cfg), split="all", top_confused=0)
    assert res["correct"] == card["evaluation"]["test"]["int8"]["correct"]
    assert res["num_frames"] == 80 == card["evaluation"]["test"]["int8"]["frames"]


def quantize_on(run: Path, train_cfg, eval_cfg, out: Path) -> Path:
    """``amrkit.quant.quantize`` of ``run`` (the builder's PTQ, 32 calibration frames) on the
    frames of ``train_cfg`` (split train) and ``eval_cfg``'s validation frames."""
    from amrkit.data.frames import array_frameset
    from amrkit.data.synth import synthesize_arrays
    from amrkit.quant import PTQConfig, quantize

    tr, ev = synthesize_arrays(train_cfg), synthesize_arrays(eval_cfg)
    val = ev["split"] == 1
    frames = array_frameset(
        np.concatenate([tr["iq"], ev["iq"][val]]),
        np.concatenate([tr["label"], ev["label"][val]]), CLASSES,
        np.concatenate([tr["snr_db"], ev["snr_db"][val]]),
        np.concatenate([np.zeros(len(tr["label"]), np.uint8), np.ones(int(val.sum()), np.uint8)]),
    )  # fmt: skip
    return quantize(run, PTQConfig(calib_frames=32), frames, out, threads=1).int8_path


def test_int8_file_is_calibrated_on_epoch_0_deterministically(synth_entry, tmp_path):
    from amrkit.quant import PTQConfig
    from amrkit.train.synth import SynthData
    from amrkit.zoo.build import add_entry
    from amrkit.zoo.measure import CardConfig

    run = synth_entry["run"]
    first = synth_entry["zoo"] / "synthy" / "model_int8.onnx"
    again = add_entry(run, None, "synthy", card_config=CardConfig(**CARD),
                      ptq=PTQConfig(calib_frames=32), zoo_dir=tmp_path / "zoo", workers=1,
                      threads=1)  # fmt: skip
    assert sha(again.file("int8")) == sha(first)  # same run, same bytes
    # the file is the one amrkit.quant makes from epoch 0's training frames, and not from
    # another epoch's (the control: other calibration frames, other bytes)
    synth = SynthData.from_dict(json.loads((run / "run.json").read_text())["synth"])
    epoch0 = quantize_on(run, synth.epoch_config(0), synth.eval_config(), tmp_path / "q0")
    epoch1 = quantize_on(run, synth.epoch_config(1), synth.eval_config(), tmp_path / "q1")
    assert sha(epoch0) == sha(first)
    assert sha(epoch1) != sha(first)


def test_add_refusals_are_one_line_and_leave_nothing(synth_entry, tmp_path, capsys):
    from amrkit.data.synth import preset_config, synthesize
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model
    from amrkit.train.synth import eval_seed, train_seed

    seed, run, zoo = synth_entry["seed"], synth_entry["run"], tmp_path / "zoo"
    h5 = tmp_path / "file.h5"
    synthesize(preset_config("matlab", classes=CLASSES, frames_per_class=10, frame_length=128,
                             seed=9), h5)  # fmt: skip
    file_run = tmp_path / "file-run"
    train_model(h5, "4x4p", file_run, TrainConfig(epochs=1, batch_size=16), device="cpu",
                threads=1, progress=False)  # fmt: skip
    data_run = train_synth(tmp_path / "data-run", seed, data=h5, eval_fpc=0)  # val/test: DATA
    qdir = tmp_path / "qat"
    qdir.mkdir()
    base = ["zoo", "add", "--name", "t", "--zoo", zoo, "--no-mcu", "--workers", "1"]
    cases = [
        ([run, "--train-data", h5], "drop --train-data"),
        ([file_run], "was trained on a data file; give --train-data FILE"),
        ([run, "--test-seed", str(eval_seed(seed))], "the validation/test frames' seed"),
        ([run, "--test-seed", str(train_seed(seed, 1) - 1)], "epoch 2's training seed"),
        ([run, "--test-seed", str(seed)], "the synth seed"),
        ([run, "--int8", qdir], "give --qat-config FILE instead"),
        ([run, "--int8", qdir, "--calib-frames", "8"], "both choose the INT8 file"),
        ([data_run], "validated on a DATA file's val/test splits"),
    ]
    for extra, needle in cases:
        code, _, err = invoke(capsys, *base, *extra)
        assert needle in one_line_error(code, err), err
    assert not zoo.exists() or not [p for p in zoo.iterdir() if p.name != "index.json"]
    # the control: the file run with its file is accepted up to the entry
    code, _, err = invoke(capsys, *base, file_run, "--train-data", h5, "--test-frames-per-class",
                          "2", "--sweep-snrs", "30", "--sweep-frames-per-snr", "1",
                          "--golden-frames", "0", "--calib-frames", "8")  # fmt: skip
    assert code == 0 and (zoo / "t" / "card.json").is_file(), err


def test_rebuild_of_a_synth_entry_retrains_on_synthesized_frames(
    synth_entry, tmp_path, capsys, monkeypatch
):
    from amrkit.data.synth import load_config
    from amrkit.train.synth import SynthData

    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(synth_entry["zoo"]))
    monkeypatch.chdir(tmp_path)
    card = json.loads((synth_entry["zoo"] / "synthy" / "card.json").read_text())
    cmds = card["commands"]["rebuild"]
    assert any(" --synth rebuild-synthy/synth.json " in c for c in cmds)
    assert not any("generate" in c or "--train-data" in c for c in cmds)
    args = ["--no-mcu", "--workers", "1", "--threads", "1", "--device", "cpu", "--json"]
    code, stdout, err = invoke(capsys, "zoo", "rebuild", "synthy", "--out", "rebuild-synthy",
                               *args)  # fmt: skip
    assert code == 0, err
    out = tmp_path / "rebuild-synthy"
    res = json.loads(stdout)
    assert res == json.loads((out / "comparison.json").read_text())
    assert res["data_identical"]  # the same SynthData and epochs
    for key in ("macs", "learnables", "int8_bytes"):
        assert res[key]["card"] == res[key]["rebuild"]
    assert not (out / "data.json").exists() and not (out / "data.h5").exists()
    original = json.loads((synth_entry["run"] / "run.json").read_text())["synth"]
    assert load_config(out / "synth.json") == SynthData.from_dict(original).config
    assert json.loads((out / "run" / "run.json").read_text())["synth"] == original
    new = json.loads((out / "zoo" / "synthy" / "card.json").read_text())
    assert new["training"]["data"]["synth"] == card["training"]["data"]["synth"]
    # the card's train command runs as printed and trains the very same network
    train = shlex.split(cmds[1].replace("rebuild-synthy/run", "printed-run"))
    assert train[:3] == ["amrkit", "train", "--synth"]
    code, _, err = invoke(capsys, *train[1:], "-q", "--threads", "1", "--device", "cpu")
    assert code == 0, err
    assert json.loads((tmp_path / "printed-run" / "run.json").read_text())["synth"] == original
    a = torch.load(out / "run" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "printed-run" / "model.pt", weights_only=True)
    assert all(torch.equal(v, b[k]) for k, v in a.items())


def test_qat_config_fine_tunes_a_synth_run_on_its_epoch_0_frames(synth_entry, tmp_path, capsys):
    from amrkit.train.synth import eval_seed, train_seed

    seed, root = synth_entry["seed"], synth_entry["root"]
    qat = tmp_path / "qat.json"
    qat.write_text(json.dumps({"epochs": 1, "batch_size": 32, "calib_frames": 32}))
    code, _, err = invoke(capsys, "zoo", "add", synth_entry["run"], "--name", "q", "--zoo",
                          tmp_path / "zoo", "--config", root / "card.json", "--qat-config", qat,
                          "--workers", "1", "--threads", "1")  # fmt: skip
    assert code == 0, err
    entry = tmp_path / "zoo" / "q"
    card = json.loads((entry / "card.json").read_text())
    details = json.loads((entry / "quantization.json").read_text())
    assert card["quantization"]["mode"] == "qat" and card["commands"]["configs"]["qat"]["epochs"]
    assert "and QAT fine-tuned on all of them" in card["quantization"]["frames"]["text"]
    # QAT's data: epoch 0's 160 training frames and the run's 40 validation frames
    assert details["data"]["train_seed"] == train_seed(seed, 0)
    assert details["data"]["eval_seed"] == eval_seed(seed)
    assert details["data"]["num_frames"] == 160 + 40
    assert len(details["qat"]["history"]) == 1 and "val_acc" in details["qat"]["history"][0]
    assert any(" --qat-config rebuild-q/qat.json " in c for c in card["commands"]["rebuild"])


def train_mix(out: Path, seed: int) -> Path:
    """A tiny --synth run on a mixture: train_synth's matlab frames (40 per class) plus 21 per
    class of the wide preset (one per SNR), 2 epochs."""
    from amrkit.data.synth import preset_config
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model
    from amrkit.train.synth import SynthData

    kw = {"classes": CLASSES, "frame_length": 128, "seed": seed}
    synth = SynthData(preset_config("matlab", frames_per_class=40, **kw), 20,
                      (preset_config("wide", frames_per_class=21, **kw),))  # fmt: skip
    tcfg = TrainConfig(epochs=EPOCHS, batch_size=32, lr=0.05, lr_drop_epoch=EPOCHS, seed=0)
    train_model(None, "4x4p,8x4p", out, tcfg, device="cpu", threads=1, progress=False,
                synth=synth)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def mix_entry(synth_entry: dict) -> dict:
    """A --synth run on a mixture of two sources, added to the synth entry's zoo as ``mixy``."""
    root, seed = synth_entry["root"], synth_entry["seed"]
    threads = torch.get_num_threads()
    try:
        run = train_mix(root / "mix-run", seed)
        _zoo_add(run, "mixy", synth_entry["zoo"], root / "card.json")
    finally:
        torch.set_num_threads(threads)
    return {**synth_entry, "run": run}


def test_a_mixture_entry_records_every_source(mix_entry, monkeypatch):
    from amrkit import zoo
    from amrkit.train.synth import SynthData, mix_seed, train_seed
    from amrkit.zoo.cards import render_markdown
    from amrkit.zoo.check import used_seeds
    from amrkit.zoo.rebuild import synth_of

    seed = mix_entry["seed"]
    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(mix_entry["zoo"]))
    card, single = zoo.card("mixy"), zoo.card("synthy")
    synth = SynthData.from_dict(json.loads((mix_entry["run"] / "run.json").read_text())["synth"])
    assert [c.preset for c in synth.configs] == ["matlab", "wide"]
    assert synth_of(card) == synth  # the card holds every source's config
    data = card["training"]["data"]
    assert data["num_frames"] == EPOCHS * (160 + 84) + 80
    assert data["synth"]["epoch_seeds"] == [train_seed(seed, e) for e in range(EPOCHS)]
    mixed = [mix_seed(seed, e, 1) for e in range(EPOCHS)]
    assert data["synth"]["mix"][0]["epoch_seeds"] == mixed
    assert data["synth"]["mix"][0]["frames_per_class_per_epoch"] == 21
    assert set(mixed) <= used_seeds(card) and not set(mixed) & used_seeds(single)  # control
    assert "mix" not in single["training"]["data"]["synth"]
    assert "data_mix" not in single["commands"]["configs"]
    assert card["use"]["snr_range"].startswith("-10…30 dB")  # the wide source's SNRs count
    page = render_markdown(card)
    assert "a mixture: 40 per class per epoch of `matlab` preset frames; plus 21 per " in page
    assert "of `wide` preset frames (drawn from: " in page
    assert "mixed in every epoch: 21 frames per class of preset `wide`" in page
    assert "each training frame drawn from" not in page
    assert "a mixture" not in render_markdown(single)  # control
    frames = card["quantization"]["frames"]
    assert frames["train"]["frames"] == 160 + 84 and frames["train"]["mix_seeds"] == mixed[:1]


def test_a_mixture_is_calibrated_on_every_source(mix_entry):
    from amrkit.data.synth import synthesize_arrays
    from amrkit.train.synth import SynthData
    from amrkit.zoo.build import synth_quant_frames

    synth = SynthData.from_dict(json.loads((mix_entry["run"] / "run.json").read_text())["synth"])
    frames = synth_quant_frames(synth)
    train = frames.indices("train")
    assert len(train) == 160 + 84 and len(frames.indices("val")) == 40
    main_cfg, wide_cfg = synth.epoch_configs(0)
    got = frames.read(train)
    assert np.array_equal(got[:160], synthesize_arrays(main_cfg)["iq"])
    assert np.array_equal(got[160:], synthesize_arrays(wide_cfg)["iq"])
    assert frames.source["mix_seeds"] == [wide_cfg.seed]


def test_rebuild_of_a_mixture_entry(mix_entry, tmp_path, capsys, monkeypatch):
    from amrkit.data.synth import load_config

    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(mix_entry["zoo"]))
    monkeypatch.chdir(tmp_path)
    card = json.loads((mix_entry["zoo"] / "mixy" / "card.json").read_text())
    cmds = card["commands"]["rebuild"]
    files = "rebuild-mixy/synth.json,rebuild-mixy/synth-mix1.json"
    assert any(f" --synth {files} --frames-per-class 40,21 " in c for c in cmds)
    args = ["--no-mcu", "--workers", "1", "--threads", "1", "--device", "cpu", "--json"]
    code, stdout, err = invoke(capsys, "zoo", "rebuild", "mixy", "--out", "rebuild-mixy", *args)
    assert code == 0, err
    assert json.loads(stdout)["data_identical"]
    out = tmp_path / "rebuild-mixy"
    original = json.loads((mix_entry["run"] / "run.json").read_text())["synth"]
    assert json.loads((out / "run" / "run.json").read_text())["synth"] == original
    assert load_config(out / "synth-mix1.json").preset == "wide"
