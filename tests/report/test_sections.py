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
