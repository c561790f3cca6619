"""Disjoint train / validation / test splits, stratified by class and SNR."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from amrkit.errors import AmrkitError

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = {"train": TRAIN, "val": VAL, "test": TEST}
# ONNX metadata key: the seed of the derived split the model was trained on
SPLIT_SEED_KEY = "amrkit.split_seed"


def parse_fractions(text: str | tuple[float, ...]) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` → (0.8, 0.1, 0.1); must be three non-negative numbers summing to 1."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise AmrkitError(f"split {text!r} is not three numbers; use e.g. 0.8,0.1,0.1") from None
    if len(values) != 3 or any(v < 0 for v in values) or abs(sum(values) - 1) > 1e-6:
        raise AmrkitError(
            f"split {text!r} must be three non-negative fractions summing to 1 (train,val,test), "
            "e.g. 0.8,0.1,0.1"
        )
    return values  # type: ignore[return-value]


def stratified_split(
    label: np.ndarray,
    snr_db: np.ndarray,
    fractions: tuple[float, float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """(N,) uint8 split ids; each (class, SNR) group is shuffled and cut by ``fractions``.

    Counts per group are ``floor``-rounded for train and validation so every group gives
    the test split its remainder; groups are visited in sorted order, so the result depends
    only on the inputs and the generator state.
    """
    label = np.asarray(label)
    snr = np.nan_to_num(np.asarray(snr_db, dtype=np.float64), nan=-1e9, posinf=1e9)
    split = np.empty(label.shape[0], dtype=np.uint8)
    keys = np.stack([label.astype(np.float64), snr], axis=1)
    groups, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(groups) + 1))
    for g in range(len(groups)):
        members = order[bounds[g] : bounds[g + 1]]
        members = members[rng.permutation(len(members))]
        n = len(members)
        n_train = int(np.floor(n * fractions[0] + 1e-9))
        n_val = int(np.floor(n * fractions[1] + 1e-9))
        split[members[:n_train]] = TRAIN
        split[members[n_train : n_train + n_val]] = VAL
        split[members[n_train + n_val :]] = TEST
    return split


def recorded_split_seed(record: Mapping[str, Any] | None, where: str = "the model") -> int | None:
    """The seed of the derived split a model was trained on, or None if it records none.

    ``record`` is a run's ``run.json`` (``dataset.derived_split.seed``, written by
    ``amrkit train`` for files without a split) or an ONNX file's metadata
    (:data:`SPLIT_SEED_KEY`, written by ``amrkit export`` / ``quantize``).
    """
    if not record:
        return None
    if SPLIT_SEED_KEY in record:
        value = record[SPLIT_SEED_KEY]
    else:
        dataset = record.get("dataset")
        derived = dataset.get("derived_split") if isinstance(dataset, Mapping) else None
        if not isinstance(derived, Mapping) or derived.get("seed") is None:
            return None
        value = derived["seed"]
    try:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError
        seed = int(value)
    except ValueError:
        seed = -1
    if seed < 0:
        raise AmrkitError(
            f"{where} records split seed {value!r}, not an integer >= 0; "
            "pass --split-seed to choose the split"
        )
    return seed


def resolve_split_seed(
    explicit: int | None, record: Mapping[str, Any] | None, where: str = "the model"
) -> int:
    """The derived-split seed to open data with: ``explicit`` (``--split-seed``), else the
    model's recorded one (:func:`recorded_split_seed`), else 0."""
    if explicit is not None:
        if isinstance(explicit, bool) or not isinstance(explicit, int) or explicit < 0:
            raise AmrkitError(f"--split-seed {explicit!r} must be an integer >= 0")
        return explicit
    recorded = recorded_split_seed(record, where)
    return 0 if recorded is None else recorded
