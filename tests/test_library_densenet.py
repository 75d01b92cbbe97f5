"""The DenseNet family against the paper's own figures (Huang et al. 2017, Table 2):
the CIFAR spec's depth, growth rate, bottleneck and compression knobs give its networks."""
import pytest
from paths import SPECS

import archspec

CIFAR = str(SPECS / "densenet_cifar.yaml")


@pytest.mark.parametrize("depth,growth,millions", [(100, 12, 0.8), (250, 24, 15.3), (190, 40, 25.6)])
def test_densenet_bc_cifar_matches_table2(depth, growth, millions):
    g = archspec.analyze(CIFAR, depth=depth, growth=growth)
    assert round(g.params / 1e6, 1) == millions
    layers = (depth - 4) // 6                  # bottleneck layers a block, two convs each
    assert f"features.denseblock3.denselayer{layers}.conv1" in g.nodes
    assert f"features.denseblock3.denselayer{layers + 1}.conv1" not in g.nodes
    assert g.nodes["features.conv0"].shape == (2 * growth, 32, 32)
    assert g.nodes["features.transition1.conv"].shape[0] == (2 * growth + layers * growth) // 2


@pytest.mark.parametrize("depth,growth,millions", [(40, 12, 1.0), (100, 12, 7.0), (100, 24, 27.2)])
def test_plain_densenet_cifar_matches_table2(depth, growth, millions):
    # no bottleneck, no compression: (L - 4) / 3 single 3x3 layers a block, 16 maps before the first
    g = archspec.analyze(CIFAR, depth=depth, growth=growth, bottleneck=0, compression=1.0)
    assert round(g.params / 1e6, 1) == millions
    assert "features.denseblock1.denselayer1.conv1" not in g.nodes
    assert f"features.denseblock3.denselayer{(depth - 4) // 3}.conv2" in g.nodes
    assert g.nodes["features.conv0"].shape == (16, 32, 32)
