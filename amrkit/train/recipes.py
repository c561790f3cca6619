"""Named training recipes: sets of :class:`~amrkit.train.config.TrainConfig` overrides.

``amrkit train --recipe NAME`` starts from the defaults, applies the recipe, then the
``--config`` file, then explicit options; run.json's ``train_config`` stores every resolved
field and the recipe's name (``recipe``). docs/training.md explains each value.

- ``reference``: no overrides, the reference pipeline's schedule (what ``amrkit reproduce``
  trains).
- ``robust``: for data that amrkit did not generate, or that ``amrkit generate --preset wide``
  generated (SNR −10…30 dB, random impairments): a longer cosine schedule on random windows,
  augmented toward receivers other than the data's (phase, conjugate, frequency offset, noise,
  symbol-rate/clock mismatch), low-SNR frames left out of the first quarter of the epochs.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

ROBUST: dict[str, Any] = {
    "optimizer": "sgd",
    "lr": 0.05,
    "schedule": "cosine",
    "warmup": 0.05,
    "batch_size": 64,
    "epochs": 24,
    "augment": "phase,conj,freq,noise,timescale",
    "crop": 512,
    "time_scale": 0.2,
    "freq_shift": 0.01,
    "noise_snr_db": 0.0,
    "snr_curriculum": 0.25,
    "curriculum_start_db": 10.0,
}

RECIPES = MappingProxyType({"reference": MappingProxyType({}), "robust": MappingProxyType(ROBUST)})
