"""amrkit's own PTQ artifact (`amrkit quantize`) runs bit-exactly on the golden model."""

from amrkit.data.open import open_frames
from amrkit.golden import load_integer_model, simulate


def test_golden_model_agrees_with_ort_on_amrkit_ptq_output(ptq_default, quant_data):
    model = load_integer_model(ptq_default.int8_path)
    names = [layer.name for layer in model.accumulating()]
    assert names[0] == "conv1" and names[-1] == "fc"
    with open_frames(quant_data) as frames:
        report = simulate(model, frames, split="all")
    assert report["frames"] > 50
    # the default (portable) file: ONNX Runtime computes the golden model's integers exactly,
    # on any CPU, so every decision and every integer agrees
    assert report["top1_agreement"] == 1.0 and report["disagreements"] == 0
    assert report["accuracy"] == report["ort_accuracy"]
    assert report["bit_exact"] and report["output_max_lsb"] == 0
    assert report["activation_max_lsb"] == 0  # every intermediate tensor too
    rows = [r for r in report["layers"] if "acc_max" in r]
    assert [r["layer"] for r in rows] == names
    for r in rows:  # the accumulator width a designer needs covers what was seen
        assert 0 < r["acc_max"] <= r["acc_bound"]
        assert r["acc_max_bits"] <= r["acc_bound_bits"] <= 32
