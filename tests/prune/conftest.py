"""A briefly trained run of the tiny dataset (``tiny_h5``, tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from amrkit.train.config import TrainConfig
from amrkit.train.runner import train_model


@pytest.fixture(scope="session")
def tiny_run(tiny_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prune-run") / "run"
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.05)
    train_model(tiny_h5, "8x4p,12x4p,16x2", out, cfg, progress=False, threads=1)
    return out
