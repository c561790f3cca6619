"""Pooling: GlobalAveragePool / ReduceMean (integer mean), MaxPool."""

from __future__ import annotations

from typing import Any

import numpy as np

from amrkit.golden.lower.values import (
    _DQ,
    _Acc,
    _err,
)
from amrkit.golden.ops import (
    MaxPool1d,
    Mean,
    pool_out_length,
)


class PoolOps:
    def op_GlobalAveragePool(self, node: Any, attrs: dict[str, Any]) -> _Acc:
        x = self.act(node)
        if len(x.q.shape) != 2:
            raise _err(f"GlobalAveragePool {node.name!r} input {x.q.shape} is not (C, L)")
        return self._mean(node, x, (2,), True)

    def op_ReduceMean(self, node: Any, attrs: dict[str, Any]) -> _Acc:
        x = self.act(node)
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const_or_none(node, 1)
        rank = len(x.q.shape) + 1
        if axes is None or np.asarray(axes).size == 0:
            if attrs.get("noop_with_empty_axes", 0):
                raise _err(f"ReduceMean {node.name!r} is a no-op; remove it")
            axes = list(range(rank))
        axes = tuple(sorted(int(a) % rank for a in np.asarray(axes).reshape(-1)))
        if 0 in axes:
            raise _err(f"ReduceMean {node.name!r} averages over the batch axis; not supported")
        return self._mean(node, x, axes, bool(attrs.get("keepdims", 1)))

    def _mean(self, node: Any, x: _DQ, axes: tuple[int, ...], keepdims: bool) -> _Acc:
        full = (1, *x.q.shape)
        count = int(np.prod([full[a] for a in axes]))
        out = tuple(1 if i in axes else d for i, d in enumerate(full) if keepdims or i not in axes)
        out = out[1:]
        if not out:
            raise _err(f"{node.op_type} {node.name!r} averages every axis; keep the channels")
        if 1 in axes:
            raise _err(f"{node.op_type} {node.name!r} averages over channels; not supported")
        kw = dict(
            axes=axes,
            keepdims=keepdims,
            count=count,
            input_zero_point=x.q.zero_point,
            input_dtype=x.q.dtype,
            inputs=[x.q.tensor],
            in_shape=x.q.shape,
            out_shape=out,
            source=node.name,
        )
        return _Acc(
            Mean,
            kw,
            out,
            np.array([x.q.scale / count]),
            np.zeros(1),
            False,
            "mean",
            (x.q.scale, count),
            node.name,
            out_shape=out,
        )

    def op_MaxPool(self, node: Any, attrs: dict[str, Any]) -> Any:
        if len(node.output) > 1 and node.output[1]:
            raise _err(f"MaxPool {node.name!r} also outputs indices; not supported")
        x = self.value(node.input[0])
        shape = x.out_shape if isinstance(x, _Acc) else self.act(node).q.shape
        if len(shape) != 2:
            raise _err(f"MaxPool {node.name!r} input {shape} is not (C, L); only 1-D pooling")
        k = int(attrs["kernel_shape"][0])
        stride = int(attrs.get("strides", [1])[0])
        dil = int(attrs.get("dilations", [1])[0])
        pads = tuple(int(p) for p in attrs.get("pads", [0, 0]))
        if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise _err(f"MaxPool {node.name!r} uses auto_pad={attrs['auto_pad']}; give pads")
        ceil = bool(attrs.get("ceil_mode", 0))
        lout = pool_out_length(shape[1], k, stride, pads, dil, ceil)
        op = MaxPool1d(
            self.fresh("pool"),
            [],
            shape,
            (shape[0], lout),
            node.name,
            kernel=k,
            stride=stride,
            pads=pads,
            dilation=dil,
            ceil_mode=ceil,
        )
        if isinstance(x, _Acc):
            x.pending.append(op)
            x.out_shape = op.out_shape
            return x
        return _DQ(self.emit(op, self.act(node).q))
