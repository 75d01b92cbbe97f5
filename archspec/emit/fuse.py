"""`fuse()`: the graph's conv -> batch norm pairs, folded for inference.

The graph knows every batch norm whose only input is a convolution that nothing else reads:
in eval mode such a batch norm is an affine map per channel, which folds into the conv's
weight and bias. The top class gets a `fuse()` method that lists those pairs (by their
state_dict names) and folds each with torch's `fuse_conv_bn_eval`, leaving nn.Identity
where the batch norm was. No tracing: the pairs are facts of the spec, written once here.
"""
from __future__ import annotations

from ..ops.base import literal
from .scopes import ScopeTree

FUSE_DOC = "Fold each batch norm into the conv before it, for inference (eval mode only)."
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


def fuse_method(pairs: list[tuple[str, str]]) -> list[str]:
    """The method's source, unindented (a graph without pairs gets none)."""
    if not pairs:
        return []
    return ["def fuse(self):",
            f'    """{FUSE_DOC}"""',
            "    if self.training:",
            f"        raise RuntimeError({literal(FUSE_ERROR)})",
            "    for conv, norm in (",
            *(f"        ({literal(c)}, {literal(b)})," for c, b in pairs),
            "    ):",
            "        if isinstance(self.get_submodule(norm), nn.BatchNorm2d):",
            "            fused = nn.utils.fusion.fuse_conv_bn_eval(",
            "                self.get_submodule(conv), self.get_submodule(norm)",
            "            )",
            "            self.set_submodule(conv, fused)",
            "            self.set_submodule(norm, nn.Identity())",
            "    return self"]
