"""Parameters of the reference channel (docs/reference.md, "Channel")."""

from __future__ import annotations

from dataclasses import dataclass

from amrkit.errors import AmrkitError


@dataclass(frozen=True)
class ChannelModel:
    """Rician multipath, clock offset and noise parameters (values of the matlab preset).

    ``path_delays`` are in samples (fractional, sinc-interpolated), ``path_gains_db`` are
    average path powers (normalized so that they sum to 0 dB); ``k_factor`` applies to the
    first path, the others are Rayleigh. The clock offset is ``ppm ~ U[−max_ppm, max_ppm]``
    per frame, applied as a frequency offset at ``fc`` and a sample-rate offset.
    """

    path_delays: tuple[float, ...] = (0.0, 1.8, 3.4)
    path_gains_db: tuple[float, ...] = (0.0, -2.0, -10.0)
    k_factor: float = 4.0
    max_doppler_hz: float = 4.0
    fading_sinusoids: int = 16
    max_ppm: float = 5.0
    carrier_digital_hz: float = 902e6
    carrier_analog_hz: float = 100e6

    def __post_init__(self) -> None:
        if not self.path_delays or len(self.path_delays) != len(self.path_gains_db):
            raise AmrkitError(
                f"channel path_delays {list(self.path_delays)} and path_gains_db "
                f"{list(self.path_gains_db)} must be non-empty and of equal length"
            )
        if min(self.path_delays) < 0 or max(self.path_delays) > 64:
            raise AmrkitError(
                f"channel path_delays {list(self.path_delays)} must lie in [0, 64] samples"
            )
        if self.k_factor < 0 or self.max_doppler_hz < 0 or self.max_ppm < 0:
            raise AmrkitError(
                "channel k_factor, max_doppler_hz and max_ppm must be ≥ 0 "
                f"(got {self.k_factor}, {self.max_doppler_hz}, {self.max_ppm})"
            )
        if not 1 <= self.fading_sinusoids <= 256:
            raise AmrkitError(f"channel fading_sinusoids {self.fading_sinusoids} must be in 1..256")
