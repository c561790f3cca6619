"""Fixtures of the zoo's tests: one tiny entry built the real way, in a tmp zoo, shared by
the session; ``zoo_env`` points ``zoo:`` names at it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

_spec = importlib.util.spec_from_file_location(
    "zoo_fixtures", Path(__file__).with_name("zoo_fixtures.py")
)
zf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zf)
sys.modules["zoo_fixtures"] = zf  # the tests here import its helpers (conftest loads first)


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo folder holding entry ``tiny`` (4 classes, 128 samples; ~10 s on 2 cores)."""
    root = tmp_path_factory.mktemp("tinyzoo")
    threads = torch.get_num_threads()
    try:
        zf.build_tiny_entry(root / "work", root / "zoo")
    finally:
        torch.set_num_threads(threads)
    return root / "zoo"


@pytest.fixture
def zoo_env(tiny_zoo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(tiny_zoo))
    return tiny_zoo


@pytest.fixture(scope="session")
def zoo_helpers():
    return zf
