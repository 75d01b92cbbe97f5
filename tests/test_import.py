"""`archspec import`: a PyTorch model in, a spec out. The oracle is the source model itself:
the spec validates, its params equal the model's and its MACs torch's FlopCounterMode / 2 (on
the meta device), its compiled module loads the model's state_dict with strict=True and gives
the same outputs in eval mode."""
import re

import pytest
import torch
import torchvision
from paths import SPECS
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.cli import main
from archspec.ops import REGISTRY
from archspec.plugins import load_module
from archspec.pytorch.importing import table

# torchvision's classification models the importer round-trips (see MISSING for the others)
TORCHVISION = ["alexnet", "vgg16_bn", "googlenet", "inception_v3", "resnet50", "resnext50_32x4d",
               "wide_resnet50_2", "densenet121", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
               "squeezenet1_0", "shufflenet_v2_x1_0", "convnext_tiny", "regnet_y_400mf"]
SIZES = {"inception_v3": 96}          # outputs compared at 64x64 but where the model needs more

USER_MODEL = '''
import torch
from torch import nn


class Unit(nn.Module):
    """A residual unit: the first of a stage is strided and projects."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.proj = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return y + (self.proj(x) if self.proj is not None else x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stage = nn.Sequential(Unit(8, 16, 2), Unit(16, 16, 1), Unit(16, 16, 1), Unit(16, 16, 1))
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stage(self.stem(x))
        return self.head(torch.flatten(x.mean((2, 3), keepdim=True), 1))


class Rolled(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())

    def forward(self, x):
        return torch.roll(self.body(x), 1, 2)


def net():
    torch.manual_seed(0)
    return Net()


def plain():
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()]      # the same ops from 3 channels
    for _ in range(2):
        layers += [nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()]
    layers += [nn.MaxPool2d(2)]
    return nn.Sequential(nn.Sequential(*layers), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


def rolled():
    return Rolled()


class Swish(nn.Module):
    def __init__(self, beta):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)


def swishy():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), Swish(1.5), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))


class Biased(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.shift = nn.Parameter(torch.zeros(4, 1, 1))

    def forward(self, x):
        return self.conv(x) + self.shift


def biased():
    return nn.Sequential(Biased())


def broken():
    raise ValueError("no weights here")


class Halves(nn.Module):
    """Res2Net's and GhostNet's idiom: pieces of a split and slices of the channels."""

    def __init__(self, cut):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)
        self.convs = nn.ModuleList([nn.Conv2d(4, 4, 3, padding=1) for _ in range(2)])
        self.cut = cut

    def forward(self, x):
        x = self.conv(x)
        a, b = torch.split(x, 4, 1)
        for conv in self.convs:                  # a ModuleList run as a chain
            a = conv(a)
        return torch.cat([a, b[:, :2], x[:, self.cut:]], 1)


def halves():
    torch.manual_seed(0)
    return nn.Sequential(Halves(6), nn.ReLU())


def uneven():
    torch.manual_seed(0)
    return nn.Sequential(Halves(5))


class Attend(nn.Module):
    """SKNet's idiom: branches stacked on a new axis, a softmax across them (torch's dim 1)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.softmax(torch.stack([self.a(x), self.b(x)], dim=1), dim=1)


def attend():
    torch.manual_seed(0)
    return Attend()


class Normed(nn.Module):
    """BAT's bilinear attention normalises its maps by their row sums (a tensor over a tensor), then
    repeats each group's map for the channels of its group (view, expand, contiguous, view)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)

    def forward(self, x):
        n, _, h, w = x.shape
        p = self.conv(x).sigmoid()
        p = p / p.sum(dim=3, keepdim=True) / 2
        return p.view(n, 2, 1, h, w).expand(n, 2, 3, h, w).contiguous().view(n, 6, h, w)


def normed():
    torch.manual_seed(0)
    return Normed()


class Reshaped(nn.Module):
    """timm's idioms on axes: ECA's conv1d across the channels (a view, then expand_as), ResNeSt's
    radix view and sum, a mean over one axis, a transpose, ConvNeXt's (C,) gamma on a map and NFNet's
    scalar gain multiplied in place; first
    TResNet's space-to-depth (a view, a permute of six axes, a view)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(12, 8, 3, padding=1)
        self.eca = nn.Conv1d(1, 1, 3, padding=1, bias=False)
        self.gamma = nn.Parameter(torch.randn(4))
        self.gain = nn.Parameter(torch.tensor(0.5))         # NFNet's skipinit_gain: one factor

    def forward(self, x):
        n, c, h, w = x.shape
        x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4).contiguous().view(n, c * 4, h // 2, w // 2)
        x = self.conv(x)
        y = self.eca(x.mean((2, 3)).view(x.shape[0], 1, -1)).view(x.shape[0], -1, 1, 1).sigmoid()
        x = x * y.expand_as(x)
        x = x.reshape(x.shape[0], 2, 4, x.shape[2], x.shape[3]).sum(1)       # (4, H, W)
        x = x + x.amax(3, keepdim=True).transpose(2, 3).mean(3, keepdim=True)
        x = x.mul(self.gamma.reshape(1, -1, 1, 1))
        x.mul_(self.gain)           # in place, as NFNet's skipinit: the return reads the product
        x.relu_()                   # and any in-place method alike (was dropped: fx returns x before it)
        return x


def reshaped():
    torch.manual_seed(0)
    return Reshaped()


class Padded(nn.Module):
    """timm's idiom: Python control flow on a shape (here: pool only maps larger than 4x4)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        x = self.conv(x)
        if x.shape[-1] > 4:
            x = self.pool(x)
        return x.float()


def padded():
    torch.manual_seed(0)
    return Padded()


def stages():
    """Stages of units in a Sequential of Sequentials: the units' keys keep both indices."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Sequential(nn.Sequential(Unit(3, 8, 1), Unit(8, 8, 1)),
                                       nn.Sequential(Unit(8, 16, 2), Unit(16, 16, 1), Unit(16, 16, 1))))


class Reserved(nn.Module):
    """timm's Inception-ResNet-v2 names a stage `repeat`, a reserved word of the spec language."""

    def __init__(self):
        super().__init__()
        self.repeat = nn.Sequential(Unit(3, 8, 1), Unit(8, 8, 1), Unit(8, 8, 1))

    def forward(self, x):
        return self.repeat(x)


def reserved():
    torch.manual_seed(0)
    return Reserved()
'''


@pytest.fixture
def user_file(in_tmp):
    (in_tmp / "models.py").write_text(USER_MODEL)
    return "models.py"


def _close(a, b, tol=1e-4):
    return (a - b).abs().max().item() <= tol * max(1.0, a.abs().max().item())


def _round_trip(path, source_model, x, compiled=False):
    """The spec at `path` against the model it was imported from: counts, weights, outputs; the
    graph (or the compiled module)."""
    g = archspec.analyze(str(path))
    assert g.params == sum(p.numel() for p in source_model.parameters())
    ours = archspec.compile(str(path), device="meta")
    ours.load_state_dict({k: v.clone() for k, v in source_model.state_dict().items()}, strict=True, assign=True)
    with torch.inference_mode():
        assert _close(source_model.eval()(x), ours.eval()(x))
    return ours if compiled else g


def test_user_model_imports_as_a_block_and_a_repeat(user_file, capsys):
    assert main(["import", f"{user_file}:net", "-o", "net.yaml", "--input", "3,32,32"]) == 0
    assert "wrote net.yaml" in capsys.readouterr().out
    text = open("net.yaml").read()
    assert "  unit:\n    params: {stride: int, proj: bool}" in text          # the class is one block
    assert '- proj: {op: conv, in: input, when: "${proj}", out: 16, k: 1, stride: "${stride}", bias: false}' \
        in text                                                                # the projection where present
    assert '- {op: add, in: [relu, proj]}' in text                            # the identity where not
    assert '- stage: {repeat: 4, node: {use: unit, stride: "${2 if i == 0 else 1}", proj: "${i == 0}"}}' in text
    assert main(["validate", "net.yaml"]) == 0
    model = load_module(user_file).net()
    g = _round_trip("net.yaml", model, torch.randn(1, 3, 32, 32))
    with FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, 3, 32, 32))
    assert g.macs == fc.get_total_flops() // 2


def test_repeated_ops_in_a_sequential_are_one_repeat(user_file):
    """VGG's idiom: the same ops again and again in an nn.Sequential are one repeat of their list."""
    assert main(["import", f"{user_file}:plain", "-o", "plain.yaml", "--input", "3,8,8"]) == 0
    text = open("plain.yaml").read()
    assert '  - "0":\n      seq:\n        - {repeat: 3, node: [{op: conv, out: 8, k: 3, pad: 1}, batchnorm, relu]}' \
        in text
    _round_trip("plain.yaml", load_module(user_file).plain(), torch.randn(1, 3, 8, 8))


def test_a_user_op_stands_for_its_module(user_file, capsys):
    """--ops: an op whose `imports` names a module class is that module (examples/swish_op.py);
    the spec says which file it needs. Without it, the module's forward is traced op by op."""
    ops = str(SPECS.parent / "examples" / "swish_op.py")
    assert main(["import", f"{user_file}:swishy", "-o", "s.yaml", "--input", "3,8,8", "--ops", ops]) == 0
    text = open("s.yaml").read()
    assert '- "1": {op: swish, beta: 1.5}' in text and 'requires_ops: {swish: "swish_op.py"}' in text
    assert main(["validate", "s.yaml", "--ops", ops]) == 0
    _round_trip("s.yaml", load_module(user_file).swishy(), torch.randn(1, 3, 8, 8))
    from archspec.ops import REGISTRY
    del REGISTRY["swish"]               # the registry is the process's: leave it as the other tests expect
    assert main(["import", f"{user_file}:swishy", "-o", "t.yaml", "--input", "3,8,8"]) == 0
    assert "scale" in open("t.yaml").read()


def test_unsupported_op_names_the_module_and_the_op(user_file, capsys):
    assert main(["import", f"{user_file}:rolled", "-o", "r.yaml"]) == 1
    err = capsys.readouterr().err
    assert "error: <model> (torch.roll): torch.roll has no archspec op" in err
    assert "hint: register an op for it with --ops" in err and "Traceback" not in err
    import os
    assert not os.path.exists("r.yaml")


def test_a_parameter_used_directly_is_located(user_file, capsys):
    """A module's own tensor is a layer scale only in a product; anything else is an error."""
    assert main(["import", f"{user_file}:biased", "-o", "b.yaml", "--input", "3,8,8"]) == 1
    err = capsys.readouterr().err
    assert "error: 0.shift (Biased): a parameter or buffer used directly in forward" in err
    assert "hint: register an op that holds it with --ops" in err


def test_factory_errors_are_located_in_the_users_file(user_file, capsys):
    assert main(["import", f"{user_file}:broken"]) == 1
    err = capsys.readouterr().err
    assert re.search(r"models\.py:\d+:1: error: cannot load import models\.py: ValueError: no weights here", err)
    assert main(["import", f"{user_file}:nets"]) == 1
    assert "has no function 'nets'" in capsys.readouterr().err


def test_bad_sources_are_one_error_each(in_tmp, capsys):
    assert main(["import", "torchvision:resnet5O"]) == 1
    err = capsys.readouterr().err
    assert "torchvision has no classification model 'resnet5O'" in err and "did you mean" in err
    assert main(["import", "nowhere.py:f"]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["import", "resnet50"]) == 1
    with pytest.raises(SystemExit) as e:
        main(["import", "torchvision:resnet50", "--input", "3,224"])
    assert e.value.code == 2


def test_every_table_module_maps_to_a_registered_op():
    from torch import nn
    from torchvision.ops import Permute, StochasticDepth
    examples = [nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.BatchNorm1d(4), nn.Linear(3, 4), nn.MaxPool2d(2),
                nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(7), nn.LocalResponseNorm(5), nn.LayerNorm(4), nn.Dropout(),
                nn.Flatten(), nn.ReLU(), nn.ReLU6(), nn.SiLU(), nn.Hardswish(), nn.Hardsigmoid(), nn.Sigmoid(),
                nn.Tanh(), nn.Identity(), nn.LeakyReLU(), nn.GELU(), nn.Softmax(1), StochasticDepth(0.1, "row"),
                Permute([0, 2, 3, 1]), nn.GroupNorm(2, 4), nn.Upsample(scale_factor=2), nn.ELU(0.5), nn.Mish(),
                nn.Conv1d(1, 1, 3, padding=1, bias=False), nn.AdaptiveMaxPool2d((7, 1))]
    assert {type(m) for m in examples} == set(table.MODULES)        # an entry without an example fails
    for m in examples:
        (op, attrs), = table.module_ops(m)
        REGISTRY[op].Attrs(**{k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()})
    assert table.module_ops(nn.AdaptiveAvgPool2d((1, 1)))[0][0] == "global_avgpool"
    assert table.module_ops(nn.Conv2d(3, 4, (3, 5), padding="same", dilation=2))[0][1]["pad"] == (2, 4)
    with pytest.raises(table.Unsupported, match="padding='same' with an even window"):
        table.module_ops(nn.Conv2d(3, 4, 2, padding="same"))
    with pytest.raises(table.Unsupported, match="padding_mode='reflect'"):
        table.module_ops(nn.Conv2d(3, 4, 3, padding_mode="reflect"))
    with pytest.raises(table.Unsupported, match="padding_mode='circular'"):
        table.module_ops(nn.Conv1d(3, 4, 3, padding_mode="circular"))


def test_timms_drop_path_is_stochastic_depth():
    """timm's DropPath draws as torchvision's StochasticDepth (a row's Bernoulli, scaled by 1 / keep):
    without an entry eval mode's trace drops it, and training-mode outputs differ (FasterNet-S)."""
    drop = pytest.importorskip("timm.layers.drop")
    assert table.module_ops(drop.DropPath(0.1)) == [("stochastic_depth", {"p": 0.1, "mode": "row"})]
    with pytest.raises(table.Unsupported, match="scale_by_keep=False"):
        table.module_ops(drop.DropPath(0.1, scale_by_keep=False))


def test_splits_and_slices_are_chunks(user_file):
    """torch.split and x[:, a:b] are the pieces they cut: `chunk` where the piece is one of equal
    pieces of the channels; a ModuleList run as a chain keeps its members' keys (convs.0)."""
    assert main(["import", f"{user_file}:halves", "-o", "h.yaml", "--input", "3,8,8"]) == 0
    text = open("h.yaml").read()
    assert "{op: chunk, chunks: 2}" in text and "{op: chunk, in: conv, chunks: 2, index: 1}" in text
    assert "{op: chunk, in: conv, chunks: 4, index: 3}" in text           # x[:, 6:] of 8 channels
    assert "convs: {in: chunk_1, seq: [{repeat: 2, node: [{op: conv, out: 4, k: 3, pad: 1}]}]}" in text
    _round_trip("h.yaml", load_module(user_file).halves(), torch.randn(1, 3, 8, 8))


def test_an_uneven_slice_is_the_slice_op(user_file):
    """x[:, 5:] of 8 channels is no equal piece: the slice op, its axis counted per sample (torch's
    dim 1 is archspec's axis 0), and the spec computes what the model does."""
    assert main(["import", f"{user_file}:uneven", "-o", "u.yaml", "--input", "3,8,8"]) == 0
    assert "{op: slice, in: conv, start: 5, stop: 8}" in open("u.yaml").read()
    _round_trip("u.yaml", load_module(user_file).uneven(), torch.randn(1, 3, 8, 8))


def test_stack_and_softmax_across_branches_count_axes_per_sample(user_file):
    """torch.stack(..., dim=1) and softmax(dim=1) over the branches: archspec's axis 0 (torch's dim 1
    less the batch), equal outputs."""
    assert main(["import", f"{user_file}:attend", "-o", "a.yaml", "--input", "3,8,8"]) == 0
    text = open("a.yaml").read()
    assert "{op: stack, in: [a, b]}\n  - softmax\n" in text and "axis" not in text     # both at axis 0
    _round_trip("a.yaml", load_module(user_file).attend(), torch.randn(1, 3, 8, 8))


def test_a_tensor_divided_by_a_tensor_is_div_and_expand_repeats(user_file):
    """p / p.sum(3, keepdim=True) is div of the two (broadcasting), a division by a constant a scale;
    an expand of an axis of size 1 is expand (the other axes -1)."""
    assert main(["import", f"{user_file}:normed", "-o", "n.yaml", "--input", "3,5,6"]) == 0
    text = open("n.yaml").read()
    assert "summed: {op: sum, axis: 2, keepdim: true}\n  - {op: div, in: [sigmoid, summed]}\n" \
        "  - {op: scale, factor: 0.5}\n" in text, text
    assert "{op: expand, sizes: [-1, 3, -1, -1]}" in text, text
    _round_trip("n.yaml", load_module(user_file).normed(), torch.randn(2, 3, 5, 6))


def test_reshapes_and_reductions_are_the_axis_ops(user_file):
    """Each view is the op its shapes make (unflatten, reshape, flatten), the reductions count axes
    per sample, an expand_as read by a product is no op, a (C,) gamma on a map is layer_scale flat."""
    assert main(["import", f"{user_file}:reshaped", "-o", "r.yaml", "--input", "3,6,6"]) == 0
    text = open("r.yaml").read()
    for node in ("{op: reshape, shape: [3, 3, 2, 3, 2]}", "{op: permute, dims: [0, 3, 5, 1, 2, 4]}",
                 "{op: flatten, end: 2}", "{op: unflatten, sizes: [1, -1]}",
                 "{op: conv1d, out: 1, k: 3, pad: 1, bias: false}",
                 "{op: reshape, shape: [-1, 1, 1]}", "{op: mul, in: [conv, sigmoid]}",
                 "{op: unflatten, sizes: [2, 4]}", "{op: sum, axis: 0}", "{op: amax, axis: 2, keepdim: true}",
                 "{op: transpose, axes: [1, 2]}", "{op: mean, axis: 2, keepdim: true}",
                 "gamma: {op: layer_scale, flat: true}", "gain: {op: layer_scale, init: 0.5, scalar: true}",
                 "  - relu\n"):
        assert node in text, node
    _round_trip("r.yaml", load_module(user_file).reshaped(), torch.randn(2, 3, 6, 6))


def test_control_flow_on_a_shape_takes_this_inputs_branch(user_file):
    """The trace computes shapes as it goes: `if x.shape[-1] > 4` is decided on the import's input."""
    assert main(["import", f"{user_file}:padded", "-o", "big.yaml", "--input", "3,8,8"]) == 0
    assert main(["import", f"{user_file}:padded", "-o", "small.yaml", "--input", "3,4,4"]) == 0
    assert "maxpool" in open("big.yaml").read() and "maxpool" not in open("small.yaml").read()
    _round_trip("big.yaml", load_module(user_file).padded(), torch.randn(1, 3, 8, 8))


def test_a_module_named_by_a_reserved_word_keeps_its_name(user_file):
    """`repeat` cannot be a node's key: a one-step repeat gives the group its name."""
    assert main(["import", f"{user_file}:reserved", "-o", "rs.yaml", "--input", "3,8,8"]) == 0
    assert "- {repeat: 1, name: repeat, index: k, node: {seq: [{repeat: 3, node: {use: unit" in open("rs.yaml").read()
    _round_trip("rs.yaml", load_module(user_file).reserved(), torch.randn(1, 3, 8, 8))


def test_nested_numbered_groups_keep_their_indices(user_file):
    """A repeat inside a numbered stage inside a numbered Sequential: keys 0.1.2.conv, never 0.4.conv."""
    assert main(["import", f"{user_file}:stages", "-o", "st.yaml", "--input", "3,8,8"]) == 0
    g = _round_trip("st.yaml", load_module(user_file).stages(), torch.randn(1, 3, 8, 8))
    assert "0.1.2.conv.weight" in g.state_dict_shapes()


# -- torchvision ------------------------------------------------------------------------------

def _import(name, tmp_path, **kw):
    out = tmp_path / f"{name}.yaml"
    assert main(["import", f"torchvision:{name}", "-o", str(out)]) == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_round_trip(name, tmp_path):
    path = _import(name, tmp_path)
    assert main(["validate", str(path)]) == 0
    g = archspec.analyze(str(path))
    try:
        with torch.device("meta"):
            meta = torchvision.models.get_model(name).eval()
    except NotImplementedError:           # RegNet's constructor computes its widths with tensors
        meta = torchvision.models.get_model(name).eval().to("meta")
    with FlopCounterMode(display=False) as fc:
        meta(torch.zeros(1, *g.input_shape, device="meta"))
    assert g.eval_counts()["macs"] == fc.get_total_flops() // 2
    torch.manual_seed(0)
    size = SIZES.get(name, 64)
    _round_trip(path, torchvision.models.get_model(name), torch.randn(1, 3, size, size))


def _lines(text: str) -> int:
    """Lines that say something: neither blank nor only a comment."""
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def _hand_written_lines(spec: str) -> int:
    """A library spec's own lines plus those of the block definitions it instantiates."""
    path = SPECS / spec
    used = {s.block for s in archspec.analyze(str(path)).scopes.values() if s.block}
    total = _lines(path.read_text())
    for lib in re.findall(r"^use: (\S+)", path.read_text(), re.M):
        text = (SPECS / lib).read_text()
        for name in used:
            m = re.search(rf"^  {name}:.*?(?=^  \S|^\S|\Z)", text, re.M | re.S)
            total += _lines(m.group(0)) if m else 0
    return total


@pytest.mark.parametrize("name", ["resnet50", "densenet121"])
def test_imported_specs_read_like_the_libraries(name, tmp_path):
    """Within 1.5x the lines of the hand-written spec and the blocks it uses, with blocks and repeats."""
    text = _import(name, tmp_path).read_text()
    assert _lines(text) <= 1.5 * _hand_written_lines(f"{name}.yaml")
    assert "\nblocks:\n" in text and "repeat:" in text
    if name == "resnet50":           # the README shows this very import
        readme = (SPECS.parent / "README.md").read_text()
        assert text.split("\nblocks:\n")[1] in readme


# one timm model per CNN family the importer round-trips (bench/timm_survey.py surveys them all)
TIMM = ["inception_v4", "legacy_senet154", "resnet26d", "resnet10t", "regnetx_002", "repvgg_a0", "efficientnet_b0",
        "efficientnetv2_rw_t", "mobilenetv3_small_050", "ghostnet_050", "densenet121", "inception_v3", "xception41",
        "cs3darknet_focus_s", "selecsls42b", "mixnet_s", "repghostnet_050", "repvit_m1", "hardcorenas_a", "vgg11",
        "inception_resnet_v2", "convmixer_768_32",
        # modules of several inputs or outputs (blocks with inputs:/outputs:), list-laid members, upsampling
        "dla34", "res2net50_26w_4s", "ese_vovnet19b_dw", "hrnet_w18_small", "selecsls60", "hgnet_tiny",
        "ghostnetv2_100", "mobileone_s0"]
# the norms (ops/norms.py): NFNet's scaled std conv, group norm (-act), EvoNorm S0 and S0a, FRN, ConvNeXt-V2's GRN,
# layer norm-act
TIMM += ["test_nfnet", "test_efficientnet_gn", "resnet50_gn", "test_efficientnet_evos", "regnetz_b16_evos",
         "resnetv2_50d_frn", "convnextv2_atto", "test_efficientnet_ln"]
# the import table's reshapes, reductions, slices, (C,) layer scale, split attention (table.py)
TIMM += ["ecaresnet26t", "gcresnet33ts", "convnext_atto", "inception_next_atto", "rdnet_tiny", "resnest14d", "dpn48b",
         "fasternet_t1", "rexnet_100"]
# SKNet's selective kernel (a ModuleList of paths over one input, softmax across them), ConvNeXt's RMS norm
TIMM += ["skresnet18", "skresnext50_32x4d", "convnext_zepto_rms", "convnext_zepto_rms_ols", "hgnetv2_b0"]
# attention (ops/merge.py): MobileNetV4's multi-query attention (F.scaled_dot_product_attention) and LayerScale2d
TIMM += ["mobilenetv4_hybrid_medium"]


@pytest.mark.slow
@pytest.mark.parametrize("name", TIMM)
def test_timm_round_trip(name, tmp_path):
    """As torchvision's, and in training mode too: under one seed the outputs agree (dropout and
    batch statistics alike) and so do the running statistics after the step."""
    timm = pytest.importorskip("timm")
    out = tmp_path / f"{name}.yaml"
    assert main(["import", f"timm:{name}", "-o", str(out)]) == 0
    g = archspec.analyze(str(out))
    with torch.device("meta"):
        meta = timm.create_model(name, pretrained=False).eval()
    with FlopCounterMode(display=False) as fc:
        meta(torch.zeros(1, *g.input_shape, device="meta"))
    assert g.eval_counts()["macs"] == fc.get_total_flops() // 2
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    # VGG's head pools maps below 7x7 (a branch on the shape, traced at 224); Inception's stems need 96
    # GhostNetV2's attention upsamples to the size of the import's maps (3x3 to 7x7 at 224)
    side = {"vgg11": 224, "inception_v3": 96, "inception_v4": 96, "inception_resnet_v2": 96,
            "ghostnetv2_100": 224,
            "mobilenetv4_hybrid_medium": 256,     # its attention reshapes to the traced positions (16x16 at 256)
            "resnet50_clip": 224,                 # its position embedding holds 7x7 + 1 tokens
            }.get(name, 64)
    x = torch.randn(2, 3, side, side)
    ours = _round_trip(out, model, x, compiled=True)
    torch.manual_seed(1)
    want = model.train()(x)
    torch.manual_seed(1)
    assert _close(want.detach(), ours.train()(x).detach())
    theirs = model.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in ours.state_dict().items())


HOSTILE = '''
import torch
from torch import nn


def evil_name():
    m = nn.Sequential()
    m.add_module("x\\nimport os", nn.Conv2d(3, 4, 1))
    return m


def evil_class():
    cls = type("Evil\\n!!python/object:os.system", (nn.Module,), {
        "__init__": lambda self: (nn.Module.__init__(self), setattr(self, "c", nn.Conv2d(3, 3, 1)))[0],
        "forward": lambda self, x: self.c(x)})
    return nn.Sequential(cls(), cls())
'''


def test_hostile_names_stay_data(in_tmp, capsys):
    """Module names are checked by the one validator; class names become block names of word
    characters; the file written is a spec that loads as plain data."""
    (in_tmp / "evil.py").write_text(HOSTILE)
    assert main(["import", "evil.py:evil_name", "-o", "a.yaml", "--input", "3,8,8"]) == 1
    err = capsys.readouterr().err
    assert "cannot be an archspec node name" in err and not (in_tmp / "a.yaml").exists()
    assert main(["import", "evil.py:evil_class", "-o", "b.yaml", "--input", "3,8,8"]) == 0
    text = (in_tmp / "b.yaml").read_text()
    assert list(archspec.load("b.yaml").blocks) == ["system"] and "!!" not in text
    assert main(["validate", "b.yaml"]) == 0


SAME_MODEL = '''
import torch
import torch.nn.functional as F
from timm.layers import BlurPool2d, CondConv2d, Conv2dSame
from timm.layers.padding import pad_same
from timm.layers.pool2d_same import AvgPool2dSame, MaxPool2dSame
from torch import nn


class Net(nn.Module):
    """TensorFlow's 'same' padding (timm's ...Same modules), explicit pads and crops, blur pooling and a
    CondConv with its routing."""

    def __init__(self):
        super().__init__()
        self.conv = Conv2dSame(3, 8, 3, stride=2)
        self.pool = MaxPool2dSame(3, stride=2)
        self.avg = AvgPool2dSame(2, stride=2)
        self.crop = nn.ZeroPad2d((-1, 1, -1, 1))
        self.mirror = nn.ReflectionPad2d((1, 0, 0, 1))
        self.blur = BlurPool2d(8, stride=2)
        self.route = nn.Linear(8, 4)
        self.cc = CondConv2d(8, 6, 3, stride=2, padding="same", num_experts=4, bias=True)

    def forward(self, x):
        x = F.pad(self.conv(x), (1, 0, 2, 1), mode="reflect")
        x = self.blur(self.mirror(self.crop(self.avg(self.pool(x)))))
        return self.cc(x, torch.sigmoid(self.route(x.mean((2, 3)))))


def net():
    return Net()


class Traced(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)

    def forward(self, x):
        return self.conv(pad_same(x, (3, 3), (2, 2)))      # traced into: F.pad of amounts computed from sizes


def traced():
    return Traced()
'''


def test_same_padding_blur_pool_and_condconv_import_exactly(in_tmp):
    """timm's Conv2dSame is TensorFlow's 'same' padding (pad_same: computed from the size, as its forward
    does, so the spec is the model's at any input size) before a conv holding `conv.weight`; MaxPool2dSame's
    -inf padding is the same maxima as replicate padding; F.pad, a crop by negative amounts, ReflectionPad2d, BlurPool2d
    and CondConv2d (two inputs, its 'same' pad before it) are ops; strict load, equal outputs."""
    pytest.importorskip("timm")
    (in_tmp / "same.py").write_text(SAME_MODEL)
    assert main(["import", "same.py:net", "-o", "s.yaml", "--input", "3,32,32"]) == 0
    text = open("s.yaml").read()
    for node in ("- {op: pad_same, k: 3, stride: 2}\n  - conv: {op: conv, out: 8, k: 3, stride: 2}\n",
                 "{op: pad, amounts: [1, 0, 2, 1], mode: reflect}",
                 "{op: pad_same, k: 3, stride: 2, mode: replicate}\n  - pool: {op: maxpool, k: 3, stride: 2}\n",
                 "{op: pad_same, k: 2, stride: 2}\n  - avg: {op: avgpool, k: 2, stride: 2}\n",
                 "crop: {op: pad, amounts: [-1, 1, -1, 1]}", "mirror: {op: pad, amounts: [1, 0, 0, 1], mode: reflect}",
                 "blur: blurpool", "pad_same_1: {op: pad_same, in: blur, k: 3, stride: 2}\n  - cc: {op: condconv, "
                 "in: [pad_same_1, sigmoid], out: 6, k: 3, stride: 2, bias: true, experts: 4}"):
        assert node in text, node
    model = load_module("same.py").net()
    g = _round_trip("s.yaml", model, torch.randn(2, 3, 32, 32))
    assert g.nodes["blur"].shape == (8, 3, 3) and g.nodes["cc"].shape == (6, 2, 2)
    ours = archspec.compile("s.yaml", device="meta")      # 'same' padding is the model's at any size
    ours.load_state_dict(model.state_dict(), strict=True, assign=True)
    x = torch.randn(2, 3, 45, 38)
    with torch.inference_mode():
        assert _close(model.eval()(x), ours.eval()(x))
    assert main(["import", "same.py:traced", "-o", "t.yaml", "--input", "3,31,32"]) == 0
    text = open("t.yaml").read()
    assert "  - {op: pad, amounts: [0, 1, 1, 1]}\n  - conv: {op: conv, out: 4, k: 3, stride: 2}\n" in text
    _round_trip("t.yaml", load_module("same.py").traced(), torch.randn(2, 3, 31, 32))


# the families TensorFlow's 'same' padding, blur pooling and CondConv opened (one small model each)
TIMM_PADDED = ["tf_efficientnet_lite0", "tf_mixnet_s", "tf_mobilenetv3_small_minimal_100", "resnetblur18",
               "efficientnet_cc_b0_4e"]


@pytest.mark.slow
@pytest.mark.parametrize("name", TIMM_PADDED)
def test_timm_round_trip_padded(name, tmp_path):
    test_timm_round_trip(name, tmp_path)


# -- attention (ops/merge.py): timm's attention pool, with one qkv linear (its q, k and v taken out of a
# permute that moves the batch axis, then unbind) and with three; its first token an index x[:, 0] --------

class _Pooled(torch.nn.Module):
    def __init__(self, separate: bool):
        super().__init__()
        from timm.layers import AttentionPool2d
        self.stem = torch.nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.head = AttentionPool2d(16, feat_size=4, out_features=10, num_heads=2, qkv_separate=separate)

    def forward(self, x):
        return self.head(self.stem(x))


@pytest.mark.parametrize("separate", [False, True], ids=["qkv", "q-k-v"])
def test_attention_pool_round_trips(tmp_path, separate):
    """CLIP's attention pool: the mean token concatenated, the position embedding added (a parameter of
    the head, as timm names it), the heads' attention, the first token: equal outputs and counts."""
    pytest.importorskip("timm")
    from archspec.pytorch.importing import import_model
    torch.manual_seed(0)
    model = _Pooled(separate).eval()
    path = tmp_path / "pooled.yaml"
    path.write_text(import_model(model, (3, 8, 8), "pooled", "test"))
    text = path.read_text()
    assert "      - pos_embed" in text and "op: attention" in text       # the node named as the parameter
    assert ("permute" in text) != separate            # the joint qkv's pieces: slice, squeeze, permute
    g = _round_trip(path, model, torch.randn(2, 3, 8, 8))
    with torch.device("meta"):      # (on a CPU FlopCounterMode leaves torch's fused attention kernel out)
        meta = _Pooled(separate).eval()
    with FlopCounterMode(display=False) as fc:
        meta(torch.zeros(1, 3, 8, 8, device="meta"))
    assert g.eval_counts()["macs"] == fc.get_total_flops() // 2


class _Causal(torch.nn.Module):
    def forward(self, x):
        q = x.flatten(2).transpose(1, 2).unsqueeze(1)         # (N, 1, H*W, C)
        return torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)


def test_causal_attention_is_named_not_imported():
    """archspec's attention has no mask: a causal one is an error naming the call and what differs."""
    from archspec.pytorch.importing import import_model
    from archspec.pytorch.importing.trace import ImportError_
    with pytest.raises(ImportError_) as e:
        import_model(_Causal(), (4, 2, 2), "causal", "test")
    assert "F.scaled_dot_product_attention with a mask, is_causal or enable_gqa" in str(e.value)
