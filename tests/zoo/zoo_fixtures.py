"""Tiny zoo entries built the real way (synthesize → ``train_model`` → ``add_entry``), for
the zoo's tests and the report's. Loaded by file path (``importlib``), as test modules
cannot import another folder's conftest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

TINY_CLASSES = ("BPSK", "QPSK", "GFSK", "DSB-AM")
TRAIN_SEED = 3


def build_tiny_entry(
    root: Path,
    zoo: Path,
    name: str = "tiny",
    *,
    classes: tuple[str, ...] = TINY_CLASSES,
    frames_per_class: int = 80,
    frame_length: int = 128,
    spec: str = "4x4p,8x4p",
    epochs: int = 3,
    test_frames_per_class: int = 50,
    sweep_snrs: tuple[float, ...] = (-10.0, 10.0, 30.0),
    sweep_frames_per_snr: int = 10,
    report_group: str | None = None,
    extra: Path | None = None,
):
    """Synthesize training data, train ``spec`` on it, and add it to ``zoo`` as ``name``."""
    from amrkit.data.synth import preset_config, synthesize
    from amrkit.quant import PTQConfig
    from amrkit.train.config import TrainConfig
    from amrkit.train.runner import train_model
    from amrkit.zoo.build import add_entry
    from amrkit.zoo.measure import CardConfig

    root.mkdir(parents=True, exist_ok=True)
    data = root / "train.h5"
    cfg = preset_config(
        "matlab", classes=classes, frames_per_class=frames_per_class,
        frame_length=frame_length, seed=TRAIN_SEED,
    )  # fmt: skip
    synthesize(cfg, data, workers=1)
    tcfg = TrainConfig(epochs=epochs, batch_size=32, lr=0.05, lr_drop_epoch=epochs, seed=0)
    train_model(data, spec, root / "run", tcfg, device="cpu", threads=1, progress=False)
    card = CardConfig(
        test_frames_per_class=test_frames_per_class, sweep_snrs=sweep_snrs,
        sweep_frames_per_snr=sweep_frames_per_snr, golden_frames=64, mcu=False,
    )  # fmt: skip
    return add_entry(
        root / "run", data, name, card_config=card, ptq=PTQConfig(calib_frames=64),
        summary=f"tiny test model {spec}", report_group=report_group, extra=extra, zoo_dir=zoo,
        source_commands=[f"amrkit train train.h5 --model {spec} --epochs {epochs}"],
        workers=1, threads=1,
    )  # fmt: skip


def copy_zoo(src: Path, dst: Path, names: list[str] | None = None) -> Path:
    """A copy of the zoo at ``src`` (index and entry folders; ``names``: only these)."""
    index = json.loads((src / "index.json").read_text())
    keep = names if names is not None else list(index["entries"])
    dst.mkdir(parents=True, exist_ok=True)
    for n in keep:
        shutil.copytree(src / n, dst / n)
    index["entries"] = {n: index["entries"][n] for n in keep}
    (dst / "index.json").write_text(json.dumps(index, indent=2))
    return dst


def flip_byte(path: Path, where: float = 0.5) -> None:
    """Change one byte of ``path`` (same size: the SHA-256 must catch it)."""
    data = bytearray(path.read_bytes())
    i = int(len(data) * where)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def iq_recording(n: int, seed: int = 0) -> np.ndarray:
    """Complex white noise at unit power (a recording's samples)."""
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(
        np.complex64
    )


def invoke(capsys, *args) -> tuple[int, str, str]:
    """``amrkit ARGS`` in-process: (exit code, stdout, stderr)."""
    from amrkit.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code: int, err: str) -> str:
    """The single ``error:`` line of a failed command (exit 1, nothing else on stderr)."""
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]
