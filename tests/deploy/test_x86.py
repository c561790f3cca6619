"""The x86 SIMD kernels (AVX2 ``vpmaddubsw``, AVX-512 VNNI ``vpdpbusd``) against the golden
model: every path this CPU runs — final integers on ≥ 1,000 frames and, in the debug build,
every tensor on 100 — for both paper networks, a grouped and a mixed-precision model, the
hand-built network of odd operators and another rounding mode. Paths this CPU lacks are
skipped, naming the missing flags; the pair-bound proof and the path choice are tested on
explicit flag sets, so they run everywhere."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.deploy import write_library, x86
from amrkit.deploy.host import (
    build_host,
    channel_last,
    find_cc,
    finish_example,
    frames_file,
    read_dump,
    run_example,
    start_example,
)
from amrkit.deploy.plan import build_plan
from amrkit.errors import AmrkitError
from amrkit.golden import load_integer_model

IS_X86 = platform.machine().lower() in ("x86_64", "amd64")
MODELS = ("original", "optimized", "grouped", "mixed")


def require(path: str) -> None:
    """Skip, saying why, unless this machine compiles and runs ``path``."""
    if find_cc() is None:
        pytest.skip("no host C compiler 'cc' on PATH")
    if not IS_X86:
        pytest.skip(f"{path} needs an x86-64 CPU; this is {platform.machine()}")
    missing = x86.missing_flags(path)
    if missing:
        pytest.skip(f"{path}: this CPU lacks {', '.join(missing)} (/proc/cpuinfo)")


@pytest.fixture(scope="module")
def cases(libraries, grouped_model, mixed_model, deploy_iq) -> dict:
    """model name → (IntegerModel, frames (n, 2, L) float32, 100 of them for the dumps)."""
    from amrkit.data.open import open_frames

    path, test = mixed_model
    with open_frames(test) as frames:
        mixed_iq = frames.read(frames.indices("all"))
    out = {
        "original": (libraries["original"][0], deploy_iq),
        "optimized": (libraries["optimized"][0], deploy_iq),
        "grouped": (load_integer_model(grouped_model), deploy_iq),
        "mixed": (load_integer_model(path), mixed_iq),
    }
    few = {id(deploy_iq): np.ascontiguousarray(deploy_iq[::11][:100])}
    few[id(mixed_iq)] = np.ascontiguousarray(mixed_iq[::11][:100])
    return {k: (m, iq, few[id(iq)]) for k, (m, iq) in out.items()}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory):
    """``get(key, model, path)`` → (library folder, release exe, debug exe), built once."""
    root = tmp_path_factory.mktemp("x86")
    done: dict[tuple[str, str], tuple[Path, Path, Path]] = {}

    def get(key: str, model, path: str) -> tuple[Path, Path, Path]:
        if (key, path) not in done:
            lib = root / f"{key}-{path}"
            write_library(model, lib, cpu=path)
            flags = x86.CC_FLAGS[path]
            exe = build_host(lib, lib / "run.exe", extra=flags)
            dbg = build_host(lib, lib / "debug.exe", debug=True, extra=flags)
            done[(key, path)] = (lib, exe, dbg)
        return done[(key, path)]

    return get


def assert_tensors(model, dump: Path, trace: dict[str, np.ndarray]) -> None:
    """The debug dump holds the input and every operator's output, each equal to the trace."""
    dumped = read_dump(dump)
    plan = build_plan(model)
    assert set(dumped) == {"input"} | {op.name for op in model.ops}
    for name, frames_c in dumped.items():
        got = np.stack(frames_c).astype(np.int64) - plan.tensors[name].offset_int
        assert np.array_equal(got, channel_last(trace[name]).astype(np.int64)), name


@pytest.mark.parametrize("path", x86.X86_PATHS)
@pytest.mark.parametrize("key", MODELS)
def test_final_integers_identical(key, path, cases, builds, golden, tmp_path):
    require(path)
    model, iq, _ = cases[key]
    lib, exe, _ = builds(key, model, path)
    proc = start_example(exe, frames_file(iq, tmp_path / "f.cf32"), "--no-normalize")
    want = golden.ints(model, iq)  # computed while the C program runs
    got = finish_example(proc, num_classes=model.num_classes)
    assert len(got) == len(iq) >= 1000
    assert np.array_equal(got, want)
    assert "fast" in (lib / "deploy.json").read_text()  # the SIMD kernels ran, not a fallback


@pytest.mark.parametrize("path", x86.X86_PATHS)
@pytest.mark.parametrize("key", MODELS)
def test_every_tensor_identical(key, path, cases, builds, golden, tmp_path):
    require(path)
    model, _, iq = cases[key]
    _, _, dbg = builds(key, model, path)
    run_example(dbg, frames_file(iq, tmp_path / "f.cf32"), "--no-normalize",
                num_classes=model.num_classes)  # fmt: skip
    assert_tensors(model, tmp_path / "f.cf32.dump", golden.trace(model, iq))


@pytest.mark.parametrize("path", x86.X86_PATHS)
def test_odd_operators_and_rounding_modes(path, hand_model, libraries, deploy_iq, tmp_path):
    """The reference kernels (reflect pad, strided dilated conv, padded 3-wide pool, ReLU,
    re-scale, int8 output) and the scalar requantization (rounding half_up) are exact too."""
    require(path)
    hand = hand_model
    if path == "x86-avx2":  # full-range weights: refused (test_pair_bound_refusal)
        hand = _narrowed(hand)
    iq = np.random.default_rng(0).standard_normal((200, 2, 64)).astype(np.float32)
    model, _ = libraries["optimized"]
    half_up = load_integer_model(model.source, rounding="half_up")
    for key, m, frames in (("hand", hand, iq), ("half_up", half_up, deploy_iq[:200])):
        lib = tmp_path / key
        write_library(m, lib, cpu=path)
        exe = build_host(lib, lib / "debug.exe", debug=True, extra=x86.CC_FLAGS[path])
        f = frames_file(frames, tmp_path / f"{key}.cf32")
        got = run_example(exe, f, "--no-normalize", num_classes=m.num_classes)
        assert np.array_equal(got, m.run(frames)[1].astype(np.int64)), key
        trace = {"input": m.quantize_input(frames)}
        m.run_integer(trace["input"], trace=trace)
        assert_tensors(m, tmp_path / f"{key}.cf32.dump", trace)


def _narrowed(model):
    """The hand model with its weights halved: inside the pair bound."""
    import copy

    from amrkit.golden.ops import Conv1d, Dense

    m = copy.deepcopy(model)
    for op in m.ops:
        if isinstance(op, (Conv1d, Dense)):
            op.weight = (op.weight // 2).astype(np.int8)
            op.__post_init__()
    return m


def test_corrupted_packed_weight_is_caught(libraries, deploy_iq, golden, tmp_path, corrupt):
    """Control: one packed weight changed in amr_weights.c breaks the comparison."""
    require("x86-avx2")
    model, _ = libraries["optimized"]
    write_library(model, tmp_path / "lib", cpu="x86-avx2")
    corrupt(tmp_path / "lib", "amr_conv3_xw", delta=5)
    exe = build_host(tmp_path / "lib", tmp_path / "bad.exe", extra=x86.CC_FLAGS["x86-avx2"])
    iq = deploy_iq[:200]
    got = run_example(exe, frames_file(iq, tmp_path / "f.cf32"), "--no-normalize", num_classes=11)
    assert not np.array_equal(got, model.run(iq)[1].astype(np.int64))


@pytest.mark.skipif(find_cc() is None or not IS_X86, reason="needs cc for x86-64")
def test_compiling_without_the_flags_names_them(libraries, tmp_path):
    """An x86 library compiled without its instruction set stops at an #error naming the
    flags (on any machine: this is the compiler's check, not the CPU's)."""
    model, _ = libraries["optimized"]
    write_library(model, tmp_path / "lib", cpu="x86-avx2")
    with pytest.raises(AmrkitError, match="generated for x86-avx2: compile with -mavx2"):
        build_host(tmp_path / "lib", tmp_path / "x.exe", extra=("-mno-avx2",))


# ---- the pair bound and the path choice (no CPU dependence) ---------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-128, 127), min_size=2, max_size=9))
def test_pair_bound_is_the_worst_pair(weights):
    """pair_bound equals the brute-force worst |u1·w1 + u2·w2| over u8 inputs and every pair."""
    w = np.asarray(weights)
    brute = max(
        abs(u1 * int(w[i]) + u2 * int(w[j]))
        for i in range(len(w))
        for j in range(i + 1, len(w))
        for u1 in (0, 255)
        for u2 in (0, 255)
    )
    assert int(x86.pair_bound(w[None, :])[0]) == brute


def test_pair_bound_refusal_and_the_native_choice(hand_model, libraries):
    plan_full = build_plan(hand_model)  # weights up to ±127: pairs reach 64,770
    with pytest.raises(AmrkitError) as err:
        write_library(hand_model, Path("/nonexistent/never-written"), cpu="x86-avx2")
    msg = str(err.value)
    assert "32,767" in msg and "vpmaddubsw" in msg and "\n" not in msg
    avx2 = {"avx2"}
    vnni = {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"}
    assert x86.resolve_cpu("native", plan_full, avx2) == "generic"  # AVX2 would not be exact
    assert x86.resolve_cpu("native", plan_full, vnni) == "x86-avx512vnni"
    plan = build_plan(libraries["optimized"][0])  # the portable format: pairs <= 32,640
    assert x86.resolve_cpu("native", plan, avx2) == "x86-avx2"
    assert x86.resolve_cpu("native", plan, vnni) == "x86-avx512vnni"
    assert x86.resolve_cpu("native", plan, set()) == "generic"
    assert x86.missing_flags("x86-avx512vnni", avx2) == ["avx512f", "avx512bw", "avx512vl",
                                                         "avx512_vnni"]  # fmt: skip
    with pytest.raises(AmrkitError, match="--cpu 'arm' is not one of"):
        x86.resolve_cpu("arm", plan)


# ---- the c runtime picks the fastest exact path ---------------------------------------------
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_c_runtime_paths(libraries, deploy_iq):
    from amrkit.deploy.runtime import CRuntime

    model, _ = libraries["optimized"]
    x = deploy_iq[:64] * np.float32(2.5)  # some inputs clip at the input quantizer
    ref, _ = model.run(x)
    best = CRuntime(model)
    assert best.path == (x86.supported_paths()[0] if x86.supported_paths() else "generic")
    assert np.array_equal(best.logits(x), ref)
    for path in ("generic", *x86.supported_paths()):
        rt = CRuntime(model, threads=2, cpu=path)
        assert rt.path == path and np.array_equal(rt.logits(x), ref), path
    lacking = [p for p in x86.X86_PATHS if p not in x86.supported_paths()]
    for path in lacking:  # a path this CPU lacks: a one-line error, before compiling
        with pytest.raises(AmrkitError, match="which this CPU lacks"):
            CRuntime(model, cpu=path)
