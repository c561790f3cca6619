"""The generated HDF5 file: layout, attributes, splits, regeneration, atomic writes."""

import json
import os

import h5py
import numpy as np
import pytest

import amrkit
from amrkit.data.native import open_native
from amrkit.data.synth import SynthConfig, load_config, pipeline, synthesize, synthesize_arrays


def test_file_layout(small_file):
    path, cfg, summary = small_file
    n = cfg.num_frames
    with h5py.File(path, "r") as f:
        assert f["iq"].dtype == np.float32 and f["iq"].shape == (n, 2, 1024)
        assert f["label"].dtype == np.int16 and f["label"].shape == (n,)
        assert f["snr_db"].dtype == np.float32
        assert f["split"].dtype == np.uint8
        assert set(f["channel"]) == {"offset", "ppm", "freq_offset_hz", "path_gain"}
        assert f["channel/path_gain"].shape == (n, 3, 2)
        a = f.attrs
        assert a["format"] == "amrkit-frames" and a["format_version"] == 1
        assert json.loads(a["classes"]) == ["QPSK", "GFSK", "DSB-AM"]
        assert a["sample_rate_hz"] == 200e3 and a["samples_per_symbol"] == 8
        assert a["snr_convention"] == "measured"
        config = json.loads(a["config"])
        assert config["seed"] == 11 and config["amrkit_version"] == amrkit.__version__
        iq = f["iq"][...]
    np.testing.assert_allclose(np.mean(iq[:, 0] ** 2 + iq[:, 1] ** 2, axis=1), 1.0, rtol=1e-5)
    assert summary["frames"] == n and summary["bytes"] == path.stat().st_size


def test_file_matches_in_memory_synthesis(small_file):
    path, cfg, _ = small_file
    mem = synthesize_arrays(cfg, workers=2)
    with open_native(path) as fs:
        assert fs.read().tobytes() == mem["iq"].tobytes()
        assert np.array_equal(fs.label, mem["label"])
        assert np.array_equal(fs.split, mem["split"])
        assert fs.snr_convention == "measured" and fs.samples_per_symbol == 8


def test_split_is_disjoint_and_stratified(small_file):
    path, cfg, _ = small_file
    with open_native(path) as fs:
        for c in range(3):
            for s in cfg.snrs:
                g = (fs.label == c) & (fs.snr_db == s)
                counts = np.bincount(fs.split[g], minlength=3)
                n = g.sum()
                assert counts[0] == int(np.floor(0.8 * n + 1e-9))
                assert counts[1] == int(np.floor(0.1 * n + 1e-9))
                assert counts.sum() == n


def test_regenerate_from_the_file_is_byte_identical(small_file, tmp_path):
    path, cfg, _ = small_file
    again = load_config(path)
    assert again == cfg
    out = tmp_path / "again.h5"
    synthesize(again, out, workers=2)
    with h5py.File(path, "r") as a, h5py.File(out, "r") as b:
        assert a["iq"][...].tobytes() == b["iq"][...].tobytes()
        assert np.array_equal(a["split"][...], b["split"][...])
        assert a.attrs["config"] == b.attrs["config"]


def _no_leftovers(folder, name):
    return [p for p in os.listdir(folder) if name in p]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_leaves_no_file(tmp_path, monkeypatch, exc):
    """An error or Ctrl-C in the middle removes the temp file; nothing appears at the path."""
    calls = {"n": 0}
    real = pipeline.synthesize_block

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "synthesize_block", flaky)
    target = tmp_path / "x.h5"
    with pytest.raises(type(exc)):
        synthesize(SynthConfig(frames_per_class=4, block_size=8), target)
    assert calls["n"] == 2
    assert not target.exists()
    assert _no_leftovers(tmp_path, "x.h5") == []


def test_failure_in_a_worker_leaves_no_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("worker failed")

    monkeypatch.setattr(pipeline, "synthesize_block", broken)  # inherited by forked workers
    target = tmp_path / "w.h5"
    with pytest.raises(ValueError, match="worker failed"):
        synthesize(SynthConfig(frames_per_class=4, block_size=8), target, workers=2)
    assert _no_leftovers(tmp_path, "w.h5") == []


def test_killed_worker_is_an_error_not_a_hang(tmp_path, monkeypatch):
    import signal

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would

    monkeypatch.setattr(pipeline, "synthesize_block", die)
    target = tmp_path / "k.h5"
    with pytest.raises(amrkit.AmrkitError, match="worker process died"):
        synthesize(SynthConfig(frames_per_class=4, block_size=8), target, workers=2)
    assert _no_leftovers(tmp_path, "k.h5") == []


def test_existing_file_survives_a_failed_run(tmp_path, monkeypatch):
    target = tmp_path / "keep.h5"
    target.write_bytes(b"old")
    monkeypatch.setattr(pipeline, "synthesize_block", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        synthesize(SynthConfig(frames_per_class=2), target)
    assert target.read_bytes() == b"old"


def test_audio_file_source(tmp_path):
    from scipy.io import wavfile

    rate = 22050
    gen = np.random.default_rng(0)
    voice = np.convolve(gen.standard_normal(rate * 2), np.ones(8) / 8, "same") * 0.2
    wav = tmp_path / "voice.wav"
    wavfile.write(wav, rate, (voice * 32767).astype(np.int16))
    cfg = SynthConfig(classes=("B-FM", "SSB-AM"), frames_per_class=6, audio=str(wav), seed=1)
    out = tmp_path / "a.h5"
    synthesize(cfg, out)
    stored = load_config(out)
    assert stored.audio == str(wav) and stored.audio_sha256 and len(stored.audio_sha256) == 64
    with open_native(out) as fs:
        iq = fs.read()
    assert np.all(np.isfinite(iq))
    # a changed recording is refused when regenerating from the stored config
    wavfile.write(wav, rate, (voice[::-1] * 32767).astype(np.int16))
    with pytest.raises(amrkit.AmrkitError, match="SHA-256 mismatch"):
        synthesize(stored, tmp_path / "b.h5")
    assert not (tmp_path / "b.h5").exists()
