"""The live view, rendered from a status (no terminal needed), and the summary's words."""

from __future__ import annotations

from rich.console import Console

from amrkit.stream.live import render_status
from amrkit.stream.status import StreamStatus


def _status(**changes) -> StreamStatus:
    s = StreamStatus(
        source="stdin", datatype="cu8", sample_rate_hz=2.4e6, classes=("BPSK", "QPSK", "FM"),
        model={"kind": "onnx-int8", "runtime": "ort"}, resampling={"active": True},
        mode="block", max_delay_s=None, frame_length=1024, hop=1024, sample_count=12288,
        chunk=1 << 20, histogram=[0, 0, 0],
    )  # fmt: skip
    for k, v in changes.items():
        setattr(s, k, v)
    return s


def _text(status: StreamStatus) -> str:
    console = Console(width=100, record=True, force_terminal=False, color_system=None)
    console.print(render_status(status))
    return console.export_text()


def test_the_view_shows_the_decision_top3_speed_and_losses():
    s = _status(
        received=24_000_000, consumed=24_000_000, dropped=240_000, gaps=3, frames=1950,
        wall_s=10.0, busy_s=0.8, mode="drop", max_delay_s=2.0, backlog_s=0.25,
        last={"time_s": 9.876, "label": "QPSK", "p": 0.934,
              "top": [("QPSK", 0.934), ("BPSK", 0.05), ("FM", 0.016)]},
    )  # fmt: skip
    text = _text(s)
    assert "stdin · cu8 at 2.4 MHz" in text and "onnx-int8 (ort)" in text
    assert "QPSK  93.4%  at 9.876 s" in text
    lines = [line for line in text.splitlines() if "BPSK" in line or "FM " in line]
    assert any("5.0%" in line for line in lines) and any("1.6%" in line for line in lines)
    assert "frames/s" in text and "195" in text  # 1950 frames in 10 s
    assert "12.4" in text  # × real time: (24e6 - 240000) / 2.4e6 s of signal in 0.8 s
    assert "240000 (1.00%, 3 gaps)" in text and "drop beyond 2 s" in text
    assert "0.25 s" in text  # backlog


def test_the_view_before_the_first_frame_and_when_holding_the_source():
    text = _text(_status(held_s=1.5))
    assert "waiting for the first frame" in text
    assert "source waited" in text and "1.5 s" in text and "block the source" in text
    assert "source waited" not in _text(_status())


def test_the_summary_sentence_names_losses_and_leftovers():
    s = _status(
        received=2_400_000, consumed=2_400_000, dropped=0, frames=195, busy_s=0.1,
        partial_samples=3000, end="interrupted",
    )  # fmt: skip
    text = s.sentence()
    assert text.startswith("195 frames from 2400000 samples of stdin (1 s of signal); 10x real")
    assert "no samples dropped" in text and "3000 samples of a partial frame" in text
    assert text.endswith("[interrupted]")
    d = s.to_dict()
    assert d["histogram"] == {"BPSK": 0, "QPSK": 0, "FM": 0} and d["end"] == "interrupted"
    assert d["times_real_time"] == 10.0 and d["samples_dropped"] == 0
