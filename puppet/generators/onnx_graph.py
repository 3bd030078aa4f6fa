"""A small tracer for writing ONNX graphs as arithmetic.

The built-in generators are written with this module: each Python expression on
:class:`Sym` values appends ONNX nodes to a :class:`GraphBuilder`, and
:meth:`GraphBuilder.to_model` returns a checked ``onnx.ModelProto``.  Only the
export path imports ``onnx``; running a model needs onnxruntime alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

try:  # the export path only
    import onnx
    from onnx import helper, numpy_helper
except ImportError:  # pragma: no cover - exercised where onnx is not installed
    onnx = None  # type: ignore[assignment]

OPSET = 20  # GridSample with linear mode, Resize with antialias, Split num_outputs...
IR_VERSION = 10

FLOAT = 1  # TensorProto.FLOAT
UINT8 = 2  # TensorProto.UINT8
INT64 = 7  # TensorProto.INT64

_NP_TO_ONNX = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int64): INT64}


def require_onnx() -> None:
    if onnx is None:
        from puppet.errors import PuppetError

        raise PuppetError(
            "exporting a model needs the 'onnx' package",
            "install it with: pip install onnx",
        )


class Sym:
    """A symbolic tensor: the name of a value in the graph being built."""

    __array_priority__ = 1000  # so that numpy scalars defer to our operators

    def __init__(self, graph: GraphBuilder, name: str):
        self.graph = graph
        self.name = name

    # arithmetic -------------------------------------------------------
    def _bin(self, op: str, other: Any, reverse: bool = False) -> Sym:
        other = self.graph.lift(other)
        return self.graph.op(op, other, self) if reverse else self.graph.op(op, self, other)

    def __add__(self, o: Any) -> Sym:
        return self._bin("Add", o)

    def __radd__(self, o: Any) -> Sym:
        return self._bin("Add", o, True)

    def __sub__(self, o: Any) -> Sym:
        return self._bin("Sub", o)

    def __rsub__(self, o: Any) -> Sym:
        return self._bin("Sub", o, True)

    def __mul__(self, o: Any) -> Sym:
        return self._bin("Mul", o)

    def __rmul__(self, o: Any) -> Sym:
        return self._bin("Mul", o, True)

    def __truediv__(self, o: Any) -> Sym:
        return self._bin("Div", o)

    def __rtruediv__(self, o: Any) -> Sym:
        return self._bin("Div", o, True)

    def __matmul__(self, o: Any) -> Sym:
        return self._bin("MatMul", o)

    def __neg__(self) -> Sym:
        return self.graph.op("Neg", self)

    def __pow__(self, o: Any) -> Sym:
        return self._bin("Pow", o)

    def __getitem__(self, item: Any) -> Sym:
        """Basic slicing with constant bounds on any axis, e.g. ``x[:, 0:1]``."""
        if not isinstance(item, tuple):
            item = (item,)
        starts, ends, axes, steps = [], [], [], []
        for axis, s in enumerate(item):
            if s is Ellipsis:
                raise NotImplementedError("no Ellipsis in graph slicing")
            if isinstance(s, int):
                s = slice(s, s + 1 if s != -1 else None)
            if s == slice(None):
                continue
            starts.append(0 if s.start is None else s.start)
            ends.append(np.iinfo(np.int64).max if s.stop is None else s.stop)
            axes.append(axis)
            steps.append(1 if s.step is None else s.step)
        g = self.graph
        return g.op("Slice", self, g.const(starts, np.int64), g.const(ends, np.int64),
                    g.const(axes, np.int64), g.const(steps, np.int64))


class GraphBuilder:
    """Collects nodes, constants, inputs and outputs of one ONNX graph."""

    def __init__(self, name: str):
        self.name = name
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self._count = 0
        self._const_cache: dict[tuple, Sym] = {}

    def _fresh(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def input(self, name: str, elem_type: int, shape: Sequence[int | str | None]) -> Sym:
        require_onnx()
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return Sym(self, name)

    def const(self, value: Any, dtype: Any = np.float32) -> Sym:
        require_onnx()
        # np.array, not np.ascontiguousarray: that one turns scalars into 1-element
        # vectors, which ONNX ops that want scalars (Range) reject once shapes are static
        arr = np.array(value, dtype=dtype, order="C")
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key in self._const_cache:
            return self._const_cache[key]
        name = self._fresh("const")
        self.initializers.append(numpy_helper.from_array(arr, name))
        sym = Sym(self, name)
        self._const_cache[key] = sym
        return sym

    def lift(self, value: Any) -> Sym:
        return value if isinstance(value, Sym) else self.const(value)

    def op(self, op_type: str, *inputs: Any, n_out: int = 1, domain: str | None = None,
           **attrs: Any) -> Any:
        require_onnx()
        names = []
        for value in inputs:
            if value is None:
                names.append("")  # an omitted optional input
            else:
                names.append(self.lift(value).name)
        outs = [self._fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, names, outs, domain=domain, **attrs))
        syms = [Sym(self, o) for o in outs]
        return syms[0] if n_out == 1 else syms

    def output(self, value: Sym, name: str, elem_type: int,
               shape: Sequence[int | str | None]) -> None:
        self.nodes.append(helper.make_node("Identity", [value.name], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))

    def to_model(self, metadata: dict[str, str] | None = None, doc: str = "") -> Any:
        require_onnx()
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                  self.initializers, doc_string=doc)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="puppet")
        model.ir_version = IR_VERSION
        for key, value in (metadata or {}).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(model, full_check=True)
        return model

    # helpers used by several generators --------------------------------
    def reduce_sum(self, x: Sym, axis: int, keepdims: bool = True) -> Sym:
        return self.op("ReduceSum", x, self.const([axis], np.int64), keepdims=int(keepdims))

    def concat(self, xs: Sequence[Sym], axis: int) -> Sym:
        return self.op("Concat", *xs, axis=axis)

    def reshape(self, x: Sym, shape: Any) -> Sym:
        if not isinstance(shape, Sym):
            shape = self.const(shape, np.int64)
        return self.op("Reshape", x, shape)

    def transpose(self, x: Sym, perm: Sequence[int]) -> Sym:
        return self.op("Transpose", x, perm=list(perm))

    def clip(self, x: Sym, lo: float, hi: float) -> Sym:
        return self.op("Clip", x, self.const(lo), self.const(hi))

    def sigmoid(self, x: Sym) -> Sym:
        return self.op("Sigmoid", x)

    def sqrt(self, x: Sym) -> Sym:
        return self.op("Sqrt", x)

    def exp(self, x: Sym) -> Sym:
        return self.op("Exp", x)

    def maximum(self, a: Any, b: Any) -> Sym:
        return self.op("Max", a, b)

    def minimum(self, a: Any, b: Any) -> Sym:
        return self.op("Min", a, b)

    def dim(self, x: Sym, axis: int) -> Sym:
        """The size of one axis as a 1-element int64 tensor."""
        shape = self.op("Shape", x)
        return self.op("Gather", shape, self.const([axis], np.int64), axis=0)

    def to_float(self, x: Sym) -> Sym:
        return self.op("Cast", x, to=FLOAT)


def elem_type_of(dtype: Any) -> int:
    return _NP_TO_ONNX[np.dtype(dtype)]
