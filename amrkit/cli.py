"""The ``amrkit`` command: a thin Typer shell over importable functions.

Each ``amrkit.commands.<group>`` module defines its Typer-annotated functions and a
``COMMANDS`` mapping of command name → function (and, for commands with subcommands such as
``amrkit zoo add``, ``SUBGROUPS``: name → (help, {subcommand: function})); this file only
registers them and turns :class:`AmrkitError` into ``error: ...`` on stderr with exit 1.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer

from amrkit.errors import AmrkitError

GROUPS = (
    "data",
    "models",
    "train",
    "evaluate",
    "quant",
    "simulate",
    "reproduce",
    "classify",
    "deploy",
    "prune",
    "search",
    "zoo",
)

app = typer.Typer(
    name="amrkit",
    help="Small, fast automatic-modulation-recognition CNNs: data, training, INT8, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the amrkit version and exit."),
) -> None:
    if version:
        from amrkit import __version__

        typer.echo(__version__)
        raise typer.Exit()


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """AmrkitError inside a command → ``error: ...`` on stderr, exit 1 (also under CliRunner)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AmrkitError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def _register() -> None:
    for group in GROUPS:
        module = importlib.import_module(f"amrkit.commands.{group}")
        for name, fn in getattr(module, "COMMANDS", {}).items():
            app.command(name)(_friendly(fn))
        for name, (help_text, commands) in getattr(module, "SUBGROUPS", {}).items():
            sub = typer.Typer(name=name, help=help_text, no_args_is_help=True)
            for sub_name, fn in commands.items():
                sub.command(sub_name)(_friendly(fn))
            app.add_typer(sub, name=name)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; AmrkitError → one line on stderr, exit 1 (commands are
    wrapped by ``_friendly``; this catches errors raised while parsing). Ctrl-C exits 130
    (Typer's own handling)."""
    try:
        app(args=argv, prog_name="amrkit", standalone_mode=True)
    except AmrkitError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
