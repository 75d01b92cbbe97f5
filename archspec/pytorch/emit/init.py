"""`init_weights`: the graph's `init:` rules (graph.init) as torch.nn.init calls on the top class."""
from __future__ import annotations

import bisect
import dataclasses
import fnmatch
import re

from ...errors import SpecError
from ...ir import Graph, Init, InitRule
from ...limits import MAX_INIT_TESTS
from ...ops.base import REGISTRY, literal


def init_weights(graph: Graph) -> list[str]:
    """The method's source, unindented; only for a graph with `init:` rules."""
    init = graph.init
    assert init is not None
    lines = ["def init_weights(self):", '    """The spec\'s `init:` rules."""']
    rules = [(_present(graph, op), _rule_lines(r, _has(graph, op, "weight"), _has(graph, op, "bias")))
             for op, r in init.rules.items()]
    rules = [(types, body) for types, body in rules if body and types]
    if rules:
        lines.append("    for m in self.modules():")
    for types, body in rules:
        kind = types[0] if len(types) == 1 else f"({', '.join(types)})"
        lines += [f"        if isinstance(m, {kind}):", *(f"            {b}" for b in body)]
    zero = _zero_names(graph, init)
    if zero:
        lines += [f"    for name in {literal(tuple(zero))}:",
                  "        nn.init.zeros_(self.get_submodule(name).weight)"]
    return lines if len(lines) > 2 else lines + ["    pass"]


def _present(graph: Graph, op: str) -> list[str]:
    """The op's module classes an isinstance test may name: torch's, and the file's own helper
    classes (LayerNorm2d, ...) only where some node here uses them (else they are not defined)."""
    used = set()
    for n in graph.nodes.values():
        if n.op.name == op and n.shape is not None:
            call = n.op.module(n.attrs, [s for s in n.in_shapes if s is not None], n.shape)
            used.add(call.fn if call else None)
    return [t for t in REGISTRY[op].init_modules if "." in t or t in used]


def _has(graph: Graph, op: str, tensor: str) -> bool | None:
    """Whether the op's modules here have the tensor: True (all), False (none), None (some)."""
    has = {any(t.key.rsplit(".", 1)[-1] == tensor for t in n.tensors)
           for n in graph.nodes.values() if n.op.name == op}
    return None if len(has) > 1 else has.pop() if has else False


def _zero_names(graph: Graph, init: Init) -> list[str]:
    """The nodes `zero:` names: their weight starts at 0. Each pattern's matches, in graph order,
    patterns in their order; a plain name is looked up, a glob tests only the names that share its
    literal prefix (sorted, bisected), so many patterns over many nodes stay cheap."""
    weighted = [n.name for n in graph.nodes.values() if any(t.key == "weight" and not t.buffer for t in n.tensors)]
    order = {name: k for k, name in enumerate(weighted)}
    ranked = sorted(weighted)
    plans: list[tuple[str, str | None, int, int]] = []    # (pattern, literal prefix of a glob, its range)
    for pat in init.zero:
        literal = _literal_prefix(pat)
        if literal == pat:
            plans.append((pat, None, 0, 0))
            continue
        lo = bisect.bisect_left(ranked, literal)
        plans.append((pat, literal, lo, bisect.bisect_left(ranked, literal + "\U0010ffff", lo)))
    tests = sum(hi - lo for _, prefix, lo, hi in plans if prefix is not None)
    if tests > MAX_INIT_TESTS:
        raise SpecError(f"init: zero patterns would test {tests:,} node names; at most {MAX_INIT_TESTS:,}",
                        loc=graph.init_loc, hint="limits.MAX_INIT_TESTS; name the nodes, or begin each glob "
                                                 "with more of the name (layer4.*.bn3, not *.bn3)")
    names: dict[str, None] = {}
    for pat, prefix, lo, hi in plans:
        if prefix is None:
            hits = [pat] if pat in order else []
        else:
            match = re.compile(fnmatch.translate(pat)).match
            hits = sorted((name for name in ranked[lo:hi] if match(name)), key=order.__getitem__)
        if not hits:
            raise SpecError(f"init: zero pattern {pat!r} matches no node with a weight", loc=graph.init_loc,
                            hint="patterns are fnmatch globs over node names, e.g. layer*.*.bn3")
        names.update(dict.fromkeys(hits))
    return list(names)


def _literal_prefix(pattern: str) -> str:
    """The pattern up to its first glob character (all of it for a plain name)."""
    cut = min((i for i in (pattern.find(c) for c in "*?[") if i >= 0), default=len(pattern))
    return pattern[:cut]


# The rule's fields each method passes to torch.nn.init, by keyword. ir.InitRule's defaults are
# torch's own (tests/test_compile.py holds them to torch.nn.init's signatures), so an argument at
# its default is left out, as torchvision leaves it: `nn.init.kaiming_normal_(m.weight)`.
_ARGS = {"kaiming_normal": ("a", "mode", "nonlinearity"), "kaiming_uniform": ("a", "mode", "nonlinearity"),
         "xavier_normal": ("gain",), "xavier_uniform": ("gain",),
         "normal": ("mean", "std"), "trunc_normal": ("mean", "std")}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(InitRule)}


def _weight_call(rule: InitRule) -> str | None:
    """The torch.nn.init call on `m.weight`, with the arguments not at torch's defaults; None
    where the rule leaves the module's own initialisation."""
    w = rule.weight
    if not isinstance(w, str):
        return f"nn.init.constant_(m.weight, {literal(float(w))})"
    if w not in _ARGS:
        return None
    args = [f"{k}={literal(getattr(rule, k))}" for k in _ARGS[w] if getattr(rule, k) != _DEFAULTS[k]]
    return f"nn.init.{w}_({', '.join(['m.weight', *args])})"


def _rule_lines(rule: InitRule, weight: bool | None, bias: bool | None) -> list[str]:
    """The torch.nn.init calls of one rule on a module `m`; `weight`/`bias`: whether the modules
    have that tensor (None: some do, so test it)."""
    calls = [(_weight_call(rule), weight, "weight")]
    if not isinstance(rule.bias, str):
        calls.append((f"nn.init.constant_(m.bias, {literal(float(rule.bias))})", bias, "bias"))
    out = []
    for c, have, name in calls:
        if c and have is None:
            out += [f"if m.{name} is not None:", f"    {c}"]
        elif c and have:
            out.append(c)
    return out
