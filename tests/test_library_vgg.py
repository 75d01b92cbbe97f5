"""The VGG family (specs/blocks/vgg.yaml) against Simonyan & Zisserman 2014: Table 1's
configurations (weight layers, conv widths, A-LRN's LRN) and Table 2's parameter counts.
torchvision's exact figures and state_dicts are checked by test_specs.py (`peer:`)."""
import pytest
from paths import SPECS

import archspec
from archspec.errors import SpecError, SpecErrors

# Table 2, "Number of parameters (in millions)"; Table 1's weight layers
TABLE2 = {"A": 133, "B": 133, "D": 138, "E": 144}
DEPTH = {"A": 11, "B": 13, "D": 16, "E": 19}
SPEC = {"A": "vgg11", "B": "vgg13", "D": "vgg16", "E": "vgg19"}


def _weights(g):
    return [n for n, node in g.nodes.items() if node.op.name in ("conv", "linear")]


@pytest.mark.parametrize("config", list(TABLE2))
def test_configurations_match_tables_1_and_2(config):
    g = archspec.analyze(str(SPECS / f"{SPEC[config]}.yaml"))
    assert round(g.params / 1e6) == TABLE2[config]
    assert len(_weights(g)) == DEPTH[config]
    convs = [g.nodes[n] for n in _weights(g) if n.startswith("features.")]
    assert all(c.attrs.k in (3, [3, 3], (3, 3)) for c in convs)
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
    with pytest.raises((SpecError, SpecErrors), match="config_must_be_A_B_D_or_E"):
        archspec.analyze(str(SPECS / "vgg16.yaml"), config="C")


def test_the_paper_table_keeps_set_and_keyword_params(capsys):
    """`summary --set num_classes=10 --format paper`: every configuration's column is this spec with
    the overrides (they were rebuilt from the file alone: FC-1000 in each); a configuration's own
    values win (--set config=A changes no column)."""
    from archspec.cli import main
    from archspec.table import format_paper
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
