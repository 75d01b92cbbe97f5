"""The hand-written HRNet-W18-small (issue 20, item 9) against timm 1.0.31's `hrnet_w18_small`, built
by timm itself here: parameter count, MACs (FlopCounterMode / 2, eval mode, at the spec's input) and
the state_dict's keys and shapes on the meta device; then, in the slow lane, the file `archspec
build` writes loads timm's weights with strict=True and gives timm's outputs in eval mode, within
1e-4 of the output's scale (today to the last bit). Its exchange modules are blocks with several
outputs (tests/test_multi_output.py): one per stage, 2, 3 and 4 resolutions."""
import pytest
import torch
from paths import SPECS
from source_check import check_generated_source
from test_zoo_specs_b import _built, _close, _macs, _randomised, _timm_meta

import archspec
from archspec.pytorch.emit import emit

timm = pytest.importorskip("timm", reason="the peer is timm's model: pip install -e '.[test]'")

SPEC = str(SPECS / "hrnet_w18_small.yaml")


def test_params_macs_and_state_dict_equal_timm():
    g = archspec.analyze(SPEC)
    ref = _timm_meta("hrnet_w18_small")
    assert g.params == sum(p.numel() for p in ref.parameters()) == 13_187_464
    assert g.eval_counts()["macs"] == _macs(ref, g.input_shape) == 1_601_508_352
    ours = archspec.compile(SPEC, device="meta")
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in ref.state_dict().items()]


def test_every_output_of_an_exchange_reads_every_branch():
    """Stage 4's output at 1/8 of the highest resolution sums branch 0 brought down twice,
    branch 1 once, branch 2 as it is and branch 3 brought up; each stage gives one per resolution."""
    g = archspec.analyze(SPEC)
    assert g.nodes["stage4.0.sum2"].inputs == ["stage4.0.fuse_layers.2.0.1.1", "stage4.0.fuse_layers.2.1.0.1",
                                               "stage4.0.branches.2.1.relu_1", "stage4.0.fuse_layers.2.3.2"]
    assert [list(g.scopes[f"stage{k}.0"].outputs) for k in (2, 3, 4)] == \
        [[f"fuse_acts[{i}]" for i in range(k)] for k in (2, 3, 4)]
    assert [g.shape_of(r) for r in g.scopes["stage4.0"].outputs.values()] == \
        [(16, 56, 56), (32, 28, 28), (64, 14, 14), (128, 7, 7)]


def test_generated_source_passes_each_stage_a_list_of_its_resolutions():
    """Each exchange is timm's HighResolutionModule: a list in, a list out, its branches and fuse
    layers run by loops; the top class passes the list on, with the new resolution last, and its
    head maps the list and climbs it in loops."""
    text = emit(archspec.analyze(SPEC))
    check_generated_source(text)
    assert text.count("    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:\n") == 3
    assert "        x = [branch(x_i) for branch, x_i in zip(self.branches, x)]\n" in text
    assert "                y = y + (x[j] if i == j else fuse_layer[j](x[j]))\n" in text
    assert "        x = self.stage2[0]([transition(layer1) for transition in self.transition1])\n" in text
    assert "        x = self.stage4[0]([x[0], x[1], x[2], transition3_3])\n" in text
    assert ("        x = [incre_module(x_i) for incre_module, x_i in zip(self.incre_modules, x)]\n"
            "        out = x[0]\n"
            "        for i, downsamp_module in enumerate(self.downsamp_modules):\n"
            "            out = x[i + 1] + downsamp_module(out)\n") in text      # the head: timm's loop
    assert "self.y0" not in text and "fuse_layers_0_1" not in text


def test_an_exchange_takes_its_blocks(tmp_path):
    """The exchange block's `blocks` (units per branch, default 2) is its class's parameter with
    that default, the branches' runs written as its count (timm's `num_blocks`): the top class
    passes none, and another value builds that many units per branch."""
    text = emit(archspec.analyze(SPEC))
    assert "    def __init__(self, c0, c1, blocks=2):\n" in text
    assert text.count("*[Basic(c0) for _ in range(blocks)],\n") == 3
    assert "for _ in range(2)],\n" not in text and "Exchange2(widths[0], widths[1])" in text
    namespace: dict = {}
    exec(compile(text, "hrnet_w18_small.py", "exec"), namespace)     # the generated module, whitelisted above
    exchange = namespace["Exchange3"](16, 32, 64, blocks=3)
    assert [len(branch) for branch in exchange.branches] == [3, 3, 3]
    assert [len(branch) for branch in namespace["Exchange3"](16, 32, 64).branches] == [2, 2, 2]


@pytest.mark.slow
def test_built_file_loads_timm_weights_strictly_with_equal_outputs(tmp_path):
    torch.manual_seed(0)
    ref = _randomised(timm.create_model("hrnet_w18_small"))
    ours = _built("hrnet_w18_small", tmp_path)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert _close(ref(x), ours.eval()(x))
