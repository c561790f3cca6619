"""accuracy_report: properties that must hold for any labels, predictions and SNRs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.errors import AmrkitError
from amrkit.fileio import dumps_json
from amrkit.metrics.accuracy import accuracy_report, snr_key, snr_value

SNR_LEVELS = [-20.0, -2.5, 0.0, 10.0, 30.0, math.inf, math.nan]


@st.composite
def cases(draw):
    c = draw(st.integers(1, 7))
    n = draw(st.integers(1, 120))
    label = draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n))
    pred = draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n))
    snr = draw(st.lists(st.sampled_from(SNR_LEVELS), min_size=n, max_size=n))
    classes = [f"C{i}" for i in range(c)]
    return np.array(label), np.array(pred), np.array(snr, dtype=np.float32), classes


@settings(max_examples=150, deadline=None)
@given(cases())
def test_report_properties(case):
    label, pred, snr, classes = case
    r = accuracy_report(label, pred, snr, classes)
    n, c = len(label), len(classes)
    conf = np.asarray(r["confusion"])
    assert conf.shape == (c, c)
    assert conf.sum() == n == r["num_frames"]
    assert np.trace(conf) == r["correct"] == int((label == pred).sum())
    assert r["accuracy"] == pytest.approx(np.trace(conf) / n)
    # rows are true classes, columns predictions
    for i in range(c):
        assert conf[i].sum() == r["per_class"][classes[i]]["frames"] == (label == i).sum()
        assert conf[:, i].sum() == (pred == i).sum()
    assert sum(e["correct"] for e in r["per_class"].values()) == r["correct"]
    # per-SNR accuracies, weighted by their frame counts, give the overall accuracy
    per = r["per_snr"]
    assert sum(e["frames"] for e in per.values()) == n
    assert sum(e["accuracy"] * e["frames"] for e in per.values()) / n == pytest.approx(
        r["accuracy"]
    )
    for key, e in per.items():
        v = snr_value(key)
        mask = np.isnan(snr) if math.isnan(v) else (snr == v)
        assert e["frames"] == mask.sum()
        assert e["correct"] == (label == pred)[mask].sum()
        # per-SNR per-class accuracy recombines to that SNR's accuracy
        weighted = sum(
            (acc or 0.0) * ((label == i) & mask).sum()
            for i, acc in enumerate(e["per_class"].values())
        )
        assert weighted == pytest.approx(e["correct"])
    finite_keys = [k for k in per if k not in ("unknown",)]
    assert [snr_value(k) for k in finite_keys] == sorted(snr_value(k) for k in finite_keys)
    # most confused: real off-diagonal cells, largest first
    counts = [e["count"] for e in r["most_confused"]]
    assert counts == sorted(counts, reverse=True)
    off = conf.copy()
    np.fill_diagonal(off, 0)
    assert len(counts) == min(5, int((off > 0).sum()))
    if counts:
        assert counts[0] == off.max()
    for e in r["most_confused"]:
        i, j = classes.index(e["true"]), classes.index(e["predicted"])
        assert i != j and conf[i, j] == e["count"]
        assert e["fraction_of_true"] == pytest.approx(e["count"] / conf[i].sum())
    # strict JSON with string SNR keys
    text = dumps_json(r)
    json.loads(text, parse_constant=lambda t: (_ for _ in ()).throw(ValueError(t)))


@settings(max_examples=50, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_order_of_frames_does_not_matter(case, rnd):
    label, pred, snr, classes = case
    order = list(range(len(label)))
    rnd.shuffle(order)
    a = accuracy_report(label, pred, snr, classes)
    b = accuracy_report(label[order], pred[order], snr[order], classes)
    assert a == b


def test_known_small_case():
    classes = ["A", "B", "C"]
    label = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 1, 1, 2, 0, 2])
    snr = np.array([0, 0, 30, 30, 30, np.inf, np.inf, np.nan], dtype=np.float32)
    r = accuracy_report(label, pred, snr, classes, top_confused=2)
    assert r["confusion"] == [[1, 2, 0], [0, 2, 0], [1, 0, 2]]
    assert r["accuracy"] == 5 / 8
    assert list(r["per_snr"]) == ["0", "30", "inf", "unknown"]
    assert r["per_snr"]["0"] == {
        "frames": 2,
        "correct": 1,
        "accuracy": 0.5,
        "per_class": {"A": 0.5, "B": None, "C": None},
    }
    assert r["per_snr"]["inf"]["accuracy"] == 0.5
    assert r["per_class"]["A"] == {"frames": 3, "correct": 1, "accuracy": 1 / 3, "precision": 0.5}
    assert r["per_class"]["B"]["precision"] == 0.5
    assert r["most_confused"] == [
        {"true": "A", "predicted": "B", "count": 2, "fraction_of_true": 2 / 3},
        {"true": "C", "predicted": "A", "count": 1, "fraction_of_true": 1 / 3},
    ]


def test_no_frames_gives_null_accuracy():
    r = accuracy_report(np.array([], int), np.array([], int), np.array([]), ["A", "B"])
    assert (r["num_frames"], r["correct"], r["accuracy"]) == (0, 0, None)
    assert r["per_snr"] == {} and r["most_confused"] == []
    assert r["confusion"] == [[0, 0], [0, 0]]
    assert r["per_class"]["A"]["accuracy"] is None


def test_class_without_frames_has_null_accuracy():
    r = accuracy_report([0, 0], [0, 1], None, ["A", "B", "C"])
    assert r["per_class"]["C"] == {"frames": 0, "correct": 0, "accuracy": None, "precision": None}
    assert list(r["per_snr"]) == ["unknown"]


@pytest.mark.parametrize(
    "value,key",
    [
        (30.0, "30"),
        (-2.5, "-2.5"),
        (0.1, "0.1"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "unknown"),
        (np.float32(18), "18"),
    ],
)
def test_snr_keys(value, key):
    assert snr_key(value) == key
    back = snr_value(key)
    assert (math.isnan(back) and math.isnan(value)) or back == pytest.approx(float(value))


@pytest.mark.parametrize(
    "label,pred,snr,match",
    [
        ([0, 1], [0], None, "2 labels"),
        ([0, 3], [0, 1], None, "outside 0..2"),
        ([0, 1], [0, -1], None, "outside 0..2"),
        ([0, 1], [0, 1], [1.0], "SNR values"),
        ([0.5, 1], [0, 1], None, "integer class indices"),
    ],
)
def test_bad_input(label, pred, snr, match):
    with pytest.raises(AmrkitError, match=match):
        accuracy_report(np.array(label), np.array(pred), snr, ["A", "B", "C"])


def test_snr_bands_split_frames_at_the_edges():
    from amrkit.metrics.accuracy import parse_snr_bands, snr_band_report

    snr = np.array([-5.0, 0.0, 5.0, 9.99, 10.0, 30.0, np.nan])
    label = np.array([0, 1, 1, 0, 2, 2, 1])
    pred = np.array([0, 0, 1, 0, 2, 1, 1])
    rows = snr_band_report(label, pred, snr, parse_snr_bands("0,10"))
    assert [r["band"] for r in rows] == ["< 0 dB", "0 to < 10 dB", ">= 10 dB"]
    assert [r["frames"] for r in rows] == [1, 3, 2]  # 0 dB opens its band; NaN is in none
    assert [r["correct"] for r in rows] == [1, 2, 1]
    assert rows[1]["accuracy"] == pytest.approx(2 / 3)
    empty = snr_band_report(label, pred, snr, (100.0,))[1]
    assert empty["frames"] == 0 and empty["accuracy"] is None


@pytest.mark.parametrize("text", ["", "10,0", "0,0", "a,b", "0,inf"])
def test_bad_snr_bands_are_one_line_errors(text):
    from amrkit.metrics.accuracy import parse_snr_bands

    with pytest.raises(AmrkitError) as err:
        parse_snr_bands(text)
    assert "--snr-bands" in str(err.value) and "0,10,20" in str(err.value)
    assert "\n" not in str(err.value)
