"""The VGG family (specs/blocks/vgg.yaml) against Simonyan & Zisserman 2014: Table 1's
configurations (weight layers, conv widths and kernels, A-LRN's LRN) and Table 2's parameter
counts. torchvision's exact figures and state_dicts are checked by test_specs.py (`peer:`);
C, which torchvision lacks, against torchvision's D with its three 1x1 convs put in."""
import pytest
from paths import SPECS

import archspec
from archspec.errors import SpecError, SpecErrors

# Table 2, "Number of parameters (in millions)"; Table 1's weight layers
TABLE2 = {"A": 133, "B": 133, "C": 134, "D": 138, "E": 144}
DEPTH = {"A": 11, "B": 13, "C": 16, "D": 16, "E": 19}
SPEC = {"A": "vgg11", "B": "vgg13", "C": "vgg16_c", "D": "vgg16", "E": "vgg19"}
# Table 1's conv1-256 / conv1-512: C's 1x1 convs, the third conv of stages 3-5 (torchvision's numbering)
ONE_BY_ONE = {"C": ["features.14", "features.21", "features.28"]}


def _weights(g):
    return [n for n, node in g.nodes.items() if node.op.name in ("conv", "linear")]


@pytest.mark.parametrize("config", list(TABLE2))
def test_configurations_match_tables_1_and_2(config):
    g = archspec.analyze(str(SPECS / f"{SPEC[config]}.yaml"))
    assert round(g.params / 1e6) == TABLE2[config]
    assert len(_weights(g)) == DEPTH[config]
    kernels = {n: g.nodes[n].attrs.k for n in _weights(g) if n.startswith("features.")}
    assert [n for n, k in kernels.items() if k == (1, 1)] == ONE_BY_ONE.get(config, [])
    assert all(k == (3, 3) for n, k in kernels.items() if n not in ONE_BY_ONE.get(config, []))
    assert g.nodes["avgpool"].shape == (512, 7, 7)


def test_batch_norm_adds_only_bn_after_every_conv():
    plain, bn = (archspec.analyze(str(SPECS / f"{n}.yaml")) for n in ("vgg19", "vgg19_bn"))
    assert len([n for n in bn.nodes.values() if n.op.name == "batchnorm"]) == 16
    assert bn.params - plain.params == 2 * sum(c.shape[0] for c in plain.nodes.values() if c.op.name == "conv")
    assert bn.nodes["features.1"].op.name == "batchnorm"


def test_a_lrn_is_a_with_an_lrn_after_the_first_conv():
    a, lrn = (archspec.analyze(str(SPECS / "vgg11.yaml"), **kw) for kw in ({}, {"lrn": True}))
    assert [lrn.nodes[f"features.{i}"].op.name for i in range(4)] == ["conv", "relu", "lrn", "maxpool"]
    assert len([n for n in lrn.nodes.values() if n.op.name == "lrn"]) == 1
    assert lrn.params == a.params and round(lrn.params / 1e6) == 133     # Table 2: A-LRN 133


def test_unknown_configuration_is_an_error():
    with pytest.raises((SpecError, SpecErrors), match="config=: error: VGG: config is a column of Table 1"):
        archspec.analyze(str(SPECS / "vgg16.yaml"), config="F")


def test_configuration_c_is_torchvisions_d_with_three_1x1_convs():
    """C = D with the last conv of stages 3-5 a 1x1 (Table 1). Built independently from
    torchvision's vgg16 by swapping those three convs: the same state_dict keys and shapes, the
    same params, 133,638,952 = D's 138,357,544 - 8 x (256^2 + 2 x 512^2) ("134" in Table 2), and
    the same MACs by FlopCounterMode / 2, on the spec's compiled module and on torchvision's."""
    import torch
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        tv = torchvision.models.vgg16()
        for name in ONE_BY_ONE["C"]:
            i = int(name.split(".")[1])
            tv.features[i] = torch.nn.Conv2d(tv.features[i].in_channels, tv.features[i].out_channels, 1)
    ours = archspec.compile(SPECS / "vgg16_c.yaml", device="meta")
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in tv.state_dict().items()]
    params = [sum(p.numel() for p in m.parameters()) for m in (ours, tv)]
    assert params == [133_638_952] * 2 == [138_357_544 - 8 * (256 ** 2 + 2 * 512 ** 2)] * 2
    macs = []
    for m in (ours.eval(), tv.eval()):
        with FlopCounterMode(display=False) as fc:
            m(torch.empty(1, 3, 224, 224, device="meta"))
        macs.append(fc.get_total_flops() // 2)
    # D's 15,470,264,320 less 8 MACs a weight at 56x56 (stage 3), 28x28 (4) and 14x14 (5)
    d_less = 15_470_264_320 - 8 * (256 ** 2 * 56 ** 2 + 512 ** 2 * 28 ** 2 + 512 ** 2 * 14 ** 2)
    assert macs == [11_770_888_192] * 2 == [d_less] * 2
    g = archspec.analyze(str(SPECS / "vgg16_c.yaml"))
    assert (g.params, g.macs) == (133_638_952, 11_770_888_192)


def test_the_paper_table_keeps_set_and_keyword_params(capsys):
    """`summary --set num_classes=10 --format paper`: every configuration's column is this spec with
    the overrides (they were rebuilt from the file alone: FC-1000 in each); a configuration's own
    values win (--set config=A changes no column)."""
    from archspec.cli import main
    from archspec.reports.table import format_paper
    vgg16 = str(SPECS / "vgg16.yaml")
    columns = len(archspec.load(vgg16).doc.table.configurations)
    assert main(["summary", vgg16, "--set", "num_classes=10", "--format", "paper"]) == 0
    out = capsys.readouterr().out
    assert "FC-1000" not in out
    assert [line.split() for line in out.splitlines() if "FC-10" in line][-1] == ["FC-10"] * columns
    assert format_paper(archspec.analyze(vgg16, num_classes=10)) == out.rstrip("\n")
    assert main(["summary", vgg16, "--format", "paper"]) == 0
    plain = capsys.readouterr().out
    assert [line.split() for line in plain.splitlines() if "FC-1" in line][-1] == ["FC-1000"] * columns
    assert main(["summary", vgg16, "--set", "config=A", "--format", "paper"]) == 0
    assert capsys.readouterr().out == plain
