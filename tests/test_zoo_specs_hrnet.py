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
    assert text.count("    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:\n") == 1
    assert "class Exchange(nn.Module):" in text and "Exchange2" not in text
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
    assert "    def __init__(self, widths, blocks=2):\n" in text
    assert text.count("*[Basic(widths[j]) for _ in range(blocks)],\n") == 1
    assert "for _ in range(2)],\n" not in text and "Exchange(widths[:2])" in text
    namespace: dict = {}
    exec(compile(text, "hrnet_w18_small.py", "exec"), namespace)     # the generated module, whitelisted above
    exchange = namespace["Exchange"]((16, 32, 64), blocks=3)
    assert [len(branch) for branch in exchange.branches] == [3, 3, 3]
    assert [len(branch) for branch in namespace["Exchange"]((16, 32, 64)).branches] == [2, 2, 2]


TOY = """archspec: 1
name: toy_exchange
use: {library}
params: {{widths: [8, 16, 24, 32, 40]}}
input: [3, 64, 64]
nodes:
  - s0: {{op: conv, out: "${{widths[0]}}", k: 3, pad: 1}}
  - s1: {{op: conv, out: "${{widths[1]}}", k: 3, stride: 2, pad: 1}}
  - s2: {{op: conv, out: "${{widths[2]}}", k: 3, stride: 2, pad: 1}}
  - s3: {{op: conv, out: "${{widths[3]}}", k: 3, stride: 2, pad: 1}}
  - s4: {{op: conv, out: "${{widths[4]}}", k: 3, stride: 2, pad: 1}}
  - ex: {{use: exchange, widths: "${{widths}}", in: [s0, s1, s2, s3{more}]}}
  - pool: {{op: global_avgpool, in: ex.4}}
"""


def _toy(tmp_path, more=", s4"):
    path = tmp_path / "toy_exchange.yaml"
    path.write_text(TOY.format(library=SPECS / "blocks" / "hrnet.yaml", more=more))
    return str(path)


def test_one_exchange_class_for_every_count_of_branches(tmp_path):
    """HRNet's exchange is one block over a list of widths and one class, timm's HighResolutionModule:
    its __init__ builds branches and fuse layers in loops over the widths (up: a 1x1 conv, BN and
    `nn.Upsample(scale_factor=2 ** (j - i))`; down: `i - j` strided convs, the last to width i).
    Built at other widths and other counts of branches, it holds what the spec builds there: the
    state_dict of HRNet at `--set widths=...` and of an exchange of five resolutions equal the class's."""
    text = emit(archspec.analyze(SPEC))
    assert "        for i in range(len(widths)):\n" in text and "                if j > i:\n" in text
    assert "nn.Upsample(scale_factor=2 ** (j - i))" in text and "for _ in range(i - j - 1)" in text
    namespace: dict = {}
    exec(compile(text, "hrnet_w18_small.py", "exec"), namespace)

    def shapes(model, prefix=""):
        return {k[len(prefix):]: v.shape for k, v in model.state_dict().items() if k.startswith(prefix)}
    widths = [8, 24, 40, 56]
    wide = archspec.compile(SPEC, device="meta", widths=widths)
    for k in (2, 3, 4):
        assert shapes(namespace["Exchange"](tuple(widths[:k]))) == shapes(wide, f"stage{k}.0."), k
    toy = archspec.compile(_toy(tmp_path), device="meta")
    assert shapes(namespace["Exchange"]((8, 16, 24, 32, 40))) == shapes(toy, "ex.")
    toy_text = emit(archspec.analyze(_toy(tmp_path)))
    check_generated_source(toy_text)
    assert "class Exchange(nn.Module):" in toy_text and "for i in range(len(widths)):" in toy_text


def test_an_exchange_given_fewer_inputs_than_widths_is_an_error_at_its_in(tmp_path):
    """The exchange's inputs follow its widths (`inputs: ${[f'x{j}' for j in range(len(widths))]}`):
    four tensors for five widths is an error at the instance's `in:`."""
    with pytest.raises(archspec.SpecErrors) as e:
        archspec.analyze(_toy(tmp_path, more=""))
    assert "toy_exchange.yaml:12:50: error: ex: block 'exchange' takes 5 inputs (x0, x1, x2, x3, x4), got 4" \
        in str(e.value)


@pytest.mark.slow
def test_built_file_loads_timm_weights_strictly_with_equal_outputs(tmp_path):
    torch.manual_seed(0)
    ref = _randomised(timm.create_model("hrnet_w18_small"))
    ours = _built("hrnet_w18_small", tmp_path)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert _close(ref(x), ours.eval()(x))


COUNTED = """archspec: 1
name: toy_counted
use: {library}
params: {{widths: [8, 16]}}
input: [3, 32, 32]
blocks:
  down_n:             # a down fuse layer whose own `blocks` (given 1, not the exchange's) counts its 1x1s
    params: {{out: int, blocks: int}}
    seq:
      - repeat: "${{blocks}}"
        node: {{seq: [{{op: conv, out: "${{input.channels}}", k: 1, bias: false}}, batchnorm]}}
      - {{seq: [{{op: conv, out: "${{out}}", k: 3, stride: 2, pad: 1, bias: false}}, batchnorm]}}
  xchg:
    params: {{widths: list, blocks: 2}}
    inputs: "${{[f'x{{j}}' for j in range(len(widths))]}}"
    outputs: "${{[f'fuse_acts[{{i}}]' for i in range(len(widths))]}}"
    nodes:
      - repeat: "${{len(widths)}}"
        index: j
        node:
          - "branches[${{j}}]": {{use: branch, planes: "${{widths[j]}}", blocks: "${{blocks}}", in: "x${{j}}"}}
      - repeat: "${{len(widths)}}"
        node:
          - repeat: "${{len(widths)}}"
            index: j
            node:
              - "fuse_layers[${{i}}][${{j}}]": {{use: fuse_up, out: "${{widths[i]}}", scale: "${{2 ** (j - i)}}",
                                              in: "branches[${{j}}]", when: "${{j > i}}"}}
              - "fuse_layers[${{i}}][${{j}}]": {{use: down_n, out: "${{widths[i]}}", blocks: 1, in: "branches[${{j}}]",
                                              when: "${{j < i}}"}}
          - "sum${{i}}":
              op: add
              in: "${{[f'branches[{{j}}]' if j == i else f'fuse_layers[{{i}}][{{j}}]' for j in range(len(widths))]}}"
          - "fuse_acts[${{i}}]": relu
nodes:
  - s0: {{op: conv, out: 8, k: 3, pad: 1}}
  - s1: {{op: conv, out: 16, k: 3, stride: 2, pad: 1}}
  - ex: {{use: xchg, widths: "${{widths}}", in: [s0, s1]}}
  - pool: {{op: global_avgpool, in: ex.1}}
"""


def test_a_count_no_expression_of_the_class_gives_is_no_class_over_the_list(tmp_path):
    """A member's repeat whose count is its block's own `blocks`, given 1 where the exchange has its
    own `blocks` (2): `range(blocks)` in the class would build two steps; the count must give every
    member's steps, so the block is a class by structure, and the file builds the spec's network."""
    path = tmp_path / "toy_counted.yaml"
    path.write_text(COUNTED.format(library=SPECS / "blocks" / "hrnet.yaml"))
    g = archspec.analyze(str(path))
    text = emit(g)
    check_generated_source(text)
    assert "for i in range(len(widths)):" not in text
    model = archspec.compile(str(path), device="meta")
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == \
        {k: tuple(s) for k, s in g.state_dict_shapes().items()}
