"""train_one_epoch / evaluate / fit on plain modules and tensors."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from amrkit.train.config import TrainConfig
from amrkit.train.data import SplitData
from amrkit.train.loop import EpochStats, TrainState, evaluate, fit, train_one_epoch


def _toy(n: int = 256, length: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, length, generator=g) * 0.3
    x[:, 0, :] += (2 * y - 1).float()[:, None]  # class = sign of the I mean
    return x, y


class Wrapped(nn.Module):
    """Not an AmrCNN: any module taking (n, 2, L) works (QAT wrappers, DDP)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))

    def forward(self, x):
        return self.inner(x)


def test_train_one_epoch_on_any_module_lowers_the_loss():
    torch.manual_seed(0)
    x, y = _toy()
    model = Wrapped()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, len(x), 32)]
    before = evaluate(model, batches)
    seen_steps = []
    stats = train_one_epoch(model, opt, batches, on_step=lambda s: seen_steps.append(s.steps))
    stats2 = train_one_epoch(model, opt, batches)
    after = evaluate(model, batches)
    assert seen_steps == list(range(1, 9))
    assert stats.seen == stats2.seen == 256 and stats.steps == 8
    assert after.loss < before.loss and after.accuracy > 0.95
    assert stats2.loss < stats.loss


def test_evaluate_matches_a_direct_computation():
    torch.manual_seed(1)
    x, y = _toy(100)
    model = Wrapped()
    r = evaluate(model, [(x[:30], y[:30]), (x[30:], y[30:])], return_pred=True)
    with torch.no_grad():
        logits = model(x)
    assert r.n == 100
    assert np.isclose(r.loss, float(F.cross_entropy(logits, y)), rtol=1e-5)
    assert np.array_equal(r.pred, logits.argmax(1).numpy())
    assert r.accuracy == float((logits.argmax(1) == y).float().mean())
    assert model.training  # mode restored


def test_continuing_stats_adds_up():
    x, y = _toy(64)
    model = Wrapped()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    s = train_one_epoch(model, opt, [(x[:32], y[:32])])
    s = train_one_epoch(
        model, opt, [(x[32:], y[32:])], stats=EpochStats(s.loss_sum, s.correct, s.seen, s.steps)
    )
    assert s.seen == 64 and s.steps == 2


def test_fit_schedule_history_and_best_weights():
    x, y = _toy(256)
    xv, yv = _toy(64, seed=1)
    train = SplitData(y, np.zeros(len(y), np.float32), x=x)
    val = SplitData(yv, np.zeros(len(yv), np.float32), x=xv)
    torch.manual_seed(0)
    model = Wrapped()
    cfg = TrainConfig(epochs=4, batch_size=32, lr=0.05, lr_drop_epoch=2, lr_drop_factor=0.5)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    lrs = []
    state = fit(
        model,
        opt,
        train,
        val,
        cfg,
        TrainState(),
        on_epoch=lambda s: lrs.append(opt.param_groups[0]["lr"]),
    )
    assert lrs == [0.05, 0.05, 0.025, 0.025]
    assert [h["lr"] for h in state.history] == lrs
    assert [h["epoch"] for h in state.history] == [1, 2, 3, 4]
    assert all(h["train_frames"] == 256 for h in state.history)  # 8 full batches of 32
    best = max(state.history, key=lambda h: (h["val_acc"], -h["val_loss"]))
    assert state.best_epoch == best["epoch"] and state.best_val_accuracy == best["val_acc"]
    model.load_state_dict(state.best_model)
    assert evaluate(model, [(xv, yv)]).accuracy == state.best_val_accuracy
