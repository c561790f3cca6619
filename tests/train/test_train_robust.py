"""Issue 15's training: the timescale augmentation, the SNR curriculum and named recipes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from amrkit.config import to_dict
from amrkit.data.native import FrameWriter
from amrkit.data.split import stratified_split
from amrkit.errors import AmrkitError
from amrkit.train.augment import SPARE, EpochAugment
from amrkit.train.config import TrainConfig, make_config, resume_config
from amrkit.train.data import SplitData
from amrkit.train.distill import Distiller, kd_loss
from amrkit.train.loop import curriculum_weights, weighted_cross_entropy
from amrkit.train.recipes import RECIPES

from .conftest import CLASSES, easy_frames
from .test_train_cli import TINY, cli, one_line_error
from .test_train_run import CFG, Interrupt, assert_same_weights, history, run, weights

ALL = ("phase", "conj", "freq", "noise", "timescale")


def _tone(n: int, length: int, f: float) -> torch.Tensor:
    """(n, 2, L) float32 frames of the complex tone exp(j 2 pi f t)."""
    z = torch.exp(2j * math.pi * f * torch.arange(length, dtype=torch.float64))
    return torch.stack((z.real, z.imag)).float().expand(n, 2, length).clone()


# ---- timescale ---------------------------------------------------------------------------
@pytest.mark.parametrize("f", [0.03, 0.2])
def test_timescale_resamples_a_tone_to_the_drawn_rate(f):
    n, crop = 16, 64
    aug = EpochAugment(("timescale",), seed=3, epoch=0, n=n, crop=crop, time_scale=0.2)
    out = aug(_tone(n, 128, f), torch.arange(n))
    assert out.shape == (n, 2, crop) and out.dtype == torch.float32
    s = aug.scale.numpy()
    assert (s >= 1 / 1.2 - 1e-12).all() and (s <= 1.2 + 1e-12).all()
    assert len(np.unique(s.round(6))) == n  # a factor per frame
    z = out[:, 0].double().numpy() + 1j * out[:, 1].double().numpy()  # (n, crop)
    # the resampled tone is exp(j (phi0 + 2 pi f s k)): the analytically scaled tone
    k = np.arange(crop)
    expected = np.exp(1j * (np.angle(z[:, :1]) + 2 * np.pi * f * s[:, None] * k))
    err = np.abs(z - expected).max()
    assert err < 5e-3, err  # 1.3e-3 seen (Kaiser beta 6, float32)
    # control: a linear interpolator at the same positions is far off at 0.2 cycles/sample
    if f == 0.2:
        t = 8.5 + k * s[0]
        tone = np.exp(2j * np.pi * f * np.arange(128))
        lin = np.interp(t, np.arange(128), tone.real) + 1j * np.interp(t, np.arange(128), tone.imag)
        assert np.abs(np.abs(lin) - 1).max() > 0.05


def test_timescale_of_one_is_a_sub_sample_delay_and_draws_depend_on_seed_and_epoch():
    x = torch.randn(4, 2, 100)
    idx = torch.tensor([2, 0, 3, 1])
    aug = EpochAugment(("timescale",), 1, 0, 4, crop=40, time_scale=0.0)
    assert torch.equal(aug.scale, torch.ones(4, dtype=torch.float64))
    aug.offset.zero_()  # integer positions: the interpolator is the identity
    out = aug(x, idx)
    for k in range(4):
        hits = [s for s in range(61) if torch.allclose(x[k, :, s : s + 40], out[k], atol=1e-5)]
        assert len(hits) == 1, k  # an exact window of the frame
    a = EpochAugment(ALL, 5, 2, 4, crop=40)(x, idx)
    assert torch.equal(a, EpochAugment(ALL, 5, 2, 4, crop=40)(x, idx))  # seeded
    assert not torch.allclose(a, EpochAugment(ALL, 5, 3, 4, crop=40)(x, idx))  # epochs differ
    assert not torch.allclose(a, EpochAugment(ALL, 6, 2, 4, crop=40)(x, idx))  # seeds differ
    alone = EpochAugment(ALL, 5, 2, 4, crop=40)(x[[1]], idx[[1]])
    assert torch.allclose(alone[0], a[1], atol=1e-6)  # a frame's result ignores its batch


def test_timescale_leaves_the_earlier_draws_unchanged():
    before = EpochAugment(("phase", "conj", "freq", "noise"), 9, 4, 50, crop=30)
    after = EpochAugment(ALL, 9, 4, 50, crop=30, time_scale=0.5)
    for name in ("theta", "flip", "where", "freq"):
        assert torch.equal(getattr(before, name), getattr(after, name)), name
    for a, b in zip(before.noise, after.noise, strict=True):
        assert torch.equal(a, b)


def test_timescale_needs_crop_and_room_in_the_frame():
    with pytest.raises(AmrkitError, match="crop = 0 is invalid.*timescale"):
        TrainConfig(augment="timescale")
    with pytest.raises(AmrkitError, match="time_scale"):
        TrainConfig(time_scale=1.5)
    aug = EpochAugment(("timescale",), 0, 0, 2, crop=100, time_scale=0.2)
    need = math.ceil(100 * 1.2 + SPARE)
    with pytest.raises(AmrkitError, match=f"reads up to {need} samples.*lower --crop"):
        aug(torch.randn(2, 2, 128), torch.arange(2))
    assert aug(torch.randn(2, 2, need), torch.arange(2)).shape == (2, 2, 100)  # control


# ---- SNR curriculum ----------------------------------------------------------------------
def test_curriculum_weights_fall_from_the_start_threshold_then_all_count():
    snr = np.array([-10, 0, 5, 10, 20, np.nan], np.float32)
    split = SplitData(torch.zeros(6, dtype=torch.int64), snr)
    cfg = TrainConfig(epochs=8, snr_curriculum=0.5, curriculum_start_db=10.0)
    assert cfg.curriculum_epochs() == 4
    got = {e: curriculum_weights(split, cfg, e) for e in range(1, 9)}
    assert got[1].tolist() == [0, 0, 0, 1, 1, 1]  # thresholds 10, 5, 0, -5 dB
    assert got[2].tolist() == [0, 0, 1, 1, 1, 1]
    assert got[3].tolist() == [0, 1, 1, 1, 1, 1]
    assert got[4].tolist() == [0, 1, 1, 1, 1, 1]
    assert all(got[e] is None for e in range(5, 9))  # afterwards every frame counts
    plain = TrainConfig(epochs=8)  # control: no curriculum
    assert all(curriculum_weights(split, plain, e) is None for e in range(1, 9))


def test_weighted_losses_ignore_weight_zero_frames():
    g = torch.Generator().manual_seed(0)
    logits, teacher = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    w = torch.tensor([1.0, 0, 1, 1, 0, 1])
    keep = w.bool()
    sub = F.cross_entropy(logits[keep], y[keep])
    torch.testing.assert_close(weighted_cross_entropy(logits, y, w), sub)
    torch.testing.assert_close(
        weighted_cross_entropy(logits, y, torch.ones(6)), F.cross_entropy(logits, y)
    )
    assert weighted_cross_entropy(logits, y, torch.zeros(6)) == 0
    kd = kd_loss(logits, teacher, y, 4.0, 0.5, w)
    torch.testing.assert_close(kd, kd_loss(logits[keep], teacher[keep], y[keep], 4.0, 0.5))
    torch.testing.assert_close(
        kd_loss(logits, teacher, y, 4.0, 0.5, torch.ones(6)), kd_loss(logits, teacher, y, 4.0, 0.5)
    )
    assert not torch.allclose(kd, kd_loss(logits, teacher, y, 4.0, 0.5))  # control
    # the Distiller (fit's loss_fn) hands the curriculum's weights on
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 8, 4))
    x = torch.randn(6, 2, 8, generator=g)
    with torch.no_grad():
        soft = net(x)
    torch.testing.assert_close(
        Distiller(net, 4.0, 0.5)(logits, x, y, w), kd_loss(logits, soft, y, 4.0, 0.5, w)
    )


@pytest.fixture(scope="module")
def mixed_h5(tmp_path_factory):
    """480 frames of the four easy classes at 0, 10 and 20 dB (stored SNRs), length 128."""
    rng = np.random.default_rng(1)
    parts = [easy_frames(40, 128, rng, snr_db=s) for s in (0.0, 10.0, 20.0)]
    iq = np.concatenate([p[0] for p in parts])
    label = np.concatenate([p[1] for p in parts])
    snr = np.repeat(np.array([0.0, 10.0, 20.0], np.float32), 160)
    split = stratified_split(label, snr, (0.8, 0.1, 0.1), rng)
    path = tmp_path_factory.mktemp("mixed") / "mixed.h5"
    attrs = {"sample_rate_hz": 200e3, "config": {"test": "mixed"}}
    with FrameWriter(path, len(label), 128, CLASSES, attrs) as w:
        w.write(0, iq, label=label.astype(np.int16), snr_db=snr, split=split)
    return path


def test_curriculum_epochs_train_only_on_frames_above_the_threshold(easy_h5, tmp_path):
    # easy_h5's frames are all at 10 dB: a 20 dB start threshold leaves epoch 1 nothing to learn
    cfg = TrainConfig(epochs=2, batch_size=32, snr_curriculum=0.5, curriculum_start_db=20.0)
    run(easy_h5, tmp_path / "c", cfg)
    rows = history(tmp_path / "c")
    assert float(rows[0]["train_loss"]) == 0.0 and float(rows[1]["train_loss"]) > 0.1
    run(easy_h5, tmp_path / "p", TrainConfig(epochs=2, batch_size=32))  # control
    assert float(history(tmp_path / "p")[0]["train_loss"]) > 0.1


ROBUST_SMALL = {
    **RECIPES["robust"],
    "recipe": "robust",
    "epochs": 4,
    "batch_size": 32,
    "crop": 64,
    "checkpoint_every": 3,
    "curriculum_start_db": 15.0,
    "snr_curriculum": 0.5,
}


def test_robust_run_resumes_exactly(mixed_h5, tmp_path, monkeypatch):
    import amrkit.train.runner as runner

    cfg = TrainConfig(**{**to_dict(CFG), **ROBUST_SMALL})
    full = tmp_path / "full"
    run(mixed_h5, full, cfg)
    real = runner.save_checkpoint

    def save_then_stop(*args, **kwargs):
        path = real(*args, **kwargs)
        if (args[3].epoch, args[3].step) == (1, 3):  # mid epoch 2: curriculum still on
            raise Interrupt
        return path

    monkeypatch.setattr(runner, "save_checkpoint", save_then_stop)
    with pytest.raises(Interrupt):
        run(mixed_h5, tmp_path / "r", cfg)
    monkeypatch.setattr(runner, "save_checkpoint", real)
    run(mixed_h5, tmp_path / "r", None, model=None, resume=True)
    assert_same_weights(weights(full / "model.pt"), weights(tmp_path / "r" / "model.pt"))
    stored = json.loads((tmp_path / "r" / "run.json").read_text())["train_config"]
    assert TrainConfig.from_dict(stored) == cfg  # the stored config reloads as it was


# ---- recipes -----------------------------------------------------------------------------
def test_reference_recipe_is_the_defaults_and_robust_sets_the_documented_values():
    assert make_config() == TrainConfig() == make_config(recipe="reference")
    robust = make_config(recipe="robust")
    assert robust.recipe == "robust"
    assert (robust.lr, robust.schedule, robust.batch_size, robust.epochs) == (
        0.05,
        "cosine",
        64,
        24,
    )
    assert (robust.crop, robust.time_scale, robust.snr_curriculum) == (512, 0.2, 0.25)
    assert robust.augment == "phase,conj,freq,noise,timescale"


def test_recipe_precedence_recipe_then_file_then_options(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("lr: 0.1\ncrop: 256\n")
    cfg = make_config(str(f), recipe="robust", crop=128)
    assert cfg.batch_size == 64  # recipe over the defaults
    assert cfg.lr == 0.1  # file over recipe
    assert cfg.crop == 128  # option over file
    named = tmp_path / "r.yaml"
    named.write_text("recipe: robust\nepochs: 3\n")
    assert (make_config(str(named)).recipe, make_config(str(named)).batch_size) == ("robust", 64)
    back = make_config(str(named), recipe="reference")  # --recipe over the file's recipe
    assert (back.recipe, back.batch_size, back.epochs) == ("reference", 256, 3)


def test_unknown_recipe_is_a_one_line_error_listing_the_known(tmp_path):
    for make in (lambda: make_config(recipe="fast"), lambda: TrainConfig(recipe="fast")):
        with pytest.raises(AmrkitError, match="recipe = 'fast' is unknown.*reference, robust"):
            make()


def test_old_run_json_without_the_new_keys_still_loads_and_resume_checks_the_recipe():
    stored = to_dict(TrainConfig(epochs=3))
    for key in ("time_scale", "snr_curriculum", "curriculum_start_db", "recipe"):
        del stored[key]
    assert resume_config(stored, None, set()) == TrainConfig(epochs=3)
    robust = to_dict(make_config(recipe="robust"))
    with pytest.raises(AmrkitError, match="recipe = 'reference' differs"):
        resume_config(robust, make_config(), {"recipe"})
    assert resume_config(robust, make_config(recipe="robust"), {"recipe"}).recipe == "robust"


def test_cli_recipe_robust_end_to_end(easy_h5, tmp_path, capsys):
    out = tmp_path / "r"
    code, _, err = cli(capsys, "train", easy_h5, "--out", out, "--recipe", "robust", *TINY)
    assert code == 1 and "lower --crop (at most 91)" in one_line_error(err)  # 128-sample frames
    assert not out.exists()
    args = ("train", easy_h5, "--out", out, "--recipe", "robust", "--epochs", "1", "--crop", "64")
    code, _, err = cli(capsys, *args, *TINY)
    assert code == 0, err
    tc = json.loads((out / "run.json").read_text())["train_config"]
    assert (tc["recipe"], tc["lr"], tc["schedule"], tc["epochs"]) == ("robust", 0.05, "cosine", 1)
    assert (tc["crop"], tc["batch_size"], tc["augment"]) == (64, 32, ROBUST_SMALL["augment"])
    code, _, err = cli(capsys, "train", easy_h5, "--out", out, "--recipe", "nope", *TINY)
    assert code == 1 and "reference, robust" in one_line_error(err)
    code, _, err = cli(capsys, "train", easy_h5, "--out", out, "--resume", "--recipe", "reference")
    assert code == 1 and "recipe = 'reference' differs" in one_line_error(err)
