"""The compiled full channel equals the NumPy reference chain, frame by frame.

Reference: apply_multipath → apply_clock_offset → add_awgn (same uniforms) → unit power.
The fused kernel applies the same operations (direct-form FIR instead of FFTs, float64 for
the clock/noise/normalization), so the two agree to float32 rounding, not bit for bit.
"""

import numpy as np
import pytest

from amrkit.channel import (
    ChannelModel,
    add_awgn_uniforms,
    apply_clock_offset,
    apply_multipath,
    draw_ppm,
    frame_power,
    rician_knots,
)
from amrkit.channel.fused import full_channel_frames
from amrkit.signals.fastmath import normal_uniforms

FS = 200e3


def _inputs(rng, n, t_len, length, delays, max_ppm=5.0):
    x = (rng.standard_normal((n, t_len)) + 1j * rng.standard_normal((n, t_len))).astype(
        np.complex64
    )
    model = ChannelModel(
        path_delays=delays, path_gains_db=tuple(-2.0 * i for i in range(len(delays)))
    )
    knots = rician_knots(n, t_len, FS, model, rng)
    ppm = draw_ppm(n, max_ppm, rng)
    fc = np.where(rng.random(n) < 0.5, 902e6, 100e6)
    start = rng.integers(4, t_len - length - 3, size=n)
    snr = rng.choice([-5.0, 10.0, np.inf], size=n).astype(np.float32)
    return x, knots, ppm, fc, start, snr, normal_uniforms(rng, (n, length))


def _reference(x, knots, delays, ppm, fc, start, snr, u, convention, length):
    y = apply_multipath(x, knots, delays)
    frame = apply_clock_offset(y, ppm, fc, FS, start, length)
    if u is not None:
        frame = add_awgn_uniforms(frame, snr, u, convention)
    frame = frame / np.sqrt(frame_power(frame, keepdims=True))
    return np.stack([frame.real, frame.imag], axis=1)


def _fused(x, knots, delays, ppm, fc, start, snr, u, convention, length):
    out = np.empty((len(x), 2, length), dtype=np.float32)
    full_channel_frames(x, knots, delays, ppm, fc, FS, start, snr, u, convention, out)
    return out


@pytest.mark.parametrize("delays", [(0.0, 1.8, 3.4), (0.5, 2.0), (1.0,), (2.0, 0.0, 7.25)])
@pytest.mark.parametrize("convention", ["measured", "matlab"])
def test_fused_equals_the_reference_chain(rng, delays, convention):
    n, t_len, length = 24, 400, 300
    args = _inputs(rng, n, t_len, length, delays)
    x, knots, ppm, fc, start, snr, u = args
    want = _reference(x, knots, delays, ppm, fc, start, snr, u, convention, length)
    got = _fused(x, knots, delays, ppm, fc, start, snr, u, convention, length)
    assert np.max(np.abs(got - want)) < 2e-5
    # control: another clock offset is a visibly different frame
    other = _fused(x, knots, delays, -ppm, fc, start, snr, u, convention, length)
    assert np.max(np.abs(other - want)) > 1e-2


def test_large_clock_offsets_skip_and_repeat_samples(rng):
    """At ±4000 ppm the window drifts by > 1 sample: the kernel's index jumps stay exact."""
    n, t_len, length = 16, 420, 300
    delays = (0.0, 1.8)
    x, knots, ppm, fc, start, snr, u = _inputs(rng, n, t_len, length, delays, max_ppm=4000)
    ppm[:2] = (-4000.0, 4000.0)
    start[:] = 40
    assert np.max(np.abs(ppm)) * 1e-6 * (40 + length) > 1.0  # really more than a sample
    want = _reference(x, knots, delays, ppm, fc, start, snr, u, "measured", length)
    got = _fused(x, knots, delays, ppm, fc, start, snr, u, "measured", length)
    assert np.max(np.abs(got - want)) < 2e-5


def test_window_past_the_signal_is_an_error(rng):
    n, t_len, length = 2, 320, 300
    x, knots, ppm, fc, start, snr, u = _inputs(rng, n, t_len, length, (0.0, 1.8))
    start[:] = t_len - length + 1  # the last interpolation neighbour is past the end
    with pytest.raises(ValueError, match="past the end"):
        _fused(x, knots, (0.0, 1.8), ppm, fc, start, snr, u, "measured", length)


def test_rows_are_independent_and_no_noise_equals_infinite_snr(rng):
    n, t_len, length = 20, 400, 300
    delays = (0.0, 1.8, 3.4)
    x, knots, ppm, fc, start, snr, u = _inputs(rng, n, t_len, length, delays)
    whole = _fused(x, knots, delays, ppm, fc, start, snr, u, "measured", length)
    rows = slice(5, 12)
    part = _fused(
        x[rows],
        knots[rows],
        delays,
        ppm[rows],
        fc[rows],
        start[rows],
        snr[rows],
        u[:, rows],
        "measured",
        length,
    )
    assert part.tobytes() == whole[rows].tobytes()
    clean = _fused(x, knots, delays, ppm, fc, start, snr, None, "measured", length)
    inf = np.isinf(snr)
    assert inf.any() and (~inf).any()
    assert clean[inf].tobytes() == whole[inf].tobytes()
    assert not np.allclose(clean[~inf], whole[~inf], atol=1e-3)
