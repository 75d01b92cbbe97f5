"""`archspec import`'s structure step on modules of several inputs and outputs and on members held
in lists indexed in forward: hand-made torch modules, each imported and checked against itself
(validates, params, FlopCounterMode MACs, strict load_state_dict, equal outputs in eval and in
training mode under one seed)."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.cli import main
from archspec.plugins import load_module
from archspec.pytorch.importing import table

MODELS = '''
import torch
import torch.nn.functional as F
from torch import nn


class Mix(nn.Module):
    """Two inputs, two outputs; its convs and bns in ModuleLists it indexes, interleaved (Res2Net's way)."""

    def __init__(self, c):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(c, c, 3, padding=1, bias=False) for _ in range(2)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(c) for _ in range(2)])

    def forward(self, a, b):
        y0 = torch.relu(self.bns[0](self.convs[0](a)))
        y1 = torch.relu(self.bns[1](self.convs[1](y0 + b)))
        return y0, y1


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.side = nn.Conv2d(3, 8, 1)
        self.mix1 = Mix(8)
        self.mix2 = Mix(8)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        y0, y1 = self.mix1(self.stem(x), self.side(x))
        z0, z1 = self.mix2(y1, y0)
        return self.head(torch.flatten((z0 + z1).mean((2, 3)), 1))


class Joiner(nn.Module):
    """One instance of two inputs: a block all the same (a group takes one input)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 8, 1)

    def forward(self, a, b):
        return self.conv(torch.cat([a, b], 1)) + b


class Lone(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.merge = Joiner()

    def forward(self, x):
        s = self.stem(x)
        return self.merge(torch.relu(s), s)


class Scales(nn.Module):
    """Upsampling: nn.Upsample by a factor, F.interpolate by a factor and to a size that is none."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.up = nn.Upsample(scale_factor=2)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x):
        y = self.up(self.down(x))                                       # 7 -> 4 -> 8
        z = F.interpolate(y, scale_factor=2, mode="bilinear")           # 16
        w = F.interpolate(self.pool(z), size=z.shape[-2:])             # 8 -> 16
        return z + w


def net():
    torch.manual_seed(0)
    return Net()


def lone():
    torch.manual_seed(0)
    return Lone()


def scales():
    torch.manual_seed(0)
    return Scales()
'''


@pytest.fixture
def models(in_tmp):
    (in_tmp / "models.py").write_text(MODELS)
    return load_module("models.py")


def _round_trip(path, model, shape):
    g = archspec.analyze(str(path))
    assert g.params == sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as fc:
        model.eval()(torch.zeros(1, *shape))
    assert g.macs == fc.get_total_flops() // 2
    ours = archspec.compile(str(path))
    ours.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, *shape)
    for mode in (False, True):
        torch.manual_seed(1)
        want = model.train(mode)(x)
        torch.manual_seed(1)
        torch.testing.assert_close(ours.train(mode)(x), want, rtol=1e-5, atol=1e-5)
    return g


def test_a_module_of_two_inputs_and_two_outputs_is_a_block_with_list_laid_members(models, capsys):
    assert main(["import", "models.py:net", "-o", "net.yaml", "--input", "3,8,8"]) == 0
    text = open("net.yaml").read()
    assert "  mix:\n    inputs: [x0, x1]\n    outputs: [relu_1, relu]\n" in text        # y0, y1
    # the list members interleaved as forward runs them, each named by its index
    assert '- "convs[0]": {op: conv, in: x0, out: 8, k: 3, pad: 1, bias: false}\n      - "bns[0]": batchnorm' in text
    assert '- "convs[1]": {op: conv, out: 8, k: 3, pad: 1, bias: false}' in text
    # the uses bind both inputs and read the outputs by name
    assert "- mix1: {use: mix, in: [stem, side]}" in text
    assert '- mix2: {use: mix, in: ["mix1.relu", "mix1.relu_1"]}' in text              # (y1, y0)
    assert main(["validate", "net.yaml"]) == 0
    g = _round_trip("net.yaml", models.net(), (3, 8, 8))
    assert {"mix1.convs.0.weight", "mix2.bns.1.running_mean"} <= set(g.state_dict_shapes())


def test_one_instance_of_two_inputs_is_a_block(models):
    assert main(["import", "models.py:lone", "-o", "lone.yaml", "--input", "3,8,8"]) == 0
    text = open("lone.yaml").read()
    assert "  joiner:\n    inputs: [x0, x1]\n" in text and "- merge: {use: joiner, in: [relu, stem]}" in text
    _round_trip("lone.yaml", models.lone(), (3, 8, 8))


def test_upsampling_is_the_upsample_op_by_a_factor_or_to_a_size(models):
    assert main(["import", "models.py:scales", "-o", "sc.yaml", "--input", "3,7,7"]) == 0
    text = open("sc.yaml").read()
    assert "- up: upsample\n" in text                                  # nn.Upsample(scale_factor=2)
    assert "{op: upsample, mode: bilinear}" in text                    # F.interpolate by 2, bilinear
    assert "{op: upsample, size: [16, 16]}" not in text                # a whole factor is a scale ...
    _round_trip("sc.yaml", models.scales(), (3, 7, 7))
    call = table.Call([(2, 4, 3, 3)], [(7, 7)], {}, (2, 4, 7, 7))
    assert table.call_ops("call_function", torch.nn.functional.interpolate, call) == \
        [("upsample", {"size": (7, 7)})]                               # ... and 3 to 7 a size
    with pytest.raises(table.Unsupported, match="whole factors or to a size"):
        table.call_ops("call_function", torch.nn.functional.interpolate,
                       table.Call([(2, 4, 3, 3)], [None, 7 / 3], {}, (2, 4, 7, 7)))
    with pytest.raises(table.Unsupported, match="mode 'bicubic'"):
        table.module_ops(torch.nn.Upsample(scale_factor=2, mode="bicubic"))
