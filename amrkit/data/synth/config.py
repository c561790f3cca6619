"""``SynthConfig``: everything that determines a synthesized dataset, validated on construction."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from amrkit.channel import CONVENTIONS as SNR_CONVENTIONS
from amrkit.channel import ChannelModel, Impairments, MultipathRanges
from amrkit.data.split import parse_fractions
from amrkit.data.synth.snr import check_snrs, parse_snrs
from amrkit.errors import AmrkitError
from amrkit.signals import ANALOG, CLASSES, ModulationParams, SignalRanges
from amrkit.signals.audio import F_HIGH_HZ

PRESETS: dict[str, dict[str, Any]] = {
    # the MathWorks reference: every default of SynthConfig is its value
    "matlab": {},
    # domain randomization (docs/data.md, "Domain randomization"): per-frame symbol rates,
    # pulses, jitter, analog parameters, multipath profiles and receiver impairments over
    # −10…30 dB; the profiles replace the reference's fixed fading, the frequency offset
    # range covers the reference clock's ±4.5 kHz and the symbol-rate range its sample-rate
    # offset
    "wide": {
        "snrs": tuple(float(v) for v in range(-10, 31, 2)),
        "channel": "awgn",
        "signal_ranges": {
            "sps_min": 2.0,
            "sps_max": 16.0,
            "rolloff_min": 0.1,
            "rolloff_max": 0.5,
            "pulses": ("rrc", "rc", "rect", "halfsine"),
            "timing_jitter": 0.02,
            "fm_deviation_min": 25e3,
            "fm_deviation_max": 90e3,
            "am_carrier_max": 2.0,
        },
        "multipath": {"delay_spread_max": 3.0, "k_factor_min": 0.0, "k_factor_max": 10.0},
        "impairments": {
            "cfo_max": 0.03,
            "phase_noise_hz": 100.0,
            "iq_gain_db": 1.0,
            "iq_phase_deg": 5.0,
            "dc_offset": 0.1,
        },
    },
}
CHANNELS = ("full", "awgn", "none")
GENERATOR = "amrkit.data.synth"  # stored in every file's config; load_config checks it
MAX_FRAME_LENGTH = 1 << 20


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a synthesized dataset (stored in the file's ``config``).

    ``snrs`` may be given as numbers or as ``--snr`` text (``"-10:30:2"``); it is stored as
    a tuple of floats.
    """

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
    impairments: Impairments = field(default_factory=Impairments)
    signal_ranges: SignalRanges = field(default_factory=SignalRanges)
    multipath: MultipathRanges = field(default_factory=MultipathRanges)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise AmrkitError(
                f"preset {self.preset!r} is unknown; choose one of {', '.join(PRESETS)}"
            )
        object.__setattr__(self, "classes", _check_classes(tuple(self.classes)))
        _check_int("frames_per_class", self.frames_per_class, 1, 10**8, "--frames-per-class")
        snrs = parse_snrs(self.snrs) if isinstance(self.snrs, str) else check_snrs(self.snrs)
        object.__setattr__(self, "snrs", snrs)
        _check_snr_options(self)
        _check_int("frame_length", self.frame_length, 16, MAX_FRAME_LENGTH, "--frame-length")
        _check_int("samples_per_symbol", self.samples_per_symbol, 2, 64, "--samples-per-symbol")
        _check_int("skip", self.skip, 0, 1 << 20, "skip")
        _check_int("seed", self.seed, 0, 2**63 - 1, "--seed")
        _check_int("block_size", self.block_size, 1, 65_536, "block_size")
        object.__setattr__(self, "sample_rate_hz", _check_sample_rate(self))
        drift = self.channel_model.max_ppm * 1e-6 * self.source_length  # samples
        if self.channel == "full" and drift >= 1:
            raise AmrkitError(
                f"channel max_ppm {self.channel_model.max_ppm:g} drifts the clock by "
                f"{drift:.2f} samples over a {self.frame_length}-sample frame; at most 1 "
                "sample is supported: lower max_ppm or --frame-length"
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


def _check_classes(classes: tuple[str, ...]) -> tuple[str, ...]:
    if not classes:
        raise AmrkitError(f"no classes selected; choose from {', '.join(CLASSES)}")
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise AmrkitError(
            f"unknown class(es) {', '.join(map(repr, unknown))}; valid classes: "
            f"{', '.join(CLASSES)}"
        )
    dupes = sorted({c for c in classes if classes.count(c) > 1})
    if dupes:
        raise AmrkitError(f"class(es) {', '.join(dupes)} listed twice in --classes; list each once")
    return classes


def _check_snr_options(cfg: SynthConfig) -> None:
    """The SNR list against the frame count, the convention and the channel."""
    if not cfg.snrs:
        raise AmrkitError("the SNR list is empty; give --snr such as 30 or -10:30:2")
    if cfg.frames_per_class < len(cfg.snrs):
        raise AmrkitError(
            f"--frames-per-class {cfg.frames_per_class} is fewer than the {len(cfg.snrs)} "
            "SNRs, so some SNRs would get no frames; raise --frames-per-class or list fewer "
            "SNRs"
        )
    if cfg.snr_convention not in SNR_CONVENTIONS:
        raise AmrkitError(
            f"--snr-convention {cfg.snr_convention!r} is not one of {', '.join(SNR_CONVENTIONS)}"
        )
    if cfg.channel not in CHANNELS:
        raise AmrkitError(f"--channel {cfg.channel!r} is not one of {', '.join(CHANNELS)}")
    finite = [v for v in cfg.snrs if math.isfinite(v)]
    if cfg.channel == "none" and finite:
        raise AmrkitError(
            f"--channel none adds no noise, but --snr lists finite value(s) "
            f"{', '.join(f'{v:g}' for v in finite)}; use --snr inf or --channel awgn/full"
        )


def _check_sample_rate(cfg: SynthConfig) -> float:
    fs = cfg.sample_rate_hz
    if isinstance(fs, bool) or not isinstance(fs, (int, float)) or not math.isfinite(fs) or fs <= 0:
        raise AmrkitError(f"--sample-rate {fs!r} must be a positive number of Hz, e.g. 200000")
    analog = [c for c in cfg.classes if c in ANALOG]
    need = 2 * (cfg.modulation.am_carrier_hz + F_HIGH_HZ[1])
    if analog and fs < need:
        raise AmrkitError(
            f"--sample-rate {fs:g} Hz is too low for {', '.join(analog)} (a "
            f"{cfg.modulation.am_carrier_hz:g} Hz carrier with 15 kHz audio needs ≥ "
            f"{need:g} Hz); raise --sample-rate or drop the analog classes from --classes"
        )
    deviation = max(cfg.modulation.fm_deviation_hz, cfg.signal_ranges.fm_deviation_max)
    if "B-FM" in analog and deviation >= fs / 2:
        raise AmrkitError(
            f"B-FM deviation {deviation:g} Hz is not below half the --sample-rate {fs:g} Hz; "
            "lower the deviation range or raise --sample-rate"
        )
    return float(fs)


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
    for name, off in (
        ("impairments", Impairments()),
        ("signal_ranges", SignalRanges()),
        ("multipath", MultipathRanges()),
    ):
        if getattr(cfg, name) == off:  # off: stored as before the field existed
            del data[name]
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
