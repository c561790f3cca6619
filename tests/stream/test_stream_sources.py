"""The queue between a source and the classifier (whole samples, drop or block, never silent),
and how sources are named and checked."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from amrkit.data.recording import parse_datatype
from amrkit.errors import AmrkitError
from amrkit.stream.sources import (
    END,
    Gap,
    SampleQueue,
    import_zmq,
    is_stream,
    open_stream,
    parse_zmq_url,
    pump,
)

CI16 = parse_datatype("ci16")  # 4 bytes a sample


def _samples(n: int, first: int = 0) -> bytes:
    return b"".join((first + i).to_bytes(4, "little") for i in range(n))


def test_reads_that_split_samples_are_joined():
    q = SampleQueue(CI16, capacity=100, drop=False)
    data = _samples(5)
    q.put(data[:7])  # one sample and 3 bytes of the next
    q.put(data[7:13])
    q.put(data[13:])
    assert q.received == 5 and q.queued == 5
    assert q.get(0, 100) == data  # consecutive reads come back as one block
    q.close()
    assert q.get(0, 100) is END and q.error is None


def test_a_stream_that_ends_inside_a_sample_is_an_error():
    q = SampleQueue(CI16, capacity=100, drop=False, name="stdin")
    q.put(_samples(3) + b"\x01\x02\x03")
    q.close()
    assert q.get(0, 100) == _samples(3)  # the whole samples are still delivered
    assert q.get(0, 100) is END
    assert "stdin ended inside a sample: 3 trailing byte(s) of a 4-byte ci16_le" in q.error
    assert "odd byte count" in q.error and "\n" not in q.error


def test_drop_mode_drops_beyond_capacity_counts_and_marks_the_gap():
    q = SampleQueue(CI16, capacity=10, drop=True)
    q.put(_samples(25))
    q.put(_samples(5, 25))  # still full: the gap grows
    assert (q.received, q.queued, q.dropped, q.gaps) == (30, 10, 20, 1)
    assert q.get(0, 100) == _samples(10)
    assert q.get(0, 100) == Gap(20)  # the classifier never joins samples 9 and 30
    q.put(_samples(3, 30))
    assert q.get(0, 100) == _samples(3, 30)
    assert q.get(0.01, 100) is None  # nothing there: the timeout
    assert q.max_queued == 10


def test_block_mode_holds_the_source_until_there_is_room():
    q = SampleQueue(CI16, capacity=4, drop=False)
    q.put(_samples(4))
    writer = threading.Thread(target=q.put, args=(_samples(4, 4),))
    writer.start()
    writer.join(0.3)
    assert writer.is_alive()  # the queue is full: the reading thread (and so the source) waits
    assert q.get(0, 2) == _samples(4)  # max_samples never splits a read
    writer.join(5)
    assert not writer.is_alive() and q.dropped == 0
    assert q.get(1, 100) == _samples(4, 4)
    assert q.held_s > 0


def test_stop_releases_a_waiting_reader():
    q = SampleQueue(CI16, capacity=1, drop=False)
    q.put(_samples(1))
    writer = threading.Thread(target=q.put, args=(_samples(1),))
    writer.start()
    q.stop()
    writer.join(5)
    assert not writer.is_alive()


def test_pump_reports_a_failing_source_in_one_line():
    def blocks(stop):
        yield _samples(2)
        raise OSError("device unplugged")

    q = SampleQueue(CI16, capacity=10, drop=False, name="stdin")
    pump(blocks, q)
    assert q.get(0, 10) == _samples(2)
    assert q.get(0, 10) is END
    assert q.error == "reading stdin failed (OSError: device unplugged)"


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [("zmq+tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555"),
     ("zmq+tcp://localhost:49152", "tcp://localhost:49152"),
     ("zmq+tcp://[::1]:5555", "tcp://[::1]:5555"),
     ("zmq+ipc:///tmp/gr.sock", "ipc:///tmp/gr.sock")],
)  # fmt: skip
def test_zmq_urls(url, endpoint):
    assert is_stream(url) and parse_zmq_url(url) == endpoint


@pytest.mark.parametrize(
    ("url", "pattern"),
    [("zmq+tcp://127.0.0.1", "not a ZeroMQ address"), ("zmq+udp://h:1", "not a ZeroMQ"),
     ("zmq+tcp://h:70000", "port outside"), ("zmq+tcp://h:0", "port outside"),
     ("zmq+tcp://h:*", "needs the publisher's port")],
)  # fmt: skip
def test_bad_zmq_urls(url, pattern):
    with pytest.raises(AmrkitError, match=pattern):
        parse_zmq_url(url)


def test_recordings_are_not_streams():
    assert is_stream("-") and not is_stream("capture.cu8") and not is_stream("./-")


def test_open_stream_needs_rate_and_format_and_a_pipe():
    with pytest.raises(AmrkitError, match="needs its sample rate; pass --sample-rate"):
        open_stream("-", "cu8", None)
    with pytest.raises(AmrkitError, match="positive number of Hz"):
        open_stream("-", "cu8", float("nan"))
    with pytest.raises(AmrkitError, match="needs its sample format; pass --format"):
        open_stream("-", None, 2.4e6)
    with pytest.raises(AmrkitError, match="real samples"):
        open_stream("-", "rf32", 2.4e6)
    with pytest.raises(AmrkitError, match="--zmq-socket applies to zmq"):
        open_stream("-", "cu8", 2.4e6, zmq_socket="pull")
    leader, follower = os.openpty()
    try:
        with pytest.raises(AmrkitError, match="standard input is a terminal"):
            open_stream("-", "cu8", 2.4e6, stdin_fd=follower)
    finally:
        os.close(leader)
        os.close(follower)
    r, w = os.pipe()
    try:
        src = open_stream("-", "cu8", 2.4e6, stdin_fd=r)
        assert (src.name, src.fmt.name, src.sample_rate_hz, src.can_block) == (
            "stdin", "cu8", 2.4e6, True
        )  # fmt: skip
    finally:
        os.close(r)
        os.close(w)


def test_zmq_without_pyzmq_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "zmq", None)  # import zmq now fails
    with pytest.raises(AmrkitError, match=r"needs the optional package pyzmq.*amrkit\[stream\]"):
        import_zmq("reading zmq+tcp://127.0.0.1:5555")
    with pytest.raises(AmrkitError, match="pyzmq"):
        open_stream("zmq+tcp://127.0.0.1:5555", None, 1e6)
