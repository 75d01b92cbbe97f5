"""The generated classes write the spec's own expressions (archspec/pytorch/emit/specexpr.py):
a block's `let:` as a local of __init__ computed from the block's parameters, the spec's
parameters it reads as keyword parameters with the spec's values, each number as the expression
the spec gave it. The oracle for "computed from them" is the front end itself: a class built with
another value of a spec parameter equals the spec's block expanded with that value."""
from __future__ import annotations

import ast

import pytest
from paths import SPECS

import archspec
from archspec.pytorch.compiler import load_source
from archspec.pytorch.emit import emit

torch = pytest.importorskip("torch")


def _source(name: str, **params) -> str:
    return emit(archspec.analyze(archspec.load(str(SPECS / f"{name}.yaml"), **params)))


def _init(source: str, cls: str) -> ast.FunctionDef:
    tree = ast.parse(source)
    c = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    return next(f for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")


def _shapes(module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_res2net_block_takes_planes_and_computes_its_width():
    """timm's Bottle2neck takes planes and computes width; before, the class took the let's value
    as a parameter (`Bottle2neck(in_channels, width, ...)`). The spec's base_width and scale are
    written as their values: the ladder's length reads scale, and its slices read width with the
    repeat's `i`, so a class that took them would build another network than the spec's."""
    init = _init(_source("res2net50_26w_4s"), "Bottle2neckResidual")
    assert [a.arg for a in init.args.args] == ["self", "in_channels", "planes"]
    assert ast.unparse(init.body[1]) == "width = planes * 26 // 64"
    assert "nn.Conv2d(in_channels, width * 4, 1, bias=False)" in ast.unparse(init)


@pytest.mark.parametrize("name", ["resnest14d", "skresnet50", "hrnet_w18_small"])
def test_a_constant_that_cancels_is_dropped(name):
    """The spec's base_width 64 in `planes * base_width // 64`, where the class does not take it,
    cancels: `width = planes` (x * c // c == x on ints), not `planes * 64 // 64`."""
    init = _init(_source(name), "SkBottleneck" if name == "skresnet50" else "Bottleneck")
    assert ast.unparse(init.body[1]) == "width = planes"


def test_resnext_block_is_torchvision_s():
    """torchvision's Bottleneck: `width = int(planes * (base_width / 64.0)) * groups`, groups
    and base_width keyword parameters with the network's values."""
    init = _init(_source("resnext50_32x4d"), "Bottleneck")
    assert [a.arg for a in init.args.args][:3] == ["self", "in_channels", "planes"]
    assert {a.arg: ast.unparse(d) for a, d in zip(init.args.args[-len(init.args.defaults):], init.args.defaults)
            if a.arg in ("groups", "base_width")} == {"groups": "32", "base_width": "4"}
    assert ast.unparse(init.body[1]) == "width = planes * base_width // 64 * groups"


@pytest.mark.parametrize("name, cls, args, knob, layer", [
    ("resnext50_32x4d", "Bottleneck", (256, 64, 1), {"groups": 8, "base_width": 8}, "layer1.1"),
    ("wide_resnet50_2", "Bottleneck", (512, 128, 1), {"base_width": 64}, "layer2.1"),
    ("seresnext50_32x4d", "Bottleneck", (1024, 256, 1), {"groups": 64}, "layer3.1"),
])
def test_a_block_built_with_another_spec_value_is_the_spec_s_block(name, cls, args, knob, layer):
    """A keyword parameter the class takes from the spec is used wherever the block uses it:
    built with another value, its state_dict is the one the spec expands to with that value."""
    ours = getattr(load_source(_source(name), name), cls)(*args, **knob)
    theirs = archspec.compile(archspec.load(str(SPECS / f"{name}.yaml"), **knob), device="meta")
    assert _shapes(ours) == _shapes(theirs.get_submodule(layer))


def test_an_input_width_reads_its_own_parameter():
    """bn_inception's double-3x3 branch: its second conv reads `dbl3x3_reduce`, the width the
    spec gave its first conv, not `n3x3_reduce`, another parameter of the same value (both 192)."""
    init = ast.unparse(_init(_source("bn_inception"), "InceptionNoAvgpool"))
    assert "ConvBn(in_channels, dbl3x3_reduce), ConvBn(dbl3x3_reduce, dbl3x3, k=3, pad=1)" in init


def test_an_argument_is_written_as_its_own_attribute_only():
    """ResNet's 3x3 conv: `padding=1` stays 1, though `groups` (an expression) has that value too."""
    init = ast.unparse(_init(_source("resnet50"), "Bottleneck"))
    assert "nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)" in init


NET = """archspec: 1
name: net
input: [8, 8, 8]
params: {mult: 2}
blocks:
  unit:
    params: {c: int}
    let: {wide: "${c * mult}"}
    nodes:
      - a: {op: conv, out: "${wide}", k: 1}
      - b: {op: conv, out: "${max(c, 4)}", k: 1}
      - repeat: 2
        node: {op: conv, out: "${c + i}", k: 1}
      - d: {op: conv, out: "${c}", k: 1}
nodes:
  - u1: {use: unit, c: 8}
  - u2: {use: unit, c: 16}
  - u3: {use: unit, c: 8}
"""


def test_what_is_not_plain_arithmetic_of_the_class_s_names_stays_a_number(spec_file):
    """`max()` and a repeat's `i` are not written; plain arithmetic of parameters and lets is.
    The spec's `mult` is written as its value: the repeat's first conv takes its input width as a
    number (`b`'s output, not written), which a class taking `mult` could not vary with it. Either
    way the module is the graph's."""
    g = archspec.analyze(spec_file(NET))
    source = emit(g)
    init = ast.unparse(_init(source, "Unit"))
    assert "wide = c * 2" in init and "self.a = nn.Conv2d(in_channels, wide, 1)" in init
    assert "self.d = nn.Conv2d(c + 1, c, 1)" in init
    assert "max(" not in init and "+ i" not in init
    model = load_source(source, "net").Model()
    assert _shapes(model) == {k: tuple(v) for k, v in g.state_dict_shapes().items()}


def _knobs(source: str, spec_params: dict) -> dict[str, list[str]]:
    """The spec parameters (num_classes aside) that generated classes take as keyword
    parameters with the spec's value: parameter -> the classes."""
    out: dict[str, list[str]] = {}
    for c in (n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)):
        init = next((f for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
        args = init.args.args[len(init.args.args) - len(init.args.defaults):] if init else []
        for a, d in zip(args, init.args.defaults if init else []):
            if (a.arg in spec_params and a.arg != "num_classes" and isinstance(d, ast.Constant)
                    and d.value == spec_params[a.arg]):
                out.setdefault(a.arg, []).append(c.name)
    return out


def _with_default(cls, name: str, value) -> tuple:
    """Set one keyword default of a class's __init__; the old defaults, to restore."""
    f = cls.__init__
    names = f.__code__.co_varnames[1:f.__code__.co_argcount]
    old = f.__defaults__
    defaults = list(old)
    defaults[names[len(names) - len(defaults):].index(name)] = value
    f.__defaults__ = tuple(defaults)
    return old


@pytest.mark.parametrize("spec", [
    "resnext50_32x4d",
    pytest.param("skresnet50", marks=pytest.mark.slow), pytest.param("seresnext50_32x4d", marks=pytest.mark.slow),
    pytest.param("dpn68", marks=pytest.mark.slow), pytest.param("wide_resnet50_2", marks=pytest.mark.slow),
    pytest.param("senet154", marks=pytest.mark.slow)])
def test_every_spec_parameter_a_class_takes_is_used_wherever_the_spec_uses_it(spec):
    """Each spec parameter a class takes, doubled in every class that takes it, builds the network
    the spec builds with it doubled. SKNet's block took its paths (`sk_paths`) but divided its
    conv's input by the number 2, and split by sk_paths: a third path built another network."""
    path = str(SPECS / f"{spec}.yaml")
    source, params = _source(spec), archspec.load(path).params
    knobs = _knobs(source, params)
    assert knobs or spec == "skresnet50"
    for knob, classes in knobs.items():
        module = load_source(source, spec)
        saved = {c: _with_default(getattr(module, c), knob, 2 * params[knob]) for c in classes}
        try:
            with torch.device("meta"):
                ours = module.Model()
        finally:
            for c, old in saved.items():
                getattr(module, c).__init__.__defaults__ = old
        theirs = archspec.compile(archspec.load(path, **{knob: 2 * params[knob]}), device="meta")
        assert _shapes(ours) == _shapes(theirs), (knob, classes)


@pytest.mark.parametrize("spec, knob", [("resnext50_32x4d", "groups"), ("resnext50_32x4d", "base_width"),
                                        pytest.param("wide_resnet50_2", "base_width", marks=pytest.mark.slow),
                                        pytest.param("seresnext50_32x4d", "groups", marks=pytest.mark.slow)])
def test_the_top_class_takes_what_its_blocks_vary_and_builds_the_spec_s_network(spec, knob):
    """torchvision's ResNet(groups, width_per_group): the top class takes a spec parameter every
    block using it may vary, passes it on, and with another value is the network `--set` builds."""
    path = str(SPECS / f"{spec}.yaml")
    value = 2 * archspec.load(path).params[knob]
    with torch.device("meta"):
        ours = load_source(_source(spec), spec).Model(**{knob: value})
    theirs = archspec.compile(archspec.load(path, **{knob: value}), device="meta")
    assert _shapes(ours) == _shapes(theirs)


@pytest.mark.parametrize("spec, held", [("densenet121", {"growth", "stem", "bn_size"}),
                                        ("seresnet50", {"se_reduction"}), ("res2net50_26w_4s", {"base_width"})])
def test_the_top_class_does_not_take_what_would_not_fit(spec, held):
    """DenseNet's growth and stem set widths the top writes as numbers, its bn_size and SE's
    se_reduction are read by a `when:` (0 drops the node), Res2Net's base_width by numbers its
    ladder writes from the repeat's `i`: the top class takes none of them."""
    init = _init(_source(spec), next(n.value.id for n in ast.parse(_source(spec)).body   # type: ignore[attr-defined]
                                     if isinstance(n, ast.Assign) and n.targets[0].id == "Model"))  # type: ignore[attr-defined]
    assert held.isdisjoint(a.arg for a in init.args.args) and "num_classes" in [a.arg for a in init.args.args]


def test_a_rate_that_sets_no_shape_is_the_top_s_parameter():
    """torchvision's MobileNetV2(num_classes=1000, ..., dropout=0.2): a dropout's rate written as
    the spec's parameter (`p: ${dropout}`) is taken by the top class and used."""
    source = _source("mobilenet_v2")
    assert "    def __init__(self, num_classes=1000, dropout=0.2):" in source and "nn.Dropout(dropout)" in source
    with torch.device("meta"):
        model = load_source(source, "mobilenet_v2").Model(dropout=0.3)
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.3]
