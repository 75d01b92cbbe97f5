"""Training memory: parameters, gradients, optimizer state, and the activations autograd
keeps for backward, per node and in total (`archspec summary --batch B`).

What each op keeps is its op's `saved()` rule (archspec/ops/). A tensor kept by two ops
(a conv's input that a ReLU also keeps as its output) is one storage and counts once, as
PyTorch holds it: in-place ops and views (flatten, identity) share their input's storage,
as the IR says (`Graph.in_place`, the rule the compiled module follows too). Ops before the first
parameter keep nothing (the input needs no gradient). Each storage counts for the node that
made it; the graph input counts as `input`."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..ir import INPUT, Graph

DTYPES = {"float32": 4, "bfloat16": 2, "float16": 2}
OWN_DTYPES = {"int64": 8, "bool": 1, "float32": 4}
OPTIMIZER_STATES = {"sgd": 1, "adam": 2}      # SGD with momentum: 1 buffer per parameter; Adam: 2


@dataclass
class Memory:
    batch: int
    dtype: str
    optimizer: str
    params: int                  # bytes of trainable parameters
    buffers: int                 # bytes of buffers (batch norm statistics)
    gradients: int
    optimizer_state: int
    saved: dict[str, int] = field(default_factory=dict)     # node (or "input") -> bytes autograd keeps
    _rolled: dict[str, int] | None = field(default=None, repr=False)

    @property
    def activations(self) -> int:
        return sum(self.saved.values())

    @property
    def total(self) -> int:
        return self.params + self.buffers + self.gradients + self.optimizer_state + self.activations

    def under(self, name: str) -> int:
        """Bytes kept for the node of that name, or for every node of the block or group."""
        if self._rolled is None:
            self._rolled = {}
            for node, nbytes in self.saved.items():
                parts = node.split(".")
                for k in range(1, len(parts) + 1):
                    key = ".".join(parts[:k])
                    self._rolled[key] = self._rolled.get(key, 0) + nbytes
        return self._rolled.get(name, 0)

    def lines(self) -> list[str]:
        """The totals, one line each, for the summary's footer."""
        states = OPTIMIZER_STATES[self.optimizer]
        items = [("parameters", self.params), ("buffers", self.buffers), ("gradients", self.gradients),
                 (f"optimizer state ({self.optimizer}: {states} per parameter)", self.optimizer_state),
                 ("activations saved for backward", self.activations), ("total", self.total)]
        head = f"training memory, batch {self.batch}, {self.dtype}:"
        return [head] + [f"  {what}: {mib(v)}" for what, v in items]

    def to_dict(self) -> dict:
        return {"batch": self.batch, "dtype": self.dtype, "optimizer": self.optimizer, "params": self.params,
                "buffers": self.buffers, "gradients": self.gradients, "optimizer_state": self.optimizer_state,
                "activations": self.activations, "total": self.total, "saved": self.saved}


def mib(nbytes: int) -> str:
    return f"{nbytes:,} bytes ({nbytes / 2**20:,.1f} MiB)"


def storage_owners(graph: Graph) -> dict[str, str]:
    """For each node (and INPUT), the node whose output storage it shares: itself, or for an
    in-place op or a view, its first input's owner."""
    owner = {INPUT: INPUT}
    for n in graph.nodes.values():
        owner[n.name] = owner[n.inputs[0]] if graph.shares_storage(n) else n.name
    return owner


def training_memory(graph: Graph, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd") -> Memory:
    size = DTYPES[dtype]
    owner = storage_owners(graph)
    kept: dict[tuple, tuple[str, int]] = {}       # storage -> (the node that made it, bytes)

    def elements(ref: str) -> int:
        return batch * math.prod(graph.shape_of(ref) or ())
    grad = {INPUT: False}          # autograd records an op only where something it reads needs a gradient
    for n in graph.nodes.values():
        grad[n.name] = n.params > 0 or any(grad[i] for i in n.inputs)
        if n.shape is None or not grad[n.name]:
            continue
        xs = [x for x in n.in_shapes if x is not None]
        for k, s in enumerate(n.op.saved(n.attrs, xs, n.shape, graph.in_place(n))):
            if s.what == "new":
                count = (batch if s.batched else 1) * math.prod(s.shape)
                kept[(n.name, k)] = (n.name, count * OWN_DTYPES.get(s.dtype, size))
            else:
                src = owner[n.inputs[s.k] if s.what == "input" else n.name]
                kept[(src,)] = (src, elements(src) * size)
    saved: dict[str, int] = {}
    for node, nbytes in kept.values():
        saved[node] = saved.get(node, 0) + nbytes
    params = graph.params * size
    buffers = sum(math.prod(t.shape) * OWN_DTYPES.get(t.dtype, size) for n in graph.nodes.values()
                  for t in n.tensors if t.buffer)
    return Memory(batch, dtype, optimizer, params, buffers, params,
                  OPTIMIZER_STATES[optimizer] * params, saved)
