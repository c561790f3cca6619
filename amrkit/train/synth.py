"""Training on frames synthesized per epoch (``amrkit train --synth``): no frame is seen twice.

Epoch ``e`` (0-based) trains on the synthesizer's frames for ``config`` with its ``seed``
replaced by :func:`train_seed` ``(config.seed, e)``: ``frames_per_class`` frames of every
class, class-balanced, the SNRs cycling as in ``amrkit generate``. The frames are a pure
function of the config and the epoch (amrkit.data.synth: fixed blocks, one generator per
block), so a run is reproducible, resumes mid-epoch with the very batches it would have
seen, and does not depend on the number of synthesis workers.

Validation and test frames are fixed: either a DATA file's val/test splits, or synthesized
once with the seed :func:`eval_seed` ``(config.seed)`` (``eval_frames_per_class`` per class,
split half/half by class and SNR). Both seeds are SHA-256 digests of differently tagged
strings, and :func:`check_disjoint` refuses a run whose evaluation seed equals an epoch's.

A mixture (``--synth A,B``): :class:`SynthData` ``mix`` holds the further sources' configs
(same classes, frame length and sample rate as ``config``, the same synth seed). Epoch ``e``
trains on every source's frames, concatenated in source order (:func:`epoch_arrays`):
source 0 with :func:`train_seed` ``(seed, e)`` as before, mix source ``i`` (1-based) with
:func:`mix_seed` ``(seed, e, i)``. Validation and test frames come from ``config`` (the first
source) only.

run.json's ``synth`` holds :class:`SynthData` (the synthesizer's full config, frames per
class, the synth seed, the evaluation frames, and ``mix`` only for a mixture); a resumed run
rebuilds its data from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from amrkit.config import config_hash, from_dict, to_dict
from amrkit.data.frames import FrameSet, array_frameset
from amrkit.data.synth import PRESETS, SynthConfig, load_config, preset_config
from amrkit.data.synth.pool import check_workers
from amrkit.data.synth.write import synthesize_arrays
from amrkit.errors import AmrkitError
from amrkit.train.data import SplitData

CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".h5", ".hdf5")
EVAL_SPLIT = (0.0, 0.5, 0.5)  # the evaluation set: half validation, half test


def _digest_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def train_seed(seed: int, epoch: int) -> int:
    """The synthesizer seed of epoch ``epoch`` (0-based) of a run with synth seed ``seed``."""
    return _digest_seed(f"amrkit.train.synth:{seed}:{epoch}")


def mix_seed(seed: int, epoch: int, source: int) -> int:
    """The synthesizer seed of mix source ``source`` (1-based) in epoch ``epoch`` (0-based)."""
    return _digest_seed(f"amrkit.train.synth:{seed}:{epoch}:mix{source}")


def eval_seed(seed: int) -> int:
    """The synthesizer seed of the validation/test frames of a run with synth seed ``seed``."""
    return _digest_seed(f"amrkit.train.synth-eval:{seed}")


@dataclass(frozen=True)
class SynthData:
    """How a ``--synth`` run makes its frames (stored as run.json's ``synth``)."""

    config: SynthConfig  # frames_per_class: per epoch; seed: the synth seed (not a frame seed)
    eval_frames_per_class: int = 0  # > 0: val+test synthesized once; 0: DATA's val/test splits
    mix: tuple[SynthConfig, ...] = ()  # further training sources (--synth A,B), seed: config's

    def __post_init__(self) -> None:
        if not isinstance(self.config, SynthConfig):
            raise AmrkitError(f"synth config {self.config!r} is not a SynthConfig")
        n, need = self.eval_frames_per_class, 2 * len(self.config.snrs)
        if isinstance(n, bool) or not isinstance(n, int) or (n != 0 and n < need):
            raise AmrkitError(
                f"--eval-frames-per-class {n!r} is invalid; it must be 0 (val/test from DATA) "
                f"or >= {need} (two per SNR of the preset, half of them validation)"
            )
        object.__setattr__(self, "mix", tuple(self.mix))
        for i, cfg in enumerate(self.mix, 1):
            _check_mix_source(self.config, cfg, i)

    @property
    def configs(self) -> tuple[SynthConfig, ...]:
        """Every source's config (``config`` first; ``seed``: the synth seed)."""
        return (self.config, *self.mix)

    @property
    def num_frames(self) -> int:
        """Training frames per epoch, all sources together."""
        return sum(cfg.num_frames for cfg in self.configs)

    def epoch_config(self, epoch: int) -> SynthConfig:
        """The synthesizer config of epoch ``epoch``'s training frames (0-based) of source 0."""
        return dataclasses.replace(self.config, seed=train_seed(self.config.seed, epoch))

    def epoch_configs(self, epoch: int) -> tuple[SynthConfig, ...]:
        """Every source's synthesizer config of epoch ``epoch``'s training frames (0-based)."""
        seed = self.config.seed
        return (
            self.epoch_config(epoch),
            *(
                dataclasses.replace(cfg, seed=mix_seed(seed, epoch, i))
                for i, cfg in enumerate(self.mix, 1)
            ),
        )

    def epoch_seeds(self, epoch: int) -> tuple[int, ...]:
        """Every source's synthesizer seed of epoch ``epoch`` (0-based), source 0 first."""
        return tuple(cfg.seed for cfg in self.epoch_configs(epoch))

    def eval_config(self) -> SynthConfig:
        """The synthesizer config of the validation and test frames."""
        return dataclasses.replace(
            self.config,
            seed=eval_seed(self.config.seed),
            frames_per_class=self.eval_frames_per_class,
            split=EVAL_SPLIT,
        )

    def to_dict(self) -> dict[str, Any]:
        """As run.json's ``synth``; ``mix`` only for a mixture (a single source's is as before)."""
        data = to_dict(self)
        if not self.mix:
            del data["mix"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "run.json synth") -> SynthData:
        return from_dict(cls, data, where=where)


def _check_mix_source(main: SynthConfig, cfg: SynthConfig, i: int) -> None:
    """Mix source ``i`` (1-based) makes frames of the main source's kind, with its seed."""
    if not isinstance(cfg, SynthConfig):
        raise AmrkitError(f"synth mix source {i} {cfg!r} is not a SynthConfig")
    where = f"--synth source {i + 1}"
    for name, unit in (("classes", ""), ("frame_length", " samples"), ("sample_rate_hz", " Hz")):
        a, b = getattr(cfg, name), getattr(main, name)
        if a != b:
            a, b = (", ".join(v) if name == "classes" else f"{v:g}" for v in (a, b))
            raise AmrkitError(
                f"{where} has {name} {a}{unit}, but source 1 has {b}{unit}; every source must "
                f"make the same {name}: set it in the synth config files"
            )
    if cfg.seed != main.seed:
        raise AmrkitError(
            f"{where} has seed {cfg.seed}, but the synth seed is {main.seed}; every source "
            "takes the synth seed (--synth-seed)"
        )


def synth_config(source: str, frames_per_class: int | None, seed: int) -> SynthConfig:
    """``--synth SOURCE``: a preset name, or a synth config file (YAML/JSON, or an amrkit .h5
    made by ``generate``: its config); ``frames_per_class`` (None: the file's) and the synth
    ``seed`` replace the source's."""
    path = Path(source)
    if source in PRESETS:
        if frames_per_class is None:
            raise AmrkitError(
                f"--synth {source} needs --frames-per-class N (training frames of each class "
                "per epoch), e.g. --frames-per-class 1000"
            )
        return preset_config(source, frames_per_class=frames_per_class, seed=seed)
    if path.suffix.lower() in CONFIG_SUFFIXES:
        if not path.is_file():
            raise AmrkitError(f"--synth {source!r}: no such file; give a preset or a config file")
        cfg = load_config(path)
        fpc = cfg.frames_per_class if frames_per_class is None else frames_per_class
        return dataclasses.replace(cfg, frames_per_class=fpc, seed=seed)
    raise AmrkitError(
        f"--synth {source!r} is unknown; choose a preset ({', '.join(PRESETS)}) or a synth "
        f"config file ({', '.join(CONFIG_SUFFIXES)})"
    )


def check_disjoint(data: SynthData, epochs: int) -> None:
    """The evaluation frames' seed differs from every training epoch's (1..``epochs``)."""
    if data.eval_frames_per_class == 0:
        return
    ev = eval_seed(data.config.seed)
    clash = [e + 1 for e in range(epochs) if ev in data.epoch_seeds(e)]
    if clash:
        raise AmrkitError(
            f"synth seed {data.config.seed}: epoch {clash[0]}'s training seed equals the "
            "evaluation seed; choose another --synth-seed"
        )


def epoch_arrays(data: SynthData, epoch: int, workers: int = 1) -> dict[str, np.ndarray]:
    """Epoch ``epoch``'s (0-based) training frames of every source, concatenated in source
    order: ``iq`` (n, 2, L) float32, ``label`` (n,), ``snr_db`` (n,); n = ``data.num_frames``."""
    parts = [synthesize_arrays(cfg, workers) for cfg in data.epoch_configs(epoch)]
    keys = ("iq", "label", "snr_db")
    if len(parts) == 1:
        return {k: parts[0][k] for k in keys}
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def eval_frames(data: SynthData, workers: int = 1) -> FrameSet:
    """The validation (split 1) and test (split 2) frames, synthesized once."""
    cfg = data.eval_config()
    arrays = synthesize_arrays(cfg, check_workers(workers))
    cfg = arrays["config"]  # with the audio's hash pinned
    return array_frameset(
        arrays["iq"],
        arrays["label"],
        cfg.classes,
        arrays["snr_db"],
        arrays["split"],
        sample_rate_hz=cfg.sample_rate_hz,
        samples_per_symbol=cfg.samples_per_symbol,
        snr_convention=cfg.snr_convention,
        source={"format": "synth", "config_hash": config_hash(cfg)},
        config=to_dict(cfg),
    )


def check_eval_data(data: SynthData, frames: FrameSet) -> None:
    """A DATA file used for val/test must match the synthesized frames' classes and length."""
    cfg, where = data.config, frames.source.get("path", "DATA")
    if tuple(frames.classes) != tuple(cfg.classes):
        raise AmrkitError(
            f"{where!r} has classes {', '.join(frames.classes)}, but --synth makes "
            f"{', '.join(cfg.classes)}; use --classes on DATA or set classes in a synth config"
        )
    if frames.frame_length != cfg.frame_length:
        raise AmrkitError(
            f"{where!r} has {frames.frame_length}-sample frames, but --synth makes "
            f"{cfg.frame_length}; set frame_length in a synth config file"
        )
    rate = frames.sample_rate_hz
    if rate is not None and float(rate) != cfg.sample_rate_hz:
        raise AmrkitError(
            f"{where!r} was sampled at {rate:g} Hz, but --synth makes {cfg.sample_rate_hz:g} "
            "Hz; set sample_rate_hz in a synth config file"
        )


class SynthEpochs:
    """The training frames of a ``--synth`` run: epoch ``e``'s made when first asked for.

    Stands in for a :class:`SplitData` in :func:`amrkit.train.loop.fit` (``len``,
    ``frame_length``, ``block``); :meth:`for_epoch` gives the epoch's frames in memory,
    ``seconds[e]`` the time it took to synthesize them.
    """

    block = None  # in memory: a uniform permutation per epoch

    def __init__(self, data: SynthData, workers: int = 1, device: torch.device | str = "cpu"):
        self.data, self.workers, self.device = data, check_workers(workers), device
        self.seconds: dict[int, float] = {}
        self._epoch: int | None = None
        self._split: SplitData | None = None

    def __len__(self) -> int:
        return self.data.num_frames

    @property
    def frame_length(self) -> int:
        return self.data.config.frame_length

    def to(self, device: torch.device | str) -> SynthEpochs:
        self.device = device
        return self

    def for_epoch(self, epoch: int) -> SplitData:
        """Epoch ``epoch``'s (0-based) training frames, label (n,) and I/Q (n, 2, L)."""
        if self._epoch != epoch:
            self._split = None  # free the previous epoch's frames first
            t0 = time.perf_counter()
            arrays = epoch_arrays(self.data, epoch, self.workers)
            split = SplitData(
                torch.from_numpy(arrays["label"].astype(np.int64)),
                arrays["snr_db"].astype(np.float32),
                x=torch.from_numpy(arrays["iq"]),  # (n, 2, L) float32
            )
            self._split = split.to(self.device)
            self._epoch = epoch
            self.seconds[epoch] = time.perf_counter() - t0
        assert self._split is not None
        return self._split


def check_memory(data: SynthData, memory_mb: float) -> None:
    """An epoch's frames are held in memory: they must fit ``--memory-mb``."""
    mib = data.num_frames * 2 * data.config.frame_length * 4 / 2**20
    if mib > memory_mb:
        fpc = ",".join(str(cfg.frames_per_class) for cfg in data.configs)
        raise AmrkitError(
            f"--frames-per-class {fpc}: an epoch's frames take {mib:.0f} MiB, "
            f"more than --memory-mb {memory_mb:g}; lower --frames-per-class or raise --memory-mb"
        )


def synth_sources(source: str) -> list[str]:
    """``--synth A,B``: the sources, in order (a file whose name has a comma stays whole)."""
    if Path(source).is_file():
        return [source]
    parts = [part.strip() for part in source.split(",")]
    if "" in parts:
        raise AmrkitError(
            f"--synth {source!r} has an empty source; give presets or config files separated "
            "by single commas, e.g. --synth wide.json,matlab"
        )
    return parts


def frames_per_source(frames_per_class: int | str | None, n: int) -> list[int | None]:
    """``--frames-per-class``: one integer for every one of the ``n`` sources, or a comma
    list of ``n`` (None: each source's own)."""
    if frames_per_class is None or isinstance(frames_per_class, int):
        return [frames_per_class] * n
    text = str(frames_per_class)
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise AmrkitError(
            f"--frames-per-class {text!r} is invalid; give an integer, or a comma list with "
            f"one per --synth source, e.g. {','.join(['1000'] * max(n, 2))}"
        ) from None
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise AmrkitError(
            f"--frames-per-class {text} has {len(values)} values for {n} --synth source(s); "
            f"give one integer for all or {n} comma-separated, one per source"
        )
    return list(values)


def synth_request(
    source: str | None,
    *,
    has_data: bool,
    frames_per_class: int | str | None = None,
    synth_seed: int | None = None,
    default_seed: int = 0,
    eval_frames_per_class: int | None = None,
    workers: int | None = None,
    resume: bool = False,
) -> SynthData | None:
    """The ``--synth`` options as a :class:`SynthData` (None without ``--synth``).

    ``source``: one source, or several comma-separated (a mixture; ``frames_per_class`` one
    integer or a comma list, one per source). The synth seed is ``synth_seed``, else
    ``default_seed`` (``--seed``); the evaluation frames default to the first source's
    ``frames_per_class`` per class without DATA, none with it.
    """
    if source is None:
        given = [
            flag
            for flag, value in (
                ("--frames-per-class", frames_per_class),
                ("--synth-seed", synth_seed),
                ("--eval-frames-per-class", eval_frames_per_class),
                ("--synth-workers", None if resume else workers),
            )
            if value is not None
        ]
        if given:
            raise AmrkitError(f"{given[0]} applies to --synth; add --synth PRESET or drop it")
        return None
    if workers is not None:
        check_workers(workers)
    seed = default_seed if synth_seed is None else synth_seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise AmrkitError(f"--synth-seed {seed!r} is invalid; give an integer in [0, 2**63)")
    sources = synth_sources(source)
    fpcs = frames_per_source(frames_per_class, len(sources))
    cfg, *mix = (synth_config(s, n, seed) for s, n in zip(sources, fpcs, strict=True))
    if eval_frames_per_class is None:
        eval_frames_per_class = 0 if has_data else max(cfg.frames_per_class, 2 * len(cfg.snrs))
    elif has_data and eval_frames_per_class != 0:
        raise AmrkitError(
            f"--eval-frames-per-class {eval_frames_per_class}: validation and test frames come "
            "from DATA; drop the option or DATA"
        )
    return SynthData(cfg, eval_frames_per_class, tuple(mix))
