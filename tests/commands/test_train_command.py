"""amrkit/commands/train.py: the options reach the config and the helpers by name."""

from __future__ import annotations

import dataclasses
import inspect

from amrkit.commands import train as cmd
from amrkit.train.config import TrainConfig


def test_config_options_are_train_parameters_and_config_fields():
    params = set(inspect.signature(cmd.train).parameters)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(cmd.CONFIG_OPTIONS) <= params
    assert set(cmd.CONFIG_OPTIONS) <= fields
    # every option named like a config field overrides it (recipe goes to make_config apart)
    assert (params & fields) - set(cmd.CONFIG_OPTIONS) == {"recipe"}


def test_helpers_take_only_train_options():
    params = set(inspect.signature(cmd.train).parameters)
    for helper in (cmd._synth_data, cmd._train_model):
        named = {
            p.name
            for p in inspect.signature(helper).parameters.values()
            if p.kind is p.KEYWORD_ONLY
        }
        assert named and named <= params, (helper.__name__, named - params)
