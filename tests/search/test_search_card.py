"""A finished search as a card section: non-dominated ranks and the section's facts."""

from __future__ import annotations

import json

import pytest

from amrkit.errors import AmrkitError
from amrkit.search.card import pareto_ranks, search_section


def test_pareto_ranks_peel_fronts():
    points = [[0, 5], [1, 1], [5, 0], [2, 2], [3, 3], [1, 1]]
    assert pareto_ranks(points) == [1, 1, 1, 2, 3, 1]  # equal points share a rank
    assert pareto_ranks([]) == []


def _doc(tmp_path):
    trials = [
        {"number": 0, "state": "complete", "spec": "8x4p,12x2", "accuracy": 0.81, "macs": 600,
         "int8_bytes": 100},
        {"number": 1, "state": "complete", "spec": "4x8p,6x8", "accuracy": 0.79, "macs": 620,
         "int8_bytes": 90},
        {"number": 2, "state": "complete", "spec": "6x2p,6x2", "accuracy": 0.70, "macs": 700,
         "int8_bytes": 120},
        {"number": 3, "state": "pruned", "spec": "4x2p,4x2", "accuracy": None, "macs": 100,
         "int8_bytes": 10},
    ]  # fmt: skip
    doc = {
        "config": {"start_from": ["optimized"], "proxy_train_per_class": 1000, "proxy_epochs": 4,
                   "max_macs": 623000, "objectives": ["accuracy", "macs", "int8_bytes"]},
        "data": {"path": "data/full.h5", "num_frames": 110000},
        "objectives": ["accuracy", "macs", "int8_bytes"],
        "trials": trials,
    }  # fmt: skip
    (tmp_path / "pareto.json").write_text(json.dumps(doc))
    return tmp_path


def test_search_section_names_trials_rank_and_settings(tmp_path):
    d = _doc(tmp_path)
    sec = search_section(d, "8x4p,12x2")
    assert "4 trials, 3 complete, 1 stopped early" in sec["text"]
    assert "trial 0, the search's start from 'optimized'" in sec["text"]
    assert "Pareto rank 1" in sec["text"] and "81.00 %" in sec["text"]
    assert ["max_macs", "623,000"] in sec["table"]["rows"]
    # control: a dominated trial gets rank 2 and no start origin
    other = search_section(d, "6x2p,6x2")["text"]
    assert "Pareto rank 2" in other and "start from" not in other


def test_search_section_refuses_unknown_models_and_unfinished_searches(tmp_path):
    d = _doc(tmp_path)
    with pytest.raises(AmrkitError, match="none of the 3 complete trials"):
        search_section(d, "16x4p,24x2")
    with pytest.raises(AmrkitError, match="finished 'amrkit search'"):
        search_section(tmp_path / "nothing", "8x4p,12x2")
