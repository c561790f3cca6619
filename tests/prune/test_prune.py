"""Structured pruning: exact metrics of the narrower spec, the surgery keeps the chosen
channels, l1 and taylor rank as they should, and the command (fine-tune, errors)."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from amrkit.artifacts import load_run
from amrkit.cli import main
from amrkit.errors import AmrkitError
from amrkit.metrics.network import network_metrics
from amrkit.models import build, get_spec
from amrkit.prune.channels import prune_channels, prune_widths, recalibrate_bn


def _counted(model, length):
    params = sum(
        p.numel() for m in (*[b.conv for b in model.blocks], model.fc) for p in m.parameters()
    )
    with FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, 2, length))
    return params, fc.get_total_flops() // 2


@pytest.mark.parametrize(
    ("name", "length", "fraction"),
    [
        ("optimized", 1024, 0.5),
        ("optimized", 1024, 0.23),
        ("original", 333, 0.7),
        ("8x3p,5x2", 64, 0.4),
    ],
)
def test_pruned_spec_metrics_are_exact(name, length, fraction):
    spec = get_spec(name)
    model = build(spec)
    full = network_metrics(spec, length)["macs"]
    target = prune_widths(spec, length, int(full * fraction))
    pruned, kept = prune_channels(model, target, "l1")
    m = network_metrics(target, length)
    assert _counted(pruned, length) == (m["learnables"], m["macs"])
    assert m["macs"] <= int(full * fraction)
    assert m["macs"] > 0.8 * full * fraction  # the widest uniform narrowing, not any
    assert [len(k) for k in kept] == [c.filters for c in target.layers]


def test_surgery_keeps_exactly_the_chosen_channels():
    spec = get_spec("8x4p,12x4p,16x2")
    model = build(spec).eval()
    with torch.no_grad():  # channels 1, 5 of conv1 and 0, 7 of conv2 are nearly zero
        for i, chans in ((0, [1, 5]), (1, [0, 7])):
            model.blocks[i].conv.weight[chans] *= 1e-3
            model.blocks[i].conv.bias[chans] *= 1e-3
            model.blocks[i].bn.weight[chans] *= 1e-3
            nxt = model.blocks[i + 1].conv
            nxt.weight[:, chans] *= 1e-3
    target = prune_widths(spec, 128, network_metrics(spec, 128)["macs"] // 2)
    assert [c.filters for c in target.layers][:2] <= [6, 8]  # >= 2 channels go per layer
    pruned, kept = prune_channels(model, target, "l1")
    assert {1, 5}.isdisjoint(kept[0]) and {0, 7}.isdisjoint(kept[1])
    for i, block in enumerate(pruned.blocks):
        prev = kept[i - 1] if i else [0, 1]
        w = model.blocks[i].conv.weight[kept[i]][:, prev]
        assert torch.equal(block.conv.weight, w)
        assert torch.equal(block.bn.running_mean, model.blocks[i].bn.running_mean[kept[i]])
    assert torch.equal(pruned.fc.weight, model.fc.weight[:, kept[-1]])


def test_taylor_drops_a_dead_channel_that_l1_keeps():
    spec = get_spec("8x4p,8x4")
    model = build(spec).eval()
    with torch.no_grad():  # channel 3 of conv1: the largest weights, but ReLU never fires
        model.blocks[0].conv.weight[3] *= 50
        model.blocks[0].bn.bias[3] = -1e4
        model.blocks[1].conv.weight[:, 3] *= 50
    target = prune_widths(spec, 64, network_metrics(spec, 64)["macs"] * 3 // 4)
    batches = [(torch.randn(32, 2, 64), torch.randint(0, 11, (32,)))]
    _, kept_l1 = prune_channels(model, target, "l1")
    _, kept_taylor = prune_channels(model, target, "taylor", batches)
    assert 3 in kept_l1[0] and 3 not in kept_taylor[0]


def test_batch_norm_recalibration_averages_the_batch_statistics():
    model = build(get_spec("4x4p,6x2")).eval()
    x = torch.randn(40, 2, 32, generator=torch.Generator().manual_seed(0))
    batches = [(x[:20], None), (x[20:], None)]
    assert recalibrate_bn(model, batches) == 40
    with torch.no_grad():
        pre = model.blocks[0].conv(torch.nn.functional.pad(x, model.blocks[0].pad))  # (40, 4, 32)
    bn = model.blocks[0].bn
    # equal batches: the mean of the batch means is the mean over all frames
    assert torch.allclose(bn.running_mean, pre.mean(dim=(0, 2)), atol=1e-5)
    want = (pre[:20].var(dim=(0, 2)) + pre[20:].var(dim=(0, 2))) / 2  # unbiased, per batch
    assert torch.allclose(bn.running_var, want, rtol=1e-4, atol=1e-6)
    assert bn.momentum == 0.1 and not model.training


def test_budget_errors_name_the_smallest():
    spec = get_spec("optimized")
    with pytest.raises(AmrkitError, match="smallest pruning") as exc:
        prune_widths(spec, 1024, 1000)
    assert "1 filter(s) per layer" in str(exc.value)
    with pytest.raises(AmrkitError, match="nothing to prune"):
        prune_widths(spec, 1024, 10**9)


def cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code or 0, out, err


def test_cli_prunes_and_fine_tunes(tiny_h5, tiny_run, tmp_path, capsys):
    out = tmp_path / "p"
    code, stdout, err = cli(
        capsys, "prune", tiny_run, "--data", tiny_h5, "--out", out, "--ratio", "0.5",
        "--method", "taylor", "--epochs", "1", "--batch-size", "32", "--threads", "1",
        "--quiet", "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(stdout)
    run = load_run(out)
    m = network_metrics(run.spec, run.frame_length)
    assert m["macs"] == report["pruned"]["macs"] <= report["original"]["macs"] // 2
    assert _counted(run.model, run.frame_length) == (m["learnables"], m["macs"])
    assert json.loads((out / "run.json").read_text())["pruned_from"]["kept_channels"]
    assert report["finetune_epochs"] == 1 and 0 <= report["test_accuracy"] <= 1
    assert json.loads((out / "prune.json").read_text()) == report


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--ratio", "1.5"], "--ratio"),
        (["--ratio", "0.5", "--target-macs", "100"], "exactly one"),
        ([], "exactly one"),
        (["--target-macs", "10"], "smallest pruning"),
        (["--ratio", "0.5", "--method", "random"], "--method"),
    ],
)
def test_cli_bad_budgets_are_one_line_errors(tiny_h5, tiny_run, tmp_path, capsys, args, needle):
    out = tmp_path / "p"
    code, _, err = cli(capsys, "prune", tiny_run, "--data", tiny_h5, "--out", out, *args)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and needle in lines[0], err
    assert not out.exists()
