"""Where live samples come from, and the bounded queue between the source and the classifier.

A source (standard input, a ZeroMQ socket) is read by a thread that only moves bytes: it
puts whole samples into a :class:`SampleQueue` and never waits for the classifier, except
where back-pressure is asked for. The queue holds at most ``capacity`` samples:

- **block** (``drop=False``; ``--max-delay inf``): a full queue stops the reading thread,
  so the source waits (a pipe fills and its writer blocks; a ZeroMQ PUSH socket stops
  sending). The time the source was held up is counted (``held_s``).
- **drop** (``drop=True``; ``--max-delay S``: ``capacity`` is S seconds of signal): what
  arrives beyond that is dropped here, counted, and marked in the queue as a :class:`Gap`,
  so the classifier never joins samples that were not adjacent.

A stream that ends inside a sample (an odd byte count) is closed with an error; the whole
samples before it are still delivered.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from amrkit.data.recording import SampleFormat, parse_datatype
from amrkit.errors import AmrkitError

READ_BYTES = 1 << 20  # largest read from a pipe (whatever is there is taken at once)
POLL_S = 0.1  # how often a waiting thread looks at its stop flag
ZMQ_PATTERNS = ("sub", "pull")
_ZMQ_URL = re.compile(r"^zmq\+(tcp|ipc)://(.+)$")
_TCP = re.compile(r"^(\*|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5}|\*)$")


@dataclass(frozen=True)
class Gap:
    """``samples`` consecutive samples of the source were dropped here."""

    samples: int


END = object()  # queue item: the source ended (see SampleQueue.error)


class SampleQueue:
    """Whole samples (raw bytes) from a reading thread to the classifier; see the module."""

    def __init__(
        self,
        fmt: SampleFormat,
        capacity: int,
        drop: bool,
        name: str = "the stream",
    ) -> None:
        if capacity < 1:
            raise AmrkitError(f"queue capacity {capacity} must be >= 1 sample")
        self.fmt, self.capacity, self.drop, self.name = fmt, int(capacity), drop, name
        self._size = fmt.sample_bytes
        self._cond = threading.Condition()
        self._items: deque[Any] = deque()  # bytes | Gap | END
        self._rest = b""  # a partial sample, completed by the next read
        self.queued = 0  # samples waiting
        self.received = 0  # samples read from the source, dropped ones included
        self.dropped = 0
        self.gaps = 0
        self.held_s = 0.0  # time the reading thread waited for room (block mode)
        self.max_queued = 0
        self.last_put = time.monotonic()  # when the source last delivered bytes
        self.error: str | None = None  # why the source ended, when not a clean end
        self.stopped = threading.Event()  # set by the consumer: the reader stops

    # ---- the reading thread ----
    def put(self, data: bytes) -> None:
        """Bytes as read; whole samples go in, a partial one waits for the next read."""
        if self._rest:
            data = self._rest + data
        n = len(data) // self._size
        self._rest = data[n * self._size :]
        with self._cond:
            self.last_put = time.monotonic()
            self.received += n
            if n == 0:
                return
            keep = n
            if self.drop:
                keep = max(0, min(n, self.capacity - self.queued))
            else:
                t0 = time.monotonic()
                while self.queued >= self.capacity and not self.stopped.is_set():
                    self._cond.wait(POLL_S)
                self.held_s += time.monotonic() - t0
            if keep:
                self._items.append(data[: keep * self._size])
                self.queued += keep
                self.max_queued = max(self.max_queued, self.queued)
            if keep < n:
                self._lose(n - keep)
            self._cond.notify_all()

    def _lose(self, samples: int) -> None:
        self.dropped += samples
        if self._items and isinstance(self._items[-1], Gap):
            self._items[-1] = Gap(self._items[-1].samples + samples)
        else:
            self._items.append(Gap(samples))
            self.gaps += 1

    def close(self, error: str | None = None) -> None:
        """The source ended (cleanly unless ``error``); a partial sample is an error."""
        if error is None and self._rest:
            error = (
                f"{self.name} ended inside a sample: {len(self._rest)} trailing byte(s) of a "
                f"{self._size}-byte {self.fmt.name} sample (odd byte count); check --format"
            )
        with self._cond:
            self.error = error
            self._items.append(END)
            self._cond.notify_all()

    # ---- the classifier ----
    def get(self, timeout: float, max_samples: int) -> Any:
        """The next item: bytes of up to ``max_samples`` samples (consecutive reads joined),
        a :class:`Gap`, :data:`END`, or None after ``timeout`` seconds without one."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items[0]
            if not isinstance(item, bytes):
                self._items.popleft()
                return item
            parts, count = [], 0
            while self._items and isinstance(self._items[0], bytes):
                k = len(self._items[0]) // self._size
                if parts and count + k > max_samples:
                    break
                parts.append(self._items.popleft())
                count += k
            self.queued -= count
            self._cond.notify_all()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def stop(self) -> None:
        """The consumer is done: a reader waiting for room returns, the next read stops."""
        self.stopped.set()
        with self._cond:
            self._cond.notify_all()


def pump(blocks: Callable[[threading.Event], Iterator[bytes]], queue: SampleQueue) -> None:
    """The reading thread: every block of the source into ``queue``, then close it."""
    try:
        for data in blocks(queue.stopped):
            queue.put(data)  # even when stopping: what was read counts (one read at most)
            if queue.stopped.is_set():
                break
    except Exception as exc:  # noqa: BLE001 - the consumer reports it as one line
        queue.close(f"reading {queue.name} failed ({type(exc).__name__}: {exc})")
        return
    queue.close()


# ---- sources ----------------------------------------------------------------------------
@dataclass
class StreamSource:
    """A live source of raw samples: ``name`` for messages, the samples' format and rate,
    ``blocks(stop)`` (run in the reading thread), and the back-pressure it supports."""

    name: str
    fmt: SampleFormat
    sample_rate_hz: float
    blocks: Callable[[threading.Event], Iterator[bytes]]
    can_block: bool = True  # False: the sender never waits (ZeroMQ PUB), so drop by default


def fd_source(fd: int, fmt: SampleFormat, sample_rate_hz: float, name: str) -> StreamSource:
    """Samples from a file descriptor (standard input: 0); each read takes what is there."""

    def blocks(stop: threading.Event) -> Iterator[bytes]:
        while not stop.is_set():
            data = os.read(fd, READ_BYTES)
            if not data:
                return
            yield data

    return StreamSource(name, fmt, sample_rate_hz, blocks)


def parse_zmq_url(url: str, what: str = "stream", any_port: bool = False) -> str:
    """``zmq+tcp://HOST:PORT`` (or ``zmq+ipc://PATH``) → the ZeroMQ endpoint ``tcp://…``.
    ``any_port``: a socket to bind may also say ``:*`` (a free port)."""
    m = _ZMQ_URL.match(url)
    tcp = _TCP.match(m.group(2)) if m and m.group(1) == "tcp" else None
    if not m or (m.group(1) == "tcp" and not tcp):
        raise AmrkitError(
            f"{what} {url!r} is not a ZeroMQ address; use zmq+tcp://HOST:PORT (e.g. "
            "zmq+tcp://127.0.0.1:5555) or zmq+ipc:///path/to/socket"
        )
    port = tcp.group(2) if tcp else None
    if port == "*" and not any_port:
        raise AmrkitError(f"{what} {url!r} needs the publisher's port number, e.g. :5555")
    if port not in (None, "*") and not 0 < int(port) < 65536:
        raise AmrkitError(f"{what} {url!r} has port outside 1-65535")
    return f"{m.group(1)}://{m.group(2)}"


def import_zmq(what: str) -> Any:
    """pyzmq, or a one-line error saying how to install it."""
    try:
        import zmq
    except ImportError:
        raise AmrkitError(
            f"{what} needs the optional package pyzmq; install it with "
            "pip install 'amrkit[stream]' (or pip install pyzmq)"
        ) from None
    return zmq


def zmq_source(
    url: str, fmt: SampleFormat, sample_rate_hz: float, pattern: str = "sub"
) -> StreamSource:
    """Samples from a ZeroMQ PUB (``sub``) or PUSH (``pull``) socket, as GNU Radio's ZMQ
    sink blocks send them: each message raw items (no tags), any number of them."""
    if pattern not in ZMQ_PATTERNS:
        raise AmrkitError(f"--zmq-socket {pattern!r} is not one of {', '.join(ZMQ_PATTERNS)}")
    endpoint = parse_zmq_url(url)
    zmq = import_zmq(f"reading {url}")

    def blocks(stop: threading.Event) -> Iterator[bytes]:
        # the socket lives in the reading thread only (ZeroMQ sockets are not thread safe)
        sock = zmq.Context.instance().socket(zmq.SUB if pattern == "sub" else zmq.PULL)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, 1000)  # messages; this thread drains it promptly
            if pattern == "sub":
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(endpoint)
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            while not stop.is_set():
                if poller.poll(int(POLL_S * 1000)):
                    # GNU Radio's sinks with a key send [key, items]: the items are last
                    yield sock.recv_multipart(copy=True)[-1]
        finally:
            sock.close()

    return StreamSource(
        f"{url} ({pattern.upper()})", fmt, sample_rate_hz, blocks, can_block=pattern == "pull"
    )


def is_stream(spec: str) -> bool:
    """``-`` (standard input) or a ``zmq+…://`` address, as ``amrkit classify`` takes them."""
    return spec == "-" or spec.startswith("zmq+")


def open_stream(
    spec: str,
    format: str | None,
    sample_rate_hz: float | None,
    zmq_socket: str | None = None,
    stdin_fd: int = 0,
) -> StreamSource:
    """The source ``spec`` names: ``-`` reads ``stdin_fd`` (``--format`` required), a
    ``zmq+tcp://HOST:PORT`` address a ZeroMQ socket (``--format`` default ``cf32``, GNU
    Radio's complex items). Both need ``--sample-rate``: raw samples carry none."""
    if sample_rate_hz is None:
        raise AmrkitError(
            f"stream {spec!r} needs its sample rate; pass --sample-rate (Hz), e.g. 2.4e6"
        )
    if not (sample_rate_hz > 0 and math.isfinite(sample_rate_hz)):
        raise AmrkitError(
            f"--sample-rate {sample_rate_hz} must be a positive number of Hz, e.g. 2.4e6"
        )
    if spec != "-":
        fmt = parse_datatype(format or "cf32", "--format")
        return zmq_source(spec, fmt, float(sample_rate_hz), zmq_socket or "sub")
    if zmq_socket is not None:
        raise AmrkitError("--zmq-socket applies to zmq+tcp:// streams, not to standard input")
    if format is None:
        raise AmrkitError(
            "standard input needs its sample format; pass --format (cu8 for rtl_sdr, ci8 for "
            "hackrf_transfer, ci16 or cf32 for rx_sdr)"
        )
    fmt = parse_datatype(format, "--format")
    if os.isatty(stdin_fd):
        raise AmrkitError(
            "standard input is a terminal, not a stream of samples; pipe one in, e.g. "
            "rtl_sdr -f 100e6 -s 2.4e6 - | amrkit classify MODEL - --format cu8 --sample-rate 2.4e6"
        )
    return fd_source(stdin_fd, fmt, float(sample_rate_hz), "stdin")
