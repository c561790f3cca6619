"""I/Q recordings (SigMF or raw files): bounded-memory reading, resampling and framing.

A recording is a long stream of complex samples on disk. ``classify`` turns it into model
frames in three streaming stages, none of which ever holds more than about one chunk:

1. :meth:`Recording.iter_chunks` reads ``chunk`` samples at a time through ``np.memmap``
   and converts them to complex64 (integers are centred and scaled to about [-1, 1]).
2. :func:`iter_resampled` converts the rate as ``scipy.signal.resample_poly`` does (same
   filter; our polyphase GEMM :func:`resample_range`, ``up/down`` from
   :func:`rational_ratio`) on overlapping input blocks: each block is
   padded with ``margin`` input samples on both sides (more than the filter's half length)
   and starts on a multiple of ``down``, so the kept outputs equal those of one
   ``resample_poly`` call on the whole recording.
3. :func:`iter_frames` cuts frames of ``L`` samples every ``hop`` samples across chunk
   boundaries (``floor((n - L) / hop) + 1`` frames) and normalizes each to unit average
   power, as amrkit's training frames are.

Live streams (:mod:`amrkit.stream`) push samples as they arrive: :func:`decode_samples`
converts raw bytes as :meth:`Recording.read` does, :class:`StreamResampler` yields the chunks
``iter_resampled`` yields for the whole input (same block grid: bit for bit) and
:class:`Framer` is ``iter_frames``'s state, so a stream's frames are a file's frames.

Supported sample formats (SigMF ``core:datatype`` names, also ``--format`` for raw files):
complex ``cf32``, ``cf64``, ``ci32``, ``ci16``, ``ci8``, ``cu32``, ``cu16``, ``cu8``, with
``_le`` / ``_be`` for the multi-byte ones (raw files default to little endian).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from amrkit.data.frames import input_error, one_line
from amrkit.errors import AmrkitError

SUPPORTED_DATATYPES = ("cf32", "cf64", "ci32", "ci16", "ci8", "cu32", "cu16", "cu8")
SIGMF_META = ".sigmf-meta"
SIGMF_DATA = ".sigmf-data"
DEFAULT_CHUNK = 1 << 20  # samples per read (8 MiB of complex64)
_DATATYPE = re.compile(r"^([cr])([fiu])(8|16|32|64)(?:_(le|be))?$")


# ---- normalization ----------------------------------------------------------------------
def normalize_power(iq: np.ndarray) -> np.ndarray:
    """Scale each frame of ``iq`` (n, 2, L) to unit average power, in place; returns it.

    Average power is ``mean(I**2 + Q**2)`` over the frame's L samples, the convention of
    amrkit's own frames. All-zero frames stay zero.
    """
    # NaN/inf frames stay non-finite (inf * 0 is NaN), silently: the readers report them
    with np.errstate(invalid="ignore", over="ignore"):
        power = np.einsum("ncl,ncl->n", iq, iq, dtype=np.float64) / max(1, iq.shape[2])  # (n,)
        scale = np.where(power > 0, 1.0 / np.sqrt(np.where(power > 0, power, 1.0)), 0.0)
        iq *= scale.astype(iq.dtype)[:, None, None]
    return iq


# ---- sample formats ---------------------------------------------------------------------
@dataclass(frozen=True)
class SampleFormat:
    """A complex interleaved sample format, e.g. ``ci16_le``."""

    kind: str  # "f" float, "i" signed, "u" unsigned
    bits: int
    byteorder: str  # "<" or ">" ("|" for 8 bit)

    @property
    def name(self) -> str:
        base = f"c{self.kind}{self.bits}"
        return base if self.bits == 8 else f"{base}_{'le' if self.byteorder == '<' else 'be'}"

    @property
    def component(self) -> np.dtype:
        return np.dtype(f"{self.byteorder}{self.kind}{self.bits // 8}")

    @property
    def sample_bytes(self) -> int:
        return 2 * self.bits // 8


def parse_datatype(text: str, where: str = "datatype") -> SampleFormat:
    """``"ci16_le"`` / ``"cf32"`` → SampleFormat; real or unknown types are refused."""
    allowed = ", ".join(SUPPORTED_DATATYPES) + " (+ _le/_be)"
    m = _DATATYPE.match(str(text).strip().lower())
    if not m:
        raise AmrkitError(
            f"{where} {text!r} is not a sample format amrkit reads; use one of {allowed}"
        )
    real, kind, bits_s, endian = m.groups()
    bits = int(bits_s)
    if real == "r":
        raise AmrkitError(
            f"{where} {text!r} holds real samples, but classification needs complex I/Q; "
            f"supported: {allowed}"
        )
    if f"c{kind}{bits}" not in SUPPORTED_DATATYPES:
        raise AmrkitError(f"{where} {text!r} is not supported; use one of {allowed}")
    byteorder = "|" if bits == 8 else (">" if endian == "be" else "<")
    return SampleFormat(kind, bits, byteorder)


def to_complex64(raw: np.ndarray, fmt: SampleFormat) -> np.ndarray:
    """Interleaved components (count, 2) of ``fmt`` → (count,) complex64, ints in ~[-1, 1]."""
    out = np.empty(raw.shape[0], dtype=np.complex64)
    comp = out.view(np.float32).reshape(-1, 2)  # (count, 2) view of out
    np.copyto(comp, raw, casting="unsafe")  # one converting pass (as astype(np.float32))
    if fmt.kind == "f":
        return out
    if fmt.kind == "u":  # cu8: 127.5 (RTL-SDR)
        comp -= np.float32((2.0**fmt.bits - 1) / 2)
    comp *= np.float32(2.0 ** -(fmt.bits - 1))  # exact: equals dividing by the power of two
    return out


def decode_samples(data: bytes | bytearray | memoryview, fmt: SampleFormat) -> np.ndarray:
    """Raw bytes of whole samples of ``fmt`` (e.g. read from a pipe) → (n,) complex64,
    converted exactly as :meth:`Recording.read` converts a file's samples."""
    n, rest = divmod(len(data), fmt.sample_bytes)
    if rest:
        raise AmrkitError(
            f"{len(data)} bytes are not whole {fmt.name} samples ({fmt.sample_bytes} bytes each)"
        )
    raw = np.frombuffer(data, dtype=fmt.component, count=2 * n).reshape(n, 2)  # (n, 2)
    return to_complex64(raw, fmt)


def first_nonfinite(z: np.ndarray, fmt: SampleFormat) -> int | None:
    """Index of the first NaN / inf sample of ``z`` (n,) complex64 (None: all finite).
    Integer formats are always finite; float64 beyond float32's range becomes inf."""
    if fmt.kind != "f" or np.isfinite(z.view(np.float32).sum(dtype=np.float64)):
        return None
    return int(np.flatnonzero(~np.isfinite(z))[0])


# ---- recordings -------------------------------------------------------------------------
@dataclass
class ReadStats:
    """Largest arrays materialized while streaming (samples): proves bounded memory."""

    max_read: int = 0  # samples converted from the file at once
    max_block: int = 0  # samples in one resampler input block (with margins)
    max_buffer: int = 0  # samples held by the framer

    def note(self, name: str, n: int) -> None:
        setattr(self, name, max(getattr(self, name), int(n)))


@dataclass
class Recording:
    """One channel of complex samples in a file, read lazily."""

    data_path: Path
    fmt: SampleFormat
    sample_rate_hz: float | None
    num_samples: int
    offset_bytes: int = 0
    meta_path: Path | None = None  # the .sigmf-meta, for SigMF recordings
    metadata: dict[str, Any] | None = None  # the SigMF metadata as read
    ignored_bytes: int = 0  # a partial sample at the end of the data
    stats: ReadStats = field(default_factory=ReadStats)

    @property
    def kind(self) -> str:
        return "sigmf" if self.meta_path is not None else "raw"

    @property
    def duration_s(self) -> float | None:
        return self.num_samples / self.sample_rate_hz if self.sample_rate_hz else None

    def _memmap(self) -> np.ndarray:  # (num_samples, 2) components, nothing read yet
        return np.memmap(
            self.data_path,
            dtype=self.fmt.component,
            mode="r",
            offset=self.offset_bytes,
            shape=(self.num_samples, 2),
        )

    def read(self, start: int, count: int) -> np.ndarray:
        """Samples ``[start, start + count)`` (clipped to the recording) as complex64."""
        start = max(0, int(start))
        stop = min(self.num_samples, start + max(0, int(count)))
        if stop <= start:
            return np.empty(0, dtype=np.complex64)
        self.stats.note("max_read", stop - start)
        mm = self._memmap()
        try:
            out = to_complex64(mm[start:stop], self.fmt)
        finally:
            del mm
        bad = first_nonfinite(out, self.fmt)
        if bad is not None:
            raise input_error(
                self.meta_path or self.data_path,
                "samples",
                f"NaN or inf at sample {start + bad} (or beyond float32 range)",
                "finite samples",
                "repair the recording (or cut out the damaged part)",
            )
        return out

    def iter_chunks(self, chunk: int = DEFAULT_CHUNK) -> Iterator[np.ndarray]:
        """Consecutive complex64 chunks covering the recording."""
        chunk = max(1, int(chunk))
        for start in range(0, self.num_samples, chunk):
            yield self.read(start, chunk)


def _file_samples(path: Path, fmt: SampleFormat, offset: int, trailing: int) -> tuple[int, int]:
    size = path.stat().st_size - offset - trailing
    if size < 0:
        raise AmrkitError(
            f"{str(path)!r} has {path.stat().st_size} bytes, fewer than its header/trailing "
            f"bytes ({offset} + {trailing}); is the file complete?"
        )
    return size // fmt.sample_bytes, size % fmt.sample_bytes


def sigmf_paths(path: str | Path) -> tuple[Path, Path] | None:
    """(meta, data) when ``path`` names a SigMF recording (either file, or the base name)."""
    p = Path(path)
    name = p.name
    for ext in (SIGMF_META, SIGMF_DATA):
        if name.endswith(ext):
            base = p.with_name(name[: -len(ext)])
            return base.with_name(base.name + SIGMF_META), base.with_name(base.name + SIGMF_DATA)
    meta = p.with_name(name + SIGMF_META)
    if meta.is_file():
        return meta, p.with_name(name + SIGMF_DATA)
    return None


def open_recording(
    path: str | Path,
    format: str | None = None,
    sample_rate_hz: float | None = None,
) -> Recording:
    """A SigMF recording (``.sigmf-meta``/``.sigmf-data`` or their base name) or a raw file.

    ``format``: ``"sigmf"`` or a sample format (``cf32``, ``ci16_be``, ...) for raw files;
    None detects SigMF by name. ``sample_rate_hz`` is required for raw files and fills in a
    SigMF file that lacks ``core:sample_rate`` (if both are given they must agree).
    """
    p = Path(path)
    if p.name.endswith((".sigmf", ".sigmf.gz", ".sigmf.xz", ".sigmf.zip")):
        raise AmrkitError(
            f"{str(p)!r} is a SigMF archive; extract it (tar xf) and pass the .sigmf-meta file"
        )
    if sample_rate_hz is not None and not (sample_rate_hz > 0 and math.isfinite(sample_rate_hz)):
        raise AmrkitError(
            f"--sample-rate {sample_rate_hz} must be a positive number of Hz, e.g. 1e6"
        )
    pair = sigmf_paths(p)
    if format is None or format.lower() == "sigmf":
        if pair is None:
            if format is not None:
                raise AmrkitError(f"{str(p)!r} is not SigMF: no {p.name + SIGMF_META!r} next to it")
            raise AmrkitError(
                f"{str(p)!r} is not a SigMF recording; for a raw file give its sample format "
                f"(--format {'|'.join(SUPPORTED_DATATYPES)}) and --sample-rate"
            )
        return _open_sigmf(pair[0], sample_rate_hz)
    if pair is not None and pair[0].is_file() and p.name.endswith((SIGMF_META, SIGMF_DATA)):
        raise AmrkitError(
            f"{str(p)!r} is a SigMF recording; its format comes from core:datatype in "
            f"{pair[0].name!r}, drop --format"
        )
    fmt = parse_datatype(format, "--format")
    if not p.is_file():
        raise AmrkitError(f"recording {str(p)!r} does not exist; check the path")
    if sample_rate_hz is None:
        raise AmrkitError(
            f"raw recording {str(p)!r} needs its sample rate; pass --sample-rate (Hz), e.g. 1e6"
        )
    n, rest = _file_samples(p, fmt, 0, 0)
    return Recording(p, fmt, float(sample_rate_hz), n, ignored_bytes=rest)


def _open_sigmf(meta_path: Path, sample_rate_hz: float | None) -> Recording:
    where = str(meta_path)
    metadata = _read_sigmf_json(meta_path)
    g, data_path = _validated_sigmf(meta_path, metadata)
    if g.get("core:metadata_only"):
        raise AmrkitError(f"SigMF recording {where!r} is metadata-only; it has no samples")
    if data_path is None:
        raise AmrkitError(
            f"SigMF recording {where!r} has no data file; expected "
            f"{meta_path.name[: -len(SIGMF_META)] + SIGMF_DATA!r} next to it"
        )
    fmt = parse_datatype(g.get("core:datatype", ""), f"{where}: core:datatype")
    channels = g.get("core:num_channels", 1)
    if channels != 1 or isinstance(channels, bool):
        raise AmrkitError(
            f"SigMF recording {where!r} has {channels} channels; amrkit classifies one channel "
            "(split the channels into separate recordings)"
        )
    captures = metadata.get("captures") or []
    header = _count(captures[0], "core:header_bytes", where) if captures else 0
    if any(_count(c, "core:header_bytes", where) for c in captures[1:]):
        raise AmrkitError(
            f"SigMF recording {where!r} has header bytes inside the data (later captures); "
            "only a header before the first sample is supported"
        )
    trailing = _count(g, "core:trailing_bytes", where)
    rate = _sigmf_rate(g.get("core:sample_rate"), sample_rate_hz, where)
    data_path = _inside(meta_path, Path(data_path), "the data file")
    n, rest = _file_samples(data_path, fmt, header, trailing)
    return Recording(
        data_path,
        fmt,
        rate,
        n,
        offset_bytes=header,
        meta_path=meta_path,
        metadata=metadata,
        ignored_bytes=rest,
    )


def _read_sigmf_json(meta_path: Path) -> dict[str, Any]:
    """The metadata as a dict with ``global``, ``captures`` and ``annotations``; a named
    ``core:dataset`` must lie inside the metadata's folder."""
    where = str(meta_path)
    if not meta_path.is_file():
        raise AmrkitError(f"SigMF metadata {where!r} does not exist; check the path")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AmrkitError(f"SigMF metadata {where!r} is not valid JSON ({exc})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("global"), dict):
        raise AmrkitError(f"SigMF metadata {where!r} has no 'global' object; is it SigMF?")
    metadata.setdefault("captures", [])
    metadata.setdefault("annotations", [])
    named = metadata["global"].get("core:dataset")
    if named is not None:
        if not isinstance(named, str) or not named:
            raise input_error(where, "core:dataset", repr(named), "a file name", "fix the metadata")
        _inside(meta_path, meta_path.parent / named, "core:dataset")
    return metadata


def _validated_sigmf(meta_path: Path, metadata: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The sigmf package's schema check: (global info, data file path or None)."""
    import warnings

    from sigmf import SigMFFile
    from sigmf.error import SigMFError
    from sigmf.sigmffile import get_dataset_filename_from_metadata

    where = str(meta_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sf = SigMFFile(metadata=metadata)
            sf.validate()
            data_path = get_dataset_filename_from_metadata(meta_path, metadata)
    except SigMFError as exc:
        raise AmrkitError(f"SigMF recording {where!r}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # noqa: BLE001 - jsonschema.ValidationError and friends
        msg = getattr(exc, "message", None) or str(exc).splitlines()[0]
        field = "/".join(str(k) for k in getattr(exc, "absolute_path", [])) or "metadata"
        raise AmrkitError(
            f"SigMF metadata {where!r} is invalid: {field}: {one_line(msg)}; fix the metadata"
        ) from None
    return sf.get_global_info(), data_path


def _sigmf_rate(rate: Any, sample_rate_hz: float | None, where: str) -> float:
    """The recording's sample rate: core:sample_rate, else --sample-rate; both must agree."""
    if rate is not None and not _positive(rate):
        raise input_error(
            where, "core:sample_rate", repr(rate), "a positive number of Hz", "fix the metadata"
        )
    if (
        rate is not None
        and sample_rate_hz is not None
        and not math.isclose(float(rate), sample_rate_hz, rel_tol=1e-9)
    ):
        raise AmrkitError(
            f"--sample-rate {sample_rate_hz:g} contradicts core:sample_rate {float(rate):g} of "
            f"{where!r}; drop --sample-rate (or fix the metadata)"
        )
    if rate is None and sample_rate_hz is None:
        raise AmrkitError(
            f"SigMF recording {where!r} has no core:sample_rate; pass --sample-rate (Hz)"
        )
    return float(rate) if rate is not None else float(sample_rate_hz)


def _inside(meta_path: Path, path: Path, field: str) -> Path:
    """``path`` if it resolves (symlinks, ``..``) inside the metadata's own folder; amrkit
    reads nothing outside its input (path traversal)."""
    folder = os.path.realpath(meta_path.parent)
    real = os.path.realpath(path)
    if os.path.commonpath([folder, real]) != folder:
        raise input_error(
            meta_path,
            field,
            f"{str(path)!r}, which resolves to {real!r} outside {folder!r}",
            "a data file in the metadata's own folder",
            "amrkit reads nothing outside its input; move the data file next to the metadata",
        )
    return path


def _count(obj: Any, key: str, where: str) -> int:
    """A non-negative integer field of a SigMF object (0 when absent)."""
    value = obj.get(key, 0) if isinstance(obj, dict) else None
    if value is None or isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise input_error(where, key, repr(value), "an integer >= 0", "fix the metadata")
    return value


def _positive(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


# ---- resampling -------------------------------------------------------------------------
def rational_ratio(out_rate: float, in_rate: float, max_denominator: int = 1000) -> tuple[int, int]:
    """``(up, down)``, coprime, with ``up / down`` the closest fraction to ``out / in``.

    ``max_denominator`` bounds ``down`` (and so the filter length, 20·max(up, down) + 1).
    """
    if not (out_rate > 0 and in_rate > 0):
        raise AmrkitError(f"sample rates must be positive, got {out_rate} and {in_rate}")
    ratio = Fraction(out_rate / in_rate).limit_denominator(max_denominator)
    if ratio.numerator == 0:
        raise AmrkitError(
            f"cannot resample {in_rate:g} Hz to {out_rate:g} Hz with denominators up to "
            f"{max_denominator}; the ratio is too small"
        )
    return ratio.numerator, ratio.denominator


def resample_filter(up: int, down: int) -> np.ndarray:
    """The FIR filter ``resample_poly`` designs by default (Kaiser β=5, half length 10·max)."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    half_len = 10 * max_rate
    return firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)


def resampled_length(n: int, up: int, down: int) -> int:
    return (n * up + down - 1) // down


def iter_resampled(
    rec: Recording | np.ndarray,
    up: int,
    down: int,
    block: int = DEFAULT_CHUNK,
    stats: ReadStats | None = None,
) -> Iterator[np.ndarray]:
    """The recording at ``up/down`` times its rate, as consecutive complex64 chunks.

    Equal (to float32 rounding) to ``resample_poly(x, up, down)`` on the whole input, but
    never holds more than ``block + 2·margin`` input samples. ``rec`` may be an array
    (tests) or a :class:`Recording`. :class:`StreamResampler` yields the same chunks, bit for
    bit, for samples that arrive in pieces.
    """
    read = (
        rec.read
        if isinstance(rec, Recording)
        else (lambda s, c: np.asarray(rec[max(0, s) : max(0, s) + max(0, c)], dtype=np.complex64))
    )
    n = rec.num_samples if isinstance(rec, Recording) else len(rec)
    stats = (
        stats if stats is not None else (rec.stats if isinstance(rec, Recording) else ReadStats())
    )
    grid = _BlockGrid.make(up, down, block)
    for a in range(0, n, grid.step):
        b = min(n, a + grid.step)
        s, e = max(0, a - grid.margin), min(n, b + grid.margin)
        x = read(s, e - s)  # (e - s,) complex64; s is a multiple of down
        stats.note("max_block", len(x))
        yield grid.resample(x, s, a, b, n)


@dataclass(frozen=True)
class _BlockGrid:
    """How the input is cut for resampling: core blocks of ``step`` samples (a multiple of
    ``down``), each read with ``margin`` more input samples on both sides (more than the
    filter's half length, a multiple of ``down``). No filter when ``up == down``."""

    up: int
    down: int
    step: int
    margin: int
    h: np.ndarray | None

    @classmethod
    def make(cls, up: int, down: int, block: int) -> _BlockGrid:
        g = math.gcd(up, down)
        up, down = up // g, down // g
        if up == down == 1:
            return cls(1, 1, max(1, int(block)), 0, None)
        h = resample_filter(up, down)
        half_len = (len(h) - 1) // 2
        margin = _round_up(half_len // up + 2, down)
        return cls(up, down, _round_up(max(1, int(block)), down), margin, h)

    def resample(self, x: np.ndarray, s: int, a: int, b: int, n: int) -> np.ndarray:
        """Outputs of the core block ``[a, b)`` from ``x`` = input ``[s, e)`` of ``n``."""
        if self.h is None:
            return x
        up, down = self.up, self.down
        first = (a - s) * up // down
        last = (b * up // down if b < n else resampled_length(n, up, down)) - s * up // down
        return resample_range(x, up, down, self.h, first, last)


class StreamResampler:
    """:func:`iter_resampled` for samples that arrive in pieces of any size.

    :meth:`push` the samples as they come, :meth:`finish` at the end of the stream: the
    chunks returned are those ``iter_resampled`` yields for the whole input with the same
    ``block`` (same block grid, same arithmetic: equal bit for bit). A block is resampled as
    soon as its right margin has arrived; at most ``block + 2·margin`` input samples plus
    the last piece pushed are held.
    """

    def __init__(
        self, up: int, down: int, block: int = DEFAULT_CHUNK, stats: ReadStats | None = None
    ) -> None:
        self.grid = _BlockGrid.make(up, down, block)
        self.stats = stats if stats is not None else ReadStats()
        self._parts: list[np.ndarray] = []  # input from self._start on, not yet joined
        self._start = 0  # input index of the first held sample
        self._a = 0  # start of the next core block
        self.received = 0  # input samples pushed

    def push(self, x: np.ndarray) -> list[np.ndarray]:
        """Append ``x`` (k,) complex64; the resampled chunks that are now complete."""
        if len(x):
            self._parts.append(np.asarray(x, dtype=np.complex64))
            self.received += len(x)
        out = []
        while self.received >= self._a + self.grid.step + self.grid.margin:
            out.append(self._block(self._a + self.grid.step, self.received))
        return out

    def finish(self) -> list[np.ndarray]:
        """The chunks left at the end of the stream (its length is now known)."""
        out = []
        while self._a < self.received:
            out.append(self._block(min(self.received, self._a + self.grid.step), self.received))
        return out

    def _block(self, b: int, n: int) -> np.ndarray:
        a, g = self._a, self.grid
        s, e = max(0, a - g.margin), min(n, b + g.margin)
        held = self._parts[0] if len(self._parts) == 1 else np.concatenate(self._parts)
        x = held[s - self._start : e - self._start]  # (e - s,) input [s, e)
        self.stats.note("max_block", len(x))
        y = g.resample(x, s, a, b, n)
        keep = max(0, b - g.margin)  # the next block reads from here on
        self._parts = [held[keep - self._start :]] if len(held) > keep - self._start else []
        self._start, self._a = keep, b
        return y


def resample_range(
    x: np.ndarray, up: int, down: int, h: np.ndarray, m0: int, m1: int
) -> np.ndarray:
    """Outputs ``[m0, m1)`` of ``resample_poly(x, up, down, window=h)`` (zeros outside ``x``).

    ``x`` (n,) complex64, ``up``/``down`` coprime. Output ``m`` is
    ``up · sum_i h[m·down + half_len - up·i] · x[i]``; the outputs ``m ≡ q (mod up)`` use one
    polyphase branch ``h[p_q::up]`` of the filter and are a decimation by ``down``
    (:func:`_decimate_into`), so no zero-stuffed samples are ever multiplied.
    """
    half_len = (len(h) - 1) // 2
    hs = (np.asarray(h, np.float32) * np.float32(up)).astype(np.float32)
    y = np.empty(max(0, m1 - m0), np.complex64)  # (m1 - m0,)
    for q in range(up):
        j0, j1 = -(-(m0 - q) // up), -(-(m1 - q) // up)  # branch outputs q + up·j, j in [j0, j1)
        if j1 <= j0:
            continue
        t = q * down + half_len
        branch, off = hs[t % up :: up], t // up + j0 * down
        start = q + up * j0 - m0
        if up == 1:
            _decimate_into(y[start : start + j1 - j0], x, branch, off, down)
        else:
            part = np.empty(j1 - j0, np.complex64)
            _decimate_into(part, x, branch, off, down)
            y[start::up][: j1 - j0] = part
    return y


_GEMM_MACS = 250_000  # per GEMM: below OpenBLAS's threading threshold (4·65536), so one thread
_GEMMS_PER_CALL = 16  # GEMMs batched in one np.matmul call


def _decimation_matrix(g: np.ndarray, down: int, per_row: int) -> tuple[np.ndarray, int]:
    """The filter as a real matrix (2·B·S, 2·S·down) acting on rows of S·down input samples.

    Entry [(a, s, c), (u, c)] = reversed g at ``a·S·down + u - s·down``: output ``s`` of a row
    gathers taps from ``B`` consecutive input rows ``a``; c (re, im) are filtered alike.
    """
    R, S = len(g), per_row
    width = S * down  # input samples per row
    B = -(-((S - 1) * down + R) // width)
    gr = np.ascontiguousarray(g[::-1], dtype=np.float32)
    G = np.zeros((B, S, 2, width, 2), np.float32)
    for s in range(S):
        for a in range(B):
            u0 = max(0, s * down - a * width)
            u1 = min(width, R + s * down - a * width)
            if u1 > u0:
                seg = gr[a * width + u0 - s * down : a * width + u1 - s * down]
                G[a, s, 0, u0:u1, 0] = seg
                G[a, s, 1, u0:u1, 1] = seg
    return G.reshape(B * S * 2, width * 2), B


def _decimate_into(out: np.ndarray, x: np.ndarray, g: np.ndarray, off: int, down: int) -> None:
    """``out[j] = sum_r g[r] · x[off + j·down - r]`` for ``j < len(out)``, x zero outside.

    As small GEMMs: the input cut into rows of S·down samples (a free view of the
    interleaved floats), times :func:`_decimation_matrix`, then the B partial products of each
    output (diagonals of the product) summed. ``out`` (count,) complex64, written in place.
    """
    count, R = len(out), len(g)
    if count == 0:
        return
    S = max(1, R // (5 * down))  # outputs per row: fewer diagonals to sum for long filters
    GT, B = _decimation_matrix(g, down, S)  # (2BS, 2·width)
    width = S * down
    sub = max(1, _GEMM_MACS // GT.size - B)  # rows per GEMM
    nb = -(-_round_up(count, S) // (S * sub))  # GEMMs
    rows = nb * sub + B - 1
    lo = off - (R - 1)  # x index of the first input row's first sample
    if lo >= 0 and lo + rows * width <= len(x):
        xs = x[lo : lo + rows * width]
    else:  # at the ends of x: zero padding (a copy of this block only)
        xs = np.zeros(rows * width, np.complex64)
        a, b = max(lo, 0), min(lo + rows * width, len(x))
        if b > a:
            xs[a - lo : b - lo] = x[a:b]
    Xf = np.ascontiguousarray(xs).view(np.float32).reshape(rows, 2 * width)  # (rows, 2·width)
    r0, c0 = Xf.strides
    res = np.empty((nb, 2 * S, sub), np.float32)  # [gemm, (s, c), row]
    for b0 in range(0, nb, _GEMMS_PER_CALL):
        k = min(_GEMMS_PER_CALL, nb - b0)
        W = as_strided(Xf[b0 * sub :], (k, 2 * width, sub + B - 1), (sub * r0, c0, r0))
        P = np.matmul(GT, W).reshape(k, B, 2 * S, sub + B - 1)
        s0, s1, s2, s3 = P.strides
        diag = as_strided(P, (B, k, 2 * S, sub), (s1 + s3, s0, s2, s3))  # [a, ., ., i] = P[.., i+a]
        np.sum(diag, axis=0, out=res[b0 : b0 + k])
    flat = res.reshape(nb, S, 2, sub).transpose(0, 3, 1, 2).reshape(nb * sub * S, 2)
    out.view(np.float32).reshape(count, 2)[:] = flat[:count]


def _round_up(value: int, multiple: int) -> int:
    return -(-int(value) // multiple) * multiple


# ---- framing ----------------------------------------------------------------------------
def frame_count(n: int, frame_length: int, hop: int) -> int:
    """Frames of ``frame_length`` every ``hop`` samples in ``n``: floor((n - L)/hop) + 1."""
    return 0 if n < frame_length else (n - frame_length) // hop + 1


def frame_starts(n: int, frame_length: int, hop: int) -> np.ndarray:
    """Start sample of every frame: 0, hop, 2·hop, ... (int64)."""
    return np.arange(frame_count(n, frame_length, hop), dtype=np.int64) * hop


def iter_frames(
    chunks: Iterable[np.ndarray],
    frame_length: int,
    hop: int | None = None,
    batch_size: int = 256,
    normalize: bool = True,
    stats: ReadStats | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Frames across a stream of complex chunks: yields ``(starts (b,), iq (b, 2, L))``.

    ``starts`` index the concatenated stream. Frames are unit-power normalized unless
    ``normalize`` is False. At most ``batch_size`` frames are materialized at a time.
    """
    framer = Framer(frame_length, hop, batch_size, normalize, stats)
    for chunk in chunks:
        yield from framer.push(chunk)


class Framer:
    """Frames of ``L`` samples every ``hop`` samples across chunks pushed one at a time (the
    state of :func:`iter_frames`): the samples no future frame needs are dropped, so at most
    one chunk plus one frame is held."""

    def __init__(
        self,
        frame_length: int,
        hop: int | None = None,
        batch_size: int = 256,
        normalize: bool = True,
        stats: ReadStats | None = None,
    ) -> None:
        L = int(frame_length)
        hop = L if hop is None else int(hop)
        if L < 1 or hop < 1 or batch_size < 1:
            raise AmrkitError(
                f"frame length, hop and batch size must be >= 1 (got {L}, {hop}, {batch_size})"
            )
        self.L, self.hop, self.batch_size, self.normalize = L, hop, batch_size, normalize
        self.stats = stats
        self.buf = np.empty(0, dtype=np.complex64)
        self.buf_start = 0  # stream index of buf[0]
        self.next_start = 0  # stream index of the next frame to emit

    @property
    def pending(self) -> int:
        """Samples received from the next frame's start on: a partial frame at the end."""
        return max(0, self.buf_start + len(self.buf) - self.next_start)

    def push(self, chunk: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yields ``(starts (b,), iq (b, 2, L))`` for every frame ``chunk`` completes."""
        if len(chunk) == 0:
            return
        L, hop, buf, buf_start = self.L, self.hop, self.buf, self.buf_start
        # drop what no future frame needs (before next_start), append the chunk
        drop = min(len(buf), max(0, self.next_start - buf_start))
        skip_in_chunk = max(0, self.next_start - (buf_start + len(buf)))  # hop > L skips samples
        if skip_in_chunk:
            buf_start = buf_start + len(buf) + min(skip_in_chunk, len(chunk))
            buf = np.asarray(chunk[skip_in_chunk:], dtype=np.complex64)
        else:
            buf = np.concatenate([buf[drop:], np.asarray(chunk, dtype=np.complex64)])
            buf_start += drop
        self.buf, self.buf_start = buf, buf_start
        if self.stats is not None:
            self.stats.note("max_buffer", len(buf))
        base = self.next_start
        avail = len(buf) - (base - buf_start)
        count = frame_count(avail, L, hop) if base >= buf_start else 0
        for first in range(0, count, self.batch_size):
            k = min(self.batch_size, count - first)
            offs = base - buf_start + (first + np.arange(k)) * hop  # (k,)
            z = sliding_window_view(buf[offs[0] : offs[-1] + L], L)[::hop]  # (k, L) view
            iq = np.empty((k, 2, L), np.float32)
            iq[:, 0], iq[:, 1] = z.real, z.imag
            if self.normalize:
                normalize_power(iq)
            # advanced before the yield: a consumer that stops here never sees these again
            self.next_start = base + (first + k) * hop
            yield buf_start + offs.astype(np.int64), iq
