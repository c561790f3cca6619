"""A real GNU Radio flowgraph, headless: a file of samples, throttled to 1 MS/s, into a ZMQ
PUSH sink; amrkit pulls it and makes the file's decisions. Runs where Debian's ``gnuradio``
is installed (for the system's Python); skipped elsewhere."""

from __future__ import annotations

import io
import subprocess
import textwrap

import pytest

from amrkit.classify import classify_recording, write_predictions
from amrkit.data.recording import open_recording, parse_datatype
from amrkit.infer import load_predictor
from amrkit.stream import StreamConfig, classify_stream, zmq_source
from amrkit.stream.outputs import DecisionWriter

pytest.importorskip("zmq", reason="pyzmq is optional: pip install 'amrkit[stream]'")
GR_PYTHON = "/usr/bin/python3"


def _has_gnuradio() -> bool:
    try:
        probe = [GR_PYTHON, "-c", "from gnuradio import gr, blocks, zeromq"]
        return subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(
    not _has_gnuradio(), reason="GNU Radio (Debian's gnuradio, system Python) is not installed"
)

FLOWGRAPH = textwrap.dedent(
    """
    import sys, time
    from gnuradio import gr, blocks, zeromq

    path, address = sys.argv[1], sys.argv[2]
    tb = gr.top_block()
    src = blocks.file_source(gr.sizeof_gr_complex, path, False)
    throttle = blocks.throttle(gr.sizeof_gr_complex, 1e6)
    # itemsize, vlen, address, timeout ms, pass_tags, hwm: raw complex64 items, no tags
    sink = zeromq.push_sink(gr.sizeof_gr_complex, 1, address, 100, False, -1)
    tb.connect(src, throttle, sink)
    print("bound", flush=True)  # the sink's socket exists: amrkit may connect
    tb.run()
    time.sleep(2)  # let ZeroMQ deliver the last messages before the process ends
    """
)


def test_a_gnu_radio_flowgraph_feeds_amrkit(models, kit, tmp_path):
    z = kit.signal(1.0, 300, seed=31)  # 153600 samples
    data = kit.encode(z, "cf32")
    raw = tmp_path / "rec.cf32"
    raw.write_bytes(data)
    pred = load_predictor(models["int8"])
    result = classify_recording(pred, open_recording(raw, "cf32", 1e6), chunk=16_384)
    want = write_predictions(result, tmp_path / "file.jsonl").read_text()
    script = tmp_path / "flowgraph.py"
    script.write_text(FLOWGRAPH)
    port = _free_port()
    fg = subprocess.Popen([GR_PYTHON, str(script), str(raw), f"tcp://127.0.0.1:{port}"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    assert fg.stdout.readline().strip() == b"bound"  # GNU Radio has started
    out = io.StringIO()
    try:
        status = classify_stream(
            pred, zmq_source(f"zmq+tcp://127.0.0.1:{port}", parse_datatype("cf32"), 1e6, "pull"),
            StreamConfig(chunk=16_384, timeout_s=3.0), [DecisionWriter(out, as_json=True)],
        )  # fmt: skip
    finally:
        log = fg.communicate(timeout=60)[0].decode()
    assert fg.returncode == 0, log
    assert status.end == "stalled" and status.received == len(z)
    assert out.getvalue() == want


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
