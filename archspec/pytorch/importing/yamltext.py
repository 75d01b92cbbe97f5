"""Recovered structure as spec text, in the library's idiom: one line per node where it fits
(flow mappings, expressions quoted), attributes at their defaults left out, `in:` only where
a node does not read the one before it."""
from __future__ import annotations

import os
import re
import sys

from ...ops import REGISTRY
from .nodes import Block, Node, Result

WIDTH = 110
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(v)
        mantissa, e, exp = text.partition("e")
        return f"{mantissa}.0e{exp}" if e and "." not in mantissa else text
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{scalar(k)}: {scalar(x)}" for k, x in v.items()) + "}"
    if isinstance(v, Node):
        return _flow_node(v, None)
    s = str(v)
    return s if _PLAIN.fullmatch(s) and s.lower() not in _YAML_WORDS else quoted(s)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def quoted(s: str) -> str:
    """Any text as a YAML double-quoted scalar, all ASCII: printable ASCII as it is, every other
    character escaped (JSON's escapes, and \\U for characters past the BMP, which JSON would split
    into surrogates). Nothing in it can end the scalar, start a key, a comment, an anchor or a tag."""
    out = []
    for c in s:
        o = ord(c)
        out.append(_ESCAPES.get(c) or (c if 0x20 <= o < 0x7F else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"))
    return '"' + "".join(out) + '"'


def _is_default(op: str, key: str, value) -> bool:
    field = REGISTRY[op].Attrs.model_fields.get(key) if op in REGISTRY else None
    if field is None or (isinstance(value, str) and "${" in value):
        return False
    default = field.default
    if isinstance(default, tuple) and isinstance(value, int):
        value = (value, value)
    return type(value) is type(default) and value == default


def _fields(node: Node, prev: str) -> dict:
    """The node's mapping: its kind first, then in and when, then the attributes or arguments."""
    body = dict(node.body)
    head: dict = {}
    for kind in ("op", "use", "repeat", "name", "index", "carry"):
        if kind in body and (kind != "index" or "repeat" in body):       # (chunk's index is an attribute)
            head[kind] = body.pop(kind)
    if "op" in head:
        body = {k: v for k, v in body.items() if not _is_default(head["op"], k, v)}
    if node.ins != [prev]:
        head["in"] = node.ins[0] if len(node.ins) == 1 else node.ins
    if node.when:
        head["when"] = node.when
    if node.other:
        head["else"] = node.other
    return {**head, **body}


def _flow_node(node: Node, prev: str | None) -> str:
    fields = _fields(node, prev if prev is not None else node.ins[0] if node.ins else "input")
    if set(fields) <= {"op", "use"}:
        return scalar(fields.get("op") or fields.get("use"))
    parts = []
    for k, v in fields.items():
        if k in ("seq", "nodes"):
            v = "[" + ", ".join(_flow_named(c, p, k == "nodes") for c, p in _with_prev(v)) + "]"
        elif k == "node" and isinstance(v, list):       # a list of ops, repeated in a numbered sequence
            v = "[" + ", ".join(_flow_node(c, p) for c, p in _with_prev(v)) + "]"
        elif k == "node":
            v = "{" + ", ".join(f"{scalar(a)}: {scalar(x)}" for a, x in v.items()) + "}"
        else:
            v = scalar(v)
        parts.append(f"{scalar(k)}: {v}")
    return "{" + ", ".join(parts) + "}"


def _flow_named(node: Node, prev: str, named: bool) -> str:
    """A group's child in flow style: `{name: ...}` in a nodes group, the node alone in a seq."""
    flow = _flow_node(node, prev)
    return f"{{{scalar(node.name)}: {flow}}}" if named and node.name is not None else flow


def _with_prev(nodes: list[Node]):
    prev = "input"
    for n in nodes:
        yield n, prev
        prev = n.ref


POSITIONAL = 4      # a block of this many parameters or more takes them as a row: args: [...]


def _as_row(node: Node) -> Node:
    args = [k for k in node.body if k != "use"]
    if "use" not in node.body or len(args) < POSITIONAL:
        return node
    return Node(node.name, {"use": node.body["use"], "args": [node.body[k] for k in args]}, node.ins, node.ref,
                node.when, node.other)


def write_nodes(nodes: list[Node], indent: int, seq: bool, lines: list[str], shown: set | None = None,
                outputs: frozenset | set = frozenset()) -> None:
    pad = " " * indent
    shown = set() if shown is None else shown
    auto: set[str] = set()             # ops of the anonymous nodes so far: archspec names them after the op
    named = {r for n, p in _with_prev(nodes) if n.ins != [p] for r in n.ins} | outputs    # read by name
    for node, prev in _with_prev(nodes):
        row = _as_row(node)
        if row is not node:            # a table's rows: its column names above the first one
            if node.body["use"] not in shown:
                columns = ", ".join(scalar(k) for k in node.body if k != "use")
                lines.append(f"{pad}# {scalar(node.body['use'])}: {columns}")
                shown.add(node.body["use"])
            node = row
        if node.name in RESERVED and not seq:
            node = _reserved(node)
        label = f"{scalar(node.name)}: " if node.name is not None and not seq else ""
        if label and node.name == node.body.get("op") and len(node.body) == 1 and node.ins == [prev] \
                and node.name not in auto and node.name not in named:
            label = ""                 # its own name is the one archspec gives an anonymous node
        auto.update(str(n.body["op"]) for n in [node] if n.name is None and "op" in n.body)
        flow = _flow_node(node, prev)
        kind = "seq" if "seq" in node.body else "nodes" if "nodes" in node.body else None
        if kind is None or indent + 2 + len(label) + len(flow) <= WIDTH:
            lines.append(f"{pad}- {label}{flow}")
            continue
        fields = _fields(node, prev)
        if not label:                  # a numbered group in a numbered sequence
            lines.append(f"{pad}- {kind}:")
        elif set(fields) == {"nodes"}:
            lines.append(f"{pad}- {scalar(node.name)}:")
        else:
            lines.append(f"{pad}- {scalar(node.name)}:")
            for k, v in fields.items():
                if k != kind:
                    lines.append(f"{pad}    {scalar(k)}: {scalar(v)}")
            lines.append(f"{pad}    {kind}:")
        under_key = not label or set(fields) != {"nodes"}      # the children under a `seq:`/`nodes:` line
        write_nodes(node.body[kind], indent + (6 if under_key and label else 4), kind == "seq", lines, shown)


RESERVED = ("op", "use", "seq", "nodes", "repeat")      # node kinds: no node's key (timm's `repeat` stage)


def _reserved(node: Node) -> Node:
    """A group named by a reserved word as a one-step repeat that gives it the name (its own index k,
    so that a repeat inside keeps i)."""
    body = node.body if ("seq" in node.body or "nodes" in node.body) else \
        {"seq": [Node(None, node.body, ["input"], "~0")]}
    return Node(None, {"repeat": 1, "name": node.name, "index": "k", "node": body}, node.ins, node.ref)


def write_block(block: Block, lines: list[str]) -> None:
    lines.append(f"  {scalar(block.name)}:")
    if block.params:
        lines.append("    params: " + scalar(block.params))
    if block.inputs:
        lines.append("    inputs: " + scalar(block.inputs))
    if block.output:
        lines.append(f"    output: {scalar(block.output)}")
    if block.outputs:
        lines.append("    outputs: " + scalar(block.outputs))
    lines.append(f"    {scalar(block.kind)}:")
    write_nodes(block.nodes, 6, block.kind == "seq", lines, outputs={block.output, *(block.outputs or [])})


def _user_ops(result: Result) -> dict[str, str]:
    """The ops of the spec that a user registered (--ops), each with the file that defines it."""
    found: dict[str, str] = {}

    def walk(v) -> None:
        if isinstance(v, Node):
            walk(v.body)
        elif isinstance(v, dict):
            op = v.get("op")
            if isinstance(op, str) and op in REGISTRY and not type(REGISTRY[op]).__module__.startswith("archspec."):
                module = sys.modules.get(type(REGISTRY[op]).__module__)
                found[op] = os.path.basename(getattr(module, "__file__", None) or type(REGISTRY[op]).__module__)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(result.nodes)
    walk([b.nodes for b in result.blocks])
    return found


def spec_text(result: Result, name: str, title: str, doc: str, input_shape: tuple) -> str:
    lines = ["archspec: 1", f"name: {scalar(name)}", f"title: {scalar(title)}", f"doc: {scalar(doc)}",
             f"input: {scalar(list(input_shape))}"]
    user = _user_ops(result)
    if user:              # archspec never loads code itself: the spec names the --ops file of each
        lines.append("requires_ops: " + scalar(user))
    if result.blocks:
        lines.append("")
        lines.append("blocks:")
        for k, b in enumerate(result.blocks):
            if k:
                lines.append("")
            write_block(b, lines)
    lines.append("")
    lines.append("nodes:")
    write_nodes(result.nodes, 2, False, lines, outputs={node for _, node, _ in result.outputs})
    if result.outputs:
        lines += ["", "outputs:"]
        for name, node, train_only in result.outputs:
            target = f"{{node: {scalar(node)}, train_only: true}}" if train_only else scalar(node)
            lines.append(f"  {scalar(name)}: {target}")
    return "\n".join(lines) + "\n"
