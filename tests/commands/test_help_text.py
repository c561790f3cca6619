"""Every option's help text reaches --help as written: Rich reads "[sgd]" as a markup tag and
drops it, so bracketed defaults in help strings are escaped ("\\[sgd]")."""

import typer.main
from rich.text import Text
from typer.testing import CliRunner

from amrkit.cli import app


def _params(cmd, path=()):
    for p in cmd.params:
        yield " ".join(path), p
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _params(sub, (*path, name))


def _shown(text: str) -> str:
    return Text.from_markup(text).plain  # what Rich prints of a help string


def test_markup_control():
    assert _shown("sgd or adamw [sgd].") == "sgd or adamw ."  # the loss this file guards against
    assert _shown("sgd or adamw \\[sgd].") == "sgd or adamw [sgd]."


def test_every_help_text_survives_markup():
    lost = [
        f"{cmd} {p.name}: {p.help!r}"
        for cmd, p in _params(typer.main.get_command(app))
        if getattr(p, "help", None) and _shown(p.help) != p.help.replace("\\[", "[")
    ]
    assert not lost, lost


def test_train_help_shows_bracketed_defaults():
    out = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "300"}).output
    for default in ("[sgd]", "[glorot]", "[reference]", "[auto]"):
        assert default in out, default
