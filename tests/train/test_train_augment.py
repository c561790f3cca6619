"""Training-time augmentation: parsing, exactness of the transforms, the symmetries they rely
on in the synthesized data, determinism and resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.config import to_dict
from amrkit.data.synth import SynthConfig, synthesize_arrays
from amrkit.errors import AmrkitError
from amrkit.signals.catalog import CLASSES
from amrkit.train.augment import EpochAugment, parse_augment
from amrkit.train.config import TrainConfig

from .test_train_run import CFG, Interrupt, assert_same_weights, run, weights


@pytest.mark.parametrize(
    "text, names",
    [("none", ()), ("", ()), ("phase", ("phase",)), ("conj, phase", ("phase", "conj"))],
)
def test_parse_augment_canonical(text, names):
    assert parse_augment(text) == names


@pytest.mark.parametrize("text", ["spin", "phase,phase", "none,phase", "phase;conj"])
def test_parse_augment_rejects_with_the_fix(text):
    with pytest.raises(AmrkitError, match=r"augment = .*phase, conj.*--augment"):
        parse_augment(text)
    with pytest.raises(AmrkitError, match="augment"):
        TrainConfig(augment=text)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**40),
    epoch=st.integers(0, 50),
    names=st.sampled_from([(), ("phase",), ("conj",), ("phase", "conj")]),
)
def test_transforms_are_unitary_per_sample(seed, epoch, names):
    g = torch.Generator().manual_seed(seed % 2**31)
    x = torch.randn(16, 2, 32, generator=g)
    aug = EpochAugment(names, seed, epoch, 40)
    idx = torch.randperm(40, generator=g)[:16]
    y = aug(x, idx)
    assert y.shape == x.shape and y.dtype == x.dtype
    # |I + jQ| of every sample is kept: rotation and conjugation are unitary
    torch.testing.assert_close(y.square().sum(1), x.square().sum(1), rtol=1e-5, atol=1e-5)
    if not names:
        assert torch.equal(y, x)
    # the same (seed, epoch) gives the same frames, whatever else was drawn before
    assert torch.equal(EpochAugment(names, seed, epoch, 40)(x, idx), y)


def test_conj_flips_half_the_frames_and_phase_is_uniform():
    n = 4096
    x = torch.zeros(n, 2, 4)
    x[:, 0] = 1.0  # the constant 1 + 0j
    x[:, 1, 1:] = 1.0  # samples 1..3: 1 + 1j
    idx = torch.arange(n)
    conj = EpochAugment(("conj",), 7, 0, n)(x, idx)
    assert torch.equal(conj[:, 0], x[:, 0])
    flipped = conj[:, 1, 1] < 0
    assert torch.equal(conj[flipped, 1], -x[flipped, 1])
    assert abs(flipped.float().mean().item() - 0.5) < 0.03
    rot = EpochAugment(("phase",), 7, 0, n)(x, idx)
    angle = torch.atan2(rot[:, 1, 0], rot[:, 0, 0]).double() % (2 * math.pi)  # (n,)
    # uniform on [0, 2 pi): Kolmogorov-Smirnov distance well below the 1 % critical value
    u = np.sort(angle.numpy() / (2 * math.pi))
    ks = np.max(np.abs(u - (np.arange(1, n + 1) - 0.5) / n))
    assert ks < 1.63 / math.sqrt(n)
    # a rotation, not a per-sample scramble: every sample of a frame turns by the same angle
    turned = torch.atan2(rot[:, 1, 1], rot[:, 0, 1]) - torch.atan2(rot[:, 1, 0], rot[:, 0, 0])
    torch.testing.assert_close(torch.cos(turned), torch.full((n,), math.cos(math.pi / 4)))
    # epochs differ
    other = EpochAugment(("phase",), 7, 1, n)(x, idx)
    assert not torch.allclose(other, rot)


@pytest.fixture(scope="module")
def synth_frames():
    cfg = SynthConfig(frames_per_class=120, snrs=(30.0,), seed=5, block_size=256)
    data = synthesize_arrays(cfg)
    iq = data["iq"][:, 0].astype(np.float64) + 1j * data["iq"][:, 1]  # (n, L) complex
    return iq, data["label"]


def _asymmetry(iq: np.ndarray) -> float:
    """Mismatch of the mean power spectrum at +f and -f (0: symmetric; 64-bin Welch)."""
    seg = iq.reshape(len(iq), -1, 64)
    p = (np.abs(np.fft.fft(seg * np.hanning(64), axis=-1)) ** 2).mean(axis=(0, 1))  # (64,)
    mirrored = np.roll(p[::-1], 1)  # bin k -> bin -k
    return float(np.abs(p - mirrored).sum() / p.sum())


def test_synthesized_classes_have_the_symmetries_augmentation_assumes(synth_frames):
    iq, label = synth_frames
    for c, name in enumerate(CLASSES):
        x = iq[label == c]
        # carrier phase uniform => circular: the pseudo-power E[x^2] vanishes against E[|x|^2]
        circ = abs(np.mean(x**2)) / np.mean(np.abs(x) ** 2)
        assert circ < 0.2, (name, circ)
        # conjugation maps the class onto itself => its mean spectrum is symmetric in f
        assert _asymmetry(x) < 0.2, (name, _asymmetry(x))  # 0.02-0.11 seen
    # the checks can fail: a frequency shift of +20 kHz breaks spectral symmetry, and a
    # fixed-phase BPSK (no channel rotation) is not circular
    shifted = iq[label == 0] * np.exp(2j * np.pi * 0.1 * np.arange(iq.shape[1]))
    assert _asymmetry(shifted) > 0.5
    bpsk = np.sign(np.random.default_rng(0).standard_normal((50, 1024))) + 0j
    assert abs(np.mean(bpsk**2)) / np.mean(np.abs(bpsk) ** 2) > 0.9


@pytest.mark.parametrize(
    "change",
    [
        {"augment": "phase,conj"},
        {"optimizer": "adamw", "lr": 0.003, "schedule": "cosine", "warmup": 0.2, "crop": 96},
        {"augment": "conj,freq,noise", "freq_shift": 0.05, "noise_snr_db": 0.0},
    ],
)
def test_augmented_run_resumes_exactly_and_differs_from_plain(
    easy_h5, tmp_path, monkeypatch, change
):
    import amrkit.train.runner as runner

    cfg = TrainConfig(**{**to_dict(CFG), **change})
    full = tmp_path / "full"
    run(easy_h5, full, cfg)
    plain = tmp_path / "plain"
    run(easy_h5, plain, CFG)
    assert not torch.equal(
        weights(full / "model.pt")["fc.weight"], weights(plain / "model.pt")["fc.weight"]
    )

    real = runner.save_checkpoint

    def save_then_stop(*args, **kwargs):
        path = real(*args, **kwargs)
        if (args[3].epoch, args[3].step) == (1, 3):
            raise Interrupt
        return path

    monkeypatch.setattr(runner, "save_checkpoint", save_then_stop)
    with pytest.raises(Interrupt):
        run(easy_h5, tmp_path / "r", cfg)
    monkeypatch.setattr(runner, "save_checkpoint", real)
    run(easy_h5, tmp_path / "r", None, model=None, resume=True)
    assert_same_weights(weights(full / "model.pt"), weights(tmp_path / "r" / "model.pt"))


def test_crop_takes_a_seeded_window_of_each_frame():
    x = torch.arange(3 * 2 * 20, dtype=torch.float32).reshape(3, 2, 20)  # (b, 2, L)
    idx = torch.tensor([4, 0, 7])
    aug = EpochAugment((), seed=1, epoch=0, n=8, crop=5)
    out = aug(x, idx)
    assert out.shape == (3, 2, 5)
    for k in range(3):
        start = int(out[k, 0, 0] - x[k, 0, 0])  # the window's start in frame k
        assert 0 <= start <= 15
        assert torch.equal(out[k], x[k, :, start : start + 5])  # I and Q cut together
    assert torch.equal(out, EpochAugment((), seed=1, epoch=0, n=8, crop=5)(x, idx))
    starts = {int(EpochAugment((), 1, e, 8, crop=5)(x, idx)[0, 0, 0]) for e in range(12)}
    assert len(starts) > 1  # control: other epochs draw other windows
    assert torch.equal(EpochAugment((), 1, 0, 8, crop=20)(x, idx), x)  # crop >= L: whole


def test_crop_leaves_phase_and_conj_draws_unchanged():
    x = torch.randn(6, 2, 32)
    idx = torch.arange(6)
    names = ("phase", "conj")
    whole = EpochAugment(names, 3, 1, 6)(x, idx)
    cut = EpochAugment(names, 3, 1, 6, crop=8)(x, idx)
    for k in range(6):
        start = [s for s in range(25) if torch.allclose(whole[k, :, s : s + 8], cut[k])]
        assert start, f"frame {k}: the crop is not a window of the uncropped augmentation"


def test_freq_shift_turns_each_frame_by_one_drawn_frequency():
    x = torch.randn(5, 2, 64)
    idx = torch.tensor([0, 3, 1, 4, 2])
    out = EpochAugment(("freq",), seed=2, epoch=0, n=5, freq_shift=0.05)(x, idx)
    z, w = torch.complex(x[:, 0], x[:, 1]), torch.complex(out[:, 0], out[:, 1])  # (b, L)
    assert torch.allclose(w.abs(), z.abs(), atol=1e-5)  # a rotation per sample
    step = torch.angle((w / z)[:, 1:] / (w / z)[:, :-1]) / (2 * math.pi)  # (b, L-1) cycles
    assert torch.allclose(step, step[:, :1].expand_as(step), atol=1e-4)  # one f per frame
    f = step[:, 0]
    assert (f.abs() <= 0.05 + 1e-6).all() and len(set(f.round(decimals=4).tolist())) == 5
    same = EpochAugment(("phase",), seed=2, epoch=0, n=5, freq_shift=0.05)(x, idx)
    plain = EpochAugment(("phase", "freq"), seed=2, epoch=0, n=5, freq_shift=0.0)(x, idx)
    assert torch.allclose(same, plain, atol=1e-6)  # control: a zero shift changes nothing


def test_noise_hits_half_the_frames_at_the_drawn_snr_whatever_the_batch():
    n = 200
    x = torch.randn(n, 2, 256)
    idx = torch.arange(n)
    aug = EpochAugment(("noise",), seed=4, epoch=1, n=n, noise_snr_db=10.0)
    out = aug(x, idx)
    diff = (out - x).pow(2).sum(1).mean(1)  # (n,) noise power per frame
    power = x.pow(2).sum(1).mean(1)
    hit = diff > 0
    assert 70 < int(hit.sum()) < 130  # about half the frames
    snr = 10 * torch.log10(power[hit] / diff[hit])
    assert snr.min() > 8 and snr.max() < 32  # drawn from 10..30 dB (finite-length noise)
    alone = aug(x[[7, 3]], torch.tensor([7, 3]))  # the same frames in another batch
    assert torch.equal(alone[0], out[7]) and torch.equal(alone[1], out[3])
    other = EpochAugment(("noise",), seed=4, epoch=2, n=n, noise_snr_db=10.0)(x, idx)
    assert not torch.equal(other, out)  # control: another epoch, other noise
