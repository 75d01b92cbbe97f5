"""The top class's width parameters (emit/widthexpr.py, emit/vary.py): the generated class built
with other values of each parameter it takes has the very state_dict (keys, shapes) and parameter
count of the spec built with those values (the oracle: the spec's own expansion, --set)."""
import inspect
import random

import pytest
import torch
from paths import ALL_SPECS, SPECS, shipped_source
from source_check import check_generated_source
from toys import SE_BLOCK

import archspec
from archspec.analysis import analyze
from archspec.frontend.expr import evaluate
from archspec.pytorch.emit import emit, vary, widen, widthexpr
from archspec.pytorch.emit.lift import Unliftable
from archspec.pytorch.emit.widthexpr import TopWidths

# the spec, the width parameters its top class takes (num_classes aside), and other values of
# them (odd ones: DenseNet's transitions halve their input, floor included)
# The fast lane keeps DPN's (widths through the top's `let:`) and ResNeSt's; the others build big
# classes on the meta device 2.5 s each (CI runs them: slow)
CASES = [
    # torchvision's DenseNet(growth_rate, bn_size, num_init_features, block_config: `blocks`,
    # emit/blockloop.py): the bottleneck's width bn_size * growth, 2, 8 and 3 here, and 0, where the
    # spec drops the 1x1 conv (`when: ${bn_size > 0}`), which the dense layer's class tests
    pytest.param("densenet121", {"stem": 24, "growth": 12, "bn_size": 2, "blocks": [2, 3, 4, 2]},
                 marks=pytest.mark.slow, id="densenet121"),
    pytest.param("densenet121", {"stem": 64, "growth": 32, "bn_size": 8, "blocks": [1, 1, 1, 1]},
                 marks=pytest.mark.slow, id="densenet121-bn8"),
    pytest.param("densenet161", {"stem": 50, "growth": 7, "bn_size": 0, "blocks": [3, 1, 2, 5]},
                 marks=pytest.mark.slow, id="densenet161-bn0"),
    pytest.param("densenet264", {"stem": 33, "growth": 5, "bn_size": 3, "blocks": [2, 2, 3, 3]},
                 marks=pytest.mark.slow, id="densenet264"),
    # DenseNet-BC's compression theta, 1.0: DenseNet-B, whose stem is 16 wide (the spec's choice);
    # bottleneck 0: plain DenseNet, (depth - 4) // 3 layers a block, each without its 1x1 conv
    pytest.param("densenet_cifar", {"growth": 7, "depth": 40, "bottleneck": 0, "compression": 1.0},
                 marks=pytest.mark.slow, id="densenet_cifar"),
    pytest.param("densenet_cifar", {"growth": 12, "depth": 100, "bottleneck": 2, "compression": 0.3},
                 marks=pytest.mark.slow, id="densenet_cifar-0.3"),
    # k_r: through the top's `let:` widths; depths and incs: timm's loop over the stages, the width carried
    pytest.param("dpn68", {"stem": 16, "k_r": 96, "depths": [2, 1, 5, 2], "incs": [8, 24, 16, 40]}, id="dpn68"),
    pytest.param("resnest14d", {"stem_width": 24}, id="resnest14d"),     # timm's stem_width
    # timm's Res2Net(base_width=26, cardinality=1): its Bottle2neck computes the subsets' width from
    # them (Res2NeXt-50 is groups=8 base_width=4); 14 and 8: another width and its ladder's slices
    pytest.param("res2net50_26w_4s", {"base_width": 14, "groups": 8}, marks=pytest.mark.slow, id="res2net50_26w_4s"),
]


def _source(name):
    """A shipped spec's generated file, emitted once per test process (paths.shipped_source): the
    tests here read it and build its class, several per spec, and a big spec's emit takes ~1 s."""
    return shipped_source(SPECS / f"{name}.yaml")


def _model_class(name):
    return _module_class(name, "Model")


def _module_class(name, cls):
    namespace: dict = {}
    exec(compile(_source(name), f"{name}.py", "exec"), namespace)
    return namespace[cls]


def _spec(name, device="meta", **values):
    """The oracle: the spec built with `values` (its expansion, as --set gives them), its module
    written with numbers (a graph from no file: `vary` builds nothing, and decides only what the top
    class takes, never what it builds; the sweep below builds its oracle so too)."""
    graph = analyze(archspec.load(str(SPECS / f"{name}.yaml"), **values))
    graph.meta.file = None
    return archspec.compile(graph, device=device)


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name,values", CASES)
def test_top_class_built_with_other_widths_is_the_spec_built_with_them(name, values):
    cls = _model_class(name)
    taken = set(inspect.signature(cls).parameters) - {"num_classes", "layers"}     # (layers: LAYERS below)
    assert taken == set(values)
    for chosen in [*({p: v} for p, v in values.items()), values]:     # each alone, then all together
        with torch.device("meta"):
            ours = cls(**chosen)
        spec = _spec(name, **chosen)
        assert _shapes(ours) == _shapes(spec), chosen
        assert list(ours.state_dict()) == list(spec.state_dict()), chosen
        assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in spec.parameters())


# the fast lane: a flag-like int and a float (DenseNet-CIFAR's bottleneck, whose 0 drops the 1x1
# conv and changes the layer count, and its compression), a tuple (ResNet-18's layers); the other
# specs in the slow lane (ConvNeXt's floats, HRNet's widths, PyramidNet's alpha: 5-10 s of CPU each)
FAST = {"densenet_cifar", "resnet18"}
SWEEP = [p if p.stem in FAST else pytest.param(p, marks=pytest.mark.slow, id=p.stem) for p in ALL_SPECS]
NEAR = 8            # how many steps from the default a number's nearest valid neighbour is looked for


def _valid(path, p, value):
    """The spec built with --set p=value (the validator's graph: constraints, shapes), or None
    where the spec refuses it."""
    try:
        return analyze(archspec.load(str(path), [f"{p}={_written(value)}"]))
    except archspec.SpecErrors:
        return None


def _written(value):
    """A value as --set reads it (YAML): a tuple as a list (VGG's stages, lists of lists), a flag
    as YAML's."""
    if isinstance(value, tuple):
        return "[" + ", ".join(map(_written, value)) + "]"
    return str(value).lower() if type(value) is bool else repr(value)


def _first(path, p, default, values):
    """The first of `values` (other than the default) the spec accepts, with its graph."""
    for value in values:
        if value != default and (graph := _valid(path, p, value)) is not None:
            return value, graph
    return None


def _near(default):
    """A number's neighbours, nearest first: plus and minus a step (an int's 1, a float's half
    and double), then an int's multiples (DPN's k_r, a multiple of its groups)."""
    if type(default) is float:
        return [v for k in range(1, NEAR + 1) for v in (default / 2 ** k, default * 2 ** k)]
    return [v for k in range(1, NEAR + 1) for v in (default + k, default - k)] + [
        v for k in range(2, NEAR + 1) for v in (default * k, default // k)]


def _changed(default, i):
    """A tuple's values with item i changed: its first number's neighbours (an item that is a
    tuple: MobileNetV2's rows, VGG's stages)."""
    item = default[i]
    if not isinstance(item, tuple):
        return [default[:i] + (v,) + default[i + 1:] for v in _near(item)]
    return [default[:i] + (v,) + default[i + 1:] for j in range(len(item)) for v in _changed(item, j)]


def _others(path, p, default):
    """Other values of parameter p the spec accepts, each with its graph: a number at 0 and 1,
    where a flag or a condition turns (`6 if bottleneck else 3`, `compression < 1`), and its
    nearest valid neighbour; a flag the other way; a tuple with one item changed, each item in
    turn. Empty where no other value validates."""
    if type(default) is bool:
        found = [_first(path, p, default, [not default])]
    elif isinstance(default, tuple):
        found = [_first(path, p, default, _changed(default, i)) for i in range(len(default))]
    elif type(default) in (int, float):
        found = [_first(path, p, default, _near(default)),
                 *(_first(path, p, default, [type(default)(v)]) for v in (0, 1))]
    else:
        return {}
    return {repr(v): (v, g) for v, g in filter(None, found)}


@pytest.mark.parametrize("path", SWEEP, ids=lambda p: p.stem)
def test_every_parameter_the_top_class_takes_builds_the_spec_at_other_values(path):
    """Generic, over every shipped spec: each parameter the top class takes, at other values the
    spec's own validator accepts (`_others`: 0 and 1 for a number, its nearest valid neighbour,
    a flag the other way, each item of a tuple changed), builds the state_dict (keys, shapes) and
    parameter count of the spec built with --set of that value (the graph's own count, no torch;
    its module as `archspec build --set` writes it, its numbers as numbers). A parameter taken
    but folded at its default (main's DenseNet-CIFAR wrote `(depth - 4) // 6`, where the spec says
    `6 if bottleneck else 3`, and built the 1x1 convs at bottleneck 0) fails here."""
    namespace: dict = {}
    exec(compile(shipped_source(path), path.name, "exec"), namespace)
    cls = namespace["Model"]
    wrong, untried = [], []
    own = archspec.load(str(path)).params
    # (not a spec parameter, which --set cannot give: VGG's `stages`, its blocks' `let:` list, which
    # test_vgg_takes_its_stage_configuration_as_torchvision_s_make_layers builds at others)
    for p in (p for p in inspect.signature(cls).parameters.values() if p.name in own):
        others = _others(path, p.name, p.default)
        untried += [p.name] if not others else []
        for shown, (value, graph) in others.items():
            with torch.device("meta"):
                ours = cls(**{p.name: value})
            graph.meta.file = None      # its module written with numbers, taking nothing (no `vary` builds)
            spec = archspec.compile(graph, device="meta")
            if (list(ours.state_dict()) != list(spec.state_dict()) or _shapes(ours) != _shapes(spec)
                    or sum(t.numel() for t in ours.parameters()) != graph.params):
                wrong.append(f"{p.name}={shown}")
    assert not wrong, f"{path.stem}: the top class built with {wrong} is not the spec built with them"
    # a parameter no other value of validates is taken only as the spec's: none shipped has one
    assert not untried, f"{path.stem}: no other valid value of {untried}"


def test_res2net_s_block_computes_its_subsets_from_base_width():
    """Res2Net's Bottle2neck, as timm's: the subsets' width from base_width (not `planes * 26 //
    64`), the slices one comprehension over the subsets' index, their bounds the spec's `i * width`
    and `(i + 1) * width`, the concat of the subsets `4 * width` (three subsets and the last,
    `width * scale - (scale - 1) * width`, collected). A block's concat of two `out`-wide children
    is `2 * out`, and the input's width more where the level root's concat reads it too (DLA's tree
    root, as timm's `root_dim = 2 * out_channels`, `if level_root: root_dim += in_channels`)."""
    text = _source("res2net50_26w_4s")
    assert "        width = planes * base_width // 64 * groups\n" in text
    assert "            [Slice(1, start=i * width, stop=(i + 1) * width) for i in range(3)]\n" in text
    assert "        self.last = Slice(1, start=3 * width)\n" in text
    assert "        self.conv3 = nn.Conv2d(4 * width, planes * 4, 1, bias=False)\n" in text
    assert "    def __init__(self, num_classes=1000, base_width=26, groups=1, layers=(3, 4, 6, 3)):\n" in text
    assert ("        self.root = Root(2 * out + in_channels if level_root else 2 * out, out)\n"
            in _source("dla34"))


def test_dla_takes_its_channels_and_its_last_trees_take_their_roots_width():
    """DLA-34's top takes `channels` as timm's DLA, each width an item (`channels[2]`, the classifier's
    `channels[5]`); the last tree's root concatenates its parent's bottom, whose width the class
    cannot know: it takes the root's width, its caller writes it from the spec's concatenation
    (`3 * out + in_channels`), not a fit of the spec's own widths (`7 * out // 2`, true only where
    each level doubles: the class would differ at other channels, and the top could not take them)."""
    text = _source("dla34")
    assert "    def __init__(self, num_classes=1000, channels=(16, 32, 64, 128, 256, 512)):\n" in text
    assert "        self.level2 = Tree(channels[1], channels[2], stride=2)\n" in text
    assert "        self.fc = nn.Conv2d(channels[5], num_classes, 1)\n" in text
    assert "        self.tree2 = LastTree(out, 3 * out + in_channels)\n" in text
    assert "        self.root = Root(root_in_channels, out)\n" in text and "7 * out // 2" not in text


# a block's one instance whose input width is its `planes` only where the top's `w` is 16
PLANES = """archspec: 1
name: toy
input: [3, 8, 8]
params: {w: 16, num_classes: 10}
blocks:
  unit:
    params: {planes: int}
    nodes:
      - a: {op: conv, out: "${planes * 4}", k: 1}
nodes:
  - stem: {op: conv, out: "${w}", k: 3, pad: 1}
  - u: {use: unit, planes: 16}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def test_a_width_another_value_does_not_fit_stays_a_number(spec_file, monkeypatch):
    """The block's class writes its input width as `planes`, which it equals only where w is 16
    (as ResNeSt-14d's first Bottleneck did, when it was a class of its own): the top class may
    not take w (vary builds the spec with another and finds the class's source changed).
    Without the check it would."""
    path = spec_file(PLANES)
    text = emit(analyze(path))
    assert "self.a = nn.Conv2d(planes, planes * 4, 1)" in text and "def __init__(self, num_classes=10):" in text
    monkeypatch.setattr(widen, "refuted", lambda *a: frozenset())
    unchecked = emit(analyze(path))
    assert "def __init__(self, num_classes=10, w=16):" in unchecked


def test_resnest_takes_its_stem_width_and_layers():
    """ResNeSt-14d's Bottleneck takes its input width (one class for the four): the top class
    takes timm's stem_width; and its layers, one block a stage, written as timm's make_blocks
    builds a stage at any depth (emit/widen.py): the first block given the shortcut (layer1.0's
    keeping the pool's place with nn.Identity), the others plain, `range(layers[0] - 1)`; the
    block builds its avd pool under the spec's `avd` (`stride > 1`), as timm's."""
    text = _source("resnest14d")
    assert "def __init__(self, num_classes=1000, stem_width=32, layers=(1, 1, 1, 1)):" in text
    assert ("            Bottleneck(\n                2 * stem_width,\n                64,\n"
            "                downsample=nn.Sequential(\n                    nn.Identity(),\n") in text
    assert "            *[Bottleneck(256, 64) for _ in range(layers[0] - 1)],\n" in text
    assert "    def __init__(self, in_channels, planes, stride=1, downsample=None):\n" in text
    assert "        self.avd_last = nn.AvgPool2d(3, stride=stride, padding=1) if stride > 1 else None\n" in text
    assert '    """Block \'bottleneck\': layer1.0, layer2.0, layer3.0, layer4.0 (4 instances)."""\n' in text


def test_a_spec_from_no_file_takes_no_width(tmp_path):
    """vary reloads the spec from its file; a graph with none keeps its widths as numbers."""
    g = analyze(str(SPECS / "densenet121.yaml"))
    assert "def __init__(self, num_classes=1000, stem=64, growth=32, bn_size=4, blocks=(6, 12, 24, 16)):" in emit(g)
    g.meta.file = None
    assert "def __init__(self, num_classes=1000):" in emit(g)


# a toy: the top's width `w` through a block whose widths read `input.channels`
TOY = """archspec: 1
name: toy
input: [3, 8, 8]
params: {w: 16, num_classes: 10}
blocks:
  unit:
    params: {f: 0.5}
    nodes:
      - a: {op: conv, out: "${2 * input.channels}", k: 1}
      - b: {op: conv, out: "${input.channels + 1}", k: 1}
      - c: {op: conv, out: "${floor(input.channels * f)}", k: 1}
nodes:
  - stem: {op: conv, out: "${w}", k: 3, pad: 1}
  - u: {use: unit, f: FACTOR}
  - pool: {op: avgpool, k: 4, stride: 4}
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def _widths(spec_file, factor="0.5"):
    g = analyze(spec_file(TOY.replace("FACTOR", factor)))
    return g, TopWidths(g)


def test_input_is_the_node_s_own_input(spec_file):
    """In a node's `out`, `input` is the tensor the node reads (b reads a's output: 2 * w, so
    its out is 2 * w + 1), not the block's input."""
    _, t = _widths(spec_file)
    assert [t.of(n) for n in ("stem", "u.a", "u.b", "u.c")] == ["w", "2 * w", "2 * w + 1", "(2 * w + 1) // 2"]


def test_a_floor_is_written_only_where_the_product_is_exact(spec_file):
    """floor(x * 0.3) is not (x * p) // q for 0.3's own p / q (q = 2**54): the float product rounds
    (10 * 0.3 is 3.0000000000000004, whose floor is 3; the exact quotient's is 2)."""
    _, t = _widths(spec_file, "0.3")
    with pytest.raises(Unliftable):
        t.of("u.c")
    _, t = _widths(spec_file, "0.75")
    assert t.of("u.c") == "(6 * w + 3) // 4"


QUOTIENT = """archspec: 1
name: quotient
input: [3, 8, 8]
params: {w: 48, m: 7, num_classes: 10}
nodes:
  - a: {op: conv, out: "${floor(16 + w * 5 / m)}", k: 1}
  - b: {op: conv, out: "${floor(w / 2.5)}", k: 1}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def test_a_floor_of_a_quotient_is_its_integer_quotient(spec_file):
    """`floor(c + a / d)` of int arithmetic is written `c + a // d` (PyramidNet's unit widths); a
    float in it is not (w / 2.5 is no integer quotient)."""
    g = analyze(spec_file(QUOTIENT))
    t = TopWidths(g)
    assert t.of("a") == "16 + 5 * w // m"
    with pytest.raises(Unliftable):
        t.of("b")


def test_the_integer_quotient_is_the_interpreter_s_float_floor_within_the_bound():
    """lift._EXACT_SUM: where 2|a| + |d| (|c| + 1) < 2**53 the interpreter's floor(c + a / d), float
    steps, is c + a // d (the oracle: Python's exact integers) -- at random values of every size
    and at the edge; past the bound it is not always (a rounding reaches the next integer)."""
    rng = random.Random(0)
    cases = []
    for _ in range(20_000):
        d = rng.choice([1, -1]) * rng.randrange(1, 2 ** rng.randrange(1, 40))
        c = rng.randrange(-(2 ** rng.randrange(1, 50)), 2 ** rng.randrange(1, 50))
        room = (2**53 - abs(d) * (abs(c) + 1)) // 2
        if room > 0:
            cases.append((c, rng.choice([1, -1]) * rng.randrange(0, min(room, 2 ** rng.randrange(1, 53))), d))
    cases += [(0, 2**52 - 3, 2), (0, 2**51 + 1, 3), (16, 2**52 - 2**30 - 1, 2**20 - 1), (0, -(2**52 - 4), 7)]
    for c, a, d in cases:
        assert 2 * abs(a) + abs(d) * (abs(c) + 1) < 2**53
        assert evaluate("floor(c + a / d)", {"c": c, "a": a, "d": d}) == c + a // d, (c, a, d)
    for c, a, d in ((0, 2**54 - 1, 2), (2**52, 2, 3)):       # past it: x.5 rounds up, 2**52 + 2/3 too
        assert evaluate("floor(c + a / d)", {"c": c, "a": a, "d": d}) == c + a // d + 1


def test_a_width_follows_an_op_only_as_its_shape_rule_says(spec_file):
    """A flatten of 2 x 2 positions gives 4 values a channel: 4 times the channels' width
    (`widthexpr.spread`, by the op's shape rule at three widths), not the channels' width."""
    g, t = _widths(spec_file)
    assert t.of("pool") == "(2 * w + 1) // 2"
    assert t.of("flatten") == "4 * ((2 * w + 1) // 2)"
    text = emit(g)
    assert "def __init__(self, num_classes=10):" in text and "nn.Linear(64, num_classes)" in text


def test_a_quotient_two_numbers_read_is_a_local():
    """torchvision's DenseNet keeps `num_features`: the top class carries each block's input width
    through its loop over `blocks` (`emit/blockloop.py`), a transition's output its input // 2; the
    transition computes its own width from its compression (torchvision's caller passes it)."""
    text = _source("densenet121")
    assert ("        num_features = stem\n        for i, num_layers in enumerate(blocks):\n" in text
            and "            num_features = num_features + num_layers * growth\n" in text
            and "                num_features = num_features // 2\n" in text)
    assert 'self.features.add_module(f"transition{i + 1}", Transition(num_features))' in text
    assert "nn.Linear(num_features, num_classes)" in text
    assert ("    def __init__(self, in_channels, compression=0.5):\n" in text
            and "nn.Conv2d(in_channels, int(in_channels * compression), 1, bias=False)" in text)


def test_a_width_is_kept_only_where_the_interpreter_gives_it(spec_file, monkeypatch):
    """Were a flatten read as keeping its input's width, the expression would give 16 where the
    tensor has 64: the width is then none (every width is checked against the graph's)."""
    monkeypatch.setattr(widthexpr, "follows", lambda n: "first")
    _, t = _widths(spec_file)
    assert t.of("pool") == "(2 * w + 1) // 2"
    with pytest.raises(Unliftable):
        t.of("flatten")


# -- depths: the counts of the top class's repeats (emit/counts.py) --------------------------------

def _built(cls, name, **values):
    """The class and the spec (archspec.compile, the oracle) built with `values`: equal state_dicts
    (keys in order, shapes); the parameter count."""
    with torch.device("meta"):
        ours = cls(**values)
    spec = _spec(name, **values)
    assert list(ours.state_dict()) == list(spec.state_dict()) and _shapes(ours) == _shapes(spec), values
    return sum(p.numel() for p in ours.parameters())


def test_cifar_resnet_takes_n_and_builds_each_depth_of_the_paper():
    """He et al. 2015, Table 6: ResNet-20, -32, -44, -56 (n = 3, 5, 7, 9) have 0.27, 0.46, 0.66 and
    0.85M parameters; the top class takes n as the stages' repeat counts, torchvision's loop over a
    stage's blocks (`range(n - 1)` after the strided first)."""
    text = _source("resnet20_cifar")
    assert "    def __init__(self, num_classes=10, n=3):\n" in text
    assert "            *[Basic(16, 16) for _ in range(n)],\n" in text
    assert "            *[Basic(32, 32) for _ in range(n - 1)],\n" in text
    cls = _model_class("resnet20_cifar")
    for n, millions in ((3, 0.27), (5, 0.46), (7, 0.66), (9, 0.85), (1, None), (2, None)):
        count = _built(cls, "resnet20_cifar", n=n)
        assert millions is None or round(count / 1e6, 2) == millions, (n, count)


def test_wrn_takes_depth_where_its_double_breaks_the_constraint():
    """WRN's depth is 6n + 4: 56 (twice 28) is refused by the spec, so `vary` tries on to 58, which
    it builds. The class then writes each group's count as the spec computes it."""
    text = _source("wrn28_10")
    assert "    def __init__(self, num_classes=10, k=10, depth=28):\n" in text
    assert "            *[WideBasic(64 * k, 64 * k) for _ in range((depth - 4) // 6 - 1)],\n" in text
    cls = _model_class("wrn28_10")
    assert _built(cls, "wrn28_10") == 36_479_194       # 36.5M (Zagoruyko & Komodakis 2016, Table 3)
    for depth in (10, 16, 40):
        _built(cls, "wrn28_10", depth=depth)


WRN_TEST = "            if stride != 1 or in_channels != out\n"


def test_wrn_takes_k_each_block_deciding_its_shortcut():
    """WRN's k (Zagoruyko & Komodakis 2016, Table 1: widths 16k, 32k, 64k) is the top class's: each
    WideBasic builds its 1x1 shortcut itself under the block's `project` (emit/guard.py's
    `let_test`), as the authors' block builds its convShortcut where not equalInOut, so that at k = 1
    block1.0 (16 in, 16 out, stride 1) has none, as the spec built there: the same state_dict, and
    the same outputs with the same weights. The source whitelist admits that test, no other form."""
    text = _source("wrn28_10")
    assert ("        self.shortcut = (\n            nn.Conv2d(in_channels, out, 1, stride=stride, bias=False)\n"
            + WRN_TEST + "            else None\n        )\n") in text
    assert "            WideBasic(16, 16 * k),\n" in text
    assert "        self.fc = nn.Linear(64 * k, num_classes)\n" in text
    check_generated_source(text)
    for evil in ("stride != 1 or in_channels != len(out)", "stride != 1 or out.real", "stride != 1.5 or in_channels",
                 "print(stride) or in_channels != out", "stride != 1 or in_channel != out"):
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(text.replace(WRN_TEST, f"            if {evil}\n"))
    cls = _model_class("wrn28_10")
    for k in (1, 2, 4):
        _built(cls, "wrn28_10", k=k, depth=10)
    assert ("block1.0.shortcut.weight" in cls(depth=10).state_dict()) != (
        "block1.0.shortcut.weight" in cls(k=1, depth=10).state_dict())
    torch.manual_seed(0)
    ours = cls(k=1, depth=10).eval()
    spec = _spec("wrn28_10", None, k=1, depth=10).eval()
    spec.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), spec(x))


# ResNet's stages' depths, torchvision's ResNet(block, layers): the spec's list, a tuple the top takes
# (the fast lane: ResNet-18's; a bottleneck's depths, ResNet-50's, are the fuse check's below)
LAYERS = [pytest.param("resnet18", [(1, 1, 1, 1), (3, 1, 4, 2)], id="resnet18"),
          pytest.param("resnet50", [(2, 2, 2, 2), (1, 3, 2, 5)], marks=pytest.mark.slow, id="resnet50"),
          pytest.param("resnet34", [(2, 2, 2, 2)], marks=pytest.mark.slow, id="resnet34"),
          pytest.param("resnet101", [(2, 2, 2, 2)], marks=pytest.mark.slow, id="resnet101"),
          pytest.param("resnet152", [(2, 2, 2, 2)], marks=pytest.mark.slow, id="resnet152"),
          pytest.param("resnext50_32x4d", [(1, 2, 3, 4)], marks=pytest.mark.slow, id="resnext50_32x4d"),
          pytest.param("wide_resnet50_2", [(1, 2, 3, 4)], marks=pytest.mark.slow, id="wide_resnet50_2"),
          pytest.param("seresnet50", [(1, 2, 3, 4)], marks=pytest.mark.slow, id="seresnet50"),
          pytest.param("res2net50_26w_4s", [(1, 2, 3, 4)], marks=pytest.mark.slow, id="res2net50_26w_4s")]


@pytest.mark.parametrize("name,others", LAYERS)
def test_resnet_takes_its_stages_depths_as_layers(name, others):
    """The top class takes the spec's `layers` as a tuple (`layers=(3, 4, 6, 3)`), each stage's run
    after its strided first block `range(layers[k] - 1)`: at other depths (1 too: the stage's first
    block alone) it is the spec built with `--set layers=[...]`, the very state_dict, and with the
    spec's weights loaded strictly its outputs equal the spec's."""
    cls = _model_class(name)
    default = inspect.signature(cls).parameters["layers"].default
    assert default == tuple(archspec.load(str(SPECS / f"{name}.yaml")).params["layers"])
    assert type(default) is tuple
    _built(cls, name)
    for layers in others:
        with torch.device("meta"):
            ours = cls(layers=layers)
        spec = _spec(name, layers=list(layers))     # (--set's list)
        _same_network(ours, spec, layers)
    torch.manual_seed(0)
    ours = cls(layers=others[0]).eval()
    spec = _spec(name, None, layers=list(others[0])).eval()
    ours.load_state_dict(spec.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), spec(x))


# a repeat whose steps alternate: only the last is written alike to none before it (n >= 1: at 0
# the spec builds no unit, the class its first; `vary` tries a count at 0 too and would refute n)
GROWING = """archspec: 1
name: grow
input: [3, 8, 8]
params: {n: 3, num_classes: 10}
constraints: [{check: "n >= 1", message: "one unit or more"}]
blocks:
  unit:
    params: {out: int}
    nodes:
      - conv: {op: conv, out: "${out}", k: 1}
  stage:
    params: {depth: int}
    nodes:
      - repeat: ${depth}
        node: {use: unit, out: "${8 + STEP}"}
nodes:
  - body: {use: stage, depth: "${n}"}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def test_a_count_another_value_does_not_fit_stays_a_number(spec_file, monkeypatch):
    """Its steps' widths alternate with the index (`8 + i % 2`, no arithmetic a class writes): the
    run the count would write is the last step alone (`range(n - 2)` of Unit(9, 8)), which at n = 6
    would build four alike where the spec builds 8, 9, 8, 9 wide. `vary` builds the spec with n = 6
    and refuses n; without it the class would take it."""
    path = spec_file(GROWING.replace("STEP", "i % 2"))
    text = emit(analyze(path))
    assert "def __init__(self, num_classes=10):" in text and "range(" not in text
    monkeypatch.setattr(widen, "refuted", lambda *a: frozenset())
    unchecked = emit(analyze(path))
    assert "def __init__(self, num_classes=10, n=3):" in unchecked
    assert "*[Unit(9, 8) for _ in range(n - 2)]," in unchecked


def test_steps_whose_widths_follow_the_index_are_one_loop_to_the_count(spec_file):
    """Steps `8 + i` wide, each reading the one before's output: the top class writes a step's
    width from its index and its input width as the step before's (`7 + i`), the steps from 1 on one
    comprehension to the count (`range(1, n)`), and so takes n; built with other n it is the spec
    built with them (the oracle: the spec's own expansion)."""
    path = spec_file(GROWING.replace("STEP", "i"))
    text = emit(analyze(path))
    assert "def __init__(self, num_classes=10, n=3):" in text
    assert "            Unit(3, 8),\n            *[Unit(7 + i, 8 + i) for i in range(1, n)],\n" in text
    assert "        self.fc = nn.Linear(7 + n, num_classes)\n" in text
    namespace: dict = {}
    exec(compile(text, "grow.py", "exec"), namespace)
    for n in (1, 2, 6):
        with torch.device("meta"):
            ours = namespace["Model"](n=n)
        spec = archspec.compile(path, device="meta", n=n)
        assert list(ours.state_dict()) == list(spec.state_dict()) and _shapes(ours) == _shapes(spec), n


def test_a_step_s_width_is_written_only_where_it_gives_the_graph_s(spec_file):
    """Past lift._EXACT_SUM's bound the integer quotient is not the interpreter's float floor:
    floor(8 + (big * (i + 1) - 1) / big) with big = 2**54 is 9 + i (the quotient rounds up to i + 1),
    `8 + (big * (i + 1) - 1) // big` is 8 + i. The step's width is then no expression (steps.py
    checks it against the graph's number), and the class builds the spec's Unit(3, 9), Unit(9, 10)."""
    path = spec_file(GROWING.replace('{n: 3,', '{n: 3, big: 18014398509481984,')
                     .replace('"${8 + STEP}"', '"${floor(8 + (big * (i + 1) - 1) / big)}"'))
    text = emit(analyze(path))
    assert "//" not in text and "            Unit(3, 9),\n            Unit(9, 10),\n" in text
    namespace: dict = {}
    exec(compile(text, "grow.py", "exec"), namespace)
    with torch.device("meta"):
        ours = namespace["Model"]()
    assert _shapes(ours) == _shapes(archspec.compile(path, device="meta"))


def test_pyramidnet_takes_alpha_and_n_and_builds_table_4():
    """PyramidNet's unit k (1 .. N = 3n) is floor(16 + alpha k / N) wide (Han et al. 2017, Eq. 2):
    the top class takes alpha and n, computes `units = 3 * n` as the spec does, and builds each
    stage's units 1 .. n - 1 in one comprehension, a unit's input the one before's output, as the
    spec builds them at other alpha and n (state_dict keys, shapes). Table 4's PyramidNet-110:
    alpha 48, 1.7M; 84, 3.8M; 270, 28.3M. The spec builds 1.74, 3.86 and 28.49M: the first rounds to
    the paper's figure, the others are within 1.5% of it (the paper does not say how it counted)."""
    text = _source("pyramidnet110")
    assert "    def __init__(self, num_classes=10, alpha=48, n=18):\n        super().__init__()\n" \
           "        units = 3 * n\n" in text
    assert ("            *[\n"
            "                PyramidalUnit(16 + alpha * (n + i) // units, 16 + alpha * (n + i + 1) // units)\n"
            "                for i in range(1, n)\n"
            "            ],\n") in text
    cls = _model_class("pyramidnet110")
    counts = {}
    for alpha, millions in ((48, 1.7), (84, 3.8), (270, 28.3)):
        counts[alpha] = count = _built(cls, "pyramidnet110", alpha=alpha)
        assert round(count / 1e6, 1) == millions if alpha == 48 else abs(count / 1e6 - millions) / millions < 0.015
    assert counts[48] == 1_739_730          # (built once: a build on the meta device takes ~0.5 s)
    for values in ({"n": 6}, {"alpha": 84, "n": 6}, {"alpha": 270, "n": 6}, {"n": 1}):
        _built(cls, "pyramidnet110", **values)


@pytest.mark.slow      # the check above on PyramidNet-110 runs in the fast lane; this one builds 272 layers
def test_pyramidnet272_takes_alpha_and_n():
    """The bottleneck PyramidNet-272 (alpha 200, n 30) alike: its own spec built at other values."""
    text = _source("pyramidnet272")
    assert "    def __init__(self, num_classes=10, alpha=200, n=30):\n" in text
    cls = _model_class("pyramidnet272")
    for values in ({"alpha": 48}, {"n": 6}, {"alpha": 84, "n": 2}):
        _built(cls, "pyramidnet272", **values)


def test_densenet_cifar_takes_depth_through_its_dense_blocks_widths():
    """DenseNet-BC's depth L = 6n + 4 sets each dense block's layers, n = (L - 4) // 6, and so the
    width of each block's output (its input plus n times growth). The class writes both from it and
    builds the paper's other DenseNet-BC's (Huang et al. 2017, Table 2: L = 250, k = 24: 15.3M;
    L = 190, k = 40: 25.6M). Its transitions' widths floor(theta * w) as `int(w * compression)`,
    its stem's as the spec's choice; the source whitelist admits those forms, no other call or
    test."""
    text = _source("densenet_cifar")
    # and the bottleneck: at 0 the layers are (depth - 4) // 3, each without its 1x1 conv (`vary`)
    assert "    def __init__(self, num_classes=10, bottleneck=4, compression=0.5, growth=12, depth=100):\n" in text
    assert "        num_layers = (depth - 4) // (6 if bottleneck else 3)\n" in text    # named after what they hold
    assert "        num_features = 2 * growth if bottleneck > 0 and compression < 1 else 16\n" in text
    assert "        num_features_1 = int((num_features + num_layers * growth) * compression)\n" in text
    assert text.count("compression=compression)") == 2        # the top passes its compression on
    check_generated_source(text)
    for evil in (text.replace("= int(", "= float("), text.replace("compression < 1", "compression.real < 1"),
                 text.replace("compression < 1", "compression < len('1')")):
        assert evil != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(evil)
    cls = _model_class("densenet_cifar")
    for values, millions in (({"depth": 250, "growth": 24}, 15.3), ({"depth": 190, "growth": 40}, 25.6)):
        assert round(_built(cls, "densenet_cifar", **values) / 1e6, 1) == millions, values


# the top's `b` read by a block's structure (`when:`), as DenseNet's bn_size, and given to its width `m`
SHAPED = """archspec: 1
name: shaped
input: [3, 8, 8]
params: {w: 8, b: B, num_classes: 10}
blocks:
  unit:
    params: {m: int, o: 5}
    nodes:
      - a: {op: conv, out: "${m}", k: 1, when: "${b < 6}"}
      - c: {op: conv, out: "${o}", k: 1}
nodes:
  - stem: {op: conv, out: "${w}", k: 1}
  - u: {use: unit, m: "${3 * b}"}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def test_a_parameter_a_block_s_structure_reads_is_taken_where_vary_confirms_it(spec_file):
    """A width carried up through a block whose structure reads `b` (its `when:`) holds only for
    the structures `b` gives (`Lifter.shaped`): the top class takes `b` where the spec built at
    another value has the same classes (b = 2, tried at 4: DenseNet's bn_size), and writes it as
    its value where not (b = 4, tried at 8: the block loses its conv a). Unit's `m` is free (a
    caller may vary it), so only `vary` holds `b` there."""
    taken = emit(analyze(spec_file(SHAPED.replace("B", "2"))))
    assert "def __init__(self, num_classes=10, w=8, b=2):" in taken and "Unit(w, 3 * b)" in taken
    held = emit(analyze(spec_file(SHAPED.replace("B", "4"))))
    assert "def __init__(self, num_classes=10, w=8):" in held and "Unit(w, 12)" in held


def test_a_parameter_whose_zero_drops_a_structure_is_not_taken(spec_file, monkeypatch):
    """`when: ${b > 0}` (the dense layer's `bn_size > 0`): twice b keeps conv a, 0 drops it, which
    Unit's class does not test; `vary` tries 0 too (`_turns`), and the top class writes b as its
    value (Model(b=0) would build conv a still). Without the try at 0 it takes b."""
    path = spec_file(SHAPED.replace("B", "2").replace("b < 6", "b > 0"))
    assert "def __init__(self, num_classes=10, w=8):" in emit(analyze(path))
    monkeypatch.setattr(vary, "_turns", lambda v: [])
    assert "def __init__(self, num_classes=10, w=8, b=2):" in emit(analyze(path))


# a dense block of the top's `n` steps, each `g + STEP` wide, joined by concatenation
CARRIED = """archspec: 1
name: carried
input: [3, 8, 8]
params: {w: 8, g: 4, n: 3, num_classes: 10}
blocks:
  layer:
    params: {out: int}
    nodes:
      - conv: {op: conv, out: "${out}", k: 1}
  dense:
    params: {layers: int}
    nodes:
      - repeat: ${layers}
        name: layer${i + 1}
        carry: concat
        node: {use: layer, out: "${g + STEP}"}
nodes:
  - stem: {op: conv, out: "${w}", k: 1}
  - block: {use: dense, layers: "${n}"}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def test_a_concatenated_repeat_s_width_is_its_count_times_its_steps_width(spec_file):
    """The block's output is w plus n times g: written so where every step is g wide; where the
    steps' widths differ (g + i) it is their sum, term by term, the count a number."""
    g = analyze(spec_file(CARRIED.replace("STEP", "0")))
    assert TopWidths(g).of("block.concat_2") == "w + g * n"
    g = analyze(spec_file(CARRIED.replace("STEP", "i")))
    t = TopWidths(g)     # the last step's index is the count less one, the middle one's a number, which
    assert t.of("block.concat_2") == "w + 3 * g + n" and "n" in t.folded     # holds n: written as 3
    assert "nn.Linear(8 + 3 * g + 3, num_classes)" in emit(g)


def _same_network(ours, spec, chosen):
    assert _shapes(ours) == _shapes(spec), chosen
    assert list(ours.state_dict()) == list(spec.state_dict()), chosen
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in spec.parameters()), chosen


@pytest.mark.parametrize("name,se", [("seresnet50", "se"),
                                     pytest.param("seresnext50_32x4d", "se", marks=pytest.mark.slow),
                                     pytest.param("senet154", "se_module", marks=pytest.mark.slow)])
def test_se_reduction_is_taken_and_zero_drops_the_se_modules(name, se):
    """SENet's top classes take the spec's se_reduction (16), as timm's create_attn: each block
    builds its SE module under the block's own `when: ${reduction > 0}` (emit/guard.py). At 0, 8
    and 32 the class is the spec built there; at 0 the SE modules are gone, and the class runs."""
    cls = _model_class(name)
    assert inspect.signature(cls).parameters["se_reduction"].default == 16
    for r in (0, 8, 32):
        with torch.device("meta"):
            ours = cls(se_reduction=r)
        spec = _spec(name, se_reduction=r)
        _same_network(ours, spec, r)
        assert any(f".{se}." in k for k in ours.state_dict()) == (r > 0)
    if name == "seresnet50":                # the forward's `if self.se is not None:`, run
        torch.manual_seed(0)
        ours, spec = cls(se_reduction=0).eval(), _spec(name, None, se_reduction=0).eval()
        spec.load_state_dict(ours.state_dict(), strict=True)
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(ours(x), spec(x))


# a toy: a unit's SE block, absent where its reduction is 0, given the top's `r` as written (R)
GUARDED = """archspec: 1
name: toy
input: [3, 8, 8]
params: {r: 2, num_classes: 10}
blocks:
""" + SE_BLOCK + """  unit:
    params: {c: int}
    nodes:
      - conv: {op: conv, out: "${c}", k: 3, pad: 1}
      - se: {use: se, reduction: "R"}
      - relu
nodes:
  - u1: {use: unit, c: 16}
  - u2: {use: unit, c: 32}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


WIDENS = ("- {op: mul, in: [input, gate]}",
          "- {op: mul, in: [input, gate]}\n      - {op: conv, out: \"${2 * channels}\", k: 1}")
FIRST = ("- conv: {op: conv, out: \"${c}\", k: 3, pad: 1}\n      - se: {use: se, reduction: \"R\"}",
         "- se: {use: se, reduction: \"R\"}\n      - conv: {op: conv, out: \"${c}\", k: 3, pad: 1}")


MEMBER = ("- conv: {op: conv, out: \"${c}\", k: 3, pad: 1}\n      - se: {use: se, reduction: \"R\"}",
          "- body:\n          seq:\n            - {op: conv, out: \"${c}\", k: 3, pad: 1}\n"
          "            - {use: se, reduction: \"R\"}")


@pytest.mark.parametrize("given,change,guard", [
    ("${r}", None, "r > 0"), ("${2 * r}", None, None), ("${r if r > 1 else 0}", None, None),
    ("${r}", WIDENS, None), ("${r}", FIRST, None), ("${r}", MEMBER, None)],
    ids=["name", "product", "choice", "widens", "first", "member"])
def test_a_block_s_own_when_is_tested_by_its_caller_only_as_a_name(spec_file, given, change, guard):
    """A unit passes its SE block the top's `r`: it tests the block's `when:` itself (`if r > 0`),
    and the top class takes r, where it passes r as a bare name, and where the SE block, absent,
    leaves a value of the unit's own of its output's shape (not where it widens, nor where it
    reads the unit's input, which a later op may change in place), and is a child of the unit's
    own (not an nn.Sequential's member, which is never None); else the unit's class writes
    the reduction as its number (it takes no r: Unit(r=0) would build an SE block) and the top
    takes no r. Either way the top class built at each
    value is the spec built there."""
    text = GUARDED.replace(*change) if change else GUARDED
    path = spec_file(text.replace("R", given))
    text = emit(analyze(path))
    assert (f"if {guard} else None" in text) == (guard is not None)
    namespace: dict = {}
    exec(compile(text, "toy.py", "exec"), namespace)
    cls = namespace["Model"]
    assert ("r" in inspect.signature(cls).parameters) == (guard is not None)
    assert ("r" in inspect.signature(namespace["Unit"]).parameters) == (guard is not None)
    for r in (0, 1, 4) if guard else ():
        _same_network(cls(r=r), archspec.compile(path, r=r), r)


# a toy: a top-level `let:` of the top's `w`, read by its index where each unit is made (DPN's `widths`)
TOP_LET = """archspec: 1
name: toy
input: [3, 8, 8]
params: {w: 16, k: 8, num_classes: 10}
let: {widths: "${[w, 2 * w]}"}
blocks:
  unit:
    params: {c: int}
    nodes:
      - conv: {op: conv, out: "${c}", k: 3, pad: 1}
      - relu
nodes:
  - stem: {op: conv, out: "${w}", k: 3, pad: 1}
  - repeat: 2
    node: {use: unit, c: "${k * widths[i] // widths[0] + widths[i]}"}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def test_a_top_level_let_is_its_number_and_holds_what_it_reads(spec_file, monkeypatch):
    """A top-level `let:` read where a block is made (DPN's `r: ${k_r * widths[i] // widths[0]}`)
    is written as its number there (`k + 16`), the parameters it reads held as numbers too: the
    top class takes k, not w, even unchecked by vary (the let's 16 and 32 are w's only at 16)."""
    path = spec_file(TOP_LET)
    monkeypatch.setattr(widen, "refuted", lambda *a: frozenset())
    namespace: dict = {}
    exec(compile(emit(analyze(path)), "toy.py", "exec"), namespace)
    cls = namespace["Model"]
    assert set(inspect.signature(cls).parameters) == {"num_classes", "k"}
    for k in (3, 8, 13):
        _same_network(cls(k=k), archspec.compile(path, k=k), k)


# Each top class at other values of what it takes, on a small input (seconds each); Res2Net's (1.5 s,
# a bottleneck as ResNet-50's and SE-ResNet-50's here) in CI only
FUSED = [("densenet121", {"stem": 24, "growth": 12}, 64), ("dpn68", {"stem": 16, "k_r": 96}, 64),
         ("resnest14d", {"stem_width": 24}, 64),
         pytest.param("res2net50_26w_4s", {"base_width": 14, "groups": 8}, 64, marks=pytest.mark.slow),
         ("resnet20_cifar", {"n": 1}, 32), ("pyramidnet110", {"alpha": 84, "n": 2}, 32),
         ("densenet_cifar", {"growth": 7, "depth": 40, "compression": 1.0}, 32),
         ("wrn28_10", {"depth": 10}, 32), ("seresnet50", {"se_reduction": 0}, 64),
         ("vgg16_bn", {"stages": ((16,), (24, 24), (512,))}, 64),      # its pairs' indices at another configuration
         ("wrn_cifar", {"k": 1}, 32),      # block1.0 without its shortcut: conv1 -> its bn1 no pair
         ("resnet50", {"layers": (1, 3, 2, 1)}, 64)]


@pytest.mark.parametrize("name,values,size", FUSED, ids=[(f.values if hasattr(f, "values") else f)[0] for f in FUSED])
def test_fuse_holds_at_the_other_values_the_top_class_takes(name, values, size):
    """A class's `fuse_pairs` are chosen from the graph at the spec's values; at another value the
    class takes, each pair must still be a conv whose output only its batch norm reads (WRN at
    k = 1 would add conv1's raw output back as block1.0's identity: fusing would change it). The
    fused module's outputs equal the unfused one's (eval, random statistics) within float32
    round-off (1e-5 of the largest output)."""
    torch.manual_seed(0)
    model = _model_class(name)(**values)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5), bn.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        plain = model.eval()(x)
        fused = model.fuse()(x)
    assert (fused - plain).abs().max() <= 1e-5 * plain.abs().max()


@pytest.mark.parametrize("name", ["wrn_cifar", "wrn28_10"])
def test_a_pair_that_needs_a_child_is_folded_exactly_where_it_is(name):
    """WRN's conv1 -> block1.0.bn1 holds only where block1.0 projects its shortcut (at k = 1 it
    adds conv1's raw output back): the top class adds the pair in __init__ where that child is
    (emit/fuse.py's `pair_lines`), so fuse() folds it at k = 10 and leaves it at k = 1 (the
    outputs at both: test_fuse_holds_at_the_other_values_the_top_class_takes)."""
    text = emit(analyze(str(SPECS / f"{name}.yaml")))
    assert "    fuse_pairs = ()\n" in text
    assert ("        if self.block1[0].shortcut is not None:\n"
            '            self.fuse_pairs = (*self.fuse_pairs, ("conv1", "block1.0.bn1"))\n') in text
    cls = _model_class(name)
    for k, folded in ((10, True), (1, False)):
        model = cls(k=k, depth=10).eval().fuse()
        assert isinstance(model.block1[0].bn1, torch.nn.Identity) is folded, k
        assert isinstance(model.block1[0].bn2, torch.nn.Identity), k      # WideBasic's own pair, everywhere


# a stage that some instances build without its unit (`when: ${deep}`): conv -> u.bn1 a pair where the unit
# projects its shortcut (s1), in a class of two instances; head -> head_bn the top's pair
OPTIONAL_UNIT = """archspec: 1
name: net
input: [3, 8, 8]
params: {num_classes: 10}
blocks:
  wb:
    params: {out: int, stride: 1}
    let: {project: "${stride != 1 or input.channels != out}"}
    nodes:
      - bn1: batchnorm
      - relu1: relu
      - conv1: {op: conv, out: "${out}", k: 3, stride: "${stride}", pad: 1, bias: false}
      - shortcut: {in: relu1, op: conv, out: "${out}", k: 1, stride: "${stride}", bias: false, when: "${project}"}
      - {op: add, in: [conv1, "${'shortcut' if project else 'input'}"]}
  stage:
    params: {out: int, deep: true}
    nodes:
      - conv: {op: conv, out: 8, k: 3, pad: 1}
      - u: {use: wb, out: "${out}", when: "${deep}"}
nodes:
  - s1: {use: stage, out: 16}
  - s2: {use: stage, out: 8, deep: false}
  - s3: {use: stage, out: 8}
  - head: {op: conv, out: 8, k: 1}
  - head_bn: batchnorm
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def test_a_pair_that_needs_a_child_is_left_out_of_a_class_of_several_instances(spec_file):
    """A pair that holds only where a child is (`fuse._needs`) is added by the top class alone: in a
    class of several instances the child's path may not be there at all (s2 has no `u`), and
    `if self.u.shortcut is not None:` would fail; the pair is left out, fuse() folds the top's own pair,
    and the outputs stay."""
    path = spec_file(OPTIONAL_UNIT)
    text = emit(analyze(path))
    assert "class Stage(nn.Module):" in text and "self.s2 = Stage(16)" in text and "self.fuse_pairs" not in text
    assert '    fuse_pairs = (("head", "head_bn"),)\n' in text
    check_generated_source(text)
    torch.manual_seed(0)
    namespace: dict = {}
    exec(compile(text, "net.py", "exec"), namespace)
    model = namespace["Model"]().eval()
    assert _shapes(model) == {k: tuple(v) for k, v in analyze(path).state_dict_shapes().items()}
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        plain = model(x)
        assert torch.allclose(model.fuse()(x), plain, atol=1e-5)


def test_a_pair_s_child_is_written_only_by_validated_names():
    """emit/fuse.py's `attribute_path`: the child a pair needs, written as Python reads it from
    self, only where each part is an index or a name `name_problem` passes."""
    from archspec.pytorch.emit.fuse import attribute_path
    assert attribute_path("block1.0.shortcut") == "self.block1[0].shortcut"
    for bad in ["block1.0.x y", "block1.__class__", "block1.0.shortcut)or(print", "import", "b.١"]:
        assert attribute_path(bad) is None, bad


@pytest.mark.parametrize("name,oracle", [("vgg16_bn", "config_D"), ("vgg11", "config_A")])
def test_vgg_takes_its_stage_configuration_as_torchvision_s_make_layers(name, oracle):
    """VGG's features, torchvision's `make_layers(cfg, batch_norm)`: a loop over the stages the top
    class takes (the spec's configuration its default) and, where the spec has them, the batch
    norms under `batch_norm`. Built with other stages (other widths, another count of stages; the
    last 512 wide, as the classifier's 512 * 7 * 7 inputs are written) or without the norms, it is
    the spec built with that configuration (the oracle: the spec's own expansion, its graph's
    state_dict shapes; archspec.compile would build the same loop, with that default)."""
    text = _source(name)
    assert ("        for stage in stages:\n            for width in stage:\n"
            "                layers.append(nn.Conv2d(in_channels, width, 3, padding=1))\n") in text
    assert ("                if batch_norm:\n" in text) == (name == "vgg16_bn")
    cls = _model_class(name)
    for stages in (((32,), (48, 64), (512, 512)), ((8, 8), (16,), (24, 24, 24), (40,), (512, 512, 512, 512))):
        values = {"stages": stages, **({"batch_norm": False} if name == "vgg16_bn" else {})}
        for chosen in ({"stages": stages}, values):
            with torch.device("meta"):
                ours = cls(**chosen)
            g = analyze(str(SPECS / f"{name}.yaml"), **{oracle: [list(s) for s in stages]},
                        **{k: v for k, v in chosen.items() if k != "stages"})
            assert list(_shapes(ours).items()) == list(g.state_dict_shapes().items()), chosen


def test_vgg_c_takes_its_kernels_beside_its_stages():
    """VGG-C's units differ in their kernel (a 1x1 conv closes stages 3-5): the loop zips the stages
    with the kernel sizes the top class takes beside them (the block's `let:` kernels), the conv
    padded by half its kernel. Built with other stages and kernels (a 1x1 first, a stage of 1x1s,
    5x5s), it is the spec built with them as configuration C (the spec's own expansion: its graph's
    state_dict shapes), and its output is the compiled spec's with the same weights (a padding
    other than the spec's changes the convs' outputs)."""
    text = _source("vgg16_c")
    assert ("        kernels=((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),\n" in text
            and "        for stage, kernel in zip(stages, kernels):\n            for width, k in zip(stage, kernel):\n"
            "                layers.append(nn.Conv2d(in_channels, width, k, padding=k // 2))\n" in text)
    check_generated_source(text)
    cls = _model_class("vgg16_c")
    for stages, kernels in ((((8,), (16, 16), (512,)), ((1,), (3, 1), (5,))),
                            (((8, 8), (16,), (24, 24, 24), (512, 512)), ((3, 1), (1,), (1, 1, 1), (5, 3)))):
        torch.manual_seed(0)
        ours = cls(stages=stages, kernels=kernels, num_classes=10)
        values = {"config_C": [list(s) for s in stages], "kernels_C": [list(k) for k in kernels], "num_classes": 10}
        g = analyze(str(SPECS / "vgg16_c.yaml"), **values)
        assert list(_shapes(ours).items()) == list(g.state_dict_shapes().items()), kernels
        # built on the meta device and given ours' weights (assign): its own initialisation of the
        # classifier's 100M weights, replaced at once, took ~1 s of the test's 5
        spec = _spec("vgg16_c", **values)
        spec.load_state_dict(ours.state_dict(), assign=True)
        x = torch.randn(1, 3, 32, 32)
        with torch.no_grad():
            assert torch.equal(ours.eval()(x), spec.eval()(x))


STAGED = """archspec: 1
name: toy
input: [3, 16, 16]
params: {num_classes: 10}
blocks:
  features:
    let: {stages: [[8, 8], [16, 16]], kernels: [[3, 1], [3, 1]]}
    seq:
      - repeat: 2
        index: s
        node:
          - repeat: 2
            node:
              - {op: conv, out: "${stages[s][i]}", k: KERNEL, pad: PAD}
              - relu
          - {op: maxpool, k: 2}
nodes:
  - features: features
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


@pytest.mark.parametrize("kernel,pad,looped", [
    ('"${kernels[s][i]}"', '"${kernels[s][i] // 2}"', True),
    ('"${3 - 2 * i}"', '"${1 - i}"', True),             # the kernels a `let:` holds, though not read from it
    ('"${kernels[s][i]}"', "1", False),                 # the 1x1 padded by 1: no `k // 2`
    ('"${kernels[s][i]}"', '"${kernels[s][i] // 2 * (1 - s)}"', False),   # the second stage unpadded
    ('"${3 - 2 * i + s}"', '"${(3 - 2 * i + s) // 2}"', False),           # 3, 1 then 4, 2: no `let:` holds them
])
def test_a_stage_loop_takes_kernels_only_where_a_let_holds_them_and_half_pads_them(spec_file, kernel, pad, looped):
    """A configuration loop whose units differ in their conv's kernel takes the kernels beside the
    stages (`zip(stages, kernels)`) only where expanding it gives exactly the members' calls (each
    conv padded by half its kernel) and the block's `let:` holds the kernels, stage by stage, to
    name the parameter after; else the child stays written out member by member."""
    text = emit(analyze(spec_file(STAGED.replace("KERNEL", kernel).replace("PAD", pad))))
    check_generated_source(text)
    assert ("        for stage, kernel in zip(stages, kernels):\n" in text) == looped
    written = "        self.features = nn.Sequential(\n            nn.Conv2d(3, 8, 3, padding=1),\n"
    assert (written in text) == (not looped)


@pytest.mark.parametrize("name", ["densenet121", pytest.param("densenet201", marks=pytest.mark.slow)])
def test_densenet_takes_its_block_sizes_as_torchvision_s_loop(name):
    """DenseNet's features, torchvision's `for i, num_layers in enumerate(block_config):` (emit/
    blockloop.py): a dense block each, a transition between two, the width carried on. Built with
    other block sizes, with other widths, it is the spec built with them (the oracle: the spec's own
    expansion, its graph's state_dict shapes, in order; the spec writes its four blocks out, reading
    `blocks[0]` .. `blocks[3]`, so four sizes)."""
    text = _source(name)
    assert ("        for i, num_layers in enumerate(blocks):\n            self.features.add_module(\n"
            '                f"denseblock{i + 1}", DenseBlock(num_features, num_layers, growth') in text
    assert "_out_channels" not in text and "self.classifier = nn.Linear(num_features, num_classes)" in text
    check_generated_source(text)
    cls = _model_class(name)
    for blocks in ([2, 3, 4, 2], [1, 5, 1, 3]):
        for chosen in ({"blocks": tuple(blocks)}, {"blocks": blocks, "growth": 6, "stem": 10}):
            with torch.device("meta"):
                ours = cls(**chosen)
            g = analyze(str(SPECS / f"{name}.yaml"), **{**chosen, "blocks": blocks})
            assert list(_shapes(ours).items()) == list(g.state_dict_shapes().items()), chosen


def test_mobilenet_v2_takes_its_rows_as_torchvision_s_loop():
    """MobileNetV2's inverted residual rows, torchvision's `for t, c, n, s in
    inverted_residual_setting:` / `for i in range(n):` (emit/rowloop.py): the row's first block
    strided, the residual where the stride is 1 and the width kept, the width carried on to the last
    conv. Built with other rows (a row whose first block keeps its width: residual), it is the spec
    built with them: the state_dict's shapes in order, and the same outputs with the same weights."""
    text = _source("mobilenet_v2")
    assert ("        for t, c, n, s in rows:\n            for i in range(n):\n"
            "                stride = s if i == 0 else 1\n") in text
    assert "nn.Conv2d(in_channels, 1280, 1, bias=False)" in text
    check_generated_source(text)
    cls = _model_class("mobilenet_v2")
    for rows in ([[1, 8, 1, 1], [6, 12, 2, 2], [3, 12, 1, 1], [6, 40, 3, 2]], [[2, 32, 1, 2], [6, 24, 2, 1]]):
        ours = cls(rows=tuple(tuple(r) for r in rows)).eval()
        g = analyze(str(SPECS / "mobilenet_v2.yaml"), rows=rows)
        assert list(_shapes(ours).items()) == list(g.state_dict_shapes().items()), rows
        spec = _spec("mobilenet_v2", None, rows=rows).eval()
        spec.load_state_dict(ours.state_dict(), strict=True)
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            assert torch.equal(ours(x), spec(x)), rows


@pytest.mark.parametrize("prefix", ['x{__import__("os").system("id")}', 'dense"block', "dense\\nblock", "Ä"])
def test_a_block_loop_writes_only_prefixes_the_validator_passes(monkeypatch, prefix):
    """emit/blockloop.py writes its members' prefix into an f-string (`f"denseblock{i + 1}"`):
    only one whose numbered names pass `name_problem`. Its pattern holds a prefix to `[a-z][a-z_]*`
    now; here it is widened to any text, and a prefix the validator refuses still makes no loop,
    while `denseblock` makes one."""
    import re

    from archspec.ops.base import Call
    from archspec.pytorch.emit import blockloop

    def members(p: str) -> list[tuple[str, Call]]:
        return [("conv0", Call("nn.Conv2d", (("in_channels", 3), ("out_channels", 64)))),
                (f"{p}1", Call("DenseBlock", (("in_channels", 64), ("layers", 6), ("growth", 32)))),
                ("transition1", Call("Transition", (("in_channels", 256), ("out_channels", 128)))),
                (f"{p}2", Call("DenseBlock", (("in_channels", 128), ("layers", 12), ("growth", 32)))),
                ("norm5", Call("nn.BatchNorm2d", (("num_features", 512),)))]
    slots = [[None, "stem"], ["stem", None, "growth"], ["stem + 6 * growth", "t1"], ["t1", None, "growth"],
             ["t1 + 12 * growth"]]
    lets, env = {"t1": "(stem + 6 * growth) // 2"}, {"stem": 64, "growth": 32}
    monkeypatch.setattr(blockloop, "_NUMBERED", re.compile(r"(.+?)1", re.S))
    assert blockloop.block_loop(members("denseblock"), slots, lets, env) is not None
    assert blockloop.block_loop(members(prefix), slots, lets, env) is None


def test_efficientnet_b0_takes_its_rows_as_torchvision_s_loop():
    """EfficientNet-B0's MBConv rows, torchvision's `for cnf in inverted_residual_setting:` / `for _
    in range(cnf.num_layers):` (emit/rowloop.py, staged): an nn.Sequential a row, each block's
    drop-path rate `stochastic_depth * stage_block_id / total_stage_blocks` from the loop's counter
    and the rows' total. Built with other rows (other counts, strides, kernels, expansions, middle
    widths, a row whose first block keeps its width, other first inputs and last outputs; seven rows,
    as the spec's rate expression reads seven), it is the spec built with them: the state_dict's
    shapes in order, the same outputs with the same weights, and each block's rate the spec's. The
    stem's width and the head's are the spec's `rows[0][3]` and `4 * rows[-1][4]`, as torchvision
    computes them from its config (main wrote 32 and 1280: other rows built another network)."""
    text = emit(analyze(str(SPECS / "efficientnet_b0.yaml")))
    assert ("        in_channels = rows[0][3]\n        total_stage_blocks = sum(row[5] for row in rows)\n"
            "        stage_block_id = 0\n"
            "        for t, k, s, _, c_out, n in rows:\n            stage = []\n            for i in range(n):\n"
            "                stride = s if i == 0 else 1\n") in text
    assert "nn.Conv2d(3, rows[0][3], 3, stride=2, padding=1, bias=False)" in text
    assert "nn.Conv2d(in_channels, 4 * rows[-1][4], 1, bias=False)" in text
    assert "nn.Linear(4 * rows[-1][4], num_classes)" in text
    assert "sd_prob = stochastic_depth * stage_block_id / total_stage_blocks\n" in text and "/ 16" not in text
    check_generated_source(text)
    cls = _model_class("efficientnet_b0")
    for rows in ([[1, 3, 1, 32, 16, 2], [6, 3, 2, 16, 24, 1], [6, 5, 2, 24, 40, 3], [4, 3, 2, 40, 80, 1],
                  [6, 5, 1, 80, 112, 2], [6, 5, 2, 112, 192, 1], [6, 3, 1, 192, 320, 2]],
                 [[1, 3, 2, 24, 16, 1], [6, 3, 1, 16, 16, 1], [3, 5, 1, 16, 24, 2], [6, 3, 1, 24, 24, 1],
                  [6, 5, 2, 24, 48, 1], [2, 5, 1, 48, 48, 3], [6, 3, 1, 48, 96, 1]],
                 # a row's c_in other than the row before's c_out: a block expands what comes in, as the
                 # class does (main's spec expanded c_in, its class the input: two networks)
                 [[1, 3, 1, 32, 16, 1], [6, 3, 2, 17, 24, 1], [6, 5, 2, 24, 40, 2], [6, 3, 2, 40, 80, 2],
                  [6, 5, 1, 80, 112, 2], [6, 5, 2, 112, 192, 1], [6, 3, 1, 200, 320, 1]]):
        ours = cls(rows=tuple(tuple(r) for r in rows), stochastic_depth=0.3).eval()
        g = analyze(str(SPECS / "efficientnet_b0.yaml"), rows=rows, stochastic_depth=0.3)
        assert list(_shapes(ours).items()) == list(g.state_dict_shapes().items()), rows
        spec = _spec("efficientnet_b0", None, rows=rows, stochastic_depth=0.3).eval()
        spec.load_state_dict(ours.state_dict(), strict=True)
        rates = [[m.p for m in net.modules() if type(m).__name__ == "StochasticDepth"] for net in (ours, spec)]
        assert rates[0] == rates[1] and len(rates[0]) > 2 and len(set(rates[0])) == len(rates[0]), rows
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            assert torch.equal(ours(x), spec(x)), rows


@pytest.mark.parametrize("name", ["convnext_tiny", pytest.param("convnext_base", marks=pytest.mark.slow)])
def test_convnext_takes_its_dims_and_depths_as_torchvision_s_loop(name):
    """ConvNeXt's features, torchvision's loop over its block_setting (emit/depthloop.py): a stage
    of `depth` blocks of `dim` channels, a downsampling layer between two, each block's drop-path
    rate `stochastic_depth * stage_block_id / (total_stage_blocks - 1.0)` from the counter over
    `sum(depths)`; the stem's width `dims[0]`, the classifier's `dims[-1]`. Built with other depths
    and widths it is the spec built with them: the state_dict's shapes in order, the same outputs
    with the same weights, each block's rate the spec's."""
    text = emit(analyze(str(SPECS / f"{name}.yaml")))
    assert ("        total_stage_blocks = sum(depths)\n        stage_block_id = 0\n"
            "        for i, (dim, depth) in enumerate(zip(dims, depths)):\n            stage = []\n"
            "            for _ in range(depth):\n"
            "                sd_prob = stochastic_depth * stage_block_id / (total_stage_blocks - 1.0)\n") in text
    assert "nn.Conv2d(3, dims[0], 4, stride=4)" in text and "nn.Linear(dims[-1], num_classes)" in text
    check_generated_source(text)
    cls = _model_class(name)
    for chosen in ({"depths": [2, 2, 4, 2]}, {"dims": [24, 40, 56, 72], "depths": [1, 3, 2, 2],
                                              "stochastic_depth": 0.3}):
        ours = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in chosen.items()}).train()
        g = analyze(str(SPECS / f"{name}.yaml"), **chosen)
        assert list(_shapes(ours).items()) == list(g.state_dict_shapes().items()), chosen
        spec = _spec(name, None, **chosen).eval()
        spec.load_state_dict(ours.state_dict(), strict=True)
        rates = [[m.p for m in net.modules() if type(m).__name__ == "StochasticDepth"] for net in (ours, spec)]
        assert rates[0] == rates[1] and len(rates[0]) == sum(chosen["depths"]) and rates[0][-1] > 0, chosen
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            assert torch.equal(ours.eval()(x), spec(x)), chosen


@pytest.mark.parametrize("in_channels,out,stride", [(16, 16, 1), (16, 24, 1), (16, 16, 2), (24, 16, 2)])
def test_inverted_residual_blocks_decide_their_residual_as_torchvision_s(in_channels, out, stride):
    """MobileNetV2's InvertedResidual and EfficientNet's Mbconv, built alone, add their input exactly
    where torchvision's do (`use_res_connect = stride == 1 and inp == oup`): the class decides it
    from its stride and widths and takes no flag (main's took `residual=False`, which a caller
    could pass against its numbers and which, built alone at stride 1 and one width, added
    nothing). torchvision's block given the class's weights (strict) gives the same output."""
    from functools import partial

    from torchvision.models.efficientnet import MBConv, MBConvConfig
    from torchvision.models.mobilenetv2 import InvertedResidual

    torch.manual_seed(0)
    x = torch.randn(2, in_channels, 8, 8)
    pairs = [(_module_class("mobilenet_v2", "InvertedResidual")(in_channels, 6, out, stride),
              InvertedResidual(in_channels, out, stride, 6)),
             (_module_class("efficientnet_b0", "Mbconv")(in_channels, 6, 3, stride, out, 0.0),
              MBConv(MBConvConfig(6, 3, stride, in_channels, out, 1), 0.0, partial(torch.nn.BatchNorm2d)))]
    for ours, peer in pairs:
        assert "residual" not in inspect.signature(type(ours)).parameters
        peer.load_state_dict(ours.state_dict(), strict=True)
        ours.eval(), peer.eval()
        with torch.no_grad():
            assert torch.equal(ours(x), peer(x)), type(ours).__name__


@pytest.mark.parametrize("in_channels,planes,stride", [(64, 64, 1), (256, 64, 1), (256, 128, 2), (512, 128, 1),
                                                       (512, 128, 2), (128, 64, 1)])
def test_res2net_block_decides_its_first_as_timm_s(in_channels, planes, stride):
    """Res2Net's Bottle2neck, built alone, decides whether it is its stage's first block as the
    spec's `first: stride != 1 or input.channels != planes * 4` does and timm's `is_first`: its
    ladder then adds nothing and its last subset is pooled. It takes neither `first` nor the pool
    (main took `first=True, pool=nn.AvgPool2d(...)`, which a caller could pass against its stride
    and widths). timm's block, given a projection where the shape changes, loads the class's
    weights strictly and gives the same output."""
    from timm.models.res2net import Bottle2neck

    cls = _module_class("res2net50_26w_4s", "Bottle2neck")
    assert not {"first", "pool"} & set(inspect.signature(cls).parameters)
    first = stride != 1 or in_channels != planes * 4

    def projection():
        return torch.nn.Sequential(torch.nn.Conv2d(in_channels, planes * 4, 1, stride=stride, bias=False),
                                   torch.nn.BatchNorm2d(planes * 4)) if first else None
    torch.manual_seed(0)
    ours = cls(in_channels, planes, stride, downsample=projection())
    assert ours.first == first and (ours.pool is not None) == first
    peer = Bottle2neck(in_channels, planes, stride, downsample=projection(), norm_layer=torch.nn.BatchNorm2d)
    for m in ours.modules():            # batch norms that are not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 1.5), m.weight.data.uniform_(0.5, 1.5)
    peer.load_state_dict(ours.state_dict(), strict=True)
    ours.eval(), peer.eval()
    x = torch.randn(2, in_channels, 8, 8)
    with torch.no_grad():
        assert torch.allclose(ours(x), peer(x), atol=1e-6)


ROWS_NET = """archspec: 1
name: rows_net
input: [3, 32, 32]
params:
  rows: [[1, 8, 1, 1], [6, 12, 2, 2], [6, 16, 3, 2]]
blocks:
  unit:
    params: PARAMS
    let:
      hidden: ${input.channels * t}
      LET
      residual: ${stride == 1 and input.channels == c}
    nodes:
      - conv:
          seq:
            - {op: conv, out: "${hidden}", k: 3, stride: "${stride}", pad: 1, bias: false}
            - batchnorm
            - {op: conv, out: "${c}", k: 1, bias: false}
      - {op: add, in: [input, conv], when: "${residual}", else: conv}
nodes:
  - features:
      seq:
        - {op: conv, out: 8, k: 3, pad: 1}
        - repeat: ${len(rows)}
          node:
            repeat: ${rows[i][2]}
            index: j
            node: NODE
"""
ROW_FORMS = {   # the block takes the whole row (`args:`) and its first stride is a `let:`; or it takes what it uses
    "args": ("{t: int, c: int, n: int, s: int, first: true}", "stride: ${s if first else 1}",
             '{use: unit, args: "${rows[i]}", first: "${j == 0}"}'),
    "given": ("{t: int, c: int, stride: int}", "",
              '{use: unit, t: "${rows[i][0]}", c: "${rows[i][1]}", stride: "${rows[i][3] if j == 0 else 1}"}'),
    "other-first": ("{t: int, c: int, stride: int}", "",
                    '{use: unit, t: "${rows[i][0]}", c: "${rows[i][1]}", stride: "${rows[i][3] if j == 1 else 1}"}')}


@pytest.mark.parametrize("form", list(ROW_FORMS))
def test_a_row_loop_names_the_columns_either_way(spec_file, form):
    """emit/rowloop.py's loop, `for t, c, n, s in rows:`, over a table whose rows a block takes
    whole (`args: "${rows[i]}"`, its stride a `let:` `s if first else 1`), or a column a parameter
    (`t: "${rows[i][0]}"`, `stride: "${rows[i][3] if j == 0 else 1}"`, the count `n` and the first
    stride `s` named as torchvision's MobileNetV2 names them): built with other rows, it is the spec
    built with them. A stride the row's first block does not take (`j == 1`) makes no loop."""
    params, let, node = ROW_FORMS[form]
    path = spec_file(ROWS_NET.replace("PARAMS", params).replace("LET", let).replace("NODE", node))
    text = emit(analyze(path))
    check_generated_source(text)
    looped = "        for t, c, n, s in rows:\n            for i in range(n):\n" in text
    assert looped == (form != "other-first")
    namespace: dict = {}
    exec(compile(text, "net.py", "exec"), namespace)
    for rows in ([[1, 8, 1, 1], [6, 12, 2, 2], [6, 16, 3, 2]], [[2, 4, 2, 2], [3, 4, 1, 1], [6, 20, 2, 1]]):
        ours = namespace["Model"](**({"rows": tuple(tuple(r) for r in rows)} if looped else {})).eval()
        if not looped and rows[0][1] != 8:
            continue
        g = analyze(path, rows=rows)
        assert list(_shapes(ours).items()) == list(g.state_dict_shapes().items()), rows
        spec = archspec.compile(path, rows=rows).eval()
        spec.load_state_dict(ours.state_dict(), strict=True)
        x = torch.randn(1, 3, 16, 16)
        with torch.no_grad():
            assert torch.equal(ours(x), spec(x)), rows


HOSTILE_PREFIXES = ['x{__import__("os").system("id")}', 'block"', "blo\\nck", "Ä"]


@pytest.mark.parametrize("prefix", HOSTILE_PREFIXES)
def test_the_named_runs_write_only_prefixes_the_validator_passes(monkeypatch, prefix):
    """The runs of children named prefix<k>, prefix<k + 1>, ... write the prefix into an f-string:
    `source.looped`'s `self.add_module(f"block{i + 4}", ...)`, `classes._ordered_sequential`'s
    comprehension `*[(f"conv4_{j + 2}", ...) for j in range(11)]`, and the class planner's loop over
    a scope's modules (`Loop.prefix`), each through `classes.named_step`: only where the name passes
    `name_problem`. Its pattern holds a prefix to identifier characters now; here it is widened to
    any text, and a prefix the validator refuses still makes no run, while `block` makes each."""
    import re

    from archspec.ops.base import Call
    from archspec.pytorch.emit import classes, source

    monkeypatch.setattr(classes, "NAMED_STEP", re.compile(r"(.+?)(0|[1-9][0-9]*)", re.S))
    call = Call("Block", (("in_channels", 64), ("out_channels", 64)))

    def made(p: str) -> list[tuple[str, str | None, str]]:
        return [(f"{p}{k}", "Block(64, 64)", f"        self.{p}{k} = Block(64, 64)") for k in range(4, 8)]

    def ordered(p: str) -> str:
        return classes._ordered_sequential(Call("nn.Sequential", tuple((f"{p}{k}", call) for k in range(4, 8))),
                                           iter([None] * 8), "        ")

    assert classes.named_step("block4") == ("block", 4)
    assert source.looped(made("block"), frozenset())[1] == '            self.add_module(f"block{i + 4}", Block(64, 64))'
    assert 'f"block{j + 4}"' in ordered("block")
    assert classes.named_step(f"{prefix}4") is None
    assert not any("add_module" in line for line in source.looped(made(prefix), frozenset()))
    assert 'f"' not in ordered(prefix)


def test_a_block_loop_is_kept_only_where_its_expansion_is_the_members():
    """emit/blockloop.py on data: two blocks and the transition between them make a loop whose width
    after a transition is the next block's input as the emitter writes it, the transition's input in
    its place; a transition whose width is not that one, a block that grows by another number, or
    one whose numbers are written otherwise, make none."""
    from archspec.ops.base import Call
    from archspec.pytorch.emit.blockloop import block_loop

    def members(out=128, growth=32):
        return [("conv0", Call("nn.Conv2d", (("in_channels", 3), ("out_channels", 64)))),
                ("denseblock1", Call("DenseBlock", (("in_channels", 64), ("layers", 6), ("growth", 32)))),
                ("transition1", Call("Transition", (("in_channels", 256), ("out_channels", out)))),
                ("denseblock2", Call("DenseBlock", (("in_channels", 128), ("layers", 12), ("growth", growth)))),
                ("norm5", Call("nn.BatchNorm2d", (("num_features", 512),)))]
    slots = [[None, "stem"], ["stem", None, "growth"], ["stem + 6 * growth", "t1"], ["t1", None, "growth"],
             ["t1 + 12 * growth"]]
    lets, env = {"t1": "(stem + 6 * growth) // 2"}, {"stem": 64, "growth": 32}
    loop = block_loop(members(), slots, lets, env)
    assert loop is not None and (loop.counts, loop.after, loop.start, loop.end) == ((6, 12), "num_features // 2", 1, 4)
    assert block_loop(members(out=127), slots, lets, env) is None
    assert block_loop(members(growth=16), slots, lets, env) is None
    assert block_loop(members(), [*slots[:3], ["t1", None, "2 * growth"], slots[4]], lets, env) is None
    assert block_loop(members(), slots, {"t1": "(stem + 6 * growth) // 3"}, env) is None
    floor = block_loop(members(), slots, {"t1": "int((stem + 6 * growth) * compression)"}, {**env, "compression": 0.5})
    assert floor is not None and floor.after == "int(num_features * compression)"      # Transition's compression
    assert block_loop(members(), slots, {"t1": "int((stem + 6 * growth) * compression)"}, {**env, "compression": 0.4}) \
        is None


def test_efficientnet_b0_s_squeeze_is_the_spec_s_max_at_a_narrow_input():
    """MBConv's squeeze width is the spec's `max(1, block_input.channels // 4)` (torchvision's
    `max(1, cnf.input_channels // 4)`): the class writes that, not `in_channels // 4`, which the
    spec's widths (16 and up) alone fit and which makes a 0-wide squeeze where a block's input is
    under 4 channels. Built with rows whose blocks take 2 and 3 channels in, it is the spec built
    with them: the state_dict's shapes in order, the same outputs with the same weights."""
    text = emit(analyze(str(SPECS / "efficientnet_b0.yaml")))
    assert "SqueezeExcitation(hidden, max(1, in_channels // 4))" in text
    check_generated_source(text)
    cls = _model_class("efficientnet_b0")
    rows = [[1, 3, 1, 8, 2, 1], [6, 3, 2, 2, 3, 2], [6, 5, 2, 3, 5, 1], [6, 3, 2, 5, 8, 1],
            [6, 5, 1, 8, 8, 1], [6, 5, 2, 8, 12, 1], [6, 3, 1, 12, 16, 1]]
    ours = cls(rows=tuple(tuple(r) for r in rows)).eval()
    g = analyze(str(SPECS / "efficientnet_b0.yaml"), rows=rows)
    assert list(_shapes(ours).items()) == list(g.state_dict_shapes().items())
    spec = _spec("efficientnet_b0", None, rows=rows).eval()
    spec.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(ours(x), spec(x))
