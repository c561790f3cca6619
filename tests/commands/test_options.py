"""The shared CLI options: every dataset-reading command exposes them, with one help text."""

import importlib
import inspect
import typing

import pytest
from typer.testing import CliRunner

from amrkit.cli import app
from amrkit.commands import options
from amrkit.data.open import FORMATS, open_frames

# parameter name -> shared alias, as every dataset-reading command declares it
DATA_OPTIONS = {
    "format": options.FormatOpt,
    "classes": options.ClassesOpt,
    "classes_file": options.ClassesFileOpt,
    "snr_min": options.SnrMinOpt,
    "snr_max": options.SnrMaxOpt,
}
DATA_COMMANDS = [
    ("data", "info"),
    ("train", "train"),
    ("evaluate", "evaluate"),
    ("quant", "export"),
    ("quant", "quantize"),
    ("simulate", "simulate"),
]


def test_format_help_lists_every_format():
    assert tuple(options.FORMATS_HELP.split(", ")) == FORMATS


def test_open_options_are_open_frames_keywords():
    kwargs = options.open_options("npz", "A,B", "names.json", -5.0, 10.0)
    assert set(kwargs) <= set(inspect.signature(open_frames).parameters)
    assert kwargs == {
        "format": "npz",
        "classes": "A,B",
        "classes_file": "names.json",
        "snr_min": -5.0,
        "snr_max": 10.0,
    }


@pytest.mark.parametrize(("group", "command"), DATA_COMMANDS)
def test_data_commands_use_the_shared_options(group, command):
    fn = importlib.import_module(f"amrkit.commands.{group}").COMMANDS[command]
    hints = typing.get_type_hints(fn, include_extras=True)  # resolves the string annotations
    defaults = inspect.signature(fn).parameters
    for name, alias in DATA_OPTIONS.items():
        assert hints[name] == alias, f"{command}: {name} is not the shared option"
        assert defaults[name].default is None


@pytest.mark.parametrize("command", [c for _, c in DATA_COMMANDS])
def test_help_shows_the_dataset_options(command):
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for flag in ("--format", "--classes", "--classes-file", "--snr-min", "--snr-max"):
        assert flag in result.output
    assert "radioml2018" in result.output  # the shared --format help text


MODEL_COMMANDS = [("evaluate", "evaluate"), ("quant", "quantize"), ("simulate", "simulate")]


@pytest.mark.parametrize(("group", "command"), MODEL_COMMANDS)
def test_model_commands_take_the_shared_split_seed(group, command):
    fn = importlib.import_module(f"amrkit.commands.{group}").COMMANDS[command]
    hints = typing.get_type_hints(fn, include_extras=True)
    assert hints["split_seed"] == options.SplitSeedOpt
    assert inspect.signature(fn).parameters["split_seed"].default is None
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert "--split-seed" in result.output and "recorded with the model" in result.output
