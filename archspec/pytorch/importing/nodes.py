"""The recovered spec as data: nodes, blocks and the whole result, which structure.py makes
and yamltext.py writes out."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Node:
    """One spec node: `body` is {"op": ..., attrs}, {"use": block, args}, {"seq" | "nodes": [Node]}
    or {"repeat": n, "node": {...}, ...}; `ins` are local refs; `ref` is how others name it."""
    name: str | None
    body: dict
    ins: list[str]
    ref: str
    when: str | None = None
    other: str | None = None       # `else:`: the input that stands for it where `when` drops it


@dataclass
class Block:
    name: str
    kind: str                        # seq | nodes
    params: dict[str, str]           # name -> type name
    nodes: list[Node]
    output: str | None = None
    inputs: list[str] | None = None          # several inputs, read apart (None: one, `input`)
    outputs: list[str] | None = None         # several outputs, by name


@dataclass
class Result:
    kind: str
    nodes: list[Node]
    blocks: list[Block] = field(default_factory=list)
    outputs: list[tuple[str, str, bool]] = field(default_factory=list)   # (name, node, training only)
