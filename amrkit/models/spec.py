"""A plain description of an AMR CNN: conv layers (filters, kernel, pool after) → GAP → FC.

Specs come from the registry (``original``, ``optimized``), from YAML/JSON files, or from a
compact CLI string such as ``16x8p,24x8p,32x8p,48x8p,64x8p,96x8`` (``FILTERSxKERNEL``, a
trailing ``p`` puts a 2/2 max-pool after that layer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amrkit.config import from_dict, load_mapping, to_dict
from amrkit.errors import AmrkitError


@dataclass(frozen=True)
class ConvSpec:
    filters: int
    kernel: int
    pool: bool = True  # 2/2 max-pool after BN + ReLU

    def __post_init__(self) -> None:
        if self.filters < 1 or self.kernel < 1:
            raise AmrkitError(
                f"conv layer needs filters >= 1 and kernel >= 1, got {self.filters}x{self.kernel}"
            )


@dataclass(frozen=True)
class CNNSpec:
    """Conv1d(same padding, MATLAB split) + BN + ReLU [+ max-pool] per layer, GAP, linear."""

    layers: tuple[ConvSpec, ...]
    name: str = "custom"
    in_channels: int = 2
    num_classes: int = 11
    pool_size: int = 2

    def __post_init__(self) -> None:
        if not self.layers:
            raise AmrkitError("a model spec needs at least one conv layer")
        if self.num_classes < 2:
            raise AmrkitError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.in_channels < 1 or self.pool_size < 1:
            raise AmrkitError("in_channels and pool_size must be >= 1")

    def with_classes(self, num_classes: int) -> CNNSpec:
        return CNNSpec(self.layers, self.name, self.in_channels, num_classes, self.pool_size)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model spec") -> CNNSpec:
        return from_dict(cls, data, where=where)

    def short(self) -> str:
        return ",".join(f"{c.filters}x{c.kernel}{'p' if c.pool else ''}" for c in self.layers)


_LAYER = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*(p?)\s*$")


def parse_spec_string(text: str, name: str = "custom") -> CNNSpec:
    """``"16x4p,24x2p,32x2"`` → CNNSpec."""
    layers = []
    for part in text.split(","):
        m = _LAYER.match(part)
        if not m:
            raise AmrkitError(
                f"layer {part.strip()!r} in model spec {text!r} is not FILTERSxKERNEL[p]; "
                "example: 16x8p,24x8p,32x8"
            )
        layers.append(ConvSpec(int(m.group(1)), int(m.group(2)), bool(m.group(3))))
    return CNNSpec(tuple(layers), name=name)


def load_spec_file(path: str | Path) -> CNNSpec:
    """A YAML/JSON spec file: ``{name, layers: [{filters, kernel, pool}], num_classes, ...}``."""
    data = load_mapping(path)
    data.setdefault("name", Path(path).stem)
    return CNNSpec.from_dict(data, where=str(path))
