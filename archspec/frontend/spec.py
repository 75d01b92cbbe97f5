"""Loading spec files: the document schema, `extends`, `use` (block libraries)
and `--set` overrides. The result is a `Spec`: the merged raw tree (values
still carrying their YAML locations) plus the block table and global params."""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import Diagnostics, FollowsError, Loc, SpecError, SpecErrors, did_you_mean
from ..limits import MAX_FILE_CHAIN
from ..names import check_name, file_stem, one_line, shown
from .expr import names_read, resolve, whole_expr
from .gcpause import gc_paused
from .recipe import check_train, merge_train, set_train
from .yamlpos import YDict, YList, load_file, load_text, loc_of, number_problem, overlay

# -- the document schema (structure only; nodes are read by expand.py) ---------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class Reference(_Strict):
    """Published figures the tests check (eval mode), with where they come from."""
    source: str
    peer: str | None = None                   # the implementation mirrored: its params, MACs, state_dict
    params: int | None = None
    macs: int | None = None
    buffers: int | None = None
    params_millions: float | None = None      # a paper's rounded figure, equal at its precision
    layers: dict[str, int] | None = None      # params of named nodes


TABLE_VALUES = ("type", "window", "output", "depth", "params", "macs", "name", "layers", "stack")


class TableColumn(_Strict):
    """One column of a paper's table: a built-in value (TABLE_VALUES) or NODE.ATTR, the attribute
    of a node under the row (`branch2.0.conv.out`); counts in `unit`s of `base` (K = 1024 in
    GoogLeNet's params column)."""
    title: str
    value: str
    unit: Literal["K", "M", "G"] | None = None
    base: Literal[1000, 1024] = 1000
    decimals: Annotated[int, Field(ge=0, le=6)] | None = None    # default: 2 significant digits below 10


class TableRow(_Strict):
    """A row: the nodes it spans (default: the node or block named by the row), the paper's own
    wording for some cells (`text:`), and values other than the column's (`values:`)."""
    nodes: list[str] | None = Field(default=None, min_length=1)     # an empty span would vanish unseen
    text: dict[str, str] = Field(default_factory=dict)
    values: dict[str, str] = Field(default_factory=dict)


class TableDef(_Strict):
    """`table:`, the layout of the paper's table, which `summary --format paper` prints. With
    `configurations:` (title -> parameter values), each one adds a column showing `cell` for the
    network those values make (VGG's A-E, ResNet's depths side by side); `rows: segments` cuts
    each network's layers into the paper's rows (a run of convolutions, each pooling, each linear)."""
    title: str
    source: str | None = None
    columns: list[TableColumn] = Field(default_factory=list)
    configurations: dict[str, dict[str, Any]] = Field(default_factory=dict)
    cell: str = "layers"
    totals: list[TableColumn] = Field(default_factory=list)      # rows under the table: whole-network figures
    rows: Union[Literal["segments"], Annotated[list[Union[str, dict[str, TableRow]]], Field(min_length=1)]]


class Constraint(_Strict):
    """What a spec's parameters must satisfy, as its paper states it: `check` is an expression
    over the params (bare, or as ${...}), `message` what the user is told when it is false."""
    check: str
    message: str


class OutputDef(_Strict):
    node: str
    train_only: bool = False
    loss_weight: float | None = None


class BlockDef(_Strict):
    """A parameterised subgraph: named `nodes:` or a numbered `seq:` (nn.Sequential)."""
    doc: str | None = None
    params: Union[dict[str, Any], list[str]] = Field(default_factory=dict)
    let: dict[str, Any] = Field(default_factory=dict)
    inputs: Union[list[str], dict[str, Any], str, None] = None     # named tensor inputs (default: one,
    #                                  `input`), or an expression giving their names from the parameters
    when: Any = None           # the whole instance is dropped (passes its input) when false
    nodes: list[Any] | None = None
    seq: list[Any] | None = None
    output: str | None = None
    outputs: Union[list[str], str, None] = None    # several outputs, in order (the module returns a tuple),
    #                                  or an expression giving their names from the parameters
    constraints: list[Constraint] = Field(default_factory=list)     # checked at each instance


INIT_METHODS = ("default", "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform",
                "normal", "trunc_normal")


class InitRule(_Strict):
    """How the tensors of one op's modules start: a torch.nn.init method or a constant."""
    weight: Union[float, str] = "default"
    bias: Union[float, str] = "default"
    mode: Literal["fan_in", "fan_out"] = "fan_in"          # kaiming_*
    nonlinearity: Literal["relu", "leaky_relu", "tanh", "sigmoid", "linear"] = "leaky_relu"   # kaiming_*
    a: float = 0.0                                          # kaiming_*: the negative slope
    gain: float = 1.0                                       # xavier_*
    mean: float = 0.0                                       # normal, trunc_normal (cut at +-2)
    std: Annotated[float, Field(ge=0.0)] = 1.0

    @field_validator("weight", "bias")
    @classmethod
    def _method(cls, v, info):
        allowed = INIT_METHODS if info.field_name == "weight" else ("default",)
        if isinstance(v, str) and v not in allowed:
            raise ValueError(f"unknown init {info.field_name} {v!r}; use a number or one of {', '.join(allowed)}")
        return v


class InitDef(BaseModel):
    """`init:`, initialisation beyond PyTorch's defaults (archspec/pytorch/emit/init.py writes it out):
    op name -> InitRule, applied to every module of that op; `zero:` name patterns
    (fnmatch, e.g. layer*.*.bn3) of nodes whose weight starts at zero."""
    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)
    __pydantic_extra__: dict[str, InitRule] = Field(init=False)
    zero: list[str] = Field(default_factory=list)

    @property
    def rules(self) -> dict[str, InitRule]:
        return dict(self.__pydantic_extra__ or {})


class SpecDoc(_Strict):
    archspec: Literal[1]
    name: str | None = None
    title: str | None = None
    paper: str | None = None
    doc: str | None = None
    reference: Reference | None = None
    extends: str | None = None
    use: Union[str, list[str]] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    let: dict[str, Any] = Field(default_factory=dict)     # names computed from params, in order (not --set)
    input: list[int] | None = None
    nodes: list[Any] | None = None
    outputs: dict[str, Union[str, OutputDef]] | None = None
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    init: InitDef | None = None
    change: dict[str, dict[str, Any]] = Field(default_factory=dict)   # top-level node name -> keys to set
    constraints: list[Constraint] = Field(default_factory=list)       # a variant adds to its base's
    requires_ops: dict[str, str] = Field(default_factory=dict)        # op name -> the --ops file that defines it
    table: TableDef | None = None                                     # the paper's table (summary --format paper)
    train: Any = None                       # the paper's training recipe, checked by recipe.check_train


TYPE_NAMES = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "any": object,
              "pair": (int, list)}   # pair: one int or [h, w]


def type_problem(decl: Any, value: Any) -> str | None:
    """Why `value` does not fit a parameter declared as `decl` (a type name, or a default that
    types it: an int default also takes [h, w]; an expression default takes anything), or None."""
    if isinstance(decl, str) and decl in TYPE_NAMES:
        tname = decl
    elif isinstance(decl, str) and "${" in decl:
        tname = "any"
    else:
        tname = "pair" if type(decl) is int else type(decl).__name__
    want: Any = TYPE_NAMES.get(tname, object)
    ok = want is bool if isinstance(value, bool) else isinstance(value, want)
    if ok or want is object:
        return None
    what = "int (or [h, w])" if tname == "pair" else tname
    return f"expects {what}, got {type(value).__name__} {shown(value)}"


# the keys whose `${...}` set a block's structure, not a number of a node: which nodes it has and
# how often, what they read, what they are called, and its parameters' defaults
_STRUCTURE = frozenset({"in", "when", "else", "repeat", "carry", "index", "name", "args", "output", "params"})


@dataclass
class Block:
    name: str
    raw: YDict                 # the block's own mapping, locations kept
    params: dict[str, Any]     # name -> default value, or a type name for required ones
    loc: Loc
    key_loc: Loc               # where its name is written

    @cached_property
    def let_reads(self) -> dict[str, frozenset[str]]:
        """Per `let:` value, the names it reads, through the other `let:` values it reads."""
        lets = self.raw.get("let") or {}
        return {k: frozenset(_through(_reads_under(v, True), lets)) for k, v in lets.items()}

    @cached_property
    def structure_reads(self) -> frozenset[str]:
        """The names its structure reads (Res2Net's `repeat: ${scale - 1}`), through its `let:`
        values: a class written from the block cannot take them as numbers it may vary."""
        return frozenset(_through(_reads_under(self.raw, False), self.raw.get("let") or {}))

    @cached_property
    def guard_reads(self) -> frozenset[str]:
        """The names its own `when:` reads and the rest of its structure does not (SE's
        `reduction`): a caller that tests the `when:` itself may pass them as it likes."""
        rest = {k: v for k, v in self.raw.items() if k != "when"}
        return self.structure_reads - _through(_reads_under(rest, False), self.raw.get("let") or {})

    @cached_property
    def node_whens(self) -> dict[str, str]:
        """Its own named op, block and seq nodes whose `when:` is one whole `${...}` that reads only
        its parameters and its input (the dense layer's `norm1: {op: batchnorm, when: ${bn_size >
        0}}`, DLA's `project: {seq: [...], when: ${input.channels != out}}`), name -> that
        expression: what a class written from the block may build under the same test (the class's
        `guard.let_test` takes of the input its width alone)."""
        out = {}
        for entry in self.raw.get("nodes") or []:
            if not (isinstance(entry, dict) and len(entry) == 1):
                continue
            (name, body), = entry.items()
            if not (isinstance(body, dict) and ("op" in body or "use" in body or "seq" in body)):
                continue
            text = whole_expr(body.get("when"))
            if text is not None and names_read(body["when"]) <= {*self.params, "input"}:
                out[str(name)] = text
        return out

    @cached_property
    def reads_apart(self) -> dict[str, frozenset[str]]:
        """Per `let:` value, the names its structure reads but where an expression reads that
        value alone (WRN's `when: ${project}` and `in: ${'shortcut' if project else 'input'}`): a
        class that builds the child under the value's own test decides those itself."""
        lets = self.raw.get("let") or {}
        return {k: frozenset(_through(_reads_under(self.raw, False, k), lets)) for k in lets}


def _through(names: set[str], lets: dict) -> set[str]:
    """`names` and what the `let:` values among them read, and so on."""
    todo = [n for n in names if n in lets]
    while todo:
        more = _reads_under(lets[todo.pop()], True) - names
        names |= more
        todo += [n for n in more if n in lets]
    return names


def structure_reads(raw: YDict) -> frozenset[str]:
    """The names a spec's top-level structure reads (`repeat:` counts, `when:`, `in:`) and its
    `params:` (one parameter set from another): a top class cannot take them as numbers to vary."""
    return nodes_structure_reads(raw) | _reads_under(raw.get("params") or {}, True)


def nodes_structure_reads(raw: YDict) -> frozenset[str]:
    """The names a spec's top-level structure reads, not its `params:`: where the top class computes
    a parameter set from others as the spec does (`units = 3 * n`), only these hold what it reads."""
    return frozenset(_reads_under(raw.get("nodes") or [], False))


def let_reads(raw: YDict) -> dict[str, tuple[str, ...]]:
    """Per `let:` value of a spec's top level, the names it reads, through the `let:` values
    before it (DPN's `widths` reads `small`)."""
    lets = raw.get("let") or {}
    return {k: tuple(sorted(_through(_reads_under(v, True), lets))) for k, v in lets.items()}


def _reads_under(raw: Any, under: bool, apart: str | None = None) -> set[str]:
    """The names the `${...}` under a structure key of `raw` read (all of them where `under`), but
    those of a text that reads the name `apart` alone."""
    if isinstance(raw, dict):
        return set().union(*(_reads_under(v, under or k in _STRUCTURE, apart) for k, v in raw.items()))
    if isinstance(raw, list):
        return set().union(*(_reads_under(v, under, apart) for v in raw))
    names = names_read(raw) if under and isinstance(raw, str) else set()
    return set() if apart is not None and names == {apart} else names


@dataclass
class Spec:
    """A loaded, merged spec: ready for expansion."""
    path: str
    raw: YDict
    doc: SpecDoc
    blocks: dict[str, Block]
    params: dict[str, Any]            # global params after extends, libraries and --set
    param_locs: dict[str, Loc] = field(default_factory=dict)
    overridden: bool = False          # --set or keyword params changed it: its `reference:` is not checked
    warnings: list = field(default_factory=list)   # found while loading (a replaced node list)
    files: list[str] = field(default_factory=list)  # the spec file, its bases and libraries, as read
    sets: list[str] = field(default_factory=list)   # the --set strings it was loaded with
    values: dict[str, Any] = field(default_factory=dict)    # and the keyword params (load(path, **values))
    constraints: list[YDict] = field(default_factory=list)  # its libraries', its bases' and its own
    variant_of: str | None = None     # an untitled variant: its titled base's title (the title says so)

    def diagnostics(self) -> Diagnostics:
        """Diagnostics for this network: a report its --set (or keyword) values may have caused
        says which they were (the base file's line it points at is not where they are given)."""
        values = [f"--set {one_line(s, 60)}" for s in self.sets]
        values += [f"{k}={one_line(_written(v), 60)}" for k, v in self.values.items()]
        given = {set_loc(s).file for s in self.sets} | {keyword_loc(k).file for k in self.values}
        return Diagnostics(context="with " + " ".join(values) if values else None, given=frozenset(given))

    @property
    def is_library(self) -> bool:
        return self.doc.nodes is None

    @property
    def name(self) -> str:
        return self.doc.name or file_stem(os.path.splitext(os.path.basename(self.path))[0])


def _pydantic_errors(e: ValidationError, raw: Any, diags: Diagnostics, what: str) -> None:
    for err in e.errors():
        node, loc, key = raw, getattr(raw, "loc", None), None
        for part in err["loc"]:
            if isinstance(node, YList) and isinstance(part, int) and part < len(node):
                loc, node = node.at(part), node[part]
            elif isinstance(node, YDict) and part in node:
                loc = node.key_at(part) if err["type"] == "extra_forbidden" else node.at(part)
                node = node[part]
            key = part
        diags.error(loc, _describe(err, key, what, list(SpecDoc.model_fields) if what == "spec" else None))


def _describe(err: Any, key: Any, what: str, choices: list[str] | None) -> str:
    t = err["type"]
    if t == "extra_forbidden":
        return f"unknown {what} key '{key}'" + (f"; {did_you_mean(key, choices)}" if choices and
                                                  did_you_mean(key, choices) else "")
    if t == "missing":
        return f"missing required {what} key '{key}'"
    if t == "literal_error" and key == "archspec":
        return f"unsupported archspec version {err.get('input')!r}; this archspec reads version 1"
    return f"{what} key '{key}': {err['msg'].lower()} (got {err.get('input')!r})"


def _check_doc(raw, diags: Diagnostics, file: str) -> SpecDoc | None:
    if not isinstance(raw, YDict):
        diags.error(loc_of(raw, Loc(file, 1, 1)), "a spec file must be a mapping with 'archspec: 1' at the top")
        return None
    try:
        return SpecDoc.model_validate(raw)
    except ValidationError as e:
        _pydantic_errors(e, raw, diags, "spec")
        return None


def _merge(base: YDict, child: YDict) -> YDict:
    """A variant: the child's keys replace the base's, except params, let, blocks, init and train,
    which merge name by name, and use and constraints, which add up. A `reference:` and a `table:`
    belong to the file that states them: a variant does not inherit its base's figures or layout."""
    out = YDict(child.loc, base, base.locs, base.key_locs)
    out.pop("reference", None)
    out.pop("table", None)
    if "train" in base and "train" not in child:      # a base's reported figures are its own
        out["train"] = merge_train(base["train"], None)
    for k, v in child.items():
        if k in ("params", "let", "blocks", "init"):
            v = overlay(base.get(k), v)
        elif k == "train":
            v = merge_train(base.get(k), v)
        elif k in ("use", "constraints"):
            a, b = _as_list(base, k), _as_list(child, k)
            v = YList(child.at(k), [*a, *b], a.locs + b.locs)
        out[k] = v
        out.locs[k] = child.at(k)
        out.key_locs[k] = child.key_at(k)
    out.pop("extends", None)
    return out


@dataclass
class Variant:
    """A variant without its own title: the titled base it comes from and what it changes
    (key -> how it reads in the title: `groups=8`, `conv1 (k=3, stride=1)`)."""
    title: Any
    paper: Any
    changes: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        """The base's title without its details (the default configuration it names)."""
        return re.split(r" \(|, ", one_line(self.title, 80))[0]

    def describe(self) -> str:
        return one_line(f"variant of {self.base}: {', '.join(self.changes.values())}", 160)


def _changes(own: YDict) -> dict[str, str]:
    """What a variant file changes, as its title reads it."""
    out = {f"param {k}": f"{k}={_written(v)}" for k, v in (own.get("params") or {}).items()}
    for name, keys in (own.get("change") or {}).items():
        items = keys.items() if isinstance(keys, dict) else ()
        out[f"node {name}"] = f"{name} ({', '.join(f'{k}={_written(v)}' for k, v in items)})"
    for key, what in (("nodes", "its own nodes"), ("input", f"input {_written(own.get('input'))}")):
        if key in own:
            out[key] = what
    out.update({f"block {b}": f"its own {b}" for b in (own.get("blocks") or {})})
    return out


def _variant_of(variant: Variant | None, raw: YDict) -> str | None:
    """The base a spec is called a variant of, when its title is the one made for it."""
    return variant.base if variant and raw.get("title") == variant.describe() else None


def _written(value: Any) -> str:
    """A value as YAML writes it (true, [2, 2]), one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(map(_written, value)) + "]"
    return one_line(value, 40)


class Loader:
    def __init__(self, diags: Diagnostics):
        self.diags = diags
        self.init: tuple | None = None     # the last library's `init:` (value, loc, key loc)
        self.files: list[str] = []         # every file read, in order (a checkpoint keeps their text)
        self.constraints: list = []        # the libraries' constraints on their params, in the order read
        self.cache: dict[str, YDict | None] = {}    # real path -> the file as read, extends resolved
        self.variants: dict[str, Variant] = {}      # real path -> what an untitled variant changes

    def read(self, path: str, shown: str, chain=(), loc: Loc | None = None) -> YDict | None:
        """One file with its `extends` resolved (relative to the file), libraries not yet;
        `loc`: where the file is named (for a cycle). Each real path is read once per load: 40
        libraries extending one base parse it once (callers copy before they change a tree)."""
        real = os.path.realpath(path)
        if real in chain:
            raise SpecError(f"'extends' cycle: {' -> '.join(os.path.basename(c) for c in chain + (real,))}",
                            loc=loc)
        if len(chain) >= MAX_FILE_CHAIN:
            raise SpecError(f"'extends' chain of more than {MAX_FILE_CHAIN} files", loc=loc,
                            hint="limits.MAX_FILE_CHAIN; a variant extends its base, rarely a chain of bases")
        if real not in self.cache:
            self.cache[real] = self._read(path, shown, chain + (real,))
        return self.cache[real]

    def _read(self, path: str, shown: str, chain: tuple) -> YDict | None:
        raw = load_file(path, shown)
        self.files.append(path)
        doc = _check_doc(raw, self.diags, shown)
        if doc is None:
            return None
        if doc.extends:
            base_path = os.path.join(os.path.dirname(path), doc.extends)
            _check_linked(doc.extends, base_path, "extends", raw.at("extends"))
            base = self.read(base_path, _shown(base_path), chain, raw.at("extends"))
            if base is None:
                return None
            if "nodes" in raw and "nodes" in base:
                self.diags.warning(raw.key_at("nodes"), f"nodes: replaces all {len(base['nodes'])} nodes of "
                                   f"{doc.extends}", hint="to change one node, write change: {NAME: {KEY: VALUE}}")
            own, raw = raw, _merge(base, raw)
            self._name_variant(raw, own, base, self.variants.get(os.path.realpath(base_path)), chain[-1])
        if doc.change:
            _change_nodes(raw, raw["change"])
        return raw

    def _name_variant(self, out: YDict, own: YDict, base: YDict, inherited: Variant | None, real: str) -> None:
        """A variant without its own `title:` is called a variant of its base, by what it changes
        (an untitled base's changes first), and its base's `paper:` is shown as the base's: a
        ResNeXt made from the CIFAR ResNet is not "CIFAR ResNet ... ResNet-20". A file that
        changes nothing of the network (a paper table of the base) keeps the base's title."""
        origin = inherited or Variant(base.get("title"), base.get("paper"))
        variant = Variant(origin.title, origin.paper, {**origin.changes, **_changes(own)})
        if not (variant.changes and isinstance(origin.title, str)):
            return
        if "paper" not in own and isinstance(origin.paper, str):
            out["paper"] = f"base {variant.base}: {origin.paper}"
        if "title" in own:          # titled: its own variants name it (and its base's paper, if it has none)
            if "paper" not in own:
                self.variants[real] = Variant(own["title"], origin.paper)
            return
        self.variants[real] = variant
        out["title"] = variant.describe()

    def name_set_variant(self, raw: YDict, path: str, changed: dict) -> None:
        """`--set` (or keyword) values that change the network make it a variant as a file would:
        `wrn28_10.yaml --set k=4` is not "Wide ResNet-28-10"."""
        real = os.path.realpath(path)
        origin = self.variants.get(real) or Variant(raw.get("title"), raw.get("paper"))
        if not (changed and isinstance(origin.title, str)):
            return
        variant = Variant(origin.title, origin.paper,
                          {**origin.changes, **{f"param {k}": f"{k}={_written(v)}" for k, v in changed.items()}})
        if isinstance(origin.paper, str) and real not in self.variants:
            raw["paper"] = f"base {variant.base}: {origin.paper}"
        self.variants[real] = variant
        raw["title"] = variant.describe()

    def libraries(self, raw: YDict, blocks: dict, params: dict, locs: dict, seen: set, depth: int = 0) -> None:
        """Collect blocks and default params from `use`d libraries, depth first."""
        uses = _as_list(raw, "use")
        for i, rel in enumerate(uses):
            loc = uses.at(i)   # a path is relative to the file that names it
            if depth >= MAX_FILE_CHAIN:
                raise SpecError(f"'use' chain of more than {MAX_FILE_CHAIN} libraries, each using the next",
                                loc=loc, hint="limits.MAX_FILE_CHAIN")
            owner_dir = os.path.dirname(loc.file)
            path = os.path.join(owner_dir, str(rel))
            try:
                _check_linked(rel, path, "use", loc)
            except SpecError as e:
                self.diags.error(loc, e.message, hint=e.hint or
                                 f"paths are relative to the file that names them ({owner_dir or '.'})")
                continue
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            lib = self.read(path, _shown(path))
            if lib is None:
                continue
            self.libraries(lib, blocks, params, locs, seen, depth + 1)
            self.blocks(lib, blocks)
            for k, v in (lib.get("params") or {}).items():
                params[k], locs[k] = v, lib["params"].at(k)
            if "let" in lib:           # never dropped silently: its blocks hold a family's derived values
                self.diags.error(lib.key_at("let"), "a library's top-level let: reaches no spec that uses it",
                                 hint="derive values in its blocks' let:, or in the spec's own let:")
            self.constraints += [c for c in _as_list(lib, "constraints") if c not in self.constraints]
            if "init" in lib:          # a family's initialisation (the network's rules go over it)
                self.init = (lib["init"], lib.at("init"), lib.key_at("init"))

    def blocks(self, raw: YDict, table: dict) -> None:
        from ..ops import REGISTRY
        for name, body in (raw.get("blocks") or {}).items():
            old = table.get(name)
            if old is not None and old.raw is body:     # the same block again, by a second library's base
                continue
            if name in REGISTRY:
                self.diags.error(raw["blocks"].key_at(name), f"block '{name}' has the name of an op",
                                 hint="rename the block")
                continue
            params = body.get("params") or {}
            if isinstance(params, list):   # positional list: every one required, any type
                params = {p: "any" for p in params}
            table[name] = Block(name, body, dict(params), raw["blocks"].at(name), raw["blocks"].key_at(name))


def _check_numbers(value, loc: Loc) -> None:
    """A value given from Python (not read from YAML) meets the same rules: finite, bounded ints."""
    for v in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(v, (list, tuple)):
            _check_numbers(v, loc)
        elif number_problem(v):
            raise SpecError(f"{shown(v)}: {number_problem(v)}", loc=loc)


def _change_nodes(raw: YDict, change: YDict) -> None:
    """`change:` sets keys of top-level nodes by name (a variant's one different node or stage)."""
    nodes = raw.get("nodes")
    if not isinstance(nodes, YList):
        raise SpecError("change: needs the node list it changes (this spec, or the one it extends, has none)",
                        loc=raw.key_at("change"))
    nodes = raw["nodes"] = YList(nodes.loc, nodes, nodes.locs)    # a copy: the base's list is shared
    named = {}
    for k, item in enumerate(nodes):
        if isinstance(item, YDict) and len(item) == 1 and isinstance(next(iter(item)), str):
            named[next(iter(item))] = k
    for name, keys in change.items():
        if name not in named:
            raise SpecError(f"change: no top-level node '{name}'", loc=change.key_at(name),
                            hint=did_you_mean(name, named) or f"top-level nodes: {', '.join(list(named)[:20])}")
        item = nodes[named[name]]
        body = item[name]
        if isinstance(body, str):           # `name: op-or-block` written short
            from ..ops import REGISTRY
            kind = "op" if body in REGISTRY else "use"
            body = YDict(item.at(name), {kind: body}, {kind: item.at(name)})
        if not isinstance(body, YDict):
            raise SpecError(f"change: node '{name}' is a group; change its blocks' parameters instead",
                            loc=change.key_at(name))
        body = overlay(body, keys)
        nodes[named[name]] = YDict(item.loc, {name: body}, {name: change.at(name)}, {name: item.key_at(name)})


def _check_linked(rel, path: str, key: str, loc: Loc) -> None:
    """`extends:` and `use:` name YAML files that exist (read_text then insists on a regular file)."""
    if not isinstance(rel, str) or not rel.endswith((".yaml", ".yml")):
        raise SpecError(f"'{key}' names a .yaml file, got {shown(rel)}", loc=loc)
    if not os.path.exists(path):
        what = "'extends' file" if key == "extends" else "block library"
        raise SpecError(f"{what} not found: {shown(rel)}", loc=loc)


def _check_names(raw: YDict, blocks: dict[str, Block], params: dict, locs: dict, diags: Diagnostics) -> None:
    """Every name a spec defines passes the one identifier validator (archspec/names.py)."""
    def check(name, what: str, loc: Loc) -> None:
        try:
            check_name(name, what)
        except SpecError as e:
            diags.error(loc, e.message, hint=e.hint)
    if raw.get("name") is not None:
        check(raw["name"], "spec", raw.at("name"))
    for k in params:
        check(k, "parameter", locs.get(k, raw.loc))
    let = raw.get("let")
    lets: YDict = let if isinstance(let, YDict) else YDict(raw.loc)
    for k in lets:
        check(k, "let", lets.key_at(k))
        if k in params:
            diags.error(lets.key_at(k), f"let '{k}' has the name of a parameter",
                        hint="a let is computed from the parameters: give it a name of its own")
    for b in blocks.values():
        check(b.name, "block", b.key_loc)
        for part in ("params", "let", "inputs"):
            table = b.raw.get(part)
            for k in table if isinstance(table, (dict, list)) else ():
                check(k, {"params": "block parameter", "let": "let", "inputs": "block input"}[part],
                      _key_loc(table, k))
    outputs = raw.get("outputs")
    if isinstance(outputs, YDict):
        for k in outputs:
            check(k, "output", outputs.key_at(k))


def check_unused(spec: Spec, diags: Diagnostics) -> None:
    """A parameter that this file or --set gives and that no expression reads is a mistake
    (`group: 32` for `groups`): an error. (A base's or library's knob may go unread here.)
    Checked once the spec expands without errors: a misspelt read is the root cause to report."""
    raw, blocks, params, locs, top = spec.raw, spec.blocks, spec.params, spec.param_locs, _shown(spec.path)
    rules = [*spec.constraints, *(c for b in blocks.values() for c in _as_list(b.raw, "constraints"))]
    read = expression_names([raw, *(b.raw for b in blocks.values()), *params.values(),
                             *(constraint_expr(c) for c in rules if isinstance(c, YDict))])
    for name in params:
        file = locs[name].file if name in locs else top
        if name not in read and (file == top or not file.endswith((".yaml", ".yml"))):
            diags.error(locs.get(name, raw.loc), f"parameter '{name}' is never used: no expression reads it",
                        hint=did_you_mean(name, sorted(read & _knobs(params, blocks) - {name})) or
                        "remove it, or read it in an expression: ${" + name + "}")
    let = raw.get("let") or YDict(raw.loc)
    for name in let:
        if name not in read and let.at(name).file == top:     # this file's own let (a base's may go unread)
            diags.error(let.key_at(name), f"let '{name}' is never used: no expression reads it",
                        hint="remove it, or read it in an expression: ${" + name + "}")


def _knobs(params: dict, blocks: dict[str, Block]) -> set[str]:
    """The names a misspelt parameter may have meant: parameters, block parameters, let names."""
    names = set(params)
    for b in blocks.values():
        names |= set(b.params) | set(b.raw.get("let") or ())
    return names


def expression_names(values: list) -> set[str]:
    """Every name that some `${...}` in these values (nested lists and mappings too) reads."""
    names: set[str] = set()
    todo = list(values)
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
        elif isinstance(v, str) and "${" in v:
            names |= names_read(v)
    return names


def constraint_expr(c: YDict) -> str:
    """A constraint's check as an expression: written bare or as ${...}."""
    check = str(c.get("check", ""))
    return check if "${" in check else "${" + check + "}"


def check_constraints(spec: Spec, values: dict, diags: Diagnostics) -> None:
    """Each constraint holds for the params' values (`values`: the params evaluated); a false one
    is an error where a value it reads is given: a --set, else the most derived file that sets one."""
    for c in spec.constraints:
        loc = c.at("check")
        if not str(c.get("check", "")).strip():
            diags.error(loc, "constraint: an empty check", hint="e.g. check: (depth - 4) % 6 == 0")
            continue
        try:
            holds = resolve(constraint_expr(c), values)
        except SpecError as e:
            diags.error(loc, f"constraint: {e.message}", hint=e.hint)
            continue
        if not isinstance(holds, bool):
            diags.error(loc, f"constraint: must be true or false, got {shown(holds)}")
        elif not holds:
            read = _by_where_given(spec, [n for n in spec.params if n in names_read(constraint_expr(c))])
            got = ", ".join(f"{n} = {_written(values.get(n))}" for n in read)
            diags.error(spec.param_locs.get(read[0], loc) if read else loc, f"{c.get('message')}, got {got}",
                        hint=f"the constraint {one_line(str(c['check']), 120)} ({loc}) is false")


def check_block_constraints(block: Block, env: dict, instance: YDict) -> None:
    """A block's constraints on its parameters' values (`env`), at one instance; a false one is
    a SpecError at the instance's argument it reads (the last written), else at the check."""
    for c in _as_list(block.raw, "constraints"):
        loc = c.at("check")
        try:
            holds = resolve(constraint_expr(c), env)
        except SpecError as e:      # an unknown input shape (an earlier error) stays that error's echo
            kind = FollowsError if isinstance(e, FollowsError) else SpecError
            raise kind(f"constraint of block '{block.name}': {e.message}", hint=e.hint, loc=loc) from None
        if not isinstance(holds, bool):
            raise SpecError(f"constraint of block '{block.name}': must be true or false, got {shown(holds)}",
                            loc=loc)
        if not holds:
            names = names_read(constraint_expr(c))
            given = [k for k in reversed(instance) if k in names and k in block.params]
            read = given + [p for p in block.params if p in names and p not in given]
            got = ", ".join(f"{n} = {_written(env.get(n))}" for n in read)
            raise SpecError(f"{c.get('message')}, got {got}", loc=instance.at(given[0]) if given else loc,
                            hint=f"block '{block.name}' requires {one_line(str(c.get('check')), 120)} ({loc})")


def _by_where_given(spec: Spec, names: list[str]) -> list[str]:
    """`names` in the order a user looks for them: set by --set or keyword first, then by the file
    nearest the spec's own (the spec, its bases, then its libraries, in the order read)."""
    order = [_shown(f) for f in spec.files]

    def rank(name: str) -> int:
        file = spec.param_locs[name].file if name in spec.param_locs else ""
        return order.index(file) if file in order else -1 if not file.endswith((".yaml", ".yml")) else len(order)
    return sorted(names, key=rank)


def _key_loc(table, key) -> Loc:
    if isinstance(table, YDict):
        return table.key_at(key)
    return table.at(table.index(key)) if isinstance(table, YList) else Loc("?")


def _check_required_ops(raw: YDict, doc: SpecDoc, diags: Diagnostics) -> None:
    """`requires_ops:` names the user ops a spec needs and the file of each. archspec never loads
    code by itself: a missing one is an error that says which --ops to pass."""
    from ..ops import REGISTRY
    table = raw.get("requires_ops")
    for op, file in doc.requires_ops.items():
        if op not in REGISTRY and isinstance(table, YDict):
            where = table.at(op).file
            path = _shown(os.path.join(os.path.dirname(where), file)) if where.endswith((".yaml", ".yml")) else file
            diags.error(table.key_at(op), f"this spec needs op '{op}' from {file}: pass --ops {path}",
                        hint="user ops are Python code; archspec runs it only when you pass --ops")


def _check_init(raw: YDict, doc: SpecDoc, diags: Diagnostics) -> None:
    """Every `init:` rule names an op with weights (one whose definition lists init_modules)."""
    from ..ops import REGISTRY
    for op in (doc.init.rules if doc.init else {}):
        if not getattr(REGISTRY.get(op), "init_modules", ()):
            able = sorted(k for k, v in REGISTRY.items() if v.init_modules)
            diags.error(raw["init"].key_at(op), f"init: '{op}' is not an op with weights",
                        hint=did_you_mean(op, able) or f"init rules apply to: {', '.join(able)}")


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def set_loc(s: str) -> Loc:
    """Where a `--set key=value` is given: errors at it name it."""
    return Loc(f"--set {one_line(s, 60)}")


def keyword_loc(key: str) -> Loc:
    """Where a keyword param (`load(path, depth=40)`) is given."""
    return Loc(f"{key}=")


def parse_overrides(sets: list[str]) -> list[tuple[str, Any, Loc]]:
    """`--set key=value` pairs; values are YAML (`--set layers=[2,2,2,2]`)."""
    out = []
    for s in sets:
        loc = set_loc(s)
        if "=" not in s:
            raise SpecError("expected key=value", loc=loc, hint="e.g. --set num_classes=10")
        key, text = s.split("=", 1)
        value = load_text(text, loc.file) if text.strip() else ""
        out.append((key.strip(), value, loc))
    return out


@gc_paused
def load_spec(path: str, sets: Sequence[str] = (), values: dict | None = None, library_ok: bool = False) -> Spec:
    """Load a spec file with its variants, libraries and overrides (`--set` strings, then
    `values` by keyword). A block library (no input, no nodes) is an error unless `library_ok`.
    Raises SpecErrors."""
    diags = Diagnostics()
    try:
        spec = _load(path, list(sets), values or {}, diags)
    except SpecError as e:
        diags.error(e.loc, e.message, hint=e.hint)
        raise SpecErrors(diags.errors) from None
    except SpecErrors as e:
        raise SpecErrors(diags.errors + [d for d in e.diagnostics if d not in diags.errors]) from None
    doc = spec.doc
    if (doc.nodes is None or doc.input is None) and not (library_ok and doc.nodes is None and doc.input is None):
        missing = "nodes" if doc.nodes is None else "input"
        diags.error(spec.raw.loc, f"'{path}' has no '{missing}': it is a block library, not a network",
                    hint="a network spec needs 'input: [C, H, W]' and 'nodes:'")
        diags.raise_if_errors()
    return spec


def _load(path: str, sets: list[str], values: dict, diags: Diagnostics) -> Spec:
    loader = Loader(diags)
    raw = loader.read(path, _shown(path))
    if raw is None:
        raise SpecErrors(diags.errors)
    blocks: dict[str, Block] = {}
    params: dict[str, Any] = {}
    locs: dict[str, Loc] = {}
    loader.libraries(raw, blocks, params, locs, {os.path.realpath(path)})
    loader.blocks(raw, blocks)
    if loader.init:         # the family's init, the network's own rules over it name by name
        lib_init, loc, key_loc = loader.init
        raw["init"] = overlay(lib_init, raw["init"]) if "init" in raw else lib_init
        if "init" not in raw.locs:
            raw.locs["init"], raw.key_locs["init"] = loc, key_loc
    own = raw.get("params") or YDict(raw.loc)
    for k, v in own.items():
        params[k], locs[k] = v, own.at(k)
    overrides = parse_overrides(sets) + [(k, v, keyword_loc(k)) for k, v in values.items()]
    before = {**params, "input": raw.get("input")}
    _override(raw, params, locs, overrides, diags)
    loader.name_set_variant(raw, path, {k: v for k, v, _ in overrides if k in before and before[k] != v})
    _check_names(raw, blocks, params, locs, diags)
    diags.raise_if_errors()
    try:
        doc = SpecDoc.model_validate(raw)
    except ValidationError as e:
        _pydantic_errors(e, raw, diags, "spec")
        raise SpecErrors(diags.errors) from None
    _check_init(raw, doc, diags)
    check_train(raw, diags)
    _check_required_ops(raw, doc, diags)
    diags.raise_if_errors()
    return Spec(path=path, raw=raw, doc=doc, blocks=blocks, params=params, param_locs=locs,
                overridden=any(not k.startswith("train.") for k, _, _ in overrides),    # a recipe keeps figures
                warnings=diags.warnings, files=loader.files, sets=list(sets),
                values=dict(values), constraints=[*loader.constraints, *_as_list(raw, "constraints")],
                variant_of=_variant_of(loader.variants.get(os.path.realpath(path)), raw))


def _override(raw: YDict, params: dict, locs: dict, overrides: list, diags: Diagnostics) -> None:
    """`--set` values and keyword params over the spec's: only parameters that exist, and `input`,
    each of its parameter's type (spec parameters are typed by their defaults, like block ones)."""
    for key, value, loc in overrides:
        _check_numbers(value, loc)
        item = _ITEM.fullmatch(key)
        if key in ("input", "name"):        # the input shape; a variant's own name (its outputs carry it)
            raw[key], raw.locs[key] = value, loc
        elif key.startswith("train."):      # the recipe: checked with the section (recipe.check_train)
            set_train(raw, key[len("train."):], value, loc, diags)
        elif item and item[1] in params:
            _override_item(params, locs, item[1], item[2], value, loc, diags)
        elif key in (raw.get("let") or {}):
            diags.error(loc, f"'{key}' is a let, computed from the parameters: --set gives parameters",
                        hint=f"set the parameters it reads ({raw['let'].at(key)})")
        elif key not in params:
            diags.error(loc, f"unknown parameter {shown(key)}",
                        hint=did_you_mean(key, list(params) + ["input"]) or
                        f"this spec's parameters: {', '.join(sorted(params)) or 'none'}")
        elif type_problem(params[key], value):
            diags.error(loc, f"parameter '{key}' {type_problem(params[key], value)}",
                        hint=f"its default is {shown(params[key])} ({locs.get(key, '?')})")
        else:
            params[key], locs[key] = value, loc


_ITEM = re.compile(r"(\w+)\[(\d+)\]")      # --set layers[2]=23


def _override_item(params: dict, locs: dict, key: str, digits: str, value: Any, loc: Loc,
                   diags: Diagnostics) -> None:
    """`--set name[k]=v`: one item of a list parameter, of the type of the item it replaces."""
    old = params[key]
    index = int(digits) if len(digits) <= 18 else -1    # a longer index is past any list (and int() refuses 4,300+)
    if not isinstance(old, list) or not 0 <= index < len(old):
        diags.error(loc, f"parameter '{key}' has no item [{one_line(digits, 20)}]",
                    hint=f"it is {shown(old)}" + (f" ({len(old)} items, from 0)" if isinstance(old, list) else ""))
    elif type_problem(old[index], value):
        diags.error(loc, f"item [{index}] of parameter '{key}' {type_problem(old[index], value)}")
    else:
        params[key] = [*old[:index], value, *old[index + 1:]]
        locs[key] = loc


def _as_list(raw: YDict, key: str) -> YList:
    """A key that takes one value or a list, as a YList with each item's location."""
    v = raw.get(key)
    if isinstance(v, YList):
        return v
    return YList(raw.at(key), [v] if v else [], [raw.at(key)] if v else [])
