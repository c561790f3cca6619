"""Training-time augmentation: exact symmetries of the synthetic channel, and two that widen it.

The exact symmetries map the distribution of frames of a class onto itself, so they add
variety without adding bias:

- ``phase``: multiply the frame by exp(j*theta), theta ~ U[0, 2*pi). The multipath channel's
  carrier phase is uniform, so every rotation of a frame is an equally likely frame.
- ``conj``: complex conjugate (Q -> -Q) with probability 1/2. The clock-derived frequency
  offset is symmetric about 0, every constellation used here is symmetric about the real
  axis, binary CPM/FM symbols are symmetric in sign and the AM classes are real before the
  channel, so a conjugated frame is an equally likely frame of the same class.

A ``crop`` (TrainConfig.crop) trains on a random window of each frame: the networks end in a
global average pool, so a window is a shorter frame of the same class (every start time is
equally likely, the frame's start is arbitrary), at a fraction of the training cost; the
validation and test frames stay whole.

Two more widen the training distribution toward real receivers (issue 15's domain
randomization); they change what the network sees, so they are not in the reference recipe:

- ``freq``: multiply by exp(j*2*pi*f*n), f ~ U[-freq_shift, freq_shift] cycles per sample:
  invariance to a residual carrier offset (the reference's clock model gives at most
  ±4.5 kHz = ±0.0226 cycles/sample at 200 kHz; a real tuner may be further off).
- ``noise``: half the frames get complex white Gaussian noise at an SNR (relative to the
  frame's own mean power) drawn from U[noise_snr_db, noise_snr_db + 20] dB: robustness to a
  lower SNR than the data's. Each frame's noise comes from its own seed, drawn per epoch.
- ``timescale``: resample the frame in time by a factor s, log-uniform in
  [1/(1+time_scale), 1+time_scale], starting at a random sub-sample offset: invariance to a
  symbol-rate or sample-clock mismatch between the training data and a receiver (a
  transmitter whose symbol rate is 1 % off, a receiver clocked at 210 instead of 200 kHz).
  Output sample k is the frame at position t0 + k·s, interpolated by a Kaiser-windowed sinc
  over the 2·:data:`HALF` = 16 nearest samples, its cut-off at min(1, 1/s) of Nyquist (no
  aliasing when s > 1 compresses the frame). It needs spare samples, so it works with
  ``crop``: the window read is about crop·s + :data:`SPARE` input samples, resampled to
  ``crop`` output samples (crop·(1+time_scale) + SPARE must fit the frame:
  :func:`check_frame_length`). The resampled
  frame's noise is band-limited to the narrower of the two bands, so with ``noise`` the added
  noise comes after the resampling, white at the output rate, as a receiver's would be.

Parameters are drawn per frame from ``(seed, epoch)`` and indexed by the frame's position in
the training split, so a resumed run or a torchrun job sees the same augmented frames as a
plain uninterrupted run.
"""

from __future__ import annotations

import hashlib
import math

import torch

from amrkit.errors import AmrkitError

AUGMENTATIONS = ("phase", "conj", "freq", "noise", "timescale")
NOISE_SPAN_DB = 20.0  # noise SNRs: U[noise_snr_db, noise_snr_db + NOISE_SPAN_DB]
HALF = 8  # timescale: the interpolator's half-width, samples (at most 2·HALF taps count)
SPARE = 2 * HALF + 2  # timescale: samples a window needs beyond crop·s (taps and rounding)
KAISER_BETA = 6.0  # timescale: < 1e-3 error on tones up to 0.25 cycles/sample


def parse_augment(text: str) -> tuple[str, ...]:
    """``"phase,conj"`` -> ("phase", "conj"); ``"none"`` or ``""`` -> (). Unknown names raise."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if names == ["none"]:
        return ()
    bad = [n for n in names if n not in AUGMENTATIONS]
    if bad or len(set(names)) != len(names):
        what = bad[0] if bad else "a repeated name"
        raise AmrkitError(
            f"augment = {text!r} is invalid ({what!r}); it must be 'none' or a comma-separated "
            f"subset of {', '.join(AUGMENTATIONS)} (config key augment or --augment)"
        )
    return tuple(n for n in AUGMENTATIONS if n in names)  # canonical order


def check_frame_length(names: tuple[str, ...], crop: int, time_scale: float, length: int) -> None:
    """``timescale`` reads up to crop·(1+time_scale) + SPARE samples: they must fit the frame."""
    if "timescale" not in names:
        return
    need = crop * (1 + time_scale) + SPARE
    if need > length:
        raise AmrkitError(
            f"augment timescale with crop = {crop} and time_scale = {time_scale:g} reads up to "
            f"{math.ceil(need)} samples, the frames have {length}; lower --crop (at most "
            f"{int((length - SPARE) / (1 + time_scale))}) or --time-scale"
        )


class EpochAugment:
    """Per-frame augmentation parameters of one epoch: ``theta`` (n,), ``flip`` (n,) bool."""

    def __init__(
        self,
        names: tuple[str, ...],
        seed: int,
        epoch: int,
        n: int,
        crop: int = 0,
        freq_shift: float = 0.0,
        noise_snr_db: float = 10.0,
        time_scale: float = 0.0,
    ) -> None:
        digest = hashlib.sha256(f"amrkit.train.augment:{seed}:{epoch}".encode()).digest()
        g = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
        # draw both always, so adding one transform does not change the other's draws
        theta = torch.rand(n, generator=g, dtype=torch.float64) * (2 * math.pi)
        flip = torch.rand(n, generator=g, dtype=torch.float64) < 0.5
        where = torch.rand(n, generator=g, dtype=torch.float64)  # crop start, a fraction
        # later transforms draw after the earlier ones, leaving their draws unchanged
        freq = (2 * torch.rand(n, generator=g, dtype=torch.float64) - 1) * freq_shift
        noisy = torch.rand(n, generator=g, dtype=torch.float64) < 0.5
        snr_db = noise_snr_db + NOISE_SPAN_DB * torch.rand(n, generator=g, dtype=torch.float64)
        noise_seed = torch.randint(0, 2**62, (n,), generator=g)
        log_s = (2 * torch.rand(n, generator=g, dtype=torch.float64) - 1) * math.log1p(time_scale)
        offset = torch.rand(n, generator=g, dtype=torch.float64)  # sub-sample start, samples
        self.theta = theta.float() if "phase" in names else None
        self.flip = flip if "conj" in names else None
        self.crop, self.where = crop, where
        self.freq = freq if "freq" in names else None
        self.noise = (noisy, snr_db, noise_seed) if "noise" in names else None
        self.scale = torch.exp(log_s) if "timescale" in names else None  # (n,) s per frame
        self.offset, self.time_scale = offset, time_scale
        if self.scale is not None and crop <= 0:
            raise AmrkitError("augment timescale needs crop > 0 (its spare samples); add --crop")

    def __call__(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """x (b, 2, L) float32 of the frames at split positions ``idx`` (b,) -> augmented copy."""
        i, q = x[:, 0], x[:, 1]  # (b, L)
        if self.flip is not None:
            sign = 1.0 - 2.0 * self.flip[idx.cpu()].to(x.device, x.dtype)  # (b,) +-1
            q = q * sign[:, None]
        if self.theta is not None:
            th = self.theta[idx.cpu()].to(x.device)[:, None]  # (b, 1)
            c, s = torch.cos(th), torch.sin(th)
            i, q = i * c - q * s, i * s + q * c
        if self.freq is not None:
            n = torch.arange(x.shape[-1], dtype=torch.float64)
            ph = (2 * math.pi * self.freq[idx.cpu()][:, None] * n).to(x.device)  # (b, L)
            c, s = torch.cos(ph).to(x.dtype), torch.sin(ph).to(x.dtype)
            i, q = i * c - q * s, i * s + q * c
        x = torch.stack((i, q), dim=1)
        if self.scale is not None:  # resample, then noise white at the output rate
            x = self._resample(x, idx)
            return self._add_noise(x, idx) if self.noise is not None else x
        if self.noise is not None:
            x = self._add_noise(x, idx)
        return self._crop(x, idx) if 0 < self.crop < x.shape[-1] else x

    def _add_noise(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """x (b, 2, L): noise at each chosen frame's drawn SNR, from that frame's own seed (so
        a frame's noise does not depend on the batch it is in)."""
        noisy, snr_db, seeds = self.noise
        out = x.clone()
        for k, pos in enumerate(idx.cpu().tolist()):
            if not noisy[pos]:
                continue
            power = float(x[k].double().pow(2).sum(0).mean())  # mean |x|^2 of the frame
            sigma = math.sqrt(power / 10 ** (float(snr_db[pos]) / 10) / 2)  # per I and Q
            g = torch.Generator().manual_seed(int(seeds[pos]))
            out[k] += (sigma * torch.randn(x.shape[1:], generator=g)).to(x.device, x.dtype)
        return out

    def _crop(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """x (b, 2, L) -> (b, 2, crop): each frame's window starts at floor(where·(L−crop+1))."""
        b, _, length = x.shape
        start = (self.where[idx.cpu()] * (length - self.crop + 1)).long().to(x.device)  # (b,)
        pos = start[:, None] + torch.arange(self.crop, device=x.device)  # (b, crop)
        return x.gather(2, pos[:, None, :].expand(b, 2, self.crop))

    def _resample(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """x (b, 2, L) -> (b, 2, crop): output k = the frame at t_k = start + HALF + offset +
        k·s, band-limited interpolation (Kaiser-windowed sinc, cut-off min(1, 1/s)) over the
        samples within HALF of t_k."""
        b, _, length = x.shape
        pos_cpu = idx.cpu()
        s = self.scale[pos_cpu]  # (b,) float64
        off = self.offset[pos_cpu]
        check_frame_length(("timescale",), self.crop, self.time_scale, length)
        # samples read: round(t_0) - HALF .. round(t_last) + HALF, t relative to the start
        need = torch.floor(off + (self.crop - 1) * s + 0.5).long() + 2 * HALF + 1  # (b,)
        start = (self.where[pos_cpu] * (length - need + 1).double()).floor()  # (b,)
        k = torch.arange(self.crop, dtype=torch.float64)
        t = (start + HALF + off)[:, None] + k * s[:, None]  # (b, crop) positions
        centre = t.round()
        dev = x.device
        frac = (t - centre).to(dev, torch.float32)  # (b, crop) in [-1/2, 1/2]
        frac = torch.where(frac == 0, 1e-7, frac)  # sinc's 0/0 at d = 0: 1e-7 sample is nothing
        fc = torch.clamp(1 / s, max=1.0).to(dev, torch.float32)  # (b,)
        h = _kernel(frac, fc)  # (b, crop, 2 HALF + 1)
        windows = x.unfold(2, 2 * HALF + 1, 1)  # (b, 2, L - 2 HALF, 2 HALF + 1), a view
        first = centre.long().to(dev) - HALF  # (b, crop) first sample of each output's taps
        got = windows[torch.arange(b, device=dev)[:, None], :, first]  # (b, crop, 2, taps)
        out = torch.matmul(got, h.to(x.dtype)[..., None])[..., 0]  # (b, crop, 2)
        out = out / h.sum(-1, keepdim=True).to(x.dtype)  # unit DC gain
        return out.transpose(1, 2).contiguous()


_WINDOW_PER_SAMPLE = 2048  # Kaiser window table resolution, entries per sample of distance
_windows: dict[torch.device, torch.Tensor] = {}


def _kernel(frac: torch.Tensor, fc: torch.Tensor) -> torch.Tensor:
    """(b, crop, 2 HALF + 1) float32 weights fc·sinc(fc·d)·kaiser(d) of the samples at
    distances d = frac − j, j = −HALF .. HALF, for frac (b, crop) in [−1/2, 1/2] (never 0) and
    cut-offs fc (b,); the window is 0 at |d| >= HALF, so at most 2·HALF taps count.

    Written to touch the big array as few times as possible: sin(πfc·d) expanded as
    sin(πfc·frac)cos(πfc·j) − cos(πfc·frac)sin(πfc·j) takes its sines on (b, crop) and
    (b, taps) only (no cancellation: d is near 0 only at j = 0, where sin(πfc·j) = 0), and the
    window (Bessel I0) comes from a table."""
    dev = frac.device
    j = torch.arange(-HALF, HALF + 1, device=dev)  # (taps,)
    a = math.pi * fc[:, None] * frac  # (b, crop)
    bj = math.pi * fc[:, None] * j  # (b, taps)
    sa, ca = torch.sin(a)[..., None], torch.cos(a)[..., None]  # (b, crop, 1)
    sb, cb = torch.sin(bj)[:, None], torch.cos(bj)[:, None]  # (b, 1, taps)
    pd = math.pi * (frac[..., None] - j)  # (b, crop, taps): pi·d, never 0
    table = _windows.get(dev)
    if table is None:
        u = torch.linspace(0, 1, HALF * _WINDOW_PER_SAMPLE + 1, dtype=torch.float64)
        table = torch.special.i0(KAISER_BETA * torch.sqrt(1 - u**2))
        table = table / table[0]
        table[-1] = 0.0  # |d| >= HALF: outside the window
        table = _windows[dev] = table.to(dev, torch.float32)
    at = (frac * _WINDOW_PER_SAMPLE).round_().long()[..., None] - j * _WINDOW_PER_SAMPLE
    at = at.abs_().clamp_(max=HALF * _WINDOW_PER_SAMPLE)
    return (sa * cb - ca * sb).div_(pd).mul_(table[at])
