"""amrkit's pretrained models: use them, build their cards, rebuild them.

Use (every file of an entry is checked against its SHA-256 first)::

    from amrkit.zoo import pretrained, path, predictor
    model = pretrained("optimized")          # torch AmrCNN, eval mode
    int8 = path("optimized", "int8")         # the portable INT8 ONNX file
    pred = predictor("optimized", "int8")    # amrkit.infer Predictor: pred.logits(iq)

and on the command line ``zoo:optimized`` / ``zoo:optimized:int8`` wherever a run or model
path goes. The files and the index live in :mod:`amrkit.pretrained` (a low layer, so that
:mod:`amrkit.artifacts` resolves the names); this package builds entries
(:mod:`~amrkit.zoo.build`, ``amrkit zoo add``), measures them (:mod:`~amrkit.zoo.measure`),
renders their cards (:mod:`~amrkit.zoo.cards`), re-measures them against their cards
(:mod:`~amrkit.zoo.check`) and rebuilds them (:mod:`~amrkit.zoo.rebuild`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amrkit import pretrained as _store

__all__ = ["card", "names", "path", "predictor", "pretrained"]


def _name(name: str) -> str:
    parsed = _store.parse_ref(name)
    return parsed[0] if parsed else _store.check_name(name)


def names() -> list[str]:
    """The shipped entries (``amrkit zoo list``)."""
    return _store.names()


def path(name: str, precision: str = "fp32") -> Path:
    """The checked run folder (``fp32``) or INT8 ONNX file (``int8``) of entry ``name``."""
    from amrkit.errors import AmrkitError

    if precision not in _store.VARIANTS:
        raise AmrkitError(f"precision {precision!r} is not one of {', '.join(_store.VARIANTS)}")
    return _store.verify(_name(name)).file(precision)


def pretrained(name: str) -> Any:
    """The trained model of entry ``name`` (``amrkit.models.AmrCNN``, eval mode, CPU)."""
    from amrkit.artifacts import load_run

    return load_run(f"{_store.PREFIX}{_name(name)}").model


def predictor(name: str, precision: str = "int8", **kwargs: Any) -> Any:
    """An :mod:`amrkit.infer` predictor of the entry (``kwargs``: device, threads, runtime)."""
    from amrkit.infer import load_predictor

    return load_predictor(path(name, precision), **kwargs)


def card(name: str) -> dict[str, Any]:
    """The entry's model card (JSON), its files checked."""
    from amrkit.zoo.check import load_card

    return load_card(_name(name))
