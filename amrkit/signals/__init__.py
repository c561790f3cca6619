"""Modulators: pure, batched functions ``(n, T)`` with an explicit ``rng``."""

from amrkit.signals.catalog import (
    ANALOG,
    CLASSES,
    CPM,
    LINEAR,
    AudioSource,
    ModulationParams,
    is_analog,
    modulate,
)

__all__ = [
    "ANALOG",
    "CLASSES",
    "CPM",
    "LINEAR",
    "AudioSource",
    "ModulationParams",
    "is_analog",
    "modulate",
]
