"""Measurements: network metrics (the paper's Tables I and III), accuracy, evaluation, plots.

- :func:`amrkit.metrics.network.network_metrics` (spec/model), :func:`model_metrics` (any
  name, spec, run directory or .onnx), :func:`amrkit.metrics.onnx_metrics.onnx_network_metrics`
- :func:`amrkit.metrics.accuracy.accuracy_report` (pure NumPy)
- :func:`amrkit.metrics.evaluate.evaluate_predictor`, ``evaluate_path``
- :mod:`amrkit.metrics.plots`: accuracy-vs-SNR and confusion-matrix figures
"""

from amrkit.metrics.accuracy import accuracy_report
from amrkit.metrics.network import network_metrics
from amrkit.metrics.resolve import model_metrics

__all__ = ["accuracy_report", "model_metrics", "network_metrics"]
