"""``amrkit classify MODEL -`` and ``zmq+tcp://…`` as a user runs them: a real process with a
pipe on standard input. Decisions are the file's bytes; EOF, Ctrl-C, SIGTERM and a closed
output end cleanly (no traceback); broken input ends in one line, exit 1, decisions kept."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from amrkit.classify import classify_recording, write_predictions
from amrkit.data.recording import open_recording
from amrkit.infer import load_predictor


def _amrkit(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "amrkit", "classify", *map(str, args)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw,
    )  # fmt: skip


def _file_bytes(tmp_path, model, data, datatype, rate, suffix, **kw) -> bytes:
    raw = tmp_path / f"rec.{datatype}"
    raw.write_bytes(data)
    result = classify_recording(load_predictor(model), open_recording(raw, datatype, rate), **kw)
    return write_predictions(result, tmp_path / f"file{suffix}").read_bytes()


def _feed(proc, data, keep_open=False):
    """Write ``data`` to the process's standard input from a thread (a live source)."""

    def run():
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
            if not keep_open:
                proc.stdin.close()
        except (BrokenPipeError, ValueError):  # the process stopped reading, on purpose
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize(("flag", "suffix"), [(None, ".csv"), ("--json", ".jsonl")])
def test_stdin_gives_the_file_bytes(models, kit, tmp_path, flag, suffix):
    z = kit.signal(2.4, 30, seed=21)
    data = kit.encode(z, "ci16")
    want = _file_bytes(tmp_path, models["int8"], data, "ci16", 2.4e6, suffix, chunk=65_536)
    args = [models["int8"], "-", "--format", "ci16", "--sample-rate", "2.4e6", "--chunk", 65536]
    proc = _amrkit(*args, *([flag] if flag else []))
    out, err = proc.communicate(data, timeout=120)
    assert proc.returncode == 0, err
    assert out == want  # flushed per decision, and the same bytes as classify --out
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"amrkit: 240 frames from {len(z)} samples of stdin")
    assert "no samples dropped" in lines[0]


def test_a_stream_to_out_prints_a_json_summary(models, kit, tmp_path):
    data = kit.encode(kit.signal(1.0, 10, seed=22), "cu8")
    out = tmp_path / "live.jsonl"
    proc = _amrkit(models["onnx"], "-", "--format", "cu8", "--sample-rate", "1e6", "--out", out,
                   "--json")  # fmt: skip
    stdout, err = proc.communicate(data, timeout=120)
    assert proc.returncode == 0, err
    summary = json.loads(stdout)
    assert summary["end"] == "end of stream" and summary["frames"] == 80 == len(
        out.read_text().splitlines()
    )
    assert summary["samples_received"] == 5120 and summary["backpressure"]["mode"] == "block"
    assert summary["outputs"] == {"predictions": str(out)}


def test_odd_byte_count_is_one_line_and_exit_1_with_decisions_kept(models, kit, tmp_path):
    data = kit.encode(kit.signal(1.0, 10, seed=23), "ci16")
    want = _file_bytes(tmp_path, models["onnx"], data, "ci16", 1e6, ".csv")
    proc = _amrkit(models["onnx"], "-", "--format", "ci16", "--sample-rate", "1e6")
    out, err = proc.communicate(data + b"\x01", timeout=120)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("error: stdin ended inside a sample: 1 ")
    assert lines[0].endswith("; 80 frames were classified before")
    assert out == want


def test_a_closed_output_ends_quietly(models, kit):
    """``amrkit classify … - | head -3``: no traceback, no complaint, exit 0."""
    data = kit.encode(kit.signal(1.0, 3000, seed=24), "ci16")  # 24000 decisions: > a pipe
    proc = _amrkit(models["int8"], "-", "--format", "ci16", "--sample-rate", "1e6")
    _feed(proc, data, keep_open=True)
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert head[0].startswith(b"start_sample,") and head[2].count(b",") == 10
    assert proc.returncode == 0 and err == b""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_end_a_live_stream_with_its_summary(models, kit, sig):
    data = kit.encode(kit.signal(1.0, 20, seed=25), "ci16")
    # a terminal's Ctrl-C: the child must not inherit an ignored SIGINT (a shell's background
    # job or nohup ignores it, and Python then leaves it ignored); a Python handler here
    # becomes the default disposition across exec
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = _amrkit(models["int8"], "-", "--format", "ci16", "--sample-rate", "1e6",
                       "--chunk", 4096, "--timeout", 0)  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, old)
    watchdog = threading.Timer(120, proc.kill)  # a child that ignores the signal fails, not hangs
    watchdog.start()
    try:
        _feed(proc, data, keep_open=True)  # a live source: more may come, nothing ends it
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[1].count(b",") == 10  # decisions are flushed as they are made
        time.sleep(0.2)
        proc.send_signal(sig)
        # the buffered reader, not communicate(): readline may have read ahead
        out = proc.stdout.read()  # to the end: the process stopped and closed it
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    text = err.decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert text.strip().splitlines()[-1].endswith("[interrupted]")
    rows = lines[1:] + out.splitlines()
    assert len(rows) == 160  # every whole frame that arrived (the queue too), none twice
    assert "no samples dropped" in text


def test_a_zmq_publisher_that_stops_ends_in_one_line(models, kit, tmp_path):
    zmq = pytest.importorskip("zmq", reason="pyzmq is optional: pip install 'amrkit[stream]'")
    data = kit.encode(kit.signal(1.0, 100, seed=26), "cf32")
    want = _file_bytes(tmp_path, models["int8"], data, "cf32", 1e6, ".jsonl", chunk=8192)
    sock = zmq.Context.instance().socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 60_000)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    proc = _amrkit(models["int8"], f"zmq+tcp://127.0.0.1:{port}", "--sample-rate", "1e6",
                   "--timeout", "1", "--chunk", 8192, "--json")  # fmt: skip
    try:
        sock.recv()  # subscribed
        for off in range(0, len(data), 32768):
            sock.send(data[off : off + 32768])
            time.sleep(0.004)  # about 1 MS/s
        out, err = proc.communicate(timeout=120)
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1
    assert len(lines) == 1 and lines[0].startswith(
        f"error: no samples from zmq+tcp://127.0.0.1:{port}"
    )
    assert out == want


def _cli(capsys, *args):
    from amrkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_stream_option_errors_are_one_line(models, tmp_path, capsys):
    m = models["onnx"]
    raw = tmp_path / "x.cu8"
    raw.write_bytes(bytes(4096))
    cases = [
        (["-", "--format", "cu8"], "needs its sample rate"),
        (["-", "--sample-rate", "1e6"], "needs its sample format"),
        (["-", "--format", "cu8", "--sample-rate", "1e6", "--annotate"], "a stream has none"),
        (["-", "--format", "cu8", "--sample-rate", "1e6", "--max-delay", "0"], "--max-delay 0"),
        (["-", "--format", "cu8", "--sample-rate", "1e6", "--timeout", "-1"], "--timeout -1"),
        (["-", "--format", "cu8", "--sample-rate", "1e6", "--out", tmp_path / "o.txt"],
         "use .csv or .jsonl"),
        (["zmq+tcp://nowhere", "--sample-rate", "1e6"], "not a ZeroMQ address"),
        (["zmq+tcp://127.0.0.1:5", "--sample-rate", "1e6", "--zmq-socket", "req"],
         "--zmq-socket 'req'"),
        ([raw, "--format", "cu8", "--sample-rate", "1e6", "--publish", "tcp://*:5556"],
         "--publish applies to live streams"),
        ([raw, "--format", "cu8", "--sample-rate", "1e6", "--max-delay", "1"],
         "--max-delay applies to live streams"),
    ]  # fmt: skip
    for args, pattern in cases:
        code, _, err = _cli(capsys, "classify", m, *args)
        lines = err.strip().splitlines()
        assert code == 1, (args, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert re.search(re.escape(pattern), lines[0]), (pattern, lines[0])
    assert not (tmp_path / "o.txt").exists()
