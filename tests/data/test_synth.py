"""SynthConfig, SNR lists, the frame plan, and determinism across workers and seeds."""

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.config import to_dict
from amrkit.data.synth import (
    SynthConfig,
    block_rng,
    config_from_mapping,
    config_to_json,
    frame_plan,
    normalize_power,
    parse_snrs,
    preset_config,
    synthesize_arrays,
    synthesize_block,
)
from amrkit.errors import AmrkitError
from amrkit.signals import CLASSES

INF = float("inf")


def test_matlab_preset_is_the_reference():
    cfg = preset_config("matlab")
    assert cfg.classes == (
        "BPSK",
        "QPSK",
        "8PSK",
        "16QAM",
        "64QAM",
        "PAM4",
        "GFSK",
        "CPFSK",
        "B-FM",
        "DSB-AM",
        "SSB-AM",
    )
    assert (cfg.sample_rate_hz, cfg.samples_per_symbol, cfg.frame_length) == (200e3, 8, 1024)
    assert cfg.frames_per_class == 10_000 and cfg.split == (0.8, 0.1, 0.1)
    assert cfg.snrs == (30.0,) and cfg.channel == "full" and cfg.snr_convention == "measured"
    assert cfg.skip == 50
    m = cfg.modulation
    assert (m.rrc_rolloff, m.rrc_span_symbols, m.gfsk_bt, m.gfsk_index, m.cpfsk_index) == (
        0.35,
        4,
        0.35,
        1.0,
        0.5,
    )
    assert (m.fm_deviation_hz, m.fm_preemphasis_s, m.am_carrier_hz) == (75e3, 75e-6, 50e3)
    ch = cfg.channel_model
    assert (ch.carrier_digital_hz, ch.carrier_analog_hz) == (902e6, 100e6)


@pytest.mark.parametrize(
    "text, want",
    [
        ("30", (30.0,)),
        ("0,10,20", (0.0, 10.0, 20.0)),
        ("-10:30:10", (-10.0, 0.0, 10.0, 20.0, 30.0)),
        ("30:-10:-20", (30.0, 10.0, -10.0)),
        ("0:1:0.25", (0.0, 0.25, 0.5, 0.75, 1.0)),
        ("0:5:2", (0.0, 2.0, 4.0)),
        ("inf", (INF,)),
        ("-4:4:4,inf", (-4.0, 0.0, 4.0, INF)),
    ],
)
def test_parse_snrs(text, want):
    assert parse_snrs(text) == want


@pytest.mark.parametrize(
    "text, match",
    [
        ("30:-10:2", "empty"),
        ("0:10:0", "non-zero step"),
        ("", "empty item"),
        ("10,,20", "empty item"),
        ("abc", "not a number"),
        ("nan", "not allowed"),
        ("-inf", "not allowed"),
        ("1:2", "start:stop:step"),
        ("10,10", "listed twice"),
    ],
)
def test_parse_snrs_errors(text, match):
    with pytest.raises(AmrkitError, match=match) as exc:
        parse_snrs(text)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "snrs, match",
    [((10.0, 10.0), "listed twice"), ((math.nan,), "not allowed"), ((-INF,), "not allowed")],
)
def test_config_checks_numeric_snrs(snrs, match):
    with pytest.raises(AmrkitError, match=match) as exc:
        SynthConfig(snrs=snrs)
    assert "\n" not in str(exc.value)


def test_config_takes_snr_text_or_numbers_alike():
    """A config's SNRs may be --snr text or numbers; both give the same floats (−0 → 0)."""
    assert SynthConfig(snrs="-10:10:10").snrs == SynthConfig(snrs=(-10, 0, 10)).snrs
    assert math.copysign(1.0, SynthConfig(snrs=(-0.0,)).snrs[0]) == 1.0
    assert parse_snrs(30) == parse_snrs("30") == (30.0,)


@given(
    st.integers(-40, 40),
    st.integers(1, 10),
    st.integers(0, 30),
    st.integers(0, 9),
)
@settings(max_examples=60, deadline=None)
def test_snr_range_property(start, step, count, extra):
    """start:stop:step includes stop when on the grid, is evenly spaced, and never overshoots."""
    stop = start + count * step + (extra % step)  # stop on or just past the grid
    vals = parse_snrs(f"{start}:{stop}:{step}")
    assert vals[0] == start and len(vals) == count + 1
    assert np.allclose(np.diff(vals), step)
    assert vals[-1] <= stop and stop - vals[-1] < step
    down = parse_snrs(f"{stop}:{start}:{-step}")
    assert down[0] == stop and down[-1] >= start


@given(st.lists(st.integers(-50, 50), min_size=1, max_size=12, unique=True))
@settings(max_examples=40, deadline=None)
def test_snr_comma_list_round_trip(values):
    assert parse_snrs(",".join(map(str, values))) == tuple(float(v) for v in values)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"classes": ("BPSK", "FOO")}, "unknown class.*'FOO'.*valid classes: BPSK, QPSK"),
        ({"classes": ()}, "no classes"),
        ({"classes": ("BPSK", "BPSK")}, "listed twice"),
        ({"frames_per_class": -5}, "--frames-per-class -5"),
        ({"frames_per_class": 0}, "--frames-per-class 0"),
        ({"frames_per_class": 3, "snrs": (0.0, 10.0, 20.0, 30.0)}, "fewer than the 4 SNRs"),
        ({"channel": "none", "snrs": (30.0,)}, "--channel none adds no noise.*--snr inf"),
        ({"channel": "rayleigh"}, "--channel 'rayleigh' is not one of full, awgn, none"),
        ({"snr_convention": "db"}, "--snr-convention 'db'"),
        ({"frame_length": 8}, "--frame-length 8"),
        ({"samples_per_symbol": 1}, "--samples-per-symbol 1"),
        ({"sample_rate_hz": -1.0}, "--sample-rate -1.0"),
        ({"sample_rate_hz": 100e3}, "too low for B-FM, DSB-AM, SSB-AM"),
        ({"split": (0.5, 0.5, 0.5)}, "--split 0.5,0.5,0.5"),
        ({"seed": -1}, "--seed -1"),
        ({"preset": "radioml"}, "preset 'radioml' is unknown; choose one of matlab"),
        ({"snrs": ()}, "SNR list"),
        ({"frame_length": 1 << 18}, "drifts the clock by 1.31 samples"),
    ],
)
def test_bad_config_is_one_line_error(kwargs, match):
    with pytest.raises(AmrkitError, match=match) as exc:
        SynthConfig(**kwargs)
    assert "\n" not in str(exc.value)


def test_low_sample_rate_is_fine_without_analog_classes():
    cfg = SynthConfig(classes=("BPSK",), sample_rate_hz=50e3, frames_per_class=2)
    assert synthesize_arrays(cfg)["iq"].shape == (2, 2, 1024)


def test_config_json_round_trip():
    cfg = SynthConfig(classes=("BPSK", "SSB-AM"), snrs=(-2.0, INF), frames_per_class=7, seed=9)
    stored = json.loads(config_to_json(cfg))
    assert stored["amrkit_version"] and stored["generator"] == "amrkit.data.synth"
    assert stored["snrs"] == [-2.0, "inf"]  # strict JSON
    assert config_from_mapping(stored) == cfg
    assert to_dict(config_from_mapping(stored)) == to_dict(cfg)


def test_unknown_config_key_is_rejected():
    with pytest.raises(AmrkitError, match="unknown key"):
        config_from_mapping({"frames": 3})


@given(st.integers(1, 60), st.integers(1, 6), st.integers(1, 4))
@settings(max_examples=50, deadline=None)
def test_frame_plan_spreads_snrs_evenly(fpc, n_snr, n_cls):
    if fpc < n_snr:
        return
    cfg = SynthConfig(
        classes=CLASSES[:n_cls],
        frames_per_class=fpc,
        snrs=tuple(float(10 * i) for i in range(n_snr)),
    )
    label, snr = frame_plan(cfg)
    assert label.dtype == np.int16 and snr.dtype == np.float32
    assert len(label) == n_cls * fpc
    for c in range(n_cls):
        counts = np.array([np.sum((label == c) & (snr == s)) for s in cfg.snrs])
        assert counts.sum() == fpc and counts.max() - counts.min() <= 1


def test_same_seed_same_bytes_for_any_worker_count():
    cfg = SynthConfig(frames_per_class=6, snrs=(0.0, 20.0), seed=4, block_size=8)  # 9 blocks
    one = synthesize_arrays(cfg, workers=1)
    two = synthesize_arrays(cfg, workers=2)
    three = synthesize_arrays(cfg, workers=3)
    assert one["iq"].tobytes() == two["iq"].tobytes() == three["iq"].tobytes()
    for k in one["channel"]:
        assert np.array_equal(one["channel"][k], three["channel"][k])
    assert np.array_equal(one["split"], two["split"])


def test_different_seeds_differ():
    a = synthesize_arrays(SynthConfig(frames_per_class=4, seed=1))
    b = synthesize_arrays(SynthConfig(frames_per_class=4, seed=2))
    assert not np.any(np.all(a["iq"] == b["iq"], axis=(1, 2)))  # no frame repeats
    assert not np.array_equal(a["channel"]["ppm"], b["channel"]["ppm"])


@pytest.mark.parametrize("channel", ["full", "awgn"])
def test_bytes_do_not_depend_on_the_chunk_size(monkeypatch, channel):
    """Blocks are processed in cache-sized chunks; the chunk size never shows in the bytes."""
    from amrkit.data.synth import pipeline

    cfg = SynthConfig(
        classes=("QPSK", "B-FM"), frames_per_class=20, snrs=(0.0, INF), channel=channel, seed=6
    )
    label, snr = frame_plan(cfg)
    whole, _ = synthesize_block(cfg, 0, label, snr)
    monkeypatch.setattr(pipeline, "CHUNK", 7)
    chunked, _ = synthesize_block(cfg, 0, label, snr)
    assert chunked.tobytes() == whole.tobytes()
    other, _ = synthesize_block(cfg, 1, label, snr)  # control: another block's draws differ
    assert other.tobytes() != whole.tobytes()


def test_blocks_are_independent():
    """A block is a function of (config, block id) only: recomputing it alone gives its slice."""
    cfg = SynthConfig(frames_per_class=5, block_size=7, seed=8)
    full = synthesize_arrays(cfg)
    label, snr = frame_plan(cfg)
    iq, extras = synthesize_block(cfg, 3, label[21:28], snr[21:28])
    assert np.array_equal(iq, full["iq"][21:28])
    assert np.array_equal(extras["ppm"], full["channel"]["ppm"][21:28])
    # and block generators differ from one another
    assert block_rng(8, 3).random() != block_rng(8, 4).random()


def test_frames_within_a_block_are_distinct():
    out = synthesize_arrays(
        SynthConfig(classes=("B-FM", "DSB-AM"), frames_per_class=16, channel="none", snrs=(INF,))
    )
    flat = out["iq"].reshape(len(out["iq"]), -1)
    c = np.corrcoef(flat)
    assert np.max(np.abs(c[~np.eye(len(c), dtype=bool)])) < 0.9


def test_overrides_change_shapes():
    cfg = preset_config(
        "matlab",
        frame_length=128,
        samples_per_symbol=4,
        classes=("QPSK", "CPFSK"),
        frames_per_class=3,
    )
    out = synthesize_arrays(cfg)
    assert out["iq"].shape == (6, 2, 128)
    assert out["channel"]["offset"].max() <= 4


def test_dataclass_replace_revalidates():
    cfg = SynthConfig(frames_per_class=2)
    with pytest.raises(AmrkitError):
        dataclasses.replace(cfg, frames_per_class=-1)
    assert math.isinf(dataclasses.replace(cfg, channel="none", snrs=(INF,)).snrs[0])


@given(
    st.integers(1, 6),
    st.integers(1, 64),
    st.floats(1e-6, 1e6),
    st.integers(0, 2**31),
)
@settings(max_examples=40, deadline=None)
def test_normalize_power_property(n, length, scale, seed):
    """Any non-zero frame comes out at unit average power; direction is kept."""
    gen = np.random.default_rng(seed)
    x = scale * (gen.standard_normal((n, length)) + 1j * gen.standard_normal((n, length)))
    y = normalize_power(x.astype(np.complex64))
    np.testing.assert_allclose(np.mean(np.abs(y) ** 2, axis=1), 1.0, rtol=1e-4)
    ratio = y / x.astype(np.complex64)
    np.testing.assert_allclose(ratio.imag, 0, atol=1e-3 * np.abs(ratio).max())
    zero = normalize_power(np.zeros((2, length), np.complex64))
    assert np.all(zero == 0) and np.all(np.isfinite(zero))


def test_warm_up_compiles_every_kernel_variant_the_blocks_use():
    """Workers fork after warm_up: no block may need a kernel variant it did not compile
    (single-class blocks hand the channel strided sources, mixed blocks contiguous ones)."""
    from amrkit.channel import fused
    from amrkit.data.synth import pipeline
    from amrkit.data.synth.plan import frame_plan

    cfg = preset_config("matlab", frames_per_class=3, snrs=(10.0,), channel="full", seed=3)
    pipeline.warm_up(cfg)
    compiled = set(fused._frames.signatures)
    assert compiled  # the full channel's kernel was compiled (or loaded)
    label, snr = frame_plan(cfg)
    for rows in (slice(0, 3), slice(0, 9), slice(24, 33)):  # one class, mixed, analog only
        pipeline.synthesize_block(cfg, 0, label[rows], snr[rows])
    assert set(fused._frames.signatures) == compiled


@pytest.mark.skipif(
    __import__("platform").libc_ver()[0] != "glibc", reason="mallopt tuning is glibc's"
)
def test_keep_freed_memory_reuses_pages_of_large_temporaries():
    """After keep_freed_memory, a freed 12 MiB array's pages serve the next one: no fresh
    page faults (glibc's default mmaps it, faults it in and unmaps it again: ~500 faults
    here, measured)."""
    import resource

    from amrkit.data.synth.pool import keep_freed_memory

    keep_freed_memory()
    np.ones(3 << 20, dtype=np.float32).sum()  # 12 MiB: touched, then freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(3 << 20, dtype=np.float32).sum()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 64, faults
