"""The searched family: a :class:`CNNSpec` from a trial's choices, fitted to the budgets.

The depth; per layer the filters, the kernel and (``groups`` choices) a grouped conv; the
number of leading layers followed by a max-pool. A group count that does not divide the
layer's channels is reduced to one that does. A sample over the MAC/INT8-byte budget is
narrowed uniformly (the widest such narrowing, as pruning does),
so every trial that is trained meets the budget; a budget nothing in the family meets is an
error up front.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from amrkit.errors import AmrkitError
from amrkit.metrics.network import network_metrics
from amrkit.models import CNNSpec, ConvSpec
from amrkit.models.registry import get_spec
from amrkit.prune.channels import scaled_spec
from amrkit.search.config import SearchConfig


class Suggest(Protocol):  # the part of optuna.Trial the space uses
    def suggest_int(self, name: str, low: int, high: int) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


def sizes(spec: CNNSpec, frame_length: int) -> dict[str, int]:
    """MACs and INT8 parameter bytes (int8 weights, int32 biases), exact."""
    return {
        "macs": network_metrics(spec, frame_length)["macs"],
        "int8_bytes": network_metrics(spec, frame_length, precision="int8")["parameter_bytes"],
    }


def fits(spec: CNNSpec, frame_length: int, cfg: SearchConfig) -> bool:
    s = sizes(spec, frame_length)
    return (cfg.max_macs is None or s["macs"] <= cfg.max_macs) and (
        cfg.max_int8_bytes is None or s["int8_bytes"] <= cfg.max_int8_bytes
    )


def max_pools(frame_length: int, pool_size: int = 2) -> int:
    n = 0
    while pool_size ** (n + 1) <= frame_length:
        n += 1
    return n


def sample_spec(trial: Suggest, cfg: SearchConfig, frame_length: int, num_classes: int) -> CNNSpec:
    """The trial's choices as a spec (before fitting it to the budget).

    Pooling: a max-pool after each of the first ``pools`` layers (pooling early is what cuts
    MACs; every reference network does it), at most as many as the frame allows."""
    depth = trial.suggest_int("depth", cfg.min_layers, cfg.max_layers)
    pools = trial.suggest_int("pools", 0, min(depth, max_pools(frame_length)))
    layers, cin = [], 2
    for i in range(depth):
        filters = trial.suggest_categorical(f"filters{i + 1}", cfg.filters)
        groups = (
            trial.suggest_categorical(f"groups{i + 1}", cfg.groups)
            if len(cfg.groups) > 1
            else cfg.groups[0]
        )
        layers.append(
            ConvSpec(
                filters,
                trial.suggest_categorical(f"kernel{i + 1}", cfg.kernels),
                pool=i < pools,
                groups=math.gcd(groups, cin, filters),  # a group count that divides
            )
        )
        cin = filters
    return CNNSpec(tuple(layers), name="search", num_classes=num_classes)


def start_trials(cfg: SearchConfig) -> list[dict[str, Any]]:
    """Trial parameters of ``cfg.start_from``, in order (checked before any data is read)."""
    return [start_params(get_spec(name), cfg) for name in cfg.start_from]


def start_params(spec: CNNSpec, cfg: SearchConfig) -> dict[str, Any]:
    """The trial parameters that make :func:`sample_spec` return ``spec`` (before fitting):
    what a known design is enqueued as. One-line error when it lies outside the family."""
    layers = spec.layers
    pools = sum(1 for c in layers if c.pool)
    problems = []
    if not cfg.min_layers <= len(layers) <= cfg.max_layers:
        problems.append(f"{len(layers)} layers (allowed {cfg.min_layers}..{cfg.max_layers})")
    if any(c.pool for c in layers[pools:]):
        problems.append("a pool after an unpooled layer (the family pools the leading layers)")
    for i, c in enumerate(layers, 1):
        if c.filters not in cfg.filters:
            problems.append(f"layer {i} has {c.filters} filters (allowed {list(cfg.filters)})")
        if c.kernel not in cfg.kernels:
            problems.append(f"layer {i} has kernel {c.kernel} (allowed {list(cfg.kernels)})")
        if c.groups not in cfg.groups:
            problems.append(f"layer {i} has groups {c.groups} (allowed {list(cfg.groups)})")
    if problems:
        raise AmrkitError(
            f"start_from model {spec.short()!r} is outside the searched family: "
            f"{problems[0]}; give a spec inside it or widen the family (filters, kernels, "
            "groups, min_layers/max_layers)"
        )
    params: dict[str, Any] = {"depth": len(layers), "pools": pools}
    for i, c in enumerate(layers, 1):
        params[f"filters{i}"] = c.filters
        params[f"kernel{i}"] = c.kernel
        if len(cfg.groups) > 1:
            params[f"groups{i}"] = c.groups
    return params


def fit_budget(spec: CNNSpec, frame_length: int, cfg: SearchConfig) -> CNNSpec | None:
    """``spec`` if it meets the budget, else its widest uniform narrowing that does (no layer
    below the smallest width offered, ``min(cfg.filters)``: no 1-filter bottlenecks); None
    if even that is over."""
    if fits(spec, frame_length, cfg):
        return spec
    floor = cfg.filters[0]
    if not fits(scaled_spec(spec, 0.0, floor), frame_length, cfg):
        return None
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if fits(scaled_spec(spec, mid, floor), frame_length, cfg):
            lo = mid
        else:
            hi = mid
    return scaled_spec(spec, lo, floor)


def smallest_spec(cfg: SearchConfig, frame_length: int, num_classes: int) -> CNNSpec:
    """The family's cheapest member: fewest layers, the smallest width, the shortest kernel,
    all pools the frame allows (fewest MACs and fewest bytes at once)."""
    allowed = max_pools(frame_length)
    layers = tuple(
        ConvSpec(cfg.filters[0], cfg.kernels[0], pool=i < allowed) for i in range(cfg.min_layers)
    )
    return CNNSpec(layers, name="smallest", num_classes=num_classes)


def check_budget(cfg: SearchConfig, frame_length: int, num_classes: int) -> None:
    """One-line error when no member of the family meets the MAC/byte budget."""
    small = smallest_spec(cfg, frame_length, num_classes)
    if fits(small, frame_length, cfg):
        return
    s = sizes(small, frame_length)
    raise AmrkitError(
        f"no model in the search family meets --max-macs {cfg.max_macs} / --max-int8-kb "
        f"{_kb(cfg.max_int8_bytes)}: the smallest ({small.short()}, {cfg.min_layers} layers of "
        f"{cfg.filters[0]} filters) has {s['macs']:,} MACs and {s['int8_bytes']:,} INT8 bytes at "
        f"L = {frame_length}; raise the budget, or lower min_layers or the smallest of filters"
    )


def _kb(nbytes: int | None) -> str:
    return "none" if nbytes is None else f"{nbytes / 1000:g}"
