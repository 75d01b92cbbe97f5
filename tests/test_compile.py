"""The compiler (YAML -> PyTorch): every spec's module against its graph, each op's
numerics against its formula, outputs, init, the build command, and the export paths."""
import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from paths import ALL_SPECS, SPECS, shipped_graph, shipped_source
from source_check import check_generated_source
from torch import nn

import archspec
from archspec.cli import main
from archspec.names import name_problem
from archspec.pytorch.compiler import check, export, load_source, source

TEST_SPECS = sorted((Path(__file__).parent / "specs").glob("*.yaml"))
ALLOPS = str(Path(__file__).parent / "specs" / "allops.yaml")


def _id(p):
    return p.stem


# -- every spec: the module is the graph ------------------------------------------------

# the small specs run in the fast lane (-m "not slow"); the rest take 0.3 - 1.5 s each
QUICK = {"lenet5", "alexnet", "vgg16", "googlenet", "resnet18", "resnet20_cifar", "wrn28_10", "allops"}


@pytest.mark.parametrize("path", [p if p.stem in QUICK else pytest.param(p, marks=pytest.mark.slow)
                                  for p in ALL_SPECS + TEST_SPECS], ids=_id)
def test_module_matches_graph(path):
    """On the meta device: state_dict == Graph.state_dict_shapes() in order, params and buffers,
    FlopCounterMode / 2 == analytic MACs, and every node's real output shape == inferred."""
    report = check(str(path))
    assert report.ok, str(report)
    g = archspec.analyze(str(path))
    assert report.params == (g.params, g.params) and report.macs == (g.macs, g.macs)
    assert report.shapes_checked == len(g.nodes)


def test_check_can_fail():
    g = archspec.analyze(str(SPECS / "resnet18.yaml"))
    g.nodes["layer2.0.conv1"].shape = (128, 27, 27)
    g.nodes["fc"].macs += 1
    problems = "\n".join(check(g).problems)
    assert "layer2.0.conv1: output shape (128, 28, 28), inferred (128, 27, 27)" in problems
    assert "MACs: 1,814,073,344 measured, 1,814,073,345 analytic" in problems


def test_meta_build_allocates_nothing():
    """(Its speed is measured in bench/, not asserted here.)"""
    m = archspec.compile(SPECS / "resnet152.yaml", device="meta")
    assert all(p.is_meta for p in m.parameters())
    assert sum(p.numel() for p in m.parameters()) == 60192808


# -- the generated source -------------------------------------------------------------------

def test_source_is_deterministic_and_torch_free():
    """Same spec -> byte-identical source, across processes with different hash seeds;
    emitting imports no torch."""
    code = ("import sys, archspec\n"
            "from archspec.pytorch.emit import emit\n"
            "for p in sys.argv[1:]:\n"
            "    spec = archspec.load(p)\n"
            "    sys.stdout.write(emit(archspec.analyze(spec)))\n"
            "assert 'torch' not in sys.modules\n")
    paths = [str(SPECS / "googlenet.yaml"), str(SPECS / "densenet121.yaml"), ALLOPS]
    runs = [subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert runs[0] == runs[1]
    assert runs[0] == "".join(source(p) for p in paths)


def test_one_class_per_block_definition():
    """Instances that differ in numbers share a class; so do those where one lacks a child that
    passes its input through when absent: torchvision's `downsample=None`."""
    m = archspec.compile(SPECS / "resnet50.yaml", device="meta")
    blocks = [b for layer in (m.layer1, m.layer2, m.layer3, m.layer4) for b in layer]
    assert len({type(b) for b in blocks}) == 1
    assert [b.downsample is not None for b in blocks] == [k in (0, 3, 7, 13) for k in range(16)]
    text = shipped_source(SPECS / "resnet50.yaml")
    assert text.count("\nclass ") == 2
    assert "def __init__(self, in_channels, planes, stride=1, base_width=64, groups=1, downsample=None):" in text
    assert "        if self.downsample is not None:\n            identity = self.downsample(x)\n" in text
    assert "layer1 = nn.Sequential(" in text and "downsample=nn.Sequential(" in text


def test_a_blocks_plain_default_is_the_signatures(spec_file):
    """A block parameter whose `params:` writes a default (`stride: 1`) defaults to it in the class
    even where every instance gives it (a stage passing `stride: 1` on): calls leave it out
    where it is the default and pass the required ones positionally (torchvision's
    `BasicBlock(64, 64)`, `BasicBlock(64, 128, stride=2)`)."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nblocks:\n  unit:\n    params: {out: int, stride: 1}\n"
        "    nodes:\n      - conv: {op: conv, out: '${out}', k: 3, stride: '${stride}', pad: 1}\n"
        "nodes:\n  - a: {use: unit, out: 6, stride: 1}\n  - b: {use: unit, out: 8, stride: 2}\n")
    text = source(path)
    assert "def __init__(self, in_channels, out, stride=1):" in text
    assert "self.a = Unit(4, 6)\n" in text and "self.b = Unit(6, 8, stride=2)\n" in text
    assert check(path).ok


def test_optional_child_and_loops_together(spec_file):
    """A block with an optional projection shares one class; a run of it is left unrolled (a loop
    would build it without its optional argument); the module still matches the graph."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nblocks:\n  unit:\n    params: {out: int, project: false}\n"
        "    nodes:\n      - conv: {op: conv, out: '${out}', k: 3, pad: 1}\n"
        "      - proj: {in: input, op: conv, out: '${out}', k: 1, when: '${project}'}\n"
        "      - {op: add, in: [conv, proj]}\n"
        "nodes:\n  - first: {use: unit, out: 6, project: true}\n  - group:\n      nodes:\n"
        "        - unit1: {use: unit, out: 6}\n        - unit2: {use: unit, out: 6}\n")
    text = source(path)
    assert text.count("\nclass Unit") == 1 and "def __init__(self, in_channels, out, proj=None):" in text
    assert "self.first = Unit(4, 6, proj=nn.Conv2d(4, 6, 1))" in text and "for " not in text
    assert check(path).ok


def test_repeats_are_loops_with_the_same_state_dict():
    """DenseNet's dense blocks (6, 12, 24, 16 layers whose in_channels grow by the growth rate
    32): one class that builds its layers in a loop and runs them in one, under torchvision's
    names, the step written as the block's parameter."""
    text = shipped_source(SPECS / "densenet121.yaml")
    assert text.count("\nclass DenseBlock") == 1
    assert ('        for i in range(layers):\n            self.add_module(\n'
            '                f"denselayer{i + 1}", DenseLayer(in_channels + i * growth, growth, bn_size=bn_size)\n'
            "            )\n") in text
    assert "        for layer in self.children():\n            new_features = layer(x)\n" in text
    assert "DenseBlock(num_features, num_layers, growth, bn_size=bn_size)" in text      # the top's loop
    with torch.device("meta"):      # archspec.compile's module: the source it runs, emitted once here
        d = load_source(text, "densenet121").Model()
    assert {k: tuple(v.shape) for k, v in d.state_dict().items()} == \
        shipped_graph(SPECS / "densenet121.yaml").state_dict_shapes()
    check_generated_source(text)
    for bad in ['f"denselayer{i + 1}"', "for layer in self.children():"]:
        evil = text.replace(bad, bad.replace("i + 1", "i.__class__").replace("children", "modules"))
        assert evil != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(evil)
    layers = {type(mod) for name, mod in d.named_modules() if name.rsplit(".", 1)[-1].startswith("denselayer")}
    assert len(layers) == 1      # 58 dense layers, one class: only in_channels differ


def test_a_group_that_only_chains_is_an_ordered_sequential():
    """DenseNet's `features` as torchvision writes it, nn.Sequential(OrderedDict([...])) of its named
    modules, no class of its own: the same state_dict, and fuse() still folds conv0 + norm0."""
    text = shipped_source(SPECS / "densenet121.yaml")
    assert "class Features" not in text and text.startswith("# ") and "\nfrom collections import OrderedDict\n" in text
    assert ('        self.features = nn.Sequential(\n            OrderedDict(\n                [\n'
            '                    ("conv0", nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=False)),\n'
            '                    ("norm0", nn.BatchNorm2d(stem)),\n') in text
    assert '    fuse_pairs = (("features.conv0", "features.norm0"),)\n' in text
    d = archspec.compile(SPECS / "densenet121.yaml")
    assert {k: tuple(v.shape) for k, v in d.state_dict().items()} == \
        archspec.analyze(str(SPECS / "densenet121.yaml")).state_dict_shapes()
    assert type(d.features) is nn.Sequential and isinstance(d.features.denseblock1, nn.Module)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = d.eval()(x)
        assert isinstance(d.fuse().features.norm0, nn.Identity)
        torch.testing.assert_close(d(x), before, rtol=1e-4, atol=1e-4)
    check_generated_source(text)
    _refused(text, [text.replace('("conv0", nn.Conv2d', '("conv0 x", nn.Conv2d'),
                    text.replace('("norm0", nn.BatchNorm2d(stem))', '("norm0", nn.BatchNorm2d(stem), 1)'),
                    text.replace("OrderedDict(\n                [", "OrderedDict(\n                globals() or ["),
                    text.replace("nn.Sequential(\n            OrderedDict(",
                                 "nn.ModuleList(\n            OrderedDict("),
                    text.replace("from collections import OrderedDict\n", "")])


def _refused(text: str, mutants: list[str]) -> None:
    """Each mutant differs from the generated file, and the source whitelist refuses it."""
    for evil in mutants:
        assert evil != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(evil)


@pytest.mark.parametrize("names", [("b01", "b02", "b03"), ("b8", "b9", "b10"), ("c_0", "c_1", "c_2")])
def test_a_run_of_named_children_keeps_their_names(spec_file, names):
    """The comprehension writes each child's own name: `b01` is `b0` and 1 (`f"b0{j + 1}"`), not
    `b` and 01 (which wrote b1, b2, b3: the state_dict's keys changed and check() saw no b01)."""
    nodes = "".join(f"        - {n}: {{op: conv, out: {5 + k}, k: 1}}\n" for k, n in enumerate(names))
    path = spec_file(f"archspec: 1\ninput: [4, 8, 8]\nnodes:\n  - body:\n      nodes:\n{nodes}")
    m = archspec.compile(path, device="meta")
    assert [name for name, _ in m.body.named_children()] == list(names)
    assert check(path).ok


def test_a_loop_keeps_its_modules_names(spec_file):
    """A loop over p01, p02, p03 (DenseNet's denselayer1 ..) adds `f"p0{i + 1}"`, not `f"p{i + 1}"`:
    the names, and so the state_dict's keys, are the spec's (check() saw no p02 before)."""
    path = spec_file(
        "archspec: 1\ninput: [3, 8, 8]\nblocks:\n  unit:\n    params: {w: int}\n    nodes:\n"
        "      - conv: {op: conv, out: '${w}', k: 1}\n"
        "  tower:\n    nodes:\n      - repeat: 3\n        name: 'p0${i + 1}'\n"
        "        node: {use: unit, w: '${4 + i}'}\nnodes:\n  - s: {use: tower}\n")
    assert 'self.add_module(f"p0{i + 1}", Unit(' in source(path)
    m = archspec.compile(path, device="meta")
    assert [name for name, _ in m.s.named_children()] == ["p01", "p02", "p03"]
    assert check(path).ok


def test_a_wrapping_block_that_a_loop_builds_keeps_its_class(spec_file):
    """A block of one tensorless module whose instances p1 .. p4 a loop builds (their numbers grow
    by a step): the loop names the block's class, so it is written (`Pooler(1 + i * 2)`), not
    inlined as the module; the build and its check pass (this was an internal error)."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nblocks:\n  pooler:\n    params: {k: int}\n    nodes:\n"
        "      - {op: maxpool, k: '${k}', stride: 1, pad: '${k // 2}'}\n"
        "  tower:\n    nodes:\n      - repeat: 4\n        name: 'p${i + 1}'\n"
        "        node: {use: pooler, k: '${2 * i + 1}'}\nnodes:\n  - s: {use: tower}\n")
    text = source(path)
    assert "class Pooler(nn.Module):" in text and 'self.add_module(f"p{i + 1}", Pooler(1 + i * 2))' in text
    m = archspec.compile(path)
    x = torch.randn(1, 4, 8, 8)
    want = x
    for k in (1, 3, 5, 7):
        want = F.max_pool2d(want, k, 1, k // 2)
    torch.testing.assert_close(m(x), want, rtol=0, atol=0)
    assert check(path).ok


NAMED_RUN = """archspec: 1
input: [4, 8, 8]
blocks:
  unit:
    params: {out: int}
    nodes:
      - conv: {op: conv, out: '${out}', k: 3, pad: 1}
      - relu
nodes:
  - features:
      - stem: {op: conv, out: 8, k: 1}
      - conv4_1: {use: unit, out: 8}
      - repeat: 4
        name: conv4_${i + 2}
        node: {use: unit, out: '${12 + 4 * i}'}
      - conv5_1: {use: unit, out: 8}
      - conv5_2: {use: unit, out: 8}
  - head: {op: conv, out: 4, k: 1}
"""


def test_a_run_of_named_children_growing_by_a_step_is_one_comprehension(tmp_path):
    """A stage's blocks whose widths grow by a step, conv4_2 .. conv4_5, as one `*[(f"conv4_{j +
    2}", Unit(8 + 4 * j, 12 + 4 * j)) for j in range(4)]` in the OrderedDict, where no loop over
    the top's depths builds the stages (DPN's: test_top_widths); a run of two (conv5_1, conv5_2)
    stays written out. The state_dict keys and their order are the graph's."""
    path = tmp_path / "named_run.yaml"
    path.write_text(NAMED_RUN)
    text = source(path)
    run = '*[(f"conv4_{j + 2}", Unit(8 + 4 * j, 12 + 4 * j)) for j in range(4)],\n'
    assert run in text and '("conv5_1", Unit(24, 8)),\n' in text and '("conv5_2", Unit(8, 8)),\n' in text
    m = archspec.compile(path, device="meta")
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == archspec.analyze(str(path)).state_dict_shapes()
    names = [name for name, _ in m.features.named_children()]
    assert names == ["stem", "conv4_1", *(f"conv4_{k}" for k in range(2, 6)), "conv5_1", "conv5_2"]
    check_generated_source(text)
    _refused(text, [text.replace(run, run.replace('{j + 2}', '{__import__}')),
                    text.replace(run, run.replace('for j in range(4)', 'for j in range(4) if j')),
                    text.replace(run, run.replace('f"conv4_{j + 2}"', '"conv4_" + str(j)')),
                    text.replace(run, run.replace('range(4)', 'x')),
                    text.replace(run, run.replace('{j + 2}', '{j!r}')),
                    text.replace(run, run.replace('f"conv4_', 'f"conv4.')),
                    text.replace(run, run.replace('for j in', 'for self in')),
                    text.replace(run, run.replace('4 * j))', '4 * j), 1)')),
                    text.replace(run, run.replace('range(4)', 'range(4) for k in range(2)'))])


def test_an_input_some_instances_are_given_twice_defaults_to_the_other():
    """DLA's leaves take (x, shortcut), some `in: [tree1, tree1]`: one class, as timm's BasicBlock,
    `forward(self, x, shortcut=None)` with `if shortcut is None: shortcut = x`; callers pass one
    value where the spec gives it twice. The graph's keys, and fuse() folds every leaf."""
    text = shipped_source(SPECS / "dla34.yaml")
    assert text.count("class Basic") == 1 and "class BasicReduction" not in text
    assert ("    def forward(self, x: torch.Tensor, shortcut: torch.Tensor | None = None) -> torch.Tensor:\n"
            "        if shortcut is None:\n            shortcut = x\n        x = self.conv1(x)\n") in text
    assert "self.tree1 = Basic(in_channels, out, stride=stride)\n" in text and "self.tree2 = Basic(out, out)\n" in text
    assert "tree2 = self.tree2(tree1)\n" in text
    m = archspec.compile(SPECS / "dla34.yaml", device="meta")
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == \
        archspec.analyze(str(SPECS / "dla34.yaml")).state_dict_shapes()
    check_generated_source(text)


def test_an_input_given_twice_defaults_only_where_it_is_among_the_last(spec_file):
    """A block of (x, s, t) given (a, b, c), (p, p, c) and (q, b, q): the second lacks s, not its
    last input, so its callers could not pass (p, c) by position (`t` would get c as `s`): a class
    of its own; the third lacks t, the last, and joins the first (`t=None`). The sums are the
    spec's: x + u(s) + v(t)."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nblocks:\n  tri:\n    inputs: [x, s, t]\n    nodes:\n"
        "      - u: {op: conv, out: 4, k: 1, in: s}\n      - v: {op: conv, out: 4, k: 1, in: t}\n"
        "      - w: {op: add, in: [u, x]}\n      - {op: add, in: [w, v]}\n"
        "nodes:\n" + "".join(f"  - {n}: {{op: conv, out: 4, k: 1, in: input}}\n" for n in "abc")
        + "  - p: {use: tri, in: [a, b, c]}\n  - q: {use: tri, in: [p, p, c]}\n  - r: {use: tri, in: [q, b, q]}\n")
    text = source(path)
    assert text.count("| None = None") == 1 and "def forward(self, x: torch.Tensor, t: torch.Tensor)" in text
    assert "        q = self.q(p, c)\n        out = self.r(q, b)\n" in text
    m = archspec.compile(path).eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        a, b, c = m.a(x), m.b(x), m.c(x)
        p = a + m.p.u(b) + m.p.v(c)
        q = p + m.q.u(p) + m.q.v(c)
        torch.testing.assert_close(m(x), q + m.r.u(b) + m.r.v(q), rtol=1e-5, atol=1e-5)


def test_an_input_given_twice_joins_only_where_nothing_changes_an_input_in_place(spec_file):
    """A block of (x, s) given (a, b) and (c, c), whose add runs in place on x where nothing else
    reads x (`x += t` at the first instance): then x is not the value s stands for once the add
    has run, so the second instance, which reads s after it, keeps a class of its own. Both
    compute (x + t(s)) + s."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nblocks:\n  pair:\n    inputs: [x, s]\n    nodes:\n"
        "      - t: {op: conv, out: 4, k: 1, in: s}\n      - y: {op: add, in: [x, t]}\n"
        "      - {op: add, in: [y, s]}\n"
        "nodes:\n  - a: {op: conv, out: 4, k: 1, in: input}\n  - b: {op: conv, out: 4, k: 1, in: input}\n"
        "  - p: {use: pair, in: [a, b]}\n  - c: {op: conv, out: 4, k: 1, in: p}\n  - q: {use: pair, in: [c, c]}\n")
    text = source(path)
    assert "x += t" in text and text.count("class Pair") == 2 and "| None = None" not in text
    m = archspec.compile(path).eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        a, b = m.a(x), m.b(x)
        c = m.c(a + m.p.t(b) + b)
        torch.testing.assert_close(m(x), c + m.q.t(c) + c, rtol=1e-5, atol=1e-5)
    assert check(path).ok


def test_a_group_read_inside_keeps_its_class(spec_file):
    """A group an output reads inside, or that runs one module twice, is no chain: a class of its
    own, as before."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nnodes:\n  - stem:\n      nodes:\n"
        "        - conv: {op: conv, out: 4, k: 3, pad: 1}\n        - relu\n"
        "  - head:\n      nodes:\n        - conv2: {op: conv, out: 4, k: 1}\n        - relu\n"
        "        - conv3: {op: conv, out: 4, k: 1}\n        - relu\n"
        "outputs:\n  out: head\n  mid: stem.conv\n")
    text = source(path)
    assert "class Stem(nn.Module):" in text and "class Head(nn.Module):" in text and "OrderedDict" not in text
    assert "        x = self.relu(x)\n        x = self.conv3(x)\n        x = self.relu(x)\n" in text
    assert check(path).ok


def test_a_block_that_only_wraps_a_stateless_module_is_that_module(spec_file):
    """A block of one tensorless module of its input (ResNet-CIFAR's option-A shortcut) is no
    class: its caller builds the module (`PadChannels(4, 8, stride=2)`). A block of one conv keeps
    its class, whose attribute is in every state_dict key; both compile to the graph's keys."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nblocks:\n"
        "  shortcut:\n    params: {out: int}\n    nodes:\n      - {op: pad_channels, out: '${out}', stride: 2}\n"
        "  proj:\n    params: {out: int}\n    nodes:\n      - conv: {op: conv, out: '${out}', k: 1}\n"
        "nodes:\n  - a: {use: shortcut, out: 8}\n  - b: {use: proj, out: 6}\n")
    text = source(path)
    assert "class Shortcut(" not in text and "self.a = PadChannels(4, 8, stride=2)\n" in text
    assert "class Proj(nn.Module):" in text and "self.b = Proj(8, 6)\n" in text
    m = archspec.compile(path)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == archspec.analyze(path).state_dict_shapes()
    assert list(m.state_dict()) == ["b.conv.weight", "b.conv.bias"]
    x = torch.randn(1, 4, 8, 8)
    torch.testing.assert_close(m.a(x), F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, 4)), rtol=0, atol=0)
    assert check(path).ok


def test_equal_sequential_children_are_written_once():
    """ResNet-50's stages: the first bottleneck (with its projection), then the equal ones as one
    `*[Bottleneck(...) for _ in range(layers[2] - 1)]`, under torchvision's keys (layer3.0 ... layer3.5)."""
    text = shipped_source(SPECS / "resnet50.yaml")
    run = "Bottleneck(256, 64, base_width=base_width, groups=groups)\n                for _ in range(layers[0] - 1)"
    assert f"            *[\n                {run}\n            ],\n" in text
    assert ("            *[\n                Bottleneck(1024, 256, base_width=base_width, groups=groups)\n"
            "                for _ in range(layers[2] - 1)\n            ],\n") in text
    assert text.count("Bottleneck(") == 9          # the class, and two calls per stage
    r = archspec.compile(SPECS / "resnet50.yaml", device="meta")
    assert {k: tuple(v.shape) for k, v in r.state_dict().items()} == \
        archspec.analyze(str(SPECS / "resnet50.yaml")).state_dict_shapes()
    assert r.layer3[1] is not r.layer3[2]          # separate modules, separate weights
    check_generated_source(text)
    repeat = "for _ in range(layers[2] - 1)"
    _refused(text, [text.replace(repeat, f"{repeat} if _"), text.replace(repeat, "for x in range(layers[2] - 1)"),
                 text.replace(repeat, f"{repeat} for y in range(2)"),
                 text.replace(repeat, "for _ in self.children()"), text.replace(repeat, "for _ in range(n)"),
                 text.replace(f"*[\n                {run}\n            ]", f"*(\n                {run}\n            )"),
                 text.replace("Bottleneck(256, 64, base_width", "Bottleneck(256, _, base_width"),
                 text.replace("width = planes * base_width", "width = print(planes) * base_width"),
                 text.replace("width = planes * base_width", "width = planes.real * base_width"),
                 text.replace("width = planes * base_width // 64", "width = planes * base_width // '64'"),
                 text.replace("width = planes * base_width // 64 * groups", "width = planes ** base_width"),
                 text.replace("self.fc = nn.Linear(2048, num_classes)", "self.fc = nn.Linear(*[2048, num_classes])"),
                 text.replace("num_classes=1000,", "num_classes=print,"),
                 text.replace("num_classes=1000,", "num_classes=(1, [2]),"),
                 text.replace("num_classes=1000,", "num_classes='x y',"),          # a word passes (DPN's kind="normal")
                 text.replace("num_classes=1000,", "num_classes='__import__',")])


def test_a_run_whose_rates_follow_the_index_is_one_comprehension(monkeypatch):
    """ConvNeXt's stages where no stage loop builds them (emit/depthloop.py's, off here): a stage's
    blocks one comprehension over the spec's repeat index, each drop-path rate computed from it,
    under the same keys; the source whitelist admits that form, a name of its own that the call
    reads, and refuses its mutants."""
    import archspec.pytorch.emit.source as emit_source

    monkeypatch.setattr(emit_source, "depthed", lambda *args: None)
    text = source(SPECS / "convnext_tiny.yaml")
    assert ("                *[\n                    Cnblock(384, stochastic_depth * (6 + j) / 17.0, "
            "layer_scale=layer_scale)\n                    for j in range(9)\n                ],\n") in text
    c = archspec.compile(SPECS / "convnext_tiny.yaml", device="meta")
    assert {k: tuple(v.shape) for k, v in c.state_dict().items()} == \
        archspec.analyze(str(SPECS / "convnext_tiny.yaml")).state_dict_shapes()
    assert [m.stochastic_depth.p for m in c.features[3]] == [0.1 * (3 + j) / 17.0 for j in range(3)]
    check_generated_source(text)
    check_generated_source(shipped_source(SPECS / "efficientnet_b0.yaml"))
    loop = "for j in range(3)"
    _refused(text, [text.replace(loop, "for j in range(n)"), text.replace(loop, "for j in range(3) if j"),
                    text.replace(loop, "for j in range(0, 3)"), text.replace(loop, "for j in range(1, 2)"),
                    text.replace(loop, "for j in range(1, 4, 1)"), text.replace(loop, "for j in range(-1, 2)"),
                    text.replace(loop, "for j in self.children()"), text.replace(loop, "for _ in range(3)"),
                    text.replace(loop, "for j in range(3) for k in range(2)"),
                    text.replace(loop, "for (j, k) in range(3)"),
                    text.replace("(3 + j) / 17.0", "(3 + k) / 17.0"),
                    text.replace("(3 + j) / 17.0", "(3 + j) ** 17.0"),
                    text.replace("(3 + j) / 17.0, layer_scale=layer_scale)\n                    for j",
                                 "(3 + stochastic_depth) / 17.0)\n                    for stochastic_depth"),
                    text.replace("(3 + j) / 17.0, layer_scale=layer_scale)\n                    for j",
                                 "(3 + nn) / 17.0, layer_scale=layer_scale)\n                    for nn"),
                    text.replace("(3 + j) / 17.0, layer_scale=layer_scale)\n                    for j",
                                 "(3 + Cnblock) / 17.0, layer_scale=layer_scale)\n                    for Cnblock"),
                    text.replace("(3 + j) / 17.0, layer_scale=layer_scale)\n                    for j",
                                 "(3 + self) / 17.0, layer_scale=layer_scale)\n                    for self")])


def test_classes_of_one_block_are_named_by_what_differs(spec_file):
    """A block whose instances differ in structure beyond a flag (the shortcut, and the conv's bias
    with it) is a class for each, named by what sets it apart, every name a valid identifier, the
    same on each emit (no shipped spec needs this now: Xception's and BN-Inception's are one class)."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nblocks:\n  unit:\n    params: {skip: false}\n    nodes:\n"
        "      - conv: {op: conv, out: 4, k: 3, pad: 1, bias: '${not skip}'}\n"
        "      - {op: add, in: [input, conv], when: '${skip}', else: conv}\n"
        "nodes:\n  - a: {use: unit}\n  - b: {use: unit, skip: true}\n")
    text = source(path)
    found = re.findall(r"^class (\w+)\(nn.Module\):", text, re.M)
    assert found == ["Unit", "UnitResidual", "Net"]
    assert all(name_problem(c) is None for c in found)
    assert source(path) == text          # deterministic


def test_a_blocks_last_instance_with_another_scale_and_no_relu_is_its_class():
    """timm's Block8(scale=1.0, no_relu=True): the last Block8 of Inception-ResNet-v2 is the
    others' class, its scale a number of forward (`x + self.scale * out`, 1.0 written too) and
    its ReLU built under the block's own `relu` flag; its output width is its input's (no
    out_channels to pass again)."""
    text = shipped_source(SPECS / "inception_resnet_v2.yaml")
    assert re.findall(r"^class (Block8\w*)\(", text, re.M) == ["Block8"]
    assert "def __init__(self, in_channels, scale=0.2, relu=True):" in text
    assert "self.block8 = Block8(2080, scale=1.0, relu=False)" in text
    assert "        x = x + self.scale * out\n" in text and "nn.ReLU(inplace=True) if relu else None" in text
    check_generated_source(text)


def test_a_derived_name_never_takes_a_blocks_own(spec_file):
    """`unit` with and without its shortcut (and its conv's bias, so that one class with a flag
    cannot serve both) would be Unit and UnitResidual, but a block is named unit_residual: it
    keeps its name, and the derived one is numbered."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nblocks:\n  unit:\n    params: {skip: false}\n    nodes:\n"
        "      - conv: {op: conv, out: 4, k: 3, pad: 1, bias: '${not skip}'}\n"
        "      - {op: add, in: [input, conv], when: '${skip}', else: conv}\n"
        "  unit_residual:\n    nodes: [{op: conv, out: 4, k: 1}]\n"
        "nodes:\n  - a: {use: unit}\n  - b: {use: unit, skip: true}\n  - c: {use: unit_residual}\n")
    text = source(path)
    assert re.findall(r"^class (\w+)\(", text, re.M) == ["Unit", "UnitResidual2", "UnitResidual", "Net"]
    assert "self.b = UnitResidual2()" in text and "self.c = UnitResidual()" in text
    assert check(path).ok


@pytest.mark.parametrize("name, block, cls, tests", [
    # features.1 (t = 1) lacks the 1x1 expansion, the first member of its `conv` chain
    ("mobilenet_v2", "inverted_residual", "InvertedResidual", ["t != 1"]),
    ("efficientnet_b0", "mbconv", "Mbconv", ["t != 1"]),
    # (ResNeSt-14d's shortcut, an nn.Identity in the pool's place at stride 1, is passed in now that
    # the top takes its layers: test_chain_members' toy of a shortcut every instance has)
])
def test_a_chain_whose_members_some_instances_lack_is_one_class(name, block, cls, tests):
    """One class per block where an nn.Sequential child lacks members at some instances: it
    builds the chain as torchvision's InvertedResidual does (`if expand_ratio != 1:
    layers.append(...)`), its test a comparison of a parameter it takes, so that each instance's
    state_dict keys are its own (features.1.conv.0.0 the depthwise conv, features.2.conv.0.0 the
    expansion)."""
    text = shipped_source(SPECS / f"{name}.yaml")
    assert re.findall(rf"^class (\w+)\(nn.Module\):\n    \"\"\"Block '{block}'", text, re.M) == [cls]
    assert [t for t in re.findall(r"^        if (.*):\n            layers.append\(", text, re.M)] == tests
    assert "nn.Sequential(*layers)" in text
    check_generated_source(text)


def test_inverted_residual_says_what_it_holds():
    """features.1 (t = 1) has no 1x1 expansion: its chain starts with the depthwise conv; the
    others expand first. InvertedResidual adds its input where its `residual` flag says, which
    is the block's own `let:` (stride 1, as many channels out as in), as torchvision's
    `use_res_connect`."""
    m = archspec.compile(SPECS / "mobilenet_v2.yaml", device="meta")
    blocks = [b for b in m.features if type(b).__name__.startswith("Inverted")]
    assert {type(b).__name__ for b in blocks} == {"InvertedResidual"}
    convs = [[c for c in b.modules() if isinstance(c, nn.Conv2d)] for b in blocks]
    assert [len(c) for c in convs] == [2] + [3] * 16
    assert convs[0][0].groups == 32 and convs[1][0].kernel_size == (1, 1) and convs[1][0].groups == 1
    for b in blocks[1:]:
        first, last = b.conv[0][0], b.conv[2]
        assert b.residual == (b.conv[1][0].stride == (1, 1) and first.in_channels == last.out_channels)
    assert sum(b.residual for b in blocks[1:]) == 10
    classes = shipped_source(SPECS / "mobilenet_v2.yaml").split("\nclass ")
    assert [c.split("(")[0] for c in classes if " + " in c or " += " in c] == ["InvertedResidual"]


def test_a_functional_child_some_instances_lack_runs_under_a_flag(spec_file):
    """One class for a block whose instances differ by an add (under the block's boolean
    parameter, with its default) and by a projection (an argument that may be None, where the
    add reads the block's input instead: WRN's shortcut). Its outputs equal a hand-written
    forward of each instance, with and without each."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nblocks:\n  unit:\n    params: {out: int, skip: true}\n"
        "    let: {project: '${input.channels != out}'}\n    nodes:\n"
        "      - pre: batchnorm\n      - conv: {op: conv, out: '${out}', k: 3, pad: 1}\n"
        "      - shortcut: {op: conv, out: '${out}', k: 1, in: pre, when: '${project}'}\n"
        "      - {op: add, in: [conv, \"${'shortcut' if project else 'input'}\"], when: '${skip}', else: conv}\n"
        "nodes:\n  - a: {use: unit, out: 8}\n  - b: {use: unit, out: 8}\n  - c: {use: unit, out: 8, skip: false}\n")
    text = source(path)
    assert re.findall(r"^class (\w+)\(", text, re.M) == ["Unit", "Net"]
    assert "def __init__(self, in_channels, out, skip=True):" in text       # the projection built inside (WRN's)
    assert "self.shortcut = nn.Conv2d(in_channels, out, 1) if in_channels != out else None\n" in text
    assert "self.b = Unit(8, 8)" in text and "self.c = Unit(8, 8, skip=False)" in text
    assert "if self.skip:" in text and "identity = x\n" in text
    torch.manual_seed(0)
    model = archspec.compile(path).eval()
    x = torch.randn(1, 4, 8, 8)

    def by_hand(unit, x, project, skip):
        pre = unit.pre(x)
        out = unit.conv(pre)
        return out + (unit.shortcut(pre) if project else x) if skip else out
    with torch.no_grad():
        a = by_hand(model.a, x, True, True)
        b = by_hand(model.b, a, False, True)
        want = by_hand(model.c, b, False, False)
        assert torch.allclose(model(x), want, atol=1e-6)
    assert check(path).ok
    with torch.no_grad():           # a width only `a` has, written as its input's: the class at others
        assert type(model.a)(6, 8)(torch.randn(1, 6, 8, 8)).shape == (1, 8, 8, 8)
    check_generated_source(text)
    _refused(text, [text.replace("if self.skip:", "if self.__class__:"),
                    text.replace("if self.skip:", "if print(self):"),
                    text.replace("if self.skip:", "if not self.skip.__dict__:")])


def test_an_activation_some_instances_lack_is_built_under_the_block_s_flag():
    """SKNet's conv_bn_act: the ReLU where `act` is true, built by the class itself (timm's
    apply_act), not passed in by each caller (`relu=nn.ReLU(inplace=True)`)."""
    text = shipped_source(SPECS / "skresnet50.yaml")
    assert "        self.relu = nn.ReLU(inplace=True) if act else None\n" in text
    assert "def __init__(self, in_channels, out, k=1, stride=1, dilation=1, act=True):" in text
    assert "ConvBnAct(width, planes * 4, act=False)" in text and "relu=nn.ReLU" not in text
    m = archspec.compile(SPECS / "skresnet50.yaml", device="meta")
    assert m.layer1[0].conv3.relu is None and isinstance(m.layer1[0].conv1.relu, nn.ReLU)
    check_generated_source(text)
    _refused(text, [text.replace("nn.ReLU(inplace=True) if act else None", "nn.ReLU(inplace=True) if act() else None"),
                    text.replace("nn.ReLU(inplace=True) if act else None",
                                 "nn.ReLU(inplace=True) if act.__class__ else None")])


def test_forward_is_straight_line_code():
    text = shipped_source(SPECS / "resnet18.yaml")
    forward = text[text.index("class ResNet18"):]
    forward = forward[forward.index("def forward"):forward.index("def init_weights")]
    assert "for " not in forward and "self.layer1(x)" in forward
    assert "nn.ReLU(inplace=True)" in text and "out += identity" in text     # in place where nothing else reads it


def test_locals_are_named_after_what_they_hold(spec_file):
    """A list member's value is named after it (`paths_0`, never `out` beside a reused `x`; stacked
    in another order than the list's, no comprehension), and `identity` is only a residual block's
    shortcut: a term added in the middle of forward keeps its node's name."""
    path = spec_file(
        "archspec: 1\ninput: [4, 8, 8]\nnodes:\n"
        "  - paths[0]: {op: conv, out: 4, k: 3, pad: 1, in: input}\n  - paths[1]: {op: conv, out: 4, k: 1, in: input}\n"
        "  - {op: stack, in: ['paths[1]', 'paths[0]']}\n  - flatten\n  - stem: {op: linear, out: 16}\n"
        "  - mid: {op: linear, out: 16}\n  - side: {op: linear, out: 16, in: stem}\n"
        "  - total: {op: add, in: [mid, side]}\n  - head: {op: linear, out: 16}\n  - {op: concat, in: [head, total]}\n")
    text = source(path)
    assert "paths_1 = self.paths[1](x)\n        out = torch.stack([paths_1, paths_0], 1)" in text
    assert "side = self.side(stem)\n        total = mid.add_(side)" in text and "identity" not in text
    assert check(path).ok


# -- numerics of each op's PyTorch form ------------------------------------------------------

def _one(spec_file, op: str, input_shape, named=True):
    body = f"  - x: {op}\n" if named else f"  - {op}\n"
    path = spec_file(f"archspec: 1\ninput: {list(input_shape)}\nnodes:\n{body}")
    return archspec.compile(path).eval()


def test_lrn_uses_the_papers_alpha(spec_file):
    x = torch.randn(2, 7, 5, 5)
    for named in (True, False):
        m = _one(spec_file, "{op: lrn, size: 5, alpha: 0.001, beta: 0.75, k: 2}", x.shape[1:], named)
        sq = F.pad(x.pow(2), (0, 0, 0, 0, 2, 2))
        window = sum(sq[:, j:j + 7] for j in range(5))       # channels c-2 .. c+2
        assert torch.allclose(m(x), x / (2 + 0.001 * window) ** 0.75, atol=1e-6)


def test_scaled_tanh_subsample_rbf_pad_channels(spec_file):
    x = torch.randn(3, 4, 6, 6)
    for named in (True, False):
        m = _one(spec_file, "scaled_tanh", x.shape[1:], named)
        assert torch.allclose(m(x), 1.7159 * torch.tanh(2 * x / 3))
    m = _one(spec_file, "subsample", x.shape[1:])
    sums = x.unfold(2, 2, 2).unfold(3, 2, 2).sum((-1, -2))
    assert torch.allclose(m(x), sums * m.x.weight.view(1, -1, 1, 1) + m.x.bias.view(1, -1, 1, 1), atol=1e-6)
    v = torch.randn(3, 84)
    m = _one(spec_file, "{op: rbf, out: 10}", (84,))
    w = m.x.weight
    assert set(w.unique().tolist()) <= {-1.0, 1.0} and not list(m.parameters())
    assert torch.allclose(m(v), torch.stack([((v - w[i]) ** 2).sum(1) for i in range(10)], 1), atol=1e-4)
    m = _one(spec_file, "{op: pad_channels, out: 7, stride: 2}", x.shape[1:])
    y = m(x)
    assert y.shape == (3, 7, 3, 3) and torch.equal(y[:, :4], x[:, :, ::2, ::2]) and not y[:, 4:].any()


def test_connection_table_equals_a_masked_dense_conv():
    """The compiled C3 (one grouped conv per fan-in class) against a dense conv whose missing
    connections are zero, with the table read straight from the spec."""
    from archspec.ops.conv import parse_table, table_fan_in
    for path, node in ((SPECS / "lenet5.yaml", "C3"), (ALLOPS, "C3")):
        g = archspec.analyze(str(path))
        c3 = g.nodes[node]
        fan_in = table_fan_in(parse_table(c3.attrs.connections))
        m = archspec.compile(g).get_submodule(node)
        cin, k = c3.in_shapes[0][0], c3.attrs.k[0]
        dense = torch.zeros(c3.attrs.out, cin, k, k)
        bias = torch.zeros(c3.attrs.out)
        rows: dict[int, int] = {}       # conv -> rows used: maps of one fan-in, in order
        for j, ins in enumerate(fan_in):
            gi = next(i for i, c in enumerate(m.convs) if c.weight.shape[1] == len(ins))
            r = rows[gi] = rows.get(gi, -1) + 1
            dense[j, ins] = m.convs[gi].weight[r].detach()
            bias[j] = m.convs[gi].bias[r].detach()
        x = torch.randn(2, *c3.in_shapes[0])
        want = F.conv2d(x, dense, bias, padding=c3.attrs.pad)
        assert torch.allclose(m(x), want, atol=1e-5)
        if path != ALLOPS:
            assert sum(p.numel() for p in m.parameters()) == 1516      # the paper's C3


def test_user_op_emission_and_an_op_without_one(spec_file):
    """A registered user op compiles through its own module()/call() (a Call, data); one with
    neither, or whose call() returns text, is a located error, not broken source."""
    from archspec.ops import REGISTRY, Call, Op, register

    @register
    class Swish(Op):
        name = "test_swish"

        def module(self, a, xs, y, inplace=False):
            return Call("nn.SiLU")

        def call(self, a, args, inplace=False):
            return Call("F.silu")          # placing no input: applied to them all, F.silu(x)

    @register
    class Negate(Op):
        name = "test_negate"

        def call(self, a, args, inplace=False):
            return Call("torch.neg").source(args[0])     # `on` by its older name: still a Call

    @register
    class Opaque(Op):
        name = "test_opaque"

    @register
    class Text(Op):
        name = "test_text"

        def call(self, a, args, inplace=False):
            return "torch.neg(x)"      # text, as call() returned before: refused, located

    @register
    class Formats(Op):
        name = "test_formats"

        def call(self, a, args, inplace=False):
            return f"torch.neg({args[0]})"      # an input written into text: refused, located
    try:
        path = spec_file("archspec: 1\ninput: [3]\nnodes:\n  - test_swish\n  - s: test_swish\n  - test_negate\n")
        text = source(path)       # a module where the op has one (print(model) shows it), else the call
        assert "self.test_swish = nn.SiLU()" in text and "self.s = nn.SiLU()" in text and "torch.neg(x)" in text
        x = torch.randn(2, 3)
        assert torch.allclose(archspec.compile(path)(x), -F.silu(F.silu(x)))
        bad = spec_file("archspec: 1\ninput: [3]\nnodes:\n  - test_opaque\n", "bad.yaml")
        with pytest.raises(archspec.SpecErrors, match=r"bad.yaml:4:\d+: error: test_opaque: op 'test_opaque' "
                                                      r"has no PyTorch form"):
            source(bad)
        text_op = spec_file("archspec: 1\ninput: [3]\nnodes:\n  - test_text\n", "text.yaml")
        with pytest.raises(archspec.SpecErrors, match=r"text.yaml:4:\d+: error: test_text: op 'test_text': call\(\) "
                                                      r"returned str, not a Call"):
            source(text_op)
        formats = spec_file("archspec: 1\ninput: [3]\nnodes:\n  - test_formats\n", "formats.yaml")
        with pytest.raises(archspec.SpecErrors, match=r"formats.yaml:4:\d+: error: test_formats: op 'test_formats': "
                                                      r"call\(\) wrote an input into text"):
            source(formats)
    finally:
        for name in ("test_swish", "test_negate", "test_opaque", "test_text", "test_formats"):
            del REGISTRY[name]


# -- outputs ------------------------------------------------------------------------------------

def test_outputs_dict_and_training_only(spec_file):
    m = archspec.compile(ALLOPS)
    x = torch.randn(4, *m.input_shape)
    out = m.train()(x)
    assert set(out) == {"logits", "probs", "aux"} and out["aux"].shape == (4, 5)
    out = m.eval()(x)
    assert set(out) == {"logits", "probs"}
    assert torch.allclose(out["probs"], out["logits"].softmax(1))
    path = spec_file("archspec: 1\ninput: [3, 8, 8]\nnodes:\n"
                     "  - trunk: {op: conv, out: 4, k: 3}\n  - flatten\n  - fc: {op: linear, out: 2}\n"
                     "  - aux: {in: trunk, op: global_avgpool}\n"
                     "outputs: {logits: fc, aux: {node: aux, train_only: true}}\n")
    m = archspec.compile(path)
    x = torch.randn(2, 3, 8, 8)
    assert torch.is_tensor(m.eval()(x)) and m(x).shape == (2, 2)
    assert set(m.train()(x)) == {"logits", "aux"}
    assert "if self.training:" in source(path)


# -- init ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_library_init_rules_match_torchvision():
    """ResNet's family init (in specs/blocks/resnet.yaml): kaiming_normal fan_out relu, BN 1/0;
    VGG's: conv bias 0, linear N(0, 0.01)."""
    torch.manual_seed(0)
    m = archspec.compile(SPECS / "resnet18.yaml")
    w = m.layer3[0].conv2.weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / (256 * 9)), rel=0.05)
    assert all((b.weight == 1).all() and (b.bias == 0).all() for b in m.modules() if isinstance(b, nn.BatchNorm2d))
    plain = archspec.compile(SPECS / "googlenet.yaml")          # no init: PyTorch's kaiming_uniform(a=sqrt 5)
    w = plain.inception4a.branch1.conv.weight
    assert w.std().item() == pytest.approx(1 / math.sqrt(3 * 480), rel=0.05)
    v = archspec.compile(SPECS / "vgg16.yaml")
    assert not v.features[0].bias.any() and not v.classifier[0].bias.any()
    assert v.classifier[0].weight.std().item() == pytest.approx(0.01, rel=0.02)


def test_init_calls_write_only_what_differs_from_torchs_defaults():
    """emit (torch-free) leaves out an init argument at ir.InitRule's default: those defaults are
    torch.nn.init's (and the spec's), and the shorter call draws what the full one draws."""
    import dataclasses
    import inspect

    from archspec.frontend import spec
    from archspec.ir import InitRule
    from archspec.pytorch.emit.init import _ARGS, _weight_call
    ours = {f.name: f.default for f in dataclasses.fields(InitRule)}
    assert set(_ARGS) == set(spec.INIT_METHODS) - {"default"}
    assert {k: f.default for k, f in spec.InitRule.model_fields.items()} == ours
    for method, names in _ARGS.items():
        torchs = inspect.signature(getattr(nn.init, f"{method}_")).parameters
        assert {k: torchs[k].default for k in names} == {k: ours[k] for k in names}, method
    assert _weight_call(InitRule("kaiming_normal")) == "nn.init.kaiming_normal_(m.weight)"
    assert _weight_call(InitRule("normal", std=0.01)) == "nn.init.normal_(m.weight, std=0.01)"
    rules = [InitRule(w) for w in _ARGS] + [
        InitRule("kaiming_normal", mode="fan_out"), InitRule("kaiming_uniform", a=5 ** 0.5, mode="fan_out"),
        InitRule("kaiming_normal", nonlinearity="relu"), InitRule("xavier_uniform", gain=2.0),
        InitRule("trunc_normal", std=0.02), InitRule("normal", mean=0.5)]
    for rule in rules:
        assert isinstance(rule.weight, str)
        full = {k: getattr(rule, k) for k in _ARGS[rule.weight]}
        drawn = []
        for call in (_weight_call(rule), f"nn.init.{rule.weight}_(m.weight, **{full!r})"):
            m = nn.Linear(8, 32)                    # fan_in 8, fan_out 32: a dropped mode would show
            torch.manual_seed(0)
            eval(call, {"nn": nn, "m": m})
            drawn.append(m.weight.detach().clone())
        assert torch.equal(*drawn), rule


def test_zero_init_residual_is_a_variant_of_a_few_lines(spec_file):
    """torchvision's zero_init_residual=True: the variant adds `zero:`, the family's rules stay."""
    path = spec_file(f"archspec: 1\nextends: {SPECS / 'resnet50.yaml'}\ninit: {{zero: ['layer*.*.bn3']}}\n")
    m = archspec.compile(path)
    last = [b.bn3.weight for layer in (m.layer1, m.layer2, m.layer3, m.layer4) for b in layer]
    assert len(last) == 16 and not any(w.any() for w in last)
    assert (m.layer1[0].bn2.weight == 1).all()
    w = m.layer1[0].conv2.weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)     # kaiming fan_out stays


def test_init_zero_patterns_and_overrides(spec_file):
    lib = spec_file("archspec: 1\ninit: {conv: {weight: 0.5, bias: 1}}\n", "lib.yaml")
    path = spec_file(f"archspec: 1\nuse: {lib}\ninput: [3, 8, 8]\n"
                     "nodes:\n  - a: {op: conv, out: 4, k: 3}\n  - bn: batchnorm\n  - b: {op: conv, out: 4, k: 1}\n")
    m = archspec.compile(path)
    assert (m.a.weight == 0.5).all() and (m.b.bias == 1).all()           # the library's rules
    own = spec_file(f"archspec: 1\nuse: {lib}\ninput: [3, 8, 8]\n"
                    "init: {batchnorm: {weight: 2}, zero: ['b*']}\n"
                    "nodes:\n  - a: {op: conv, out: 4, k: 3}\n  - bn: batchnorm\n  - b: {op: conv, out: 4, k: 1}\n",
                    "own.yaml")
    m = archspec.compile(own)
    assert (m.a.weight == 0.5).all() and (m.a.bias == 1).all()          # the library's conv rule stays,
    assert not m.bn.weight.any() and not m.b.weight.any()                 # zero: b* is bn and b
    assert (m.bn.bias == 0).all()                                          # batchnorm: the network's rule
    bad = spec_file("archspec: 1\ninput: [3, 8, 8]\ninit: {relu: {weight: 1}, zero: [nothing*]}\n"
                    "nodes:\n  - a: {op: conv, out: 4, k: 3}\n", "bad.yaml")
    with pytest.raises(archspec.SpecErrors, match=r"bad.yaml:3:\d+: error: init: 'relu' is not an op with weights"):
        archspec.load(bad)
    nothing = spec_file("archspec: 1\ninput: [3, 8, 8]\ninit: {zero: [nothing*]}\n"
                        "nodes:\n  - a: {op: conv, out: 4, k: 3}\n", "nothing.yaml")
    with pytest.raises(archspec.SpecErrors, match="zero pattern 'nothing\\*' matches no node"):
        archspec.compile(nothing)


# -- archspec build ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_build_writes_a_torch_only_module(in_tmp, capsys):
    assert main(["build", str(SPECS / "lenet5.yaml"), "-o", "out", "--check"]) == 0
    text = capsys.readouterr().out
    assert "wrote out/lenet5.py" in text and "MACs             325,680 measured" in text
    assert sorted(os.listdir("out")) == ["lenet5.py"]            # no temporary files left
    code = ("import sys, torch\nsys.path.insert(0, 'out')\nimport lenet5\n"
            "m = lenet5.Model().eval()\nassert m(torch.randn(2, 1, 32, 32)).shape == (2, 10)\n"
            "assert not [k for k in sys.modules if k.startswith('archspec')]\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=in_tmp)
    assert (in_tmp / "out" / "lenet5.py").read_text() == source(SPECS / "lenet5.yaml")


def test_build_invalid_spec_writes_nothing(spec_file, capsys):
    bad = spec_file("archspec: 1\ninput: [3, 8, 8]\nnodes:\n  - a: {op: conv, out: 4, k: 30}\n")
    assert main(["build", bad, "-o", "out"]) == 1
    assert "net.yaml:4:" in capsys.readouterr().err
    assert not os.path.exists("out")


@pytest.mark.slow
def test_build_export_exported_program(in_tmp, capsys):
    assert main(["build", str(SPECS / "lenet5.yaml"), "-o", "out", "--export", "exported-program"]) == 0
    ep = torch.export.load("out/lenet5.pt2")
    m = load_source(source(SPECS / "lenet5.yaml")).Model().eval()
    m.load_state_dict(ep.module().state_dict())
    x = torch.randn(1, 1, 32, 32)
    assert torch.allclose(ep.module()(x), m(x))


# -- torch.compile, torch.export, TorchScript, ONNX ---------------------------------------------------

def _small(name, size=64):
    m = archspec.compile(SPECS / f"{name}.yaml").eval()
    return m, torch.randn(2, 3, size, size)


@pytest.mark.slow
def test_torch_compile_fullgraph():
    """dynamo captures the whole forward without a graph break (aot_eager: no C++ build in tests;
    bench/forward.py --compile runs inductor): a plain, a fused, a looped (dense blocks) module."""
    fused = archspec.compile(SPECS / "resnet18.yaml", fuse=True).to(memory_format=torch.channels_last)
    for m, x in (_small("resnet18"), (archspec.compile(ALLOPS).eval(), torch.randn(2, 6, 16, 16)),
                 (fused, torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)),
                 _small("densenet_cifar", 32)):
        c = torch.compile(m, fullgraph=True, backend="aot_eager")
        with torch.no_grad():
            want, got = m(x), c(x)
        for k in (want if isinstance(want, dict) else [None]):
            a, b = (want[k], got[k]) if k else (want, got)
            assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.slow
def test_torch_export_and_torchscript():
    m, x = _small("resnet18")
    with torch.no_grad():
        want = m(x)
    ep = torch.export.export(m, (x,))
    assert torch.allclose(ep.module()(x), want, atol=1e-5)
    for mod, inp in ((m, x), (archspec.compile(SPECS / "lenet5.yaml").eval(), torch.randn(2, 1, 32, 32))):
        with warnings.catch_warnings():             # torch 2.14 deprecates TorchScript, still supported
            warnings.simplefilter("ignore", FutureWarning)
            scripted = torch.jit.script(mod)
        assert torch.allclose(scripted(inp), mod(inp), atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_export_scripts_train_only_outputs(tmp_path):
    """forward returns a dict in training and a tensor in eval: its annotation
    `torch.Tensor | dict[str, torch.Tensor]` gives TorchScript the one return type it needs,
    so export() scripts such a model (tracing remains the fallback)."""
    path = tmp_path / "g.yaml"
    path.write_text("archspec: 1\ninput: [3, 8, 8]\nnodes:\n  - trunk: {op: conv, out: 4, k: 3}\n"
                    "  - flatten\n  - fc: {op: linear, out: 2}\n  - aux: {in: trunk, op: global_avgpool}\n"
                    "outputs: {logits: fc, aux: {node: aux, train_only: true}}\n")
    m = archspec.compile(path)
    how = export(m, m.input_shape, "torchscript", str(tmp_path / "g.pt"))
    assert how == "torchscript"
    loaded = torch.jit.load(str(tmp_path / "g.pt"))
    x = torch.randn(1, 3, 8, 8)
    assert torch.allclose(loaded(x), m.eval()(x))


@pytest.mark.slow
def test_onnx_export(tmp_path):
    onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx onnxscript)")
    pytest.importorskip("onnxscript", reason="torch.onnx's exporter needs onnxscript")
    m = archspec.compile(SPECS / "lenet5.yaml")
    export(m, m.input_shape, "onnx", str(tmp_path / "lenet5.onnx"))
    model = onnx.load(str(tmp_path / "lenet5.onnx"))
    onnx.checker.check_model(model)
    dims = model.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims][1:] == [10] and dims[0].dim_param     # a dynamic batch axis


def test_exported_program_takes_any_batch(tmp_path):
    m = archspec.compile(SPECS / "resnet20_cifar.yaml").eval()
    export(m, m.input_shape, "exported-program", str(tmp_path / "r.pt2"))
    program = torch.export.load(str(tmp_path / "r.pt2")).module()
    for batch in (1, 3):
        x = torch.randn(batch, *m.input_shape)
        with torch.no_grad():
            torch.testing.assert_close(program(x), m(x), rtol=1e-4, atol=1e-5)


def test_spec_text_cannot_inject_code(spec_file):
    """Titles and papers are free text: in the generated file they stay inside comments and
    docstrings. Names become code, so a name that is not a plain identifier is refused."""
    import ast
    import json
    evil = '"""\nimport os\nos.system("echo pwned")\n"""\\'
    block = json.dumps('b"\n import os\\')          # JSON strings are YAML strings

    def spec(name, block):
        return spec_file(f"archspec: 1\nname: {name}\ntitle: {json.dumps(evil)}\n"
                         f"paper: {json.dumps(evil)}\ninput: [3, 4, 4]\n"
                         f"blocks:\n  {block}: {{nodes: [{{c: {{op: conv, out: 2, k: 1}}}}]}}\n"
                         f"nodes:\n  - a: {{use: {block}}}\n  - a2: {{use: {block}}}\n")
    path = spec("n", "b")
    text = source(path)
    kinds = [type(s).__name__ for s in ast.parse(text).body]
    assert kinds == ["Import", "ImportFrom", "ClassDef", "ClassDef", "Assign"]
    assert "pwned" in text                  # still there, as harmless text
    assert archspec.compile(path)(torch.randn(1, 3, 4, 4)).shape == (1, 2, 4, 4)
    with pytest.raises(archspec.SpecErrors, match="spec name .* is not allowed"):
        source(spec(json.dumps("n" + evil), "b"))
    with pytest.raises(archspec.SpecErrors, match="block name .* is not allowed"):
        source(spec("n", block))


def test_compile_of_graph_equals_compile_of_path():
    """The Graph is the back ends' whole contract: it carries the `init:` rules, so compiling an
    expanded Graph gives the module compiling the path gives, initialisation included."""
    path = str(SPECS / "resnet18.yaml")
    torch.manual_seed(0)
    a = archspec.compile(path).state_dict()
    torch.manual_seed(0)
    model = archspec.compile(archspec.analyze(path))
    b = model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert hasattr(model, "init_weights")          # the ResNet library's torchvision initialisation


@pytest.mark.slow
def test_build_check_expands_once(in_tmp, monkeypatch, capsys):
    """`archspec build --check --export ...` expands the spec once and loads each source once."""
    import archspec.frontend.expand
    import archspec.pytorch.compiler
    from archspec.cli import main
    calls = {"expand": 0, "load": 0}
    expand, load_source = archspec.frontend.expand.expand, archspec.pytorch.compiler.load_source

    def counted(name, fn):
        def wrapper(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapper
    monkeypatch.setattr(archspec.frontend.expand, "expand", counted("expand", expand))
    monkeypatch.setattr(archspec.pytorch.compiler, "load_source", counted("load", load_source))
    assert main(["build", str(SPECS / "resnet18.yaml"), "-o", "out", "--check",
                 "--export", "torchscript", "--export", "exported-program"]) == 0
    assert calls == {"expand": 1, "load": 2}        # the probe source for --check, the module for the exports
