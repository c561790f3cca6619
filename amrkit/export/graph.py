"""ONNX graph passes that keep an exported AMR CNN clean for integer hardware.

- :func:`fold_pads`: a zero ``Pad`` on the time axis feeding a ``Conv`` becomes the Conv's own
  (asymmetric) ``pads`` attribute.
- :func:`mean_to_global_average_pool`: ``ReduceMean`` over the time axis of a (n, C, L) tensor
  becomes ``GlobalAveragePool`` → ``Flatten`` (ONNX Runtime has an integer kernel for it).
- :func:`name_layers`: nodes are named ``conv1 … convN``, ``relu<i>``, ``pool<i>``, ``gap``,
  ``flatten``, ``fc``; each node's output tensor takes the node's name (the graph output is
  ``logits``) and conv/fc initializers are ``conv<i>.weight``, ``conv<i>.bias``, ``fc.weight``…
- :func:`executed_op_types`: the operators ONNX Runtime really runs after its graph
  optimizations (read back from ``optimized_model_filepath``).
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

# operators that compute on integers (ONNX standard and com.microsoft contrib kernels)
INTEGER_OPS = frozenset(
    {
        "QLinearConv",
        "QLinearMatMul",
        "ConvInteger",
        "MatMulInteger",
        "QGemm",
        "QLinearGlobalAveragePool",
        "QLinearAveragePool",
        "QLinearAdd",
        "QLinearMul",
        "DynamicQuantizeMatMul",
        "MatMulIntegerToFloat",
        "NhwcQLinearConv",
        "QLinearConcat",
    }
)
# integer kernels that do the multiply-accumulate work of a conv or fc layer
INTEGER_MAC_OPS = frozenset(
    {
        "QLinearConv",
        "NhwcQLinearConv",
        "ConvInteger",
        "QGemm",
        "QLinearMatMul",
        "MatMulInteger",
        "MatMulIntegerToFloat",
        "DynamicQuantizeMatMul",
    }
)


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _set_attr(node: onnx.NodeProto, name: str, value: Any) -> None:
    for i, a in enumerate(node.attribute):
        if a.name == name:
            del node.attribute[i]
            break
    node.attribute.append(helper.make_attribute(name, value))


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    out: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            out.setdefault(name, []).append(node)
    return out


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {name: node for node in graph.node for name in node.output}


def constant_value(graph: onnx.GraphProto, name: str) -> np.ndarray | None:
    """The value of an initializer or Constant-node output called ``name`` (else None)."""
    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            attrs = _attrs(node)
            if "value" in attrs:
                return numpy_helper.to_array(attrs["value"])
            for key in ("value_int", "value_float"):
                if key in attrs:
                    return np.asarray(attrs[key])
            for key in ("value_ints", "value_floats"):
                if key in attrs:
                    return np.asarray(list(attrs[key]))
    return None


def remove_unused(graph: onnx.GraphProto) -> None:
    """Drop initializers and Constant nodes nobody reads."""
    while True:
        used = {name for node in graph.node for name in node.input}
        used |= {o.name for o in graph.output}
        dead = [n for n in graph.node if n.op_type == "Constant" and n.output[0] not in used]
        for node in dead:
            graph.node.remove(node)
        if not dead:
            break
    used = {name for node in graph.node for name in node.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def _rank(model: onnx.ModelProto, name: str) -> int | None:
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    for vi in [*g.value_info, *g.input, *g.output]:
        if vi.name == name and vi.type.tensor_type.HasField("shape"):
            return len(vi.type.tensor_type.shape.dim)
    return None


def fold_pads(model: onnx.ModelProto) -> int:
    """Fold constant-zero ``Pad`` nodes into the ``pads`` of the single Conv they feed.

    Only padding of the spatial axes is folded (ONNX Conv cannot pad batch or channels).
    Returns the number of Pad nodes removed.
    """
    g = model.graph
    consumers = _consumers(g)
    removed = 0
    for pad in [n for n in g.node if n.op_type == "Pad"]:
        users = consumers.get(pad.output[0], [])
        if len(users) != 1 or users[0].op_type != "Conv" or users[0].input[0] != pad.output[0]:
            continue
        conv = users[0]
        attrs = _attrs(pad)
        mode = attrs.get("mode", b"constant")
        if (mode.decode() if isinstance(mode, bytes) else mode) != "constant":
            continue
        pads = constant_value(g, pad.input[1]) if len(pad.input) > 1 else attrs.get("pads")
        if pads is None:
            continue
        value = constant_value(g, pad.input[2]) if len(pad.input) > 2 and pad.input[2] else 0.0
        if value is None or np.any(np.asarray(value) != 0):
            continue
        pads = [int(p) for p in np.asarray(pads).reshape(-1)]
        rank = len(pads) // 2
        axes = list(range(rank))
        if len(pad.input) > 3 and pad.input[3]:
            axes_value = constant_value(g, pad.input[3])
            if axes_value is None:
                continue
            full_rank = len(_attrs(conv).get("kernel_shape", [])) + 2
            axes = [int(a) % full_rank for a in np.asarray(axes_value).reshape(-1)]
            rank = full_rank
        begin = dict.fromkeys(range(rank), 0)
        end = dict.fromkeys(range(rank), 0)
        for k, axis in enumerate(axes):
            begin[axis], end[axis] = pads[k], pads[k + len(axes)]
        if begin[0] or end[0] or begin[1] or end[1] or min(pads) < 0:
            continue
        spatial = rank - 2
        conv_pads = list(_attrs(conv).get("pads", [0] * (2 * spatial)))
        new = [conv_pads[i] + begin[i + 2] for i in range(spatial)]
        new += [conv_pads[spatial + i] + end[i + 2] for i in range(spatial)]
        _set_attr(conv, "pads", new)
        conv.input[0] = pad.input[0]
        g.node.remove(pad)
        removed += 1
    remove_unused(g)
    return removed


def mean_to_global_average_pool(model: onnx.ModelProto) -> int:
    """``ReduceMean(x, axes=[2])`` on a rank-3 ``x`` → ``GlobalAveragePool`` [→ ``Flatten``]."""
    g = model.graph
    replaced = 0
    for node in [n for n in g.node if n.op_type == "ReduceMean"]:
        attrs = _attrs(node)
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = constant_value(g, node.input[1])
        if axes is None or _rank(model, node.input[0]) != 3:
            continue
        if [int(a) % 3 for a in np.asarray(axes).reshape(-1)] != [2]:
            continue
        index = list(g.node).index(node)
        keep = attrs.get("keepdims", 1)
        out = node.output[0]
        if keep:
            new = [helper.make_node("GlobalAveragePool", [node.input[0]], [out], name="gap")]
        else:
            mid = f"{out}_gap"
            new = [
                helper.make_node("GlobalAveragePool", [node.input[0]], [mid], name="gap"),
                helper.make_node("Flatten", [mid], [out], name="flatten", axis=1),
            ]
        g.node.remove(node)
        for k, n in enumerate(new):
            g.node.insert(index + k, n)
        replaced += 1
    remove_unused(g)
    return replaced


def rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    if old == new:
        return
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
    for coll in (graph.input, graph.output, graph.value_info, graph.initializer):
        for item in coll:
            if item.name == old:
                item.name = new


def name_layers(model: onnx.ModelProto, output_name: str = "logits") -> list[str]:
    """Name nodes, tensors and initializers after the layers; returns the layer names.

    Conv nodes in graph order are ``conv1 … convN``; the Gemm/MatMul of the classifier is
    ``fc``. Other nodes take ``<op><layer index>`` names (``relu2``, ``pool2``). Nodes of the
    quantization machinery (QuantizeLinear/DequantizeLinear) are left to their passes.
    """
    g = model.graph
    graph_outputs = {o.name for o in g.output}
    conv_index = 0
    layers: list[str] = []
    simple = {"Relu": "relu", "MaxPool": "pool", "AveragePool": "avgpool"}
    used: Counter[str] = Counter()
    for node in g.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear", "Constant"):
            continue
        if node.op_type == "Conv":
            conv_index += 1
            name = f"conv{conv_index}"
            layers.append(name)
            params = [f"{name}.weight", f"{name}.bias"]
        elif node.op_type in ("Gemm", "MatMul"):
            name, params = "fc", ["fc.weight", "fc.bias"]
            layers.append(name)
        elif node.op_type in simple:
            name, params = f"{simple[node.op_type]}{conv_index}", []
        elif node.op_type == "GlobalAveragePool":
            name, params = "gap", []
        elif node.op_type == "Flatten":
            name, params = "flatten", []
        else:
            name, params = f"{node.op_type.lower()}{conv_index}", []
        used[name] += 1
        if used[name] > 1:
            name = f"{name}_{used[name] - 1}"
        node.name = name
        inits = {i.name for i in g.initializer}
        for k, param in enumerate(params, start=1):
            if k < len(node.input) and node.input[k] in inits:
                rename_tensor(g, node.input[k], param)
        if node.output[0] in graph_outputs:
            rename_tensor(g, node.output[0], output_name)
        elif len(node.output) == 1:
            rename_tensor(g, node.output[0], name)
    return layers


def set_metadata(model: onnx.ModelProto, meta: dict[str, str]) -> None:
    """Replace the model's ``metadata_props`` entries for the given keys."""
    keep = [p for p in model.metadata_props if p.key not in meta]
    del model.metadata_props[:]
    for p in keep:
        model.metadata_props.append(p)
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)


def get_metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def clean_io(model: onnx.ModelProto) -> None:
    """Drop exporter bookkeeping from graph inputs/outputs and stale shape annotations."""
    for vi in [*model.graph.input, *model.graph.output]:
        del vi.metadata_props[:]
    del model.graph.value_info[:]


def executed_nodes(
    path: str | Path | bytes, level: str = "all", threads: int = 1
) -> list[tuple[str, str]]:
    """(node name, op type) of the graph ONNX Runtime executes after its optimizations.

    Read back from ``SessionOptions.optimized_model_filepath`` (contrib ops such as
    ``com.microsoft.QGemm`` appear by op type). Fused nodes keep the layer's name, possibly
    with a ``_token_<n>`` suffix.
    """
    from amrkit.runtime import ort_session

    with tempfile.TemporaryDirectory(prefix="amrkit-ort-") as tmp:
        target = Path(tmp) / "optimized.onnx"
        ort_session(path, threads=threads, level=level, optimized_path=target)
        optimized = onnx.load(str(target))
    return [(node.name, node.op_type) for node in optimized.graph.node]


def executed_op_types(
    path: str | Path | bytes, level: str = "all", threads: int = 1
) -> dict[str, int]:
    """Op type → count in the graph ONNX Runtime executes (see :func:`executed_nodes`)."""
    return dict(Counter(op for _, op in executed_nodes(path, level, threads)))


_LAYER_NODE = re.compile(r"^(conv\d+|fc)(?:_token_\d+)?$")


def layer_kernels(nodes: list[tuple[str, str]]) -> dict[str, str]:
    """Layer name (conv1..convN, fc) → the op type ONNX Runtime runs it with."""
    out = {}
    for name, op in nodes:
        m = _LAYER_NODE.match(name)
        if m and op not in ("QuantizeLinear", "DequantizeLinear", "Transpose"):
            out[m.group(1)] = op
    return out


def integer_kernels(op_types: dict[str, int] | Iterable[str]) -> list[str]:
    """The integer operators among ``op_types``."""
    return sorted(op for op in op_types if op in INTEGER_OPS)
