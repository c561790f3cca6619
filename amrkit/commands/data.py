"""CLI commands: generate, info."""

from __future__ import annotations

import typer

from amrkit.errors import AmrkitError


def info(
    path: str = typer.Argument(..., help="Dataset file (amrkit HDF5, RadioML, NumPy)."),
    json_out: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Summarize a dataset: classes, frames, SNRs, splits."""
    raise AmrkitError("info: not implemented yet")


COMMANDS = {"info": info}
