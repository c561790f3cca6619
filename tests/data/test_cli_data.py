"""``amrkit generate`` and ``amrkit info`` end to end, and their one-line errors."""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from amrkit.cli import main


def run(argv, capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code or 0, out.out, out.err


def test_generate_wide_preset_records_the_impairments(tmp_path, capsys):
    path = tmp_path / "w.h5"
    argv = ["generate", str(path), "--preset", "wide", "--classes", "QPSK"]
    code, _, _ = run([*argv, "--frames-per-class", "21", "-q"], capsys)
    assert code == 0
    with h5py.File(path) as f:
        assert {"cfo_hz", "phase_noise_hz", "iq_gain_db", "dc_offset"} <= set(f["channel"])
        assert json.loads(f.attrs["config"])["preset"] == "wide"
        assert sorted(set(f["snr_db"][...].tolist()))[::20] == [-10.0, 30.0]


def test_generate_impairment_options(tmp_path, capsys):
    path = tmp_path / "i.h5"
    argv = ["generate", str(path), "--classes", "QPSK", "--frames-per-class", "4", "-q"]
    code, _, _ = run([*argv, "--cfo", "0.02", "--iq-imbalance", "2,10"], capsys)
    assert code == 0
    with h5py.File(path) as f:
        assert {"cfo_hz", "iq_gain_db", "iq_phase_deg"} <= set(f["channel"])
        assert "dc_offset" not in f["channel"]  # not asked for: not drawn
        imp = json.loads(f.attrs["config"])["impairments"]
        assert (imp["cfo_max"], imp["iq_gain_db"], imp["iq_phase_deg"]) == (0.02, 2.0, 10.0)
    bad = tmp_path / "bad.h5"
    code, _, err = run(["generate", str(bad), "--iq-imbalance", "2", "-q"], capsys)
    assert code == 1 and "--iq-imbalance '2'" in err and err.count("\n") == 1
    assert not bad.exists()


def test_generate_range_options_record_their_draws(tmp_path, capsys):
    path = tmp_path / "r.h5"
    argv = ["generate", str(path), "--classes", "QPSK,B-FM", "--frames-per-class", "6", "-q"]
    extra = ["--sps-range", "4,12", "--pulses", "rc,rect", "--delay-spread", "1.5"]
    code, _, _ = run(
        [*argv, *extra, "--k-factor", "0,5", "--fm-deviation-range", "3e4,6e4"], capsys
    )
    assert code == 0
    with h5py.File(path) as f:
        ch = f["channel"]
        assert {"sps", "pulse", "fm_deviation_hz", "delay_spread", "k_factor", "taps"} <= set(ch)
        assert "rolloff" not in ch and "timing_jitter" not in ch  # not asked for: not drawn
        sps = ch["sps"][:6]
        assert np.all((sps >= 4) & (sps <= 12))
        stored = json.loads(f.attrs["config"])
        assert stored["signal_ranges"]["pulses"] == ["rc", "rect"]
        assert stored["multipath"]["k_factor_max"] == 5.0
    again = tmp_path / "again.h5"
    assert run(["generate", str(again), "--config", str(path), "-q"], capsys)[0] == 0
    with h5py.File(path) as f, h5py.File(again) as g:
        assert np.array_equal(f["iq"][...], g["iq"][...])  # the stored config regenerates it
    bad = tmp_path / "bad.h5"
    code, _, err = run(["generate", str(bad), "--sps-range", "1,4", "-q"], capsys)
    assert code == 1 and "sps_min 1" in err and err.count("\n") == 1
    assert not bad.exists()


def test_generate_then_info(tmp_path, capsys):
    path = tmp_path / "d.h5"
    code, out, _ = run(
        [
            "generate",
            str(path),
            "--classes",
            "BPSK,CPFSK",
            "--frames-per-class",
            "20",
            "--snr",
            "-10:10:10",
            "--seed",
            "3",
            "--workers",
            "2",
        ],
        capsys,
    )
    assert code == 0
    assert "40 frames" in out and "frames/s" in out and "MiB" in out
    with h5py.File(path) as f:
        assert f["iq"].shape == (40, 2, 1024)
        assert sorted(set(f["snr_db"][...].tolist())) == [-10.0, 0.0, 10.0]

    code, out, _ = run(["info", str(path)], capsys)
    assert code == 0
    for text in (
        "frames         40",
        "BPSK, CPFSK",
        "1024 samples",
        "200,000 Hz",
        "-10:10:10",
        "train",
        "seed = 3",
    ):
        assert text in out

    code, out, _ = run(["info", str(path), "--json"], capsys)
    info = json.loads(out)
    assert info["num_frames"] == 40 and info["classes"] == ["BPSK", "CPFSK"]
    assert info["snr_db"] == [-10.0, 0.0, 10.0]
    assert info["counts"]["all"] == {"BPSK": 20, "CPFSK": 20}
    assert sum(info["counts"]["train"].values()) == 28  # floor(0.8·n) per (class, SNR): 5+5+4
    assert info["config"]["seed"] == 3 and info["sample_rate_hz"] == 200e3


def test_info_passes_filters_through(tmp_path, capsys):
    path = tmp_path / "d.h5"
    run(
        [
            "generate",
            str(path),
            "--classes",
            "QPSK,8PSK,GFSK",
            "--frames-per-class",
            "6",
            "--snr",
            "0,20",
            "-q",
        ],
        capsys,
    )
    code, out, _ = run(
        ["info", str(path), "--json", "--classes", "GFSK,QPSK", "--snr-min", "10"], capsys
    )
    info = json.loads(out)
    assert code == 0 and info["classes"] == ["GFSK", "QPSK"] and info["num_frames"] == 6
    assert info["snr_db"] == [20.0]
    code, _, err = run(["info", str(path), "--format", "nosuchformat"], capsys)
    assert code == 1 and err.startswith("error:")


def test_generate_clean_and_config_regeneration(tmp_path, capsys):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    code, _, _ = run(
        [
            "generate",
            str(a),
            "--preset",
            "matlab",
            "--classes",
            "PAM4",
            "--frames-per-class",
            "5",
            "--channel",
            "none",
            "--snr",
            "inf",
        ],
        capsys,
    )
    assert code == 0
    code, out, _ = run(["generate", str(b), "--config", str(a), "--json"], capsys)
    summary = json.loads(out)
    assert code == 0 and summary["config"]["channel"] == "none"
    with h5py.File(a) as fa, h5py.File(b) as fb:
        assert fa["iq"][...].tobytes() == fb["iq"][...].tobytes()
        assert np.isinf(fb["snr_db"][...]).all()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--classes", "BPSK,FOO"], "valid classes: BPSK, QPSK, 8PSK"),
        (["--snr", "30:-10:2"], "empty"),
        (["--channel", "none", "--snr", "30"], "--snr inf"),
        (["--frames-per-class", "-5"], "--frames-per-class -5"),
        (["--split", "0.9,0.9,0.1"], "summing to 1"),
        (["--workers", "0"], "--workers 0"),
    ],
)
def test_bad_input_one_line_error_no_file(tmp_path, capsys, args, needle):
    path = tmp_path / "bad.h5"
    code, out, err = run(["generate", str(path), "--frames-per-class", "2", *args], capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert os.listdir(tmp_path) == []  # no output, no temp file


def test_unwritable_path(tmp_path, capsys):
    blocker = tmp_path / "plainfile"
    blocker.write_text("x")
    code, _, err = run(["generate", str(blocker / "out.h5"), "--frames-per-class", "2"], capsys)
    assert code == 1 and err.count("\n") == 1 and "cannot create folder" in err
    assert os.listdir(tmp_path) == ["plainfile"]


def test_not_audio_wav(tmp_path, capsys):
    wav = tmp_path / "fake.wav"
    wav.write_bytes(os.urandom(2000))
    code, _, err = run(
        [
            "generate",
            str(tmp_path / "o.h5"),
            "--classes",
            "B-FM",
            "--frames-per-class",
            "2",
            "--audio",
            str(wav),
        ],
        capsys,
    )
    assert code == 1 and err.count("\n") == 1 and "not a readable WAV" in err
    assert sorted(os.listdir(tmp_path)) == ["fake.wav"]


def test_module_entry_point_exit_code(tmp_path):
    """The real process: exit status 1, one stderr line, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "amrkit", "generate", str(tmp_path / "x.h5"), "--classes", "NOPE"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.h5").exists()


def test_ctrl_c_leaves_no_file_and_no_workers(tmp_path):
    """SIGINT to the process group mid-run (2 workers): exit 130, nothing left behind."""
    import signal
    import time

    target = tmp_path / "big.h5"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "amrkit",
            "generate",
            str(target),
            "--frames-per-class",
            "20000",
            "--workers",
            "2",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60

    def written() -> int:  # bytes of the temp file so far (blocks are being written)
        return sum(p.stat().st_size for p in tmp_path.iterdir() if p.name.startswith(".big.h5."))

    try:
        while written() < 8 << 20:  # mid-run: past start-up, well before the end (1.8 GB)
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
    finally:  # a failed wait must not leave a 1.8 GB generate running
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ProcessLookupError):  # the group (parent and workers) is gone
        os.killpg(proc.pid, 0)
