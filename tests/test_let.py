"""A spec's top-level `let:` (issue 20): names computed from the params and the lets before them,
usable wherever params are; recomputed from --set values; merged name by name into variants;
its names checked as every name is."""
import pytest

import archspec
from archspec.errors import SpecErrors
from archspec.frontend.schema import json_schema

# MobileNetV3's widths as torchvision computes them: _make_divisible(c * width_mult, 8)
NET = """archspec: 1
input: [3, 16, 16]
params:
  width_mult: 1.0
  base: 16
let:
  stem: ${make_divisible(base * width_mult, 8)}
  wide: ${make_divisible(stem * 4.5, 8)}
  depth: ${int(log2(wide // 8)) + 1}
nodes:
  - stem: {op: conv, out: "${stem}", k: 3, pad: 1}
  - wide: {op: conv, out: "${wide}", k: 1}
  - repeat: ${depth}
    node: {op: conv, out: "${wide}", k: 3, pad: 1, groups: "${wide}"}
"""


def _widths(g):
    return [n.shape[0] for n in g.nodes.values() if n.op.name == "conv"]


def test_lets_compute_from_params_and_earlier_lets(spec_file):
    path = spec_file(NET)
    g = archspec.analyze(path)
    # stem 16, wide make_divisible(72, 8) = 72, depth int(log2(9)) + 1 = 4
    assert _widths(g) == [16, 72, 72, 72, 72, 72]
    g = archspec.analyze(archspec.load(path, ["width_mult=0.35"]))
    # stem make_divisible(5.6, 8) = 8; wide make_divisible(36, 8) = 40; depth int(log2(5)) + 1 = 3
    assert _widths(g) == [8, 40, 40, 40, 40]


def test_a_variant_inherits_lets_and_overrides_one_by_name(spec_file):
    spec_file(NET, "base.yaml")
    path = spec_file("archspec: 1\nextends: base.yaml\nparams: {width_mult: 0.5}\n"
                     "let:\n  wide: ${stem * 3}\n", "variant.yaml")
    g = archspec.analyze(path)
    # stem make_divisible(8, 8) = 8 (the base's let, the variant's param); wide 24 (the variant's
    # let); depth reads the variant's wide: int(log2(3)) + 1 = 2
    assert _widths(g) == [8, 24, 24, 24]


@pytest.mark.parametrize("let,message", [
    ("  a: ${b + 1}\n  b: 2\n", "net.yaml:5:6: error: in let 'a': undefined name 'b'"),
    ("  base: 3\n", "net.yaml:5:3: error: let 'base' has the name of a parameter"),
    ("  sum: 3\n", "net.yaml:5:3: error: let name 'sum' is not allowed"),
    ("  a: ${sqrt(base - 20)}\n", "net.yaml:5:6: error: in let 'a': sqrt of the negative number -4"),
    ("  a: ${base * 2}\n  b: ${a}\n", "net.yaml:6:3: error: let 'b' is never used: no expression reads it"),
])
def test_let_errors_are_located(spec_file, let, message):
    """A let reads only params and the lets before it; its name is a name like any other."""
    path = spec_file(f"archspec: 1\ninput: [3, 8, 8]\nparams: {{base: 16}}\nlet:\n{let}"
                     "nodes:\n  - {op: conv, out: '${base}', k: 1}\n")
    with pytest.raises(SpecErrors) as e:
        archspec.analyze(path)
    assert message in str(e.value)


def test_a_library_let_is_an_error_not_dropped(spec_file):
    spec_file("archspec: 1\nparams: {w: 8}\nlet:\n  w2: ${w * 2}\nblocks:\n  b:\n    nodes: [relu]\n", "lib.yaml")
    path = spec_file("archspec: 1\nuse: lib.yaml\ninput: [3, 8, 8]\nnodes:\n  - {op: conv, out: '${w}', k: 1}\n")
    with pytest.raises(SpecErrors, match="lib.yaml:3:1: error: a library's top-level let: reaches no spec"):
        archspec.load(path)


def test_a_let_is_not_a_parameter_to_set(spec_file):
    """--set gives params; a let follows from them."""
    path = spec_file(NET)
    with pytest.raises(SpecErrors) as e:
        archspec.load(path, ["stem=24"])
    assert "'stem' is a let, computed from the parameters: --set gives parameters" in str(e.value)
    assert "set the parameters it reads (net.yaml:7:9)" in str(e.value)


def test_the_schema_takes_let():
    props = json_schema()["properties"]
    assert props["let"]["type"] == "object"


@pytest.mark.parametrize("width", [0.75, 0.35, 0.5, 1.4])
def test_mobilenet_v2_widths_are_torchvisions(width):
    """examples/guide/mobilenet_v2_075.yaml: the widths by `let:` and make_divisible; at each width
    multiplier (--set), torchvision's mobilenet_v2(width_mult=...) to the parameter, its weights
    loading strictly, with equal outputs."""
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    from paths import ROOT
    spec = archspec.load(str(ROOT / "examples" / "guide" / "mobilenet_v2_075.yaml"), [f"width_mult={width}"])
    g = archspec.analyze(spec)
    ours = archspec.compile(g).eval()
    theirs = tv.models.mobilenet_v2(width_mult=width).eval()
    assert g.params == sum(p.numel() for p in theirs.parameters())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), atol=1e-5)
