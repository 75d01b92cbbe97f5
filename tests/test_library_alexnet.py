"""The AlexNet lineage beyond the paper's grouped alexnet.yaml: ZFNet against Zeiler & Fergus
2013, Fig. 3 (every layer's output size) and Table 2's 512/1024/512 model; torchvision's
single-tower AlexNet is checked by test_specs.py (`peer: torchvision.alexnet`)."""
from paths import SPECS

import archspec

# Fig. 3: (maps, size) after each layer, input 224x224x3
FIG3 = {"conv1": (96, 110), "pool1": (96, 55), "conv2": (256, 26), "pool2": (256, 13),
        "conv3": (384, 13), "conv4": (384, 13), "conv5": (256, 13), "pool5": (256, 6)}


def test_zfnet_layer_sizes_are_fig3s():
    g = archspec.analyze(str(SPECS / "zfnet.yaml"))
    assert {n: g.nodes[n].shape for n in FIG3} == {n: (c, s, s) for n, (c, s) in FIG3.items()}
    assert g.nodes["flatten"].shape == (6 * 6 * 256,) and g.nodes["fc7"].shape == (4096,)
    assert [g.nodes[f"conv{i}"].attrs.groups for i in range(1, 6)] == [1] * 5     # one tower, dense


def test_zfnet_wide_variant_has_512_1024_512_maps():
    g = archspec.analyze(str(SPECS / "zfnet.yaml"), conv3_5=[512, 1024, 512])
    assert [g.nodes[f"conv{i}"].shape for i in (3, 4, 5)] == [(512, 13, 13), (1024, 13, 13), (512, 13, 13)]
    assert g.nodes["pool5"].shape == (512, 6, 6)
    assert g.params == 107627624      # fc6 takes 6 * 6 * 512 inputs
