"""Mixed precision: per-layer weight bit widths chosen by sensitivity to fit a byte budget.

The budget counts what a packed deployment stores: each quantized layer's weights at its own
bit width (``ceil(count·bits/8)`` bytes per tensor), its int32 biases at 4 B, and the
weights and biases of FP32 (``exclude``) layers at 4 B. The exported QDQ file still stores
every weight in int8 — only the values are restricted to the narrower grid.

The chooser (:func:`choose_mixed`):

1. *sensitivity* of each free layer (not fixed by ``layer_bits``): the mean KL divergence
   ``KL(p_ref ‖ p_layer)`` of the softmax outputs on the calibration frames (training split)
   between the calibrated fake-quant model at the default widths and the same model with only
   that layer's weights at ``mixed_low_bits``;
2. *greedy*: free layers in increasing order of sensitivity per byte saved drop to
   ``mixed_low_bits`` until the packed bytes meet the budget; then every lowered layer whose
   return to the default width still fits the budget gets it back (most sensitive first), so
   no layer is lowered needlessly.

A budget that no assignment meets (every free layer lowered) is a one-line error that names
the smallest reachable size; it is checked before any calibration or training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from amrkit.errors import AmrkitError
from amrkit.models.deploy import DeployCNN
from amrkit.quant.config import QATConfig
from amrkit.quant.details import packed_size
from amrkit.quant.fakequant import FakeQuantCNN

SENSITIVITY_BATCH = 256


def parameter_counts(deploy: DeployCNN) -> dict[str, tuple[int, int]]:
    """Layer → (weights, biases)."""
    mods = {f"conv{i + 1}": deploy.conv(i) for i in range(deploy.num_convs)}
    mods["fc"] = deploy.fc
    return {name: (m.weight.numel(), m.bias.numel()) for name, m in mods.items()}


def packed_bytes(
    counts: Mapping[str, tuple[int, int]], bits: Mapping[str, int], excluded: tuple[str, ...]
) -> int:
    """Packed parameter bytes: quantized weights at ``bits[layer]``, int32 biases, FP32
    (excluded) layers at 4 B per value."""
    total = 0
    for layer, (w, b) in counts.items():
        total += 4 * (w + b) if layer in excluded else packed_size(w, bits[layer]) + 4 * b
    return total


def check_layer_names(config: QATConfig, layer_names: list[str]) -> None:
    unknown = [name for name, _ in config.layer_bits if name not in layer_names]
    if unknown:
        raise AmrkitError(
            f"unknown layer(s) {', '.join(unknown)} in --layer-bits; the model's layers are "
            f"{', '.join(layer_names)}"
        )


def _free_layers(config: QATConfig, counts: Mapping[str, tuple[int, int]]) -> list[str]:
    fixed = dict(config.layer_bits)
    return [n for n in counts if n not in fixed and n not in config.exclude]


def _start_bits(config: QATConfig, counts: Mapping[str, tuple[int, int]]) -> dict[str, int]:
    return {n: config.bits_of(n) for n in counts if n not in config.exclude}


def check_budget(config: QATConfig, counts: Mapping[str, tuple[int, int]]) -> None:
    """One-line error when even every free layer at ``mixed_low_bits`` misses the budget."""
    if config.max_packed_bytes is None:
        return
    low = _start_bits(config, counts)
    low.update({n: config.mixed_low_bits for n in _free_layers(config, counts)})
    smallest = packed_bytes(counts, low, config.exclude)
    if smallest > config.max_packed_bytes:
        raise AmrkitError(
            f"--max-packed-kb {config.max_packed_bytes / 1000:g} cannot be met: the smallest "
            f"reachable size is {smallest:,} bytes ({smallest / 1000:g} kB, every layer not "
            f"fixed by --layer-bits at {config.mixed_low_bits} bits); raise the budget, lower "
            "--mixed-low-bits or fix fewer layers"
        )


def _kl(ref: torch.Tensor, logits: torch.Tensor) -> float:
    p_log = torch.log_softmax(ref.double(), dim=1)
    q_log = torch.log_softmax(logits.double(), dim=1)
    return float((p_log.exp() * (p_log - q_log)).sum(dim=1).mean())


def _logits(fq: FakeQuantCNN, iq: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(iq, dtype=np.float32))
    step = SENSITIVITY_BATCH
    with torch.inference_mode():
        return torch.cat([fq(x[i : i + step]) for i in range(0, len(x), step)])


def sensitivities(
    fq: FakeQuantCNN, iq: np.ndarray, layers: list[str], low_bits: int
) -> dict[str, float]:
    """Per layer, the mean KL divergence of the outputs when only that layer's weights drop
    to ``low_bits`` (reference: ``fq`` as it is). ``fq`` is left as it was."""
    fq.eval()
    ref = _logits(fq, iq)
    out = {}
    for layer in layers:
        before = fq.layer_bits.get(layer)
        fq.layer_bits[layer] = low_bits
        try:
            out[layer] = _kl(ref, _logits(fq, iq))
        finally:
            if before is None:
                del fq.layer_bits[layer]
            else:
                fq.layer_bits[layer] = before
    return out


def greedy_bits(
    sensitivity: Mapping[str, float],
    counts: Mapping[str, tuple[int, int]],
    start: Mapping[str, int],
    low_bits: int,
    budget: int,
    excluded: tuple[str, ...] = (),
) -> tuple[dict[str, int], list[str]]:
    """The per-layer bits (and the order tried) that meet ``budget`` by lowering the layers
    of ``sensitivity`` to ``low_bits``, cheapest sensitivity per saved byte first; lowered
    layers that the budget does not need go back up (most sensitive first)."""
    bits = dict(start)

    def saved(n: str) -> int:
        return packed_size(counts[n][0], start[n]) - packed_size(counts[n][0], low_bits)

    order = sorted(sensitivity, key=lambda n: (sensitivity[n] / max(saved(n), 1), n))
    lowered = []
    for layer in order:
        if packed_bytes(counts, bits, excluded) <= budget:
            break
        bits[layer] = low_bits
        lowered.append(layer)
    for layer in sorted(lowered, key=lambda n: -sensitivity[n]):
        trial = {**bits, layer: start[layer]}
        if packed_bytes(counts, trial, excluded) <= budget:
            bits = trial
    return bits, order


def choose_mixed(fq: FakeQuantCNN, iq: np.ndarray, config: QATConfig) -> dict[str, Any]:
    """Measure, choose and apply (to ``fq.layer_bits``) the per-layer bits for
    ``config.max_packed_bytes``; returns the record for quantization.json."""
    counts = parameter_counts(fq.net)
    check_budget(config, counts)
    free = _free_layers(config, counts)
    start = _start_bits(config, counts)
    sens = sensitivities(fq, iq, free, config.mixed_low_bits)
    budget = int(config.max_packed_bytes)  # type: ignore[arg-type]
    bits, order = greedy_bits(sens, counts, start, config.mixed_low_bits, budget, config.exclude)
    fq.layer_bits.update(bits)
    return {
        "budget_bytes": budget,
        "low_bits": config.mixed_low_bits,
        "default_bits": config.bits,
        "fixed_layers": dict(config.layer_bits),
        "sensitivity_metric": "mean KL(p_default || p_layer_low) on the calibration frames",
        "sensitivity_frames": int(len(iq)),
        "sensitivity": sens,
        "order": order,
        "chosen_bits": {n: bits[n] for n in start},
        "packed_bytes_default": packed_bytes(counts, start, config.exclude),
        "packed_bytes": packed_bytes(counts, bits, config.exclude),
    }
