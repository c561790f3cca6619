"""Training on frames synthesized per epoch (``amrkit train --synth``, amrkit/train/synth.py).

A tiny synth config (4 classes, 128-sample frames, 32 frames per class, blocks of 32) keeps
each run to a second or two.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from amrkit.data.native import FrameWriter
from amrkit.data.synth import preset_config
from amrkit.train.config import TrainConfig, make_config
from amrkit.train.runner import train_model
from amrkit.train.synth import (
    SynthData,
    SynthEpochs,
    eval_frames,
    eval_seed,
    synth_request,
    train_seed,
)

TINY = "8x4p,16x4"
CLASSES = ("BPSK", "QPSK", "16QAM", "GFSK")
SYNTH = SynthData(
    preset_config(
        "matlab", classes=CLASSES, frame_length=128, frames_per_class=32, block_size=32, seed=0
    ),
    eval_frames_per_class=16,
)
CFG = TrainConfig(epochs=2, batch_size=16, checkpoint_every=5, compile="off", precision="fp32")


def run(out: Path, synth: SynthData | None = SYNTH, cfg=CFG, data=None, **kw):
    kw.setdefault("threads", 1)
    return train_model(
        data, kw.pop("model", TINY), out, cfg, synth=synth, progress=False, device="cpu", **kw
    )


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path / "model.pt", map_location="cpu", weights_only=True)


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted --synth run that several tests compare against."""
    n = torch.get_num_threads()
    out = tmp_path_factory.mktemp("synth") / "ref"
    metrics = run(out)
    torch.set_num_threads(n)
    return out, metrics


def test_run_records_how_its_data_was_made(reference):
    out, metrics = reference
    info = json.loads((out / "run.json").read_text())
    assert SynthData.from_dict(info["synth"]) == SYNTH  # the full synthesizer config
    assert info["synth"]["config"]["frames_per_class"] == 32
    assert info["synth"]["config"]["modulation"]["rrc_rolloff"] == 0.35  # not just a name
    assert info["dataset"]["format"] == "synth" and info["classes"] == list(CLASSES)
    assert metrics["train_frames"] == 4 * 32  # per epoch
    assert metrics["val_frames"] == metrics["test_frames"] == 4 * 8  # 16 per class, halved
    synth = metrics["synth"]
    assert len(synth["epoch_seconds"]) == 2 and synth["seconds_total"] > 0
    assert 0 < synth["share"] <= metrics["data_share"] <= 1  # synthesis is data time
    bad = {**info["synth"], "frames": 3}
    with pytest.raises(Exception, match="unknown key"):
        SynthData.from_dict(bad)


def test_same_seed_same_weights_other_synth_seed_other_frames(reference, tmp_path):
    out, _ = reference
    run(tmp_path / "again")
    assert same_weights(weights(out), weights(tmp_path / "again"))
    other = dataclasses.replace(SYNTH, config=dataclasses.replace(SYNTH.config, seed=1))
    a, b = SynthEpochs(SYNTH).for_epoch(0), SynthEpochs(other).for_epoch(0)
    assert torch.equal(a.label, b.label)  # the same class-balanced plan
    assert not torch.equal(a.x, b.x)  # other frames
    run(tmp_path / "other", other)
    assert not same_weights(weights(out), weights(tmp_path / "other"))


def test_every_epoch_has_fresh_class_balanced_frames():
    epochs = SynthEpochs(SYNTH)
    e0 = epochs.for_epoch(0)
    x0 = e0.x.clone()
    e1 = epochs.for_epoch(1)
    assert np.bincount(e1.label.numpy()).tolist() == [32] * 4
    assert torch.equal(e0.label, e1.label) and not torch.equal(x0, e1.x)
    assert torch.equal(SynthEpochs(SYNTH).for_epoch(0).x, x0)  # a pure function of the epoch
    ev = eval_frames(SYNTH)
    evx = torch.from_numpy(ev.read(np.arange(len(ev))))
    for x in (x0, e1.x):  # no validation/test frame is a training frame
        assert not (x[:, None] == evx[None]).flatten(2).all(2).any()
    seeds = {train_seed(0, e) for e in range(100)}
    assert len(seeds) == 100 and eval_seed(0) not in seeds


def test_workers_do_not_change_the_frames_or_the_weights(reference, tmp_path):
    assert SYNTH.config.num_blocks == 4  # several blocks, so two workers share the work
    one, two = SynthEpochs(SYNTH, workers=1), SynthEpochs(SYNTH, workers=2)
    assert torch.equal(one.for_epoch(1).x, two.for_epoch(1).x)
    out, _ = reference
    run(tmp_path / "w2", synth_workers=2)
    assert same_weights(weights(out), weights(tmp_path / "w2"))


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("at", [(0, 5), (1, 0)])  # (completed epochs, step)
def test_interrupted_and_resumed_equals_uninterrupted(reference, tmp_path, monkeypatch, at):
    import amrkit.train.runner as runner

    real = runner.save_checkpoint

    def save_then_stop(*args, **kwargs):
        path = real(*args, **kwargs)
        if (args[3].epoch, args[3].step) == at:
            raise Interrupt
        return path

    monkeypatch.setattr(runner, "save_checkpoint", save_then_stop)
    with pytest.raises(Interrupt):
        run(tmp_path / "r")
    monkeypatch.setattr(runner, "save_checkpoint", real)
    metrics = run(tmp_path / "r", None, None, model=None, resume=True)  # the record is used
    assert metrics["resumed"]
    out, ref = reference
    assert same_weights(weights(out), weights(tmp_path / "r"))
    a = torch.load(out / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert same_weights(a["model"], b["model"])
    assert metrics["test_accuracy"] == ref["test_accuracy"]


def test_one_epoch_equals_training_on_a_file_of_the_same_frames(tmp_path):
    """The --synth path is the file path with other frames: a file holding epoch 1's frames
    (train) and the evaluation frames (val/test) trains to the very same weights."""
    cfg = dataclasses.replace(CFG, epochs=1)
    run(tmp_path / "synth", cfg=cfg)
    train = SynthEpochs(SYNTH).for_epoch(0)
    ev = eval_frames(SYNTH)
    iq = np.concatenate([train.x.numpy(), ev.read(np.arange(len(ev)))])
    label = np.concatenate([train.label.numpy(), ev.label]).astype(np.int16)
    snr = np.concatenate([train.snr_db, ev.snr_db]).astype(np.float32)
    split = np.concatenate([np.zeros(len(train), np.uint8), ev.split])
    path = tmp_path / "same.h5"
    with FrameWriter(path, len(label), 128, CLASSES, {"sample_rate_hz": 200e3}) as w:
        w.write(0, iq, label=label, snr_db=snr, split=split)
    run(tmp_path / "file", None, cfg, data=path)
    assert same_weights(weights(tmp_path / "synth"), weights(tmp_path / "file"))
    assert "synth" not in json.loads((tmp_path / "file" / "run.json").read_text())


def test_data_file_gives_val_and_test(tmp_path):
    from amrkit.data.synth import synthesize

    path = tmp_path / "eval.h5"
    synthesize(dataclasses.replace(SYNTH.config, frames_per_class=20, seed=7), path)
    synth = dataclasses.replace(SYNTH, eval_frames_per_class=0)
    metrics = run(tmp_path / "r", synth, dataclasses.replace(CFG, epochs=1), data=path)
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["dataset"]["path"] == str(path)
    assert metrics["train_frames"] == 128 and metrics["val_frames"] == 4 * 2  # the file's 10 %


def test_robust_recipe_on_the_wide_preset(tmp_path):
    wide = preset_config("wide", classes=CLASSES, frame_length=128, frames_per_class=21)
    cfg = make_config(
        recipe="robust", epochs=2, crop=64, batch_size=32, compile="off", precision="fp32"
    )
    metrics = run(tmp_path / "r", SynthData(wide, 42), cfg)
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert (
        info["train_config"]["recipe"] == "robust" and info["synth"]["config"]["preset"] == "wide"
    )
    assert metrics["train_frames"] == 84 and len(metrics["synth"]["epoch_seconds"]) == 2


def test_resume_refuses_other_synth_options(reference, tmp_path):
    from amrkit.errors import AmrkitError

    out, _ = reference
    other = dataclasses.replace(SYNTH, eval_frames_per_class=32)
    with pytest.raises(AmrkitError, match="differ from the ones recorded"):
        run(out, other, None, model=None, resume=True)


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"source": "nope", "frames_per_class": 4}, "choose a preset (matlab, wide)"),
        ({"source": "wide"}, "needs --frames-per-class"),
        ({"source": None, "frames_per_class": 4}, "--frames-per-class applies to --synth"),
        ({"source": "wide", "frames_per_class": 21, "eval_frames_per_class": 5}, ">= 42"),
        ({"source": "matlab", "frames_per_class": 0}, "--frames-per-class 0"),
        ({"source": "matlab", "frames_per_class": 4, "synth_seed": -1}, "--synth-seed -1"),
    ],
)
def test_bad_requests_are_one_line_errors(kw, needle):
    from amrkit.errors import AmrkitError

    kw = {"has_data": False, **kw}
    source = kw.pop("source")
    with pytest.raises(AmrkitError) as exc:
        synth_request(source, **kw)
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg
