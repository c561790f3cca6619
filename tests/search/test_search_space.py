"""The search's pure parts: the family and budgets, Pareto fronts, successive halving, the
config. No training here."""

from __future__ import annotations

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.errors import AmrkitError
from amrkit.models import CNNSpec, ConvSpec
from amrkit.search.config import SearchConfig
from amrkit.search.halving import keep_going, rungs
from amrkit.search.pareto import dominates, pareto_front, spread
from amrkit.search.space import check_budget, fit_budget, sample_spec, sizes, smallest_spec


def test_sample_spec_follows_the_choices_and_pools_the_first_layers():
    params = {"depth": 4, "pools": 3}
    for i in range(1, 5):
        params |= {f"filters{i}": 8 * i, f"kernel{i}": 4}
    spec = sample_spec(optuna.trial.FixedTrial(params), SearchConfig(), 8, 5)
    assert [c.filters for c in spec.layers] == [8, 16, 24, 32]
    assert [c.pool for c in spec.layers] == [True, True, True, False]
    assert spec.num_classes == 5
    spec.check_frame_length(8)  # 8 -> 4 -> 2 -> 1


def test_the_space_offers_no_more_pools_than_the_frame_allows():
    seen = set()
    for seed in range(20):
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed)).ask()
        spec = sample_spec(trial, SearchConfig(min_layers=5, max_layers=6), 8, 3)
        spec.check_frame_length(8)
        seen.add(spec.num_pools)
    assert max(seen) == 3 and min(seen) < 3


specs = st.lists(
    st.tuples(st.integers(1, 128), st.sampled_from([2, 3, 4, 8]), st.booleans()),
    min_size=1, max_size=7,
).map(lambda ls: CNNSpec(tuple(ConvSpec(f, k, p) for f, k, p in ls), num_classes=11))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(spec=specs, macs=st.integers(100, 10**7), nbytes=st.integers(50, 10**5))
def test_fit_budget_meets_the_budget_or_says_none(spec, macs, nbytes):
    cfg = SearchConfig(max_macs=macs, max_int8_bytes=nbytes)
    fitted = fit_budget(spec, 1024, cfg)
    floor = cfg.filters[0]  # narrowing stops at the smallest width offered (4)
    narrowest = CNNSpec(
        tuple(ConvSpec(min(floor, c.filters), c.kernel, c.pool) for c in spec.layers)
    )
    s_min = sizes(narrowest.with_classes(11), 1024)
    if fitted is None:
        assert s_min["macs"] > macs or s_min["int8_bytes"] > nbytes
        return
    s = sizes(fitted, 1024)
    assert s["macs"] <= macs and s["int8_bytes"] <= nbytes
    # same structure, only narrower
    assert [(c.kernel, c.pool) for c in fitted.layers] == [(c.kernel, c.pool) for c in spec.layers]
    assert all(
        min(floor, b.filters) <= a.filters <= b.filters
        for a, b in zip(fitted.layers, spec.layers, strict=True)
    )
    if sizes(spec, 1024)["macs"] <= macs and sizes(spec, 1024)["int8_bytes"] <= nbytes:
        assert fitted == spec  # control: within budget, nothing changes


def test_impossible_budget_names_the_smallest_model():
    cfg = SearchConfig(max_macs=500)
    small = sizes(smallest_spec(cfg, 1024, 11), 1024)
    with pytest.raises(AmrkitError) as exc:
        check_budget(cfg, 1024, 11)
    assert f"{small['macs']:,} MACs" in str(exc.value) and "smallest" in str(exc.value)
    check_budget(SearchConfig(max_macs=small["macs"], max_int8_bytes=small["int8_bytes"]), 1024, 11)


points = st.lists(st.tuples(*[st.integers(0, 5)] * 3), min_size=1, max_size=25)


@settings(max_examples=100, deadline=None)
@given(pts=points)
def test_pareto_front_is_exactly_the_non_dominated_points(pts):
    front = pareto_front(pts)
    for i, p in enumerate(pts):
        dominated = any(dominates(q, p) for q in pts)
        assert (i in front) == (not dominated)
    assert front == sorted(front)


def test_spread_keeps_the_ends_and_at_most_k():
    key = [5.0, 1.0, 3.0, 9.0, 7.0]
    assert spread([0, 1, 2, 3, 4], key, 3) == [1, 0, 3]
    assert spread([0, 2], key, 6) == [2, 0]


def test_successive_halving_rule():
    assert rungs(4, 3) == [1, 3] and rungs(9, 3) == [1, 3] and rungs(1, 3) == []
    assert keep_going(0.1, [0.9, 0.8], eta=3, min_trials=3)  # too few peers: go on
    peers = [0.9, 0.8, 0.7, 0.6, 0.5]  # 6 trials, keep the best 2
    assert keep_going(0.85, peers, eta=3, min_trials=3)
    assert not keep_going(0.75, peers, eta=3, min_trials=3)
    assert keep_going(0.95, peers, eta=2, min_trials=3) and not keep_going(0.55, peers, 2, 3)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"trials": 0}, "trials"),
        ({"max_macs": -5}, "--max-macs"),
        ({"max_latency_us": 0.0}, "--max-latency-us"),
        ({"objectives": ("macs", "int8_bytes")}, "accuracy"),
        ({"objectives": ("accuracy", "flops")}, "accuracy"),
        ({"min_layers": 5, "max_layers": 3}, "max_layers"),
        ({"filters": ()}, "filters"),
        ({"halving_eta": 1}, "halving_eta"),
    ],
)
def test_bad_search_configs(changes, needle):
    with pytest.raises(AmrkitError, match=needle):
        SearchConfig(**changes)


def test_grouped_layers_get_a_group_count_that_divides():
    params = {"depth": 2, "pools": 0}
    for i, f in ((1, 6), (2, 8)):
        params |= {f"filters{i}": f, f"kernel{i}": 2, f"groups{i}": 4}
    cfg = SearchConfig(groups=(1, 2, 4), filters=(6, 8), min_layers=2)
    spec = sample_spec(optuna.trial.FixedTrial(params), cfg, 64, 3)
    assert [c.groups for c in spec.layers] == [2, 2]  # gcd(4, 2 in, 6) and gcd(4, 6 in, 8)
    full = sizes(spec, 64)["macs"]
    narrowed = fit_budget(spec, 64, SearchConfig(max_macs=full // 2))
    assert narrowed is not None and sizes(narrowed, 64)["macs"] <= full // 2  # still valid


def test_start_params_rebuild_the_known_design_and_refuse_one_outside_the_family():
    from amrkit.models.registry import get_spec
    from amrkit.search.space import start_params, start_trials

    cfg = SearchConfig(start_from=("optimized", "16x8p,24x8p,32x8"))
    for name, params in zip(cfg.start_from, start_trials(cfg), strict=True):
        spec = get_spec(name, 11)
        rebuilt = sample_spec(optuna.trial.FixedTrial(params), cfg, 1024, 11)
        assert rebuilt.layers == spec.layers
    # outside: 20 filters are not among the choices; a pool after an unpooled layer
    for bad, needle in (("16x4p,20x2,8x2", "20 filters"), ("16x4,24x2p,32x2", "unpooled")):
        with pytest.raises(AmrkitError, match=needle):
            start_params(get_spec(bad), cfg)
    with pytest.raises(AmrkitError, match="start_from"):
        SearchConfig(start_from=("",))
