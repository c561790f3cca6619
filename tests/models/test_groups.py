"""Grouped conv layers (``16x8g4``): the cheaper block of the family. Syntax, round trips,
divisibility errors, and metrics equal to the real module's parameters and FLOPs."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from amrkit.errors import AmrkitError
from amrkit.metrics.network import network_metrics
from amrkit.models import CNNSpec, ConvSpec, build, get_spec, parse_spec_string


def test_syntax_and_round_trips(tmp_path):
    spec = parse_spec_string("16x4p,32x2g4p,32x3g32,64x1")
    assert [c.groups for c in spec.layers] == [1, 4, 32, 1]
    assert spec.short() == "16x4p,32x2g4p,32x3g32,64x1" and spec.grouped
    assert CNNSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    # plain layers serialize as before (no groups key): old run.json files read the same
    assert "groups" not in spec.to_dict()["layers"][0]
    assert spec.to_dict()["layers"][1]["groups"] == 4
    assert not get_spec("optimized").grouped
    assert "groups" not in json.dumps(get_spec("optimized").to_dict())


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("16x4g3", "groups 3 must divide"),  # 2 input channels
        ("16x4,24x2g5", "groups 5 must divide"),  # 16 inputs
        ("16x4,20x2g8", "groups 8 must divide"),  # 20 filters
        ("16x4g0", "groups must be an integer >= 1"),
    ],
)
def test_groups_must_divide_channels(text, needle):
    with pytest.raises(AmrkitError, match=needle):
        parse_spec_string(text)


grouped_specs = st.lists(
    st.tuples(st.sampled_from([1, 2, 4, 8]), st.integers(1, 6), st.sampled_from([1, 2, 3, 4, 8]),
              st.booleans()),
    min_size=1, max_size=5,
)  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(layers=grouped_specs, length=st.sampled_from([64, 100]))
def test_metrics_are_the_modules_params_and_flops(layers, length):
    cin, convs = 2, []
    for g, mult, kernel, pool in layers:
        g = g if cin % g == 0 else 1
        convs.append(ConvSpec(g * mult * 2, kernel, pool and len(convs) < 4, g))
        cin = convs[-1].filters
    spec = CNNSpec(tuple(convs), num_classes=5)
    model = build(spec).eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(torch.zeros(2, 2, length))
    m = network_metrics(spec, length)
    assert fc.get_total_flops() == 2 * 2 * m["macs"]
    params = sum(p.numel() for _, layer in model.compute_layers() for p in layer.parameters())
    assert params == m["learnables"]
    assert [b.conv.groups for b in model.blocks] == [c.groups for c in spec.layers]


def test_grouping_cuts_macs_by_the_group_count():
    plain = network_metrics(parse_spec_string("16x4p,32x4"), 1024)
    grouped = network_metrics(parse_spec_string("16x4p,32x4g8"), 1024)
    assert plain["layers"][1]["macs"] == 8 * grouped["layers"][1]["macs"]
    assert grouped["layers"][1]["hyperparameters"]["groups"] == 8
    assert "groups" not in plain["layers"][1]["hyperparameters"]  # plain tables unchanged


def test_deploy_form_folds_batch_norm_of_grouped_layers():
    from amrkit.models.deploy import DeployCNN

    model = build(parse_spec_string("8x4p,16x2g4p,16x3g16", num_classes=3))
    with torch.no_grad():  # non-trivial BN statistics
        for b in model.blocks:
            b.bn.running_mean.uniform_(-0.5, 0.5)
            b.bn.running_var.uniform_(0.5, 2.0)
            b.bn.weight.uniform_(0.5, 1.5)
    model.eval()
    deploy = DeployCNN.from_model(model)
    assert [deploy.conv(i).groups for i in range(3)] == [1, 4, 16]
    x = torch.randn(4, 2, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(deploy(x), model(x), atol=1e-5)
