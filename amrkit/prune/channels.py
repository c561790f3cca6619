"""Which channels go: the narrower spec for a budget, and the channel surgery.

The family is a chain, so a conv layer's output channel j lives in conv i (filter j), BN i
(channel j) and conv i+1 / fc (input j). Torch-Pruning's dependency graph finds that group
and its importance scores it (l1/l2: the group's weight magnitude; taylor: |w · ∂L/∂w|);
the widths themselves come from the spec, so the pruned model's metrics are the spec's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

import torch
import torch.nn.functional as F
import torch_pruning as tp

from amrkit.errors import AmrkitError
from amrkit.metrics.network import network_metrics
from amrkit.models import AmrCNN, CNNSpec


def scaled_spec(spec: CNNSpec, keep: float, min_filters: int = 1) -> CNNSpec:
    """``spec`` with every conv layer's filters x ``keep`` (rounded, >= ``min_filters``); a
    grouped layer keeps the largest group count that still divides its channels."""
    layers, cin = [], spec.in_channels
    for c in spec.layers:
        filters = max(min(min_filters, c.filters), round(c.filters * keep))
        layers.append(replace(c, filters=filters, groups=math.gcd(c.groups, cin, filters)))
        cin = filters
    return replace(spec, layers=tuple(layers))


def prune_widths(
    spec: CNNSpec, frame_length: int, target_macs: int, min_filters: int = 1
) -> CNNSpec:
    """The widest uniformly narrowed ``spec`` with at most ``target_macs`` MACs."""
    macs = network_metrics(spec, frame_length)["macs"]
    floor = network_metrics(scaled_spec(spec, 0.0, min_filters), frame_length)["macs"]
    if target_macs >= macs:
        raise AmrkitError(
            f"target of {target_macs:,} MACs is not below the model's {macs:,}; nothing to "
            "prune (give a smaller --target-macs or a --ratio below 1)"
        )
    if target_macs < floor:
        raise AmrkitError(
            f"target of {target_macs:,} MACs is below the smallest pruning of "
            f"{spec.short()!r} ({floor:,} MACs with {min_filters} filter(s) per layer); "
            "give at least that"
        )
    lo, hi = 0.0, 1.0  # MACs grow with keep: find the largest keep under the target
    for _ in range(40):
        mid = (lo + hi) / 2
        if (
            network_metrics(scaled_spec(spec, mid, min_filters), frame_length)["macs"]
            <= target_macs
        ):
            lo = mid
        else:
            hi = mid
    return replace(scaled_spec(spec, lo, min_filters), name=f"{spec.name}-pruned")


def _importance(method: str) -> tp.importance.Importance:
    if method == "taylor":
        return tp.importance.GroupTaylorImportance()
    return tp.importance.GroupMagnitudeImportance(p=1 if method == "l1" else 2)


def _accumulate_gradients(
    model: AmrCNN, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> None:
    """Sum of the cross-entropy gradients over ``batches`` (eval mode: BN stats untouched)."""
    model.eval()
    model.zero_grad(set_to_none=True)
    for x, y in batches:
        F.cross_entropy(model(x), y, reduction="sum").backward()


@torch.no_grad()
def recalibrate_bn(model: AmrCNN, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> int:
    """Batch-norm running statistics recomputed over ``batches`` (removing a layer's inputs
    shifts its output statistics): the average of the batches' means and (unbiased)
    variances, as PyTorch's ``momentum=None``; returns the frames seen."""
    bns = [b.bn for b in model.blocks]
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over all batches
    model.train()
    seen = 0
    for x, _ in batches:
        model(x)
        seen += len(x)
    for bn, m in zip(bns, saved, strict=True):
        bn.momentum = m
    model.eval()
    return seen


def prune_channels(
    model: AmrCNN,
    target: CNNSpec,
    method: str,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]] = (),
) -> tuple[AmrCNN, list[list[int]]]:
    """A copy of ``model`` narrowed to ``target``'s widths, keeping the most important
    channels of each conv layer; also the kept channel indices per layer."""
    work = AmrCNN(model.spec)
    work.load_state_dict(model.state_dict())
    example = torch.zeros(1, model.spec.in_channels, model.spec.min_frame_length * 4)
    if method == "taylor":
        _accumulate_gradients(work, batches)
    graph = tp.DependencyGraph().build_dependency(work, example_inputs=example)
    imp = _importance(method)
    drops, kept = [], []
    for block, layer in zip(work.blocks, target.layers, strict=True):  # score all first
        n = block.conv.out_channels
        group = graph.get_pruning_group(block.conv, tp.prune_conv_out_channels, list(range(n)))
        scores = imp(group).detach()
        # ties (e.g. dead channels) broken by index, so the choice is reproducible
        order = sorted(range(n), key=lambda j: (-float(scores[j]), j))
        keep = sorted(order[: layer.filters])
        kept.append(keep)
        drops.append([j for j in range(n) if j not in set(keep)])
    for block, drop in zip(work.blocks, drops, strict=True):
        if drop:
            graph.get_pruning_group(block.conv, tp.prune_conv_out_channels, drop).prune()
    pruned = AmrCNN(target)
    pruned.load_state_dict(work.state_dict())  # strict: the surgery gave target's shapes
    pruned.eval()
    return pruned, kept
