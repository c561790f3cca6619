"""amrkit.fileio.output_lock: one writer per output folder, stale locks taken over, nothing
left behind by an interrupted owner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from amrkit.cli import main
from amrkit.errors import AmrkitError
from amrkit.fileio import lock_path, output_lock

HOLD = (
    "import sys, time\n"
    "from amrkit.fileio import output_lock\n"
    "with output_lock(sys.argv[1]):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(120)\n"
)


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path / 'out'."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    proc.kill()
    proc.wait()


def test_second_writer_gets_one_line_error_naming_the_owner(holder, tmp_path):
    with pytest.raises(AmrkitError) as exc, output_lock(tmp_path / "out"):
        pass
    text = str(exc.value)
    assert f"pid {holder.pid}" in text and "\n" not in text
    # the owner's record is on disk: pid and host
    owner = json.loads(lock_path(tmp_path / "out").read_text())
    assert owner["pid"] == holder.pid and owner["host"]


def test_train_into_a_locked_folder_is_refused(holder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "out"),
              "--model", "8x8p"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 1 and err.startswith("error: ") and len(err.splitlines()) == 1
    assert f"pid {holder.pid}" in err
    assert not (tmp_path / "out").exists()


def test_reproduce_into_a_locked_folder_is_refused(holder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 1 and err.startswith("error: ") and len(err.splitlines()) == 1
    assert f"pid {holder.pid}" in err
    assert not (tmp_path / "out").exists()


def test_lock_of_a_killed_owner_is_stale_and_taken_over(holder, tmp_path):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lock = lock_path(tmp_path / "out")
    assert json.loads(lock.read_text())["pid"] == holder.pid  # left behind by SIGKILL
    with output_lock(tmp_path / "out") as held:
        assert held == lock
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_one_process_cannot_hold_a_folder_twice_and_spellings_share_the_lock(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    with output_lock(tmp_path / "real"):
        for other in (tmp_path / "real", tmp_path / "alias", tmp_path / "sub" / ".." / "real"):
            with pytest.raises(AmrkitError, match=f"pid {os.getpid()}"), output_lock(other):
                pass
    with output_lock(tmp_path / "alias"):  # released: free again
        pass


def test_interrupt_releases_the_lock_and_removes_created_parents(tmp_path):
    out = tmp_path / "a" / "b" / "run"
    with pytest.raises(KeyboardInterrupt), output_lock(out):
        assert lock_path(out).exists()
        raise KeyboardInterrupt
    assert not (tmp_path / "a").exists()  # nothing left behind
    with output_lock(out):
        out.mkdir()
    assert out.is_dir() and not lock_path(out).exists()
