"""Training on a mixture of synth sources (``amrkit train --synth A,B``, amrkit/train/synth.py).

Two tiny sources (4 classes, 128-sample frames): the matlab preset with 32 frames per class
and the wide preset with 21 (one per SNR), so an epoch is 128 + 84 frames.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from amrkit.cli import main
from amrkit.data.synth import preset_config, synthesize_arrays
from amrkit.errors import AmrkitError
from amrkit.train.config import TrainConfig
from amrkit.train.runner import train_model
from amrkit.train.synth import (
    SynthData,
    SynthEpochs,
    check_disjoint,
    epoch_arrays,
    mix_seed,
    synth_request,
    train_seed,
)

TINY = "8x4p,16x4"
CLASSES = ("BPSK", "QPSK", "16QAM", "GFSK")
MAIN = preset_config(
    "matlab", classes=CLASSES, frame_length=128, frames_per_class=32, block_size=32, seed=5
)
WIDE = preset_config(
    "wide", classes=CLASSES, frame_length=128, frames_per_class=21, block_size=32, seed=5
)
MIX = SynthData(MAIN, eval_frames_per_class=16, mix=(WIDE,))
CFG = TrainConfig(epochs=1, batch_size=16, compile="off", precision="fp32")


def test_epoch_arrays_hold_every_source_in_order():
    arrays = epoch_arrays(MIX, 1)
    assert MIX.num_frames == 4 * 32 + 4 * 21 == len(arrays["iq"]) == len(arrays["label"])
    assert arrays["iq"].shape == (212, 2, 128) and arrays["iq"].dtype == np.float32
    main = synthesize_arrays(dataclasses.replace(MAIN, seed=train_seed(5, 1)))
    wide = synthesize_arrays(dataclasses.replace(WIDE, seed=mix_seed(5, 1, 1)))
    for key in ("iq", "label", "snr_db"):
        assert np.array_equal(arrays[key][:128], main[key])
        assert np.array_equal(arrays[key][128:], wide[key])
    assert np.bincount(arrays["label"][128:]).tolist() == [21] * 4
    assert sorted(set(arrays["snr_db"][128:].tolist())) == list(WIDE.snrs)  # wide's SNRs
    assert set(arrays["snr_db"][:128].tolist()) == {30.0}  # matlab's


def test_same_seed_same_bytes_other_epoch_other_frames():
    a, b = epoch_arrays(MIX, 0), epoch_arrays(MIX, 0)
    assert a["iq"].tobytes() == b["iq"].tobytes()
    c = epoch_arrays(MIX, 1)
    assert not np.array_equal(a["iq"][128:], c["iq"][128:])  # the mix source is fresh too
    split = SynthEpochs(MIX).for_epoch(0)
    assert len(SynthEpochs(MIX)) == 212 and split.x.numpy().tobytes() == a["iq"].tobytes()


def test_single_source_is_unchanged():
    single = SynthData(MAIN, 16)
    assert list(single.to_dict()) == ["config", "eval_frames_per_class"]  # no "mix" key
    assert SynthData.from_dict(single.to_dict()) == single
    for e in range(3):
        assert single.epoch_configs(e) == (single.epoch_config(e),)
        assert single.epoch_seeds(e) == (train_seed(5, e),)
    assert np.array_equal(
        epoch_arrays(single, 0)["iq"], synthesize_arrays(single.epoch_config(0))["iq"]
    )
    assert single.num_frames == MAIN.num_frames
    # control: the mix source's seeds are source 0's with another tag
    assert MIX.epoch_seeds(2) == (train_seed(5, 2), mix_seed(5, 2, 1))
    assert mix_seed(5, 2, 1) != train_seed(5, 2)


def test_mixture_round_trips_through_its_record():
    record = json.loads(json.dumps(MIX.to_dict()))
    assert len(record["mix"]) == 1 and record["mix"][0]["preset"] == "wide"
    assert SynthData.from_dict(record) == MIX
    assert SynthData.from_dict({k: v for k, v in record.items() if k != "mix"}).mix == ()


def test_check_disjoint_covers_the_mix_seeds(monkeypatch):
    import amrkit.train.synth as synth

    check_disjoint(MIX, 10)
    clash = mix_seed(5, 3, 1)
    monkeypatch.setattr(synth, "eval_seed", lambda seed: clash)
    with pytest.raises(AmrkitError, match="epoch 4's training seed"):
        check_disjoint(MIX, 10)
    check_disjoint(SynthData(MAIN, 16), 10)  # control: source 0 alone never clashes


@pytest.mark.parametrize(
    ("other", "needle"),
    [
        (dataclasses.replace(WIDE, classes=CLASSES[:3]), "classes BPSK, QPSK, 16QAM"),
        (dataclasses.replace(WIDE, frame_length=256), "frame_length 256 samples"),
        (dataclasses.replace(WIDE, sample_rate_hz=1e6), "sample_rate_hz 1e+06 Hz"),
        (dataclasses.replace(WIDE, seed=6), "takes the synth seed"),
    ],
)
def test_mismatched_sources_are_refused(other, needle):
    with pytest.raises(AmrkitError) as exc:
        SynthData(MAIN, 16, (other,))
    msg = str(exc.value)
    assert needle in msg and "--synth source 2" in msg and "\n" not in msg


def _write(path: Path, preset: str, frames: int, frame_length: int = 128) -> Path:
    path.write_text(
        json.dumps(
            {
                "preset": preset,
                "classes": list(CLASSES),
                "frame_length": frame_length,
                "frames_per_class": frames,
                "block_size": 32,
            }
        )
    )
    return path


@pytest.fixture
def sources(tmp_path) -> str:
    a = _write(tmp_path / "wide.json", "wide", 21)
    b = _write(tmp_path / "matlab.json", "matlab", 16)
    return f"{a},{b}"


def test_request_takes_a_list_or_one_value_or_the_files(sources):
    req = synth_request(sources, has_data=False, frames_per_class="42,24", synth_seed=3)
    assert [c.frames_per_class for c in req.configs] == [42, 24]
    assert [c.preset for c in req.configs] == ["wide", "matlab"]
    assert all(c.seed == 3 for c in req.configs) and req.eval_frames_per_class == 42
    req = synth_request(sources, has_data=False, frames_per_class="30")
    assert [c.frames_per_class for c in req.configs] == [30, 30]
    req = synth_request(sources, has_data=False)
    assert [c.frames_per_class for c in req.configs] == [21, 16]


@pytest.mark.parametrize(
    ("fpc", "needle"),
    [
        ("30,20,10", "--frames-per-class 30,20,10 has 3 values for 2 --synth source(s)"),
        ("30,x", "--frames-per-class '30,x' is invalid"),
        ("30,0", "--frames-per-class 0"),
    ],
)
def test_bad_frames_per_class_lists_are_one_line_cli_errors(sources, tmp_path, capsys, fpc, needle):
    out = tmp_path / "run"
    args = ["train", "--synth", sources, "--frames-per-class", fpc, "--out", out, "--model", TINY]
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 1 and len(err) == 1 and needle in err[0], err
    assert not out.exists()


def test_request_refuses_mismatched_files_and_empty_sources(sources, tmp_path):
    other = _write(tmp_path / "long.json", "matlab", 16, frame_length=256)
    with pytest.raises(AmrkitError, match="frame_length 256 samples, but source 1 has 128"):
        synth_request(f"{sources.split(',')[0]},{other}", has_data=False)
    with pytest.raises(AmrkitError, match="empty source"):
        synth_request(f"{sources},", has_data=False)


def test_mixture_trains_records_and_resumes(sources, tmp_path, capsys):
    out = tmp_path / "run"
    fast = ["--batch-size", "16", "--threads", "1", "--quiet", "--compile", "off"]
    args = ["train", "--synth", sources, "--frames-per-class", "21,16", "--out", out]
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in [*args, "--model", TINY, *fast, "--epochs", "1", "--json"]])
    text, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    assert json.loads(text)["train_frames"] == 4 * 21 + 4 * 16
    record = json.loads((out / "run.json").read_text())["synth"]
    synth = SynthData.from_dict(record)
    assert [c.preset for c in synth.configs] == ["wide", "matlab"]
    assert synth == synth_request(sources, has_data=False, frames_per_class="21,16")
    with pytest.raises(SystemExit) as exc:  # the same options again are accepted on resume
        main([str(a) for a in [*args, "--resume", "--epochs", "2", "--json", "--quiet"]])
    text, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    metrics = json.loads(text)
    assert metrics["resumed"] and len(metrics["synth"]["epoch_seconds"]) == 2
    with pytest.raises(AmrkitError, match="differ from the ones recorded"):  # control
        train_model(None, None, out, None, synth=dataclasses.replace(synth, mix=()), resume=True)


def test_a_mixture_trains_through_train_model(tmp_path):
    metrics = train_model(
        None, TINY, tmp_path / "r", CFG, synth=MIX, progress=False, device="cpu", threads=1
    )
    assert metrics["train_frames"] == 212 and metrics["val_frames"] == 4 * 8  # main's only
