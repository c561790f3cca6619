"""The real thing in subprocesses: SIGKILL mid-epoch then --resume; torchrun with 2 processes."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
ARGS = [
    "--model",
    "8x4p,16x4",
    "--epochs",
    "4",
    "--batch-size",
    "32",
    "--seed",
    "3",
    "--threads",
    "1",
    "--quiet",
]

# Runs the CLI, but after the first mid-epoch checkpoint of epoch 3 it drops a marker and
# hangs, so the test can SIGKILL it at a known point (test-only patch, not a product hook).
HANG_AFTER_CHECKPOINT = """
import os, pathlib, sys, time
import amrkit.train.runner as runner
pathlib.Path(str(sys.argv[1]) + ".pid" + os.environ.get("RANK", "0")).write_text(str(os.getpid()))
real = runner.save_checkpoint
def save(*args, **kwargs):
    path = real(*args, **kwargs)
    state = args[3]
    if state.epoch == 2 and state.step > 0:
        pathlib.Path(sys.argv[1]).write_text(f"{state.epoch} {state.step}")
        time.sleep(600)
    return path
runner.save_checkpoint = save
from amrkit.cli import main
main(sys.argv[2:])
"""


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _amrkit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "amrkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        cwd=ROOT,
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_sigkill_mid_epoch_then_resume_gives_identical_weights(easy_h5, tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HANG_AFTER_CHECKPOINT,
            str(marker),
            "train",
            str(easy_h5),
            "--out",
            str(killed),
            "--checkpoint-every",
            "4",
            *ARGS,
        ],
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "no mid-epoch checkpoint appeared"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ckpt = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and ckpt["step"] == 4  # killed inside epoch 3
    assert not (killed / "metrics.json").exists()
    done = _rows(killed)
    assert len(done) == 2

    r = _amrkit(
        "train",
        str(easy_h5),
        "--out",
        str(killed),
        "--resume",
        "--threads",
        "1",
        "--quiet",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["resumed"] is True
    r = _amrkit("train", str(easy_h5), "--out", str(full), "--checkpoint-every", "4", *ARGS)
    assert r.returncode == 0, r.stderr

    a = torch.load(full / "model.pt", weights_only=True)
    b = torch.load(killed / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ca = torch.load(full / "checkpoint.pt", weights_only=True)
    cb = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(ca["model"][k], cb["model"][k]) for k in ca["model"])
    ra, rb = _rows(full), _rows(killed)
    assert [r["val_loss"] for r in ra] == [r["val_loss"] for r in rb]
    assert rb[:2] == done  # epochs finished before the kill were not trained again
    ma = json.loads((full / "metrics.json").read_text())
    mb = json.loads((killed / "metrics.json").read_text())
    assert ma["test_accuracy"] == mb["test_accuracy"] and ma["best_epoch"] == mb["best_epoch"]


DDP_ARGS = [
    "--model",
    "8x4p,16x4",
    "--epochs",
    "5",
    "--batch-size",
    "32",
    "--checkpoint-every",
    "3",
    "--device",
    "cpu",
    "--quiet",
]


def _torchrun(target: list[str], *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--standalone",
            *target,
            "train",
            *args,
        ],
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.fixture(scope="module")
def ddp_run(easy_h5, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "run"
    proc = _torchrun(["-m", "amrkit"], str(easy_h5), "--out", str(out), *DDP_ARGS, "--json")
    stdout, stderr = proc.communicate(timeout=170)
    assert proc.returncode == 0, stderr[-3000:]
    return out, stdout


def test_torchrun_two_processes_on_cpu(ddp_run):
    out, stdout = ddp_run
    assert {p.name for p in out.iterdir()} == {
        "run.json",
        "model.pt",
        "metrics.json",
        "history.csv",
        "checkpoint.pt",
    }  # rank 0 wrote everything, nobody left temp files
    m = json.loads((out / "metrics.json").read_text())
    assert json.loads(stdout) == m  # only rank 0 printed
    assert m["world_size"] == 2 and m["complete"]
    assert m["test_accuracy"] >= 0.8  # chance is 0.25
    assert len(_rows(out)) == 5
    # each step covers the global batch: 2 ranks x 16 frames x 10 steps = 320 frames/epoch
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["world_size"] == 2 and len(ckpt["rng"]) == 2
    assert [h["train_frames"] for h in ckpt["history"]] == [320] * 5
    info = json.loads((out / "run.json").read_text())
    assert info["runtime"]["world_size"] == 2


def test_torchrun_killed_mid_epoch_resumes_exactly(ddp_run, easy_h5, tmp_path):
    full, _ = ddp_run
    killed, marker = tmp_path / "killed", tmp_path / "marker"
    script = tmp_path / "hang.py"
    script.write_text(
        HANG_AFTER_CHECKPOINT.replace("sys.argv[1]", repr(str(marker))).replace(
            "main(sys.argv[2:])", "main(sys.argv[1:])"
        )
    )
    proc = _torchrun(
        [str(script)], str(easy_h5), "--out", str(killed), *DDP_ARGS, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 150
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no mid-epoch checkpoint appeared"
            time.sleep(0.1)
    finally:
        for rank in (0, 1):  # torchrun starts the ranks in sessions of their own
            pid_file = Path(f"{marker}.pid{rank}")
            if pid_file.exists():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher
        proc.communicate(timeout=60)
    ckpt = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert (ckpt["epoch"], ckpt["step"]) == (2, 3)
    proc = _torchrun(["-m", "amrkit"], str(easy_h5), "--out", str(killed), "--resume", "--quiet")
    _, stderr = proc.communicate(timeout=170)
    assert proc.returncode == 0, stderr[-3000:]
    a = torch.load(full / "model.pt", weights_only=True)
    b = torch.load(killed / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["val_loss"] for r in _rows(full)] == [r["val_loss"] for r in _rows(killed)]
    assert [float(r["train_loss"]) for r in _rows(full)] == pytest.approx(
        [float(r["train_loss"]) for r in _rows(killed)], rel=1e-6
    )
