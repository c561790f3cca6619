"""Streaming pieces of amrkit.data.recording: samples that arrive in pieces of any size are
resampled and framed exactly as the whole recording is (bit for bit, chunk for chunk)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.data.recording import (
    Framer,
    ReadStats,
    StreamResampler,
    decode_samples,
    first_nonfinite,
    iter_frames,
    iter_resampled,
    open_recording,
    parse_datatype,
)
from amrkit.errors import AmrkitError


def _signal(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.3 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(np.complex64)


def _pieces(x: np.ndarray, cuts: list[float]) -> list[np.ndarray]:
    edges = sorted({int(c * len(x)) for c in cuts} | {0, len(x)})
    return [x[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _stream(x, up, down, block, cuts, stats=None):
    r = StreamResampler(up, down, block, stats)
    out = []
    for piece in _pieces(x, cuts):
        out += r.push(piece)
    return out + r.finish()


@given(
    up=st.integers(1, 7),
    down=st.integers(1, 13),
    n=st.integers(1, 3000),
    block=st.integers(1, 700),
    cuts=st.lists(st.floats(0, 1), max_size=12),
    seed=st.integers(0, 3),
)
@settings(max_examples=80, deadline=None)
def test_stream_resampler_yields_the_chunks_of_iter_resampled(up, down, n, block, cuts, seed):
    """Same chunk boundaries, same bits, whatever the pieces the samples arrive in."""
    x = _signal(n, seed)
    want = list(iter_resampled(x, up, down, block=block))
    got = _stream(x, up, down, block, cuts)
    assert [len(c) for c in got] == [len(c) for c in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_stream_resampler_at_sdr_rates_and_big_blocks():
    """2.4 MHz → 1 MHz (5/12) with a 2^16 block, fed in pipe-sized reads (16 Ki samples):
    bit for bit; a different block would not be (the control shows blocks matter)."""
    x = _signal(400_000, 1)
    cuts = list(np.arange(1, 400_000 // 16384 + 1) * 16384 / 400_000)
    stats = ReadStats()
    got = np.concatenate(_stream(x, 5, 12, 1 << 16, cuts, stats))
    want = np.concatenate(list(iter_resampled(x, 5, 12, block=1 << 16)))
    np.testing.assert_array_equal(got, want)
    assert stats.max_block <= (1 << 16) + 2 * 48  # one block and its margins, never more
    other = np.concatenate(list(iter_resampled(x, 1, 2, block=4097)))
    again = np.concatenate(list(iter_resampled(x, 1, 2, block=1 << 16)))
    assert len(other) == len(again) and not np.array_equal(other, again)  # control


@given(
    n=st.integers(0, 500),
    L=st.integers(1, 40),
    hop=st.integers(1, 60),
    cuts=st.lists(st.floats(0, 1), max_size=8),
)
@settings(max_examples=80, deadline=None)
def test_framer_pending_is_the_partial_frame(n, L, hop, cuts):
    x = _signal(n, 0)
    framer = Framer(L, hop, batch_size=7)
    starts = [s for piece in _pieces(x, cuts) for s, _ in framer.push(piece)]
    starts = np.concatenate(starts) if starts else np.empty(0, np.int64)
    want = np.concatenate([s for s, _ in iter_frames([x], L, hop, 7)] or [np.empty(0, np.int64)])
    np.testing.assert_array_equal(starts, want)
    next_start = len(want) * hop
    assert framer.pending == max(0, n - next_start)
    assert framer.pending < L or n < L


def test_a_consumer_that_stops_mid_batch_never_sees_those_frames_again():
    framer = Framer(4, 4, batch_size=2)
    batches = framer.push(_signal(40, 0))  # 10 frames, 5 batches
    first, _ = next(batches)
    batches.close()  # e.g. Ctrl-C while the model ran on the first batch
    again = [s for s, _ in framer.push(_signal(8, 1))]
    assert first.tolist() == [0, 4]
    assert np.concatenate(again).tolist()[0] == 8  # no duplicate of 0, 4


@pytest.mark.parametrize("datatype", ["cu8", "ci8", "ci16_le", "ci16_be", "cf32_le", "cf64_be"])
def test_decoded_bytes_equal_the_file_reader(tmp_path, datatype):
    fmt = parse_datatype(datatype)
    rng = np.random.default_rng(3)
    raw = (
        rng.integers(0, 255, (500, 2))
        if fmt.kind == "u"
        else rng.integers(-100, 100, (500, 2))
        if fmt.kind == "i"
        else rng.standard_normal((500, 2))
    ).astype(fmt.component)
    path = tmp_path / "x.raw"
    path.write_bytes(raw.tobytes())
    rec = open_recording(path, format=datatype, sample_rate_hz=1e6)
    data = raw.tobytes()
    third = len(data) // 3 // fmt.sample_bytes * fmt.sample_bytes
    parts = [decode_samples(data[:third], fmt), decode_samples(data[third:], fmt)]
    np.testing.assert_array_equal(np.concatenate(parts), rec.read(0, 500))
    with pytest.raises(AmrkitError, match="not whole"):
        decode_samples(data[:-1], fmt)


def test_first_nonfinite():
    f32, i16 = parse_datatype("cf32"), parse_datatype("ci16")
    z = np.ones(10, np.complex64)
    assert first_nonfinite(z, f32) is None
    z[6] = complex(0, np.nan)
    z[8] = np.inf
    assert first_nonfinite(z, f32) == 6
    assert first_nonfinite(np.ones(3, np.complex64), i16) is None
