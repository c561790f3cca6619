"""The streaming classifier: samples pushed as they arrive, decisions out as frames complete.

:class:`StreamClassifier` is ``classify_recording`` taken apart so that nothing waits for
the end of the input: the polyphase resampler (:class:`~amrkit.data.recording.
StreamResampler`) and the framer (:class:`~amrkit.data.recording.Framer`) keep their state
between pushes, so the chunks, the batches the predictor sees and therefore the decisions are
those of classifying the same samples as a file (same ``chunk``, ``hop``, ``batch_size``),
bit for bit. It holds about one chunk of input, whatever the stream's length.

Samples lost upstream (:meth:`StreamClassifier.gap`) end a *segment*: its complete frames
are classified as at the end of a file, the rest is a partial frame (counted, not
classified), and the next segment starts after the lost samples; sample indices keep
counting them, so a decision's ``start_sample`` stays the source's own sample index.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from amrkit.classify import model_info, model_rate, plan_resampling, top_classes
from amrkit.data.recording import DEFAULT_CHUNK, Framer, ReadStats, StreamResampler
from amrkit.errors import AmrkitError

MAX_GAPS = 1000  # gaps remembered (positions); all are counted


@dataclass
class Decisions:
    """Decisions on consecutive frames of one batch."""

    start_sample: np.ndarray  # (k,) int64, the source's sample index (lost samples counted)
    top_index: np.ndarray  # (k, K) int64, best first
    top_prob: np.ndarray  # (k, K) float32

    def __len__(self) -> int:
        return len(self.start_sample)


class StreamClassifier:
    """Classify a stream of complex64 samples at ``sample_rate_hz`` with ``predictor``.

    The options are ``classify_recording``'s. :meth:`push`, :meth:`gap` and :meth:`finish`
    return generators of :class:`Decisions`: run each to its end before the next call.
    """

    def __init__(
        self,
        predictor: Any,
        sample_rate_hz: float,
        *,
        hop: int | None = None,
        batch_size: int = 256,
        resample: bool = True,
        top_k: int = 3,
        chunk: int = DEFAULT_CHUNK,
        max_denominator: int = 1000,
        model_rate_hz: float | None = None,
    ) -> None:
        L = int(predictor.frame_length)
        hop = L if hop is None else int(hop)
        if hop < 1:
            raise AmrkitError(f"--hop {hop} must be >= 1 (samples at the model's rate)")
        if batch_size < 1:
            raise AmrkitError(f"--batch-size {batch_size} must be >= 1")
        if chunk < 1:
            raise AmrkitError(f"--chunk {chunk} must be >= 1 (samples per processing block)")
        rate = model_rate(predictor, model_rate_hz)
        self.predictor = predictor
        self.classes = tuple(predictor.classes)
        self.plan = plan_resampling(rate, sample_rate_hz, resample, max_denominator)
        self.model = model_info(predictor, rate)
        self.frame_length, self.hop, self.batch_size, self.chunk = L, hop, batch_size, chunk
        self.k = max(1, min(top_k, len(self.classes)))
        self.sample_count = int(round(L * self.plan.down / self.plan.up))  # input samples
        self.stats = ReadStats()
        self.frames = 0
        self.histogram = np.zeros(len(self.classes), np.int64)  # (C,) frames per label
        self.infer_s = 0.0  # inside predictor.logits
        self.partial_samples = 0  # input samples of partial frames left at segment ends
        self.segments = 0
        self.gaps: list[tuple[int, int]] = []  # (first lost sample, count), the first MAX_GAPS
        self._open(0)

    def _open(self, offset: int) -> None:
        self._offset = offset  # source index of the segment's first sample
        self._resampler = StreamResampler(self.plan.up, self.plan.down, self.chunk, self.stats)
        self._framer = Framer(self.frame_length, self.hop, self.batch_size, True, self.stats)
        self.segments += 1

    @property
    def consumed(self) -> int:
        """Source samples accounted for: pushed, and lost in gaps."""
        return self._offset + self._resampler.received

    def push(self, z: np.ndarray) -> Iterator[Decisions]:
        """Append ``z`` (n,) complex64; decisions on the frames it completes."""
        for chunk in self._resampler.push(z):
            yield from self._classify(chunk)

    def finish(self) -> Iterator[Decisions]:
        """The end of the stream (or of a segment): the frames still held, as at the end of
        a file; what remains is a partial frame, counted in ``partial_samples``."""
        for chunk in self._resampler.finish():
            yield from self._classify(chunk)
        if self._framer.pending:
            first = int(self.plan.to_original(np.int64(self._framer.next_start)))
            self.partial_samples += max(0, self._resampler.received - first)

    def gap(self, lost: int) -> Iterator[Decisions]:
        """``lost`` samples never arrived: end this segment, start the next one after them."""
        yield from self.finish()
        if len(self.gaps) < MAX_GAPS:
            self.gaps.append((self.consumed, int(lost)))
        self._open(self.consumed + int(lost))

    def _classify(self, chunk: np.ndarray) -> Iterator[Decisions]:
        for starts, iq in self._framer.push(chunk):
            t0 = time.perf_counter()
            logits = np.asarray(self.predictor.logits(iq), dtype=np.float32)  # (b, C)
            self.infer_s += time.perf_counter() - t0
            top_index, top_prob = top_classes(logits, self.k)
            self.frames += len(starts)
            self.histogram += np.bincount(top_index[:, 0], minlength=len(self.classes))
            yield Decisions(self._offset + self.plan.to_original(starts), top_index, top_prob)
