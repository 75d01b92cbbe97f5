"""The fewest op nodes a list of nodes can make, read from the spec's text before it is expanded.

A block that uses another twice, which uses another twice, ... makes 2^depth nodes: expansion
would build MAX_NODES of them (seconds) before the limit stops it. Counting first refuses such a
tree at once, as repeats are refused before their steps. The count is a lower bound, so it never
refuses a spec that fits: a node with `when:`, a block with `when:`, a `${...}` target or repeat
count may make nothing and counts 0; a block that is being counted (it uses itself) counts 0,
and the depth limit stops it."""
from __future__ import annotations

from typing import Any

from ..errors import LimitError, Loc, SpecError
from ..limits import MAX_INT, MAX_NODES, MAX_REPEAT, MAX_SCOPE_DEPTH
from ..ops import REGISTRY
from .expr import has_expr
from .spec import Block
from .syntax import Decl, node_name, parse_decl
from .yamlpos import YList


class Fewest:
    """Lower bounds of node counts, memoised per block and per list (the spec's text does not change)."""

    def __init__(self, blocks: dict[str, Block]):
        self.blocks = blocks
        self.memo: dict[Any, int] = {}
        self.depth = 0               # blocks being counted, one inside the other

    def check(self, items: Any, nodes: int, chain: tuple) -> None:
        """Raise LimitError, at the item that makes the most, if `nodes` made so far and the fewest
        this list makes exceed MAX_NODES."""
        total = self.list(items)
        if nodes + total <= MAX_NODES:
            return
        most, k = max((self.item(item, items.at(k)), k) for k, item in enumerate(items))
        if nodes + most > MAX_NODES:         # one node alone: name it (a repeat says so in its own words)
            d = parse_decl(items[k], items.at(k))
            if d.kind == "repeat":
                return
            what, loc, total = f"'{node_name(d)}'", items.at(k), most
        else:
            what, loc = "this list of nodes", items.loc
        before = f" (and {nodes:,} are made before it)" if nodes else ""
        raise LimitError(f"{what} would make at least {total:,} nodes, over archspec's limit of {MAX_NODES:,}"
                         f"{before}", loc=loc, chain=chain,
                         hint="a block that uses another several times multiplies its nodes at every level")

    def item(self, item: Any, loc: Loc) -> int:
        try:
            d = parse_decl(item, loc)
        except SpecError:
            return 0
        return 0 if "when" in d.body else min(self.decl(d), MAX_INT)

    def decl(self, d: Decl) -> int:
        target = d.body.get(d.kind)
        if d.kind == "op":
            return 1
        if d.kind in ("seq", "nodes"):
            return self.list(target)
        if d.kind == "repeat":
            count, node = target, d.body.get("node")
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_REPEAT:
                return 0              # ${...}: known when expanded; a count over the limit is refused there
            return count * (self.list(node) if isinstance(node, YList) else self.item(node, d.body.at("node")))
        if not isinstance(target, str) or has_expr(target):
            return 0
        if d.kind == "ref" and target in REGISTRY:
            return 1
        return self.block(target)

    def list(self, items: Any) -> int:
        if not isinstance(items, YList):
            return 0
        if id(items) not in self.memo:
            self.memo[id(items)] = min(sum(self.item(item, items.at(k)) for k, item in enumerate(items)), MAX_INT)
        return self.memo[id(items)]

    def block(self, name: str) -> int:
        block = self.blocks.get(name)
        if block is None or "when" in block.raw or self.depth >= MAX_SCOPE_DEPTH:
            return 0                  # deeper than expansion goes: the depth limit stops it there
        if name not in self.memo:
            self.memo[name] = 0       # while counted: a block that uses itself adds nothing
            self.depth += 1
            try:
                self.memo[name] = self.list(block.raw.get("nodes", block.raw.get("seq")))
            finally:
                self.depth -= 1
        return self.memo[name]
