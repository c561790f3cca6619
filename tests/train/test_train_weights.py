"""MATLAB-style initialization and L2 groups (amrkit.train.weights)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.models import build
from amrkit.train.config import TrainConfig
from amrkit.train.weights import initialize, param_groups


def test_glorot_bounds_and_zero_biases() -> None:
    net = build("16x8p,24x4", num_classes=5)
    initialize(net, "glorot", torch.Generator().manual_seed(0))
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear)):
            w = m.weight
            fan_in = w.shape[1] * (w.shape[2] if w.dim() == 3 else 1)
            fan_out = w.shape[0] * (w.shape[2] if w.dim() == 3 else 1)
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert w.abs().max() <= bound
            assert w.abs().max() > 0.8 * bound  # really uniform on the full range
            assert torch.count_nonzero(m.bias) == 0
    for block in net.blocks:  # batch norm untouched: scale 1, offset 0
        assert torch.all(block.bn.weight == 1) and torch.all(block.bn.bias == 0)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_init_depends_only_on_the_generator(seed: int) -> None:
    a, b = build("8x4p,8x2", num_classes=3), build("8x4p,8x2", num_classes=3)
    torch.manual_seed(seed + 1)  # the global stream must not matter
    initialize(a, "glorot", torch.Generator().manual_seed(seed))
    torch.manual_seed(seed + 2)
    initialize(b, "glorot", torch.Generator().manual_seed(seed))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_torch_scheme_keeps_pytorch_defaults() -> None:
    torch.manual_seed(0)
    net = build("8x4", num_classes=3)
    before = [p.clone() for p in net.parameters()]
    initialize(net, "torch", torch.Generator().manual_seed(0))
    assert all(torch.equal(x, p) for x, p in zip(before, net.parameters(), strict=True))
    with pytest.raises(ValueError, match="unknown init"):
        initialize(net, "he", torch.Generator())


@pytest.mark.parametrize("bias_decay", [False, True])
def test_biases_are_not_regularized_unless_asked(bias_decay: bool) -> None:
    net = build("optimized")
    groups = param_groups(net, 1e-4, bias_decay)
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    every = {id(p) for g in groups for p in g["params"]}
    assert every == {id(p) for p in net.parameters()}  # each parameter exactly once
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))
    biases = [b.conv.bias for b in net.blocks] + [net.fc.bias]
    weights = [b.conv.weight for b in net.blocks] + [net.fc.weight]
    bn = [p for b in net.blocks for p in b.bn.parameters()]
    assert all(id(p) in decayed for p in weights + bn)
    assert all((id(p) in decayed) == bias_decay for p in biases)


def test_config_validates_init() -> None:
    from amrkit.errors import AmrkitError

    assert TrainConfig().init == "glorot" and TrainConfig().bias_decay is False
    with pytest.raises(AmrkitError, match="init"):
        TrainConfig(init="kaiming")
