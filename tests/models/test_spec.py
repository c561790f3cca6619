"""CNN specs: parsing strings and files, round trips, and one-line errors for bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amrkit.errors import AmrkitError
from amrkit.models import (
    CNNSpec,
    ConvSpec,
    get_spec,
    load_spec_file,
    parse_spec_string,
    save_spec_file,
)

layer_st = st.builds(ConvSpec, st.integers(1, 512), st.integers(1, 16), st.booleans())
spec_st = st.builds(
    CNNSpec,
    st.lists(layer_st, min_size=1, max_size=9).map(tuple),
    name=st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True),
    num_classes=st.integers(2, 40),
    pool_size=st.integers(1, 4),
)


def test_original_and_optimized_are_the_papers_table_one():
    assert get_spec("original").short() == "16x8p,24x8p,32x8p,48x8p,64x8p,96x8"
    assert get_spec("optimized").short() == "16x4p,24x2p,32x2p,48x2p,64x2p,96x2p,128x2"
    assert get_spec("original") == parse_spec_string(
        "16x8p,24x8p,32x8p,48x8p,64x8p,96x8", name="original"
    )


@settings(max_examples=60, deadline=None)
@given(spec_st)
def test_string_round_trip(spec):
    back = parse_spec_string(
        spec.short(), name=spec.name, num_classes=spec.num_classes, pool_size=spec.pool_size
    )
    assert back == spec


@settings(max_examples=60, deadline=None)
@given(spec_st)
def test_dict_round_trip(spec):
    data = json.loads(json.dumps(spec.to_dict()))
    assert CNNSpec.from_dict(data) == spec


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_file_round_trip(tmp_path, suffix):
    spec = parse_spec_string("16x4p,24x2p,32x2", name="mine", num_classes=4)
    path = save_spec_file(spec, tmp_path / f"mine{suffix}")
    assert load_spec_file(path) == spec
    assert get_spec(str(path)) == spec


def test_yaml_file_forms(tmp_path):
    """Mapping layers, string layers and a whole spec string all give the same spec."""
    expected = parse_spec_string("16x8p,24x8p,32x8", name="net")
    forms = [
        "layers:\n  - {filters: 16, kernel: 8, pool: true}\n  - {filters: 24, kernel: 8}\n"
        "  - {filters: 32, kernel: 8, pool: false}\n",
        "layers: [16x8p, 24x8p, {filters: 32, kernel: 8, pool: false}]\n",
        "layers: 16x8p,24x8p,32x8\n",
    ]
    for i, text in enumerate(forms):
        p = tmp_path / "net.yaml"
        p.write_text(text)
        assert load_spec_file(p) == expected, i
    # the name defaults to the file's stem; given fields win
    (tmp_path / "other.yml").write_text("name: custom-name\nnum_classes: 3\nlayers: 8x3\n")
    spec = get_spec(str(tmp_path / "other.yml"))
    assert (spec.name, spec.num_classes, spec.short()) == ("custom-name", 3, "8x3")


def test_spec_string_details():
    spec = parse_spec_string(" 16 x 8 P , 32X4 ")
    assert spec.layers == (ConvSpec(16, 8, True), ConvSpec(32, 4, False))
    assert spec.num_pools == 1 and spec.min_frame_length == 2
    assert spec.lengths(9) == [(9, 4), (4, 4)]
    assert get_spec("16x8p,32x4") == parse_spec_string("16x8p,32x4")


@pytest.mark.parametrize(
    "text,match",
    [
        ("16x8p,,32x8", "'' in model spec"),
        ("16x8q", "not FILTERSxKERNEL"),
        ("16x0", "kernel >= 1"),
        ("0x8", "filters >= 1"),
        ("16x8p;32x8", "not FILTERSxKERNEL"),
    ],
)
def test_bad_spec_strings(text, match):
    with pytest.raises(AmrkitError, match=match) as info:
        get_spec(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "text,match",
    [
        ("layers: [16x8p]\ndepth: 3\n", "unknown key.*'depth'"),
        ("layers:\n  - {filters: 16, kernel: 8, stride: 2}\n", "unknown key.*'stride'"),
        ("layers: []\n", "at least one conv layer"),
        ("name: x\n", "required key .layers. is missing"),
        ("layers: [{filters: 16, kernel: 8, pool: maybe}]\n", "true or false"),
        ("layers: [{filters: sixteen, kernel: 8}]\n", "expected an integer"),
        ("layers: [16x8]\nnum_classes: 1\n", "num_classes must be >= 2"),
        ("layers: 5\n", "layers must be a list"),
        ("layers: [{filters: 16}]\n", "layer 1 lacks kernel"),
        ("layers: [3]\n", "expected a mapping"),
        ("- 16x8\n", "mapping"),
        ("layers: [16x8\n", "not valid YAML"),
    ],
)
def test_bad_spec_files(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises((AmrkitError, TypeError), match=match) as info:
        get_spec(str(p))
    assert info.type is AmrkitError, f"{text!r} raised {info.type.__name__}: {info.value}"
    assert "\n" not in str(info.value)


def test_missing_and_wrong_suffix_files(tmp_path):
    with pytest.raises(AmrkitError, match="does not exist"):
        get_spec(str(tmp_path / "nope.yaml"))
    with pytest.raises(AmrkitError, match=r"must end in \.yaml"):
        load_spec_file(tmp_path / "spec.txt")
    with pytest.raises(AmrkitError, match=r"must end in \.yaml"):
        save_spec_file(get_spec("original"), tmp_path / "spec.txt")
    assert not (tmp_path / "spec.txt").exists()


def test_direct_construction_validates():
    with pytest.raises(AmrkitError, match="integers"):
        ConvSpec(16.5, 8)
    with pytest.raises(AmrkitError, match="integers"):
        ConvSpec(True, 8)
    with pytest.raises(AmrkitError, match="pool must be true or false"):
        ConvSpec(16, 8, pool="yes")
    with pytest.raises(AmrkitError, match="not a ConvSpec"):
        CNNSpec(((16, 8),))
    with pytest.raises(AmrkitError, match="pool_size"):
        CNNSpec((ConvSpec(4, 2),), pool_size=0)
    with pytest.raises(AmrkitError, match="name"):
        CNNSpec((ConvSpec(4, 2),), name="")
    # a list of layers is accepted and stored as a tuple (hashable, comparable)
    spec = CNNSpec([ConvSpec(4, 2)])
    assert isinstance(spec.layers, tuple) and hash(spec)
