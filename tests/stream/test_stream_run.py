"""classify_stream end to end in this process: a pipe (as standard input is) into the loop,
decisions out. Same bytes as the file's --out; broken input ends in one line with every
decision made so far kept; falling behind is dropped or held, counted and said."""

from __future__ import annotations

import io
import json
import os
import threading
import time

import numpy as np
import pytest

from amrkit.classify import classify_recording, write_predictions
from amrkit.data.recording import open_recording, parse_datatype
from amrkit.infer import load_predictor
from amrkit.stream import StreamConfig, StreamSource, classify_stream, fd_source
from amrkit.stream.outputs import DecisionWriter, Output, OutputClosed


def _pipe(data: bytes, piece: int = 50_000, keep_open: threading.Event | None = None) -> int:
    """A pipe fed ``data`` by a thread in ``piece``-byte writes; closed at the end (or when
    ``keep_open`` is set, only then)."""
    r, w = os.pipe()

    def feed():
        try:
            with os.fdopen(w, "wb") as f:
                for i in range(0, len(data), piece):
                    f.write(data[i : i + piece])
                    f.flush()
                if keep_open is not None:
                    keep_open.wait(30)
        except BrokenPipeError:  # the reader stopped early (on purpose)
            pass

    threading.Thread(target=feed, daemon=True).start()
    return r


def _file_output(tmp_path, data, datatype, rate, pred, suffix=".csv", **kw):
    raw = tmp_path / f"rec.{datatype}"
    raw.write_bytes(data)
    result = classify_recording(pred, open_recording(raw, datatype, rate), **kw)
    return write_predictions(result, tmp_path / f"file{suffix}").read_bytes().decode(), result


def _run(r_fd, datatype, rate, pred, as_json=False, **config):
    out = io.StringIO()
    src = fd_source(r_fd, parse_datatype(datatype), rate, "pipe")
    try:
        status = classify_stream(pred, src, StreamConfig(**config), [DecisionWriter(out, as_json)])
    finally:
        os.close(r_fd)
    return out.getvalue(), status


@pytest.mark.parametrize(("suffix", "as_json"), [(".csv", False), (".jsonl", True)])
def test_stream_writes_the_bytes_the_file_writes(models, kit, tmp_path, suffix, as_json):
    z = kit.signal(2.4, 20, seed=1)
    data = kit.encode(z, "ci16")
    pred = load_predictor(models["int8"])
    want, result = _file_output(tmp_path, data, "ci16", 2.4e6, pred, suffix, chunk=30_000)
    got, status = _run(_pipe(data, 12_345), "ci16", 2.4e6, pred, as_json, chunk=30_000)
    assert got == want
    assert status.end == "end of stream" and status.error is None
    assert status.frames == len(result) and status.received == len(z) == status.consumed
    assert status.dropped == 0 and status.mode == "block"
    assert status.histogram == list(result.histogram().values())
    summary = status.to_dict()
    assert summary["times_real_time"] > 0 and summary["resampling"]["up"] == 5
    assert summary["partial_frame_samples"] == status.partial_samples


def test_odd_byte_count_ends_in_one_line_with_the_decisions_kept(models, kit, tmp_path):
    z = kit.signal(1.0, 20, seed=2)
    data = kit.encode(z, "ci16")
    pred = load_predictor(models["onnx"])
    want, _ = _file_output(tmp_path, data, "ci16", 1e6, pred, chunk=4096)
    got, status = _run(_pipe(data + b"\x07\x07"), "ci16", 1e6, pred, chunk=4096)
    assert status.end == "error"
    assert "ended inside a sample: 2 trailing byte(s)" in status.error
    assert "\n" not in status.error
    assert got == want  # every frame of the whole samples was classified and written


def test_nan_samples_end_in_one_line_after_the_frames_before_them(models, kit, tmp_path):
    z = kit.signal(1.0, 20, seed=3)
    bad = 7_000
    z[bad] = complex(np.nan, 0)
    pred = load_predictor(models["onnx"])
    want, result = _file_output(tmp_path, kit.encode(z[:bad], "cf32"), "cf32", 1e6, pred)
    got, status = _run(_pipe(kit.encode(z, "cf32")), "cf32", 1e6, pred)
    assert status.end == "error"
    assert status.error.startswith(f"pipe: sample {bad} is NaN or inf")
    assert got == want and status.frames == len(result) == bad // kit.L


def test_a_stalled_source_ends_after_the_timeout(models, kit, tmp_path):
    z = kit.signal(2.0, 10, seed=4)
    data = kit.encode(z, "cu8")
    pred = load_predictor(models["int8"])
    want, result = _file_output(tmp_path, data, "cu8", 2e6, pred)
    release = threading.Event()
    try:
        got, status = _run(_pipe(data, keep_open=release), "cu8", 2e6, pred, timeout_s=0.5)
    finally:
        release.set()
    assert status.end == "stalled"
    assert status.error.startswith("no samples from pipe for 0.5 s (the source stalled")
    assert f"{len(result)} frames were classified" in status.error
    assert got == want  # a stall ends the stream as EOF would, then says so


class _Gated:
    """A predictor that waits for ``gate`` before its first batch, then sleeps ``pause``."""

    def __init__(self, pred, gate=None, pause=0.0):
        self.pred, self.gate, self.pause = pred, gate, pause
        for name in ("classes", "frame_length", "sample_rate_hz", "kind", "runtime"):
            setattr(self, name, getattr(pred, name))

    def logits(self, iq):
        if self.gate is not None:
            self.gate.wait(30)
        time.sleep(self.pause)
        return self.pred.logits(iq)


def test_drop_mode_drops_counts_says_so_and_keeps_segments_apart(models, kit, tmp_path):
    """A source much faster than the model: beyond --max-delay the samples are dropped,
    counted and warned about; every segment between gaps is classified as a file of its own."""
    z = kit.signal(1.0, 100, seed=5)  # 51200 samples
    data = kit.encode(z, "ci16")
    all_read = threading.Event()

    def blocks(stop):
        for i in range(0, len(data), 4096):
            yield data[i : i + 4096]
        all_read.set()  # runs once the last block is queued

    pred = load_predictor(models["onnx"])
    src = StreamSource("fast", parse_datatype("ci16"), 1e6, blocks)
    out, warnings = io.StringIO(), []
    status = classify_stream(
        _Gated(pred, all_read), src, StreamConfig(max_delay_s=0.004, chunk=2048),
        [DecisionWriter(out, as_json=True)], on_warning=warnings.append,
    )  # fmt: skip
    assert status.end == "end of stream" and status.mode == "drop"
    assert status.max_delay_s == pytest.approx(0.004)
    assert status.received == status.consumed == len(z)
    assert status.dropped >= len(z) - 4000 - 3 * 2048  # only what fit before the model ran
    assert status.dropped == sum(n for _, n in status.gap_log) and status.gaps == len(
        status.gap_log
    )
    assert warnings and "samples" in warnings[0] and "dropped in" in warnings[0]
    # each segment between gaps equals the file of its samples, shifted to its place
    got = [json.loads(line) for line in out.getvalue().splitlines()]
    edges = [0]
    for first, n in status.gap_log:
        edges += [first, first + n]
    edges.append(len(z))
    want = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a >= kit.L:
            _, r = _file_output(tmp_path, data[4 * a : 4 * b], "ci16", 1e6, pred, chunk=2048)
            want += [int(s) + a for s in r.start_sample]
    assert [g["start_sample"] for g in got] == want and want


def test_block_mode_says_when_the_source_is_held_up(models, kit):
    """Slower than real time in block mode: nothing is dropped, the source waits, and the
    warning says so (with the remedy)."""
    data = kit.encode(kit.signal(1.0, 20, seed=6), "ci16")

    def blocks(stop):
        while not stop.is_set():  # a source with no end, faster than the model
            yield data

    pred = _Gated(load_predictor(models["int8"]), pause=0.15)
    src = StreamSource("endless", parse_datatype("ci16"), 1e6, blocks)
    warnings = []

    class StopAfterWarning(Output):
        def __call__(self, d):
            if warnings:
                raise KeyboardInterrupt  # as Ctrl-C would

    status = classify_stream(pred, src, StreamConfig(chunk=4096), [StopAfterWarning()],
                             on_warning=warnings.append)  # fmt: skip
    assert status.end == "interrupted" and status.dropped == 0
    assert status.held_s >= 0.5 and status.times_real_time < 1
    assert warnings[0].startswith("slower than real time") and "--max-delay" in warnings[0]


def test_ctrl_c_and_a_closed_output_end_cleanly(models, kit):
    data = kit.encode(kit.signal(1.0, 40, seed=7), "ci16")
    pred = load_predictor(models["int8"])

    class Interrupting:
        def __init__(self, after):
            self.calls, self.after = 0, after
            for name in ("classes", "frame_length", "sample_rate_hz", "kind", "runtime"):
                setattr(self, name, getattr(pred, name))

        def logits(self, iq):
            self.calls += 1
            if self.calls == self.after:
                raise KeyboardInterrupt
            return pred.logits(iq)

    out = io.StringIO()
    r = _pipe(data)
    try:
        status = classify_stream(
            Interrupting(3), fd_source(r, parse_datatype("ci16"), 1e6, "pipe"),
            StreamConfig(chunk=1024, batch_size=4), [DecisionWriter(out, False)],
        )  # fmt: skip
    finally:
        os.close(r)
    assert status.end == "interrupted" and status.error is None
    assert status.frames >= 8 and len(out.getvalue().splitlines()) == 1 + status.frames

    class Closed(Output):
        def __call__(self, d):
            raise OutputClosed

    r = _pipe(data)
    try:
        status = classify_stream(
            pred, fd_source(r, parse_datatype("ci16"), 1e6, "pipe"), StreamConfig(chunk=1024),
            [Closed()],
        )  # fmt: skip
    finally:
        os.close(r)
    assert status.end == "output closed" and status.error is None
