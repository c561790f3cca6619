"""Split parsing and the stratified split (property tests)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.data.split import parse_fractions, stratified_split
from amrkit.errors import AmrkitError


@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=300),
    st.sampled_from([(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (1.0, 0.0, 0.0), (0.5, 0.25, 0.25)]),
    st.integers(0, 2**31),
)
@settings(max_examples=60, deadline=None)
def test_stratified_split_property(labels, fractions, seed):
    label = np.array(labels)
    snr = np.where(label % 2 == 0, 10.0, np.inf).astype(np.float32)
    split = stratified_split(label, snr, fractions, np.random.default_rng(seed))
    assert split.dtype == np.uint8 and set(np.unique(split)) <= {0, 1, 2}
    for c in np.unique(label):
        g = label == c
        n = g.sum()
        counts = np.bincount(split[g], minlength=3)
        assert counts[0] == int(np.floor(n * fractions[0] + 1e-9))
        assert counts[1] == int(np.floor(n * fractions[1] + 1e-9))
        assert counts.sum() == n  # every frame in exactly one split (disjoint, complete)
    again = stratified_split(label, snr, fractions, np.random.default_rng(seed))
    assert np.array_equal(split, again)


@pytest.mark.parametrize("text", ["0.8,0.1", "0.5,0.5,0.5", "a,b,c", "-0.1,0.6,0.5"])
def test_bad_fractions(text):
    with pytest.raises(AmrkitError, match="split"):
        parse_fractions(text)


def test_good_fractions():
    assert parse_fractions("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
