"""Every sentence about the pipeline follows the config: change a setting, the sentence
changes with it (initialization, weight decay, augmentation, schedule, calibration,
quantization format, runtime)."""

from __future__ import annotations

import dataclasses

import pytest

from amrkit.config import to_dict
from amrkit.quant import PTQConfig
from amrkit.report import prose
from amrkit.train.config import TrainConfig

BASE_TRAIN = TrainConfig(epochs=3, lr_drop_epoch=2, batch_size=32)


def _train_text(**change: object) -> str:
    return prose.training(to_dict(dataclasses.replace(BASE_TRAIN, **change)), "cpu")


@pytest.mark.parametrize(
    ("change", "before", "after"),
    [
        ({"init": "torch"}, "Glorot-uniform", "PyTorch's default initialization"),
        ({"weight_decay": 5e-4}, "weight decay 0.0001", "weight decay 0.0005"),
        ({"weight_decay": 0.0}, "weight decay 0.0001", "no weight decay"),
        ({"bias_decay": True}, "none on conv/FC biases", "biases included"),
        ({"augment": "phase"}, "no augmentation", "random carrier phase"),
        ({"augment": "conj"}, "no augmentation", "half the frames conjugated"),
        ({"epochs": 7, "lr_drop_epoch": 5}, "3 epochs", "7 epochs"),
        ({"lr_drop_epoch": 1}, "after epoch 2", "after epoch 1"),
        ({"lr_drop_epoch": 3}, "× 0.1 after epoch 2", "learning rate 0.02 throughout"),
        ({"schedule": "cosine"}, "× 0.1 after epoch 2", "cosine decay to 0 per step"),
        ({"schedule": "cosine"}, "after epoch", "warm-up over 5 % of the steps"),
        ({"optimizer": "adamw"}, "SGD (momentum 0.9)", "AdamW"),
        ({"crop": 512}, "no augmentation", "random window of 512 samples"),
        ({"augment": "freq"}, "no augmentation", "frequency shift of up to ±0.01 cycles"),
        ({"augment": "freq", "freq_shift": 0.05}, "no augmentation", "up to ±0.05 cycles"),
        ({"augment": "noise"}, "no augmentation", "half the frames at 10–30 dB SNR"),
        ({"augment": "noise", "noise_snr_db": 0.0}, "no augmentation", "at 0–20 dB SNR"),
        ({"lr": 0.05}, "learning rate 0.02", "learning rate 0.05"),
        ({"batch_size": 128}, "mini-batch 32", "mini-batch 128"),
        ({"momentum": 0.5}, "momentum 0.9", "momentum 0.5"),
        ({"augment": "timescale", "crop": 16}, "no augmentation", "from 1/1.2 to 1.2"),
        ({"augment": "timescale", "crop": 16, "time_scale": 0.5}, "no augmentation", "1/1.5"),
        ({"snr_curriculum": 0.7}, "augmentation; the weights", "in the first 2 epochs"),
        ({"snr_curriculum": 0.7, "curriculum_start_db": 4.0}, "augmentation; the", "from 4 dB"),
        ({"recipe": "robust"}, "CPU: SGD", "CPU: amrkit's `robust` recipe: SGD"),
    ],
)
def test_training_sentence_follows_each_setting(change: dict, before: str, after: str) -> None:
    base, changed = _train_text(), _train_text(**change)
    assert before in base and before not in changed
    assert after in changed and after not in base


def test_a_curriculum_shorter_than_one_epoch_is_not_mentioned() -> None:
    assert _train_text(snr_curriculum=0.2) == _train_text()  # floor(0.2 × 3 epochs) = 0
    assert "SNR curriculum" in _train_text(snr_curriculum=0.34)  # 1 epoch: control


VNNI = PTQConfig(target="vnni", activation_type="int8")  # int8 activations need vnni


def _quant(cfg: PTQConfig, **extra: object) -> dict:
    q = {"mode": "ptq", "config": to_dict(cfg), "weight_bits": 8, "calibration_frames": None}
    return {**q, **extra}


@pytest.mark.parametrize(
    ("change", "extra", "before", "after"),
    [
        ({"calib_frames": 64}, {}, "on 512 training frames", "on 64 training frames"),
        ({"method": "percentile"}, {}, "min/max calibration", "99.999th-percentile"),
        ({"method": "entropy"}, {}, "min/max calibration", "entropy (KL)"),
        ({"per_channel": False}, {}, "per-channel int8 weights", "per-tensor int8 weights"),
        ({"activation_type": "uint8"}, {}, "weights, int8 activations", "uint8 activations"),
        ({"exclude": ("fc",)}, {}, "int32 biases;", "(fc kept in FP32)"),
        ({}, {"weight_bits": 7}, "int8 weights", "7-bit weights (stored as int8)"),
        ({}, {"target": "portable"}, "int32 biases; min/max", "`portable` target"),
        ({}, {"target": "vnni"}, "int32 biases; min/max", "`vnni` target"),
    ],
)
def test_quantization_sentence_follows_each_setting(
    change: dict, extra: dict, before: str, after: str
) -> None:
    base = prose.quantization(_quant(VNNI), {})
    changed = prose.quantization(_quant(dataclasses.replace(VNNI, **change), **extra), {})
    assert before in base and before not in changed
    assert after in changed and after not in base


def test_runtime_sentence_names_cpu_isa_and_kernel() -> None:
    avx2 = {"cpu": "AMD EPYC", "isa": ["avx2"], "kernel": "MLAS u8s8 with vpmaddubsw"}
    vnni = {"cpu": "Intel Xeon", "isa": ["avx512_vnni"], "kernel": "MLAS VNNI u8s8"}
    a, b = prose.runtime(avx2, "1.2"), prose.runtime(vnni, "1.2")
    assert "AMD EPYC (avx2)" in a and "kernel: MLAS u8s8 with vpmaddubsw" in a
    assert "Intel Xeon (avx512_vnni)" in b and "vpmaddubsw" not in b
    # cpu_info's own key is used when the golden stage gave no kernel
    assert "kernel: K" in prose.runtime({"cpu": "c", "isa": [], "u8s8_kernel": "K"})
    assert "no kernel information" in prose.runtime({})
