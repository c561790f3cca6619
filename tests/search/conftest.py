"""A search config sized for tests (the tiny dataset ``tiny_h5`` is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from amrkit.search.config import SearchConfig

# a search small enough for tests: ~1-2 s per proxy trial on one core
TINY = {
    "proxy_train_per_class": 40,
    "proxy_val_per_class": 10,
    "proxy_epochs": 2,
    "proxy_lr_drop_epoch": 2,
    "min_layers": 2,
    "max_layers": 3,
    "filters": [4, 8],
    "kernels": [2, 4],
    "objectives": ["accuracy", "macs", "int8_bytes"],
    "final_epochs": 1,
    "max_final": 1,
    "batch_size": 32,
    "proxy_batch_size": 32,
    "lr": 0.05,
    "golden_frames": 32,
    "latency_min_time": 0.05,
}


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(**changes) -> SearchConfig``."""
    return lambda **changes: SearchConfig(**{**TINY, **changes})
