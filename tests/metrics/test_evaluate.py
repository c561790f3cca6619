"""evaluate_predictor / ``amrkit evaluate``: the same numbers for a run directory and its
ONNX exports, computed independently of the plumbing, and clear errors for mismatches."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import torch

from amrkit.artifacts import load_run
from amrkit.data.frames import array_frameset
from amrkit.data.open import open_frames
from amrkit.errors import AmrkitError
from amrkit.infer import load_predictor
from amrkit.metrics.evaluate import evaluate_path, evaluate_predictor

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")


def direct(run_dir, dataset, split):
    """Accuracy per SNR computed straight from the model and the arrays (no amrkit.metrics)."""
    run = load_run(run_dir)
    with open_frames(dataset) as frames:
        idx = frames.indices(split)
        x = torch.from_numpy(frames.read(idx))
        label = frames.label[idx]
        snr = frames.snr_db[idx]
    with torch.no_grad():
        pred = run.model(x).argmax(1).numpy()
    return pred, label, snr


def test_matches_a_direct_computation(run_dir, dataset):
    pred, label, snr = direct(run_dir, dataset, "test")
    predictor = load_predictor(run_dir)
    with open_frames(dataset) as frames:
        r = evaluate_predictor(predictor, frames, "test", batch_size=7)
    assert r["num_frames"] == len(label) == 48
    assert r["accuracy"] == pytest.approx(np.mean(pred == label))
    assert r["accuracy"] > 0.6  # the fixture model has learned the tones: not a degenerate case
    for key, value in (("0", 0.0), ("10", 10.0), ("inf", np.inf)):
        m = snr == value
        assert r["per_snr"][key]["frames"] == m.sum()
        assert r["per_snr"][key]["accuracy"] == pytest.approx(np.mean(pred[m] == label[m]))
    expected = np.zeros((4, 4), int)
    np.add.at(expected, (label, pred), 1)
    assert r["confusion"] == expected.tolist()
    assert r["split"] == "test" and r["model"]["kind"] == "torch"
    assert r["loss"] > 0 and np.isfinite(r["loss"])


def test_batch_size_and_split_choice(run_dir, dataset):
    predictor = load_predictor(run_dir)
    with open_frames(dataset) as frames:
        a = evaluate_predictor(predictor, frames, "all", batch_size=1000)
        b = evaluate_predictor(predictor, frames, "all", batch_size=13)
        parts = [evaluate_predictor(predictor, frames, s) for s in ("train", "val", "test")]
    assert a["num_frames"] == 240
    assert a["confusion"] == b["confusion"] and a["loss"] == pytest.approx(b["loss"])
    assert sum(p["num_frames"] for p in parts) == 240
    assert (np.sum([p["confusion"] for p in parts], axis=0) == np.asarray(a["confusion"])).all()


def test_torch_and_onnx_give_the_same_predictions(run_dir, onnx_fp32, onnx_int8, dataset):
    with open_frames(dataset) as frames:
        iq = frames.read(frames.indices("all"))
        reports = {
            name: evaluate_predictor(load_predictor(path), frames, "all", batch_size=50)
            for name, path in (("torch", run_dir), ("fp32", onnx_fp32), ("int8", onnx_int8))
        }
    torch_p, fp32_p, int8_p = (load_predictor(p) for p in (run_dir, onnx_fp32, onnx_int8))
    assert (fp32_p.kind, int8_p.kind) == ("onnx-fp32", "onnx-int8")
    lt, l32, l8 = torch_p.logits(iq), fp32_p.logits(iq), int8_p.logits(iq)
    np.testing.assert_allclose(l32, lt, rtol=1e-4, atol=1e-4)
    assert (l32.argmax(1) == lt.argmax(1)).all()
    assert reports["fp32"]["confusion"] == reports["torch"]["confusion"]
    assert reports["fp32"]["per_snr"] == reports["torch"]["per_snr"]
    # INT8 is a different function, but close to FP32 on this easy data
    assert np.mean(l8.argmax(1) == lt.argmax(1)) >= 0.9
    assert abs(reports["int8"]["accuracy"] - reports["torch"]["accuracy"]) <= 0.1


def test_mismatched_classes_and_frame_length(run_dir, helpers, tmp_path):
    predictor = load_predictor(run_dir)
    rng = np.random.default_rng(0)
    iq, label, snr, split = helpers.make_frames(20, helpers.length, rng)
    swapped = tuple(reversed(helpers.classes))
    frames = array_frameset(iq, label, swapped, snr, split)
    with pytest.raises(AmrkitError, match="--classes BPSK,QPSK,8PSK,16QAM"):
        evaluate_predictor(predictor, frames)
    other = array_frameset(iq, label, ("A", "B", "C", "D"), snr, split)
    with pytest.raises(AmrkitError, match="the data lacks BPSK, QPSK, 8PSK, 16QAM"):
        evaluate_predictor(predictor, other)
    iq2, label2, snr2, split2 = helpers.make_frames(20, 128, rng)
    longer = array_frameset(iq2, label2, helpers.classes, snr2, split2)
    with pytest.raises(AmrkitError, match="frame length 64 differs from the data's 128"):
        evaluate_predictor(predictor, longer)
    no_split = array_frameset(iq, label, helpers.classes, snr, None)
    with pytest.raises(AmrkitError, match="no train/val/test split"):
        evaluate_predictor(predictor, no_split, "test")
    assert evaluate_predictor(predictor, no_split, "all")["num_frames"] == 20
    with pytest.raises(AmrkitError, match="not one of train, val, test, all"):
        evaluate_predictor(predictor, no_split, "testing")


def test_evaluate_path_passes_filters(run_dir, dataset):
    r = evaluate_path(run_dir, dataset, split="all", snr_min=5)
    assert set(r["per_snr"]) == {"10", "inf"}
    assert r["num_frames"] == 160
    assert r["data"]["path"] == str(dataset) and r["model"]["path"] == str(run_dir)


# ---- CLI -------------------------------------------------------------------------------
def test_cli_json_is_strict_and_matches_the_api(cli, run_dir, dataset, helpers, tmp_path):
    out_file = tmp_path / "reports" / "eval.json"
    code, out, err = cli(
        "evaluate", run_dir, dataset, "--json", "--batch-size", "9", "--out", out_file
    )
    assert code == 0, err
    data = helpers.strict_json(out)
    api = evaluate_path(run_dir, dataset)
    for key in (
        "num_frames",
        "accuracy",
        "confusion",
        "per_snr",
        "per_class",
        "most_confused",
        "split",
    ):
        assert data[key] == api[key], key
    assert data["split"] == "test"  # the default
    assert set(data["per_snr"]) == {"0", "10", "inf"}
    assert helpers.strict_json(out_file.read_text()) == data


def test_cli_options_pass_through(cli, run_dir, dataset, helpers):
    code, out, err = cli(
        "evaluate",
        run_dir,
        dataset,
        "--json",
        "--split",
        "all",
        "--snr-max",
        "5",
        "--threads",
        "1",
        "--device",
        "cpu",
    )
    assert code == 0, err
    data = helpers.strict_json(out)
    assert list(data["per_snr"]) == ["0"] and data["num_frames"] == 80


def test_cli_human_output(cli, run_dir, dataset):
    code, out, err = cli("evaluate", run_dir, dataset)
    assert code == 0, err
    assert "top-1" in out and "accuracy per SNR" in out and "accuracy per class" in out
    for name in ("BPSK", "QPSK", "8PSK", "16QAM"):
        assert name in out


def test_cli_int8_onnx(cli, onnx_int8, dataset, helpers):
    code, out, err = cli("evaluate", onnx_int8, dataset, "--json", "--split", "all")
    assert code == 0, err
    data = helpers.strict_json(out)
    assert data["model"]["kind"] == "onnx-int8" and data["num_frames"] == 240


def test_cli_plots(cli, run_dir, dataset, tmp_path):
    import matplotlib.image as mpimg

    folder = tmp_path / "figs"
    code, out, err = cli("evaluate", run_dir, dataset, "--plot", folder, "--split", "all")
    assert code == 0, err
    for name in ("accuracy_vs_snr.png", "confusion.png"):
        path = folder / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = mpimg.imread(path)
        assert img.shape[0] > 300 and img.shape[1] > 400
        assert img[..., :3].std() > 0.05  # not a blank canvas
        assert str(path) in out
    assert sorted(p.name for p in folder.iterdir()) == ["accuracy_vs_snr.png", "confusion.png"]


def test_cli_mismatch_errors_exit_1_and_leave_nothing(cli, run_dir, tmp_path, helpers):
    data = helpers.write_dataset(tmp_path / "long.h5", 40, 128, seed=1)
    out_file = tmp_path / "never.json"
    code, out, err = cli("evaluate", run_dir, data, "--out", out_file, "--plot", tmp_path / "p")
    assert code == 1 and out == ""
    assert err.startswith("error: model frame length 64 differs") and err.count("\n") == 1
    assert not out_file.exists() and not (tmp_path / "p").exists()

    swapped = helpers.write_dataset(
        tmp_path / "swapped.h5",
        40,
        helpers.length,
        seed=1,
        classes=tuple(reversed(helpers.classes)),
    )
    code, _, err = cli("evaluate", run_dir, swapped)
    assert code == 1 and "--classes BPSK,QPSK,8PSK,16QAM" in err and err.count("\n") == 1
    # ...and following that advice works
    code, _, err = cli("evaluate", run_dir, swapped, "--classes", "BPSK,QPSK,8PSK,16QAM")
    assert code == 0, err

    code, _, err = cli("evaluate", run_dir, swapped, "--split", "nope")
    assert code == 1 and "not one of train, val, test, all" in err
    code, _, err = cli("evaluate", tmp_path / "missing", swapped)
    assert code == 1 and "neither a run directory nor an existing .onnx file" in err
    code, _, err = cli("evaluate", run_dir, tmp_path / "missing.h5")
    assert code == 1 and "does not exist" in err
    code, _, err = cli("evaluate", run_dir, swapped, "--device", "tpu")
    assert code == 1 and "--device 'tpu'" in err


def test_cli_unwritable_out_or_plot_fail_before_evaluating(cli, run_dir, dataset, tmp_path,
                                                           monkeypatch):  # fmt: skip
    """--out and --plot are checked up front: no evaluation runs, no figure is left behind."""
    import amrkit.metrics.evaluate as ev

    calls = []
    real = ev.evaluate_path
    monkeypatch.setattr(ev, "evaluate_path", lambda *a, **k: calls.append(1) or real(*a, **k))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    plots, report = tmp_path / "plots", tmp_path / "new" / "report.json"
    code, out, err = cli("evaluate", run_dir, dataset, "--out", blocker / "r.json", "--plot", plots)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("error: --out:") and "a-file" in err
    assert calls == [] and not plots.exists()
    code, out, err = cli("evaluate", run_dir, dataset, "--out", report, "--plot", blocker / "p")
    assert code == 1 and err.startswith("error: --plot:") and err.count("\n") == 1
    assert calls == [] and not report.exists() and not report.parent.exists()
    code, out, err = cli("evaluate", run_dir, dataset, "--out", report, "--plot", plots)
    assert code == 0, err
    assert calls == [1] and report.is_file() and len(list(plots.glob("*.png"))) == 2


def test_real_entry_point_subprocess(run_dir, tmp_path, helpers):
    """``python -m amrkit`` prints one ``error:`` line and exits 1 on mismatched data."""
    data = helpers.write_dataset(
        tmp_path / "three.h5", 30, helpers.length, seed=2, classes=("BPSK", "QPSK", "8PSK")
    )
    proc = subprocess.run(
        [helpers.python, "-m", "amrkit", "evaluate", str(run_dir), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: model classes") and proc.stderr.count("\n") == 1
    assert "the data lacks 16QAM" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_snr_bands_sum_to_the_per_snr_counts(cli, run_dir, dataset, helpers):
    code, out, err = cli(
        "evaluate", run_dir, dataset, "--json", "--split", "all", "--snr-bands", "5"
    )
    assert code == 0, err
    data = helpers.strict_json(out)
    bands = data["snr_bands"]
    assert [b["band"] for b in bands] == ["< 5 dB", ">= 5 dB"]
    below = sum(e["frames"] for k, e in data["per_snr"].items() if float(k) < 5)
    assert bands[0]["frames"] == below and below > 0
    assert sum(b["frames"] for b in bands) == data["num_frames"]
    assert sum(b["correct"] for b in bands) == data["correct"]
    code, out, err = cli("evaluate", run_dir, dataset, "--snr-bands", "5")
    assert code == 0 and "accuracy per SNR band" in out and ">= 5 dB" in out
    code, out, err = cli("evaluate", run_dir, dataset, "--snr-bands", "10,5")
    assert code == 1 and "--snr-bands '10,5'" in err
