"""Recordings: SigMF / raw readers, datatypes, streaming resampler and framer, bounded memory."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import resample_poly

from amrkit.data.recording import (
    ReadStats,
    frame_count,
    frame_starts,
    iter_frames,
    iter_resampled,
    normalize_power,
    open_recording,
    parse_datatype,
    rational_ratio,
    resample_filter,
    resample_range,
    resampled_length,
    to_complex64,
)
from amrkit.errors import AmrkitError

RNG = np.random.default_rng(7)


def _signal(n: int, rng: np.random.Generator = RNG) -> np.ndarray:
    return (0.2 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(np.complex64)


def _encode(z: np.ndarray, datatype: str) -> bytes:
    """Complex samples → bytes of a SigMF datatype (written independently of the reader)."""
    fmt = {
        "cf32_le": "<f4", "cf32_be": ">f4", "cf64_le": "<f8", "ci16_le": "<i2",
        "ci16_be": ">i2", "ci32_be": ">i4", "ci8": "i1", "cu8": "u1", "cu16_le": "<u2",
    }[datatype]  # fmt: skip
    inter = np.empty((len(z), 2), dtype=np.float64)
    inter[:, 0], inter[:, 1] = z.real, z.imag
    dt = np.dtype(fmt)
    if dt.kind == "f":
        return inter.astype(dt).tobytes()
    bits = dt.itemsize * 8
    full = 2 ** (bits - 1)
    if dt.kind == "u":
        q = np.clip(np.round(inter * full + (2**bits - 1) / 2), 0, 2**bits - 1)
    else:
        q = np.clip(np.round(inter * full), -full, full - 1)
    return q.astype(dt).tobytes()


def _write_sigmf(base, z, datatype, rate=1e6, extra_global=None, captures=None):
    base.with_name(base.name + ".sigmf-data").write_bytes(_encode(z, datatype))
    meta = {
        "global": {"core:datatype": datatype, "core:version": "1.2.0", "core:sample_rate": rate,
                   **(extra_global or {})},
        "captures": captures if captures is not None else [{"core:sample_start": 0}],
        "annotations": [],
    }  # fmt: skip
    if rate is None:
        del meta["global"]["core:sample_rate"]
    path = base.with_name(base.name + ".sigmf-meta")
    path.write_text(json.dumps(meta))
    return path


# ---- datatypes and readers --------------------------------------------------------------
@pytest.mark.parametrize(
    ("datatype", "tol"),
    [("cf32_le", 1e-7), ("cf32_be", 1e-7), ("cf64_le", 1e-7), ("ci16_le", 1e-4),
     ("ci16_be", 1e-4), ("ci32_be", 1e-7), ("ci8", 1e-2), ("cu8", 1e-2), ("cu16_le", 1e-4)],
)  # fmt: skip
def test_sigmf_datatypes_round_trip(tmp_path, datatype, tol):
    raw = _signal(1000)
    z = (np.clip(raw.real, -0.99, 0.99) + 1j * np.clip(raw.imag, -0.99, 0.99)).astype(np.complex64)
    meta = _write_sigmf(tmp_path / "rec", z, datatype, rate=2e6)
    for name in ("rec.sigmf-meta", "rec.sigmf-data", "rec"):  # any of the three names
        rec = open_recording(tmp_path / name)
        assert rec.kind == "sigmf" and rec.meta_path == meta
        assert rec.num_samples == 1000 and rec.sample_rate_hz == 2e6
        got = rec.read(0, 1000)
        assert got.dtype == np.complex64
        np.testing.assert_allclose(got, z, atol=tol * 2)
    # a window in the middle reads the same samples
    np.testing.assert_array_equal(rec.read(123, 10), got[123:133])


def test_big_endian_differs_from_little_endian_bytes(tmp_path):
    """Endianness is honoured, not ignored: the same bytes read as _le and _be differ."""
    z = _signal(64)
    (tmp_path / "x.bin").write_bytes(_encode(z, "ci16_be"))
    be = open_recording(tmp_path / "x.bin", format="ci16_be", sample_rate_hz=1e6).read(0, 64)
    le = open_recording(tmp_path / "x.bin", format="ci16_le", sample_rate_hz=1e6).read(0, 64)
    np.testing.assert_allclose(be, z, atol=1e-4)
    assert np.abs(le - z).max() > 0.1


def test_cu8_is_centred(tmp_path):
    """RTL-SDR style unsigned bytes are centred (127.5 → 0), not read as a DC offset."""
    (tmp_path / "r.cu8").write_bytes(bytes([127, 128] * 50 + [255, 0] * 50))
    rec = open_recording(tmp_path / "r.cu8", format="cu8", sample_rate_hz=2.4e6)
    z = rec.read(0, rec.num_samples)
    assert abs(z[:50].real.mean()) < 0.01 and abs(z[:50].imag.mean()) < 0.01
    assert z[60].real > 0.99 and z[60].imag < -0.99


def test_raw_needs_format_and_rate_and_ignores_partial_sample(tmp_path):
    z = _signal(100)
    raw = tmp_path / "cap.iq"
    raw.write_bytes(_encode(z, "cf32_le") + b"\x01\x02\x03")  # 3 stray bytes
    with pytest.raises(AmrkitError, match="--sample-rate"):
        open_recording(raw, format="cf32")
    with pytest.raises(AmrkitError, match="not a SigMF recording.*--format"):
        open_recording(raw, sample_rate_hz=1e6)
    rec = open_recording(raw, format="cf32", sample_rate_hz=1e6)
    assert rec.num_samples == 100 and rec.ignored_bytes == 3
    np.testing.assert_array_equal(rec.read(0, 100), z)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [("rf32_le", "real samples"), ("ri16", "real samples"), ("cf16", "not supported"),
     ("cq16", "not a sample format"), ("", "not a sample format")],
)  # fmt: skip
def test_unsupported_datatypes_refused(text, pattern):
    with pytest.raises(AmrkitError, match=pattern) as exc:
        parse_datatype(text)
    assert "\n" not in str(exc.value)


def test_parse_datatype_defaults_little_endian():
    assert parse_datatype("cf32").name == "cf32_le"
    assert parse_datatype("CI16_BE").component == np.dtype(">i2")
    assert parse_datatype("ci8").sample_bytes == 2


@pytest.mark.parametrize(
    ("change", "pattern"),
    [({"core:datatype": "rf32_le"}, "real samples"),
     ({"core:num_channels": 2}, "2 channels"),
     ({"core:sample_rate": None}, "no core:sample_rate"),
     ({"core:datatype": "cf32_xx"}, "invalid|not a sample format")],
)  # fmt: skip
def test_bad_sigmf_metadata(tmp_path, change, pattern):
    meta = _write_sigmf(tmp_path / "bad", _signal(64), "cf32_le")
    m = json.loads(meta.read_text())
    for k, v in change.items():
        if v is None:
            m["global"].pop(k, None)
        else:
            m["global"][k] = v
    meta.write_text(json.dumps(m))
    with pytest.raises(AmrkitError, match=pattern) as exc:
        open_recording(meta)
    assert "\n" not in str(exc.value)


def test_sigmf_rate_fill_in_and_conflict(tmp_path):
    meta = _write_sigmf(tmp_path / "norate", _signal(64), "cf32_le", rate=None)
    assert open_recording(meta, sample_rate_hz=5e5).sample_rate_hz == 5e5
    meta2 = _write_sigmf(tmp_path / "rate", _signal(64), "cf32_le", rate=1e6)
    with pytest.raises(AmrkitError, match="contradicts"):
        open_recording(meta2, sample_rate_hz=2e6)


def test_sigmf_missing_data_and_archive(tmp_path):
    meta = _write_sigmf(tmp_path / "gone", _signal(8), "cf32_le")
    (tmp_path / "gone.sigmf-data").unlink()
    with pytest.raises(AmrkitError, match="no data file"):
        open_recording(meta)
    (tmp_path / "a.sigmf").write_bytes(b"x")
    with pytest.raises(AmrkitError, match="archive"):
        open_recording(tmp_path / "a.sigmf")


def test_sigmf_header_and_trailing_bytes(tmp_path):
    """A non-conforming dataset: header bytes before the samples, trailing bytes after."""
    z = _signal(50)
    data = tmp_path / "capture.dat"
    data.write_bytes(b"H" * 16 + _encode(z, "ci16_le") + b"T" * 6)
    meta = {
        "global": {"core:datatype": "ci16_le", "core:version": "1.2.0", "core:sample_rate": 1e6,
                   "core:dataset": "capture.dat", "core:trailing_bytes": 6},
        "captures": [{"core:sample_start": 0, "core:header_bytes": 16}],
        "annotations": [],
    }  # fmt: skip
    (tmp_path / "capture.sigmf-meta").write_text(json.dumps(meta))
    rec = open_recording(tmp_path / "capture.sigmf-meta")
    assert rec.num_samples == 50 and rec.ignored_bytes == 0
    np.testing.assert_allclose(rec.read(0, 50), z, atol=1e-4)


# ---- normalization ----------------------------------------------------------------------
def test_normalize_power_unit_mean_power_and_zero_frames():
    iq = RNG.standard_normal((5, 2, 32)).astype(np.float32) * np.array([1, 3, 0.01, 7, 0])[
        :, None, None
    ].astype(np.float32)
    out = normalize_power(iq.copy())
    power = (out**2).sum(axis=1).mean(axis=1)
    np.testing.assert_allclose(power[:4], 1.0, rtol=1e-5)
    assert np.all(out[4] == 0)


# ---- framing ----------------------------------------------------------------------------
@given(
    n=st.integers(0, 3000),
    L=st.integers(1, 300),
    hop=st.integers(1, 400),
    cuts=st.lists(st.integers(0, 3000), max_size=6),
    batch=st.integers(1, 9),
)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_streaming_framer_matches_direct_slicing(n, L, hop, cuts, batch):
    """Frames from any chunking of the stream equal slices of the whole signal at k·hop."""
    z = (np.arange(n) + 1j * -np.arange(n)).astype(np.complex64)
    bounds = sorted({0, n, *[c for c in cuts if c < n]})
    chunks = [z[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    got = list(iter_frames(chunks, L, hop, batch_size=batch, normalize=False))
    starts = np.concatenate([s for s, _ in got]) if got else np.empty(0, np.int64)
    expected = frame_starts(n, L, hop)
    assert len(starts) == frame_count(n, L, hop) == (0 if n < L else (n - L) // hop + 1)
    np.testing.assert_array_equal(starts, expected)
    assert all(len(s) <= batch for s, _ in got)
    for s, iq in got:
        for j, start in enumerate(s):
            np.testing.assert_array_equal(iq[j, 0], z[start : start + L].real)
            np.testing.assert_array_equal(iq[j, 1], z[start : start + L].imag)


def test_framer_normalizes_each_frame():
    z = np.concatenate([_signal(64) * 10, _signal(64) * 0.01])
    (_, iq), = list(iter_frames([z], 64, normalize=True))  # fmt: skip
    np.testing.assert_allclose((iq**2).sum(axis=1).mean(axis=1), 1.0, rtol=1e-5)


# ---- resampling -------------------------------------------------------------------------
@given(
    up=st.integers(1, 7),
    down=st.integers(1, 7),
    n=st.integers(1, 2500),
    block=st.integers(1, 900),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_chunked_resampler_equals_resample_poly(up, down, n, block, seed):
    x = _signal(n, np.random.default_rng(seed))
    got = list(iter_resampled(x, up, down, block=block))
    y = np.concatenate(got) if got else np.empty(0, np.complex64)
    assert len(y) == resampled_length(n, up, down) == -(-n * up // down)
    np.testing.assert_allclose(y, resample_poly(x, up, down), atol=2e-5)


@pytest.mark.parametrize(("up", "down", "n"), [(1, 5, 200_003), (2, 3, 60_001), (5, 12, 90_000)])
def test_long_resampling_equals_resample_poly(up, down, n):
    """Many GEMM batches per block (long blocks), one block and several blocks alike."""
    x = _signal(n, np.random.default_rng(n))
    ref = resample_poly(x, up, down)
    for block in (n, 32_768):
        y = np.concatenate(list(iter_resampled(x, up, down, block=block)))
        np.testing.assert_allclose(y, ref, atol=2e-5)
    assert np.abs(ref).max() > 0.1  # a real signal, not zeros


@given(
    up=st.integers(1, 9),
    down=st.integers(1, 9),
    n=st.integers(1, 400),
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
@settings(max_examples=60, deadline=None)
def test_resample_range_is_a_slice_of_resample_poly(up, down, n, cut):
    from math import gcd

    g = gcd(up, down)
    up, down = up // g, down // g
    if up == down:  # no filter: iter_resampled passes the samples through
        return
    x = _signal(n, np.random.default_rng(n))
    h = resample_filter(up, down)
    ref = resample_poly(x, up, down, window=h)
    m0, m1 = sorted(int(c * len(ref)) for c in cut)
    np.testing.assert_allclose(resample_range(x, up, down, h, m0, m1), ref[m0:m1], atol=2e-5)


@pytest.mark.parametrize("datatype", ["ci8", "cu8", "ci16_le", "cu16_le", "ci32_be", "cf64_le"])
def test_sample_conversion_is_exact(datatype):
    """to_complex64 equals (value - centre) / full scale computed per component in float32."""
    fmt = parse_datatype(datatype)
    info = np.iinfo(fmt.component) if fmt.kind != "f" else None
    raw = (
        RNG.integers(info.min, info.max, (999, 2), endpoint=True).astype(fmt.component)
        if info is not None
        else RNG.standard_normal((999, 2)).astype(fmt.component)
    )
    z = to_complex64(raw, fmt)
    if fmt.kind == "f":
        np.testing.assert_array_equal(z.real, raw[:, 0].astype(np.float32))
        return
    full = np.float32(2 ** (fmt.bits - 1))
    centre = np.float32((2.0**fmt.bits - 1) / 2 if fmt.kind == "u" else 0.0)
    np.testing.assert_array_equal(z.real, (raw[:, 0].astype(np.float32) - centre) / full)
    np.testing.assert_array_equal(z.imag, (raw[:, 1].astype(np.float32) - centre) / full)
    assert np.abs(z.view(np.float32)).max() > 0.9  # full scale reached


@given(
    out_rate=st.floats(1e3, 1e8),
    in_rate=st.floats(1e3, 1e8),
    max_den=st.integers(1, 2000),
)
@settings(max_examples=200, deadline=None)
def test_rational_ratio_is_the_best_bounded_fraction(out_rate, in_rate, max_den):
    from fractions import Fraction
    from math import gcd

    ratio = out_rate / in_rate
    if Fraction(ratio).limit_denominator(max_den) == 0:
        with pytest.raises(AmrkitError):
            rational_ratio(out_rate, in_rate, max_den)
        return
    up, down = rational_ratio(out_rate, in_rate, max_den)
    assert gcd(up, down) == 1 and 1 <= down <= max_den and up >= 1
    # no fraction with denominator <= max_den is closer (check the neighbours of our q)
    for q in {1, down, max_den}:
        p = round(ratio * q)
        assert abs(up / down - ratio) <= abs(p / q - ratio) + 1e-12


def test_common_sdr_rates_are_exact():
    assert rational_ratio(1e6, 2e6) == (1, 2)
    assert rational_ratio(1e6, 2.4e6) == (5, 12)
    assert rational_ratio(200e3, 250e3) == (4, 5)


def test_resampled_tone_keeps_its_frequency(tmp_path):
    """A 50 kHz tone recorded at 2.4 MHz is still 50 kHz after resampling to 1 MHz."""
    n = 24000
    t = np.arange(n) / 2.4e6
    z = np.exp(2j * np.pi * 50e3 * t).astype(np.complex64)
    (tmp_path / "tone.cf32").write_bytes(z.tobytes())
    rec = open_recording(tmp_path / "tone.cf32", format="cf32", sample_rate_hz=2.4e6)
    up, down = rational_ratio(1e6, 2.4e6)
    y = np.concatenate(list(iter_resampled(rec, up, down, block=1000)))
    assert len(y) == 10000
    mid = y[1000:9000]
    freq = np.angle(np.vdot(mid[:-1], mid[1:])) / (2 * np.pi) * 1e6
    assert abs(freq - 50e3) < 50
    assert abs(np.abs(mid).mean() - 1) < 0.01


# ---- bounded memory ---------------------------------------------------------------------
def _peak_streaming(path, n_chunk):
    rec = open_recording(path, format="ci16_le", sample_rate_hz=1.5e6)
    tracemalloc.start()
    try:
        frames = 0
        chunks = iter_resampled(rec, 2, 3, block=n_chunk, stats=rec.stats)
        for s, _iq in iter_frames(chunks, 128, 96, batch_size=64, stats=rec.stats):
            frames += len(s)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, frames, rec.stats


def test_memory_does_not_grow_with_recording_length(tmp_path):
    """Streaming a 4x longer file peaks at about the same traced memory (no whole-file copy)."""
    chunk = 8192
    short, long_ = tmp_path / "short.ci16", tmp_path / "long.ci16"
    z = _signal(150_000)
    short.write_bytes(_encode(z, "ci16_le"))
    long_.write_bytes(_encode(np.tile(z, 4), "ci16_le"))
    peak1, frames1, stats1 = _peak_streaming(short, chunk)
    peak4, frames4, stats4 = _peak_streaming(long_, chunk)
    assert frames4 >= 4 * frames1 - 1  # it really processed 4x the data
    whole_file_bytes = 600_000 * 8  # complex64 copy of the long file
    assert peak4 < 1.25 * peak1 + 64 * 1024, (peak1, peak4)
    assert peak4 < whole_file_bytes / 8
    # the largest array ever materialized is one chunk plus the resampler margins
    margin = 18  # ceil((half_len 30 / up 2 + 2) / down 3) * 3 input samples each side
    margin_bound = chunk + 3 + 2 * margin  # the core block is rounded up to a multiple of 3
    assert stats4.max_block == stats1.max_block <= margin_bound
    assert stats4.max_read <= margin_bound


def test_read_stats_note_keeps_maximum():
    s = ReadStats()
    s.note("max_read", 5)
    s.note("max_read", 3)
    assert s.max_read == 5
