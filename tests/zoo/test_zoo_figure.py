"""The zoo's figure (docs/zoo/pareto.png): drawn from the cards, deterministic, carrying its
data; the shipped file is the drawing of the shipped cards. And ``origin``: how an entry was
made, as its card says."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from amrkit import pretrained
from amrkit.errors import AmrkitError
from amrkit.zoo.cards import origin, render_index
from amrkit.zoo.check import load_card
from amrkit.zoo.figure import (
    BUDGETS,
    FIGURE_FILE,
    ModelFigure,
    ModelPoint,
    card_points,
    figure_data,
    paper_points,
    plot_models,
    write_zoo_figure,
    zoo_figure,
)

SHIPPED_ZOO = Path(pretrained.__file__).resolve().parent
DOCS = Path(__file__).resolve().parents[2] / "docs" / "zoo"


def test_shipped_figure_is_the_drawing_of_the_shipped_cards():
    cards = [load_card(n, SHIPPED_ZOO) for n in pretrained.names(SHIPPED_ZOO)]
    assert figure_data(DOCS / FIGURE_FILE) == zoo_figure(cards).to_dict(), (
        "docs/zoo/pareto.png is stale: run 'amrkit zoo docs'"
    )
    readme = render_index(cards)
    assert f"]({FIGURE_FILE})" in readme and "![" in readme  # the zoo's page shows it


def test_figure_holds_every_card_and_the_paper(tiny_zoo, tmp_path):
    card = load_card("tiny", tiny_zoo)
    beyond = {**copy.deepcopy(card), "name": "tinyb", "report_group": "beyond"}
    png = write_zoo_figure(tmp_path, [card, beyond])
    data = figure_data(png)
    points = {p["label"]: p for p in data["points"]}
    test, net = card["evaluation"]["test"], card["model"]
    assert points["zoo:tiny"] == {
        "label": "zoo:tiny", "group": "zoo", "macs": net["macs"],
        "int8_bytes": net["int8_bytes"], "fp32_pct": test["fp32"]["accuracy_pct"],
        "int8_pct": test["int8"]["accuracy_pct"],
    }  # fmt: skip
    assert points["zoo:tinyb"]["group"] == "zoo-beyond"
    packed = copy.deepcopy(card)  # a QAT card with 4-bit layers: the bytes the device stores
    packed["quantization"] = {**packed.get("quantization", {}), "packed_parameter_bytes": 123}
    assert card_points([packed])[0].int8_bytes == 123
    paper = {p.label: p for p in paper_points()}
    assert set(paper) == {"original (paper)", "optimized (paper)"}  # INT8 joined to its net
    assert paper["optimized (paper)"].int8_pct == 97.05
    assert paper["optimized (paper)"].int8_bytes == round(0.05206704 * 2**20)
    assert paper["original (paper)"].int8_bytes is None  # the paper has no INT8 original
    assert set(paper) < set(points)
    assert [tuple(b) for b in data["budgets"]] == [tuple(b) for b in BUDGETS]
    assert [b[0] for b in BUDGETS] == [623_000, 2_491_798]


def test_figure_is_deterministic_and_follows_its_data(tiny_zoo, tmp_path):
    cards = [load_card("tiny", tiny_zoo)]
    a = write_zoo_figure(tmp_path / "a", cards).read_bytes()
    b = write_zoo_figure(tmp_path / "b", cards).read_bytes()
    assert a == b  # no date, no version: the same cards give the same bytes
    assert b"Software" not in a and b"matplotlib" not in a.lower()
    # control: a card whose accuracy changed gives another figure, and its data says so
    moved = copy.deepcopy(cards[0])
    moved["evaluation"]["test"]["int8"]["accuracy_pct"] += 1.0
    c = write_zoo_figure(tmp_path / "c", [moved])
    assert c.read_bytes() != a
    assert figure_data(c) != figure_data(tmp_path / "a" / FIGURE_FILE)
    assert figure_data(c) == zoo_figure([moved]).to_dict()


def test_figure_round_trips_and_rejects_bad_points(tmp_path):
    fig = ModelFigure("t", (ModelPoint("m", "run", 1000, 500, 90.0, 89.5),))
    assert ModelFigure.from_dict(fig.to_dict()) == fig
    with pytest.raises(AmrkitError, match="group 'nope' is not one of"):
        ModelPoint("m", "nope", 1000)
    with pytest.raises(AmrkitError, match="MACs 0 must be > 0"):
        ModelPoint("m", "run", 0)
    with pytest.raises(AmrkitError, match="must end in .png"):
        plot_models(fig, tmp_path / "x.svg")
    assert not (tmp_path / "x.svg").exists()
    # a point without INT8 numbers is drawn in the MACs panel only (no crash, no bytes)
    half = dataclasses.replace(fig, points=(ModelPoint("f", "paper", 2000, None, 91.0),))
    assert figure_data(plot_models(half, tmp_path / "h.png"))["points"][0]["int8_bytes"] is None


def test_card_points_follow_the_report_group(tiny_zoo):
    card = load_card("tiny", tiny_zoo)
    groups = [
        p.group
        for p in card_points([{**card, "report_group": g} for g in (None, "paper", "beyond")])
    ]
    assert groups == ["zoo", "zoo-paper", "zoo-beyond"]


def test_origin_is_what_the_card_says(tiny_zoo):
    card = load_card("tiny", tiny_zoo)
    assert origin(card) == {"kinds": ["training"], "text": "trained from scratch"}
    searched = {**card, "extra_sections": [{"title": "Search settings", "text": "40 trials"},
                                           {"title": "Pareto rank"}]}  # fmt: skip
    got = origin(searched)
    assert got["kinds"] == ["search"]
    assert got["text"] == "architecture search (card: Search settings, Pareto rank)"
    pruned = origin(card, {"pruned_from": {"run": "/home/x/runs/opt-full"}})
    assert pruned == {"kinds": ["prune"], "text": "pruning of `opt-full`"}
    distilled = copy.deepcopy(card)
    distilled["training"]["teacher"] = {"path": "zoo:optimized", "spec": {}}
    assert origin(distilled)["text"] == "distillation from `zoo:optimized`"
    both = origin(distilled, {"pruned_from": {"run": "runs/opt"}})
    assert both["kinds"] == ["prune", "distillation"]
    tuned = copy.deepcopy(card)
    tuned["training"]["init_from"] = {"path": "/a/b/runs/base"}
    assert origin(tuned)["kinds"] == ["fine-tuning"] and "`base`" in origin(tuned)["text"]
    by_command = {**card, "commands": {**card["commands"], "source": ["amrkit search d.h5"]}}
    assert origin(by_command)["kinds"] == ["search"]
    qat = copy.deepcopy(card)  # an --int8 entry: QAT with 4-bit layers
    qat["quantization"] = {**qat.get("quantization", {}), "mode": "qat",
                           "four_bit_layers": ["conv2"]}  # fmt: skip
    assert origin(qat) == {"kinds": ["training", "qat"], "text": "trained from scratch + "
                           "quantization-aware training (conv2 at 4 bits, packed)"}  # fmt: skip


def test_figure_leaves_out_cards_tested_on_other_frames(tiny_zoo):
    """A card whose test sets come from another preset (``wide``) is not drawn beside the
    paper's models; the same card on the reference preset (control) is."""
    card = load_card("tiny", tiny_zoo)
    wide = copy.deepcopy(card)
    wide["name"] = "tinyw"
    wide["commands"]["configs"]["data"]["preset"] = "wide"
    labels = {p.label for p in zoo_figure([card, wide]).points}
    assert "zoo:tiny" in labels and "zoo:tinyw" not in labels
    assert card["commands"]["configs"]["data"]["preset"] == "matlab"
