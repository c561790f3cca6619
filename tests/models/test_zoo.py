"""Registry-driven checks: every registered model builds, runs, trains and is counted right."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from amrkit.errors import AmrkitError
from amrkit.metrics.network import network_metrics
from amrkit.models import AmrCNN, CNNSpec, ConvSpec, build, get_spec, list_models, register
from amrkit.models.cnn import same_padding
from amrkit.models.registry import unregister

MODELS = list_models()
LENGTHS = [128, 1024, 333]  # 333: odd, and pooling floors it at every stage


def test_builtin_models_are_registered():
    assert {"original", "optimized"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("length", LENGTHS)
def test_forward_shape_finite_and_macs_match_flop_counter(name, length):
    torch.manual_seed(0)
    spec = get_spec(name)
    model = build(spec).eval()
    x = torch.randn(3, spec.in_channels, length, generator=torch.Generator().manual_seed(1))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = model(x)
    assert y.shape == (3, spec.num_classes)
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()
    # FlopCounterMode counts 2 FLOPs per multiply-accumulate of conv and linear (bias, BN,
    # ReLU, pooling ignored): exactly the paper's MAC convention, for a batch of 3
    m = network_metrics(spec, length)
    assert counter.get_total_flops() == 2 * 3 * m["macs"]
    # and the learnables are the conv/fc parameters of the real module
    conv_fc = sum(p.numel() for _, layer in model.compute_layers() for p in layer.parameters())
    assert m["learnables"] == conv_fc
    bn = sum(p.numel() for b in model.blocks for p in b.bn.parameters())
    assert m["bn_learnables"] == bn
    assert conv_fc + bn == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = build(name).train()
    x = torch.randn(4, 2, 256)
    y = torch.tensor([0, 1, 2, 3])
    torch.nn.functional.cross_entropy(model(x), y).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        # a conv bias right before training-mode BN has an exactly-zero gradient (BN removes
        # the channel mean); it is kept because the paper counts it (272 = 16 x (2x8 + 1))
        if not (pname.endswith("conv.bias")):
            assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", MODELS)
def test_layer_names_and_structure(name):
    spec = get_spec(name)
    model = build(spec)
    names = model.layer_names()
    assert names == [f"conv{i + 1}" for i in range(len(spec.layers))] + ["fc"]
    assert [n for n, _ in model.compute_layers()] == names
    for block, layer in zip(model.blocks, spec.layers, strict=True):
        assert block.conv.out_channels == layer.filters
        assert block.conv.kernel_size == (layer.kernel,)
        assert block.conv.padding == (0,)  # padding is the explicit asymmetric F.pad
        assert block.pad == same_padding(layer.kernel)
        assert (block.pool is not None) == layer.pool
    assert model.fc.out_features == spec.num_classes


@pytest.mark.parametrize(
    "kernel,expected",
    [(8, (3, 4)), (4, (1, 2)), (2, (0, 1)), (1, (0, 0)), (3, (1, 1)), (7, (3, 3))],
)
def test_same_padding_matches_matlab(kernel, expected):
    assert same_padding(kernel) == expected


def test_same_padding_is_asymmetric_like_the_reference():
    """A kernel-8 conv must see 3 samples before and 4 after each output position."""
    spec = CNNSpec((ConvSpec(1, 8, pool=False),), in_channels=1, num_classes=2)
    model = AmrCNN(spec).eval()
    conv = model.blocks[0].conv
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 0, 0] = 1.0  # picks x[t - 3] under (3, 4) padding
    x = torch.arange(1, 11, dtype=torch.float32).reshape(1, 1, 10)
    out = conv(torch.nn.functional.pad(x, model.blocks[0].pad))
    assert out.shape[-1] == 10
    assert out[0, 0, :4].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert out[0, 0, 3:].tolist() == x[0, 0, :7].tolist()


def test_frame_length_too_short_is_a_clear_error():
    spec = get_spec("optimized")  # 6 pools → at least 64 samples
    assert spec.min_frame_length == 64
    network_metrics(spec, 64)
    with pytest.raises(AmrkitError, match="at least 64"):
        network_metrics(spec, 63)


def test_register_rejects_duplicates_and_bad_names():
    with pytest.raises(AmrkitError, match="already registered"):
        register("original")(lambda: get_spec("16x8"))
    for bad in ("16x8", "", "my model", "net.yaml"):
        with pytest.raises(AmrkitError, match="not allowed"):
            register(bad)
    assert list_models() == MODELS


def test_register_and_unregister_a_model():
    @register("tiny-test-net")
    def tiny() -> CNNSpec:
        """A tiny test net."""
        return CNNSpec((ConvSpec(4, 3),), name="tiny-test-net", num_classes=3)

    try:
        assert "tiny-test-net" in list_models()
        assert build("tiny-test-net")(torch.zeros(1, 2, 16)).shape == (1, 3)
    finally:
        unregister("tiny-test-net")
    assert "tiny-test-net" not in list_models()
    with pytest.raises(AmrkitError, match="not registered"):
        unregister("tiny-test-net")


def test_unknown_names_are_clear_errors():
    with pytest.raises(AmrkitError, match=r"unknown model 'orignal' \(did you mean 'original'\?\)"):
        get_spec("orignal")
    with pytest.raises(AmrkitError, match="registered: .*optimized.*original"):
        build("resnet")
    with pytest.raises(AmrkitError, match="empty"):
        get_spec("  ")


def test_build_num_classes_override():
    model = build("optimized", num_classes=4)
    assert model.fc.out_features == 4
    assert get_spec("original", num_classes=5).num_classes == 5
    assert get_spec("original").num_classes == 11
