"""Build and run a generated library on the host (``cc``): the bit-exactness check against
the golden model, and the debug build that dumps every layer's output tensor."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from amrkit.errors import AmrkitError

HOST_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2")


def find_cc(cc: str | None = None) -> str | None:
    """The host C compiler: ``cc`` or the given one, None when absent."""
    return shutil.which(cc or "cc")


def build_host(
    lib_dir: str | Path, exe: str | Path, *, name: str = "amr", debug: bool = False,
    cc: str | None = None, extra: tuple[str, ...] = (),
) -> Path:  # fmt: skip
    """Compile ``example_main.c`` with the library into ``exe``; a compile error is an
    AmrkitError carrying the compiler's first lines."""
    compiler = find_cc(cc)
    if compiler is None:
        raise AmrkitError(
            f"no C compiler {cc or 'cc'!r} on PATH; install gcc (apt-get install gcc)"
        )
    lib = Path(lib_dir)
    srcs = [lib / f"{name}_model.c", lib / f"{name}_weights.c", lib / "example_main.c"]
    flags = [*HOST_FLAGS, *(["-DAMR_DEBUG".replace("AMR", name.upper())] if debug else []), *extra]
    cmd = [compiler, *flags, *map(str, srcs), "-lm", "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = "; ".join(proc.stderr.strip().splitlines()[:3])
        raise AmrkitError(f"the C compiler failed ({' '.join(cmd[:2])} ...): {first}")
    return Path(exe)


def frames_file(iq: np.ndarray, path: str | Path) -> Path:
    """(n, 2, L) float frames → the example's float32 (n, L, 2) interleaved file."""
    np.ascontiguousarray(np.asarray(iq, np.float32).transpose(0, 2, 1)).tofile(path)
    return Path(path)


def start_example(exe: str | Path, frames: str | Path, *args: str) -> subprocess.Popen:
    """Start the example program on a frames file (collect with :func:`finish_example`), so
    the caller can compute the reference meanwhile."""
    return subprocess.Popen(
        [str(exe), str(frames), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_example(proc: subprocess.Popen, num_classes: int) -> np.ndarray:
    """Wait for the example program → (n, classes) int64 final integers."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise AmrkitError(f"{proc.args[0]} failed (exit {proc.returncode}): {err.strip()[:200]}")
    rows = [line.split()[3:] for line in out.splitlines() if line.strip()]
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), num_classes)


def run_example(exe: str | Path, frames: str | Path, *args: str, num_classes: int) -> np.ndarray:
    """Run the example program on a frames file → (n, classes) int64 final integers."""
    return finish_example(start_example(exe, frames, *args), num_classes)


def read_dump(path: str | Path) -> dict[str, list[np.ndarray]]:
    """The debug build's tensor dump: name → per-frame flat arrays (channel-last)."""
    data = Path(path).read_bytes()
    out: dict[str, list[np.ndarray]] = {}
    pos = 0
    while pos < len(data):
        end = data.index(b"\0", pos)
        name = data[pos:end].decode()
        nbytes, count = np.frombuffer(data, np.int32, 2, end + 1)
        start = end + 9
        dtype = np.int8 if nbytes == 1 else np.int32
        out.setdefault(name, []).append(np.frombuffer(data, dtype, int(count), start).copy())
        pos = start + int(nbytes) * int(count)
    return out


def channel_last(a: np.ndarray) -> np.ndarray:
    """Golden (n, C, *S) → (n, prod(S)·C) in the C library's memory order."""
    a = np.asarray(a)
    n, c = a.shape[0], a.shape[1]
    return a.reshape(n, c, -1).transpose(0, 2, 1).reshape(n, -1)
