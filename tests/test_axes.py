"""The axis ops and the ops extended by issue 20 beyond tests/test_ops.py's one-node checks: what
autograd keeps of them in training (the memory report's prediction against the bytes the saved-
tensor hooks see), and every static check as a located error before any torch runs."""
import re

import pytest
from test_ops import CASES

import archspec
from archspec.errors import SpecErrors
from archspec.reports.memory import training_memory

torch = pytest.importorskip("torch")
from archspec.pytorch.compiler import saved_bytes  # noqa: E402  (needs torch)

NEW = ("slice", "split", "softmax", "stack", "reshape", "flatten", "unflatten", "transpose", "elu", "mish",
       "sum", "mean", "mul-branches", "relu-4d", "amax", "upsample", "conv1d", "layer_scale-flat", "matmul",
       "adaptive_maxpool", "add-broadcast", "pad", "blurpool", "condconv", "div", "expand", "attention", "contiguous",
       "pos_embed", "concat-tokens", "linear-tokens")


def _front(shape) -> str:
    """A node with parameters in front, so that autograd keeps what the ops after it need."""
    return "{op: linear, out: %d}" % shape[0] if len(shape) == 1 else "{op: conv, out: %d, k: 1}" % shape[0]


@pytest.mark.parametrize("case", [c for c in CASES if c[0].startswith(NEW)], ids=lambda c: c[0])
@pytest.mark.parametrize("named", [True, False], ids=["named", "anonymous"])
def test_saved_tensors_match_the_hooks(spec_file, case, named):
    """After a conv (a fresh tensor: an activation may run in place), each op's `saved()` is what
    torch keeps, to the byte, at batch 2, as a module (named) and as a call (anonymous)."""
    case_id, shape, node, before, _ = case
    nodes = [f"front: {_front(shape)}", *before, f"x: {node}" if named else node]
    nodes = [re.sub(r"\binput\b", "front", n) for n in nodes]
    text = f"archspec: 1\ninput: {shape}\nnodes:\n" + "".join(f"  - {n}\n" for n in nodes)
    g = archspec.analyze(spec_file(text))
    model = archspec.compile(g, device="meta")
    x = torch.randn(2, *shape, device="meta")
    assert training_memory(g, 2, "float32").activations == saved_bytes(model, x)


def _error(spec_file, shape, nodes) -> str:
    path = spec_file(f"archspec: 1\ninput: {shape}\nnodes:\n" + "".join(f"  - {n}\n" for n in nodes))
    with pytest.raises(SpecErrors) as e:
        archspec.analyze(path)
    return str(e.value)


@pytest.mark.parametrize("shape,nodes,message", [
    ([6, 4, 4], ["{op: slice, start: 6}"], "net.yaml:4:5: error: x: slice 6: of axis 0 (size 6) of (6, 4, 4) is empty"),
    ([6, 4, 4], ["{op: slice, axis: 3, stop: 2}"], "axis 3 is out of range for the per-sample shape (6, 4, 4)"),
    ([6, 4, 4], ["{op: slice, step: 0}"], "step"),
    ([10, 2, 2], ["{op: split, sizes: [3, 6]}"], "split sizes of axis 0 of (10, 2, 2): [3, 6] do not add up to 10"),
    ([10, 2, 2], ["{op: split, sizes: [-1, -1]}"], "at most one is -1"),
    ([10, 2, 2], ["{op: split, sizes: [11, -1]}"], "[11, -1] do not add up to 10"),
    ([10, 2, 2], ["{op: split, sizes: [4, 6], index: 2}"], "split index 2 is out of range for 2 pieces"),
    ([10, 2, 2], ["{op: softmax, axis: -4}"], "axis -4 is out of range for the per-sample shape (10, 2, 2)"),
    ([4, 2, 2], ["p: {op: slice, stop: 2}", "{op: stack, in: [input, p]}"],
     "cannot stack (4, 2, 2) and (2, 2, 2): shapes differ"),
    ([4, 2, 2], ["r: relu", "{op: stack, in: [input, r], axis: 5}"], "axis 5 is out of range"),
    ([12, 1, 1], ["{op: reshape, shape: [5, -1]}"],
     "reshape of (12, 1, 1) (12 elements) to [5, -1] do not multiply to 12"),
    ([12, 1, 1], ["{op: reshape, shape: [2, 0, 6]}"], "sizes are positive"),
    ([12, 1, 1], ["{op: reshape, shape: [2, 2, 2, 2, 2, 2, 2, 2, 2]}"], "at most 8 items"),
    ([2, 3, 4], ["{op: flatten, start: 2, end: 1}"], "flatten start 2 comes after end 1 in (2, 3, 4)"),
    ([6, 2, 2], ["{op: unflatten, sizes: [4, -1]}"], "[4, -1] do not multiply to 6"),
    ([6, 2, 2], ["{op: transpose, axes: [0, 3]}"], "axis 3 is out of range"),
    ([6, 2, 2], ["{op: transpose, axes: [0]}"], "axes"),
    ([6, 2, 2], ["{op: sum, axis: [1, -2]}"], "sum over the axes [1, 1] of (6, 2, 2): name each axis once"),
    ([6], ["{op: mean, axis: 0}"], "mean over axes [0] makes the per-sample shape (): it needs 1 to 8 axes"),
    ([6, 2, 2], ["{op: upsample, align_corners: true}"], "align_corners applies to bilinear upsampling, not nearest"),
    ([6], ["upsample"], "upsample expects a 3-d input, got (6)"),
    ([6, 2, 2], ["{op: upsample, scale: 3, size: [7, 7]}"], "upsample takes a scale or a size, not both"),
    ([20], ["{op: unflatten, sizes: [4, 5]}", "{op: conv1d, out: 2, k: 7}"],
     "kernel 7 (dilation 1) is longer than the padded input 5"),
    ([20], ["{op: unflatten, sizes: [4, 5]}", "{op: conv1d, out: 3, k: 1, groups: 2}"],
     "conv1d of 4 channels to out=3: both must be divisible"),
    ([3, 4, 5], ["{op: matmul, in: [input, input]}"], "cannot multiply the matrices (3, 4, 5) and (3, 4, 5)"),
    ([3, 4, 5], ["t: {op: transpose, axes: [1, 2]}", "s: {op: mean, in: t, axis: 0, keepdim: true}",
                 "{op: matmul, in: [input, s]}"], "cannot multiply the matrices (3, 4, 5) and (1, 5, 4)"),
    ([3, 4, 4], ["g: global_avgpool", "{op: add, in: [g, input]}"], "cannot add (3, 1, 1) and (3, 4, 4)"),
    ([3, 4, 4], ["g: {op: adaptive_avgpool, size: 2}", "{op: div, in: [input, g]}"],
     "cannot divide (3, 4, 4) and (3, 2, 2)"),
    ([2, 1, 3], ["{op: expand, sizes: [2, 4, 5]}"], "cannot expand (2, 1, 3) to [2, 4, 5]"),
    ([2, 1, 3], ["{op: expand, sizes: [2, 4]}"], "give one size per axis"),
    ([8, 4, 5], ["q: {op: unflatten, sizes: [2, 4]}", "t: {op: transpose, in: q, axes: [2, 3]}",
                 "{op: attention, in: [q, t, q]}"], "no attention of the queries, keys and values (2, 4, 4, 5), "
                                                     "(2, 4, 5, 4) and (2, 4, 4, 5)"),
    ([8, 4, 5], ["q: {op: unflatten, sizes: [2, 4]}", "{op: attention, in: [q, input, q]}"],
     "no attention of the queries, keys and values (2, 4, 4, 5), (8, 4, 5) and (2, 4, 4, 5)"),
    ([8, 4, 5], ["{op: attention, in: [input, input, input], dropout: 1.5}"], "dropout"),
    ([12], ["t: {op: unflatten, sizes: [4, 3]}", "u: {op: unflatten, in: input, sizes: [3, 4]}",
            "{op: concat, in: [t, u]}"], "cannot concatenate (4, 3) and (3, 4)"),
    ([12], ["{op: unflatten, sizes: [2, 2, 3]}", "{op: linear, out: 4}"],
     "linear expects a 1-d or 2-d input, got (2, 2, 3)"),
    ([12], ["pos_embed", "{op: pos_embed, foo: 1}"], "foo"),
    ([4, 5, 5], ["{op: conv1d, out: 3, k: 1}"], "conv1d expects a 2-d input, got (4, 5, 5)"),
    ([6], ["{op: layer_scale, flat: true}"], "layer_scale flat: true on (6): flat holds (C,) for a (C, H, W) map"),
    ([6, 2, 2], ["{op: layer_scale, flat: true, scalar: true}"], "layer_scale: flat and scalar both"),
    ([3, 4, 4], ["{op: pad, amounts: [1, 1, -3, -2]}"],
     "net.yaml:4:5: error: x: pad -3, -2 of axis 1 (size 4) of (3, 4, 4) leaves size -1"),
    ([3, 4, 4], ["{op: pad, amounts: [0, 1, 0]}"], "pad amounts [0, 1, 0] (3) do not fit the per-sample shape"),
    ([6], ["{op: pad, amounts: [0, 1, 0, 1]}"], "pad amounts [0, 1, 0, 1] (4) do not fit the per-sample shape (6)"),
    ([3, 4, 4], ["{op: pad, amounts: [1, 1], mode: reflect}"], "do not fit the per-sample shape (3, 4, 4) in mode "
     "reflect"),
    ([3, 4, 4], ["{op: pad, amounts: [1, 4, 0, 0], mode: reflect}"],
     "pad 1, 4 of axis 2 (size 4) of (3, 4, 4): reflect pads less than the axis holds"),
    ([3, 4, 4], ["{op: pad, amounts: [-1, 0, 0, 0], mode: replicate}"], "mode replicate takes no negative amount"),
    ([3, 4, 4], ["{op: pad, amounts: [1, 0, 0, 0], mode: reflect, value: 1}"], "a pad value 1.0 in mode reflect"),
    ([3, 4, 4], ["{op: pad, amounts: [1, 0, 0, 0, 0, 0, 0, 0]}"], "amounts"),
    ([6, 2, 2], ["r: relu", "s: {op: stack, in: [input, r]}", "{op: conv, out: 4, k: 1}"],
     "conv expects a 3-d input, got (2, 6, 2, 2)"),
])
def test_static_checks_are_located(spec_file, shape, nodes, message):
    nodes = [*nodes[:-1], f"x: {nodes[-1]}"]
    assert message in _error(spec_file, shape, nodes)


def test_contiguous_lays_a_strided_tensor_out_anew(spec_file):
    """After a transpose the tensor is strided; contiguous copies it row-major, the values kept."""
    g = archspec.analyze(spec_file("archspec: 1\ninput: [3, 4, 5]\nnodes:\n  - {op: transpose, axes: [0, 2]}\n"
                                   "  - contiguous\n"))
    x = torch.randn(2, 3, 4, 5)
    y = archspec.compile(g)(x)
    assert y.is_contiguous() and not x.transpose(1, 3).is_contiguous()
    assert torch.equal(y, x.transpose(1, 3))


def test_anonymous_slice_and_sum_are_not_named_after_builtins(spec_file):
    """`slice` and `sum` are Python builtins, which no node may be called: their anonymous nodes are
    `sliced` and `summed`."""
    path = spec_file("archspec: 1\ninput: [4, 2, 2]\nnodes:\n  - {op: slice, stop: 2}\n  - {op: sum, axis: 0}\n"
                     "  - {op: slice, stop: 1}\n")
    g = archspec.analyze(path)
    assert list(g.nodes) == ["sliced", "summed", "sliced_1"]
    x = torch.randn(2, 4, 2, 2)
    assert torch.equal(archspec.compile(g)(x), x[:, :2].sum(1)[:, :1])


def test_three_path_sk_unit_is_timms_selective_kernel():
    """examples/guide/sk_unit.yaml (split, stack, sum, mean, reshape, softmax over the branch axis, mul of
    (3, C, H, W) by (3, C, 1, 1), a let with make_divisible) against timm's SelectiveKernel with
    three kernels: equal params and FlopCounterMode MACs, and, its tensors copied in state_dict
    order (the names differ: timm's paths.0.conv, attn.fc_reduce), equal outputs in eval and
    training mode."""
    timm_sk = pytest.importorskip("timm.layers.selective_kernel")
    from paths import ROOT
    from torch.utils.flop_counter import FlopCounterMode
    g = archspec.analyze(str(ROOT / "examples" / "guide" / "sk_unit.yaml"))
    ours = archspec.compile(g)
    theirs = timm_sk.SelectiveKernel(96, 96, kernel_size=[3, 5, 7])
    a, b = ours.state_dict(), theirs.state_dict()
    assert [tuple(v.shape) for v in a.values()] == [tuple(v.shape) for v in b.values()]
    assert g.params == sum(p.numel() for p in theirs.parameters()) == 86_608
    torch.manual_seed(0)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    ours.load_state_dict(dict(zip(a, b.values())))
    x = torch.randn(2, 96, 16, 16)
    with FlopCounterMode(display=False) as flops, torch.no_grad():
        theirs.eval()(x)
    assert flops.get_total_flops() == 2 * 2 * g.macs
    for mode in (False, True):
        ours.train(mode), theirs.train(mode)
        with torch.no_grad():
            assert torch.allclose(ours(x), theirs(x), atol=1e-5)


def test_four_axis_shapes_in_tables_and_diagrams(tmp_path, capsys):
    """A (3, C, H, W) tensor reads as such in the summary and on the diagram's edges."""
    from paths import ROOT

    from archspec.cli import main
    spec = str(ROOT / "examples" / "guide" / "sk_unit.yaml")
    out = tmp_path / "sk.svg"
    assert main(["diagram", spec, "-o", str(out)]) == 0
    assert "3×96×16×16" in out.read_text()
    capsys.readouterr()
    assert main(["summary", spec, "--format", "csv"]) in (0, None)
    assert "3x96x16x16" in capsys.readouterr().out


@pytest.mark.parametrize("node,ok", [
    ({"op": "reshape", "shape": [3, "${out}", 1, 1]}, True),      # an expression as a list item, as the loader takes it
    ({"op": "transpose", "axes": ["${a}", 1]}, True),
    ({"op": "mean", "axis": [1, 2], "keepdim": True}, True),
    ({"op": "sum", "axis": 0}, True),
    ({"op": "reshape", "shape": [3, "four"]}, False),             # text that is no expression
    ({"op": "slice", "start": 1, "end": 2}, False),               # stop, not end
    ({"op": "softmax", "axis": 1.5}, False),
])
def test_the_schema_takes_the_new_forms(node, ok):
    jsonschema = pytest.importorskip("jsonschema")
    from archspec.frontend.schema import json_schema
    doc = {"archspec": 1, "input": [3, 8, 8], "params": {"out": 4, "a": 0}, "nodes": [node]}
    errors = list(jsonschema.Draft202012Validator(json_schema()).iter_errors(doc))
    assert (not errors) == ok, errors[:1]


def test_every_node_of_the_sk_unit_has_its_inferred_shape():
    """The compiler's own check on the meta device: each node's real output shape (four-axis ones
    among them) is the inferred one, the state_dict the graph's, MACs FlopCounterMode's."""
    from paths import ROOT

    from archspec.pytorch.compiler import check
    report = check(str(ROOT / "examples" / "guide" / "sk_unit.yaml"))
    assert report.ok, str(report)
    assert report.shapes_checked == 23
