"""The ResNet library's figures that need their own check: the paper's stride placement
(stride_in_1x1) and the width rules of the family's members."""
import json
from pathlib import Path

from paths import SPECS

import archspec
from archspec.cli import main

PEERS = json.loads((Path(__file__).parent / "reference" / "implementations.json").read_text())["models"]


def resnet50_macs(stride_in_1x1: bool) -> int:
    """ResNet-50's MACs counted by hand (He et al. 2015, Table 1), conv and linear layers."""
    macs = 64 * 3 * 7 * 7 * 112 * 112              # conv1, 224 -> 112; maxpool -> 56
    size, cin = 56, 64
    for planes, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        out = size // stride
        for b in range(blocks):
            s = stride if b == 0 else 1
            at_1x1 = (size // s if stride_in_1x1 else size) ** 2       # where the first 1x1 runs
            macs += cin * planes * at_1x1                                 # 1x1 reduce
            macs += planes * planes * 9 * out * out                       # 3x3
            macs += planes * planes * 4 * out * out                       # 1x1 expand
            if b == 0:
                macs += cin * planes * 4 * out * out                      # projection shortcut
            cin, size = planes * 4, out
    return macs + 2048 * 1000                                             # fc


def test_hand_count_is_torchvisions():
    assert resnet50_macs(False) == PEERS["torchvision.resnet50"]["macs"] == 4_089_184_256


def test_stride_in_1x1_is_the_papers_resnet50():
    g = archspec.analyze(str(SPECS / "resnet50.yaml"), stride_in_1x1=True)
    counts = g.eval_counts()
    assert counts["macs"] == resnet50_macs(True) == 3_857_973_248          # Table 1: "3.8 x 10^9 FLOPs"
    assert counts["params"] == PEERS["torchvision.resnet50"]["params"]     # the stride moves, no weight does
    assert g.nodes["layer2.0.conv1"].shape == (128, 28, 28)
    assert g.nodes["layer2.0.conv2"].attrs.stride in (1, (1, 1))


def test_set_stride_in_1x1_on_seresnet50_is_timms_legacy_seresnet50(capsys):
    # timm's legacy_seresnet50 (Caffe's SE-ResNet-50) strides the 1x1; its seresnet50 the 3x3
    assert main(["summary", str(SPECS / "seresnet50.yaml"), "--set", "stride_in_1x1=true", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    legacy = PEERS["timm.legacy_seresnet50"]
    assert (out["params"], out["macs"]) == (legacy["params"], legacy["macs"]) == (28_088_024, 3_860_488_192)


def test_pyramidnet272_follows_the_papers_floor():
    # Han et al. 2017, Eq. 2: D_k = floor(16 + alpha k / N); the last unit has 4 x 216 channels
    g = archspec.analyze(str(SPECS / "pyramidnet272.yaml"))
    assert g.params == 26_049_562 and round(g.params / 1e6, 1) == 26.0
    assert g.nodes["layer3.29.conv3"].shape == (864, 8, 8)
    assert g.nodes["layer1.0.conv1"].shape == (int(16 + 200 / 90), 32, 32)
