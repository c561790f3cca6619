"""The inference form of an :class:`AmrCNN`: batch norm folded into the convolutions.

``DeployCNN`` holds ``conv1 … convN`` (Conv1d with bias) and ``fc``; its parameter names are
the layer names every report uses, and they become the ONNX initializer names
(``conv1.weight``, ``conv1.bias`` … ``fc.weight``, ``fc.bias``). In eval mode it computes
the same function as the source model (BN with running statistics is an affine map per
channel, folded as ``w' = w·γ/σ``, ``b' = (b − μ)·γ/σ + β`` with ``σ = sqrt(var + eps)``).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from amrkit.models.cnn import AmrCNN, same_padding
from amrkit.models.spec import CNNSpec


class DeployCNN(nn.Module):
    """Pad → Conv1d(+folded BN) → ReLU [→ MaxPool] per layer, mean over time, Linear."""

    def __init__(self, spec: CNNSpec) -> None:
        super().__init__()
        self.spec = spec
        self.pads: list[tuple[int, int]] = []
        self.pools: list[int] = []
        cin = spec.in_channels
        for i, layer in enumerate(spec.layers):
            conv = nn.Conv1d(cin, layer.filters, layer.kernel, groups=layer.groups)
            self.add_module(f"conv{i + 1}", conv)
            self.pads.append(same_padding(layer.kernel))
            self.pools.append(spec.pool_size if layer.pool else 0)
            cin = layer.filters
        self.fc = nn.Linear(cin, spec.num_classes)

    @property
    def num_convs(self) -> int:
        return len(self.pads)

    def conv(self, i: int) -> nn.Conv1d:
        """The i-th conv layer, 0-based (``conv(0)`` is ``conv1``)."""
        return getattr(self, f"conv{i + 1}")

    def layer_names(self) -> list[str]:
        return [f"conv{i + 1}" for i in range(self.num_convs)] + ["fc"]

    @classmethod
    def from_model(cls, model: AmrCNN | DeployCNN) -> DeployCNN:
        """A BN-folded copy (the source model is left untouched)."""
        if isinstance(model, DeployCNN):
            return copy.deepcopy(model).eval()
        out = cls(model.spec)
        with torch.no_grad():
            for i, block in enumerate(model.blocks):
                w, b = fold_batchnorm(block.conv, block.bn)
                out.conv(i).weight.copy_(w)
                out.conv(i).bias.copy_(b)
            out.fc.weight.copy_(model.fc.weight)
            out.fc.bias.copy_(model.fc.bias)
        return out.eval()

    def forward(self, iq: torch.Tensor) -> torch.Tensor:  # (n, 2, L) → (n, classes)
        x = iq
        for i in range(self.num_convs):
            conv = self.conv(i)
            x = F.relu(F.conv1d(F.pad(x, self.pads[i]), conv.weight, conv.bias, groups=conv.groups))
            if self.pools[i]:
                x = F.max_pool1d(x, self.pools[i], self.pools[i])
        # mean over time; the exporter's ReduceMean becomes GlobalAveragePool + Flatten
        return self.fc(x.mean(dim=2))


def fold_batchnorm(conv: nn.Conv1d, bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias of ``bn(conv(x))`` as one conv (eval statistics), in float64 math."""
    w = conv.weight.detach().double()  # (cout, cin, k)
    b = (
        conv.bias.detach().double()
        if conv.bias is not None
        else torch.zeros(w.shape[0], dtype=torch.float64)
    )
    gamma = bn.weight.detach().double() if bn.affine else torch.ones_like(b)
    beta = bn.bias.detach().double() if bn.affine else torch.zeros_like(b)
    inv_sigma = torch.rsqrt(bn.running_var.detach().double() + bn.eps)
    factor = gamma * inv_sigma  # (cout,)
    w_f = w * factor[:, None, None]
    b_f = (b - bn.running_mean.detach().double()) * factor + beta
    return w_f.to(conv.weight.dtype), b_f.to(conv.weight.dtype)
