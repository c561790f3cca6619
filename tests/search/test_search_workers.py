"""Scale-out: worker processes sharing one study (SQLite file, and a real PostgreSQL server
started here), a killed worker losing only its running trial, a restart continuing."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from glob import glob
from pathlib import Path

import optuna
import pytest
import sqlalchemy
import yaml
from optuna.trial import TrialState

from amrkit.search.study import default_storage


def _config_file(tmp_path: Path, cfg) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    return path


def _worker(data, out, config, k, *extra):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen(
        [sys.executable, "-m", "amrkit", "search", str(data), "--out", str(out), "--config",
         str(config), "--worker", str(k), "--quiet", "--json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out)


def _study(url):
    return optuna.load_study(study_name="amrkit-search", storage=url)


def test_two_workers_share_one_sqlite_study(tiny_h5, tiny_config, tmp_path):
    config = _config_file(tmp_path, tiny_config(trials=6))
    out = tmp_path / "s"
    procs = [_worker(tiny_h5, out, config, k) for k in (1, 2)]
    for p in procs:
        _finish(p)
    trials = _study(default_storage(out)).get_trials()
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert 6 <= len(counted) <= 7  # each worker checks the count after its trial
    assert {t.user_attrs["worker"] for t in counted} == {1, 2}  # both did trials
    assert len({t.number for t in trials}) == len(trials)


def test_killed_worker_loses_only_its_trial_and_a_restart_continues(tiny_h5, tiny_config, tmp_path):
    config = _config_file(tmp_path, tiny_config(trials=4, heartbeat_s=1))
    out = tmp_path / "s"
    url = default_storage(out)
    proc = _worker(tiny_h5, out, config, 1)
    deadline = time.time() + 180
    frozen = False
    while time.time() < deadline and not frozen and proc.poll() is None:
        time.sleep(0.1)  # kill it inside its second trial
        frozen = _second_trial_running(url, out) and _freeze_inside_a_trial(proc, url)
    if not frozen:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the worker never reached a second trial (exit {proc.returncode}): {err}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after_kill = _study(url).get_trials()
    lost = [t for t in after_kill if t.state == TrialState.RUNNING]
    assert len(lost) == 1  # the dead worker held exactly one trial
    running = lost[0]
    assert running.params  # sampled before the kill: its retry must reuse them
    completed_before = {t.number: t.values for t in after_kill if t.state == TrialState.COMPLETE}
    time.sleep(3.5)  # the heartbeat grace period (3 x 1 s) passes
    _finish(_worker(tiny_h5, out, config, 1))
    trials = _study(url).get_trials()
    by_number = {t.number: t for t in trials}
    assert by_number[running.number].state == TrialState.FAIL  # only the running trial lost
    for number, values in completed_before.items():
        assert by_number[number].values == values  # finished work is kept
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == running.number]
    assert len(retried) == 1
    # the retry reuses every parameter the dead trial had sampled (it may have been killed
    # before sampling them all; the retry samples the rest)
    lost_params = by_number[running.number].params
    assert lost_params and {k: retried[0].params.get(k) for k in lost_params} == lost_params
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(counted) == 4


def _study_created(db: Path) -> bool:
    """The worker has created the schema and the study. Read-only: optuna's load_study on a
    half-made schema would create it too, racing the worker (a duplicate alembic_version)."""
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as con:
            (n,) = con.execute("SELECT count(*) FROM studies").fetchone()
            (v,) = con.execute("SELECT count(*) FROM alembic_version").fetchone()
    except sqlite3.Error:  # no tables yet, or locked by the worker
        return False
    return n > 0 and v > 0


def _second_trial_running(url: str, out) -> bool:
    """The worker has finished a trial and sampled (and is training) a second one."""
    if not _study_created(out / "study.db"):
        return False
    try:
        trials = _study(url).get_trials()
    except sqlalchemy.exc.OperationalError:  # the worker is writing right now
        return False
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    run = [t for t in trials if t.state == TrialState.RUNNING and t.number >= 1 and t.params]
    return bool(done and run)


def _freeze_inside_a_trial(proc, url: str) -> bool:
    """SIGSTOP the worker; True if it stopped inside a sampled trial (the study cannot change
    under the check), else let it go on (it finished the trial in between, or was writing)."""
    proc.send_signal(signal.SIGSTOP)
    try:
        running = [t for t in _study(url).get_trials() if t.state == TrialState.RUNNING]
    except sqlalchemy.exc.OperationalError:  # stopped while holding the database
        running = []
    if len(running) == 1 and running[0].params:
        return True
    proc.send_signal(signal.SIGCONT)
    return False


def _pg_bin() -> Path | None:
    found = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@pytest.fixture()
def postgres():
    """A throw-away PostgreSQL server in a temp dir (unix socket only, trust auth)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries absent (Debian: apt-get install postgresql)")
    pytest.importorskip("psycopg2", reason="the psycopg2 driver is absent (psycopg2-binary)")
    root = Path(tempfile.mkdtemp(prefix="amrkit-pg-", dir="/tmp"))
    root.chmod(0o755)
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def pg(*args):
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    data = root / "data"
    pg(bindir / "initdb", "-D", data, "--auth=trust", "-U", "postgres")
    opts = f"-k {root} -p {port} -c listen_addresses=''"
    pg(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", root / "log", "-w", "start")
    try:
        pg(bindir / "createdb", "-h", root, "-p", str(port), "-U", "postgres", "amrkit")
        yield f"postgresql+psycopg2://postgres@/amrkit?host={root}&port={port}"
    finally:
        pg(bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_a_postgresql_study(postgres, tiny_h5, tiny_config, tmp_path):
    config = _config_file(tmp_path, tiny_config(trials=5))
    procs = [  # two "machines": separate folders, one study on the server
        _worker(tiny_h5, tmp_path / f"m{k}", config, k, "--storage", postgres) for k in (1, 2)
    ]
    reports = [_finish(p) for p in procs]
    trials = _study(postgres).get_trials()
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert 5 <= len(counted) <= 6
    assert {t.user_attrs["worker"] for t in counted} == {1, 2}
    assert not (tmp_path / "m1" / "study.db").exists()  # nothing went to SQLite
    assert all(r["pareto_json"] is None for r in reports)  # workers leave the final stage
