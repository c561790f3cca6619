"""Where a stream stands: counters for the live view, the warnings and the final summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StreamStatus:
    """A snapshot of one stream's classification (all counts in source samples)."""

    source: str
    datatype: str
    sample_rate_hz: float
    classes: tuple[str, ...]
    model: dict[str, Any]
    resampling: dict[str, Any]
    mode: str  # "block": the source waits for the classifier; "drop": samples are dropped
    max_delay_s: float | None  # drop mode: the most signal that may wait
    frame_length: int
    hop: int
    sample_count: int  # a frame's span in source samples
    chunk: int
    received: int = 0  # samples read from the source (dropped ones included)
    consumed: int = 0  # samples accounted for by the classifier (gaps included)
    dropped: int = 0
    gaps: int = 0
    frames: int = 0
    histogram: list[int] = field(default_factory=list)  # frames per class
    partial_samples: int = 0  # samples of partial frames, not classified
    wall_s: float = 0.0
    busy_s: float = 0.0  # of wall_s, not waiting for samples
    infer_s: float = 0.0  # of busy_s, inside the model
    backlog_s: float = 0.0  # signal waiting in the queue now
    max_backlog_s: float = 0.0
    held_s: float = 0.0  # block mode: time the source waited for room
    last: dict[str, Any] | None = None  # the latest decision: time_s, label, p, top
    gap_log: list[tuple[int, int]] = field(default_factory=list)  # (first lost sample, count)
    end: str = "running"  # end of stream | interrupted | output closed | stalled | error
    error: str | None = None

    @property
    def signal_s(self) -> float:
        """Seconds of signal classified (dropped samples not counted)."""
        return (self.consumed - self.dropped) / self.sample_rate_hz

    @property
    def times_real_time(self) -> float | None:
        """Signal seconds classified per second of work: > 1 keeps up with the source."""
        return self.signal_s / self.busy_s if self.busy_s > 0 and self.signal_s > 0 else None

    @property
    def frames_per_s(self) -> float | None:
        return self.frames / self.wall_s if self.wall_s > 0 else None

    @property
    def dropped_fraction(self) -> float:
        return self.dropped / self.received if self.received else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The summary ``--json`` prints (and the last line of a text run says in words)."""
        return {
            "source": self.source,
            "datatype": self.datatype,
            "sample_rate_hz": self.sample_rate_hz,
            "end": self.end,
            "error": self.error,
            "frames": self.frames,
            "histogram": dict(zip(self.classes, self.histogram, strict=True)),
            "samples_received": self.received,
            "samples_dropped": self.dropped,
            "drop_gaps": self.gaps,
            "first_gaps": [list(g) for g in self.gap_log[:20]],  # [first lost sample, count]
            "partial_frame_samples": self.partial_samples,
            "signal_s": self.signal_s,
            "wall_s": self.wall_s,
            "busy_s": self.busy_s,
            "inference_s": self.infer_s,
            "frames_per_s": self.frames_per_s,
            "times_real_time": self.times_real_time,
            "backpressure": {
                "mode": self.mode,
                "max_delay_s": self.max_delay_s,
                "max_backlog_s": self.max_backlog_s,
                "source_held_s": self.held_s,
            },
            "frame_length": self.frame_length,
            "hop": self.hop,
            "sample_count": self.sample_count,
            "chunk": self.chunk,
            "resampling": self.resampling,
            "model": self.model,
        }

    def sentence(self) -> str:
        """One line for people: what was classified, how fast, what was lost or left."""
        xrt = self.times_real_time
        parts = [
            f"{self.frames} frames from {self.received} samples of {self.source} "
            f"({self.signal_s:.3g} s of signal)",
            f"{xrt:.3g}x real time" if xrt else "speed unknown",
            f"{self.dropped} samples dropped in {self.gaps} gap(s)"
            if self.dropped
            else "no samples dropped",
        ]
        if self.held_s >= 0.05:
            parts.append(f"the source waited {self.held_s:.3g} s")
        if self.partial_samples:
            parts.append(f"{self.partial_samples} samples of a partial frame not classified")
        end = "" if self.end == "end of stream" else f" [{self.end}]"
        return "; ".join(parts) + end
