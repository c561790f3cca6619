"""The reference channel: Rician multipath, clock offset, AWGN (pure batched functions)."""

from amrkit.channel.clock import (
    apply_clock_offset,
    clock_factor,
    draw_ppm,
    frequency_offset_hz,
    frequency_shift,
    resample_window,
)
from amrkit.channel.impairments import Impairments
from amrkit.channel.multipath import (
    apply_multipath,
    average_path_powers,
    fractional_delay_taps,
    interpolate_gains,
    rician_gains,
    rician_knots,
    sos_fading,
)
from amrkit.channel.noise import CONVENTIONS, add_awgn, add_awgn_uniforms, frame_power, noise_power
from amrkit.channel.params import ChannelModel
from amrkit.channel.profiles import MultipathRanges

__all__ = [
    "CONVENTIONS",
    "ChannelModel",
    "Impairments",
    "MultipathRanges",
    "add_awgn",
    "add_awgn_uniforms",
    "apply_clock_offset",
    "apply_multipath",
    "average_path_powers",
    "clock_factor",
    "draw_ppm",
    "fractional_delay_taps",
    "frequency_offset_hz",
    "frame_power",
    "frequency_shift",
    "interpolate_gains",
    "rician_knots",
    "noise_power",
    "resample_window",
    "rician_gains",
    "sos_fading",
]
