"""`fuse()`: the graph's conv -> batch norm pairs, folded for inference.

The graph knows every batch norm whose only input is a convolution that nothing else reads:
in eval mode such a batch norm is an affine map per channel, which folds into the conv's
weight and bias. Each class lists the pairs among its own modules in a class attribute
`fuse_pairs` (names relative to it, `downsample.0` inside an optional child); the top class's
`fuse()` walks the modules and folds each one's pairs with torch's `fuse_conv_bn_eval`,
leaving nn.Identity where the batch norm was. No tracing: the pairs are facts of the spec,
written once here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...ir import parent
from ...names import name_problem
from ...ops.base import literal
from .layout import WIDTH
from .scopes import ScopeTree

if TYPE_CHECKING:
    from .classes import ClassPlan, ClassPlanner
    from .scopes import ScopeNode

FUSE_DOC = "Fold each class's `fuse_pairs`, batch norms into the convs before them (eval mode)."
FUSE_ERROR = "fuse() folds batch norms for inference: call eval() first"


def conv_bn_pairs(tree: ScopeTree) -> list[tuple[str, str]]:
    """(conv, batch norm) names of the foldable pairs, in graph order."""
    out = []
    for n in tree.graph.nodes.values():
        if n.op.name != "batchnorm" or len(n.inputs) != 1 or n.inputs[0] not in tree.graph.nodes:
            continue
        conv = tree.graph.nodes[n.inputs[0]]
        if (conv.op.name == "conv" and tree.consumers.get(conv.name) == [n.name]
                and conv.name not in tree.output_refs
                and tree.node_call(conv).fn == "nn.Conv2d" and tree.node_call(n).fn == "nn.BatchNorm2d"):
            out.append((conv.name, n.name))
    return out


Pair = tuple[str, str]


def class_pairs(planner: ClassPlanner) -> dict[ClassPlan, dict[Pair, tuple[str, ...]]]:
    """Each class's pairs, named relative to it: a pair belongs to the innermost class scope
    that holds both its nodes (the optional children's pairs included, from the instances
    that have them). That scope is found from the names, not by testing every scope: a node
    lies in each scope its dotted name begins with, so the pair's innermost common scope is
    the names' longest common dotted prefix, and its owner the nearest class scope at or above.
    Each pair -> the modules (relative to the class) it holds only where they are (`_needs`):
    such a pair is listed only in a class of one instance (the top), whose __init__ tests them;
    or the class's own children it builds under their `when:` (`ClassPlan.whens`: the dense
    layer's conv1), which its __init__ tests in any class."""
    tree = planner.tree
    classed = {sn.path: sn for sn in tree.post_order() if not sn.sequential}    # the root is never sequential
    out: dict[ClassPlan, dict[Pair, tuple[str, ...]]] = {}
    for conv, norm in conv_bn_pairs(tree):
        path = _common_scope(conv, norm)
        while path not in classed:
            path = parent(path)
        plan = planner.plan_of[classed[path]]
        cut = len(path) + 1 if path else 0
        needs = tuple(n[cut:] for n in _needs(planner, classed, conv, norm))
        own = tuple(m for m in (conv[cut:], norm[cut:]) if m in plan.whens)    # its own, under their `when:`
        if not needs or len(plan.instances) == 1 and all(map(attribute_path, needs)):
            out.setdefault(plan, {})[(conv[cut:], norm[cut:])] = (*needs, *own)
    every = set(conv_bn_pairs(tree))
    return {plan: {p: n for p, n in pairs.items() if not plan.members or _pair_everywhere(tree, plan, p, every)}
            for plan, pairs in out.items()}


def _needs(planner: ClassPlanner, classed: dict[str, ScopeNode], conv: str, norm: str) -> list[str]:
    """The children the pair needs: where the batch norm is in a class's instance that the conv
    is not in, whose class builds a child under its own test (`ClassPlan.tested`) that, where
    absent, leaves the instance's input (the conv's output) to be read again, that child (at
    another value of what the test reads, WRN's k = 1, block1.0 has no shortcut and adds its
    input back: fuse() would change the output); the conv or the norm itself where a class
    inside builds it under its block's `when:` (`ClassPlan.whens`)."""
    out = []
    path = parent(norm)
    while path and not conv.startswith(path + "."):
        sn = classed.get(path)
        plan = planner.plan_of.get(sn) if sn is not None else None
        if plan is not None:
            out += [f"{path}.{t}" for t in plan.tested if plan.absent.get(t, "").startswith("<in ")]
        path = parent(path)
    common = _common_scope(conv, norm)
    for name in (conv, norm):           # one a child of a class inside, built under its `when:`
        path = parent(name)
        plan = planner.plan_of.get(classed[path]) if path != common and path in classed else None
        if plan is not None and name[len(path) + 1:] in plan.whens and name not in out:
            out.append(name)
    return out


def attribute_path(name: str) -> str | None:
    """A module's dotted name as Python reads it from self (`block1[0].shortcut`), each part an
    index or a name that passes the one validator; None where one does not."""
    parts = []
    for part in name.split("."):
        if part.isdigit() and part.isascii():
            parts.append(f"[{int(part)}]")
        elif name_problem(part) is None:
            parts.append(f".{part}")
        else:
            return None
    return "self" + "".join(parts)


def pair_lines(pairs: dict[Pair, tuple[str, ...]]) -> list[str]:
    """__init__'s last lines: each pair that holds only where some children are, added where
    they are (`if self.block1[0].shortcut is not None:`)."""
    lines = []
    for (conv, norm), needs in pairs.items():
        if needs:
            test = " and ".join(f"{attribute_path(n)} is not None" for n in needs)
            lines += [f"        if {test}:",
                      f"            self.fuse_pairs = (*self.fuse_pairs, ({literal(conv)}, {literal(norm)}))"]
    return lines


def _pair_everywhere(tree: ScopeTree, plan: ClassPlan, pair: tuple[str, str], every: set[tuple[str, str]]) -> bool:
    """Where a class's chains lack members at some instances (`ClassPlan.members`), the same names
    may hold another pair's modules: a pair is listed only where, at each instance whose `norm` is
    a batch norm, `conv` is the conv it folds into (else fuse() would fold it into a ReLU)."""
    for sn in plan.instances:
        conv, norm = (f"{sn.path}.{name}" if sn.path else name for name in pair)
        n = tree.graph.nodes.get(norm)
        if n is not None and n.op.name == "batchnorm" and (conv, norm) not in every:
            return False
    return True


def _common_scope(a: str, b: str) -> str:
    """The innermost scope holding both nodes: their names' longest common dotted prefix
    (each name's last part is the node itself, not a scope)."""
    common = []
    for x, y in zip(a.split(".")[:-1], b.split(".")[:-1]):
        if x != y:
            break
        common.append(x)
    return ".".join(common)


def pairs_attribute(pairs: dict[Pair, tuple[str, ...]]) -> list[str]:
    """`fuse_pairs = (("conv1", "bn1"), ...)` at class level, the pairs that need no children
    (`()` where all do: __init__ adds them; a class without pairs gets none)."""
    if not pairs:
        return []
    items = [f"({literal(c)}, {literal(b)})" for (c, b), needs in pairs.items() if not needs]
    one = f"    fuse_pairs = ({', '.join(items)}{',' * (len(items) == 1)})"
    if len(one) <= WIDTH:
        return [one]
    return ["    fuse_pairs = (", *(f"        {item}," for item in items), "    )"]   # ruff's split of a tuple


def fuse_method() -> list[str]:
    """The top class's method, unindented: the same text for every graph with pairs."""
    return ["def fuse(self):",
            f'    """{FUSE_DOC}"""',
            "    if self.training:",
            f"        raise RuntimeError({literal(FUSE_ERROR)})",
            "    for block in list(self.modules()):",
            "        modules = dict(block.named_modules(remove_duplicate=False))",
            "        for conv, norm in getattr(block, \"fuse_pairs\", ()):",
            "            if isinstance(modules.get(norm), nn.BatchNorm2d):  # not absent, not folded yet",
            "                fused = nn.utils.fusion.fuse_conv_bn_eval(modules[conv], modules[norm])",
            "                block.set_submodule(conv, fused)",
            "                block.set_submodule(norm, nn.Identity())",
            "    return self"]
