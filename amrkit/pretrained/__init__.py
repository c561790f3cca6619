"""The pretrained models shipped with amrkit (the zoo's files), and the ``zoo:`` names.

Each entry is a folder of this package (``amrkit/pretrained/<name>/``)::

    run/run.json  run/model.pt  run/metrics.json  run/history.csv   the trained run
    model_int8.onnx  quantization.json                              its portable INT8 file
    card.json                                                       its model card

and ``index.json`` names every entry's files with their SHA-256, its recipe, its headline
metrics and the commands that made it (written by ``amrkit zoo add``, :mod:`amrkit.zoo`).

A model is named ``zoo:NAME`` (the trained run, FP32) or ``zoo:NAME:int8`` (the INT8 ONNX
file) wherever a run or model path is accepted: :func:`amrkit.artifacts.resolve_model_path`
turns the name into the entry's file after :func:`verify` has checked every file of the
entry against the index. ``AMRKIT_ZOO_DIR`` points at another zoo folder (tests, a lab's own
zoo). This layer reads files only (no torch, no ONNX): the models are loaded by
:mod:`amrkit.artifacts` and :mod:`amrkit.infer`, built by :mod:`amrkit.zoo`.
"""

from amrkit.pretrained.index import (
    CARD_FILE,
    ENV_DIR,
    INDEX_FILE,
    INT8_FILE,
    PREFIX,
    QUANT_FILE,
    RUN_DIR,
    SCHEMA,
    VARIANTS,
    Entry,
    check_name,
    entries,
    entry,
    file_sha256,
    hash_files,
    install_entry,
    is_ref,
    names,
    parse_ref,
    read_index,
    remove_entry,
    resolve,
    root,
    verify,
)

__all__ = [
    "CARD_FILE",
    "ENV_DIR",
    "INDEX_FILE",
    "INT8_FILE",
    "PREFIX",
    "QUANT_FILE",
    "RUN_DIR",
    "SCHEMA",
    "VARIANTS",
    "Entry",
    "check_name",
    "entries",
    "entry",
    "file_sha256",
    "hash_files",
    "install_entry",
    "is_ref",
    "names",
    "parse_ref",
    "read_index",
    "remove_entry",
    "resolve",
    "root",
    "verify",
]
