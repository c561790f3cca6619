"""A plain description of an AMR CNN: conv layers (filters, kernel, pool after) → GAP → FC.

Specs come from the registry (``original``, ``optimized``), from YAML/JSON files, or from a
compact CLI string such as ``16x8p,24x8p,32x8p,48x8p,64x8p,96x8`` (``FILTERSxKERNEL``, a
trailing ``p`` puts a max-pool of ``pool_size`` (2) with the same stride after that layer).

A spec file holds the same fields as :class:`CNNSpec`; ``layers`` is a list of
``{filters, kernel, pool}`` mappings, of ``"16x8p"`` strings, or one spec string::

    name: my-cnn            # optional (defaults to the file's stem)
    num_classes: 11         # optional
    layers:
      - {filters: 16, kernel: 8, pool: true}
      - 24x8p
      - {filters: 32, kernel: 8, pool: false}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amrkit.config import from_dict, load_mapping, to_dict
from amrkit.errors import AmrkitError

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def same_padding(kernel: int) -> tuple[int, int]:
    """MATLAB's 'same' split: the extra sample goes right (kernel 8 → 3 left, 4 right)."""
    total = kernel - 1
    return total // 2, total - total // 2


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ConvSpec:
    filters: int
    kernel: int
    pool: bool = True  # max-pool (pool_size, stride pool_size) after BN + ReLU
    groups: int = 1  # grouped conv: each filter sees in_channels / groups inputs

    def __post_init__(self) -> None:
        if not _is_int(self.groups) or self.groups < 1:
            raise AmrkitError(f"conv layer groups must be an integer >= 1, got {self.groups!r}")
        if not (_is_int(self.filters) and _is_int(self.kernel)):
            raise AmrkitError(
                f"conv layer filters and kernel must be integers, got "
                f"{self.filters!r}x{self.kernel!r}"
            )
        if self.filters < 1 or self.kernel < 1:
            raise AmrkitError(
                f"conv layer needs filters >= 1 and kernel >= 1, got {self.filters}x{self.kernel}"
            )
        if not isinstance(self.pool, bool):
            raise AmrkitError(f"conv layer pool must be true or false, got {self.pool!r}")

    def short(self) -> str:
        groups = f"g{self.groups}" if self.groups > 1 else ""
        return f"{self.filters}x{self.kernel}{groups}{'p' if self.pool else ''}"

    def to_dict(self) -> dict[str, Any]:
        """Plain fields; ``groups`` only when > 1 (so plain specs read as before)."""
        d = to_dict(self)
        if self.groups == 1:
            del d["groups"]
        return d


@dataclass(frozen=True)
class CNNSpec:
    """Conv1d(same padding, MATLAB split) + BN + ReLU [+ max-pool] per layer, GAP, linear."""

    layers: tuple[ConvSpec, ...]
    name: str = "custom"
    in_channels: int = 2
    num_classes: int = 11
    pool_size: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        if not isinstance(self.layers, tuple) or not self.layers:
            raise AmrkitError("a model spec needs at least one conv layer, e.g. 16x8p,32x8")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, ConvSpec):
                raise AmrkitError(f"model spec layer {i + 1} is {layer!r}, not a ConvSpec")
        if not isinstance(self.name, str) or not self.name.strip():
            raise AmrkitError(f"model spec name must be a non-empty string, got {self.name!r}")
        for key in ("in_channels", "num_classes", "pool_size"):
            if not _is_int(getattr(self, key)):
                raise AmrkitError(
                    f"model spec {key} must be an integer, got {getattr(self, key)!r}"
                )
        if self.num_classes < 2:
            raise AmrkitError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.in_channels < 1:
            raise AmrkitError(f"in_channels must be >= 1, got {self.in_channels}")
        if self.pool_size < 1:
            raise AmrkitError(f"pool_size must be >= 1, got {self.pool_size}")
        cin = self.in_channels
        for i, layer in enumerate(self.layers):
            if cin % layer.groups or layer.filters % layer.groups:
                raise AmrkitError(
                    f"layer {i + 1} ({layer.short()}): groups {layer.groups} must divide its "
                    f"input channels ({cin}) and its filters ({layer.filters}); choose a divisor"
                )
            cin = layer.filters

    # ---- derived ---------------------------------------------------------------------
    @property
    def num_pools(self) -> int:
        return sum(layer.pool for layer in self.layers)

    @property
    def min_frame_length(self) -> int:
        """The shortest input every max-pool still accepts (``pool_size ** num_pools``)."""
        return self.pool_size**self.num_pools

    def lengths(self, frame_length: int) -> list[tuple[int, int]]:
        """Per conv layer: (length of the conv output, length after its pool)."""
        self.check_frame_length(frame_length)
        out = []
        length = frame_length
        for layer in self.layers:
            after = length // self.pool_size if layer.pool else length
            out.append((length, after))
            length = after
        return out

    def check_frame_length(self, frame_length: int) -> None:
        if not _is_int(frame_length) or frame_length < self.min_frame_length:
            raise AmrkitError(
                f"frame length {frame_length!r} is too short for model {self.name!r} "
                f"({self.num_pools} max-pools of {self.pool_size}); it needs at least "
                f"{self.min_frame_length} samples"
            )

    # ---- conversions -------------------------------------------------------------------
    def with_classes(self, num_classes: int) -> CNNSpec:
        return CNNSpec(self.layers, self.name, self.in_channels, num_classes, self.pool_size)

    def with_name(self, name: str) -> CNNSpec:
        return CNNSpec(self.layers, name, self.in_channels, self.num_classes, self.pool_size)

    def to_dict(self) -> dict[str, Any]:
        return {**to_dict(self), "layers": [layer.to_dict() for layer in self.layers]}

    @property
    def grouped(self) -> bool:
        return any(layer.groups > 1 for layer in self.layers)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model spec") -> CNNSpec:
        if isinstance(data, dict):
            if "layers" not in data:
                raise AmrkitError(
                    f"{where}: required key 'layers' is missing; example: layers: 16x8p,32x8"
                )
            data = {**data, "layers": _normalize_layers(data["layers"], where)}
        return from_dict(cls, data, where=where)

    def short(self) -> str:
        return ",".join(layer.short() for layer in self.layers)


_LAYER = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*(?:[gG](\d+))?\s*([pP]?)\s*$")


def looks_like_spec_string(text: str) -> bool:
    """``16x8p,32x8``-like (starts with a digit and has an ``x``), not a name or a file."""
    return bool(text) and text.strip()[:1].isdigit() and "x" in text.lower()


def parse_layer(text: str, where: str = "model spec") -> ConvSpec:
    m = _LAYER.match(text)
    if not m:
        raise AmrkitError(
            f"layer {text.strip()!r} in {where} is not FILTERSxKERNEL[gGROUPS][p]; example: "
            "16x8p,24x8g4p,32x8"
        )
    groups = int(m.group(3)) if m.group(3) else 1
    return ConvSpec(int(m.group(1)), int(m.group(2)), bool(m.group(4)), groups)


def parse_spec_string(text: str, name: str = "custom", **fields: Any) -> CNNSpec:
    """``"16x4p,24x2p,32x2"`` → CNNSpec (``fields``: num_classes, in_channels, pool_size)."""
    if not isinstance(text, str) or not text.strip():
        raise AmrkitError("model spec string is empty; example: 16x8p,24x8p,32x8")
    where = f"model spec {text!r}"
    layers = tuple(parse_layer(part, where) for part in text.split(","))
    return CNNSpec(layers, name=name, **fields)


def _normalize_layers(layers: Any, where: str) -> Any:
    """Accept ``"16x8p,32x8"`` or a list mixing mappings and ``"16x8p"`` strings."""
    if isinstance(layers, str):
        return [layer.to_dict() for layer in parse_spec_string(layers).layers]
    if isinstance(layers, (list, tuple)):
        out = []
        for i, item in enumerate(layers):
            if isinstance(item, str):
                item = parse_layer(item, where).to_dict()
            elif isinstance(item, dict):
                missing = [k for k in ("filters", "kernel") if k not in item]
                if missing:
                    raise AmrkitError(
                        f"{where}: layer {i + 1} lacks {' and '.join(missing)}; "
                        "example: {filters: 16, kernel: 8, pool: true}"
                    )
            out.append(item)
        return out
    raise AmrkitError(f"{where}: layers must be a list or a spec string, got {layers!r}")


def load_spec_file(path: str | Path) -> CNNSpec:
    """A YAML/JSON spec file: ``{name, layers: [{filters, kernel, pool}], num_classes, ...}``."""
    p = Path(path)
    if p.suffix.lower() not in SPEC_SUFFIXES:
        raise AmrkitError(f"model spec file {str(p)!r} must end in .yaml, .yml or .json")
    if not p.is_file():
        raise AmrkitError(f"model spec file {str(p)!r} does not exist; check the path")
    data = load_mapping(p)
    data.setdefault("name", p.stem)
    return CNNSpec.from_dict(data, where=str(p))


def save_spec_file(spec: CNNSpec, path: str | Path) -> Path:
    """Write ``spec`` as YAML (JSON for ``.json``) atomically; :func:`load_spec_file` reads it."""
    from amrkit.fileio import write_json, write_text

    p = Path(path)
    if p.suffix.lower() not in SPEC_SUFFIXES:
        raise AmrkitError(f"model spec file {str(p)!r} must end in .yaml, .yml or .json")
    if p.suffix.lower() == ".json":
        return write_json(p, spec.to_dict())
    import yaml

    return write_text(p, yaml.safe_dump(spec.to_dict(), sort_keys=False))
