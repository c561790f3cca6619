"""The training step's fast path: compile and precision decisions, the compile probe, and a
compiled bf16/fp32 run through ``train_model``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from amrkit.errors import AmrkitError
from amrkit.models import AmrCNN, get_spec
from amrkit.train import accel
from amrkit.train.accel import (
    COMPILE_MIN_STEPS,
    compile_for_training,
    cxx_compiler,
    resolve_compile,
    resolve_precision,
)
from amrkit.train.config import TrainConfig, resume_config
from amrkit.train.loop import train_one_epoch, unwrap

CPU = torch.device("cpu")
needs_cxx = pytest.mark.skipif(
    cxx_compiler() is None, reason="no C++ compiler: torch.compile (inductor) cannot run here"
)


def test_precision_auto_follows_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "native_bf16", lambda: True)
    assert resolve_precision("auto", CPU) == "bf16"
    assert resolve_precision("fp32", CPU) == "fp32"
    assert resolve_precision("auto", torch.device("cuda")) == "fp32"
    monkeypatch.setattr(accel, "native_bf16", lambda: False)
    assert resolve_precision("auto", CPU) == "fp32"


def test_explicit_bf16_is_refused_where_it_is_emulated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "native_bf16", lambda: False)
    with pytest.raises(AmrkitError, match="no native bf16.*--precision fp32"):
        resolve_precision("bf16", CPU)
    monkeypatch.setattr(accel, "native_bf16", lambda: True)
    assert resolve_precision("bf16", CPU) == "bf16"  # the control


def test_native_bf16_reads_the_cpu_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    assert accel.native_bf16()
    monkeypatch.setattr(accel, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert not accel.native_bf16()


def test_compile_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "cxx_compiler", lambda: "/usr/bin/g++")
    assert resolve_compile("off", CPU, 10**6, 1) == (False, "")
    assert resolve_compile("auto", CPU, COMPILE_MIN_STEPS - 1, 1) == (False, "")
    assert resolve_compile("auto", CPU, COMPILE_MIN_STEPS, 1) == (True, "")
    assert resolve_compile("on", CPU, 1, 1) == (True, "")
    on, note = resolve_compile("on", CPU, 1, 2)
    assert not on and "torchrun" in note
    monkeypatch.setattr(accel, "cxx_compiler", lambda: None)
    on, note = resolve_compile("on", CPU, 1, 1)
    assert not on and "g++" in note  # one line saying what is missing and the fix
    assert "\n" not in note


def test_config_checks_and_old_runs_resume_eager_fp32() -> None:
    with pytest.raises(AmrkitError, match="precision = 'fp16' is invalid"):
        TrainConfig(precision="fp16")
    with pytest.raises(AmrkitError, match="compile = 'yes' is invalid"):
        TrainConfig(compile="yes")
    stored = TrainConfig().to_dict()
    del stored["compile"], stored["precision"]  # a run.json from before these fields
    cfg = resume_config(stored, None, set())
    assert (cfg.compile, cfg.precision) == ("off", "fp32")
    # compile may change on resume (rounding only), precision may not
    assert resume_config(stored, TrainConfig(compile="on"), {"compile"}).compile == "on"
    with pytest.raises(AmrkitError, match="precision"):
        resume_config(stored, TrainConfig(precision="bf16"), {"precision"})


def test_epoch_stats_time_outside_the_step() -> None:
    torch.manual_seed(0)
    net = AmrCNN(get_spec("8x4p,8x2", 3))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    batches = [(torch.randn(8, 2, 64), torch.randint(0, 3, (8,))) for _ in range(4)]

    def slow():  # a data source that takes time: it must be counted as outside the step
        import time

        for b in batches:
            time.sleep(0.02)
            yield b

    stats = train_one_epoch(net, opt, slow())
    assert stats.seen == 32 and stats.data_seconds >= 0.08
    assert 0 < stats.data_share <= 1
    assert stats.frames_per_second == pytest.approx(32 / stats.seconds)
    fast = train_one_epoch(net, opt, batches)
    assert fast.data_share < stats.data_share  # the control


def test_bf16_steps_train_and_keep_fp32_weights() -> None:
    torch.manual_seed(0)
    net = AmrCNN(get_spec("8x4p,8x2", 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, 64, generator=g)
    y = (x[:, 0].mean(1) > 0).long()  # a learnable rule
    x[:, 0] += (2 * y - 1)[:, None] * 0.5
    first = train_one_epoch(net, opt, [(x, y)] * 5, precision="bf16").loss
    later = train_one_epoch(net, opt, [(x, y)] * 20, precision="bf16").loss
    assert later < first
    assert all(p.dtype == torch.float32 for p in net.parameters())


@needs_cxx
def test_compile_probe_leaves_the_model_as_it_was() -> None:
    torch.manual_seed(0)
    net = AmrCNN(get_spec("8x4p,12x2p,16x2", 4))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(16, 2, 128)
    compiled, seconds, note = compile_for_training(net, x, "fp32")
    assert note == "" and seconds > 0 and compiled is not net
    assert unwrap(compiled) is net
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics too
    assert all(p.grad is None for p in net.parameters())
    net.train()
    eager = net(x)
    got = compiled(x)
    assert torch.allclose(got, eager, atol=1e-4, rtol=1e-4)
    F.cross_entropy(got, torch.zeros(16, dtype=torch.long)).backward()
    assert all(p.grad is not None for p in net.parameters())


def test_a_failing_compile_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("inductor: cannot find cl.exe\nmore lines")

    monkeypatch.setattr(torch, "compile", lambda model, **kw: Broken())
    net = AmrCNN(get_spec("8x4p,8x2", 3))
    model, seconds, note = compile_for_training(net, torch.randn(4, 2, 64), "fp32")
    assert model is net and seconds == 0.0
    assert note.startswith("torch.compile failed (RuntimeError: inductor: cannot find cl.exe)")


@needs_cxx
def test_compiled_runs_are_reproducible_and_recorded(tiny_h5, tmp_path) -> None:
    from amrkit.fileio import read_json
    from amrkit.train.runner import train_model

    cfg = TrainConfig(epochs=2, batch_size=32, seed=3, compile="on", precision="fp32")
    runs = []
    for name in ("a", "b"):
        metrics = train_model(tiny_h5, "8x4p,12x2", tmp_path / name, cfg, progress=False)
        runs.append(torch.load(tmp_path / name / "model.pt", weights_only=True))
    assert metrics["compiled"] is True and metrics["precision"] == "fp32"
    assert read_json(tmp_path / "a" / "run.json")["runtime"]["compiled"] is True
    assert metrics["step_frames_per_s"] > 0 and 0 <= metrics["data_share"] < 1
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])  # same seed, same bits
    eager = TrainConfig(epochs=2, batch_size=32, seed=3, compile="off", precision="fp32")
    m = train_model(tiny_h5, "8x4p,12x2", tmp_path / "eager", eager, progress=False)
    assert m["compiled"] is False
    w = torch.load(tmp_path / "eager" / "model.pt", weights_only=True)
    # the same training up to rounding: close, though not necessarily the same bits
    assert all(torch.allclose(runs[0][k].float(), w[k].float(), atol=1e-3) for k in w)
