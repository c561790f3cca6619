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
    modulate_ranged,
)
from amrkit.signals.ranges import PULSES, SignalRanges

__all__ = [
    "ANALOG",
    "CLASSES",
    "CPM",
    "LINEAR",
    "AudioSource",
    "ModulationParams",
    "is_analog",
    "modulate",
    "modulate_ranged",
    "PULSES",
    "SignalRanges",
]
