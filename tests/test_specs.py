"""The shipped specs against published figures: exact parameter counts, exact
MACs and torchvision's exact state_dict keys and shapes (tests/reference/)."""
import json
from pathlib import Path

import pytest
from paths import ALL_SPECS, SPECS, shipped_graph

import archspec

REF = Path(__file__).parent / "reference"
PEERS = json.loads((REF / "implementations.json").read_text())["models"]
PAPERS = json.loads((REF / "papers.json").read_text())

# specs that mirror a peer's model (their reference names it, `peer:`): same structure, same state_dict
MIRRORS = {p.stem: archspec.load(str(p)).doc.reference.peer for p in ALL_SPECS}
MIRRORS = {name: peer for name, peer in MIRRORS.items() if peer}


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.stem)
def test_every_spec_matches_its_own_reference(path):
    g = shipped_graph(path)         # archspec.analyze(str(path)), made once per test process
    ref = g.meta.reference
    assert ref and ref["source"], f"{path.name} states no reference figures"
    counts = g.eval_counts()
    if "params" in ref:
        assert counts["params"] == ref["params"]
    if "macs" in ref:
        assert counts["macs"] == ref["macs"]
    if "layers" in ref:
        assert {name: g.nodes[name].params for name in ref["layers"]} == ref["layers"]
    if "params_millions" in ref:     # a paper's rounded figure: equal at its precision
        assert round(g.params / 1e6, _decimals(ref["params_millions"])) == ref["params_millions"]


def _decimals(x: float) -> int:
    return len(repr(x).split(".")[1]) if "." in repr(x) else 0


@pytest.mark.parametrize("n,millions", [(3, 0.27), (5, 0.46), (7, 0.66), (9, 0.85), (18, 1.7), (200, 19.4)])
def test_cifar_resnets_match_table6(n, millions):
    # He et al. 2015, Table 6: ResNet-20, 32, 44, 56, 110 and 1202, option A shortcuts
    g = archspec.analyze(str(SPECS / "resnet20_cifar.yaml"), n=n)
    assert round(g.params / 1e6, _decimals(millions)) == millions
    assert not any(node.op.name == "conv" and "downsample" in node.name for node in g.nodes.values())


EXAMPLES: dict[str, str] = {}     # specs outside specs/ that mirror a peer: path stem -> peer


def test_the_mirrors_are_found():
    assert len(MIRRORS) >= 14 and MIRRORS["googlenet_torchvision"] == "torchvision.googlenet+aux"


@pytest.mark.parametrize("name", [*MIRRORS, *EXAMPLES])
def test_peer_params_macs_and_state_dict(name):
    path = SPECS.parent / f"{name}.yaml" if "/" in name else SPECS / f"{name}.yaml"
    g = shipped_graph(path)
    ref = PEERS[MIRRORS.get(name) or EXAMPLES[name]]
    assert g.params == ref["params"]
    assert g.eval_counts()["macs"] == ref["macs"]     # measured in eval mode
    ours = [(k, list(s)) for k, s in g.state_dict_shapes().items()]
    assert ours == list(ref["state_dict"].items())


def test_lenet5_per_layer_params_and_c3_table():
    g = archspec.analyze(str(SPECS / "lenet5.yaml"))
    paper = PAPERS["lenet5"]
    assert {n: g.nodes[n].params for n in paper["layers"]} == paper["layers"]
    from archspec.ops.conv import parse_table, table_fan_in
    fan_in = table_fan_in(parse_table(g.nodes["C3"].attrs.connections))
    assert {str(j): sorted(ins) for j, ins in enumerate(fan_in)} == \
        {j: sorted(ins) for j, ins in paper["c3_table"].items()}
    assert g.nodes["output"].shape == (10,) and g.nodes["output"].params == 0
    assert g.nodes["output"].buffers == 84 * 10      # the RBF's fixed weights


def test_alexnet_grouped_params():
    g = archspec.analyze(str(SPECS / "alexnet.yaml"))
    assert g.params == PAPERS["alexnet"]["params"]
    assert [g.nodes[f"conv{i}"].attrs.groups for i in range(1, 6)] == [1, 2, 1, 2, 2]
    assert g.nodes["pool5"].shape == (256, 6, 6)


def test_googlenet_table1():
    g = archspec.analyze(str(SPECS / "googlenet.yaml"))
    paper = PAPERS["googlenet"]
    assert g.eval_counts()["params"] == paper["params"]
    for module, shape in paper["table1_out"].items():
        assert g.shape_of(g.scopes[module].output) == tuple(shape)
    assert {k for k, o in g.outputs.items() if o.train_only} == {"aux1", "aux2"}
    assert g.outputs["aux1"].loss_weight == 0.3


def test_resnet50_is_a_handful_of_lines():
    """The network, without its paper's training recipe (the train: section, last)."""
    network = (SPECS / "resnet50.yaml").read_text().split("\ntrain:")[0]
    lines = [ln for ln in network.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(lines) <= 20      # 6 metadata lines + ~14 of network


def test_variants_are_their_differences():
    """Each network is a few lines over its base (a paper of its own adds its recipe, a train: section)."""
    for name in ["resnet18", "resnet34", "resnext50_32x4d", "wide_resnet50_2", "resnet152"]:
        assert len((SPECS / f"{name}.yaml").read_text().split("\ntrain:")[0].splitlines()) <= 8


@pytest.mark.parametrize("depth,k,millions", [(28, 10, 36.5), (40, 4, 8.9), (16, 8, 11.0)])
def test_wide_resnets_match_the_paper(depth, k, millions):
    # Zagoruyko & Komodakis 2016: WRN-28-10 36.5M, WRN-40-4 8.9M, WRN-16-8 11.0M
    g = archspec.analyze(str(SPECS / "wrn28_10.yaml"), depth=depth, k=k)
    assert round(g.params / 1e6, 1) == millions
    assert g.nodes["block3.0.conv1"].shape == (64 * k, 8, 8)
