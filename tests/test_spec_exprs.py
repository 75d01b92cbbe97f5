"""The generated classes write the spec's own expressions (archspec/pytorch/emit/specexpr.py):
a block's `let:` as a local of __init__ computed from the block's parameters, the spec's
parameters it reads as keyword parameters with the spec's values, each number as the expression
the spec gave it. The oracle for "computed from them" is the front end itself: a class built with
another value of a spec parameter equals the spec's block expanded with that value."""
from __future__ import annotations

import ast

import pytest
from paths import SPECS, shipped_source
from source_check import check_generated_source

import archspec
from archspec.pytorch.compiler import load_source
from archspec.pytorch.emit import emit

torch = pytest.importorskip("torch")


def _source(name: str) -> str:
    """A shipped spec's generated file (paths.shipped_source: emitted once per test process)."""
    return shipped_source(SPECS / f"{name}.yaml")


def _spec(path, **values):
    """The oracle: the spec built with `values` (--set) on the meta device, its module written with
    numbers (a graph from no file: `vary` builds nothing; it decides only what the top class takes)."""
    graph = archspec.analyze(archspec.load(str(path), **values))
    graph.meta.file = None
    return archspec.compile(graph, device="meta")


def _init(source: str, cls: str) -> ast.FunctionDef:
    tree = ast.parse(source)
    c = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    return next(f for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")


def _shapes(module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_res2net_block_takes_planes_and_computes_its_width():
    """timm's Bottle2neck takes planes and computes width (`width = int(math.floor(planes *
    (base_width / 64.0))) * cardinality`); before, the class took the let's value as a parameter
    (`Bottle2neck(in_channels, width, ...)`). It takes base_width and groups, which only set
    widths (its ladder's slices are the spec's `i * width` at each step's `i`); scale, the
    ladder's length, is written as its value: a class that took it would build another network."""
    init = _init(_source("res2net50_26w_4s"), "Bottle2neck")
    assert [a.arg for a in init.args.args][:6] == ["self", "in_channels", "planes", "stride", "base_width", "groups"]
    assert ast.unparse(init.body[1]) == "width = planes * base_width // 64 * groups"
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
    theirs = _spec(SPECS / f"{name}.yaml", **knob)
    assert _shapes(ours) == _shapes(theirs.get_submodule(layer))


def test_an_input_width_reads_its_own_parameter():
    """bn_inception's double-3x3 branch: its second conv reads `dbl3x3_reduce`, the width the
    spec gave its first conv, not `n3x3_reduce`, another parameter of the same value (both 192)."""
    init = ast.unparse(_init(_source("bn_inception"), "Inception"))
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
    """A repeat's `i` is not written; plain arithmetic of parameters and lets is, and `max()` of
    two such (`max(c, 4)`, which the instances' `c` alone would fit where c is 4 or more). The
    repeat's second conv takes the first's width, `c`, not `b`'s: the first sets its width, equal
    to its input's at the spec's values only. The module is the graph's, and so is the class built
    with c = 2, where `max(c, 4)` is 4 and `c` is not."""
    g = archspec.analyze(spec_file(NET))
    source = emit(g)
    init = ast.unparse(_init(source, "Unit"))
    assert "wide = c * 2" in init and "self.a = nn.Conv2d(in_channels, wide, 1)" in init
    assert "self.d = nn.Conv2d(c + 1, c, 1)" in init
    assert "self.b = nn.Conv2d(wide, max(c, 4), 1)" in init and "+ i" not in init
    assert "nn.Conv2d(max(c, 4), c, 1)" in init and "nn.Conv2d(c, c + 1, 1)" in init
    model = load_source(source, "net").Model()
    assert _shapes(model) == {k: tuple(v) for k, v in g.state_dict_shapes().items()}
    narrow = archspec.analyze(spec_file(NET.replace("u1: {use: unit, c: 8}", "u1: {use: unit, c: 2}")))
    unit = _shapes(type(model.u1)(8, 2))
    assert unit == {k[3:]: tuple(v) for k, v in narrow.state_dict_shapes().items() if k.startswith("u1.")}


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
        theirs = _spec(path, **{knob: 2 * params[knob]})
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
    theirs = _spec(path, **{knob: value})
    assert _shapes(ours) == _shapes(theirs)


@pytest.mark.parametrize("spec, held", [("res2net50_26w_4s", {"scale"})])
def test_the_top_class_does_not_take_what_would_not_fit(spec, held):
    """Res2Net's scale sets its ladder's length: the top class does not take it (DenseNet's growth,
    stem and bn_size it takes, Res2Net's base_width, ResNeSt's stem_width, SE's se_reduction, whose
    block's own `when:` its caller tests: tests/test_top_widths.py, which also holds a width a block
    writes as a parameter equal to it only at the spec's value)."""
    init = _init(_source(spec), next(n.value.id for n in ast.parse(_source(spec)).body   # type: ignore[attr-defined]
                                     if isinstance(n, ast.Assign) and n.targets[0].id == "Model"))  # type: ignore[attr-defined]
    assert held.isdisjoint(a.arg for a in init.args.args) and "num_classes" in [a.arg for a in init.args.args]


def test_a_rate_that_sets_no_shape_is_the_top_s_parameter():
    """torchvision's MobileNetV2(num_classes=1000, ..., dropout=0.2): a dropout's rate written as
    the spec's parameter (`p: ${dropout}`) is taken by the top class and used."""
    source = _source("mobilenet_v2")
    assert "    def __init__(\n        self,\n        num_classes=1000,\n        dropout=0.2,\n" in source
    assert "nn.Dropout(p=dropout)" in source
    with torch.device("meta"):
        model = load_source(source, "mobilenet_v2").Model(dropout=0.3)
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [0.3]


# -- rates computed from the index (emit/lift.py) -----------------------------------------------

def _rate_mismatches(model, g) -> list[tuple]:
    """Each rate the graph holds (a dropout's or drop path's `p`, a layer scale's initial value)
    that the module's differs from, exactly (float ==): the interpreter's numbers are the oracle."""
    out = []
    for n in g.nodes.values():
        if n.op.name in ("dropout", "stochastic_depth"):
            p = model.get_submodule(n.name).p
            if type(p) is not float or p != n.attrs.p:
                out.append((n.name, p, n.attrs.p))
        elif n.op.name == "layer_scale":
            t = model.get_parameter(n.name)
            if not bool((t == torch.full(t.shape, n.attrs.init)).all()):
                out.append((n.name, t.flatten()[0].item(), n.attrs.init))
    return out


def _float_keywords(source: str) -> dict[str, float]:
    """The top class's keyword parameters whose default is a float: the rates it takes."""
    init = _init(source, next(n.value.id for n in ast.parse(source).body     # type: ignore[attr-defined]
                              if isinstance(n, ast.Assign) and n.targets[0].id == "Model"))  # type: ignore[attr-defined]
    args = init.args.args[len(init.args.args) - len(init.args.defaults):]
    return {a.arg: d.value for a, d in zip(args, init.args.defaults) if isinstance(d, ast.Constant)
            and type(d.value) is float}


@pytest.mark.parametrize("spec, rates", [
    ("efficientnet_b0", {"stochastic_depth", "dropout"}),
    pytest.param("convnext_tiny", {"stochastic_depth", "layer_scale"}, marks=pytest.mark.slow),
    pytest.param("convnext_small", {"stochastic_depth", "layer_scale"}, marks=pytest.mark.slow),
    pytest.param("convnext_base", {"stochastic_depth", "layer_scale"}, marks=pytest.mark.slow),
    pytest.param("convnext_large", {"stochastic_depth", "layer_scale"}, marks=pytest.mark.slow)])
def test_a_rate_the_top_class_takes_builds_the_spec_s_rates_with_it(spec, rates):
    """torchvision's ConvNeXt(stochastic_depth_prob=..., layer_scale=...) computes each block's
    drop-path rate from its index: the top class takes the spec's `stochastic_depth` and
    `layer_scale` and computes them so (`stochastic_depth * stage_block_id / (total_stage_blocks -
    1.0)`, the loop's counter), and as built, and built with each doubled, every rate is the very
    number (float ==) the spec's interpreter gives with that value (`--set`). Before, the class took
    neither and wrote each rate as a literal."""
    path = str(SPECS / f"{spec}.yaml")
    source = _source(spec)
    knobs = _float_keywords(source)
    assert set(knobs) == rates and "sd_prob = stochastic_depth * stage_block_id / " in source
    assert _rate_mismatches(load_source(source, spec).Model(), archspec.analyze(path)) == []
    for knob, value in knobs.items():
        model = load_source(source, spec).Model(**{knob: 2 * value})
        theirs = archspec.analyze(archspec.load(path, **{knob: 2 * value}))
        assert _rate_mismatches(model, theirs) == [], knob


def test_convnext_stages_compute_their_rates_as_torchvision_s_loop():
    """The stages' blocks built in torchvision's loop, each rate an expression of the top's
    `stochastic_depth`, the loop's counter and the blocks' total (`sum(depths)`, EfficientNet's the
    rows' counts), the layer scale passed on: no literal rate and no literal count left."""
    source = _source("convnext_tiny")
    assert ("    def __init__(\n        self,\n        num_classes=1000,\n        stochastic_depth=0.1,\n"
            "        layer_scale=1e-06,\n        dims=(96, 192, 384, 768),\n        depths=(3, 3, 9, 3),\n    ):\n"
            in source)
    assert ("                sd_prob = stochastic_depth * stage_block_id / (total_stage_blocks - 1.0)\n"
            "                stage.append(Cnblock(dim, sd_prob, layer_scale=layer_scale))\n") in source
    assert "nn.Parameter(torch.full((dim, 1, 1), layer_scale))" in source and "0.0058" not in source
    assert "17" not in source.split("def __init__(\n        self,")[1].split("def forward")[0]
    effnet = _source("efficientnet_b0")      # MBConv builds its StochasticDepth, as torchvision's, from the rate
    assert ("                sd_prob = stochastic_depth * stage_block_id / total_stage_blocks\n"
            "                stage.append(Mbconv(in_channels, t, k, stride, c_out, sd_prob))\n"
            in effnet)
    assert "total_stage_blocks = sum(row[5] for row in rows)" in effnet and "/ 16" not in effnet
    assert ("        self.stochastic_depth = (\n            StochasticDepth(stochastic_depth_prob) if stride == 1 and "
            "in_channels == c_out else None\n        )\n") in effnet


STAGES = """archspec: 1
name: net
input: [4, 8, 8]
params: {drop: 0.3, depths: [2, 3], scale: 1.0e-6}
blocks:
  unit:
    params: {p: float}
    nodes:
      - conv: {op: conv, out: 4, k: 3, pad: 1}
      - gamma: {op: layer_scale, init: "${scale}"}
      - sd: {op: stochastic_depth, p: "${p}", mode: row}
      - {op: add, in: [sd, input]}
  stage:
    params: {i: int}
    let: {before: "${depths[0] * i}"}
    seq:
      - repeat: "${COUNT}"
        index: INDEX
        node: {use: unit, p: "${RATE}"}
nodes:
  - features:
      seq:
        - {use: stage, i: 0}
        - {use: stage, i: 1}
"""


def _stages(spec_file, count="depths[i]", index="j", rate="drop * (before + j) / 4.0"):
    """STAGES with a repeat count, index name and rate; its source, and its graph."""
    text = STAGES.replace("COUNT", count).replace("INDEX", index).replace("RATE", rate.replace("j", index))
    path = spec_file(text)
    return emit(archspec.analyze(path)), path


def _honours(source: str, path: str, knob: str, value) -> bool:
    """The top class built with another value is the network `--set` builds: its state_dict's
    shapes and every rate."""
    model = load_source(source, "net").Model(**{knob: value})
    theirs = archspec.analyze(archspec.load(path, **{knob: value}))
    return _shapes(model) == {k: tuple(v) for k, v in theirs.state_dict_shapes().items()} \
        and _rate_mismatches(model, theirs) == []


def test_a_rate_read_from_a_stage_s_index_is_a_comprehension(spec_file):
    """A stage's `let:` (before) is written as its number in each stage, the repeat's index as the
    comprehension's name; the top takes `drop` and the layer scale's `scale`, and honours them."""
    source, path = _stages(spec_file)
    assert "    def __init__(self, drop=0.3, scale=1e-06):" in source
    assert "*[Unit(drop * j / 4.0, scale=scale) for j in range(2)]" in source
    assert "*[Unit(drop * (2 + j) / 4.0, scale=scale) for j in range(3)]" in source
    assert _honours(source, path, "drop", 0.5) and _honours(source, path, "scale", 0.5)


def test_an_index_named_like_a_class_is_written_as_its_value(spec_file):
    """A comprehension over `Unit` would hide the class it calls: each step's rate is written
    with the index's value in its place (`(2 + 1)` done: 3), and still from `drop`."""
    source, path = _stages(spec_file, index="Unit")
    assert "for Unit in" not in source and "Unit(drop * 3 / 4.0, scale=scale)," in source
    assert _honours(source, path, "drop", 0.5)


@pytest.mark.parametrize("count, rate", [
    ("depths[i]", "drop * j / 4.0 + min(drop, 0.5) * 0.1"),     # drop written as a number inside min()
    ("depths[i] + int(drop)", "drop * (before + j) / 4.0")])     # the stage's repeat count reads drop
def test_a_rate_whose_numbers_read_a_parameter_does_not_take_it(spec_file, count, rate):
    """Where a number the rate is written with (min(drop, 0.5): 0.3), or the stage's structure
    (how many blocks it has), comes from `drop`, the top class cannot take `drop`: it would not
    honour it. The rates are still computed from the index."""
    source, path = _stages(spec_file, count=count, rate=rate)
    assert "    def __init__(self, scale=1e-06):" in source and "for j in range(2)" in source
    assert _rate_mismatches(load_source(source, "net").Model(), archspec.analyze(path)) == []


def test_a_rate_written_so_that_it_only_rounds_close_is_not_written(spec_file, monkeypatch):
    """Each rate's text is checked with the spec's interpreter at every step, the number it gives
    against the graph's (float ==). A writer that divided by 7.0 as a multiplication by 1 / 7.0
    (0.3 * 1 * 0.142... is not 0.3 * 1 / 7.0) is caught: the steps are written as the graph's
    numbers, each the very one."""
    from archspec.pytorch.emit import lift

    def reciprocal(e):
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Div) and isinstance(e.right, ast.Constant):
            e = ast.BinOp(e.left, ast.Mult(), ast.Constant(1 / e.right.value))
        return fold(e)
    fold = lift._fold
    monkeypatch.setattr(lift, "_fold", reciprocal)
    source, path = _stages(spec_file, rate="drop * (before + j) / 7.0")
    assert "0.14285714285714285" not in source and "Unit(0.04285714285714286, scale=scale)," in source
    assert _rate_mismatches(load_source(source, "net").Model(), archspec.analyze(path)) == []


# -- out_channels the class computes; a rate the spec wrote from a block parameter (ctorparams) --

OUT = """archspec: 1
input: [8, 8, 8]
blocks:
  proj:
    params: {out: int}
    seq:
      - {op: conv, out: "${out}", k: 1}
      - batchnorm
  unit:
    params: {planes: int}
    nodes:
      - conv1: {op: conv, out: "${planes}", k: 1}
      - conv2: {op: conv, out: "${planes * 4}", k: 1}
      - proj: {use: proj, out: "${planes * 4}", in: input}
      - {op: add, in: [conv2, proj]}
nodes:
  - a: {use: unit, planes: 8}
  - b: {use: unit, planes: 16}
"""


@pytest.mark.parametrize("name, cls, args", [("res2net50_26w_4s", "Bottle2neck",
                                              ["in_channels", "planes", "stride", "base_width", "groups",
                                               "downsample"]),
                                             ("resnest14d", "Bottleneck",
                                              ["in_channels", "planes", "stride", "downsample"]),
                                             ("inception_resnet_v2", "Block8", ["in_channels", "scale", "relu"])])
def test_out_channels_the_class_computes_is_no_parameter(name, cls, args):
    """timm's Bottle2neck takes planes and computes planes * 4; Block8's output is its input's
    width (x + scale * up(...)): the callers do not pass the number again."""
    assert [a.arg for a in _init(_source(name), cls).args.args[1:]] == args


def test_out_channels_is_written_as_the_spec_wrote_the_number(spec_file):
    """The projection's width, passed into an nn.Sequential, is the number the spec wrote as
    `planes * 4` for conv2: so written; the built module's state_dict is the graph's."""
    path = spec_file(OUT)
    src = emit(archspec.analyze(archspec.load(path)))
    assert "def __init__(self, in_channels, planes):" in src and "nn.BatchNorm2d(planes * 4)," in src
    assert "Unit(8, 8)" in src and "Unit(32, 16)" in src
    model = load_source(src).Model()
    assert _shapes(model) == archspec.analyze(path).state_dict_shapes()


def test_one_instance_shows_no_out_channels_expression(spec_file):
    """A block used once: its 32 channels equal 4 * planes, but by chance as far as one instance
    can tell (the spec wrote the projection's width as a number): out_channels stays."""
    text = OUT.replace('out: "${planes * 4}", in: input', "out: 32, in: input").replace(
        '"${planes * 4}", k: 1', "32, k: 1").replace("  - b: {use: unit, planes: 16}\n", "")
    src = emit(archspec.analyze(archspec.load(spec_file(text))))
    assert "def __init__(self, planes, out_channels):" in src and "Unit(8, 32)" in src


@pytest.mark.parametrize("weights, scale", [('"${[1, scale]}"', "self.scale"), ("[1, 0.17]", "0.17"),
                                            ('"${[0.17, scale]}"', "0.17")])
def test_a_rate_is_the_block_parameter_the_spec_wrote_it_from(spec_file, weights, scale):
    """Inception-ResNet's Block35, `x + scale * up(...)` with scale 0.17 at every instance, takes
    `scale=0.17` as timm's does; the same number written as a literal, with a `scale` parameter of
    that value beside it, stays a literal (the parameter was not what the spec wrote), and so do
    both where the spec wrote one 0.17 as a number and one as `scale` (which is which, the number
    cannot tell: `scale=0.3` must not change both)."""
    text = f"""archspec: 1
input: [8, 8, 8]
blocks:
  unit:
    params: {{scale: 0.17}}
    nodes:
      - conv: {{op: conv, out: 8, k: 1}}
      - {{op: add, in: [input, conv], weights: {weights}}}
nodes:
  - a: unit
  - b: unit
"""
    src = emit(archspec.analyze(archspec.load(spec_file(text))))
    assert f"+ {scale} * conv" in src
    assert ("scale=" in src) == (scale == "self.scale")


# -- a drop path the block builds itself (emit/ctorparams.py's `_build_flagged`) -----------------

FLAGGED = """archspec: 1
name: net
input: [4, 8, 8]
params: {drop: 0.4}
blocks:
  unit:
    params: {p: float, residual: true}
    nodes:
      - conv: {op: conv, out: 4, k: 3, pad: 1}
      - sd: {op: stochastic_depth, p: RATE, mode: row, when: "${residual}"}
      - {op: add, in: [sd, input], when: "${residual}", else: sd}
nodes:
  - a: {use: unit, p: "${drop / 4}"}
  - b: {use: unit, p: "${drop / 2}", residual: false}
  - c: {use: unit, p: "${drop}"}
"""


def test_a_drop_path_a_flag_says_where_is_built_by_the_block_from_its_rate(spec_file):
    """A StochasticDepth some instances lack (`when: ${residual}`), whose rate is the block's own
    parameter, is built by the class under that flag, as torchvision's MBConv builds
    `StochasticDepth(stochastic_depth_prob, "row")`: the caller passes the rate, not the module,
    and the rates are the spec's; the one that lacks it (b) has none."""
    path = spec_file(FLAGGED.replace("RATE", '"${p}"'))
    source = emit(archspec.analyze(path))
    assert "    def __init__(self, p, residual=True):" in source
    assert "        self.sd = StochasticDepth(p) if residual else None\n" in source
    assert "self.a = Unit(drop / 4)" in source and "self.b = Unit(drop / 2, residual=False)" in source
    assert "StochasticDepth(drop" not in source
    check_generated_source(source)
    model = load_source(source, "net").Model().eval()
    assert model.b.sd is None and _rate_mismatches(model, archspec.analyze(path)) == []
    assert _honours(source, path, "drop", 0.8)
    _outputs_equal(model, path)


def _outputs_equal(model, path) -> None:
    """The spec compiled, given the class's weights strictly, gives its outputs (float tolerance)."""
    spec = archspec.compile(path).eval()
    spec.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), spec(x))


def test_a_drop_path_a_flag_says_is_not_there_is_built_under_its_negation(spec_file):
    """The flag says where the drop path is not (`when: ${not plain}`): the class builds it under
    `not plain` (`_build_flagged`'s negated form), so the plain unit (b) has none and the others
    theirs, with the spec's rates."""
    path = spec_file(FLAGGED.replace("RATE", '"${p}"').replace("residual: true", "plain: false")
                     .replace('"${residual}"', '"${not plain}"').replace("residual: false", "plain: true"))
    source = emit(archspec.analyze(path))
    assert "        self.sd = StochasticDepth(p) if not plain else None\n" in source
    assert "self.b = Unit(drop / 2, plain=True)" in source
    check_generated_source(source)
    model = load_source(source, "net").Model().eval()
    assert [n for n, m in model.named_modules() if type(m).__name__ == "StochasticDepth"] == ["a.sd", "c.sd"]
    assert _rate_mismatches(model, archspec.analyze(path)) == []
    _outputs_equal(model, path)


def test_a_drop_path_whose_rate_is_no_block_parameter_stays_an_argument(spec_file):
    """A rate the block computes (`p / 2`), no parameter's value: the caller builds the module and
    passes it (`sd=StochasticDepth(...)`), as before; only a parameter's own value is built inside."""
    path = spec_file(FLAGGED.replace("RATE", '"${p / 2}"'))
    source = emit(archspec.analyze(path))
    assert "sd=None" in source and "        self.sd = sd\n" in source and "sd=StochasticDepth(" in source
    assert _rate_mismatches(load_source(source, "net").Model(), archspec.analyze(path)) == []


BLOCK_INPUT = """archspec: 1
input: [3, 16, 16]
blocks:
  gate:
    params: {w: int}
    nodes:
      - fc: {op: conv, out: "${w}", k: 1}
  unit:
    params: {out: int}
    nodes:
      - conv1: {op: conv, out: "${out}", k: 1}
      - tail:
          seq:
            - {op: conv, out: "${out}", k: 3, pad: 1}
            - {use: gate, w: "${max(1, block_input.channels // 2)}"}
nodes:
  - stem: {op: conv, out: 16, k: 1}
  - a: {use: unit, out: 16}
  - mid: {op: conv, out: 24, k: 1}
  - b: {use: unit, out: 24}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: 10}
"""


def test_block_input_is_the_class_s_input_only_where_its_list_is_fed_by_it(spec_file):
    """`block_input` in a list inside a block is that list's input (here conv1's output, `out`
    wide), not the block's: the gate's width is not written as `max(1, in_channels // 2)`, which
    the instances fit (each unit keeps its width) but another input width would not. MBConv's
    squeeze, in a list the block's input feeds, is (test_top_widths)."""
    path = spec_file(BLOCK_INPUT)
    src = emit(archspec.analyze(path))
    check_generated_source(src)
    assert "Gate(out, max(1, in_channels // 2))" not in src and "class Unit" in src
    model = load_source(src).Model()
    assert _shapes(model) == archspec.analyze(path).state_dict_shapes()
