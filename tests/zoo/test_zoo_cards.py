"""Honest numbers: every zoo entry — each one shipped with amrkit, and a tiny one built here
so the mechanism is exercised before any ships — is re-measured on a fresh independent test
set and must agree with its card within 4 standard errors; its INT8 file must be bit-exact
with the golden model; a tampered copy is refused. Shipped entries are picked up by
themselves (``amrkit/pretrained/index.json``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from amrkit import pretrained
from amrkit.errors import AmrkitError
from amrkit.zoo.cards import headline, render_index, render_markdown
from amrkit.zoo.check import compare_to_card, fresh_seed, load_card, remeasure, used_seeds

SHIPPED_ZOO = Path(pretrained.__file__).resolve().parent
SHIPPED = pretrained.names(SHIPPED_ZOO)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "zoo"
MAX_ZOO_BYTES = 5 * 10**6  # issue 25: the whole zoo stays <= 5 MB in the repository
# a fresh test set: 200 frames per class for a shipped entry (11 classes: 2,200 frames), 50 for
# the tiny one; the margin is 4 standard errors of the difference, so it scales with the size
CASES = [pytest.param("shipped", n, 200, id=f"shipped-{n}") for n in SHIPPED]
CASES.append(pytest.param("tiny", "tiny", 50, id="tiny-built-here"))


def _zoo(kind: str, request: pytest.FixtureRequest) -> Path:
    return SHIPPED_ZOO if kind == "shipped" else request.getfixturevalue("tiny_zoo")


@pytest.mark.parametrize(("kind", "name", "per_class"), CASES)
def test_card_matches_a_fresh_measurement(kind, name, per_class, request):
    zoo = _zoo(kind, request)
    card = load_card(name, zoo)
    got = remeasure(name, frames_per_class=per_class, golden_frames=64, threads=1, zoo_dir=zoo)
    assert got["seed"] not in used_seeds(card)  # frames neither the training nor the card saw
    assert got["fp32"]["frames"] == per_class * len(card["use"]["classes"])
    cmp = compare_to_card(card, got)
    for prec in ("fp32", "int8"):
        row = cmp[prec]
        assert row["within"], f"{name} {prec}: {row}"
        assert 0 < row["margin_pt"] < 50  # a margin that can fail
    assert got["golden"]["measured"] and got["golden"]["bit_exact"], got["golden"]
    assert cmp["ok"]


@pytest.mark.parametrize(("kind", "name", "per_class"), CASES)
def test_a_card_claiming_more_than_it_measures_fails(kind, name, per_class, request):
    """Control: the same comparison rejects a card whose accuracy was typed higher than the
    measurement (here: the margin plus 5 points)."""
    zoo = _zoo(kind, request)
    card = load_card(name, zoo)
    measured = copy.deepcopy(card["evaluation"]["test"])  # the card's own counts, re-used
    measured = {"fp32": measured["fp32"], "int8": measured["int8"], "golden": card["golden"]}
    assert compare_to_card(card, measured)["ok"] or not card["golden"].get("bit_exact")
    inflated = copy.deepcopy(card)
    test = inflated["evaluation"]["test"]
    margin = compare_to_card(card, measured)["int8"]["margin_pt"]
    test["int8"]["accuracy_pct"] = measured["int8"]["accuracy_pct"] + margin + 5
    result = compare_to_card(inflated, measured)
    assert not result["int8"]["within"] and not result["ok"]


@pytest.mark.parametrize(("kind", "name", "per_class"), CASES)
def test_a_tampered_copy_is_refused(kind, name, per_class, request, tmp_path, zoo_helpers,
                                    monkeypatch):  # fmt: skip
    from amrkit.artifacts import load_run, read_model_info

    copied = zoo_helpers.copy_zoo(_zoo(kind, request), tmp_path / "zoo", [name])
    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(copied))
    load_run(f"zoo:{name}")  # the intact copy loads
    read_model_info(f"zoo:{name}:int8")
    zoo_helpers.flip_byte(copied / name / "run" / "model.pt")
    with pytest.raises(AmrkitError) as exc:
        load_run(f"zoo:{name}")
    msg = str(exc.value)
    assert "\n" not in msg and "model.pt" in msg and "modified" in msg and "restore" in msg
    with pytest.raises(AmrkitError, match="model.pt.*modified"):  # any file spoils the entry
        read_model_info(f"zoo:{name}:int8")
    (copied / name / "card.json").unlink()
    zoo_helpers.flip_byte(copied / name / "run" / "model.pt")  # restored: now card.json is gone
    with pytest.raises(AmrkitError, match=r"card\.json' is missing"):
        load_run(f"zoo:{name}")


def test_fresh_seeds_avoid_every_seed_of_the_card(tiny_zoo):
    card = load_card("tiny", tiny_zoo)
    seeds = used_seeds(card)
    assert seeds == {3, 777, 778}
    assert fresh_seed(card) not in seeds and fresh_seed(card, start=777) == 779
    with pytest.raises(AmrkitError, match="used by the entry"):
        remeasure("tiny", seed=777, zoo_dir=tiny_zoo)


def test_the_card_records_its_files_and_the_index_its_headline(tiny_zoo):
    e = pretrained.verify("tiny", tiny_zoo)
    card = load_card("tiny", tiny_zoo)
    assert set(card["files"]) == set(e.files) - {"card.json"}
    for rel, meta in card["files"].items():
        assert pretrained.file_sha256(e.path / rel) == meta["sha256"]
    assert "run/checkpoint.pt" not in e.files  # weights and run.json ship, not the checkpoint
    assert e.record["metrics"] == headline(card)
    test = card["evaluation"]["test"]
    assert test["fp32"]["frames"] == 200 and test["seed"] == 777 and test["snr_db"] == 30.0
    assert 0 <= test["fp32"]["correct"] <= 200
    assert test["fp32"]["accuracy_pct"] == round(100 * test["fp32"]["correct"] / 200, 2)
    sweep = card["evaluation"]["sweep"]
    assert list(sweep["fp32"]["per_snr_pct"]) == ["-10", "10", "30"] and sweep["seed"] == 778
    assert card["model"]["macs"] > 0 and card["model"]["int8_bytes"] < card["model"]["fp32_bytes"]
    assert card["training"]["data"]["seed"] == 3 and card["training"]["data"]["preset"] == "matlab"
    assert card["mcu"] == {"measured": False, "reason": "skipped (--no-mcu)"}
    assert card["commands"]["source"] and card["commands"]["rebuild"][0].startswith(
        "amrkit zoo rebuild tiny"
    )


def test_shipped_zoo_is_small_consistent_and_documented():
    index = pretrained.read_index(SHIPPED_ZOO)
    total = 0
    for name in SHIPPED:
        e = pretrained.verify(name, SHIPPED_ZOO)
        on_disk = {p.relative_to(e.path).as_posix() for p in e.path.rglob("*") if p.is_file()}
        assert on_disk == set(e.files), f"{name}: files not in the index"
        total += sum(f["bytes"] for f in e.files.values())
        card = load_card(name, SHIPPED_ZOO)
        assert (DOCS / f"{name}.md").read_text() == render_markdown(card), (
            f"docs/zoo/{name}.md is stale: run 'amrkit zoo docs'"
        )
    folders = {p.name for p in SHIPPED_ZOO.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(index["entries"]), "entry folders without an index record"
    assert total <= MAX_ZOO_BYTES
    cards = [load_card(n, SHIPPED_ZOO) for n in SHIPPED]
    assert (DOCS / "README.md").read_text() == render_index(cards), "run 'amrkit zoo docs'"


def test_size_budget_counts_real_bytes(tiny_zoo):
    """Control for the budget above: the tiny entry's bytes are counted (not zero)."""
    e = pretrained.verify("tiny", tiny_zoo)
    size = sum(f["bytes"] for f in e.files.values())
    assert size == sum(p.stat().st_size for p in e.path.rglob("*") if p.is_file()) > 10_000
    assert json.loads((tiny_zoo / "index.json").read_text())["schema"] == pretrained.SCHEMA


def test_card_states_the_ranges_its_training_frames_were_drawn_from():
    """A card says what the model assumes: a domain-randomized training config's per-frame
    ranges replace the fixed samples per symbol; the reference config's card (control) keeps
    the fixed value and lists no ranges."""
    from amrkit.config import to_dict
    from amrkit.data.synth import preset_config

    card = load_card(SHIPPED[0], SHIPPED_ZOO)
    card["commands"]["configs"]["data"] = to_dict(preset_config("matlab"))
    line = render_markdown(card).splitlines()[6]
    assert "8 samples per symbol" in line and "drawn from" not in line
    card["commands"]["configs"]["data"] = to_dict(preset_config("wide"))
    line = render_markdown(card).splitlines()[6]
    assert "2–16 samples per symbol" in line and "8 samples per symbol" not in line
    assert "±6 kHz" in line and "delay spread up to 3 samples" in line, line
    assert "channel `" not in line  # the wide preset's own channel is not named
    off = {"delay_spread_max": 0.0, "k_factor_min": 0.0, "k_factor_max": 0.0}
    card["commands"]["configs"]["data"] = to_dict(
        preset_config("wide", channel="full", multipath=off)
    )
    line = render_markdown(card).splitlines()[6]  # wide ranges through the reference's channel
    assert "channel `full` (Rician paths at 0, 1.8, 3.4 samples, 0, -2, -10 dB, K 4" in line
    assert "2–16 samples per symbol" in line and "delay spread" not in line, line
