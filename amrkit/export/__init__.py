"""amrkit.export: FP32 ONNX export (BN folded, Pad folded into Conv, named layers, metadata).

``export_run(run_dir, "model.onnx")`` / ``export_model(model, path, classes=..., ...)`` live
in :mod:`amrkit.export.onnx_export`; graph passes in :mod:`amrkit.export.graph`.
"""
