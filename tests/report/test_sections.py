"""Section text computed from the run's own numbers (no fixed claims about speed)."""

from __future__ import annotations

from amrkit.report import sections


def _results(crop: int, fps: dict[str, float | None]) -> dict:
    return {
        "protocols": [{"name": "recipe", "train_config": {"crop": crop}}],
        "runs": {"recipe": {m: {"training": {"train_frames_per_s": v}} for m, v in fps.items()}},
        "models": {m: {"display_name": m.title()} for m in fps},
    }


def test_budget_cost_sentence_comes_from_the_measured_training_speed():
    text = sections._cost(_results(512, {"original": 500.0, "optimized": 800.0}))
    assert "Original 2.00 ms" in text and "Optimized 1.25 ms" in text
    assert "512-sample windows" in text
    whole = sections._cost(_results(0, {"original": 250.0, "optimized": 800.0}))
    assert "Original 4.00 ms" in whole and "windows" not in whole  # control: no crop
    assert sections._cost(_results(0, {"original": None})) == ""  # nothing measured: no claim


def _no_search(shipped: dict | None) -> dict:
    beyond = {"ran": False, "search_trials": 0}
    return {"beyond": beyond if shipped is None else {**beyond, "shipped": shipped}}


def test_beyond_without_shipped_models_renders_as_before():
    """No ``beyond`` entry (or a results.json from before the zoo's section): the section is
    the search part alone, block for block."""
    from amrkit.report.document import to_markdown

    old = sections._search(_no_search(None))
    none = {"shown": False, "entries": [], "not_loaded": []}
    assert sections.beyond(_no_search(None)) == old
    assert sections.beyond(_no_search(none)) == old
    assert "###" not in to_markdown(old)
    # control: --full with a beyond entry in the zoo adds a sub-section naming it
    full = sections.beyond(_no_search({**none, "not_loaded": ["s623k", "pruned"]}))
    assert full[: len(old)] == old and len(full) == len(old) + 2
    text = to_markdown(full[len(old) :])
    assert "### Shipped models beyond the paper" in text
    assert "`zoo:s623k`, `zoo:pruned`" in text and "`--full` run" in text
