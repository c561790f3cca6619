"""``amrkit reproduce`` end to end on a tiny config: every section, numbers equal to
results.json, caching, resume after an interruption, protocols and seeds, bad options."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from amrkit.cli import app
from amrkit.report import pipeline, prose
from amrkit.report.browser import check_in_browser, external_references, find_chromium
from amrkit.report.config import ReproduceConfig, default_config
from amrkit.report.formats import f_int, f_mb, f_mean_sd, f_num, f_pct, f_signed
from amrkit.report.pipeline import reproduce

SECTIONS = [
    "Table I",
    "Table II",
    "Table III",
    "Fig. 4",
    "Fig. 5",
    "Fig. 6",
    "Confusion matrices",
    "Golden model vs runtime",
    "Latency and throughput",
    "Accuracy against budget",
    "Beyond the paper",
    "How this differs from the paper",
    "Provenance",
]


def tiny(**over: object) -> ReproduceConfig:
    base = dict(
        frames_per_class=30,
        epochs=1,
        fig5_snrs=(10.0, 30.0),
        fig5_frames_per_class=30,
        sweep_snrs=(0.0, 20.0),
        sweep_frames_per_snr=5,
        calib_frames=32,
        golden_frames=32,
        bench_min_time=0.01,
        workers=1,
        search_trials=0,  # the search stage has its own tests (test_beyond_*)
    )
    base.update(over)
    return default_config(**base)


@pytest.fixture(scope="module", autouse=True)
def _no_shipped_models(tmp_path_factory: pytest.TempPathFactory):
    """The study's exact tables, whatever amrkit ships: an empty zoo (the shipped models'
    row group has its own test, with an entry built for it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AMRKIT_ZOO_DIR", str(tmp_path_factory.mktemp("empty-zoo")))
        yield


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[str]]:
    out = tmp_path_factory.mktemp("reproduce")
    logs: list[str] = []
    results = reproduce(tiny(), out, log=logs.append, progress=False)
    return out, results, logs


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_report_has_every_section_and_figure(study) -> None:
    out, results, _ = study
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    for section in SECTIONS:
        assert section in md, section
        assert section in page, section
    assert "Quick run" in md  # small-data numbers are labelled
    for rel in results["figures"].values():
        w, h = _png_size(out / rel)
        assert w > 300 and h > 200
        assert f"]({rel})" in md
    assert page.count("data:image/png;base64,") == len(results["figures"])
    assert json.loads((out / "results.json").read_text()) == results


def _tables(md: str) -> list[list[list[str]]]:
    tables, cur = [], []
    for line in md.splitlines():
        if line.startswith("| "):
            cur.append([c.strip() for c in line.strip("|").split(" | ")])
        elif cur:
            tables.append(cur)
            cur = []
    if cur:
        tables.append(cur)
    return tables


def _find(tables: list, header0: str, header1: str) -> list[list[str]]:
    return next(t for t in tables if t[0][0] == header0 and t[0][1] == header1)


def test_table3_numbers_equal_results_json(study) -> None:
    out, results, _ = study
    md = (out / "report.md").read_text()
    t3 = _find(_tables(md), "Training", "Model")
    body = t3[2:]
    assert [r[1] for r in body] == [
        "Original",
        "Optimized",
        "Optimized + INT8",
        "Original + INT8",
    ]
    assert body[0][0] == "**amrkit recipe**" and all(r[0] == "" for r in body[1:])
    for cells, row in zip(body, results["table3"], strict=True):
        assert cells[2] == f_pct(row["accuracy_pct"]) and row["accuracy_sd_pt"] is None
        assert cells[3] == f_int(row["macs"])
        assert cells[4] == f_mb(row["parameter_memory_mb"])
    by_row = {r["row"]: r for r in results["table3"]}
    # the paper's reference numbers, and the exact counts of the two models
    assert by_row["Original"]["macs"] == 8_127_520
    assert by_row["Optimized"]["macs"] == 2_491_776
    assert by_row["Optimized"]["paper"]["macs"] == 2_491_798
    assert by_row["Optimized"]["diff_vs_paper"]["macs"] == -22
    assert by_row["Original"]["parameter_memory_mb"] == 0.3694
    assert by_row["Optimized"]["parameter_memory_mb"] == 0.192
    assert by_row["Optimized + INT8"]["parameter_memory_mb"] <= 0.0521
    # accuracies are the evaluator's numbers on the test split
    m = results["runs"]["recipe"]["optimized"]
    assert by_row["Optimized + INT8"]["accuracy_pct"] == m["int8"]["test"]["accuracy_pct"]
    red = _find(_tables(md), "Model", "MACs reduction (%)")[2:]
    for cells, row in zip(red, results["table3"], strict=True):
        assert cells[1] == f_pct(row["macs_reduction_pct"])
        assert cells[2] == f_pct(row["memory_reduction_pct"])
        assert cells[3] == f_signed(row["accuracy_change_pt"])


def assert_table_numbers_in_results(md: str, results: dict) -> int:
    """Every number of every Markdown table is a formatted results.json value; returns how
    many were checked."""
    allowed: set[str] = set()

    def walk(v: object) -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, (int, float)):
            for f in (f_pct, f_mb, f_signed):
                allowed.add(f(v))
            allowed.add(f_int(v) if float(v).is_integer() else f_num(v, 1))
            allowed.update({f_num(v, 1), f_num(v, 3), f_num(v, 4), f_num(v, 8), f"{v:g}"})
            allowed.add(f"{v:+,}" if isinstance(v, int) else f"{v:+.4f}")
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x)
                walk_key(k)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            allowed.update(re.findall(r"-?\d[\d,]*(?:\.\d+)?", v))

    def walk_key(k: str) -> None:
        allowed.add(k)

    walk(results)
    number = re.compile(r"^[+-]?\d[\d,]*(?:\.\d+)?$")
    checked = 0
    for table in _tables(md):
        for row in table[2:]:
            for cell in row:
                for token in re.split(r"\s+|…|×|±", cell):
                    if number.match(token):
                        checked += 1
                        assert token in allowed, f"{token!r} (in {cell!r}) is not in results.json"
    return checked


def test_every_number_in_the_tables_is_in_results_json(study) -> None:
    """No number in a Markdown table is invented: each is a formatted results.json value."""
    out, results, _ = study
    assert assert_table_numbers_in_results((out / "report.md").read_text(), results) > 100


def test_results_json_holds_the_study(study) -> None:
    _, results, _ = study
    assert results["schema"] == "amrkit-reproduce/2"
    opt = results["runs"]["recipe"]["optimized"]
    q = opt["int8"]["quantization"]
    assert q["is_quantized"] and q["runs_integer_kernels"]
    assert {r["stored_type"] for r in q["learnables"]} == {"int8", "int32"}
    points = results["fig5"]["series"]["recipe"]["points"]
    assert [p["snr_db"] for p in points] == [10.0, 30.0]
    # the 30 dB point is Table III's model (same data size and protocol)
    assert [p["is_main_model"] for p in points] == [False, True]
    assert points[1]["int8_accuracy_pct"] == opt["int8"]["test"]["accuracy_pct"]
    g = results["golden"]["recipe"]
    assert g["frames"] == 32 and 0 <= g["top1_agreement_pct"] <= 100
    assert set(results["fig6"]["series"]) == {
        "Original FP32",
        "Optimized FP32",
        "Optimized INT8",
        "Original INT8",
    }
    for series in results["fig6"]["series"].values():
        assert list(series) == ["0", "20"]
    runtimes = {(r["model"], r["runtime"], r["batch"]) for r in results["latency"]}
    for model in ("original", "optimized"):
        for rt in ("torch FP32", "ORT FP32", "ORT INT8"):
            assert {(model, rt, 1), (model, rt, 256)} <= runtimes
    stages = [s["stage"] for s in results["provenance"]["stages"]]
    assert stages[:2] == ["data-main", "data-sweep"] and "train-recipe-optimized-s1" in stages
    assert "golden-recipe-optimized" in stages


def test_lr_drop_follows_the_epochs_unless_given() -> None:
    (recipe,) = tiny(epochs=12).protocols
    assert recipe.train_config(1).lr_drop_epoch == 9  # the reference's 9 of 12
    assert tiny(epochs=24).protocols[0].train_config(1).lr_drop_epoch == 18
    cfg = tiny(epochs=24, lr_drop_epoch=20, augment="phase,conj")
    tcfg = cfg.protocols[0].train_config(3)
    assert (tcfg.lr_drop_epoch, tcfg.augment, tcfg.seed) == (20, "phase,conj", 3)


def test_prose_is_the_config_the_run_used(study) -> None:
    """The pipeline sentences are generated from run.json / quantization.json."""
    out, results, _ = study
    md = (out / "report.md").read_text()
    run_json = next(out.glob("stages/train-recipe-optimized-s1-*/run/run.json"))
    tc = json.loads(run_json.read_text())["train_config"]
    assert prose.training(tc, "cpu") in md
    q = results["protocols"][0]["quantization"]
    assert prose.quantization_format(q) in md and prose.calibration(q) in md
    assert "32 training frames" in prose.calibration(q)
    assert "PyTorch's default initialization" not in md  # the run used Glorot


def test_two_protocols_and_seeds_give_row_groups_and_mean_sd(tmp_path: Path) -> None:
    cfg = tiny(
        models=("optimized",),
        protocols=("paper", "recipe"),
        seeds=(1, 2),
        fig5_snrs=(30.0,),
        fig5_frames_per_class=None,
        golden_frames=0,
    )
    results = reproduce(cfg, tmp_path, log=lambda m: None, progress=False)
    rows = results["table3"]
    assert [(r["protocol"], r["row"]) for r in rows] == [
        ("paper", "Optimized"),
        ("paper", "Optimized + INT8"),
        ("recipe", "Optimized"),
        ("recipe", "Optimized + INT8"),
    ]
    for r in rows:
        run = results["runs"][r["protocol"]]["optimized"]
        per_seed = [s[f"{r['precision']}_pct"] for s in run["seeds"]]
        assert [s["seed"] for s in run["seeds"]] == [1, 2]
        assert r["accuracy_pct"] == pytest.approx(sum(per_seed) / 2, abs=0.006)
        sd = abs(per_seed[0] - per_seed[1]) / 2**0.5
        assert r["accuracy_sd_pt"] == pytest.approx(sd, abs=0.006)
    # the paper's protocol is fixed; the recipe is the run's
    tcs = {p["name"]: p["train_config"] for p in results["protocols"]}
    assert (tcs["paper"]["epochs"], tcs["paper"]["augment"]) == (12, "none")
    assert (tcs["recipe"]["epochs"], tcs["recipe"]["augment"]) == (1, "phase,conj")
    assert set(results["fig5"]["series"]) == {"paper", "recipe"}
    assert "Optimized INT8 (paper protocol)" in results["fig6"]["series"]
    md = (tmp_path / "report.md").read_text()
    t3 = next(t for t in _tables(md) if t[0][:2] == ["Training", "Model"])
    assert [r[0] for r in t3[2:]] == ["**paper protocol**", "", "**amrkit recipe**", ""]
    assert t3[2][2] == f_mean_sd(rows[0]["accuracy_pct"], rows[0]["accuracy_sd_pt"])
    assert " ± " in t3[2][2] and "mean ± s.d. over seeds 1, 2" in md
    assert md.count("**Training (") == 2  # one sentence per protocol


def test_interrupted_run_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny(models=("optimized",), fig5_snrs=(30.0,), golden_frames=0)

    def boom(*args: object, **kwargs: object):
        def run(work: Path) -> dict:
            raise KeyboardInterrupt

        return run

    monkeypatch.setattr(pipeline, "_bench", boom)
    with pytest.raises(KeyboardInterrupt):
        reproduce(cfg, tmp_path, log=lambda m: None, progress=False)
    assert not (tmp_path / "results.json").exists()
    monkeypatch.undo()
    logs: list[str] = []
    results = reproduce(cfg, tmp_path, log=logs.append, progress=False)
    cached = {s["stage"]: s["cached"] for s in results["provenance"]["stages"]}
    assert cached["train-recipe-optimized-s1"] and cached["ptq-recipe-optimized-s1"]
    assert not cached["bench-optimized"]


def test_custom_model_from_a_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        "name: tiny\nlayers:\n  - {filters: 8, kernel: 4, pool: true}\n"
        "  - {filters: 16, kernel: 2, pool: false}\n"
    )
    cfg = tiny(models=("optimized", str(spec)), fig5_snrs=(30.0,), golden_frames=0)
    results = reproduce(cfg, tmp_path / "out", log=lambda m: None, progress=False)
    assert results["target"] == str(spec)
    rows = {r["row"]: r for r in results["table3"]}
    assert rows["tiny + INT8"]["paper"] is None
    assert rows["tiny"]["macs"] == 8 * 2 * 4 * 1024 + 16 * 8 * 2 * 512 + 16 * 11


def test_bad_models_entry_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "res"
    result = CliRunner().invoke(
        app, ["reproduce", "--out", str(out), "--models", "original,nosuchnet"]
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --models entry 'nosuchnet'")
    assert not out.exists()


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    for args in (
        ["--models", "original,original"],
        ["--epochs", "0"],
        ["--snr-convention", "x"],
        ["--augment", "spin"],
        ["--lr-drop-epoch", "-1"],
        ["--protocols", "paper,magic"],
        ["--protocols", "paper", "--epochs", "24"],
        ["--seeds", "1,x"],
        ["--seeds", "1,1"],
        ["--seed", "1", "--seeds", "2"],
        ["--device", "tpu"],
        ["--search-trials", "-1"],
    ):
        result = CliRunner().invoke(app, ["reproduce", "--out", str(tmp_path / "r"), *args])
        assert result.exit_code == 1, args
        assert result.output.startswith("error: "), result.output
    assert not (tmp_path / "r").exists()


def test_report_html_has_no_external_fetches(study) -> None:
    out, _, _ = study
    page = (out / "report.html").read_text()
    assert external_references(page) == []
    # control: the checker does see a fetch
    assert external_references('<img src="https://x.org/a.png">') != []


@pytest.mark.skipif(
    find_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)"
)
def test_report_html_renders_in_chromium_on_a_laptop_screen(study, tmp_path: Path) -> None:
    out, results, _ = study
    seen = check_in_browser(out / "report.html", 1366, 768, screenshot=tmp_path / "shot.png")
    assert seen["headings"] >= len(SECTIONS)
    assert seen["images"] == len(results["figures"])
    assert seen["images_loaded"] == seen["images"]  # every figure decodes
    assert min(seen["image_widths"]) > 300
    assert seen["page_width"] <= seen["viewport"]  # no sideways scrolling of the page
    for table in seen["tables"]:
        assert table["font_px"] >= 12
        assert table["width"] <= table["visible"] + 1, table  # every table fits the screen
    assert _png_size(tmp_path / "shot.png") == (1366, 768)


def test_device_cuda_without_a_gpu_is_a_one_line_error(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: --device cuda would run")
    result = CliRunner().invoke(
        app, ["reproduce", "--out", str(tmp_path / "r"), "--device", "cuda"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: --device cuda") and len(result.output.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_microcontroller_table_comes_from_the_deploy_stage(study) -> None:
    """Each INT8 model's C library on the emulated Cortex-M4: measured where the toolchain is
    installed (CI installs it), otherwise the report says what is missing."""
    out, results, _ = study
    md = (out / "report.md").read_text()
    assert set(results["mcu"]) == set(results["models"])
    assert "On a microcontroller" in md
    for m in results["mcu"].values():
        if m["toolchain_available"]:
            assert m["bit_exact"] is True
            assert m["flash_bytes"] > 0 and m["ram_bytes"] > m["arena_bytes"] > 0
            assert m["instructions_per_frame"] > 0
            assert f"{m['instructions_per_frame']:,}" in md
        else:
            assert m["reason"] and "Not measured" in md


def _section(md: str, heading: str) -> str:
    start = md.index(f"## {heading}")
    end = md.find("\n## ", start + 1)
    return md[start : end if end > 0 else None]


def test_beyond_without_search_says_how_to_enable_it(study) -> None:
    out, results, _ = study
    assert results["beyond"]["ran"] is False and results["beyond"]["search_trials"] == 0
    assert "search" not in {s["stage"] for s in results["provenance"]["stages"]}
    assert "beyond_pareto" not in results["figures"]
    text = _section((out / "report.md").read_text(), "Beyond the paper")
    assert "`search_trials` is 0" in text and "--search-trials 40" in text
    assert "|" not in text  # no table without a search


SEARCH = dict(
    search_trials=3,
    search_proxy_frames_per_class=10,
    search_proxy_epochs=1,
    search_final_epochs=1,
    search_max_final=2,
)


@pytest.fixture(scope="module")
def searched(study, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The tiny study again, with a tiny search: every other stage comes from the cache."""
    import shutil

    out = tmp_path_factory.mktemp("searched") / "res"
    shutil.copytree(study[0] / "stages", out / "stages")
    return out, reproduce(tiny(**SEARCH), out, progress=False)


def test_beyond_search_stage_lists_its_pareto_points(searched) -> None:
    out, results = searched
    cached = {s["stage"]: s["cached"] for s in results["provenance"]["stages"]}
    assert cached.pop("search") is False and all(cached.values())  # only the search ran
    b = results["beyond"]
    assert b["ran"] and b["config"]["trials"] == 3 and b["trials"]["total"] == 3
    assert 1 <= len(b["points"]) <= 2
    budget = b["config"]["max_macs"]
    assert budget == 2_491_798 and all(p["macs"] <= budget for p in b["points"])
    pareto = json.loads((out / b["pareto_json"]).read_text())
    assert {p["spec"] for p in b["points"]} == {p["spec"] for p in pareto["pareto"]}
    assert [p["macs"] for p in b["points"]] == sorted(p["macs"] for p in pareto["pareto"])
    md = (out / "report.md").read_text()
    text = _section(md, "Beyond the paper")
    table = _find(_tables(text), "Model", "MACs")
    for row, p in zip(table[2:], b["points"], strict=False):
        assert row[0] == f"`{p['spec']}`" and row[1] == f_int(p["macs"])
        assert row[2] == f_num(p["int8_kb"]) and row[5] == f_pct(p["int8_test_accuracy_pct"])
    ref = table[-1]
    assert ref[0].startswith("**Optimized + INT8**") and ref[1] == "2,491,776"
    assert len(table) == 2 + len(b["points"]) + 1
    assert assert_table_numbers_in_results(md, results) > 100
    # quick runs say how small the search was
    assert "quick: 3 trials of 1 epoch on 110 frames — a small search" in text
    w, h = _png_size(out / results["figures"]["beyond_pareto"])
    assert w > 300 and h > 200 and f"]({results['figures']['beyond_pareto']})" in text


def test_beyond_comparison_is_computed_from_the_points(searched) -> None:
    out, results = searched
    b = results["beyond"]
    ref = next(
        r for r in results["table3"] if r["row"] == "Optimized + INT8"
    )  # the hand design, INT8
    assert b["reference"]["accuracy_pct"] == ref["accuracy_pct"]
    under = [p for p in b["points"] if p["macs"] <= 2_491_798]
    best = max(under, key=lambda p: (p["int8_test_accuracy_pct"], -p["macs"]))
    assert b["best_within_budget"]["spec"] == best["spec"]
    assert b["best_within_budget"]["vs_reference_pt"] == round(
        best["int8_test_accuracy_pct"] - ref["accuracy_pct"], 2
    )
    near = [p for p in b["points"] if p["int8_test_accuracy_pct"] >= ref["accuracy_pct"] - 1]
    close = b["smallest_within_1pt"]
    assert (close is None) == (not near)
    text = _section((out / "report.md").read_text(), "Beyond the paper")
    assert f"`{best['spec']}`, {f_pct(best['int8_test_accuracy_pct'])} % INT8 test" in text
    if close is not None:
        assert close["macs"] == min(p["macs"] for p in near)
        assert f"Smallest Pareto model within 1 pt of Optimized + INT8: `{close['spec']}`" in text
    else:
        assert "No Pareto model is within 1 pt" in text
    assert prose.search(b["config"]) in text  # the paragraph is the config the stage used
    from amrkit.commands.reproduce import summary_lines

    assert f"beyond the paper: {best['spec']}" in summary_lines(results)[-1]
    frames = results["runs"]["recipe"]["optimized"]["int8"]["test"]["frames"]
    assert f"the same {frames} test frames (one frame is {f_pct(100 / frames)} pt)" in text


def _zoo_fixtures():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "zoo" / "zoo_fixtures.py"
    spec = importlib.util.spec_from_file_location("zoo_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_models_are_their_own_row_group(study, tmp_path, monkeypatch) -> None:
    """With no entry shipped nothing is shown; with one (built here, injected through
    AMRKIT_ZOO_DIR) a quick run evaluates it on its own test split and sweep: a row group of
    Table III, series of Fig. 6, lines of the summary; the study's own rows are unchanged."""
    import shutil

    from amrkit.commands.reproduce import summary_lines
    from amrkit.metrics.evaluate import evaluate_path
    from amrkit.report.pretrained import LABEL
    from amrkit.signals.catalog import CLASSES

    out, results, _ = study
    assert results["pretrained"]["shown"] is False and results["pretrained"]["entries"] == {}
    assert all(r["protocol"] != "pretrained" for r in results["table3"])
    assert LABEL not in (out / "report.md").read_text()
    assert not any(LABEL in line for line in summary_lines(results))

    zoo = tmp_path / "zoo"
    _zoo_fixtures().build_tiny_entry(
        tmp_path / "work", zoo, "tinyp", classes=tuple(CLASSES), frames_per_class=20,
        frame_length=1024, spec="4x8p,8x8p", epochs=1, test_frames_per_class=5,
        sweep_snrs=(0.0, 30.0), sweep_frames_per_snr=2, report_group="paper",
    )  # fmt: skip
    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(zoo))
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    again = reproduce(tiny(), copy, log=lambda _m: None, progress=False)
    ran = [s["stage"] for s in again["provenance"]["stages"] if not s["cached"]]
    assert ran == ["pretrained-tinyp"]  # the study itself came from the cache
    rows = [r for r in again["table3"] if r["protocol"] == "pretrained"]
    assert [r["row"] for r in rows] == ["zoo:tinyp", "zoo:tinyp + INT8"]
    assert {r["protocol_label"] for r in rows} == {LABEL}
    assert [r for r in again["table3"] if r["protocol"] != "pretrained"] == results["table3"]
    data = copy / again["data"]["main"]["path"]
    for row, ref in zip(rows, ("zoo:tinyp", "zoo:tinyp:int8"), strict=True):
        direct = evaluate_path(ref, data, split="test", device="cpu")
        assert row["accuracy_pct"] == round(100 * direct["accuracy"], 2)
    series = again["fig6"]["series"]
    assert list(series["zoo:tinyp FP32"]) == list(series["Optimized FP32"])
    assert "zoo:tinyp INT8" in series
    md = (copy / "report.md").read_text()
    t3 = next(t for t in _tables(md) if t[0][:2] == ["Training", "Model"])
    assert [r[0] for r in t3[2:]] == ["**amrkit recipe**", "", "", "", f"**{LABEL}**", ""]
    assert "zoo:tinyp FP32 (%)" in md and "`zoo:tinyp`" in md
    lines = summary_lines(again)
    assert f"  {LABEL}:" in lines and any("zoo:tinyp + INT8" in line for line in lines)
    # --full trains these networks at the paper's scale itself: it plans no pretrained stage
    from amrkit.report.pipeline import run_stages
    from amrkit.report.stages import StageCache

    full = default_config(full=True)
    plan = run_stages(full, pipeline._resolve_models(full), StageCache(tmp_path / "p", plan=True))
    assert plan.pretrained == {} and plan.runs


def test_shipped_beyond_models_are_evaluated_in_beyond_the_paper(study, tmp_path, monkeypatch):
    """With no ``beyond`` entry the section is as before (no sub-section, no figure); with one
    (built here with a search section on its card, injected through AMRKIT_ZOO_DIR) a quick
    run evaluates it on its own test split: a row with this run's FP32 and INT8 numbers, its
    files' MACs and INT8 bytes and the card's source, and a figure whose data holds it beside
    this run's models and the paper's; Table III and the search part are unchanged."""
    import shutil
    from types import SimpleNamespace

    from amrkit.metrics.evaluate import evaluate_path
    from amrkit.report import shipped
    from amrkit.signals.catalog import CLASSES
    from amrkit.zoo.check import load_card
    from amrkit.zoo.figure import figure_data

    out, results, _ = study
    assert results["beyond"]["shipped"]["shown"] is False
    assert results["beyond"]["shipped"]["entries"] == [] and "beyond_zoo" not in results["figures"]
    before = _section((out / "report.md").read_text(), "Beyond the paper")
    assert "Shipped models beyond the paper" not in before and "###" not in before

    zoo, extra = tmp_path / "zoo", tmp_path / "extra.json"
    extra.write_text(json.dumps({"sections": [
        {"title": "Search settings", "text": "3 trials", "source": "amrkit search d.h5"},
        {"title": "Pareto rank", "table": {"columns": ["rank"], "rows": [[1]]}},
    ]}))  # fmt: skip
    _zoo_fixtures().build_tiny_entry(
        tmp_path / "work", zoo, "tinyb", classes=tuple(CLASSES), frames_per_class=20,
        frame_length=1024, spec="4x8p,8x8p", epochs=1, test_frames_per_class=5,
        sweep_snrs=(0.0, 30.0), sweep_frames_per_snr=2, report_group="beyond", extra=extra,
    )  # fmt: skip
    monkeypatch.setenv("AMRKIT_ZOO_DIR", str(zoo))
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    again = reproduce(tiny(), copy, log=lambda _m: None, progress=False)
    ran = [s["stage"] for s in again["provenance"]["stages"] if not s["cached"]]
    assert ran == ["pretrained-tinyb"]  # evaluated in this run; the study came from the cache
    assert again["table3"] == results["table3"]  # not a Table III row (that is "paper")
    s = again["beyond"]["shipped"]
    assert s["shown"] and [e["name"] for e in s["entries"]] == ["tinyb"]
    e, card = s["entries"][0], load_card("tinyb", zoo)
    data = copy / again["data"]["main"]["path"]
    for prec, ref in (("fp32", "zoo:tinyb"), ("int8", "zoo:tinyb:int8")):
        direct = evaluate_path(ref, data, split="test", device="cpu")
        assert e[f"{prec}_pct"] == round(100 * direct["accuracy"], 2)
        assert e["test_frames"] == direct["num_frames"] == s["test_frames"]
    assert (e["macs"], e["int8_bytes"]) == (card["model"]["macs"], card["model"]["int8_bytes"])
    assert e["source"]["kinds"] == ["search"] and "Pareto rank" in e["source"]["text"]
    opt = next(m for m in s["models"] if m["name"] == "optimized")
    assert opt["int8_pct"] == again["runs"]["recipe"]["optimized"]["int8_mean_pct"]
    assert e["vs_reference_pt"] == round(e["int8_pct"] - opt["int8_pct"], 2)

    md = (copy / "report.md").read_text()
    text = _section(md, "Beyond the paper")
    assert text.split("\n### ")[0].rstrip() == before.rstrip()  # the search part as before
    table = _find(_tables(text), "Model", "Made by")
    row = next(r for r in table if r[0] == "`zoo:tinyb`")
    assert row[1] == e["source"]["text"]
    assert row[2:7] == [f_int(e["macs"]), f_int(e["int8_bytes"]), f_pct(e["fp32_pct"]),
                        f_pct(e["int8_pct"]), f_signed(e["vs_reference_pt"])]  # fmt: skip
    assert row[7] == f_pct(card["evaluation"]["test"]["int8"]["accuracy_pct"])
    assert [r[0] for r in table[2:4]] == ["Original (this run)", "Optimized (this run)"]
    assert assert_table_numbers_in_results(md, again) > 100
    # the figure: drawn from this run's numbers, holding the entry, the run's models, the paper
    png = copy / again["figures"]["beyond_zoo"]
    assert f"]({again['figures']['beyond_zoo']})" in text and _png_size(png)[0] > 300
    drawn = figure_data(png)
    assert drawn == s["figure"]
    points = {p["label"]: p for p in drawn["points"]}
    keys = ("macs", "int8_bytes", "fp32_pct", "int8_pct")
    assert points["zoo:tinyb"] == {"label": "zoo:tinyb", "group": "zoo-beyond"} | {
        k: e[k] for k in keys
    }
    assert points["Optimized (this run)"]["int8_pct"] == opt["int8_pct"]
    assert {"original (paper)", "optimized (paper)"} <= set(points)
    # --full loads no shipped model (as for the paper group) and names the one it left out
    full = SimpleNamespace(cfg=SimpleNamespace(quick=False))
    assert shipped._not_loaded(full, again, again["frame_length"]) == ["tinyb"]


def test_second_run_is_cached_and_a_change_reruns_what_depends_on_it(study) -> None:
    """Last in this file: it rewrites the fixture's report."""
    out, first, _ = study
    weights = next(out.glob("stages/train-recipe-optimized-s1-*/run/model.pt"))
    mtime = weights.stat().st_mtime_ns
    logs: list[str] = []
    again = reproduce(tiny(), out, log=logs.append, progress=False)
    assert all(s["cached"] for s in again["provenance"]["stages"])
    assert weights.stat().st_mtime_ns == mtime
    assert again["table3"] == first["table3"]
    # a changed option reruns what depends on it only
    changed = reproduce(tiny(calib_frames=16), out, log=logs.append, progress=False)
    cached = {s["stage"]: s["cached"] for s in changed["provenance"]["stages"]}
    assert cached["train-recipe-optimized-s1"] and cached["data-main"]
    assert not cached["ptq-recipe-optimized-s1"]
    # a training option (augmentation) reruns training, not the data, and reaches the run
    # and the report's prose
    aug = reproduce(tiny(augment="phase"), out, log=logs.append, progress=False)
    cached = {s["stage"]: s["cached"] for s in aug["provenance"]["stages"]}
    assert cached["data-main"] and not cached["train-recipe-optimized-s1"]
    runs = sorted(
        out.glob("stages/train-recipe-optimized-s1-*/run/run.json"),
        key=lambda p: p.stat().st_mtime,
    )
    assert json.loads(runs[-1].read_text())["train_config"]["augment"] == "phase"
    md = (out / "report.md").read_text()
    assert "every frame rotated by a random carrier phase" in md
    assert "half the frames conjugated" not in md
