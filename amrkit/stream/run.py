"""Classify a live stream until it ends: a reading thread fills the queue, this loop decodes,
classifies and hands every batch of decisions to the outputs as soon as it is made.

How a stream ends (``StreamStatus.end``): ``end of stream`` (EOF), ``interrupted`` (Ctrl-C
or SIGTERM: the frames already complete are classified first), ``output closed`` (the
reader of standard output went away), ``stalled`` (no samples for ``timeout_s``) or
``error`` (a partial sample at the end, NaN / inf samples, a failing source). The last two
set ``error`` to one line; every decision made before is already written.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from amrkit.data.recording import DEFAULT_CHUNK, decode_samples, first_nonfinite
from amrkit.errors import AmrkitError
from amrkit.stream.engine import Decisions, StreamClassifier
from amrkit.stream.outputs import Output, OutputClosed
from amrkit.stream.sources import END, POLL_S, Gap, SampleQueue, StreamSource, pump
from amrkit.stream.status import StreamStatus

DEFAULT_DROP_DELAY_S = 5.0  # a source that cannot wait (ZeroMQ SUB) drops beyond this
STATUS_EVERY_S = 0.25  # live view refresh
WARN_EVERY_S = 5.0  # at most one "falling behind" warning this often


@dataclass(frozen=True)
class StreamConfig:
    """How a stream is classified. ``max_delay_s``: None = the source's default (block,
    or drop beyond 5 s for a source that never waits), ``inf`` = block, a positive number =
    drop samples beyond that many seconds of waiting signal. ``timeout_s``: end with an
    error after this long without samples (0 = wait forever)."""

    hop: int | None = None
    batch_size: int = 256
    resample: bool = True
    top_k: int = 3
    chunk: int = DEFAULT_CHUNK
    model_rate_hz: float | None = None
    max_delay_s: float | None = None
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_delay_s is not None and not self.max_delay_s > 0:
            raise AmrkitError(
                f"--max-delay {self.max_delay_s} must be > 0 seconds (inf: never drop, the "
                "source waits)"
            )
        if not (self.timeout_s >= 0 and math.isfinite(self.timeout_s)):
            raise AmrkitError(f"--timeout {self.timeout_s} must be >= 0 seconds (0: wait forever)")

    def delay_for(self, source: StreamSource) -> float | None:
        """The drop threshold for ``source`` (None: block)."""
        d = self.max_delay_s
        if d is None:
            return None if source.can_block else DEFAULT_DROP_DELAY_S
        return None if math.isinf(d) else d


def classify_stream(
    predictor: Any,
    source: StreamSource,
    config: StreamConfig = StreamConfig(),
    outputs: Iterable[Output] = (),
    on_status: Callable[[StreamStatus], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> StreamStatus:
    """Classify ``source`` until it ends (see the module); returns the final status.

    ``outputs`` are started, get every batch of decisions as it is made, and are closed;
    ``on_status`` gets a fresh status every quarter second (and at the end); ``on_warning``
    one line when the classifier falls behind the source (at most every 5 s).
    """
    engine = StreamClassifier(
        predictor,
        source.sample_rate_hz,
        hop=config.hop,
        batch_size=config.batch_size,
        resample=config.resample,
        top_k=config.top_k,
        chunk=config.chunk,
        model_rate_hz=config.model_rate_hz,
    )
    delay = config.delay_for(source)
    rate = source.sample_rate_hz
    capacity = max(1, round(delay * rate)) if delay is not None else 2 * config.chunk
    queue = SampleQueue(source.fmt, capacity, delay is not None, source.name)
    loop = _Loop(engine, queue, source, config, list(outputs), on_status, on_warning)
    reader = threading.Thread(
        target=pump, args=(source.blocks, queue), daemon=True, name="amrkit-stream-reader"
    )
    with _sigterm_as_interrupt():
        try:
            for out in loop.outputs:
                out.start(engine, rate)
            reader.start()
            loop.run()
        finally:
            queue.stop()
            for out in loop.outputs:
                out.close()
            if reader.is_alive():  # a read blocked on a pipe never returns: a daemon thread
                reader.join(timeout=2 * POLL_S)
    return loop.status


class _Loop:
    """The consumer side of one stream: queue → engine → outputs, with the status."""

    def __init__(
        self,
        engine: StreamClassifier,
        queue: SampleQueue,
        source: StreamSource,
        config: StreamConfig,
        outputs: list[Output],
        on_status: Callable[[StreamStatus], None] | None,
        on_warning: Callable[[str], None] | None,
    ) -> None:
        self.engine, self.queue, self.source, self.config = engine, queue, source, config
        self.outputs, self.on_status, self.on_warning = outputs, on_status, on_warning
        self.fmt = source.fmt
        self.status = StreamStatus(
            source=source.name,
            datatype=source.fmt.name,
            sample_rate_hz=source.sample_rate_hz,
            classes=engine.classes,
            model=engine.model,
            resampling=engine.plan.to_dict(),
            mode="drop" if queue.drop else "block",
            max_delay_s=queue.capacity / source.sample_rate_hz if queue.drop else None,
            frame_length=engine.frame_length,
            hop=engine.hop,
            sample_count=engine.sample_count,
            chunk=engine.chunk,
            histogram=[0] * len(engine.classes),
        )
        self.t0 = time.perf_counter()
        self.waited = 0.0
        self._shown = 0.0
        self._warned = -math.inf
        self._warned_at = (0, 0.0)  # dropped, held_s at the last warning

    def run(self) -> None:
        s = self.status
        try:
            s.end, s.error = self._consume()
            self._emit(self.engine.finish())
            if s.error is not None:  # the decisions before it are all written
                s.error += f"; {self.engine.frames} frames were classified before"
        except KeyboardInterrupt:
            s.end = "interrupted"
            # what was received still counts (at most the queue); a second Ctrl-C stops at once
            with contextlib.suppress(KeyboardInterrupt, OutputClosed):
                s.error = self._drain()
                self._emit(self.engine.finish())
            if s.error is not None:
                s.end = "error"
        except OutputClosed:
            s.end = "output closed"
        self._update(final=True)

    def _consume(self) -> tuple[str, str | None]:
        """Items until the stream ends: (end, error)."""
        timeout, q = self.config.timeout_s, self.queue
        while True:
            t_wait = time.perf_counter()
            item = q.get(POLL_S, self.config.chunk)
            self.waited += time.perf_counter() - t_wait
            if item is None:
                idle = time.monotonic() - q.last_put
                if timeout and idle >= timeout and q.queued == 0:
                    return "stalled", (
                        f"no samples from {q.name} for {timeout:g} s (the source stalled or "
                        "stopped; --timeout 0 waits forever)"
                    )
            elif item is END:
                return ("error", q.error) if q.error else ("end of stream", None)
            elif isinstance(item, Gap):
                self._emit(self.engine.gap(item.samples))
            else:
                error = self._samples(item)
                if error:
                    return "error", error
            self._update()

    def _drain(self) -> str | None:
        """Classify what the queue holds, reading nothing more from the source; the error
        of broken samples among them."""
        self.queue.stop()
        while (item := self.queue.get(0, self.config.chunk)) not in (None, END):
            if isinstance(item, Gap):
                self._emit(self.engine.gap(item.samples))
            elif error := self._samples(item):
                return error
        return None

    def _samples(self, data: bytes) -> str | None:
        """Decode and classify; the one-line error for NaN / inf samples (the samples before
        them are classified)."""
        z = decode_samples(data, self.fmt)  # (n,) complex64
        bad = first_nonfinite(z, self.fmt)
        if bad is None:
            self._emit(self.engine.push(z))
            return None
        at = self.engine.consumed + bad
        self._emit(self.engine.push(z[:bad]))
        return (
            f"{self.queue.name}: sample {at} is NaN or inf (or beyond float32 range); a "
            f"{self.fmt.name} stream must hold finite samples: check the source and --format"
        )

    def _emit(self, decisions: Iterator[Decisions]) -> None:
        for d in decisions:
            for out in self.outputs:
                out(d)
            self._last(d)

    def _last(self, d: Decisions) -> None:
        names = self.engine.classes
        top = [(names[j], float(p)) for j, p in zip(d.top_index[-1], d.top_prob[-1], strict=True)]
        start = int(d.start_sample[-1])
        self.status.last = {
            "start_sample": start,
            "time_s": start / self.source.sample_rate_hz,
            "label": top[0][0],
            "p": top[0][1],
            "top": top,
        }

    def _update(self, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self._shown < STATUS_EVERY_S:
            return
        self._shown = now
        s, q, e = self.status, self.queue, self.engine
        s.wall_s = now - self.t0
        s.busy_s = max(0.0, s.wall_s - self.waited)
        s.infer_s = e.infer_s
        s.received, s.dropped, s.gaps, s.held_s = q.received, q.dropped, q.gaps, q.held_s
        s.consumed, s.frames, s.partial_samples = e.consumed, e.frames, e.partial_samples
        s.histogram = e.histogram.tolist()
        s.gap_log = list(e.gaps)
        s.backlog_s = q.queued / self.source.sample_rate_hz
        s.max_backlog_s = q.max_queued / self.source.sample_rate_hz
        if self.on_status is not None:
            self.on_status(s)
        if self.on_warning is not None and not final:
            self._warn(now)

    def _warn(self, now: float) -> None:
        """Say so when the classifier falls behind: samples dropped, or the source held up
        while slower than real time (a live source then loses samples on its side)."""
        s = self.status
        if now - self._warned < WARN_EVERY_S:
            return
        dropped, held = self._warned_at
        xrt = s.times_real_time
        if s.dropped > dropped:
            msg = (
                f"behind the source: {s.dropped} samples ({s.dropped / s.sample_rate_hz:.3g} s, "
                f"{s.dropped_fraction:.2%}) dropped in {s.gaps} gap(s) so far "
                f"(--max-delay {s.max_delay_s:g} s)"
            )
        elif s.held_s - held >= 0.5 and xrt is not None and xrt < 1:
            msg = (
                f"slower than real time ({xrt:.2f}x): the source waited {s.held_s:.1f} s so far "
                "and a live source may lose samples on its side; --max-delay SECONDS drops "
                "here instead, counted"
            )
        else:
            return
        self._warned, self._warned_at = now, (s.dropped, s.held_s)
        self.on_warning(msg)


class _sigterm_as_interrupt:
    """SIGTERM (``timeout``, ``kill``) ends a stream like Ctrl-C: cleanly, with its summary.
    Only in the main thread (signal handlers live there)."""

    def __enter__(self) -> None:
        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, _interrupt)

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
