"""The JSON Schema of spec files (`archspec schema`), for editors' completion and checks.

The document keys come from the pydantic models in spec.py; the node forms and
each op's attributes come from the op registry, so a newly registered op shows
up here without further work."""
from __future__ import annotations

from ..ops import REGISTRY
from .spec import SpecDoc

EXPR = {"type": "string", "pattern": r"\$\{.*\}", "description": "a ${...} expression"}
REF = {"type": "string", "description": "a node name in this scope, or 'input'"}
COMMON = {
    "in": {"anyOf": [REF, {"type": "array", "items": REF}, EXPR,
                     {"type": "object", "additionalProperties": REF,
                      "description": "a block's inputs by name (the first, unnamed, is the previous node)"}],
           "description": "input node(s); default: the previous node; an expression may choose the list"},
    "when": {"anyOf": [{"type": "boolean"}, EXPR], "description": "drop the node (it passes its input) when false"},
    "else": {**REF, "description": "which input stands for a node of several inputs dropped by 'when'"},
}


def _or_expr(schema: dict) -> dict:
    """A value, or an expression in its place: the whole value or any item of a list
    (`k: [1, "${k}"]`, `weights: [1, "${s}"]`), as the loader resolves them."""
    if isinstance(schema.get("items"), dict):
        schema = {**schema, "items": _or_expr(schema["items"])}
    if "anyOf" in schema:
        schema = {**schema, "anyOf": [_or_expr(s)["anyOf"][0] for s in schema["anyOf"]]}
    return {"anyOf": [schema, EXPR]}


def _items_or_expr(schema: dict) -> dict:
    """The schema with each list item an expression too, as the loader takes `[3, "${out}", 1, 1]`."""
    out = dict(schema)
    if isinstance(out.get("items"), dict):
        out["items"] = _or_expr(_items_or_expr(out["items"]))
    if isinstance(out.get("prefixItems"), list):
        out["prefixItems"] = [_or_expr(_items_or_expr(v)) for v in out["prefixItems"]]
    if isinstance(out.get("anyOf"), list):
        out["anyOf"] = [_items_or_expr(v) for v in out["anyOf"]]
    return out


def _op_node(op) -> dict:
    attrs = op.Attrs.model_json_schema()
    defs = attrs.get("$defs", {})
    props = {k: _or_expr(_items_or_expr(_inline(v, defs))) for k, v in attrs.get("properties", {}).items()}
    return {
        "type": "object",
        "description": op.doc,
        "properties": {"op": {"const": op.name}, **COMMON, **props},
        "required": ["op", *attrs.get("required", [])],
        "additionalProperties": False,
    }


def _inline(schema: dict, defs: dict) -> dict:
    ref = schema.get("$ref", "")
    return defs.get(ref.rsplit("/", 1)[-1], schema) if ref else schema


def json_schema() -> dict:
    doc = SpecDoc.model_json_schema()
    node = {"$ref": "#/$defs/node"}
    nodes = {"type": "array", "items": node}
    defs = doc.setdefault("$defs", {})
    defs["node"] = {"anyOf": [
        {"type": "string", "enum": sorted(REGISTRY), "description": "an op with default attributes"},
        {"type": "string", "description": "a block with default parameters"},
        *(_op_node(op) for _, op in sorted(REGISTRY.items())),
        {"type": "object", "description": "an op chosen by expression (op: \"${act}\"); its attributes",
         "properties": {"op": EXPR, **COMMON}, "required": ["op"]},
        {"type": "object", "description": "a block instance; other keys are the block's parameters",
         "properties": {"use": {"type": "string"}, "args": _or_expr({"type": "array"}), **COMMON},
         "required": ["use"]},
        {"type": "object", "description": "a numbered sequence (nn.Sequential)",
         "properties": {"seq": nodes, **COMMON}, "required": ["seq"], "additionalProperties": False},
        {"type": "object", "description": "a group of named nodes",
         "properties": {"nodes": nodes, **COMMON}, "required": ["nodes"], "additionalProperties": False},
        {"type": "object", "description": "a node repeated; i (or the name index: gives) is the index",
         "properties": {"repeat": _or_expr({"type": "integer", "minimum": 0}), "node": {"anyOf": [node, nodes]},
                        "name": {"type": "string"}, "carry": {"enum": ["concat"]}, "index": {"type": "string"},
                        **COMMON},
         "required": ["repeat", "node"], "additionalProperties": False},
        {"type": "object", "description": "a named node: name -> op/block name, body, or list of named nodes",
         "minProperties": 1, "maxProperties": 1,
         "additionalProperties": {"anyOf": [{"type": "string"}, node, nodes]}},
    ]}
    doc["properties"]["nodes"] = {"anyOf": [nodes, {"type": "null"}]}
    block = defs.get("BlockDef", {}).get("properties", {})
    want = {"type": "object", "additionalProperties": False, "properties": {
        **{k: _or_expr({"type": "integer"}) for k in ("channels", "height", "width")},
        "shape": _or_expr({"type": "array", "items": _or_expr({"type": "integer"})})}}
    block["inputs"] = {"anyOf": [{"type": "array", "items": {"type": "string"}},
                                 {"type": "object", "additionalProperties": {"anyOf": [want, {"type": "null"}]}},
                                 EXPR, {"type": "null"}],
                       "description": "named tensor inputs, each with what its shape must be, or an expression "
                                      "of the parameters giving their names"}
    block["outputs"] = {"anyOf": [{"type": "array", "items": {"type": "string"}}, EXPR, {"type": "null"}],
                        "description": "several outputs, in order, or an expression of the parameters giving them"}
    for key in ("nodes", "seq"):
        if key in block:
            block[key] = {"anyOf": [nodes, {"type": "null"}]}
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "archspec network spec"
    return doc
