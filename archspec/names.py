"""Spec text on its way out: the one validator for identifiers and the one cleaner for free text.

Every name a spec gives (node, block, parameter, let, output, spec name) reaches
generated Python, diagram ids and file names, so each passes `check_name`: a
full match of a conservative ASCII pattern, and not a Python keyword, a builtin,
a name the generated code itself uses, or an `nn.Module` attribute. Free text
(titles, papers, docs) reaches output only through `one_line`, which keeps it
printable and on one line; emit and render add their own quoting on top.
"""
from __future__ import annotations

import builtins
import keyword
import re

from .errors import SpecError, printable
from .limits import MAX_NAME

_IDENT = re.compile(rf"[A-Za-z][A-Za-z0-9_]{{0,{MAX_NAME - 1}}}")
_INDEX = re.compile(r"[0-9]{1,9}")
# a numbered child as torchvision's RegNet names it in its state_dict (block1-0): a node name only
_DASHED = re.compile(rf"(?=.{{1,{MAX_NAME}}}$)[A-Za-z][A-Za-z0-9_]*-[0-9]{{1,9}}")

# names the generated module and its classes use themselves
GENERATED = frozenset({"self", "torch", "nn", "F", "Model", "input", "inputs", "block_input"})
# public attributes of torch.nn.Module (tests/test_safety.py checks this against torch itself),
# and the ones the compiled top-level class adds
MODULE_ATTRS = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile",
    "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer",
    "get_extra_state", "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia",
    "named_buffers", "named_children", "named_modules", "named_parameters", "parameters",
    "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_", "set_extra_state",
    "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad", "init_weights", "fuse", "fuse_pairs", "input_shape", "output_names", "loss_weights"})
RESERVED = (frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
            | GENERATED | MODULE_ATTRS)


def name_problem(name, index_ok: bool = False) -> str | None:
    """Why `name` cannot be an identifier in a spec, or None if it can."""
    if not isinstance(name, str):
        return f"a name must be text, got {type(name).__name__}"
    if index_ok and (_INDEX.fullmatch(name) or _DASHED.fullmatch(name)):
        return None
    if not _IDENT.fullmatch(name):
        if len(name) > MAX_NAME:
            return f"a name has at most {MAX_NAME} characters"
        return "a name starts with an ASCII letter and has only letters, digits and _"
    if name in RESERVED:
        return f"'{name}' is reserved (a Python keyword or builtin, or a name the compiled module uses)"
    return None


def check_name(name, what: str) -> None:
    """Raise a SpecError (to be located by the caller) if `name` cannot be a `what` name."""
    problem = name_problem(name)
    if problem:
        raise SpecError(f"{what} name {shown(name)} is not allowed: {problem}",
                        hint="rename it, e.g. conv1, layer2, aux_head")


def one_line(text, limit: int = 200) -> str:
    """Free text made printable, on one line, at most `limit` characters."""
    s = " ".join(printable(str(text)).split())
    return s if len(s) <= limit else s[:limit - 1] + "…"


def shown(value, limit: int = 60) -> str:
    """A value as an error message quotes it: its repr, cut short (a file read by mistake is
    never echoed whole)."""
    if value is None:
        return "nothing (an empty value)"
    r = repr(value)
    return r if len(r) <= limit else r[:limit - 3] + "..."


def file_stem(name: str) -> str:
    """A spec name as a file name in the current folder: word characters only, never a path."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", name)[:MAX_NAME].strip("_")
    return stem or "model"


# Markdown's and HTML's active characters in text: a backslash, code, emphasis and strikethrough marks,
# link brackets, tags, table cells' `|`, an `&` that would start an entity, and `_` where it can
# start or end emphasis (not within a word: vgg16_bn stays as it is).
_MD_ACTIVE = re.compile(r"[\\`*~\[\]|]|[<>]|&(?=#?\w+;)|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_MD_ENTITY = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def md_text(text: str) -> str:
    """Text shown as itself in a Markdown table cell (one line; no markup, links or HTML)."""
    return _MD_ACTIVE.sub(lambda m: _MD_ENTITY.get(m[0], "\\" + m[0]), one_line(text, 10_000))
