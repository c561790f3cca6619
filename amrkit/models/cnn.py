"""The AMR CNN family: every model amrkit builds is a :class:`AmrCNN` from a :class:`CNNSpec`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from amrkit.models.spec import CNNSpec, same_padding

__all__ = ["AmrCNN", "ConvBlock", "same_padding"]


class ConvBlock(nn.Module):
    """Conv1d → BN → ReLU [→ MaxPool1d]; 'same' padding done explicitly (asymmetric)."""

    def __init__(self, cin: int, cout: int, kernel: int, pool: int | None, groups: int = 1) -> None:
        super().__init__()
        self.pad = same_padding(kernel)
        self.conv = nn.Conv1d(cin, cout, kernel, groups=groups)
        self.bn = nn.BatchNorm1d(cout)
        self.pool = nn.MaxPool1d(pool, pool) if pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, cin, L) → (n, cout, L or L/p)
        x = F.relu(self.bn(self.conv(F.pad(x, self.pad))))
        return self.pool(x) if self.pool is not None else x


class AmrCNN(nn.Module):
    """Input (n, 2, L) I/Q; output (n, num_classes) logits (softmax left to the loss)."""

    def __init__(self, spec: CNNSpec) -> None:
        super().__init__()
        self.spec = spec
        blocks = []
        cin = spec.in_channels
        for layer in spec.layers:
            pool = spec.pool_size if layer.pool else None
            blocks.append(ConvBlock(cin, layer.filters, layer.kernel, pool, layer.groups))
            cin = layer.filters
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(cin, spec.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (n, C_last)
        for block in self.blocks:
            x = block(x)
        # global average pool (the exporter writes ReduceMean; amrkit.export rewrites it)
        return F.adaptive_avg_pool1d(x, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def layer_names(self) -> list[str]:
        """Paper-style names: conv1 … convN, fc."""
        return [f"conv{i + 1}" for i in range(len(self.blocks))] + ["fc"]

    def compute_layers(self) -> list[tuple[str, nn.Module]]:
        """The layers the paper counts (conv and fully connected), with their names."""
        return [*((f"conv{i + 1}", b.conv) for i, b in enumerate(self.blocks)), ("fc", self.fc)]
