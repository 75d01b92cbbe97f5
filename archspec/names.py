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
from collections.abc import Iterable

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


def name_problem(name, index_ok: bool = False, generated: bool = False) -> str | None:
    """Why `name` cannot be an identifier in a spec, or None if it can. A `generated` one (made
    from spec names by joining or numbering them: `conv1_out_channels`, `Block2`) may be longer."""
    if not isinstance(name, str):
        return f"a name must be text, got {type(name).__name__}"
    if index_ok and (_INDEX.fullmatch(name) or _DASHED.fullmatch(name)):
        return None
    if generated and len(name) > MAX_NAME and _IDENT.fullmatch(name[:MAX_NAME]) and name.isidentifier():
        return None if name not in RESERVED else f"'{name}' is reserved"
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


class Namespace:
    """The identifiers of one scope of a generated file (the classes of the file, a constructor's
    parameters, a forward's locals), as torch.fx's _Namespace: every name it gives passes
    `name_problem` and is given once; a taken one is numbered, base_1, base_2 (or Base2, Base3).
    Names it did not choose (the spec's, the file's own: `Model`, `_probe`) are `reserved`.
    A local whose value died is `release`d and may be given again."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._used: set[str] = set(reserved)
        self._next: dict[tuple[str, str], int] = {}   # (base, sep) -> the first number that may be free

    def __contains__(self, name: object) -> bool:
        return name in self._used

    def usable(self, name: str) -> bool:
        """Free here, and an identifier the validator allows."""
        return name not in self._used and name_problem(name, generated=True) is None

    def take(self, name: str) -> str:
        """`name` given (again): a valid identifier, or one reserved before."""
        if name not in self._used:
            problem = name_problem(name, generated=True)
            if problem:
                raise ValueError(f"generated name {name!r}: {problem}")     # the emitter's mistake
            self._used.add(name)
        return name

    def first(self, *candidates: str) -> str | None:
        """The first usable candidate, given; None where none is."""
        name = next((c for c in candidates if self.usable(c)), None)
        return None if name is None else self.take(name)

    def fresh(self, base: str, sep: str = "_", start: int = 1) -> str:
        """base, else base{sep}{start}, base{sep}{start + 1}, ...: the first not given, looked for
        from where the last search for it stopped (lowered as names are released), so many names
        of one base cost one test each, not one per name before them."""
        k = self._next.get((base, sep), 0)
        name = base if k == 0 else f"{base}{sep}{start + k - 1}"
        while not self.usable(name):
            if name not in self._used:      # unusable, not taken: the base itself is no identifier
                self.take(name)
            k += 1
            name = f"{base}{sep}{start + k - 1}"
        self._next[(base, sep)] = k
        return self.take(name)

    def release(self, name: str) -> None:
        """The name holds nothing now: it, and the numbered names of a shorter base it may be
        (base_k), may be given again."""
        self._used.discard(name)
        numbered = _NUMBERED.fullmatch(name)
        for base, k in [(name, 0), *([(numbered[1], int(numbered[2]))] if numbered else [])]:
            if k < self._next.get((base, "_"), 0):
                self._next[(base, "_")] = k


_NUMBERED = re.compile(r"(.+)_([1-9][0-9]*)")         # a name numbered by `fresh`: base_k


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
