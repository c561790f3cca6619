"""ZeroMQ: a publisher started here on 127.0.0.1 sends raw complex64 items as GNU Radio's ZMQ
PUB / PUSH sink blocks do (no tags), paced at 1 MS/s, then stops without a word. amrkit
makes the file's decisions, ends after --timeout with one line, and can publish them."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest

from amrkit.classify import classify_recording, write_predictions
from amrkit.data.recording import open_recording, parse_datatype
from amrkit.infer import load_predictor
from amrkit.stream import StreamConfig, StreamSource, classify_stream, zmq_source
from amrkit.stream.outputs import DecisionWriter, ZmqPublisher

zmq = pytest.importorskip("zmq", reason="pyzmq is optional: pip install 'amrkit[stream]'")

ITEM = 8  # bytes of a gr_complex (cf32)


def _flowgraph(kind: str, data: bytes, rate: float, items_per_message: int = 4096):
    """A stand-in for a flowgraph's ZMQ sink: bound to a free port, sends ``data`` paced at
    ``rate`` items/s once a receiver is there, then goes quiet (never closes)."""
    ctx = zmq.Context.instance()
    # XPUB is PUB on the wire; it also hears the subscription, so nothing is sent unheard
    sock = ctx.socket(zmq.XPUB if kind == "sub" else zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.RCVTIMEO, 20_000)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    done = threading.Event()

    def run():
        if kind == "sub":
            sock.recv()  # b"\x01": the classifier subscribed
        step = items_per_message * ITEM
        t0 = time.monotonic()
        for i, off in enumerate(range(0, len(data), step)):
            time.sleep(max(0.0, t0 + i * items_per_message / rate - time.monotonic()))
            sock.send(data[off : off + step])
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return f"zmq+tcp://127.0.0.1:{port}", sock, done


def _file_lines(tmp_path, data, pred, rate, chunk):
    raw = tmp_path / "rec.cf32"
    raw.write_bytes(data)
    result = classify_recording(pred, open_recording(raw, "cf32", rate), chunk=chunk)
    return write_predictions(result, tmp_path / "file.jsonl").read_text(), result


@pytest.mark.parametrize("kind", ["sub", "pull"])
def test_a_gnu_radio_style_stream_gives_the_file_decisions(models, kit, tmp_path, kind):
    z = kit.signal(1.0, 400, seed=11)  # 204800 samples: 0.2 s at 1 MS/s
    data = kit.encode(z, "cf32")
    pred = load_predictor(models["int8"])
    want, result = _file_lines(tmp_path, data, pred, 1e6, chunk=16_384)
    url, sock, done = _flowgraph(kind, data, 1e6)
    out = io.StringIO()
    try:
        status = classify_stream(
            pred, zmq_source(url, parse_datatype("cf32"), 1e6, kind),
            StreamConfig(chunk=16_384, timeout_s=1.5), [DecisionWriter(out, as_json=True)],
        )  # fmt: skip
    finally:
        sock.close()
    assert done.is_set()
    assert status.end == "stalled" and status.error.startswith(f"no samples from {url}")
    assert out.getvalue() == want  # the same decisions, in the same bytes
    assert status.received == len(z) and status.dropped == 0
    assert status.mode == ("drop" if kind == "sub" else "block")  # SUB: the sender never waits
    assert status.frames == len(result)


def test_decisions_are_published_for_a_flowgraph(models, kit, tmp_path):
    z = kit.signal(1.0, 40, seed=12)
    data = kit.encode(z, "cf32")
    pred = load_predictor(models["onnx"])
    want, _ = _file_lines(tmp_path, data, pred, 1e6, chunk=4096)
    publisher = ZmqPublisher("tcp://127.0.0.1:*")
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVTIMEO, 200)
    sub.connect(publisher.endpoint)
    for _ in range(100):  # until the subscription has reached the publisher
        publisher.sock.send(b"probe")
        try:
            if sub.recv() == b"probe":
                break
        except zmq.Again:
            continue

    def blocks(stop):
        yield data

    src = StreamSource("test", parse_datatype("cf32"), 1e6, blocks)
    status = classify_stream(pred, src, StreamConfig(chunk=4096), [publisher])
    assert status.end == "end of stream"
    got = []
    while True:
        try:
            msg = sub.recv()
        except zmq.Again:
            break
        if msg != b"probe":
            got.append(json.loads(msg))
    sub.close()
    assert got == [json.loads(line) for line in want.splitlines()]


def test_publish_needs_a_free_address():
    first = ZmqPublisher("tcp://127.0.0.1:*")
    try:
        port = first.endpoint.rsplit(":", 1)[1]
        from amrkit.errors import AmrkitError

        with pytest.raises(AmrkitError, match="cannot be bound.*choose a free port"):
            ZmqPublisher(f"tcp://127.0.0.1:{port}")
        with pytest.raises(AmrkitError, match="not a ZeroMQ address"):
            ZmqPublisher("udp://127.0.0.1:5")
    finally:
        first.close()
