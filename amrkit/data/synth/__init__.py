"""The dataset synthesizer: the reference 11-class modulation dataset, fast and reproducible.

Per frame (docs/reference.md): modulate a fresh source → channel (Rician multipath, clock
offset, AWGN) → cut ``frame_length`` samples after ``skip`` + a random 0…sps offset →
normalize to unit average power. Frames are made in fixed blocks of ``block_size``; block
``b`` draws all its randomness from ``SeedSequence(seed, spawn_key=(0, b))``, so the bytes
of every frame depend on the config alone, never on how many workers made them.

Frame order in the file is class-major (all frames of ``classes[0]``, then ``classes[1]``,
…); within a class the SNRs cycle through ``snrs`` in the given order.

Modules: ``snr`` (the ``--snr`` grammar), ``config`` (``SynthConfig``, presets, loading),
``plan`` (frame plan, generators, stored columns), ``pipeline`` (one block), ``pool``
(running blocks, forked workers), ``write`` (the dataset in memory or in a file).
"""

from amrkit.data.frames import format_snrs
from amrkit.data.synth.config import (
    CHANNELS,
    GENERATOR,
    PRESETS,
    SNR_CONVENTIONS,
    SynthConfig,
    config_from_mapping,
    config_to_json,
    load_config,
    preset_config,
)
from amrkit.data.synth.pipeline import normalize_power, synthesize_block
from amrkit.data.synth.plan import block_rng, channel_columns, frame_plan, split_rng
from amrkit.data.synth.pool import check_workers
from amrkit.data.synth.snr import check_snrs, parse_snrs
from amrkit.data.synth.write import synthesize, synthesize_arrays

__all__ = [
    "CHANNELS",
    "GENERATOR",
    "PRESETS",
    "SNR_CONVENTIONS",
    "SynthConfig",
    "block_rng",
    "channel_columns",
    "check_snrs",
    "check_workers",
    "config_from_mapping",
    "config_to_json",
    "format_snrs",
    "frame_plan",
    "load_config",
    "normalize_power",
    "parse_snrs",
    "preset_config",
    "split_rng",
    "synthesize",
    "synthesize_arrays",
    "synthesize_block",
]
