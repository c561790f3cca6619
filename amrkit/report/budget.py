"""Accuracy against training budget, measured while choosing the quick default.

Shown in the quick report next to the run's own numbers, so a reader sees what more budget
buys. Measured with amrkit 0.1 on a shared 2-core machine: `optimized`, measured SNR
convention, 30 dB, data seed 1, training seed 1; validation accuracy of the last epoch
(runs marked "stopped" were cut short to save time) unless a test accuracy is given.
"""

from __future__ import annotations

# (frames per class, schedule, mini-batch, frame-epochs, accuracy text)
MEASURED = [
    (800, "paper: 12 epochs, no augmentation", 256, 84_480, "test 82.73 % (INT8 83.41 %)"),
    (2000, "recipe, 12 epochs; stopped after 6", 256, 105_600, "val. 81.1 % after 6 epochs"),
    (2000, "recipe, 12 epochs; stopped after 6", 64, 105_600, "val. 86.0 % after 6 epochs"),
    (
        1800,
        "recipe, 12 epochs (the previous quick default)",
        64,
        190_080,
        "test 90.81 % (INT8 90.61 %)",
    ),
    (2000, "cosine SGD 0.05, 24 epochs on 512-sample windows", 64, 422_400, "test 95.73 %"),
    (4000, "cosine SGD 0.05, 12 epochs on 512-sample windows", 64, 422_400, "test 95.50 %"),
    (10000, "paper: 12 epochs, no augmentation", 256, 1_056_000, "test 95.05 % (INT8 95.01 %)"),
    (10000, "recipe, 36 epochs", 256, 3_168_000, "test 97.28 % (INT8 97.23 %)"),
]
