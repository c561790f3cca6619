"""The c runtime computes the golden model's integers and logits, bit for bit."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from amrkit.errors import AmrkitError
from amrkit.golden import load_integer_model

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")


def test_c_runtime_is_bit_exact_with_golden(tiny_models: dict[str, Path], noise) -> None:
    from amrkit.deploy.runtime import CRuntime

    golden = load_integer_model(tiny_models["int8"])
    x = noise(37, 5) * 3  # some inputs clip at the input quantizer
    ref, _ = golden.run(x)
    for threads in (1, 2):
        rt = CRuntime(golden, threads=threads)
        out = rt.logits(x)
        assert out.dtype == np.float32 and out.shape == ref.shape
        assert np.array_equal(out, ref)
    # control: a different input gives different logits (the comparison can fail)
    assert not np.array_equal(rt.logits(x[::-1].copy()), ref)


def test_c_runtime_rejects_wrong_shape(tiny_models: dict[str, Path]) -> None:
    from amrkit.deploy.runtime import CRuntime

    rt = CRuntime(load_integer_model(tiny_models["int8"]))
    with pytest.raises(AmrkitError, match="do not fit"):
        rt.logits(np.zeros((2, 2, 32), np.float32))


def test_c_runtime_missing_compiler(tiny_models: dict[str, Path]) -> None:
    from amrkit.deploy.runtime import CRuntime

    with pytest.raises(AmrkitError, match="needs a C compiler"):
        CRuntime(load_integer_model(tiny_models["int8"]), cc="no-such-cc-amrkit")
