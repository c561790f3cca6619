"""Small vectorized helpers used on every frame, written for speed in plain NumPy.

NumPy's complex ``exp`` and its float32 ziggurat normals are several times slower than
SIMD float32 ``cos``/``sin``/``log`` on the machines amrkit targets, and they dominate the
synthesizer's profile; these replacements are exact transforms, not approximations.
"""

from __future__ import annotations

import numpy as np


def cis(phase: np.ndarray) -> np.ndarray:
    """``exp(j·phase)`` as complex64 from float32 cos/sin: same shape as ``phase``."""
    ph = np.asarray(phase, dtype=np.float32)
    out = np.empty((*ph.shape, 2), dtype=np.float32)
    np.cos(ph, out=out[..., 0])
    np.sin(ph, out=out[..., 1])
    return out.view(np.complex64)[..., 0]


def cis_cycles(cycles: np.ndarray) -> np.ndarray:
    """``exp(j 2π cycles)`` as complex64; ``cycles`` is reduced mod 1 in its own precision."""
    c = np.asarray(cycles)
    frac = c - np.floor(c)
    return cis((2 * np.pi) * frac.astype(np.float32))


def complex_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Circular complex Gaussian, ``E|w|² = 2`` (unit variance per component): complex64.

    Box–Muller on float32 uniforms: exact in distribution, with the tail cut at
    √(−2 ln 2⁻²⁴) ≈ 5.8σ by the 24-bit uniforms (probability < 1e-8 per sample).
    """
    return normal_from_uniforms(normal_uniforms(rng, shape))


def normal_uniforms(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """The draws behind :func:`complex_normal`: (2, *shape) float32 uniforms in [0, 1)."""
    return rng.random((2, *shape), dtype=np.float32)


def normal_from_uniforms(u: np.ndarray) -> np.ndarray:
    """Box–Muller of ``u`` (2, ...) float32 from :func:`normal_uniforms`: u.shape[1:] complex64.

    Elementwise, so any slice ``u[:, rows]`` gives exactly those rows of the whole.
    """
    r = np.sqrt(-2.0 * np.log1p(-u[0]))  # 1 - u ∈ (0, 1]: log finite
    w = cis((2 * np.pi) * u[1])
    w.real *= r
    w.imag *= r
    return w
