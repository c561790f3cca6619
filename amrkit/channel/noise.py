"""Additive white Gaussian noise at a nominal SNR, in two conventions.

``measured`` (default): noise power = measured mean power of each frame's signal / SNR.
``matlab``: the reference's assumption of a unit-power signal (noise power = 1 / SNR);
RRC-shaped signals have power ≈ 1/8 there, so they get ≈ 9 dB less than nominal.
"""

from __future__ import annotations

import numpy as np

from amrkit.signals.fastmath import normal_from_uniforms, normal_uniforms

CONVENTIONS = ("measured", "matlab")  # the SNR conventions (``--snr-convention``)


def frame_power(x: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """Mean power ``mean|x|²`` of each frame of ``x`` (n, L) complex64: (n,) float32.

    Summed over the interleaved float32 I/Q (NumPy's pairwise sum), the one definition used
    for the ``measured`` SNR and for the final normalization.
    """
    return np.square(x.view(np.float32)).mean(axis=1, keepdims=keepdims) * 2


def noise_power(x: np.ndarray, snr_db: np.ndarray, convention: str = "measured") -> np.ndarray:
    """Per-frame complex noise power: (n,) float64 (0 where the SNR is inf)."""
    snr = np.asarray(snr_db, dtype=np.float64)
    if convention == "measured":
        ref = frame_power(x).astype(np.float64)
    elif convention == "matlab":
        ref = np.ones(x.shape[0])
    else:
        raise ValueError(f"snr convention {convention!r} not in {CONVENTIONS}")
    return np.where(np.isinf(snr), 0.0, ref * 10.0 ** (-np.where(np.isinf(snr), 0, snr) / 10))


def add_awgn(
    x: np.ndarray, snr_db: np.ndarray, rng: np.random.Generator, convention: str = "measured"
) -> np.ndarray:
    """``x`` plus circular complex Gaussian noise: (n, L) complex64."""
    return add_awgn_uniforms(x, snr_db, normal_uniforms(rng, x.shape), convention)


def add_awgn_uniforms(
    x: np.ndarray, snr_db: np.ndarray, uniforms: np.ndarray, convention: str = "measured"
) -> np.ndarray:
    """:func:`add_awgn` with the noise's draws given: ``uniforms`` (2, n, L) float32 from
    ``normal_uniforms(rng, x.shape)``. Row by row, so frames may be processed in chunks."""
    sigma = np.sqrt(noise_power(x, snr_db, convention) / 2).astype(np.float32)[:, None]
    w = normal_from_uniforms(uniforms)  # unit variance per component
    w *= sigma
    w += x
    return w
