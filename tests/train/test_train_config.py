"""TrainConfig: defaults, validation, file + override precedence, resume rules, LR schedule."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.config import from_dict, to_dict
from amrkit.errors import AmrkitError
from amrkit.train.config import TrainConfig, make_config, resume_config


def test_defaults_are_the_reference_pipeline():
    cfg = TrainConfig()
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.momentum, cfg.weight_decay) == (
        12,
        256,
        0.02,
        0.9,
        1e-4,
    )
    assert cfg.shuffle
    # learning rate x 0.1 after epoch 9: epochs 10-12 use 0.002
    assert [cfg.lr_at(e) for e in range(1, 13)] == [0.02] * 9 + [pytest.approx(0.002)] * 3


configs = st.builds(
    TrainConfig,
    epochs=st.integers(1, 1000),
    batch_size=st.integers(1, 4096),
    lr=st.floats(1e-6, 10.0),
    momentum=st.floats(0.0, 0.999),
    weight_decay=st.floats(0.0, 1.0),
    lr_drop_epoch=st.integers(0, 1000),
    lr_drop_factor=st.floats(1e-3, 1.0),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**63 - 1),
    checkpoint_every=st.integers(0, 10_000),
)


@given(configs)
@settings(max_examples=60, deadline=None)
def test_round_trip_through_json(cfg):
    back = from_dict(TrainConfig, json.loads(json.dumps(to_dict(cfg))))
    assert back == cfg


@given(configs, st.integers(1, 2000))
@settings(max_examples=60, deadline=None)
def test_lr_schedule_is_a_single_drop(cfg, epoch):
    lr = cfg.lr_at(epoch)
    assert lr == (cfg.lr if epoch <= cfg.lr_drop_epoch else cfg.lr * cfg.lr_drop_factor)
    assert cfg.lr_at(epoch + 1) <= lr  # never increases


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("epochs", -1),
        ("epochs", 0),
        ("batch_size", 0),
        ("lr", 0.0),
        ("lr", -0.1),
        ("lr", math.inf),
        ("lr", math.nan),
        ("momentum", 1.0),
        ("momentum", -0.1),
        ("weight_decay", -1e-4),
        ("lr_drop_epoch", -1),
        ("lr_drop_factor", 0.0),
        ("lr_drop_factor", 1.5),
        ("seed", -1),
        ("checkpoint_every", -5),
        ("eval_batch_size", 0),
        ("memory_mb", -1.0),
    ],
)
def test_invalid_values_are_one_line_errors_naming_the_key(key, value):
    with pytest.raises(AmrkitError) as err:
        TrainConfig(**{key: value})
    msg = str(err.value)
    assert key in msg and "\n" not in msg and "--" + key.replace("_", "-") in msg


@given(st.one_of(st.integers(-100, 0)), st.floats(-10, 0))
@settings(max_examples=30, deadline=None)
def test_nonpositive_epochs_or_lr_always_rejected(epochs, lr):
    with pytest.raises(AmrkitError):
        TrainConfig(epochs=epochs)
    with pytest.raises(AmrkitError):
        TrainConfig(lr=lr)


def test_file_then_overrides(tmp_path):
    f = tmp_path / "train.yaml"
    f.write_text("epochs: 3\nlr: 0.05\nbatch_size: 64\n")
    cfg = make_config(str(f), lr=0.1, epochs=None)
    assert (cfg.epochs, cfg.lr, cfg.batch_size, cfg.momentum) == (3, 0.1, 64, 0.9)
    j = tmp_path / "train.json"
    j.write_text(json.dumps({"weight_decay": 0}))
    assert make_config(str(j)).weight_decay == 0.0


def test_unknown_key_in_file_is_an_error(tmp_path):
    f = tmp_path / "train.yaml"
    f.write_text("epochs: 3\nlearning_rate: 0.1\n")
    with pytest.raises(AmrkitError, match="learning_rate"):
        make_config(str(f))


def test_wrong_type_in_file_is_an_error(tmp_path):
    f = tmp_path / "train.yaml"
    f.write_text("epochs: many\n")
    with pytest.raises(AmrkitError, match="epochs"):
        make_config(str(f))


def test_resume_allows_only_weight_neutral_changes():
    stored = to_dict(TrainConfig(epochs=3, seed=5))
    more = resume_config(stored, TrainConfig(epochs=6, lr=0.5), {"epochs"})
    assert (more.epochs, more.lr, more.seed) == (6, 0.02, 5)  # lr not given: stored value kept
    with pytest.raises(AmrkitError, match="lr"):
        resume_config(stored, TrainConfig(lr=0.5), {"lr"})
    with pytest.raises(AmrkitError, match="seed"):
        resume_config(stored, TrainConfig(seed=6), {"seed"})
    same = resume_config(stored, TrainConfig(epochs=3, seed=5), {"epochs", "seed"})
    assert same == TrainConfig(epochs=3, seed=5)


def test_cosine_schedule_warms_up_then_decays_to_zero():
    cfg = TrainConfig(epochs=4, lr=0.1, schedule="cosine", warmup=0.25)
    steps = 10
    lrs = [cfg.lr_at(e, s, steps) for e in range(1, 5) for s in range(steps)]
    assert lrs[:10] == pytest.approx([0.1 * (k + 1) / 10 for k in range(10)])  # warm-up
    assert lrs[10] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))  # then never rises
    assert 0 < lrs[-1] < 0.001
    step = TrainConfig(epochs=4, lr=0.1, lr_drop_epoch=2)  # control: the reference's drop
    assert [step.lr_at(e, 5, steps) for e in range(1, 5)] == pytest.approx([0.1, 0.1, 0.01, 0.01])


@pytest.mark.parametrize(
    ("key", "value"),
    [("optimizer", "adam"), ("schedule", "linear"), ("warmup", 1.0), ("crop", -1)],
)
def test_new_training_knobs_reject_bad_values(key, value):
    with pytest.raises(AmrkitError) as err:
        TrainConfig(**{key: value})
    assert key in str(err.value) and "\n" not in str(err.value)


def test_resume_cannot_stretch_a_cosine_schedule():
    stored = to_dict(TrainConfig(epochs=4, schedule="cosine"))
    with pytest.raises(AmrkitError, match="schedule cosine"):
        resume_config(stored, TrainConfig(epochs=8, schedule="cosine"), {"epochs"})
    plain = to_dict(TrainConfig(epochs=4))  # control: a step schedule may be extended
    assert resume_config(plain, TrainConfig(epochs=8), {"epochs"}).epochs == 8
