"""amrkit classify: recordings assembled from known frames are classified back.

A tiny AmrCNN is trained here (a few seconds) on four easily told apart classes, saved as a
run directory and exported to ONNX (FP32, fixed-batch FP32, INT8 QDQ).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import warnings

import numpy as np
import pytest
import torch

from amrkit.classify import classify_recording, write_annotations, write_predictions
from amrkit.data.recording import normalize_power, open_recording
from amrkit.errors import AmrkitError
from amrkit.infer import load_predictor

CLASSES = ("tone+", "tone-", "bpsk", "noise")
L = 64
RATE = 1e6
SPEC = "8x4p,16x4p,16x2"


def synth(c: int, n: int, r: float, rng: np.random.Generator, snr_db: float = 15.0) -> np.ndarray:
    """``n`` samples of class ``c`` recorded at ``r`` times the model's rate."""
    t = np.arange(n)
    phi = rng.uniform(0, 2 * np.pi)
    if c in (0, 1):
        f = (1 if c == 0 else -1) * rng.uniform(0.04, 0.12) / r  # cycles per sample
        z = np.exp(1j * (2 * np.pi * f * t + phi))
    elif c == 2:
        sps = 8 * r
        symbols = rng.choice([-1.0, 1.0], int(np.ceil(n / sps)) + 1)
        z = symbols[(t // sps).astype(int)] * np.exp(1j * phi)
    else:
        z = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    s = 10 ** (-snr_db / 20)
    noise = s * (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    return (z + noise).astype(np.complex64)


def make_recording(r: float, labels: list[int], frames_per_segment: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    seg = int(round(frames_per_segment * L * r))
    return np.concatenate([synth(c, seg, r, rng) for c in labels])


def encode(z: np.ndarray, datatype: str) -> bytes:
    inter = np.stack([z.real, z.imag], axis=1).astype(np.float64) * 0.25  # (n, 2), headroom
    if datatype.startswith("cf32"):
        return inter.astype("<f4" if datatype.endswith("le") else ">f4").tobytes()
    if datatype.startswith("ci16"):
        dt = "<i2" if datatype.endswith("le") else ">i2"
        return np.clip(np.round(inter * 32768), -32768, 32767).astype(dt).tobytes()
    if datatype == "ci8":
        return np.clip(np.round(inter * 128), -128, 127).astype("i1").tobytes()
    if datatype == "cu8":
        return np.clip(np.round(inter * 128 + 127.5), 0, 255).astype("u1").tobytes()
    raise ValueError(datatype)


def write_sigmf(base, z, datatype="cf32_le", rate=RATE, annotations=None):
    base.with_name(base.name + ".sigmf-data").write_bytes(encode(z, datatype))
    meta = {
        "global": {"core:datatype": datatype, "core:sample_rate": rate, "core:version": "1.2.0",
                   "core:description": "test"},
        "captures": [{"core:sample_start": 0, "core:frequency": 915e6}],
        "annotations": annotations or [],
    }  # fmt: skip
    path = base.with_name(base.name + ".sigmf-meta")
    path.write_text(json.dumps(meta, indent=1))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from amrkit.artifacts import save_run_info, save_weights
    from amrkit.models import build

    root = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    n = 2000
    label = rng.integers(0, 4, n)
    z = np.stack([synth(int(c), L, 1.0, rng) for c in label])  # (n, L)
    x = normalize_power(np.stack([z.real, z.imag], axis=1).astype(np.float32))
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = build(SPEC, num_classes=4)
    opt = torch.optim.Adam(model.parameters(), 5e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(label)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model on a shared machine: threads only contend
    for _ in range(5):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, 128):
            idx = perm[i : i + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        assert (model(xt).argmax(1) == yt).float().mean() > 0.97  # the model learned the task
    torch.set_num_threads(threads)

    run = root / "run"
    save_run_info(run, model.spec, CLASSES, L, RATE)
    save_weights(run, model)
    norate = root / "run-norate"
    save_run_info(norate, model.spec, CLASSES, L, None)
    save_weights(norate, model)

    fp32 = _export(model, root / "m.onnx", dynamic=True)
    fixed = _export(model, root / "fixed.onnx", dynamic=False)
    int8 = _quantize(fp32, root / "m.int8.onnx", x[:256])
    return {"run": run, "norate": norate, "onnx": fp32, "fixed": fixed, "int8": int8}


def _metadata(path, precision):
    import onnx

    m = onnx.load(str(path))
    del m.metadata_props[:]
    for key, value in {
        "amrkit.classes": json.dumps(list(CLASSES)), "amrkit.frame_length": str(L),
        "amrkit.sample_rate_hz": str(RATE), "amrkit.version": "0.1.0",
        "amrkit.spec": json.dumps({"layers": SPEC}), "amrkit.precision": precision,
    }.items():  # fmt: skip
        p = m.metadata_props.add()
        p.key, p.value = key, value
    onnx.save(m, str(path))
    return path


def _export(model, path, dynamic):
    x = torch.zeros(32, 2, L)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (x,), str(path), input_names=["iq"], output_names=["logits"],
            dynamic_axes={"iq": {0: "batch"}} if dynamic else None, dynamo=False,
        )  # fmt: skip
    return _metadata(path, "fp32")


def _quantize(fp32, path, calib):
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"iq": calib[i : i + 32]} for i in range(0, len(calib), 32)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(
        str(fp32), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        weight_type=QuantType.QInt8, activation_type=QuantType.QInt8,
    )  # fmt: skip
    return _metadata(path, "int8")


SEGMENTS = [0, 2, 1, 3, 2, 0, 3, 1, 1, 2, 0, 3]


def _expected(result, frames_per_segment=3):
    return np.repeat(SEGMENTS, frames_per_segment)[: len(result)]


# ---- core -------------------------------------------------------------------------------
def test_recording_from_known_frames_is_classified_back(models, tmp_path):
    z = make_recording(1.0, SEGMENTS, 3, seed=1)
    meta = write_sigmf(tmp_path / "rec", z, "cf32_le")
    pred = load_predictor(models["run"])
    result = classify_recording(pred, open_recording(meta), batch_size=5)
    assert len(result) == len(SEGMENTS) * 3
    np.testing.assert_array_equal(result.start_sample, np.arange(len(result)) * L)
    np.testing.assert_allclose(result.time_s, result.start_sample / RATE)
    assert np.mean(result.label == _expected(result)) >= 0.95
    assert result.sample_count == L and not result.resampling.active
    assert sum(result.histogram().values()) == len(result)
    # confidence is the softmax of the top class; top-3 sorted and distinct
    assert np.all(result.confidence == result.top_prob[:, 0])
    assert np.all(np.diff(result.top_prob, axis=1) <= 0)
    assert all(len(set(row)) == 3 for row in result.top_index.tolist())
    z0 = open_recording(meta).read(L, L)  # the second frame, by hand
    iq0 = normalize_power(np.stack([z0.real, z0.imag])[None].astype(np.float32))
    p0 = np.exp(pred.logits(iq0)[0].astype(np.float64))
    p0 /= p0.sum()
    assert int(np.argmax(p0)) == result.label[1]
    assert p0.max() == pytest.approx(result.confidence[1], abs=1e-5)


@pytest.mark.parametrize(("r", "datatype"), [(2.0, "ci16_le"), (1.5, "cu8"), (2.4, "cf32_be")])
def test_resampled_recordings(models, tmp_path, r, datatype):
    z = make_recording(r, SEGMENTS, 3, seed=2)
    meta = write_sigmf(tmp_path / "rec", z, datatype, rate=RATE * r)
    rec = open_recording(meta)
    result = classify_recording(load_predictor(models["run"]), rec, chunk=5000)
    plan = result.resampling
    assert plan.active and plan.up / plan.down == pytest.approx(1 / r)
    assert len(result) == len(SEGMENTS) * 3
    # starts are in the recording's own sample index
    np.testing.assert_array_equal(result.start_sample, np.round(np.arange(len(result)) * L * r))
    half_sample = 0.5 / (RATE * r)
    np.testing.assert_allclose(result.time_s, np.arange(len(result)) * L / RATE, atol=half_sample)
    assert result.sample_count == round(L * r)
    assert np.mean(result.label == _expected(result)) >= 0.9


def test_hop_sets_frame_count_and_starts(models, tmp_path):
    z = make_recording(2.0, SEGMENTS[:4], 2, seed=3)
    (tmp_path / "x.ci16").write_bytes(encode(z, "ci16_le"))
    rec = open_recording(tmp_path / "x.ci16", format="ci16", sample_rate_hz=2 * RATE)
    n_model = len(z) // 2
    for hop in (16, 48, 100):
        result = classify_recording(load_predictor(models["run"]), rec, hop=hop)
        assert len(result) == (n_model - L) // hop + 1
        np.testing.assert_array_equal(result.start_sample, np.arange(len(result)) * hop * 2)


def test_onnx_fp32_fixed_batch_and_int8_agree_with_torch(models, tmp_path):
    z = make_recording(1.0, SEGMENTS, 3, seed=4)
    meta = write_sigmf(tmp_path / "rec", z, "ci16_be")
    torch_res = classify_recording(load_predictor(models["run"]), open_recording(meta))
    onnx_res = classify_recording(load_predictor(models["onnx"]), open_recording(meta))
    fixed_pred = load_predictor(models["fixed"])
    fixed_res = classify_recording(fixed_pred, open_recording(meta), batch_size=7)  # pads to 32
    int8_pred = load_predictor(models["int8"])
    assert int8_pred.kind == "onnx-int8"
    int8_res = classify_recording(int8_pred, open_recording(meta))
    np.testing.assert_array_equal(onnx_res.label, torch_res.label)
    np.testing.assert_allclose(onnx_res.top_prob, torch_res.top_prob, atol=1e-4)
    np.testing.assert_array_equal(fixed_res.label, torch_res.label)
    np.testing.assert_allclose(fixed_res.confidence, torch_res.confidence, atol=1e-4)
    assert np.mean(int8_res.label == torch_res.label) >= 0.9
    assert np.mean(int8_res.label == _expected(int8_res)) >= 0.9


def test_model_without_sample_rate_uses_recording_rate(models, tmp_path):
    z = make_recording(1.0, SEGMENTS[:3], 2, seed=5)
    meta = write_sigmf(tmp_path / "rec", z, rate=123456.0)
    result = classify_recording(load_predictor(models["norate"]), open_recording(meta))
    assert not result.resampling.active and len(result) == 6
    assert result.summary()["model"]["sample_rate_hz"] is None
    # --model-rate supplies the missing rate: now the 123456 Hz recording is resampled
    given = classify_recording(
        load_predictor(models["norate"]), open_recording(meta), model_rate_hz=61728.0
    )
    assert (given.resampling.up, given.resampling.down) == (1, 2) and len(given) == 3
    with pytest.raises(AmrkitError, match="contradicts the model's own"):
        classify_recording(load_predictor(models["run"]), open_recording(meta), model_rate_hz=5)


def test_rate_mismatch_without_resampling_is_an_error(models, tmp_path):
    meta = write_sigmf(tmp_path / "rec", make_recording(2.0, [0], 2, seed=6), rate=2e6)
    with pytest.raises(AmrkitError, match="differs from the model's 1e\\+06 Hz.*--no-resample"):
        classify_recording(load_predictor(models["run"]), open_recording(meta), resample=False)


def test_recording_shorter_than_a_frame(models, tmp_path):
    meta = write_sigmf(tmp_path / "tiny", make_recording(1.0, [0], 0.5, seed=7))
    with pytest.raises(AmrkitError, match="fewer than one frame"):
        classify_recording(load_predictor(models["run"]), open_recording(meta))


# ---- outputs ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classified(models, tmp_path_factory):
    d = tmp_path_factory.mktemp("out")
    existing = [{"core:sample_start": 10, "core:sample_count": 5, "core:label": "manual"}]
    meta = write_sigmf(d / "cap", make_recording(2.0, SEGMENTS[:4], 2, seed=8), "ci16_le",
                       rate=2 * RATE, annotations=existing)  # fmt: skip
    rec = open_recording(meta)
    return rec, classify_recording(load_predictor(models["run"]), rec), d


def test_csv_and_jsonl_outputs(classified, tmp_path):
    rec, result, _ = classified
    with open(write_predictions(result, tmp_path / "p.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(result) == 8
    assert list(rows[0]) == ["start_sample", "sample_count", "time_s", "label", "confidence",
                             "top1", "top1_p", "top2", "top2_p", "top3", "top3_p"]  # fmt: skip
    for i, row in enumerate(rows):
        assert int(row["start_sample"]) == result.start_sample[i] == i * 2 * L
        assert float(row["time_s"]) == pytest.approx(i * L / RATE)
        assert row["label"] == row["top1"] == CLASSES[result.label[i]]
        assert float(row["confidence"]) == pytest.approx(float(row["top1_p"]))
        assert float(row["top1_p"]) >= float(row["top2_p"]) >= float(row["top3_p"])
    lines = (write_predictions(result, tmp_path / "p.jsonl")).read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    assert [r["start_sample"] for r in recs] == result.start_sample.tolist()
    assert [r["label"] for r in recs] == [CLASSES[k] for k in result.label]
    assert all(len(r["top"]) == 3 and r["top"][0]["label"] == r["label"] for r in recs)
    with pytest.raises(AmrkitError, match="use .csv or .jsonl"):
        write_predictions(result, tmp_path / "p.txt")
    assert not (tmp_path / "p.txt").exists()


def test_annotations_go_to_a_new_valid_sigmf_meta(classified):
    import sigmf
    from sigmf import SigMFFile

    rec, result, d = classified
    original = rec.meta_path.read_bytes()
    data_before = rec.data_path.read_bytes()
    path = write_annotations(result, rec)
    assert path == d / "cap.amrkit.sigmf-meta"
    assert rec.meta_path.read_bytes() == original and rec.data_path.read_bytes() == data_before
    meta = json.loads(path.read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # also: the amrkit extension is declared
        SigMFFile(metadata=meta).validate()
    ours = [a for a in meta["annotations"] if "amrkit:confidence" in a]
    assert len(ours) == len(result)
    assert [a["core:sample_start"] for a in ours] == result.start_sample.tolist()
    assert all(a["core:sample_count"] == 2 * L for a in ours)
    assert [a["core:label"] for a in ours] == [CLASSES[k] for k in result.label]
    assert any(a["core:label"] == "manual" for a in meta["annotations"])  # kept
    starts = [a["core:sample_start"] for a in meta["annotations"]]
    assert starts == sorted(starts)
    assert meta["captures"][0]["core:frequency"] == 915e6
    # the new metadata opens with the sigmf package and reaches the same samples
    back = sigmf.fromfile(str(path), skip_checksum=True, autoscale=False)
    assert back.sample_count == rec.num_samples
    assert len(back.get_annotations()) == len(result) + 1
    with pytest.raises(AmrkitError, match="never modifies the original"):
        write_annotations(result, rec, rec.meta_path)


def test_annotations_for_a_raw_recording(models, tmp_path):
    from sigmf import SigMFFile

    z = make_recording(1.0, SEGMENTS[:3], 2, seed=9)
    raw = tmp_path / "capture.cs8"
    raw.write_bytes(encode(z, "ci8"))
    rec = open_recording(raw, format="ci8", sample_rate_hz=RATE)
    result = classify_recording(load_predictor(models["run"]), rec)
    with pytest.raises(AmrkitError, match="not in the folder of the data file"):
        write_annotations(result, rec, tmp_path / "sub" / "labels.sigmf-meta")  # ../capture.cs8
    assert not (tmp_path / "sub").exists()
    target = tmp_path / "labels.sigmf-meta"
    write_annotations(result, rec, target)
    meta = json.loads(target.read_text())
    SigMFFile(metadata=meta).validate()
    assert meta["global"]["core:datatype"] == "ci8"
    assert meta["global"]["core:dataset"] == "capture.cs8"
    assert len(meta["annotations"]) == 6
    again = open_recording(target)  # amrkit reads its own annotated file back
    np.testing.assert_array_equal(again.read(0, 100), rec.read(0, 100))


# ---- CLI --------------------------------------------------------------------------------
def _cli(capsys, *args):
    from amrkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_cli_classify_json_and_outputs(models, tmp_path, capsys):
    z = make_recording(2.0, SEGMENTS, 3, seed=10)
    raw = tmp_path / "cap.iq"
    raw.write_bytes(encode(z, "ci16_le"))
    out = tmp_path / "pred.jsonl"
    code, stdout, _ = _cli(
        capsys, "classify", models["onnx"], raw, "--format", "ci16", "--sample-rate", "2e6",
        "--out", out, "--annotate", "--json",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(stdout)
    assert summary["frames"] == len(SEGMENTS) * 3 == len(out.read_text().splitlines())
    assert sum(summary["histogram"].values()) == summary["frames"]
    assert summary["resampling"]["up"] == 1 and summary["resampling"]["down"] == 2
    assert summary["frames_per_s"] > 0 and summary["real_time_factor"] > 0
    assert summary["recording_duration_s"] == pytest.approx(len(z) / 2e6)
    assert (tmp_path / "cap.amrkit.sigmf-meta").is_file()
    labels = [json.loads(x)["label"] for x in out.read_text().splitlines()]
    expected = [CLASSES[k] for k in np.repeat(SEGMENTS, 3)]
    assert np.mean(np.array(labels) == np.array(expected)) >= 0.9
    # human summary
    code, stdout, _ = _cli(capsys, "classify", models["run"], raw, "--format", "ci16",
                           "--sample-rate", "2e6")  # fmt: skip
    assert code == 0 and "frames" in stdout and "tone+" in stdout and "resampled by 1/2" in stdout


def test_cli_model_rate_resamples_for_a_model_without_rate(models, tmp_path, capsys):
    z = make_recording(2.0, SEGMENTS[:4], 2, seed=12)  # recorded at twice the model's rate
    meta = write_sigmf(tmp_path / "rec", z, "cf32_le", rate=2 * RATE)
    code, stdout, _ = _cli(capsys, "classify", models["norate"], meta, "--json")
    assert code == 0
    plain = json.loads(stdout)
    assert not plain["resampling"]["active"] and plain["frames"] == 4 * 2 * 2
    out = tmp_path / "pred.jsonl"
    code, stdout, _ = _cli(capsys, "classify", models["norate"], meta, "--model-rate", RATE,
                           "--out", out, "--json")  # fmt: skip
    assert code == 0
    given = json.loads(stdout)
    assert (given["resampling"]["up"], given["resampling"]["down"]) == (1, 2)
    assert given["resampling"]["model_rate_hz"] == RATE
    assert given["frames"] == 4 * 2 and given["sample_count"] == 2 * L
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["start_sample"] for r in rows] == [i * 2 * L for i in range(8)]
    expected = [CLASSES[k] for k in np.repeat(SEGMENTS[:4], 2)]
    assert np.mean(np.array([r["label"] for r in rows]) == np.array(expected)) >= 0.85
    code, _, err = _cli(capsys, "classify", models["run"], meta, "--model-rate", "5")
    assert code == 1 and "contradicts the model's own" in err


def test_cli_errors_are_one_line_and_leave_no_output(models, tmp_path, capsys):
    z = make_recording(2.0, [0, 1], 2, seed=11)
    good = write_sigmf(tmp_path / "good", z, "cf32_le", rate=2e6)
    real = write_sigmf(tmp_path / "real", z, "cf32_le")
    m = json.loads(real.read_text())
    m["global"]["core:datatype"] = "rf32_le"
    real.write_text(json.dumps(m))
    out = tmp_path / "o.csv"
    cases = [
        (["classify", models["run"], real, "--out", out], "real samples"),
        (["classify", models["run"], good, "--no-resample", "--out", out], "--no-resample"),
        (["classify", models["run"], good, "--out", tmp_path / "o.txt"], "use .csv or .jsonl"),
        (["classify", models["run"], tmp_path / "good.sigmf-data", "--format", "ci16",
          "--out", out], "drop --format|SigMF"),
        (["classify", models["run"], tmp_path / "nope.bin", "--format", "cf32"], "does not exist"),
        (["classify", models["run"], tmp_path / "good.sigmf-data"], None),  # fine: base name
        (["classify", tmp_path, good], "not a run directory"),
        (["classify", models["run"], good, "--hop", "0"], "--hop 0"),
        (["classify", models["run"], good, "--out", out, "--annotate-out", good],
         "never modifies"),
        (["classify", models["run"], good, "--out", out, "--annotate-out", tmp_path / "a.json"],
         "must end in .sigmf-meta"),
    ]  # fmt: skip
    for args, pattern in cases:
        code, _, err = _cli(capsys, *args)
        if pattern is None:
            assert code == 0
            continue
        lines = err.strip().splitlines()
        assert code == 1, (args, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert re.search(pattern, lines[0]), (pattern, lines[0])
        assert not out.exists() and not (tmp_path / "o.txt").exists()
    assert json.loads(good.read_text())["annotations"] == []  # original untouched


def test_cli_chunk_is_the_processing_block(models, tmp_path, capsys):
    """--chunk reaches the pipeline: the CLI's file equals classify_recording(chunk=...)."""
    z = make_recording(2.0, SEGMENTS[:4], 2, seed=13)
    raw = tmp_path / "cap.ci16"
    raw.write_bytes(encode(z, "ci16_le"))
    rec = open_recording(raw, format="ci16", sample_rate_hz=2e6)
    want = write_predictions(
        classify_recording(load_predictor(models["run"]), rec, chunk=300), tmp_path / "want.csv"
    )
    out = tmp_path / "got.csv"
    args = ["--format", "ci16", "--sample-rate", "2e6", "--chunk", "300", "--out", out, "--json"]
    code, stdout, _ = _cli(capsys, "classify", models["run"], raw, *args)
    assert code == 0 and out.read_bytes() == want.read_bytes()
    assert json.loads(stdout)["frames"] == 8 and json.loads(stdout)["chunk"] == 300
    code, _, err = _cli(capsys, "classify", models["run"], raw, "--format", "ci16",
                        "--sample-rate", "2e6", "--timeout", "3")  # fmt: skip
    assert code == 1 and "--timeout applies to live streams" in err
    code, _, err = _cli(capsys, "classify", models["run"], raw, "--format", "ci16",
                        "--sample-rate", "2e6", "--chunk", "0")  # fmt: skip
    assert code == 1 and "--chunk 0 must be >= 1" in err


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_int8_runtimes_classify_identically(models, tmp_path):
    """The c runtime computes the golden model's logits, as ORT does on a portable file: the
    same probabilities, bit for bit; the summary names the runtime and its speed."""
    meta = write_sigmf(tmp_path / "rec", make_recording(2.0, SEGMENTS, 3, seed=8), rate=2e6)
    ort_res = classify_recording(load_predictor(models["int8"]), open_recording(meta))
    c_pred = load_predictor(models["int8"], runtime="c", threads=2)
    c_res = classify_recording(c_pred, open_recording(meta), batch_size=5)
    np.testing.assert_array_equal(c_res.label, ort_res.label)
    np.testing.assert_array_equal(c_res.top_prob, ort_res.top_prob)
    s = c_res.summary()
    assert s["model"]["runtime"] == "c" and ort_res.summary()["model"]["runtime"] == "ort"
    assert s["resampling"]["active"]
    assert 0 < s["inference_s"] <= s["wall_s"]
    assert s["times_real_time"] == pytest.approx(1 / s["real_time_factor"])
