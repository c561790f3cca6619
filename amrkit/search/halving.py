"""Successive halving for a multi-objective study.

Optuna's pruners work on single-objective studies only, so the search keeps each trial's
validation accuracy after every epoch as a user attribute (``val_acc_<epoch>``) and decides
here. Rungs are epochs 1, eta, eta^2, ...; at a rung a trial goes on only if it is among the
best ``1/eta`` of its *peers*: the trials that reached this rung and are at least as cheap
(MACs and INT8 bytes both <=). Comparing with cheaper models only keeps a small model from
being stopped by big, more accurate ones: it is stopped when cheaper models beat it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def rungs(epochs: int, eta: int) -> list[int]:
    """Epochs after which the halving rule is applied (the last epoch is not a rung)."""
    out, r = [], 1
    while r < epochs:
        out.append(r)
        r *= eta
    return out


def keep_going(value: float, peers: Sequence[float], eta: int, min_trials: int) -> bool:
    """True when ``value`` is within the best ``ceil(n / eta)`` of ``peers + [value]``
    (higher is better), or when fewer than ``min_trials`` peers reached the rung."""
    if len(peers) < min_trials:
        return True
    n = len(peers) + 1
    better = sum(p > value for p in peers)
    return better < math.ceil(n / eta)
