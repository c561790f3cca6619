"""The live view of a stream on a terminal (``rich``): the current decision, its probability,
the top-3, frames/s, × real time and what was dropped. :func:`render_status` builds it from
a :class:`~amrkit.stream.status.StreamStatus` alone, so it is tested on data, not a TTY."""

from __future__ import annotations

from typing import Any

from amrkit.stream.status import StreamStatus

BAR = 24  # characters of a full probability bar


def _bar(p: float) -> str:
    full = max(0, min(BAR, round(p * BAR)))
    return "█" * full + "·" * (BAR - full)


def format_hz(value: float | None) -> str:
    """A sample rate for people: 2.4 MHz, 200 kHz, 'unknown rate'."""
    if value is None:
        return "unknown rate"
    for unit, scale in (("MHz", 1e6), ("kHz", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} Hz"


def render_status(s: StreamStatus) -> Any:
    """A rich renderable: a panel with the decision, its top-3 and the stream's counters."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    head = Text()
    if s.last is None:
        head.append("waiting for the first frame…", style="dim")
    else:
        head.append(f"{s.last['label']}", style="bold green")
        head.append(f"  {s.last['p']:.1%}", style="bold")
        head.append(f"  at {s.last['time_s']:.3f} s", style="dim")
    top = Table.grid(padding=(0, 2))
    for name, p in (s.last or {}).get("top", []):
        top.add_row(name, _bar(p), f"{p:6.1%}")
    xrt = s.times_real_time
    fps = s.frames_per_s
    counters = Table.grid(padding=(0, 2))
    counters.add_row("frames", f"{s.frames}", "frames/s", f"{fps:,.0f}" if fps else "-")
    counters.add_row(
        "× real time",
        f"{xrt:,.3g}" if xrt else "-",
        "signal",
        f"{s.signal_s:,.1f} s",
    )
    dropped = Text(f"{s.dropped}", style="bold red" if s.dropped else "")
    if s.dropped:
        dropped.append(f" ({s.dropped_fraction:.2%}, {s.gaps} gaps)")
    counters.add_row("dropped samples", dropped, "backlog", f"{s.backlog_s:.2f} s")
    if s.mode == "block" and s.held_s >= 0.05:
        counters.add_row("source waited", f"{s.held_s:.1f} s", "", "")
    mode = f"drop beyond {s.max_delay_s:g} s" if s.mode == "drop" else "block the source"
    title = f"{s.source} · {s.datatype} at {format_hz(s.sample_rate_hz)}"
    subtitle = f"{s.model.get('kind', 'model')} ({s.model.get('runtime', '?')}) · {mode}"
    return Panel(Group(head, top, counters), title=title, subtitle=subtitle, expand=False)


class LiveView:
    """``with LiveView() as view: view(status)`` redraws the panel in place (stdout)."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console()
        self._live = Live(console=self.console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __call__(self, status: StreamStatus) -> None:
        self._live.update(render_status(status), refresh=False)

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)
