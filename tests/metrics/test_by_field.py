"""accuracy_by / ``amrkit evaluate --by FIELD --bins EDGES``: accuracy per recorded per-frame
draw, on hand-made values with known counts and on a tiny synthesized multipath file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.data.fields import read_frame_field
from amrkit.data.frames import array_frameset
from amrkit.data.open import open_frames
from amrkit.errors import AmrkitError
from amrkit.metrics.by_field import (
    MAX_DISTINCT,
    accuracy_by,
    bin_index,
    field_bins,
    parse_bin_edges,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")


# ---- the pure function --------------------------------------------------------------------
def test_hand_made_bins_have_the_known_counts_and_accuracies():
    values = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, -1.0, 4.0, np.nan])
    label = np.zeros(10, np.int64)
    #                 [0,1)  [0,1)  [1,2)  [1,2)  [2,3]  [2,3]  [2,3]  out  out  out
    pred = np.array([0, 1, 0, 0, 1, 1, 0, 0, 0, 0])
    r = accuracy_by(values, label, pred, (0, 1, 2, 3), field="x")
    assert r["field"] == "x" and r["frames"] == 10 and r["outside"] == 3  # -1, 4, NaN
    assert [(b["lo"], b["hi"]) for b in r["bins"]] == [(0, 1), (1, 2), (2, 3)]
    assert [b["frames"] for b in r["bins"]] == [2, 2, 3]  # 3.0 is in the closed last bin
    assert [b["correct"] for b in r["bins"]] == [1, 2, 1]
    assert [b["accuracy_pct"] for b in r["bins"]] == pytest.approx([50.0, 100.0, 100 / 3])
    # control: an inner edge value goes up, and 3.0 falls outside when 3 is no longer last
    r2 = accuracy_by(values, label, pred, (0, 1.5, 3, 5))
    assert [b["frames"] for b in r2["bins"]] == [3, 3, 2] and r2["outside"] == 2


def test_empty_bin_has_no_accuracy():
    r = accuracy_by(np.array([0.5, 0.7]), np.array([1, 1]), np.array([1, 0]), (0, 1, 2))
    assert [b["frames"] for b in r["bins"]] == [2, 0]
    assert r["bins"][0]["accuracy_pct"] == 50.0 and r["bins"][1]["accuracy_pct"] is None


def test_distinct_values_without_edges():
    values = np.array([0.35, 0.25, 0.35, np.nan, 0.35], np.float32)
    label = np.array([0, 1, 2, 0, 1])
    pred = np.array([0, 1, 0, 0, 1])
    r = accuracy_by(values, label, pred, None, field="channel/rolloff")
    # rows are the stored values as written (float32 0.35 → 0.35, not 0.3499999940395355)
    assert [(b["lo"], b["hi"]) for b in r["bins"]] == [(0.25, 0.25), (0.35, 0.35)]
    assert [b["frames"] for b in r["bins"]] == [1, 3] and r["outside"] == 1
    assert [b["correct"] for b in r["bins"]] == [1, 2]
    ints = accuracy_by(np.array([3, -1, 3], np.int8), label[:3], pred[:3])
    assert [(b["lo"], b["frames"]) for b in ints["bins"]] == [(-1, 1), (3, 2)]


def test_too_many_distinct_values_asks_for_bins():
    values = np.linspace(0, 5, MAX_DISTINCT + 1)
    assert len(field_bins(values[:MAX_DISTINCT])) == MAX_DISTINCT  # at the limit: fine
    with pytest.raises(AmrkitError, match=r"21 distinct values.*--bins 0,1,2,3,4,5"):
        field_bins(values, None, "channel/delay_spread")


def test_float32_values_compare_in_their_own_dtype():
    # float32(0.7) < 0.7 in float64: compared in float64 it would fall below the edge 0.7
    v = np.array([0.7, 0.69], np.float32)
    assert bin_index(v, (0.0, 0.7, 1.0)).tolist() == [1, 0]


@pytest.mark.parametrize(
    "text", ["1,1", "2,1", "a,b", "5", "", "0,inf", "0,nan", "0,,1", "0;1", "0,1,0.5"]
)
def test_bad_edges_are_one_line_errors(text):
    with pytest.raises(AmrkitError, match=r"--bins .* is invalid.*e\.g\. 0,1,2,3,4,5") as info:
        parse_bin_edges(text)
    assert "\n" not in str(info.value)


def test_good_edges_parse():
    assert parse_bin_edges("0,1,2.5") == (0.0, 1.0, 2.5)
    assert parse_bin_edges(" -3, 0 ") == (-3.0, 0.0)


def test_mismatched_lengths_are_refused():
    with pytest.raises(AmrkitError, match="match one to one"):
        accuracy_by(np.zeros(3), np.zeros(2, int), np.zeros(3, int), (0, 1))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-10, 10), st.just(float("nan"))), max_size=40),
    st.lists(st.floats(-8, 8), min_size=2, max_size=6, unique=True),
)
def test_bins_and_outside_account_for_every_frame(values, edges):
    v = np.asarray(values, np.float64)
    e = sorted(edges)
    label = np.arange(len(v)) % 3
    pred = (np.arange(len(v)) // 2) % 3
    r = accuracy_by(v, label, pred, e)
    assert sum(b["frames"] for b in r["bins"]) + r["outside"] == len(v)
    inside = ~np.isnan(v) & (v >= e[0]) & (v <= e[-1])
    assert r["outside"] == int((~inside).sum())
    assert sum(b["correct"] for b in r["bins"]) == int((label == pred)[inside].sum())


# ---- the data layer -------------------------------------------------------------------------
def test_in_memory_and_other_formats_have_no_fields():
    fs = array_frameset(np.zeros((2, 2, 8)), np.array([0, 1]), ("A", "B"))
    with pytest.raises(AmrkitError, match="records no per-frame fields.*drop --by"):
        read_frame_field(fs, "channel/delay_spread")


# ---- the CLI on a tiny synthesized multipath file ------------------------------------------
@pytest.fixture(scope="module")
def multipath_h5(tmp_path_factory, helpers):
    """Four of the fixture model's classes, 64 samples, delay spread U[0, 4] samples."""
    from amrkit.channel.profiles import MultipathRanges
    from amrkit.data.synth import SynthConfig, synthesize

    cfg = SynthConfig(
        classes=helpers.classes,
        frames_per_class=12,
        snrs=(0.0, 10.0, 20.0),
        frame_length=helpers.length,
        seed=3,
        block_size=16,
        multipath=MultipathRanges(delay_spread_max=4.0, k_factor_min=0.0, k_factor_max=5.0),
    )
    path = tmp_path_factory.mktemp("by") / "multipath.h5"
    synthesize(cfg, path, workers=1)
    return path


def _one_line_error(code, err, *needles):
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_cli_by_section_counts_the_selected_frames(cli, run_dir, multipath_h5, helpers, tmp_path):
    with h5py.File(multipath_h5, "r") as f:
        spread = f["channel/delay_spread"][...]
        snr = f["snr_db"][...]
    selected = spread[snr >= 10]  # --split all --snr-min 10
    out = tmp_path / "report.json"
    args = ("--split", "all", "--snr-min", "10", "--by", "channel/delay_spread")
    code, text, err = cli(
        "evaluate", run_dir, multipath_h5, *args, "--bins", "0,1,2,3", "--json", "--out", out
    )
    assert code == 0, err
    data = helpers.strict_json(text)
    assert data == helpers.strict_json(out.read_text())
    by = data["by"]
    assert by["field"] == "channel/delay_spread" and by["frames"] == data["num_frames"] == 32
    expected_outside = int((selected > 3).sum())
    assert by["outside"] == expected_outside > 0  # delay spreads above 3 are left out
    assert sum(b["frames"] for b in by["bins"]) == data["num_frames"] - by["outside"]
    for b in by["bins"]:
        top = selected <= b["hi"] if b["hi"] == 3 else selected < b["hi"]
        assert b["frames"] == int(((selected >= b["lo"]) & top).sum())
        if b["frames"]:
            assert b["accuracy_pct"] == pytest.approx(100 * b["correct"] / b["frames"])
    # edges covering every value: the bins hold all frames and all the correct ones
    code, text, err = cli("evaluate", run_dir, multipath_h5, *args, "--bins", "0,1,2,3,4", "--json")
    assert code == 0, err
    full = helpers.strict_json(text)
    assert full["by"]["outside"] == 0
    assert sum(b["correct"] for b in full["by"]["bins"]) == full["correct"]


def test_cli_by_composes_with_split_and_distinct_values(cli, run_dir, multipath_h5, helpers):
    code, text, err = cli("evaluate", run_dir, multipath_h5, "--by", "snr_db", "--json")
    assert code == 0, err
    data = helpers.strict_json(text)
    with open_frames(multipath_h5) as frames:
        test_snr = frames.snr_db[frames.indices("test")]
    assert data["split"] == "test" and data["by"]["frames"] == data["num_frames"] == len(test_snr)
    rows = {b["lo"]: b["frames"] for b in data["by"]["bins"]}
    assert rows == {v: int((test_snr == v).sum()) for v in np.unique(test_snr).tolist()}
    assert data["by"]["outside"] == 0


def test_cli_human_table(cli, run_dir, multipath_h5):
    code, out, err = cli(
        "evaluate", run_dir, multipath_h5, "--split", "all",
        "--by", "channel/delay_spread", "--bins", "0,1,2,3",
    )  # fmt: skip
    assert code == 0, err
    assert "accuracy by channel/delay_spread" in out
    assert "[0, 1)" in out and "[2, 3]" in out and "outside the bins" in out


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--by", "channel/nope"], ["no such field", "channel/delay_spread", "--by"]),
        (["--by", "channel/taps"], ["not one number per frame", "channel/delay_spread"]),
        (["--by", "channel"], ["--by 'channel'", "group"]),
        (["--by", "channel/delay_spread"], ["distinct values", "--bins"]),
        (["--by", "channel/delay_spread", "--bins", "2,1"], ["--bins '2,1' is invalid"]),
        (["--by", "channel/delay_spread", "--bins", "0,x"], ["--bins '0,x' is invalid"]),
        (["--bins", "0,1"], ["--bins needs --by"]),
    ],
)
def test_cli_bad_input_is_one_line(cli, run_dir, multipath_h5, tmp_path, extra, needles):
    out = tmp_path / "report.json"
    code, _, err = cli("evaluate", run_dir, multipath_h5, "--split", "all", *extra, "--out", out)
    _one_line_error(code, err, *needles)
    assert not out.exists()


def test_cli_file_without_fields_is_one_line(cli, run_dir, helpers, tmp_path):
    iq, label, snr, _ = helpers.make_frames(24, helpers.length, np.random.default_rng(0))
    path = tmp_path / "frames.npz"
    np.savez(path, iq=iq, label=label, snr_db=snr, classes=np.array(helpers.classes))
    code, _, err = cli("evaluate", run_dir, path, "--split", "all", "--by", "channel/delay_spread")
    _one_line_error(code, err, "npz", "records no per-frame fields")
