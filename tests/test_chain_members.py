"""One class for a block whose nn.Sequential child lacks members at some instances
(archspec/pytorch/emit/members.py): each instance builds exactly its own members, so its
state_dict keys are the graph's; the members are told apart by their spec entries, and a
member built otherwise at another instance keeps the classes apart."""
from __future__ import annotations

import re

import pytest
import torch
from source_check import check_generated_source

import archspec
from archspec.errors import Loc
from archspec.pytorch.compiler import check, source
from archspec.pytorch.emit.members import MISSING, StepLoop, chain_lines, fill, member_test, union
from archspec.pytorch.emit.scopes import Child, ScopeNode

UNIT = """archspec: 1
input: [4, 8, 8]
blocks:
  unit:
    params: {pre: false}
    nodes:
      - body:
          seq:
            - {op: conv, out: 8, k: 1, when: "${pre}"}
            - {op: conv, out: 4, k: 3, pad: 1%s}
            - relu
nodes:
  - a: {use: unit}
  - b: {use: unit, pre: true}
"""


def _classes(text: str) -> list[str]:
    return re.findall(r"^class (\w+)\(nn.Module\):", text, re.M)


def _same_keys(path: str, channels: int = 4) -> None:
    """The model's state_dict is the graph's, key for key and shape for shape."""
    model = archspec.compile(path)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {k: tuple(v) for k, v in archspec.analyze(path).state_dict_shapes().items()}
    assert model(torch.zeros(1, 4, 8, 8)).shape == (1, channels, 8, 8)


def test_a_member_under_the_blocks_boolean_is_one_class(spec_file):
    path = spec_file(UNIT % "")
    text = source(path)
    assert _classes(text) == ["Unit", "Net"]
    assert "        if pre:\n            layers.append(nn.Conv2d(4, 8, 1))\n" in text
    assert "self.body = nn.Sequential(*layers)" in text and "self.b = Unit(8, pre=True)" in text
    check_generated_source(text)
    assert check(path).ok
    _same_keys(path)


def test_a_member_nothing_names_runs_under_a_flag_of_its_own(spec_file):
    """No parameter of the block says where the member is (its input's width does): a flag the
    class takes, named after the child and member."""
    path = spec_file("archspec: 1\ninput: [4, 8, 8]\nblocks:\n  unit:\n    nodes:\n      - body:\n"
                     "          seq:\n            - {op: conv, out: 4, k: 1, when: '${input.channels == 4}'}\n"
                     "            - {op: conv, out: 4, k: 3, pad: 1}\n"
                     "nodes:\n  - a: {op: conv, out: 6, k: 1}\n  - b: {use: unit}\n"
                     "  - c: {op: conv, out: 4, k: 1}\n  - d: {use: unit}\n")
    text = source(path)
    assert _classes(text) == ["Unit", "Net"]
    assert "        if with_body_0:\n" in text and "self.d = Unit(4, with_body_0=True)" in text
    check_generated_source(text)
    _same_keys(path)


def test_a_member_built_otherwise_elsewhere_keeps_the_classes_apart(spec_file):
    """The 3x3 conv has a bias at one instance and none at the other: one class cannot build
    both from one line, so each structure keeps its own."""
    path = spec_file(UNIT % ", bias: '${not pre}'")
    assert len(_classes(source(path))) == 3
    _same_keys(path)


STEPS = """archspec: 1
input: [4, 8, 8]
blocks:
  unit:
    params: {reps: int, first: true}
    nodes:
      - body:
          seq:
            - repeat: ${reps}
              node:
                - {op: relu, when: "${i > 0 or first}"}
                - {op: conv, out: 4, k: 3, pad: 1}
nodes:
  - a: {use: unit, reps: 2, first: false}
  - b: {use: unit, reps: 2}
  - c: {use: unit, reps: %d}
"""


def test_a_repeats_members_are_told_apart_by_their_step(spec_file):
    """Timm's Xception Block: the ReLU of step 1 is one member at every instance, also where
    that of step 0 is left out (`start_with_relu`), and the class's default is the block's."""
    path = spec_file(STEPS % 2)
    text = source(path)
    assert _classes(text) == ["Unit", "Net"]
    assert "def __init__(self, first=True):" in text
    assert "        if first:\n            layers.append(nn.ReLU(inplace=True))\n" in text
    assert "self.a = Unit(first=False)" in text and "self.b = Unit()" in text
    check_generated_source(text)
    _same_keys(path)


PROJECTED = """archspec: 1
name: net
input: [4, 8, 8]
blocks:
  unit:
    params: {out: int, stride: 1, pre: false}
    let: {project: "${stride != 1 or input.channels != out}"}
    nodes:
      - skip: {op: conv, out: "${out}", k: 1, stride: "${stride}", bias: false, when: "${project}"}
      - body:
          in: input
          seq:
            - {op: relu, when: "${pre}"}
            - {op: conv, out: "${out}", k: 3, pad: 1, stride: "${stride}", bias: false}
            - batchnorm
      - {op: add, in: [body, skip]}
nodes:
  - a: {use: unit, out: 8, stride: 2}
  - b: {use: unit, out: 8, pre: true}
  - c: {use: unit, out: 16, stride: 2, pre: true}
"""


def test_a_class_with_members_some_lack_builds_its_projection_under_the_blocks_let(spec_file):
    """Timm's Xception Block: the skip built inside under `project` (`ctorparams._build_tested`),
    also in a class whose chain lacks members at some instances (the ReLU under `pre`), not
    passed by its callers; its stride, 2 wherever it is built, written `stride` as the spec does
    (at stride 1 with another width it is 1). Equal state_dicts and outputs to the spec's."""
    path = spec_file(PROJECTED)
    text = source(path)
    assert _classes(text) == ["Unit", "Net"]
    assert ("        self.skip = (\n            nn.Conv2d(in_channels, out, 1, stride=stride, bias=False)\n"
            "            if stride != 1 or in_channels != out\n            else None\n        )\n") in text
    assert "        if pre:\n            layers.append(nn.ReLU())\n" in text
    assert "self.a = Unit(4, 8, stride=2)" in text and "self.c = Unit(8, 16, stride=2, pre=True)" in text
    check_generated_source(text)
    assert check(path).ok
    namespace: dict = {}
    exec(compile(text, "net.py", "exec"), namespace)
    unit = namespace["Unit"](8, 16, pre=True)           # a projection at stride 1: the spec's stride
    assert unit.skip is not None and unit.skip.stride == (1, 1)
    assert namespace["Unit"](8, 8).skip is None
    torch.manual_seed(0)
    ours = namespace["Model"]().eval()
    spec = archspec.compile(path).eval()
    spec.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), spec(x))


PASSED_IN = """archspec: 1
input: [4, 8, 8]
blocks:
  unit:
    params: {out: int, stride: 1}
    nodes:
      - conv: {op: conv, out: "${out}", k: 3, stride: "${stride}", pad: 1}
      - short: {in: input, use: down, out: "${out}", stride: "${stride}"}
      - {op: add, in: [conv, short]}
  down:
    params: {out: int, stride: 1}
    when: ${stride != 1 or input.channels != out}
    seq:
      - {op: avgpool, k: 2, stride: "${stride}", when: "${stride > 1}"}
      - {op: identity, when: "${stride == 1}"}
      - {op: conv, out: "${out}", k: 1}
nodes:
  - a: {use: unit, out: 8}
  - b: {use: unit, out: 8}
  - c: {use: unit, out: 16, stride: 2}
"""


def test_the_members_of_a_child_its_callers_pass_in_are_none_of_the_class(spec_file):
    """ResNeSt's avg-down shortcut at two blocks a stage: an optional child (`short=None`) whose
    members differ between the instances that have it (its pool, or an identity in its place) is
    built by the caller, which passes it in: the class takes no flag for those members
    (`with_short_0`, which nothing would read), and its numbers are none of the class's."""
    path = spec_file(PASSED_IN)
    text = source(path)
    assert _classes(text) == ["Unit", "Net"]
    assert "    def __init__(self, in_channels, out, stride=1, short=None):\n" in text
    assert "with_" not in text and "self.b = Unit(8, 8)" in text
    assert "self.a = Unit(\n            4,\n            8,\n            short=nn.Sequential(" in text
    check_generated_source(text)
    assert check(path).ok
    model = archspec.compile(path)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == archspec.analyze(path).state_dict_shapes()
    assert model(torch.zeros(1, 4, 8, 8)).shape == (1, 16, 4, 4)


def test_a_shortcut_every_instance_has_is_built_by_the_class_member_by_member(spec_file):
    """The same blocks, each with its shortcut (as ResNeSt-14d's at one block a stage): the class
    builds it, its pool under `stride != 1`, the identity that keeps the pool's place (timm's)
    under `stride == 1`; each instance's state_dict keys its own (a.short.1, c.short.1)."""
    path = spec_file(PASSED_IN.replace("  - b: {use: unit, out: 8}\n", ""))
    text = source(path)
    assert _classes(text) == ["Unit", "Net"] and "short=" not in text
    assert [t for t in re.findall(r"^        if (.*):\n            layers.append\(", text, re.M)] == [
        "stride != 1", "stride == 1"]
    assert "        self.short = nn.Sequential(*layers)\n" in text
    check_generated_source(text)
    assert check(path).ok
    model = archspec.compile(path)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == archspec.analyze(path).state_dict_shapes()


def test_chains_of_another_count_of_steps_keep_their_classes(spec_file):
    """Chains of another count of steps whose repeat holds nodes alone, which record no count
    (`stepwidths.step_count`; and a conv's width no text of the index writes): no loop over the
    steps builds them (`reps != 2` would build three steps where reps is 4), so those classes
    stay apart."""
    path = spec_file(STEPS % 3)
    text = source(path)
    assert len(_classes(text)) == 3 and "reps" not in text
    _same_keys(path)


def _chain(*lines: int | None, keys: tuple = ()) -> Child:
    """An nn.Sequential child whose members come from the spec entries at `lines`."""
    members = [Child(str(k), [], [], node=None, subscope=ScopeNode(f"x.{k}", None)) for k in range(len(lines))]
    for m, line in zip(members, lines):
        m.sub.scope = None if line is None else type("S", (), {"loc": Loc("b.yaml", line, 3)})()
    sub = ScopeNode("x", None, children=members, sequential=True)
    return Child("body", [], [], subscope=sub)


def test_union_is_in_spec_order_and_refuses_what_it_cannot_tell_apart():
    key = {}.get            # every member built alike (no key)
    full, short = _chain(27, 28, 29), _chain(28, 29)
    got = union([short, full], key)
    assert got is not None and [i[2][1] for i, _ in got] == [27, 28, 29]
    assert union([_chain(28, 27), full], key) is None            # a chain out of its entries' order
    assert union([_chain(None, 28), full], key) is None          # a member without a location
    built = {id(m): k for k, m in enumerate(full.sub.children)}
    assert union([short, full], lambda m: built.get(id(m), "other")) is None     # built otherwise


def test_a_lacking_instances_numbers_and_tests():
    """A missing number takes the one value the others have (a kernel size), else the block
    parameter's that is the column where the member is; the test compares a block parameter,
    its declared default first."""
    cols = fill([(1, MISSING, 1), (16, MISSING, 24), (5, MISSING, 7)], [("t", (16, 32, 24))])
    assert cols == [(1, 1, 1), (16, 32, 24), (5, 5, 7)]
    there = (False, True, True, True)
    assert member_test(there, {"planes": (64, 128, 256, 512), "stride": (1, 2, 2, 2)}, {"stride": 1}) == (
        "stride", "stride != 1")
    lacking = tuple(not t for t in there)
    assert member_test(lacking, {"stride": (1, 2, 2, 2)}, {"stride": 1}) == ("stride", "stride == 1")
    assert member_test((False, True), {"t": (1, 6)}, {}) == ("t", "t != 1")
    assert member_test((False, True, False), {"t": (1, 6, 6)}, {}) is None


def test_fuse_never_folds_a_batch_norm_into_another_pairs_place(spec_file):
    """At b, body.1 is a conv that body.2's batch norm folds into; at a, body.1 is a ReLU (the
    chain lacks b's second conv): the class lists no such pair, and fuse() keeps the outputs."""
    path = spec_file("archspec: 1\ninput: [4, 8, 8]\nblocks:\n  unit:\n    params: {p: false}\n    nodes:\n"
                     "      - body:\n          seq:\n            - {op: conv, out: 4, k: 1}\n"
                     "            - {op: conv, out: 4, k: 1, when: '${p}'}\n"
                     "            - {op: relu, when: '${not p}'}\n            - batchnorm\n"
                     "nodes:\n  - a: {use: unit}\n  - b: {use: unit, p: true}\n")
    text = source(path)
    assert _classes(text) == ["Unit", "Net"] and "fuse_pairs" not in text.split("class Net")[0]
    model = archspec.compile(path).eval()
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        before = model(x)
        assert torch.equal(model.fuse()(x), before)


# -- a repeat's steps as a loop in __init__ (timm's Xception Block) --------------------------

STEP_LOOP_FILE = '''import torch
from torch import nn


class Sepconv(nn.Module):
    def __init__(self, in_channels, out):
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False
        )
        self.pointwise = nn.Conv2d(in_channels, out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.pointwise(x)
        return x


class Rep(nn.Module):
    def __init__(self, in_channels, out, reps, stride=1, start_with_relu=True, grow_first=True):
        super().__init__()
%s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.rep(x)
        return x


Model = Rep
'''
STEP_IN = "in_channels if i == 0 else out if grow_first else in_channels"
STEP_OUT = "out if grow_first or i == reps - 1 else in_channels"


def _step_loop_text() -> str:
    """Xception's `rep` as chain_lines writes it with a StepLoop: the per-step members' numbers
    and tests as the class would write them from the step's index (given here as text)."""
    from archspec.ops.base import Call
    from archspec.pytorch.emit.classes import render_call
    members = [("nn.ReLU(inplace=i > 0)", []),
               (Call("Sepconv", (("in_channels", 64), ("out", 128))), [STEP_IN, STEP_OUT]),
               (Call("nn.BatchNorm2d", (("num_features", 128),)), [STEP_OUT]),
               (Call("nn.MaxPool2d", (("kernel_size", 3), ("stride", 2), ("padding", 1))), [None, "stride", None])]

    def render(m, indent, start, end):
        return m[0] if isinstance(m[0], str) else render_call(m[0], iter(m[1]), indent, start, end)
    lines = chain_lines("rep", "layers", members, {0: "i > 0 or start_with_relu", 3: "stride != 1"}, render,
                        StepLoop("i", "reps", 0, 3))
    return STEP_LOOP_FILE % "\n".join(lines)


def test_a_step_loop_builds_timms_xception_rep():
    """chain_lines with a StepLoop writes the members of a repeat's step once, in `for i in
    range(reps):`, the list made before it and the members after it appended after it: the class
    it writes passes the whitelist and, at each of Xception's block configurations, builds timm's
    Block's `rep`, key for key (timm's weights load strictly), with equal outputs."""
    from archspec.pytorch.compiler import load_source
    timm_xception = pytest.importorskip("timm.models.xception")
    text = _step_loop_text()
    assert ("        layers = []\n        for i in range(reps):\n            if i > 0 or start_with_relu:\n"
            "                layers.append(nn.ReLU(inplace=i > 0))\n            layers.extend(\n") in text
    assert "        if stride != 1:\n            layers.append(nn.MaxPool2d(3, stride, 1))\n" in text
    check_generated_source(text)
    rep = load_source(text, "step_loop").Rep
    torch.manual_seed(0)
    for args in [(64, 128, 2, 2, False, True), (128, 256, 2, 2, True, True), (728, 728, 3, 1, True, True),
                 (728, 1024, 2, 2, True, False), (8, 16, 4, 1, False, False)]:
        peer = timm_xception.Block(*args).rep.eval()
        for m in peer.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
        mine = rep(*args).eval()
        mine.rep.load_state_dict(peer.state_dict(), strict=True)
        x = torch.randn(1, args[0], 9, 9)
        with torch.no_grad():
            assert torch.equal(mine(x.clone()), peer(x.clone())), args


def test_a_step_loop_admits_only_appends_under_tests_of_the_index_and_the_class_names():
    """The step loop's count is a name of the class's, its index a fresh one, its body appends
    to a list made before it, under tests of comparisons of arithmetic; anything else is refused."""
    text = _step_loop_text()
    check_generated_source(text)
    head, test = "        for i in range(reps):\n", "            if i > 0 or start_with_relu:\n"
    for old, evil in [(head, "        for i in range(len(dir())):\n"), (head, "        for i in range(reps ** 9):\n"),
                      (head, "        for i in range(2, reps):\n"), (head, "        for i in range(layers):\n"),
                      (head, "        for i in range(nope):\n"), (head, "        for reps in range(reps):\n"),
                      (head, "        for out in range(reps):\n"), (head, "        for self in range(reps):\n"),
                      (head, "        for j in (1, 2):\n"), (head, "        for i in range(reps, step=1):\n"),
                      (test, "            if i.bit_length():\n"), (test, "            if layers:\n"),
                      (test, "            if i > len(dir()):\n"), (test, "            if i > 0 or self:\n"),
                      (test, "            if i > 0.5 or x:\n"), (test, "            if i > 0 or nope:\n"),
                      ("inplace=i > 0", "inplace=i.bit_length() > 0"), ("inplace=i > 0", "inplace=i > nope"),
                      ("inplace=i > 0", "inplace=i in layers"),
                      (test, "            if i > 0:\n                layers.pop()\n            if i > 0:\n"),
                      (test, "            self.x = i\n" + test), (test, "            hidden = 1\n" + test),
                      (test, "            layers.insert(0, nn.ReLU())\n" + test),
                      (test, "            other.append(nn.ReLU())\n" + test),
                      ("        layers = []\n", "        layers = []\n        other = []\n"
                                              "        for i in range(reps):\n            other.extend(layers)\n")]:
        mutant = text.replace(old, evil, 1)
        assert mutant != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)
    outside = text.replace("nn.MaxPool2d(3, stride, 1)", "nn.MaxPool2d(3, stride, 1, "
                           "ceil_mode=stride > 1)")
    with pytest.raises(AssertionError, match="whitelist"):
        check_generated_source(outside)          # a comparison as a keyword only inside a step loop


def _stepped(*members: tuple[int, int | None], repeat: int = 26) -> Child:
    """An nn.Sequential child whose members come from the spec entries at lines `members[k][0]`,
    made by step `members[k][1]` of the repeat at line `repeat` (None: outside it)."""
    children = [Child(str(k), [], [], node=None, subscope=ScopeNode(f"x.{k}", None)) for k in range(len(members))]
    for m, (line, step) in zip(children, members):
        at = None if step is None else (Loc("b.yaml", repeat, 15), step)
        m.sub.scope = type("S", (), {"loc": Loc("b.yaml", line, 19), "step": at})()
    return Child("rep", [], [], subscope=ScopeNode("x", None, children=children, sequential=True))


def test_xceptions_chains_are_one_repeats_steps():
    """Xception's `rep` at blocks of 2 and 3 steps, with and without step 0's ReLU, with and
    without the pool after: one step's members (ReLU, Sepconv, BatchNorm), the ReLU built otherwise
    at the first step (not in place: skip reads the block's input), under `i > 0 or
    start_with_relu`; the pool the one member outside, after the steps."""
    from archspec.pytorch.emit.classes import ClassPlanner
    from archspec.pytorch.emit.members import step_test, steps_of
    from archspec.pytorch.emit.scopes import ScopeTree
    tree = ScopeTree(archspec.analyze("specs/xception.yaml"))
    planner = ClassPlanner(tree, False)
    blocks = [c for c in tree.root.children if c.local in ("block1", "block2", "block4", "block12")]
    reps = [next(c for c in b.sub.children if c.local == "rep") for b in blocks]
    steps = steps_of(reps, planner.ctor_key)
    assert steps is not None and steps.counts == [2, 2, 3, 2] and steps.first == [True, False, False]
    assert [planner.ctor(m).fn for _, m in steps.template] == ["nn.ReLU", "Sepconv", "nn.BatchNorm2d"]
    assert [planner.ctor(m).fn for _, m in steps.outside] == ["nn.MaxPool2d"] and steps.before == 0
    flags = {p: tuple(b.sub.scope.args[p] for b in blocks) for p in ("grow_first", "start_with_relu")}
    tests = [step_test([[s[j] for s in chain] for chain in steps.there], flags, "i") for j in range(3)]
    assert tests == ["i > 0 or start_with_relu", "", ""]
    assert steps_of(reps[:1], planner.ctor_key) is not None and steps_of(reps[2:3], planner.ctor_key) is not None


def test_steps_are_refused_where_a_loop_would_not_build_each_chain():
    """Two repeats, a step missing or out of order, a member outside between steps, a step's
    members out of spec order, members built two ways at later steps: no loop builds them all
    (a member outside them comes before or after them as its spec entry does: `before`)."""
    from archspec.pytorch.emit.members import step_test, steps_of
    key = {}.get
    good = _stepped((27, 0), (28, 0), (27, 1), (28, 1), (30, None))
    assert steps_of([good, _stepped((28, 0), (27, 1), (28, 1), (27, 2), (28, 2))], key) is not None
    assert steps_of([good, _stepped((27, 0), (28, 0), repeat=40)], key) is None         # another repeat
    assert steps_of([_stepped((27, 0), (27, 0), (27, 1), (27, 1))], key) is not None   # an entry twice a step
    assert steps_of([_stepped((27, 0), (27, 2))], key) is None                          # step 1 missing
    assert steps_of([_stepped((27, 1), (27, 0))], key) is None                          # out of order
    assert steps_of([_stepped((27, 0), (30, None), (27, 1))], key) is None              # outside between
    assert steps_of([_stepped((28, 0), (27, 0))], key) is None                          # members out of order
    assert steps_of([_stepped((30, None))], key) is None                                # no repeat
    assert steps_of([_stepped((20, None), (27, 0)), _stepped((27, 0), (27, 1))], key).before == 1
    built = {}

    def twice(m: Child) -> object:          # the member of line 28 at steps 1 and 2 built two ways
        return built.setdefault(m.sub.path, len(built)) if m.sub.scope.loc.line == 28 and m.sub.scope.step[1] else 0
    assert steps_of([_stepped((27, 0), (28, 0), (27, 1), (28, 1), (27, 2), (28, 2))], twice) is None
    assert steps_of([_stepped((27, 0), (28, 0), (27, 1), (28, 1))], twice) is not None   # once: one way
    flags = {"flag": (True, False)}
    assert step_test([[True, True], [True, True, True]], flags, "i") == ""
    assert step_test([[False, True], [False, True, True]], flags, "i") == "i > 0"
    assert step_test([[False, True], [True, True, True]], flags, "i") == "i > 0 or not flag"
    assert step_test([[True, True], [False, False, False]], flags, "i") == "flag"
    assert step_test([[True, False], [True, True, True]], flags, "i") is None         # the last step lacks it


def test_a_steps_widths_are_written_from_its_index():
    """Xception's `rep` over its 12 blocks (2 and 3 steps, grow_first or not): each step's Sepconv
    and BatchNorm widths one text of the index (`stepwidths.step_widths`), the Sepconv's input the
    step before's output (the index one less), `in_channels` at step 0; checked at every instance
    and step, and, at configurations the spec does not build (4 steps, not growing first), they are
    the widths timm's Block builds. A graph that refutes a text (another input width) writes none.
    The loop's count is the block's `reps`, where each chain has that many steps (`step_count`)."""
    import ast

    from archspec.frontend.expr import evaluate
    from archspec.pytorch.emit.classes import ClassPlanner
    from archspec.pytorch.emit.members import steps_of
    from archspec.pytorch.emit.scopes import ScopeTree
    from archspec.pytorch.emit.stepwidths import own_text, step_count, step_widths
    timm_xception = pytest.importorskip("timm.models.xception")
    g = archspec.analyze("specs/xception.yaml")
    tree = ScopeTree(g)
    planner = ClassPlanner(tree, False)
    blocks = [c.sub for c in tree.root.children if c.local.startswith("block")]
    reps = [next(c for c in b.children if c.local == "rep") for b in blocks]
    steps = steps_of(reps, planner.ctor_key)
    assert steps is not None and steps.counts == [2, 2, 2, *[3] * 8, 2]
    width = lambda ref: g.shape_of(ref)[0]      # noqa: E731
    texts = step_widths(blocks, reps, steps, planner.ctor, width)
    step_in = "in_channels if i == 0 else out if grow_first else in_channels"     # (the step before: not the last)
    step_out = "out if grow_first or i == reps - 1 else in_channels"
    assert texts == [[], [step_in, step_out], [step_out]]
    for args in [(8, 16, 4, 1, False, False), (8, 16, 4, 2, True, True), (16, 8, 1, 1, True, False)]:
        block = timm_xception.Block(*args)
        env = dict(zip(("in_channels", "out", "reps"), args[:3]), grow_first=args[5])
        convs = [m for m in block.rep if isinstance(m, timm_xception.SeparableConv2d)]
        assert [(evaluate(step_in, {**env, "i": i}), evaluate(step_out, {**env, "i": i})) for i in range(args[2])] == [
            (c.conv1.in_channels, c.pointwise.out_channels) for c in convs]
    assert step_widths(blocks, reps, steps, planner.ctor, lambda ref: width(ref) + 1) is None
    assert step_widths(blocks[3:], reps[3:], steps_of(reps[3:], planner.ctor_key), planner.ctor, width) is not None
    assert step_count(blocks, steps) == "reps"
    steps.counts[3] = 2                          # a chain whose steps are not its block's reps
    assert step_count(blocks, steps) is None
    from archspec.pytorch.emit.stepwidths import _NotLast
    for text, folded in [("out if grow_first or i == reps - 1 else x", "out if grow_first else x"),
                         ("a if reps - 1 != i and b else c", "a if b else c"), ("not i == reps - 1", "True"),
                         ("i == reps - 1 or i != reps - 1", "True"), ("i == reps or i == reps - 2", "i == reps or "
                                                                    "i == reps - 2")]:
        assert ast.unparse(_NotLast("i", "reps").visit(ast.parse(text, mode="eval").body)) == folded, text
    args = {"out": 1, "reps": 2}
    assert ast.unparse(own_text("input.channels * 2 + out // reps", args, "j")) == "in_channels * 2 + out // reps"
    for evil in ("len(out)", "out.real", "outs + 1", "out ** 2", "'a' if out else 1", "in_channels", "[out][0]"):
        assert own_text(evil, args, "j") is None, evil


LOOPED = """archspec: 1
name: net
input: [4, 8, 8]
blocks:
  inner:
    params: {out: int}
    nodes:
      - conv: {op: conv, out: "${out}", k: 1}
  unit:
    params: {out: int, reps: int, first: true}
    nodes:
      - body:
          seq:
            - repeat: ${reps}
              node:
                - {op: relu, when: "${i > 0 or first}"}
                - {use: inner, out: "${out}"}
                - %s
nodes:
  - a: {use: unit, out: 8, reps: 2, first: false}
  - b: {use: unit, out: 8, reps: 2}
  - c: {use: unit, out: 8, reps: 3}
"""


def test_chains_of_other_counts_of_steps_are_one_class_built_by_a_loop(spec_file):
    """Chains that run 2 and 3 steps of one repeat whose count is the block's `reps`: one class,
    built by `for i in range(reps):` (the step's widths from the index, the ReLU under `i > 0 or
    first`), the callers passing reps; state_dict and outputs the spec's, and fuse() folds every
    step's pair (the middle chain's third too) without changing the outputs."""
    path = spec_file(LOOPED % "batchnorm")
    text = source(path)
    assert _classes(text) == ["Inner", "Unit", "Net"]
    assert ("        for i in range(reps):\n            if i > 0 or first:\n                layers.append("
            "nn.ReLU(inplace=True))\n            layers.extend([Inner(in_channels if i == 0 else out, out), "
            "nn.BatchNorm2d(out)])\n") in text
    assert "self.a = Unit(4, 8, 2, first=False)" in text and "self.c = Unit(8, 8, 3)" in text
    assert '("body.7.conv", "body.8")' in text
    check_generated_source(text)
    assert check(path).ok
    _same_keys(path, 8)
    model = archspec.compile(path).eval()
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        before = model(x)
        model.fuse()
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
        torch.testing.assert_close(model(x), before)


@pytest.mark.parametrize("edits, classes", [
    ([("batchnorm", '{op: conv, out: "${out}", k: 1}')], 4),         # a width no text of the index writes
    ([("batchnorm", '{op: batchnorm, eps: "${0.001 if i == 0 else 0.00001}"}')], 4),   # a number by step, no text
    ([("repeat: ${reps}", "repeat: ${reps + 0}")], 4),                 # a count that is no parameter
    ([("batchnorm", '{op: batchnorm, affine: "${i == 0}"}')], 4),       # step 0's built otherwise, not kw=i > 0
    ([("${i > 0 or first}", "${i != 1}")], 5),                          # no test of the index says where
    ([("first: true}", "first: true, i: 0, k: 0, index: 0}"), ("${reps}\n", "${reps}\n              index: j\n"),
      ("i > 0", "j > 0")], 4),                                          # no loop index hides nothing
])
def test_steps_no_loop_writes_keep_their_classes(spec_file, edits, classes):
    """Chains of one repeat's steps that no loop over them builds, found once the members'
    classes take their numbers (`ctorparams._step_loops`): the block is planned again, each count
    of steps (and each structure) its own class, as before the loop, the numbers as they are."""
    text = LOOPED % "batchnorm"
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path = spec_file(text)
    text = source(path)
    assert len(_classes(text)) == classes and "range(reps)" not in text
    check_generated_source(text)
    _same_keys(path, 8)
    if "eps:" in edits[0][1]:
        assert text.count("eps=0.001") == 2         # step 0 of each class's chain


@pytest.mark.parametrize("index", ["layers", "j"])
def test_a_step_loops_index_is_one_that_hides_nothing(spec_file, index):
    """The repeat's index named `layers` (the name of the list the loop appends to), or `j`: the
    loop's index is `i`, the tests and numbers written with it."""
    path = spec_file((LOOPED % "batchnorm").replace("- repeat: ${reps}\n", "- repeat: ${reps}\n"
                                                    f"              index: {index}\n").replace("i > 0", f"{index} > 0"))
    text = source(path)
    assert ("        layers = []\n        for i in range(reps):\n            if i > 0 or first:\n" in text
            and "Inner(in_channels if i == 0 else out, out)" in text)
    check_generated_source(text)
    _same_keys(path, 8)


def test_a_member_is_built_otherwise_at_step_0_only_by_a_false_keyword():
    """timm's first ReLU, `nn.ReLU(inplace=False)`, the later ones in place: the loop writes
    `inplace=i > 0`; a member built otherwise at step 0 in any other way is no loop's."""
    from archspec.ops.base import Call
    from archspec.pytorch.emit.members import first_flags, steps_of
    chain = _stepped((27, 0), (28, 0), (27, 1), (28, 1))
    for m in chain.sub.children:
        m.node = m.sub.scope            # a node member (its location and step as the scope's)
    relu = Call("nn.ReLU", (), (("inplace", True, False),))
    conv = Call("nn.Conv2d", (("in_channels", 4), ("out_channels", 4), ("kernel_size", 1)))
    for first, want in [(Call("nn.ReLU", (), (("inplace", False, False),)), {0: "inplace"}),
                        (Call("nn.ReLU6", (), (("inplace", False, False),)), None),
                        (Call("nn.ReLU", (("x", 1),), (("inplace", False, False),)), None),
                        (Call("nn.ReLU", (), (("inplace", False, True),)), None)]:
        calls = [first, conv, relu, conv]
        steps = steps_of([chain], lambda m, calls=calls: repr(calls[int(m.local)]))
        assert steps is not None and steps.first == [True, False]
        assert first_flags(steps, [chain], lambda m, calls=calls: calls[int(m.local)]) == want, first


def test_xceptions_module_is_timms_block_at_every_configuration():
    """The generated XceptionModule takes timm's Block's arguments in its order (in, out, reps,
    stride, start_with_relu, grow_first) and builds its rep by the loop over the steps, the skip
    under `stride != 1 or in_channels != out` and the pool under `stride != 1`: at the spec's
    configurations and others it builds (4 steps, not growing first, a projection at stride 1)
    timm's weights load strictly, the outputs equal."""
    from archspec.pytorch.compiler import load_source
    timm_xception = pytest.importorskip("timm.models.xception")
    text = source("specs/xception.yaml")
    assert re.findall(r"^class (Xception\w*)\(", text, re.M) == ["XceptionModule", "Xception"]
    assert "    def __init__(self, in_channels, out, reps, stride=1, start_with_relu=True, grow_first=True):\n" in text
    assert "        for i in range(reps):\n            if i > 0 or start_with_relu:\n" in text
    assert "        if stride != 1:\n            layers.append(nn.MaxPool2d(3, stride=stride, padding=1))\n" in text
    module = load_source(text, "xception").XceptionModule
    torch.manual_seed(0)
    for args in [(64, 128, 2, 2, False, True), (728, 728, 3, 1, True, True), (728, 1024, 2, 2, True, False),
                 (8, 16, 4, 1, False, False), (16, 8, 1, 1, True, True), (8, 8, 2, 3, True, False)]:
        peer = timm_xception.Block(*args).eval()
        for m in peer.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
        mine = module(*args).eval()
        mine.load_state_dict(peer.state_dict(), strict=True)
        x = torch.randn(1, args[0], 9, 9)
        with torch.no_grad():
            assert torch.equal(mine(x.clone()), peer(x.clone())), args


def test_a_step_loop_reads_no_name_the_class_gives_another_meaning(spec_file, monkeypatch):
    """The loop's tests and numbers read the block's parameters as they are at each instance: where
    the class cannot take one by its name (here `first`, as if the class had given it already), no
    loop is written and the counts of steps keep their classes."""
    from archspec.names import Namespace
    usable = Namespace.usable
    monkeypatch.setattr(Namespace, "usable", lambda self, name: name != "first" and usable(self, name))
    path = spec_file(LOOPED % "batchnorm")
    text = source(path)
    assert "range(reps)" not in text and len(_classes(text)) == 4
    _same_keys(path, 8)


def test_a_keyword_built_otherwise_at_step_0_is_written_from_the_index(spec_file):
    """A batch norm without affine parameters at step 0 only: `affine=i > 0` beside its numbers,
    each instance's state_dict the graph's (step 0's norm holds no weight)."""
    path = spec_file(LOOPED % '{op: batchnorm, affine: "${i > 0}", eps: 0.001, momentum: 0.2}')
    text = source(path)
    assert _classes(text) == ["Inner", "Unit", "Net"]
    assert "nn.BatchNorm2d(out, eps=0.001, momentum=0.2, affine=i > 0)" in text
    check_generated_source(text)
    _same_keys(path, 8)
