"""'Beyond the paper' without a pipeline: the search's prose follows its config, the
comparisons follow the numbers, and proxy-only accuracy is never passed off as a test."""

from __future__ import annotations

from amrkit.report import prose, sections
from amrkit.report.beyond import _compare
from amrkit.report.config import default_config
from amrkit.search.config import SearchConfig


def test_search_prose_follows_the_config() -> None:
    quick = default_config().search_config().to_dict()
    text = prose.search(quick)
    assert f"{quick['trials']} proxy trials" in text and "at ≤ 2,491,798 MACs" in text
    more = default_config(search_trials=12, search_proxy_epochs=3).search_config().to_dict()
    other = prose.search(more)
    assert other != text and "12 proxy trials, each trained 3 epochs" in other
    assert "12 proxy trials" not in text  # control
    longer = default_config(search_final_epochs=6).search_config().to_dict()
    assert "6 epochs" in prose.search(longer) and "6 epochs" not in text
    label = prose.search_label(more, 11)
    assert label.startswith("quick: 12 trials of 3 epochs on 1,100 frames")
    assert prose.search_label(quick, 11) != label


def test_full_search_uses_the_search_commands_own_settings() -> None:
    full, default = default_config(full=True).search_config(), SearchConfig()
    assert full.trials >= 40
    for name in ("proxy_train_per_class", "proxy_val_per_class", "proxy_epochs"):
        assert getattr(full, name) == getattr(default, name), name
    for name in ("proxy_lr_drop_epoch", "final_epochs", "final_lr_drop_epoch", "max_final"):
        assert getattr(full, name) == getattr(default, name), name
    assert default_config().search_config().trials < full.trials


def _p(spec: str, macs: int, nbytes: int, int8: float | None, proxy: float) -> dict:
    return {
        "spec": spec,
        "macs": macs,
        "int8_bytes": nbytes,
        "int8_kb": nbytes / 1000,
        "int8_test_accuracy_pct": int8,
        "proxy_accuracy_pct": proxy,
    }


REF = {"accuracy_pct": 90.0, "macs": 2_000_000, "int8_bytes": 50_000}
SHOWN = {"row": "Optimized + INT8", "test_frames": 200, "frame_pt": 0.5}


def test_comparison_picks_from_the_numbers() -> None:
    points = [
        _p("small", 300_000, 5_000, 89.5, 60.0),
        _p("mid", 1_000_000, 20_000, 91.0, 70.0),
        _p("big", 3_000_000, 80_000, 95.0, 80.0),  # beyond the paper's MACs: not "best within"
    ]
    c = _compare(points, REF, 2_491_798)
    assert c["best_within_budget"]["spec"] == "mid"
    assert c["best_within_budget"]["vs_reference_pt"] == 1.0
    assert c["smallest_within_1pt"]["spec"] == "small"
    assert c["smallest_within_1pt"]["macs_share_pct"] == 15.0
    assert c["most_accurate"]["spec"] == "big"
    # control: nothing within 1 pt
    low = [_p("a", 300_000, 5_000, 80.0, 60.0)]
    assert _compare(low, REF, 2_491_798)["smallest_within_1pt"] is None


def test_proxy_only_accuracy_is_labelled_as_such() -> None:
    points = [_p("untested", 500_000, 8_000, None, 93.0)]
    c = _compare(points, REF, 2_491_798)
    assert c["best_within_budget"]["basis"] == "proxy"
    b = {
        "paper_optimized_macs": 2_491_798,
        "within_pt": 1.0,
        "reference": {**REF, **SHOWN},
        "config": SearchConfig().to_dict(),
        **c,
    }
    results = {"protocols": [{"train_config": {"epochs": 12, "batch_size": 64, "augment": "none"}}]}
    text = " ".join(sections._beyond_comparison(b, results))
    assert "proxy validation accuracy only" in text and "INT8 test accuracy" not in text
    assert "the same 200 test frames (one frame is 0.50 pt)" in text
    c2 = _compare([_p("tested", 500_000, 8_000, 91.0, 93.0)], REF, 2_491_798)
    text2 = " ".join(sections._beyond_comparison({**b, **c2}, results))
    assert "INT8 test accuracy" in text2 and "proxy validation" not in text2  # control
