"""StreamClassifier: samples pushed in pieces of any size give the decisions of the same
samples classified as a file (bit for bit), in bounded memory; gaps split the stream."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from amrkit.classify import classify_recording
from amrkit.data.recording import decode_samples, open_recording, parse_datatype
from amrkit.errors import AmrkitError
from amrkit.infer import load_predictor
from amrkit.stream import StreamClassifier


def _file_result(tmp_path, data, datatype, rate, predictor, **kw):
    path = tmp_path / f"rec.{datatype}"
    path.write_bytes(data)
    return classify_recording(predictor, open_recording(path, datatype, rate), **kw)


def _streamed(engine, data, fmt, rng):
    """Push ``data`` as raw reads of random sizes (whole samples), then finish."""
    out, pos = [], 0
    while pos < len(data):
        step = int(rng.integers(1, 40_000)) * fmt.sample_bytes
        out += list(engine.push(decode_samples(data[pos : pos + step], fmt)))
        pos += step
    out += list(engine.finish())
    return out


def _cat(decisions):
    return (
        np.concatenate([d.start_sample for d in decisions]),
        np.concatenate([d.top_index for d in decisions]),
        np.concatenate([d.top_prob for d in decisions]),
    )


@pytest.mark.parametrize(
    ("model", "r", "datatype", "hop", "chunk"),
    [
        ("run", 2.4, "ci16", None, 30_000),
        ("onnx", 1.0, "cf32", 48, 20_000),
        ("int8", 2.0, "cu8", 100, 1 << 20),
        ("int8", 1.5, "ci16", None, 7_777),
    ],
)  # fmt: skip
def test_stream_decisions_equal_the_file(models, kit, tmp_path, model, r, datatype, hop, chunk):
    z = kit.signal(r, 6, seed=1)
    data = kit.encode(z, datatype)
    rate = kit.RATE * r
    pred = load_predictor(models[model])
    want = _file_result(tmp_path, data, datatype, rate, pred, hop=hop, chunk=chunk, batch_size=9)
    engine = StreamClassifier(pred, rate, hop=hop, chunk=chunk, batch_size=9)
    got = _streamed(engine, data, parse_datatype(datatype), np.random.default_rng(0))
    start, top_index, top_prob = _cat(got)
    np.testing.assert_array_equal(start, want.start_sample)
    np.testing.assert_array_equal(top_index, want.top_index)
    np.testing.assert_array_equal(top_prob, want.top_prob)  # bit for bit
    assert engine.frames == len(want) and engine.histogram.tolist() == list(
        want.histogram().values()
    )
    assert engine.sample_count == want.sample_count
    middle = (start / r + kit.L / 2).astype(int)  # model-rate sample in the frame's middle
    expected = np.asarray(kit.SEGMENTS)[np.minimum(middle // (6 * kit.L), 7)]
    assert np.mean(top_index[:, 0] == expected) > 0.8  # the model hears what was sent
    # the trailing partial frame is counted, in source samples
    n = len(z)
    last_end = int(want.start_sample[-1]) + want.sample_count
    assert 0 <= engine.partial_samples <= n - int(want.start_sample[-1])
    assert engine.partial_samples >= n - last_end - want.sample_count


@pytest.mark.parametrize(("runtime", "model"), [("c", "int8"), ("openvino", "onnx")])
def test_stream_on_other_runtimes_equals_the_file(models, kit, tmp_path, runtime, model):
    if runtime == "c" and shutil.which("cc") is None:
        pytest.skip("the c runtime needs a C compiler")
    if runtime == "openvino":
        pytest.importorskip("openvino", reason="openvino is optional (amrkit[openvino])")
    z = kit.signal(2.0, 3, seed=2)
    data = kit.encode(z, "ci16")
    pred = load_predictor(models[model], runtime=runtime)
    want = _file_result(tmp_path, data, "ci16", 2e6, pred, chunk=10_000)
    engine = StreamClassifier(pred, 2e6, chunk=10_000)
    start, top_index, top_prob = _cat(
        _streamed(engine, data, parse_datatype("ci16"), np.random.default_rng(1))
    )
    np.testing.assert_array_equal(start, want.start_sample)
    np.testing.assert_array_equal(top_prob, want.top_prob)
    assert engine.model["runtime"] == runtime


def test_a_gap_splits_the_stream_into_files(models, kit, tmp_path):
    """Samples lost upstream: the part before and the part after are each classified as a
    file of their own; indices keep counting the lost samples."""
    pred = load_predictor(models["onnx"])
    fmt = parse_datatype("ci16")
    z = kit.signal(2.0, 30, seed=3)  # 30720 samples
    a, lost, b = z[:20_011], 3_333, z[20_011 + 3_333 :]
    engine = StreamClassifier(pred, 2e6, chunk=8192)
    got = list(engine.push(decode_samples(kit.encode(a, "ci16"), fmt)))
    got += list(engine.gap(lost))
    got += list(engine.push(decode_samples(kit.encode(b, "ci16"), fmt)))
    got += list(engine.finish())
    start, _, top_prob = _cat(got)
    fa = _file_result(tmp_path, kit.encode(a, "ci16"), "ci16", 2e6, pred, chunk=8192)
    fb = _file_result(tmp_path, kit.encode(b, "ci16"), "ci16", 2e6, pred, chunk=8192)
    after = fb.start_sample + 20_011 + 3_333
    np.testing.assert_array_equal(start, np.concatenate([fa.start_sample, after]))
    np.testing.assert_array_equal(top_prob, np.concatenate([fa.top_prob, fb.top_prob]))
    assert engine.gaps == [(20_011, 3_333)] and engine.segments == 2
    assert engine.consumed == len(z)
    # both ends left a partial frame (20011 and 26667 samples are not whole frames of 128)
    assert engine.partial_samples == (20_011 - 156 * 128) + (len(b) - len(fb) * 128)


def test_memory_is_bounded_by_the_chunk(models, kit):
    """Forty chunks of input: the resampler and the framer never hold more than one chunk
    (plus margins and a frame)."""
    pred = load_predictor(models["int8"])
    chunk = 4096
    engine = StreamClassifier(pred, 2e6, chunk=chunk, batch_size=64)
    z = np.tile(kit.signal(2.0, 1, seed=4), 40 * chunk // (8 * 128) + 1)[: 40 * chunk]
    for piece in np.array_split(z, 97):
        for _ in engine.push(piece):
            pass
    list(engine.finish())
    assert engine.frames == 40 * chunk // 128
    assert engine.stats.max_block <= chunk + 2 * 64
    assert engine.stats.max_buffer <= chunk // 2 + kit.L


def test_options_are_checked(models):
    pred = load_predictor(models["onnx"])
    with pytest.raises(AmrkitError, match="--hop 0"):
        StreamClassifier(pred, 1e6, hop=0)
    with pytest.raises(AmrkitError, match="--chunk 0"):
        StreamClassifier(pred, 1e6, chunk=0)
    with pytest.raises(AmrkitError, match="--no-resample"):
        StreamClassifier(pred, 2e6, resample=False)
