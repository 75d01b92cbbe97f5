"""A block class's parameters where only a toy reaches the rule (archspec/pytorch/emit/ctorparams.py):
a repeat's count that a block takes (`_member_counts`), written from its parameter only where that
parameter does nothing else (`_only_counts`); the oracle is the front end, the spec expanded with
another value."""
from __future__ import annotations

import inspect

import pytest
from source_check import check_generated_source

import archspec
from archspec.pytorch.compiler import load_source
from archspec.pytorch.emit import emit

torch = pytest.importorskip("torch")

# a stage that repeats a unit `blocks` times inside a run (HRNet's exchange and its branches); EXTRA: a
# child of the stage that `blocks` decides too (a structure read), or nothing
COUNTED = """archspec: 1
name: net
input: [4, 8, 8]
params: {n: 2, num_classes: 10}
constraints: [{check: "n >= 1", message: "a stage holds a unit"}]     # (`vary` tries a count at 0)
blocks:
  unit:
    params: {c: int}
    nodes:
      - conv: {op: conv, out: "${c}", k: 3, pad: 1}
      - {op: add, in: [conv, input]}
  run:
    params: {c: int, blocks: 2}
    seq:
      - {repeat: "${blocks}", node: {use: unit, c: "${c}"}}
  stage:
    params: {c: int, blocks: 2}
    nodes:
      - widen: {op: conv, out: "${c}", k: 1}
      - body: {use: run, c: "${c}", blocks: "${blocks}"}
      - proj: {op: conv, out: "${c * 2}", k: 1}
EXTRA
nodes:
  - s1: {use: stage, c: 4, blocks: "${n}"}
  - s2: {use: stage, c: 8, blocks: 3}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""
EXTRA = '      - extra: {op: conv, out: "${c * 2}", k: 1, when: "${blocks > 1}"}'


def _shapes(module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _honours_every_value(source: str, path: str) -> list[tuple[str, int]]:
    """(parameter, value) of each int the top class takes (num_classes aside), at 1, 3 and 4,
    whose module's state_dict is not the spec's built with that value."""
    cls = load_source(source, "net").Model
    taken = [p.name for p in inspect.signature(cls).parameters.values()
             if p.name != "num_classes" and type(p.default) is int]
    return [(p, v) for p in taken for v in (1, 3, 4)
            if _shapes(cls(**{p: v})) != archspec.analyze(archspec.load(path, **{p: v})).state_dict_shapes()]


def test_a_count_the_block_passes_on_alone_is_its_parameter(spec_file):
    """The stage passes `blocks` only to its run, which reads it only as its count: the class
    takes it (`range(blocks)`, HRNet's `blocks`), the top passes the spec's `n`, and the top built
    with another n is the spec built with it."""
    path = spec_file(COUNTED.replace("EXTRA\n", ""))
    source = emit(archspec.analyze(path))
    assert source.count("            *[Unit(c) for _ in range(blocks)],\n") == 2
    assert "        self.s1 = Stage(4, blocks=n)\n" in source
    check_generated_source(source)
    assert _shapes(load_source(source, "net").Model()) == archspec.analyze(path).state_dict_shapes()
    assert "n" in inspect.signature(load_source(source, "net").Model).parameters
    assert _honours_every_value(source, path) == []


def test_a_count_whose_parameter_decides_more_is_written_as_its_value(spec_file):
    """`blocks` decides the stage's `extra` too (`when: ${blocks > 1}`): a class that took it as
    the run's count would build `extra` at blocks 1 (`_only_counts`), so each stage's run is
    written with its own count and the top takes no `n`; what it takes, built at other values,
    is still the spec."""
    path = spec_file(COUNTED.replace("EXTRA", EXTRA))
    source = emit(archspec.analyze(path))
    assert "range(blocks)" not in source and "blocks=" not in source
    assert "            *[Unit(c) for _ in range(2)],\n" in source
    assert "            *[Unit(c) for _ in range(3)],\n" in source
    check_generated_source(source)
    model = load_source(source, "net").Model()
    assert _shapes(model) == archspec.analyze(path).state_dict_shapes()
    assert _honours_every_value(source, path) == []


# a unit whose `let:` is a test of its int parameter (`residual: ${stride == 1}`), read by a module child
# (built under the test: `_build_tested`) and by the add (a flag of forward); BUILT: a module child
# without numbers under it too (`_build_inside`), or nothing; the top takes u2's stride
DECIDED = """archspec: 1
name: net
input: [8, 16, 16]
params: {s: 2, num_classes: 10}
blocks:
  unit:
    params: {c: int, stride: 1}
    let: {residual: "${stride == 1}"}
    nodes:
      - conv: {op: conv, out: "${c}", k: 3, pad: 1, stride: "${stride}"}
      - bn: batchnorm
BUILT
      - gate: {op: conv, out: "${c}", k: 1, when: "${residual}"}
      - {op: add, in: [input, gate], when: "${residual}", else: gate}
nodes:
  - u1: {use: unit, c: 8}
  - u2: {use: unit, c: 8, stride: "${s}"}
  - u3: {use: unit, c: 8}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


@pytest.mark.parametrize("built", ["", '      - act: {op: relu, when: "${residual}"}'])
def test_a_let_the_class_tests_is_decided_by_it_for_every_child_that_reads_it(spec_file, built):
    """`residual` is `stride == 1`: the class builds `gate` under that test, and so it keeps it for
    forward's add (`self.residual = stride == 1`) and builds `act` under it; its callers pass no
    `residual=` (before, they did, while the gate followed `stride`: the top built at s 1 had the
    gate and not the add). The top class built at each s computes what the spec built with it does."""
    path = spec_file(DECIDED.replace("BUILT\n", built + "\n" if built else ""))
    source = emit(archspec.analyze(path))
    assert ("    def __init__(self, c, stride=1):\n        super().__init__()\n"
            "        self.residual = stride == 1\n") in source
    assert "        self.gate = nn.Conv2d(c, c, 1) if stride == 1 else None\n" in source
    assert ("        self.act = nn.ReLU(inplace=True) if stride == 1 else None\n" in source) == bool(built)
    assert "residual=" not in source and "        self.u2 = Unit(8, stride=s)\n" in source
    check_generated_source(source)
    x = torch.randn(2, 8, 16, 16)
    for s in (2, 1, 3):
        torch.manual_seed(0)
        ours = load_source(source, "net").Model(s=s).eval()
        spec = archspec.compile(path, s=s).eval()
        spec.load_state_dict(ours.state_dict(), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(ours(x), spec(x), msg=f"s={s}")


# a unit whose pool its `let:` says is there only where it is strided, which the first instance is not
AVD = """archspec: 1
name: net
input: [8, 16, 16]
blocks:
  unit:
    params: {c: int, stride: 1}
    let: {avd: "${stride > 1}"}
    nodes:
      - conv: {op: conv, out: "${c}", k: 3, pad: 1}
      - pool: {op: avgpool, k: 3, stride: "${stride}", pad: 1, when: "${avd}"}
nodes:
  - u1: {use: unit, c: 8}
  - u2: {use: unit, c: 8, stride: 2}
"""


def test_a_child_under_a_let_the_first_instance_lacks_is_built_under_its_test(spec_file):
    """ResNeSt's avd_last, as timm's ResNestBottleneck builds it: the pool the `let:` `avd` says is
    there (`stride > 1`) is built by the class under that test, though the first instance lacks it
    (the class is planned from the instance that has it); callers pass the stride, not the pool."""
    path = spec_file(AVD)
    source = emit(archspec.analyze(path))
    assert "    def __init__(self, c, stride=1):\n" in source
    assert "        self.pool = nn.AvgPool2d(3, stride=stride, padding=1) if stride > 1 else None\n" in source
    assert "        self.u1 = Unit(8)\n        self.u2 = Unit(8, stride=2)\n" in source
    check_generated_source(source)
    model = load_source(source, "net").Model()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == archspec.analyze(path).state_dict_shapes()
    assert model(torch.randn(1, 8, 16, 16)).shape == (1, 8, 8, 8)


def test_a_decided_test_negated_keeps_its_form():
    """emit/guard.py's `negated_test`, the test a module built where a decided `let:` is false
    would be built under (the whitelist's form: comparisons joined by or / and, no `not`): the
    negation at every point of a grid, for each comparison and both joins."""
    import itertools

    from archspec.pytorch.emit.guard import negated_test
    tests = ["stride != 1 or in_channels != out", "stride == 1 and in_channels == out",
             "a < 2 or b >= 3 and a > b", "a <= b"]
    assert negated_test(tests[0]) == "stride == 1 and in_channels == out"
    for test in tests:
        out = negated_test(test)
        assert "not" not in out
        names = sorted({n for n in ("stride", "in_channels", "out", "a", "b") if n in test})
        for values in itertools.product(range(4), repeat=len(names)):
            env = dict(zip(names, values))
            assert eval(out, {}, env) is (not eval(test, {}, env)), (test, env)    # noqa: S307 - our own text
