"""The paper's Table I / III numbers, to the unit, and the CLI that prints them."""

from __future__ import annotations

import pytest

from amrkit.errors import AmrkitError
from amrkit.metrics.network import MB, network_metrics
from amrkit.metrics.resolve import model_metrics
from amrkit.models import build, get_spec, list_models

ORIGINAL_LAYERS = [272, 3096, 6176, 12336, 24640, 49248, 1067]
OPTIMIZED_LAYERS = [144, 792, 1568, 3120, 6208, 12384, 24704, 1419]


@pytest.mark.parametrize(
    "name,layers,macs,mb,bn",
    [
        ("original", ORIGINAL_LAYERS, 8_127_520, 0.3694, 560),
        ("optimized", OPTIMIZED_LAYERS, 2_491_776, 0.1920, 816),
    ],
)
def test_reference_numbers(name, layers, macs, mb, bn):
    m = network_metrics(name, 1024)
    assert [layer["learnables"] for layer in m["layers"]] == layers
    assert m["learnables"] == sum(layers)
    assert m["macs"] == macs
    assert m["parameter_bytes"] == 4 * sum(layers)
    assert round(m["parameter_memory_mb"], 4) == mb
    assert m["parameter_memory_mb"] == 4 * sum(layers) / 2**20
    assert m["bn_learnables"] == bn
    assert m["weights"] + m["biases"] == m["learnables"]
    assert sum(layer["macs"] for layer in m["layers"]) == macs
    assert [layer["name"] for layer in m["layers"]][-1] == "fc"


def test_reference_totals_spelled_out():
    assert network_metrics("original")["learnables"] == 96_835
    assert network_metrics("optimized")["learnables"] == 50_339
    # the paper prints 2,491,798 = ours + the fc's 11 bias additions + 11 softmax operations
    assert network_metrics("optimized")["macs"] + 11 + 11 == 2_491_798


def test_layer_table_details():
    m = network_metrics("original", 1024)
    conv1, conv6, fc = m["layers"][0], m["layers"][5], m["layers"][-1]
    assert conv1["hyperparameters"] == {
        "filters": 16,
        "kernel": 8,
        "in_channels": 2,
        "stride": 1,
        "padding": [3, 4],
        "pool": 2,
    }
    assert conv1["output_shape"] == [16, 1024] and conv1["pooled_shape"] == [16, 512]
    assert conv1["macs"] == 1024 * 16 * 2 * 8
    assert conv6["output_shape"] == [96, 32] and conv6["hyperparameters"]["pool"] is None
    assert fc["type"] == "fc" and fc["output_shape"] == [11]
    assert fc["hyperparameters"] == {"in_features": 96, "out_features": 11}
    assert fc["macs"] == 96 * 11
    assert all(layer["weight_dtype"] == "float32" for layer in m["layers"])


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("length", [128, 1024, 333])
def test_macs_scale_with_frame_length(name, length):
    """Conv MACs follow the pooled lengths (floored for odd L); learnables do not change."""
    spec = get_spec(name)
    m = network_metrics(spec, length)
    assert m["learnables"] == network_metrics(spec, 1024)["learnables"]
    conv_len = length
    for layer, s in zip(m["layers"][:-1], spec.layers, strict=True):
        assert layer["output_shape"][1] == conv_len
        assert layer["macs"] == layer["weights"] * conv_len
        conv_len = conv_len // spec.pool_size if s.pool else conv_len


def test_accepts_model_instance_and_spec_string():
    model = build("optimized")
    assert network_metrics(model)["macs"] == network_metrics("optimized")["macs"]
    m = network_metrics("4x3p,6x3", 16)
    assert m["learnables"] == 4 * (2 * 3 + 1) + 6 * (4 * 3 + 1) + 6 * 11 + 11
    assert m["macs"] == 16 * 4 * 2 * 3 + 8 * 6 * 4 * 3 + 6 * 11
    with pytest.raises(AmrkitError, match="cannot measure"):
        network_metrics(42)


def test_model_metrics_dispatch(tmp_path):
    reg = model_metrics("original")
    assert reg["source"] == "registry" and reg["macs"] == 8_127_520
    spec = model_metrics("16x8p,24x8", frame_length=256, num_classes=4)
    assert spec["source"] == "spec" and spec["num_classes"] == 4
    assert spec["layers"][-1]["learnables"] == 24 * 4 + 4
    assert spec["frame_length"] == 256
    with pytest.raises(AmrkitError, match="unknown model"):
        model_metrics("nonsense")
    with pytest.raises(AmrkitError, match="does not exist"):
        model_metrics(str(tmp_path / "none.onnx"))
    with pytest.raises(AmrkitError, match="not a run directory"):
        model_metrics(str(tmp_path))


def test_model_metrics_of_a_run_directory(run_dir, helpers):
    m = model_metrics(str(run_dir))
    assert m["source"] == "run" and m["frame_length"] == helpers.length
    ref = network_metrics(get_spec(helpers.spec, num_classes=4), helpers.length)
    assert (m["learnables"], m["macs"], m["layers"]) == (
        ref["learnables"],
        ref["macs"],
        ref["layers"],
    )
    assert (
        model_metrics(str(run_dir), frame_length=128)["macs"]
        == network_metrics(ref_spec := get_spec(helpers.spec, num_classes=4), 128)["macs"]
    )
    assert ref_spec.num_classes == 4
    with pytest.raises(AmrkitError, match="does not apply"):
        model_metrics(str(run_dir), num_classes=3)


def test_cli_metrics_json(cli, helpers):
    code, out, err = cli("metrics", "optimized", "--json")
    assert code == 0, err
    data = helpers.strict_json(out)
    for key in ("learnables", "bn_learnables", "macs", "parameter_memory_mb", "layers"):
        assert key in data
    assert data["learnables"] == 50_339 and data["macs"] == 2_491_776
    assert [layer["learnables"] for layer in data["layers"]] == OPTIMIZED_LAYERS
    for layer in data["layers"]:
        assert {"name", "type", "hyperparameters", "learnables", "macs", "output_shape"} <= set(
            layer
        )


def test_cli_metrics_table_and_frame_length(cli):
    code, out, _ = cli("metrics", "original", "--frame-length", "2048")
    assert code == 0
    # twice the conv MACs of L = 1024 (8,126,464), the same fc (1,056)
    assert network_metrics("original", 2048)["macs"] == 2 * 8_126_464 + 1_056 == 16_253_984
    assert "16,253,984 MACs" in out
    assert "conv6" in out and "fc" in out and "96,835" in out


def test_cli_models_lists_every_registered_model(cli, helpers):
    code, out, err = cli("models", "--json")
    assert code == 0, err
    rows = [r for r in helpers.strict_json(out) if r["source"] == "registry"]  # zoo rows follow
    assert [r["name"] for r in rows] == list_models()
    by_name = {r["name"]: r for r in rows}
    assert by_name["original"]["learnables"] == 96_835
    assert by_name["original"]["macs"] == 8_127_520
    assert by_name["optimized"]["macs"] == 2_491_776
    assert round(by_name["optimized"]["parameter_memory_mb"], 4) == 0.1920
    code, table, _ = cli("models")
    assert code == 0
    for name in list_models():
        assert name in table
    assert "8,127,520" in table and "2,491,776" in table


def test_cli_errors_are_one_line(cli):
    code, out, err = cli("metrics", "orignal")
    assert code == 1
    assert err.startswith("error: unknown model 'orignal'") and err.count("\n") == 1
    code, _, err = cli("metrics", "optimized", "--frame-length", "32")
    assert code == 1 and "at least 64" in err and err.count("\n") == 1


def test_int8_precision_option(cli, helpers):
    m = network_metrics("optimized", precision="int8")
    assert (m["learnables"], m["macs"]) == (50_339, 2_491_776)
    assert m["parameter_bytes"] == (50_339 - 419) * 1 + 419 * 4 == 51_596
    assert round(m["parameter_memory_mb"], 4) == 0.0492
    assert m["precision"] == "int8" and len(m["quantized_layers"]) == 8
    assert network_metrics("original", precision="int8")["parameter_bytes"] == 96_544 + 4 * 291
    with pytest.raises(AmrkitError, match="precision 'int4' is not one of fp32, int8"):
        network_metrics("original", precision="int4")
    code, out, err = cli("metrics", "optimized", "--precision", "int8", "--json")
    assert code == 0, err
    assert helpers.strict_json(out)["parameter_bytes"] == 51_596


def test_mb_is_binary():
    assert MB == 1_048_576
