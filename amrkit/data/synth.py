"""The dataset synthesizer: the reference 11-class modulation dataset, fast and reproducible.

Per frame (docs/reference.md): modulate a fresh source → channel (Rician multipath, clock
offset, AWGN) → cut ``frame_length`` samples after ``skip`` + a random 0…sps offset →
normalize to unit average power. Frames are made in fixed blocks of ``block_size``; block
``b`` draws all its randomness from ``SeedSequence(seed, spawn_key=(0, b))``, so the bytes
of every frame depend on the config alone, never on how many workers made them.

Frame order in the file is class-major (all frames of ``classes[0]``, then ``classes[1]``,
…); within a class the SNRs cycle through ``snrs`` in the given order.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import math
import mmap
import multiprocessing
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.channel import (
    ChannelModel,
    add_awgn,
    apply_clock_offset,
    apply_multipath,
    draw_ppm,
    frequency_offset_hz,
    interpolate_gains,
    rician_knots,
)
from amrkit.channel.clock import window_rows
from amrkit.data.frames import format_snrs
from amrkit.data.split import parse_fractions, stratified_split
from amrkit.errors import AmrkitError
from amrkit.signals import ANALOG, CLASSES, ModulationParams, modulate
from amrkit.signals.audio import F_HIGH_HZ, AudioClip, clip_segments
from amrkit.signals.catalog import ANALOG_MARGIN

PRESETS: dict[str, dict[str, Any]] = {
    # the MathWorks reference: every default of SynthConfig is its value
    "matlab": {},
}
CHANNELS = ("full", "awgn", "none")
SNR_CONVENTIONS = ("measured", "matlab")
__all__ = [
    "CHANNELS",
    "PRESETS",
    "SNR_CONVENTIONS",
    "SynthConfig",
    "format_snrs",
    "frame_plan",
    "load_config",
    "parse_snrs",
    "preset_config",
    "synthesize",
    "synthesize_arrays",
    "synthesize_block",
]
GENERATOR = "amrkit.data.synth"
MAX_FRAME_LENGTH = 1 << 20


# ---- SNR lists --------------------------------------------------------------------------
def _snr_value(text: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AmrkitError(
            f"SNR {text!r} in {whole!r} is not a number; use e.g. 30, 0,10,20, -10:30:2 or inf"
        ) from None
    if math.isnan(value) or value == -math.inf:
        raise AmrkitError(f"SNR {text!r} in {whole!r} is not allowed; use a finite dB value or inf")
    return value


def parse_snrs(text: str | float | Sequence[float]) -> tuple[float, ...]:
    """``"30"``, ``"0,10,20"``, ``"-10:30:2"`` (inclusive), ``"inf"`` or a mix → SNRs in dB.

    Ranges ``start:stop:step`` include ``stop`` when it lies on the grid. Duplicates, empty
    ranges, NaN and −inf are errors.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        parts: list[str] = [repr(float(text))]
        whole = str(text)
    elif isinstance(text, str):
        whole = text
        parts = [p.strip() for p in text.split(",")]
    else:
        parts = [repr(float(v)) for v in text]
        whole = ",".join(parts)
    values: list[float] = []
    for part in parts:
        if not part:
            raise AmrkitError(f"SNR list {whole!r} has an empty item; use e.g. 0,10,20")
        if ":" in part:
            fields = part.split(":")
            if len(fields) != 3:
                raise AmrkitError(
                    f"SNR range {part!r} must be start:stop:step (inclusive), e.g. -10:30:2"
                )
            start, stop, step = (_snr_value(f.strip(), whole) for f in fields)
            if not all(math.isfinite(v) for v in (start, stop, step)) or step == 0:
                raise AmrkitError(
                    f"SNR range {part!r} needs finite start, stop and a non-zero step, "
                    "e.g. -10:30:2"
                )
            count = math.floor((stop - start) / step + 1e-9) + 1
            if count < 1:
                raise AmrkitError(
                    f"SNR range {part!r} is empty (step {step:g} never reaches {stop:g} from "
                    f"{start:g}); swap start and stop or flip the step's sign"
                )
            if count > 10_000:
                raise AmrkitError(f"SNR range {part!r} has {count} values; at most 10000 allowed")
            values.extend(round(start + k * step, 9) + 0.0 for k in range(count))
        else:
            values.append(_snr_value(part, whole) + 0.0)
    seen: set[float] = set()
    for v in values:
        if v in seen:
            raise AmrkitError(f"SNR {v:g} is listed twice in {whole!r}; list each SNR once")
        seen.add(v)
    return tuple(values)


# ---- the config ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a synthesized dataset (stored in the file's ``config``)."""

    preset: str = "matlab"
    classes: tuple[str, ...] = CLASSES
    frames_per_class: int = 10_000
    snrs: tuple[float, ...] = (30.0,)
    snr_convention: str = "measured"
    channel: str = "full"
    frame_length: int = 1024
    samples_per_symbol: int = 8
    sample_rate_hz: float = 200e3
    skip: int = 50
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    audio: str | None = None
    audio_sha256: str | None = None
    block_size: int = 512
    modulation: ModulationParams = field(default_factory=ModulationParams)
    channel_model: ChannelModel = field(default_factory=ChannelModel)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise AmrkitError(
                f"preset {self.preset!r} is unknown; choose one of {', '.join(PRESETS)}"
            )
        object.__setattr__(self, "classes", tuple(self.classes))
        if not self.classes:
            raise AmrkitError(f"no classes selected; choose from {', '.join(CLASSES)}")
        unknown = [c for c in self.classes if c not in CLASSES]
        if unknown:
            raise AmrkitError(
                f"unknown class(es) {', '.join(map(repr, unknown))}; valid classes: "
                f"{', '.join(CLASSES)}"
            )
        dupes = sorted({c for c in self.classes if self.classes.count(c) > 1})
        if dupes:
            raise AmrkitError(
                f"class(es) {', '.join(dupes)} listed twice in --classes; list each once"
            )
        _check_int("frames_per_class", self.frames_per_class, 1, 10**8, "--frames-per-class")
        snrs = self.snrs
        if not isinstance(snrs, str):
            try:
                snrs = tuple(float(v) for v in snrs)
            except (TypeError, ValueError):
                raise AmrkitError(f"SNR list {snrs!r} must hold numbers (dB) or inf") from None
        object.__setattr__(self, "snrs", parse_snrs(snrs))
        if not self.snrs:
            raise AmrkitError("the SNR list is empty; give --snr such as 30 or -10:30:2")
        if self.frames_per_class < len(self.snrs):
            raise AmrkitError(
                f"--frames-per-class {self.frames_per_class} is fewer than the {len(self.snrs)} "
                "SNRs, so some SNRs would get no frames; raise --frames-per-class or list fewer "
                "SNRs"
            )
        if self.snr_convention not in SNR_CONVENTIONS:
            raise AmrkitError(
                f"--snr-convention {self.snr_convention!r} is not one of "
                f"{', '.join(SNR_CONVENTIONS)}"
            )
        if self.channel not in CHANNELS:
            raise AmrkitError(f"--channel {self.channel!r} is not one of {', '.join(CHANNELS)}")
        finite = [v for v in self.snrs if math.isfinite(v)]
        if self.channel == "none" and finite:
            raise AmrkitError(
                f"--channel none adds no noise, but --snr lists finite value(s) "
                f"{', '.join(f'{v:g}' for v in finite)}; use --snr inf or --channel awgn/full"
            )
        _check_int("frame_length", self.frame_length, 16, MAX_FRAME_LENGTH, "--frame-length")
        _check_int("samples_per_symbol", self.samples_per_symbol, 2, 64, "--samples-per-symbol")
        _check_int("skip", self.skip, 0, 1 << 20, "skip")
        _check_int("seed", self.seed, 0, 2**63 - 1, "--seed")
        _check_int("block_size", self.block_size, 1, 65_536, "block_size")
        fs = self.sample_rate_hz
        if (
            isinstance(fs, bool)
            or not isinstance(fs, (int, float))
            or not math.isfinite(fs)
            or fs <= 0
        ):
            raise AmrkitError(f"--sample-rate {fs!r} must be a positive number of Hz, e.g. 200000")
        object.__setattr__(self, "sample_rate_hz", float(fs))
        analog = [c for c in self.classes if c in ANALOG]
        need = 2 * (self.modulation.am_carrier_hz + F_HIGH_HZ[1])
        if analog and (fs < need or self.modulation.fm_deviation_hz >= fs / 2):
            raise AmrkitError(
                f"--sample-rate {fs:g} Hz is too low for {', '.join(analog)} (a "
                f"{self.modulation.am_carrier_hz:g} Hz carrier with 15 kHz audio needs ≥ "
                f"{need:g} Hz); raise --sample-rate or drop the analog classes from --classes"
            )
        try:
            split = parse_fractions(tuple(self.split))
        except AmrkitError:
            raise AmrkitError(
                f"--split {','.join(map(str, self.split))} must be three non-negative fractions "
                "summing to 1 (train,val,test), e.g. 0.8,0.1,0.1"
            ) from None
        object.__setattr__(self, "split", split)
        if self.audio is not None and not isinstance(self.audio, str):
            object.__setattr__(self, "audio", str(self.audio))
        if self.audio_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", self.audio_sha256):
            raise AmrkitError(
                f"audio_sha256 {self.audio_sha256!r} is not a SHA-256 hex digest; remove it"
            )

    @property
    def num_frames(self) -> int:
        return len(self.classes) * self.frames_per_class

    @property
    def num_blocks(self) -> int:
        return -(-self.num_frames // self.block_size)

    @property
    def source_length(self) -> int:
        """Samples modulated per frame: skip + max offset + frame + 2 (interpolation margin).

        The reference draws 2048; the samples after the frame never reach it, so amrkit
        only synthesizes what the frame cut can use.
        """
        return self.skip + self.samples_per_symbol + self.frame_length + 2


def _check_int(name: str, value: Any, lo: int, hi: int, flag: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise AmrkitError(f"{flag} {value!r} must be an integer in {lo}..{hi}")
    if not lo <= value <= hi:
        raise AmrkitError(f"{flag} {value} is out of range; allowed {lo}..{hi}")


def preset_config(name: str = "matlab", **overrides: Any) -> SynthConfig:
    """The named preset with overrides applied (``None`` = keep the preset's value)."""
    from amrkit.config import from_dict

    if name not in PRESETS:
        raise AmrkitError(f"preset {name!r} is unknown; choose one of {', '.join(PRESETS)}")
    data = {**PRESETS[name], "preset": name}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(SynthConfig, data, where="synth config")


def config_to_json(cfg: SynthConfig) -> str:
    """What the file's ``config`` attribute holds: the config plus generator and version."""
    from amrkit import __version__
    from amrkit.config import to_dict
    from amrkit.fileio import json_safe

    data = {"generator": GENERATOR, "amrkit_version": __version__, **to_dict(cfg)}
    return json.dumps(json_safe(data), sort_keys=True)


def config_from_mapping(data: Mapping[str, Any], where: str = "synth config") -> SynthConfig:
    """Rebuild a :class:`SynthConfig` from a stored ``config`` (generator/version dropped)."""
    from amrkit.config import from_dict

    clean = {k: v for k, v in data.items() if k not in ("generator", "amrkit_version")}
    return from_dict(SynthConfig, clean, where=where)


def load_config(path: str | Path) -> SynthConfig:
    """A config from YAML/JSON, or the one stored in an amrkit HDF5 file made by generate."""
    p = Path(path)
    if p.suffix.lower() in (".h5", ".hdf5"):
        from amrkit.data.native import open_native

        with open_native(p) as frames:
            cfg = frames.config
        if not cfg or cfg.get("generator") != GENERATOR:
            raise AmrkitError(f"{str(p)!r} was not made by amrkit generate; it has no synth config")
        return config_from_mapping(cfg, where=str(p))
    from amrkit.config import load_mapping

    return config_from_mapping(load_mapping(p), where=str(p))


# ---- the frame plan -----------------------------------------------------------------------
def frame_plan(cfg: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """``label`` (N,) int16 and nominal ``snr_db`` (N,) float32, class-major.

    Within a class the SNRs cycle, so every SNR gets ``frames_per_class // len(snrs)``
    frames and the first ``frames_per_class % len(snrs)`` SNRs one more.
    """
    fpc = cfg.frames_per_class
    label = np.repeat(np.arange(len(cfg.classes), dtype=np.int16), fpc)
    snr_one = np.asarray(cfg.snrs, dtype=np.float32)[np.arange(fpc) % len(cfg.snrs)]
    return label, np.tile(snr_one, len(cfg.classes))


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The generator of block ``block``: independent of worker count and of other blocks."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, block)))


def split_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))


def channel_columns(cfg: SynthConfig) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Per-frame draws stored under ``channel/<name>``: name → (dtype, per-frame shape)."""
    cols: dict[str, tuple[str, tuple[int, ...]]] = {"offset": ("int16", ())}
    if cfg.channel == "full":
        paths = len(cfg.channel_model.path_delays)
        cols.update(
            ppm=("float32", ()), freq_offset_hz=("float32", ()), path_gain=("float32", (paths, 2))
        )
    return cols


def normalize_power(x: np.ndarray) -> np.ndarray:
    """Each frame divided by its RMS (unit average power); all-zero frames stay zero."""
    power = np.square(x.view(np.float32)).mean(axis=1, keepdims=True) * 2  # pairwise sum
    scale = np.where(power > 0, 1.0 / np.sqrt(np.where(power > 0, power, 1.0)), 0.0)
    return x * scale.astype(np.float32)


def synthesize_block(
    cfg: SynthConfig,
    block: int,
    label: np.ndarray,
    snr_db: np.ndarray,
    audio: AudioClip | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Frames of one block: ``iq`` (n, 2, L) float32 and the per-frame channel draws.

    ``out`` (n, 2, L) float32, if given, receives the I/Q (and is returned as ``iq``).

    Draw order (fixed): each class's modulator in class order, frame offsets, fading,
    clock offsets, noise. Noise comes last, so a dataset at SNR ``inf`` holds exactly the
    clean signals of the same config at a finite SNR.
    """
    n = len(label)
    sps, fs, length = cfg.samples_per_symbol, cfg.sample_rate_hz, cfg.frame_length
    t_len = cfg.source_length
    rng = block_rng(cfg.seed, block)
    source = None if audio is None else partial(clip_segments, audio)
    present = np.unique(label)
    x = np.empty((n, t_len), dtype=np.complex64)  # (n, T) before the channel
    for c in present:
        idx = np.flatnonzero(label == c)
        part = modulate(
            cfg.classes[int(c)],
            len(idx),
            t_len,
            rng,
            sps=sps,
            sample_rate_hz=fs,
            params=cfg.modulation,
            audio=source,
        )
        if len(present) == 1:
            x = np.ascontiguousarray(part)
        else:
            x[idx] = part
    offset = rng.integers(0, sps + 1, size=n)
    start = cfg.skip + offset
    extras: dict[str, np.ndarray] = {"offset": offset.astype(np.int16)}
    if cfg.channel == "full":
        model = cfg.channel_model
        knots = rician_knots(n, t_len, fs, model, rng)  # (n, P, 2): first and last sample
        x = apply_multipath(x, knots, model.path_delays)
        ppm = draw_ppm(n, model.max_ppm, rng)
        analog = np.isin(np.asarray(cfg.classes)[label], ANALOG)
        fc = np.where(analog, model.carrier_analog_hz, model.carrier_digital_hz)
        frame = apply_clock_offset(x, ppm, fc, fs, start, length)  # (n, L)
        g0 = interpolate_gains(knots, t_len, start[:, None])[:, :, 0]  # (n, P) at frame start
        extras.update(
            ppm=ppm.astype(np.float32),
            freq_offset_hz=frequency_offset_hz(ppm, fc).astype(np.float32),
            path_gain=np.stack([g0.real, g0.imag], axis=-1).astype(np.float32),
        )
    else:
        frame = window_rows(x, start, length)
    if cfg.channel != "none" and np.isfinite(snr_db).any():
        frame = add_awgn(frame, snr_db, rng, cfg.snr_convention)
    frame = normalize_power(frame)
    iq = np.empty((n, 2, length), dtype=np.float32) if out is None else out  # (n, 2, L)
    iq[:, 0] = frame.real
    iq[:, 1] = frame.imag
    return iq, extras


# ---- running blocks -----------------------------------------------------------------------
Block = tuple[int, np.ndarray, dict[str, np.ndarray]]  # (first frame, iq (n, 2, L), extras)


@dataclass(frozen=True)
class _Job:
    cfg: SynthConfig
    label: np.ndarray
    snr_db: np.ndarray
    audio: AudioClip | None

    def bounds(self, b: int) -> tuple[int, int]:
        lo = b * self.cfg.block_size
        return lo, min(lo + self.cfg.block_size, len(self.label))

    def block(self, b: int, out: np.ndarray | None = None) -> Block:
        lo, hi = self.bounds(b)
        iq, extras = synthesize_block(
            self.cfg, b, self.label[lo:hi], self.snr_db[lo:hi], self.audio, out=out
        )
        return lo, iq, extras


# set in each forked worker by _init_worker (inherited memory, nothing pickled)
_WORKER: dict[str, Any] = {}


def _init_worker(job: _Job, slots: np.ndarray) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and cleans up
    _WORKER["job"], _WORKER["slots"] = job, slots


def _worker_block(b: int, slot: int) -> tuple[int, int, dict[str, np.ndarray]]:
    job: _Job = _WORKER["job"]
    lo, hi = job.bounds(b)
    _, _, extras = job.block(b, out=_WORKER["slots"][slot, : hi - lo])  # I/Q into shared memory
    return lo, hi - lo, extras


@contextlib.contextmanager
def _sigint_flag() -> Iterator[threading.Event]:
    """While active (main thread only), Ctrl-C sets an event instead of raising anywhere.

    A KeyboardInterrupt raised inside a finalizer or weakref callback is swallowed by
    Python, and one raised deep inside h5py or the pool's machinery is hard to clean up
    after; the loops below check the event at safe points and raise it themselves.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _result(future: Any, stop: threading.Event | None) -> Any:
    """``future.result()``, raising KeyboardInterrupt promptly once ``stop`` is set."""
    while True:
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt
        try:
            return future.result(timeout=0.1)
        except FuturesTimeout:
            continue


def _run_blocks(job: _Job, workers: int, stop: threading.Event | None = None) -> Iterator[Block]:
    """Blocks in order. ``workers > 1``: forked worker processes writing into shared memory.

    Each block's I/Q goes into one of ``2·workers + 1`` slots of an anonymous shared mapping
    (no pickling of frames); a slot is reused only after the caller has consumed the block
    in it, i.e. after it asked for the next one, so at most that many blocks are in flight.
    A worker that dies (e.g. killed for memory) is an AmrkitError, not a hang; on any error
    or Ctrl-C (``stop`` set, see :func:`_sigint_flag`) the workers are terminated at once.
    """
    cfg = job.cfg
    n_blocks = cfg.num_blocks
    workers = min(workers, n_blocks)
    if workers <= 1:
        for b in range(n_blocks):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            yield job.block(b)
        return
    n_slots = min(n_blocks, 2 * workers + 1)
    shape = (n_slots, cfg.block_size, 2, cfg.frame_length)
    mapping = mmap.mmap(-1, int(np.prod(shape)) * 4)  # MAP_SHARED | MAP_ANONYMOUS
    slots = np.frombuffer(mapping, dtype=np.float32).reshape(shape)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(job, slots),
    )
    finished = False
    try:
        pending = collections.deque(
            pool.submit(_worker_block, b, b % n_slots) for b in range(n_slots)
        )
        for b in range(n_blocks):
            try:
                lo, n, extras = _result(pending.popleft(), stop)
            except BrokenProcessPool:
                raise AmrkitError(
                    "a worker process died (killed, e.g. out of memory); retry with fewer --workers"
                ) from None
            yield lo, slots[b % n_slots, :n], extras
            # the caller is done with slot b % n_slots: hand it to block b + n_slots
            if b + n_slots < n_blocks:
                nxt = b + n_slots
                pending.append(pool.submit(_worker_block, nxt, nxt % n_slots))
        finished = True
    finally:
        if not finished:  # error, Ctrl-C or an abandoned generator: stop the workers now
            procs = getattr(pool, "_processes", None) or {}  # no public API before 3.14
            for proc in list(procs.values()):
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 256:
        raise AmrkitError(f"--workers {workers!r} must be an integer in 1..256")
    return workers


def _prepare(cfg: SynthConfig) -> tuple[SynthConfig, AudioClip | None]:
    """Load the audio recording (if any) and pin its hash into the config."""
    if cfg.audio is None:
        return cfg, None
    from amrkit.signals.audio import load_wav

    clip = load_wav(cfg.audio, cfg.sample_rate_hz, cfg.source_length + 2 * ANALOG_MARGIN)
    if cfg.audio_sha256 is not None and cfg.audio_sha256 != clip.sha256:
        raise AmrkitError(
            f"audio file {cfg.audio!r} differs from the one this config was made with "
            "(SHA-256 mismatch); use the original recording or drop audio_sha256"
        )
    return dataclasses.replace(cfg, audio_sha256=clip.sha256), clip


def synthesize_arrays(cfg: SynthConfig, workers: int = 1) -> dict[str, Any]:
    """The whole dataset in memory (small configs, tests): iq, label, snr_db, split, channel."""
    cfg, clip = _prepare(cfg)
    label, snr = frame_plan(cfg)
    job = _Job(cfg, label, snr, clip)
    iq = np.empty((cfg.num_frames, 2, cfg.frame_length), dtype=np.float32)
    cols = {
        k: np.empty((cfg.num_frames, *shape), dtype=dt)
        for k, (dt, shape) in channel_columns(cfg).items()
    }
    with _sigint_flag() as stop:
        for lo, part, extras in _run_blocks(job, check_workers(workers), stop):
            iq[lo : lo + len(part)] = part
            for k, v in extras.items():
                cols[k][lo : lo + len(part)] = v
    split = stratified_split(label, snr, cfg.split, split_rng(cfg.seed))
    return {"iq": iq, "label": label, "snr_db": snr, "split": split, "channel": cols, "config": cfg}


def synthesize(
    cfg: SynthConfig,
    path: str | Path,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Generate the dataset into ``path`` (amrkit HDF5, written to a temp file then renamed).

    ``progress(done_frames, total_frames)`` is called after each block. Returns a summary:
    path, frames, bytes, seconds, frames_per_s, workers, config.
    """
    from amrkit.data.native import FrameWriter
    from amrkit.fileio import check_writable

    workers = check_workers(workers)
    check_writable(path)
    cfg, clip = _prepare(cfg)
    label, snr = frame_plan(cfg)
    split = stratified_split(label, snr, cfg.split, split_rng(cfg.seed))
    attrs = {
        "sample_rate_hz": cfg.sample_rate_hz,
        "samples_per_symbol": cfg.samples_per_symbol,
        "snr_convention": cfg.snr_convention,
        "config": config_to_json(cfg),
    }
    job = _Job(cfg, label, snr, clip)
    total = cfg.num_frames
    t0 = time.perf_counter()
    # Ctrl-C from here on is handled at safe points (see _sigint_flag)
    with (
        _sigint_flag() as stop,
        FrameWriter(
            path, total, cfg.frame_length, cfg.classes, attrs, extras=channel_columns(cfg)
        ) as writer,
    ):
        writer.set_column("label", label)
        writer.set_column("snr_db", snr)
        writer.set_column("split", split)
        done = 0
        blocks = _run_blocks(job, workers, stop)
        try:
            for lo, iq, extras in blocks:
                writer.write(lo, iq, **extras)
                done += len(iq)
                if progress is not None:
                    progress(done, total)
        finally:
            blocks.close()  # stops the pool at once on error or Ctrl-C
    seconds = time.perf_counter() - t0
    size = Path(path).stat().st_size
    return {
        "path": str(path),
        "frames": total,
        "classes": list(cfg.classes),
        "frame_length": cfg.frame_length,
        "bytes": size,
        "seconds": seconds,
        "frames_per_s": total / seconds if seconds > 0 else float("inf"),
        "workers": workers,
        "config": cfg,
    }
