"""Where a stream's decisions go as they are made: CSV or JSON lines (standard output or a
file), flushed after every batch, and optionally a ZeroMQ PUB socket.

The rows are :func:`amrkit.classify.prediction_rows`, so a stream writes the bytes that
``classify --out`` writes for the same frames. Unlike a recording's outputs these files
are not written atomically: a live log keeps every decision made, even when the stream
breaks.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from amrkit.classify import check_output_path, csv_header, prediction_rows
from amrkit.errors import AmrkitError
from amrkit.stream.engine import Decisions, StreamClassifier
from amrkit.stream.sources import import_zmq, parse_zmq_url


class OutputClosed(Exception):
    """The reader of the decisions went away (a closed pipe: ``amrkit ... | head``)."""


class Output:
    """What receives a stream's decisions: :meth:`start` once the model and the stream's
    layout are known, then every batch of decisions, then :meth:`close`."""

    classes: tuple[str, ...] = ()
    sample_count = 0
    sample_rate_hz = float("nan")

    def start(self, engine: StreamClassifier, sample_rate_hz: float) -> None:
        self.classes, self.k = engine.classes, engine.k
        self.sample_count, self.sample_rate_hz = engine.sample_count, sample_rate_hz

    def rows(self, d: Decisions, as_json: bool) -> Iterator[Any]:
        return prediction_rows(
            self.classes,
            d.start_sample,
            self.sample_count,
            self.sample_rate_hz,
            d.top_index,
            d.top_prob,
            as_json,
        )

    def __call__(self, d: Decisions) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class DecisionWriter(Output):
    """Decisions as CSV rows (header first) or JSON lines on a text stream, flushed per
    batch. ``owned``: close the stream at the end (a file opened here)."""

    def __init__(self, stream: TextIO, as_json: bool, owned: bool = False) -> None:
        self.stream, self.as_json, self.owned = stream, as_json, owned
        self._csv = None if as_json else csv.writer(stream)

    def start(self, engine: StreamClassifier, sample_rate_hz: float) -> None:
        super().start(engine, sample_rate_hz)
        if self._csv is not None:
            self._guard(lambda: self._csv.writerow(csv_header(self.k)))

    def __call__(self, d: Decisions) -> None:
        rows = self.rows(d, self.as_json)
        if self._csv is not None:
            self._guard(lambda: self._csv.writerows(rows))
        else:
            self._guard(lambda: self.stream.writelines(json.dumps(r) + "\n" for r in rows))

    def _guard(self, write: Callable[[], Any]) -> None:
        try:
            write()
            self.stream.flush()
        except BrokenPipeError:
            raise OutputClosed from None

    def close(self) -> None:
        if self.owned:
            self.stream.close()


def open_decision_file(path: str | Path) -> DecisionWriter:
    """``--out FILE.csv`` / ``FILE.jsonl`` for a stream: replaced, then written as decisions
    come (line buffered)."""
    p = check_output_path(path)
    as_json = p.suffix.lower() != ".csv"
    f = open(p, "w", newline="", buffering=1)  # noqa: SIM115 - closed by DecisionWriter.close
    return DecisionWriter(f, as_json, owned=True)


def publish_endpoint(address: str) -> str:
    """``--publish``: ``tcp://*:5556`` or ``zmq+tcp://*:5556`` (or ``ipc://…``; port ``*``:
    any free one, see :attr:`ZmqPublisher.endpoint`)."""
    url = address if address.startswith("zmq+") else f"zmq+{address}"
    return parse_zmq_url(url, "--publish", any_port=True)


class ZmqPublisher(Output):
    """Each decision as one ZeroMQ message on a PUB socket bound at ``address``: the JSON
    line's text (UTF-8). A subscriber that is too slow loses messages at its high-water
    mark (ZeroMQ's PUB never waits), the classifier never does."""

    def __init__(self, address: str) -> None:
        endpoint = publish_endpoint(address)
        zmq = import_zmq(f"--publish {address}")
        self._zmq = zmq
        self.sock = zmq.Context.instance().socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 1000)  # deliver what was queued, then let go
        try:
            self.sock.bind(endpoint)
        except zmq.ZMQError as exc:
            self.sock.close()
            raise AmrkitError(
                f"--publish {address!r} cannot be bound ({exc}); choose a free port"
            ) from None
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def __call__(self, d: Decisions) -> None:
        for r in self.rows(d, True):
            # no room at the high-water mark: PUB drops the message anyway, never waits
            with contextlib.suppress(self._zmq.Again):
                self.sock.send_string(json.dumps(r), self._zmq.NOBLOCK)

    def close(self) -> None:
        self.sock.close()
