"""Live signals: classify raw samples as they arrive, from standard input or ZeroMQ.

- :func:`classify_stream` (``amrkit.stream.run``): the loop behind ``amrkit classify MODEL -``
  and ``amrkit classify MODEL zmq+tcp://HOST:PORT``; :class:`StreamConfig` its options.
- :class:`StreamClassifier` (``amrkit.stream.engine``): samples in, decisions out, the same
  decisions as classifying the samples as a file (``amrkit.classify``), bounded memory.
- sources and back-pressure (``amrkit.stream.sources``), outputs (``amrkit.stream.outputs``:
  CSV / JSON lines, ZeroMQ PUB), the live view (``amrkit.stream.live``), the counters
  (``amrkit.stream.status``).

ZeroMQ needs the optional package ``pyzmq`` (``pip install 'amrkit[stream]'``).
"""

from amrkit.stream.engine import Decisions, StreamClassifier
from amrkit.stream.run import StreamConfig, classify_stream
from amrkit.stream.sources import StreamSource, fd_source, zmq_source
from amrkit.stream.status import StreamStatus

__all__ = [
    "Decisions",
    "StreamClassifier",
    "StreamConfig",
    "StreamSource",
    "StreamStatus",
    "classify_stream",
    "fd_source",
    "zmq_source",
]
