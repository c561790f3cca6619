"""The C requantization (one static inline function) against the golden model's integer
rounding and against real float32 arithmetic (the "float32" mode: ONNX Runtime's
round_half_even(float32(acc) * float32(M)))."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from amrkit.deploy.codegen import write_library
from amrkit.deploy.host import find_cc
from amrkit.golden.ops import decompose_multiplier, rounding_shift

pytestmark = pytest.mark.skipif(find_cc() is None, reason="no host C compiler 'cc' on PATH")

HARNESS = r"""
#include <stdio.h>
#include "amr_model.c"
int main(void)
{
    long acc, m0, n;
    while (scanf("%ld %ld %ld", &acc, &m0, &n) == 3)
        printf("%ld\n", (long)amr_requant((int32_t)acc, (int32_t)m0, (int32_t)n, 0,
                                          INT32_MIN, INT32_MAX));
    return 0;
}
"""


def _cases(rng: np.random.Generator, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Accumulators (|acc| < 2^24) and float32 multipliers, with exact ties mixed in."""
    acc = rng.integers(-(2**24) + 1, 2**24, n)
    acc[: n // 4] = rng.integers(-300, 300, n // 4)
    m = (10.0 ** rng.uniform(-6, -0.1, n)).astype(np.float32)
    m[: n // 8] = np.float32(2.0) ** -rng.integers(1, 6, n // 8)  # powers of two: ties
    m[n // 8 : n // 4] = np.float32(3.0) * np.float32(2.0) ** -rng.integers(2, 7, n // 8)
    return acc.astype(np.int64), m


def _run_c(lib: Path, tmp: Path, rows: np.ndarray) -> np.ndarray:
    (lib / "harness.c").write_text(HARNESS)
    exe = tmp / "requant.exe"
    subprocess.run(
        ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", f"-I{lib}", str(lib / "harness.c"),
         str(lib / "amr_weights.c"), "-lm", "-o", str(exe)],
        check=True,
    )  # fmt: skip
    text = "\n".join(" ".join(map(str, r)) for r in rows)
    out = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True)
    return np.asarray(out.stdout.split(), np.int64)


@pytest.mark.parametrize("mode", ["half_even", "half_away", "half_up", "float32"])
def test_c_requant_matches_reference(mode, libraries, tmp_path):
    model, _ = libraries["optimized"]
    default, model.rounding = model.rounding, mode  # the generator reads IntegerModel.rounding
    try:
        lib = tmp_path / "lib"
        write_library(model, lib)
    finally:
        model.rounding = default
    acc, m = _cases(np.random.default_rng(7))
    pairs = [decompose_multiplier(float(v)) for v in m]
    m0 = np.array([p[0] for p in pairs], np.int64)
    n = np.array([p[1] for p in pairs], np.int64)
    got = _run_c(lib, tmp_path, np.stack([acc, m0, n], axis=1))
    if mode == "float32":  # what ONNX Runtime computes, in real float32
        want = np.rint(acc.astype(np.float32) * m).astype(np.int64)
    else:
        want = rounding_shift(acc * m0, n, mode)
    assert np.array_equal(got, want)
    ties = np.abs(acc.astype(np.float64) * m.astype(np.float64) % 1 - 0.5) < 1e-12
    assert ties.sum() > 100  # the ties (where the modes differ) were exercised
