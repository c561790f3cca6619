"""The search end to end on tiny data: pareto.json and its exports, seeded trials, a
continued study, and the command's errors."""

from __future__ import annotations

import json

import optuna
import pytest

from amrkit.cli import main
from amrkit.metrics.network import network_metrics
from amrkit.models import CNNSpec
from amrkit.search.pareto import dominates
from amrkit.search.pipeline import run_search
from amrkit.search.study import default_storage


def _trials(out):
    study = optuna.load_study(study_name="amrkit-search", storage=default_storage(out))
    return sorted(study.get_trials(), key=lambda t: t.number)


def test_search_writes_the_pareto_set_with_checked_exports(tiny_h5, tiny_config, tmp_path):
    cfg = tiny_config(trials=4, max_macs=30_000, max_final=2)
    out = tmp_path / "s"
    result = run_search(cfg, tiny_h5, out, progress=False)
    doc = json.loads((out / "pareto.json").read_text())
    assert doc["format"] == "amrkit-pareto" and len(doc["trials"]) == 4
    assert (out / "pareto.png").stat().st_size > 10_000
    assert all(t["macs"] <= 30_000 for t in doc["trials"])  # the budget holds for every trial
    assert 1 <= len(doc["pareto"]) <= 2 and doc["pareto"] == result.pareto
    done = {t["number"]: t for t in doc["trials"] if t["state"] == "complete"}
    objectives = [(-t["accuracy"], t["macs"], t["int8_bytes"]) for t in done.values()]
    for m in doc["pareto"]:
        spec = CNNSpec.from_dict(m["spec_dict"])
        exact = network_metrics(spec, 128)
        assert (m["macs"], m["learnables"]) == (exact["macs"], exact["learnables"])
        me = (-done[m["trial"]]["accuracy"], m["macs"], m["int8_bytes"])
        assert not any(dominates(o, me) for o in objectives)  # on the front
        for key in ("run", "fp32_onnx", "int8_onnx"):
            assert (tmp_path / m[key]).exists()
        # the golden integer model ran on the test frames (its agreement with ORT is the
        # golden model's own business: barely trained tiny nets have tied integer logits)
        assert m["golden"]["frames"] == 32 and 0 <= m["golden"]["top1_agreement_with_ort"] <= 1
        assert 0 <= m["int8_test_accuracy"] <= 1 and m["latency_us"] > 0
    # continue: two more trials, the first four untouched, the final stage reuses its runs
    before = {t.number: (t.params, t.values) for t in _trials(out)}
    mtime = {m["spec"]: (tmp_path / m["run"] / "model.pt").stat().st_mtime for m in doc["pareto"]}
    run_search(tiny_config(trials=6, max_macs=30_000, max_final=2), tiny_h5, out, progress=False)
    after = _trials(out)
    assert len(after) == 6 and {t.number: (t.params, t.values) for t in after[:4]} == before
    doc2 = json.loads((out / "pareto.json").read_text())
    for m in doc2["pareto"]:
        if m["spec"] in mtime:
            assert (tmp_path / m["run"] / "model.pt").stat().st_mtime == mtime[m["spec"]]


def test_same_seed_same_trials(tiny_h5, tiny_config, tmp_path):
    runs = []
    for name in ("a", "b"):  # worker=1: the trials only
        run_search(tiny_config(trials=3), tiny_h5, tmp_path / name, worker=1, progress=False)
        runs.append([(t.params, t.values, t.state) for t in _trials(tmp_path / name)])
    assert runs[0] == runs[1]
    run_search(tiny_config(trials=3, seed=7), tiny_h5, tmp_path / "c", worker=1, progress=False)
    assert [t.params for t in _trials(tmp_path / "c")] != [p for p, _, _ in runs[0]]  # control


def cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code or 0, out, err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-macs", "10"], "smallest"),
        (["--max-int8-kb", "0.01"], "smallest"),
        (["--trials", "0"], "trials"),
        (["--workers", "0"], "--workers"),
        (["--storage", "postgresql://u:secret@127.0.0.1:1/none"], "cannot be opened"),
    ],
)
def test_cli_errors_are_one_line(tiny_h5, tmp_path, capsys, args, needle):
    code, _, err = cli(capsys, "search", tiny_h5, "--out", tmp_path / "x", *args)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and needle in lines[0], err
    assert "secret" not in err
    assert not (tmp_path / "x").exists()


def test_cli_refuses_a_foreign_folder(tiny_h5, tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, "search", tiny_h5, "--out", tmp_path / "x")
    assert code == 1 and "search.json" in err


def test_start_from_is_the_first_trial_fitted_to_the_budget(tiny_h5, tiny_config, tmp_path):
    from amrkit.errors import AmrkitError
    from amrkit.models.registry import get_spec
    from amrkit.search.space import start_params

    cfg = tiny_config(trials=2, start_from=("8x4p,8x2p,4x4",))
    run_search(cfg, tiny_h5, tmp_path / "s", worker=1, progress=False)
    first, second = _trials(tmp_path / "s")
    assert first.params == start_params(get_spec("8x4p,8x2p,4x4"), cfg)
    assert second.params != first.params  # the sampler goes on from there
    with pytest.raises(AmrkitError, match="outside the searched family"):
        run_search(tiny_config(start_from=("8x4p,6x4",)), tiny_h5, tmp_path / "t", worker=1,
                   progress=False)  # fmt: skip
    assert not (tmp_path / "t" / "study.db").exists()  # refused before anything is written
