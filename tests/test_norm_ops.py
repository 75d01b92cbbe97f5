"""The norms of ops/norms.py against timm's own layers: a one-node spec of each, compiled, loads
the timm layer's state_dict strictly (random values in every tensor) and gives its outputs, in
training and in eval mode; the memory report's saved activations equal what autograd keeps; and
the import's table maps each timm class to the op with the attributes that reproduce it.
(tests/test_ops.py checks shapes, state_dict keys, parameters, MACs and labels as for every op.)"""
import pytest

import archspec
from archspec.errors import SpecErrors
from archspec.ops import REGISTRY
from archspec.reports.memory import training_memory

torch = pytest.importorskip("torch")
timm_layers = pytest.importorskip("timm.layers")
from test_ops import _spec  # noqa: E402  (one spec of one op node, as the op tests write it)
from timm.layers.grn import GlobalResponseNorm  # noqa: E402

from archspec.pytorch.compiler import saved_bytes  # noqa: E402  (needs torch)
from archspec.pytorch.importing import table  # noqa: E402

L = timm_layers
LAST = "p: {op: permute, dims: [0, 2, 3, 1]}"

# (id, input (C, H, W), node x, nodes before it, timm's layer that it is)
CASES = [
    ("group_norm", [6, 5, 4], "{op: group_norm, groups: 3}", [], lambda: L.GroupNorm(6, 3)),
    ("group_norm-act", [8, 4, 4], "{op: group_norm, groups: 2, eps: 0.001}", [],
     lambda: L.GroupNormAct(8, 2, eps=1e-3, apply_act=False)),
    ("std_conv", [4, 9, 9], "{op: std_conv, out: 6, k: 3, stride: 2, pad: 1, bias: false}", [],
     lambda: L.StdConv2d(4, 6, 3, stride=2)),
    ("std_conv-eps-bias", [4, 7, 7], "{op: std_conv, out: 4, k: 1, eps: 1.0e-8}", [],
     lambda: L.StdConv2d(4, 4, 1, bias=True, eps=1e-8)),
    ("std_conv-scaled", [4, 8, 8],
     "{op: std_conv, out: 6, k: 3, pad: 1, groups: 2, scaled: true, gamma: 1.7139588594436646}", [],
     lambda: L.ScaledStdConv2d(4, 6, 3, groups=2, gamma=1.7139588594436646)),
    ("evo_norm", [8, 4, 5], "{op: evo_norm, groups: 4}", [], lambda: L.EvoNorm2dS0(8, groups=4)),
    ("evo_norm-no-act", [8, 4, 5], "{op: evo_norm, groups: 4, act: false}", [],
     lambda: L.EvoNorm2dS0(8, groups=4, apply_act=False)),
    ("evo_norm-s0a", [6, 3, 3], "{op: evo_norm, groups: 2, eps: 0.001, variant: S0a}", [],
     lambda: L.EvoNorm2dS0a(6, groups=2)),
    ("evo_norm-s0a-no-act", [6, 3, 3], "{op: evo_norm, groups: 3, eps: 0.001, act: false, variant: S0a}", [],
     lambda: L.EvoNorm2dS0a(6, groups=3, apply_act=False)),
    ("frn", [5, 4, 4], "frn", [], lambda: L.FilterResponseNormTlu2d(5)),
    ("frn-no-tlu", [5, 4, 4], "{op: frn, tlu: false}", [], lambda: L.FilterResponseNormAct2d(5, apply_act=False)),
    ("rms_norm", [6, 3, 4], "rms_norm", [], lambda: L.RmsNorm2d(6)),
    ("rms_norm-std", [6, 3, 4], "{op: rms_norm, stat: std, eps: 1.0e-5}", [], lambda: L.SimpleNorm2d(6, eps=1e-5)),
    ("grn-channels-last", [6, 3, 4], "grn", [LAST], lambda: GlobalResponseNorm(6)),
    ("grn", [6, 3, 4], "grn", [], lambda: GlobalResponseNorm(6, channels_last=False)),
]


def _hgnet_affine():
    from timm.models.hgnet import LearnableAffineBlock
    return LearnableAffineBlock()


CASES.append(("learnable_affine", [3, 4, 4], "learnable_affine", [], _hgnet_affine))


@pytest.mark.parametrize("case_id,shape,node,before,layer", CASES, ids=[c[0] for c in CASES])
def test_the_op_is_timms_layer(tmp_path, case_id, shape, node, before, layer):
    """timm's state_dict, random values in every tensor, loads strictly and the outputs agree (float32:
    to 1e-5) in training and in eval mode; the op's ops.norms helper class is what the module builds."""
    g = archspec.analyze(_spec(tmp_path, case_id, shape, node, before))
    ours = archspec.compile(g)
    torch.manual_seed(0)
    theirs = layer()
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn_like(p))
    ours.load_state_dict({f"x.{k}": v for k, v in theirs.state_dict().items()}, strict=True)
    x = torch.randn(2, *shape) * 3
    if before:
        x_theirs = x.permute(0, 2, 3, 1)
    else:
        x_theirs = x
    for mode in (True, False):
        with torch.no_grad():
            want, got = theirs.train(mode)(x_theirs), ours.train(mode)(x)
        assert got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-5), (mode, (got - want).abs().max())


@pytest.mark.parametrize("case_id,shape,node,before,layer", CASES, ids=[c[0] for c in CASES])
def test_saved_activations_match_the_hooks(tmp_path, case_id, shape, node, before, layer):
    """What the memory report says autograd keeps for the op (its `saved()`), in bytes at batch 2, is
    what torch.autograd.graph.saved_tensors_hooks sees. A learnable affine first makes the op's input one
    that needs its gradient, as inside a network (the input itself does not)."""
    g = archspec.analyze(_spec(tmp_path, case_id, shape, node, ["a: learnable_affine", *before]))
    x = torch.randn(2, *shape, device="meta")
    assert training_memory(g, 2, "float32").activations == saved_bytes(archspec.compile(g, device="meta"), x)


@pytest.mark.parametrize("case_id,shape,node,before,layer", CASES, ids=[c[0] for c in CASES])
def test_the_import_maps_timms_layer_to_the_op(tmp_path, case_id, shape, node, before, layer):
    """The table's entry for the timm layer gives the node's op and attributes (the spec's, defaults filled)."""
    (op, attrs), = table.module_ops(layer())
    n = archspec.analyze(_spec(tmp_path, case_id, shape, node, before)).nodes["x"]
    assert (op, REGISTRY[op].Attrs(**attrs)) == (n.op.name, n.attrs)


def test_norm_act_modules_are_the_norm_then_the_activation():
    assert table.module_ops(L.GroupNormAct(8, 4, act_layer=torch.nn.SiLU)) == [
        ("group_norm", {"groups": 4, "eps": 1e-5, "affine": True}), ("silu", {})]
    assert table.module_ops(L.FilterResponseNormAct2d(4))[1:] == [("relu", {})]
    assert table.module_ops(L.LayerNormAct2d(4, act_layer=torch.nn.GELU)) == [
        ("layernorm", {"eps": 1e-5, "affine": True}), ("gelu", {"approximate": "none"})]
    assert table.module_ops(L.GroupNorm1(4)) == [("group_norm", {"groups": 1, "eps": 1e-5, "affine": True})]
    assert table.module_ops(L.GroupNorm1Act(4, apply_act=False)) == table.module_ops(L.GroupNorm1(4))
    assert table.module_ops(L.LayerNormAct(4, act_layer=torch.nn.SiLU)) == [
        ("layernorm", {"eps": 1e-5, "affine": True}), ("silu", {})]
    # timm's own GELU module, which elsewhere the import traces into (F.gelu)
    assert table.module_ops(L.BatchNormAct2d(4, act_layer=L.activations.GELU))[1:] == [("gelu", {})]
    with pytest.raises(table.Unsupported, match="a Softplus inside it"):
        table.module_ops(L.GroupNormAct(8, 4, act_layer=torch.nn.Softplus))


def test_scaled_std_conv_reads_gamma_as_written():
    """ScaledStdConv2d keeps gamma / sqrt(fan-in) only: the import gives gamma back exactly (1.9 * 54 ** -0.5
    divided by 54 ** -0.5 is 1.8999999999999997)."""
    for gamma in (1.7139588594436646, 1.0, 1.7015043497085571, 0.5, 1.9):
        (_, attrs), = table.module_ops(L.ScaledStdConv2d(6, 8, 3, gamma=gamma))
        assert attrs["gamma"] == gamma and attrs["scaled"]


@pytest.mark.parametrize("node,message", [
    ("{op: group_norm, groups: 4}", "6 channels do not split into 4 groups"),
    ("{op: evo_norm, groups: 4}", "6 channels do not split into 4 groups"),
    ("{op: std_conv, out: 4, k: 3, gamma: 2.0}", "gamma=2.0 scales only a scaled std_conv"),
    ("{op: std_conv, out: 4, k: 3, connections: 'X'}", "connections"),
])
def test_bad_attributes_are_located_errors(tmp_path, node, message):
    with pytest.raises(SpecErrors, match=message) as e:
        archspec.analyze(_spec(tmp_path, "bad", [6, 5, 5], node, []))
    assert "bad.yaml:" in str(e.value)


ALL_NORMS = """archspec: 1
input: [8, 16, 16]
nodes:
  - a: {op: std_conv, out: 8, k: 3, pad: 1}
  - b: {op: std_conv, out: 8, k: 3, pad: 1, scaled: true, gamma: 1.7139588594436646}
  - c: {op: group_norm, groups: 4}
  - d: {op: evo_norm, groups: 4, variant: S0a, eps: 0.001}
  - e: frn
  - f: {op: rms_norm, stat: std}
  - g: grn
  - h: learnable_affine
  - p: {op: permute, dims: [0, 2, 3, 1]}
  - i: grn
outputs: {y: i}
"""


def test_generated_file_is_the_emitters_and_formatted(tmp_path):
    """The helper classes pass the emitter's whitelist (tests/source_check.py), ruff check (E501 at 100) and
    ruff format, as every shipped spec's generated file does (tests/test_generated_source.py)."""
    import subprocess
    import sys

    from source_check import check_generated_source

    from archspec.pytorch.emit import emit
    spec = tmp_path / "norms.yaml"
    spec.write_text(ALL_NORMS)
    text = emit(archspec.analyze(str(spec)))
    check_generated_source(text)
    out = tmp_path / "norms.py"
    out.write_text(text)
    settings = ["--isolated", "--no-cache", "--line-length", "100"]
    for args in (["check", "--extend-select", "E501"], ["format", "--check"]):
        result = subprocess.run([sys.executable, "-m", "ruff", *args, *settings, str(out)], capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


def _nfnet_like():
    from timm.models.nfnet import GammaAct
    gelu, relu = 1.7015043497085571, 1.7139588594436646          # NFNet's constants for its activations
    return torch.nn.Sequential(L.ScaledStdConv2d(3, 8, 3, gamma=gelu), GammaAct("gelu", gelu),
                               L.ScaledStdConv2d(8, 8, 3), GammaAct("relu", relu, inplace=True))


def _hgnet_like():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), _hgnet_affine(), torch.nn.ReLU(),
                               L.BatchNormAct2d(8, act_layer=L.activations.GELU))


@pytest.mark.parametrize("factory,ops", [
    (_nfnet_like, ["std_conv", "gelu", "scale", "std_conv", "relu", "scale"]),      # NFNet's gamma-scaled activations
    (_hgnet_like, ["conv", "batchnorm", "learnable_affine", "relu", "batchnorm", "gelu"]),
], ids=["nfnet-gamma-act", "hgnet-affine-bn-gelu"])
def test_timm_layers_import_and_round_trip(tmp_path, factory, ops):
    """Imported, the spec holds these ops in order, loads the model's weights strictly and gives its outputs
    exactly (to 1e-6) in eval and in training mode."""
    from archspec.pytorch.importing import import_model
    torch.manual_seed(0)
    model = factory()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    spec = tmp_path / "imported.yaml"
    spec.write_text(import_model(model, (3, 16, 16), "imported", "a test"))
    g = archspec.analyze(str(spec))
    assert [n.op.name for n in g.nodes.values() if n.op is not None] == ops
    ours = archspec.compile(g)
    ours.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 16, 16)
    for mode in (False, True):
        with torch.no_grad():
            assert torch.allclose(ours.train(mode)(x), model.train(mode)(x), atol=1e-6)
