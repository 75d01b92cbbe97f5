"""Every shipped spec's generated file as `archspec build` writes it: `ruff check` (the
default rules plus E501) and `ruff format --check` pass at line length 100; the file imports;
and where the spec mirrors a peer implementation (`reference: {peer: ...}`), the peer's
state_dict (keys and shapes measured from torchvision / timm themselves:
tests/reference/implementations.json) loads into it strictly. Meta device: only keys and
shapes matter here (test_peer_equiv compares outputs)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from paths import ALL_SPECS, one_per_family, shipped_graph, shipped_source
from source_check import check_generated_source
from toys import SE_BLOCK

import archspec
from archspec.pytorch.compiler import load_source
from archspec.pytorch.emit import emit, module_filename

PEERS = json.loads((Path(__file__).parent / "reference" / "implementations.json").read_text())["models"]
RUFF = [sys.executable, "-m", "ruff"]
SETTINGS = ["--isolated", "--no-cache", "--line-length", "100"]     # --isolated alone still writes .ruff_cache


class _Built(dict):
    """Each shipped spec's graph and generated file (by the spec's name), the file written where a
    test first asks for it: most tests read one spec's, and emitting them all takes ~8 s."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def __missing__(self, name: str) -> tuple[archspec.Graph, Path]:
        p = next(p for p in ALL_SPECS if p.stem == name)
        g = shipped_graph(p)
        path = self.folder / module_filename(g)
        path.write_text(shipped_source(p))
        self[name] = (g, path)
        return g, path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> _Built:
    return _Built(tmp_path_factory.mktemp("built"))


# The checks of every shipped spec's file in two lanes: the fast lane checks one network of each
# family (and those the README shows: paths.one_per_family), CI the others too (their files take
# ~4.5 s more to emit in each test process)
FAMILY_FIRST = [p.stem for p in one_per_family(ALL_SPECS) if isinstance(p, Path)]
LANES = [pytest.param(FAMILY_FIRST, id="family_first"),
         pytest.param([p.stem for p in ALL_SPECS if p.stem not in FAMILY_FIRST], id="others", marks=pytest.mark.slow)]


def _files(built: _Built, names: list[str]) -> list[str]:
    return [str(built[name][1]) for name in names]


def _edits_refused(text: str, edits: list[tuple[str, str]]) -> None:
    """Each (old, new) edit changes the generated file, and the source whitelist refuses the result."""
    for old, new in edits:
        mutant = text.replace(old, new, 1)
        assert mutant != text, new
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)


@pytest.mark.parametrize("names", LANES)
def test_every_file_is_in_the_emitters_whitelist(built, names):
    """tests/source_check.py: every shipped spec's file holds only what the emitter may write
    (until now only checked where a test or a fuzzed mutant built the spec)."""
    for name in names:
        path = built[name][1]
        try:
            check_generated_source(path.read_text())
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


def test_a_counted_repeat_admits_only_arithmetic_of_the_class_names(built):
    """A loop's count written from the top class's depth (`range(n)`, `range(n - 1)`) is integer
    arithmetic of its own names; anything else there is refused."""
    text = built["resnet20_cifar"][1].read_text()
    assert "*[Basic(16, 16) for _ in range(n)]," in text and "*[Basic(32, 32) for _ in range(n - 1)]," in text
    for evil in ["range(n.bit_length())", "range(len(dir()))", "range(n ** 9)", "range(num_classes_ - 1)",
                 "range(n if n else 2)"]:
        mutant = text.replace("range(n - 1)", evil)
        assert mutant != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)


def test_a_decided_flag_admits_only_comparisons_of_integer_arithmetic(built):
    """Res2Net's Bottle2neck decides its first block itself, `self.first = stride != 1 or in_channels
    != planes * 4`, and builds its pool under that test (emit/guard.py's `let_test`): sides of
    integer arithmetic of the class's names pass; a call, a power, an attribute, a float, a name
    the class lacks, are refused."""
    text = built["res2net50_26w_4s"][1].read_text()
    test = "stride != 1 or in_channels != planes * 4\n"
    flag, pool = f"self.first = {test}", f"if {test}"
    assert flag in text and pool in text
    check_generated_source(text)
    _edits_refused(text, [(flag, flag.replace("planes * 4", "len(dir())")),
                          (flag, flag.replace("planes * 4", "planes ** 4")),
                          (flag, flag.replace("planes * 4", "planes.real")),
                          (flag, flag.replace("planes * 4", "planes * 4.5")),
                          (flag, flag.replace("planes * 4", "depth * 4")),
                          (pool, pool.replace("planes * 4", "len(dir())")),
                          (pool, pool.replace("planes * 4", "planes ** 4"))])


def test_an_indexed_module_list_admits_only_arithmetic_of_its_index_and_the_class_names(built):
    """Res2Net's slices, `nn.ModuleList([Slice(1, start=i * width, stop=(i + 1) * width) for i in
    range(3)])`: the index a name of its own over a constant range, read by integer arithmetic of
    the class's names; anything else there is refused."""
    text = built["res2net50_26w_4s"][1].read_text()
    line = "[Slice(1, start=i * width, stop=(i + 1) * width) for i in range(3)]"
    assert line in text
    check_generated_source(text)
    _edits_refused(text, [(line, line.replace("range(3)", "range(len(dir()))")),
                          (line, line.replace("(i + 1) * width", "dir()[i]")),
                          (line, line.replace("for i in range(3)", "for width in range(3)")),
                          (line, line.replace("range(3)", "range(1)"))])


def test_a_width_from_a_tuple_the_class_takes_admits_only_its_items_by_constant_index(built):
    """ZFNet's widths, `nn.Conv2d(conv3_5[1], conv3_5[2], 3, padding=1)` with `conv3_5=(384, 384,
    256)`: an item of a tuple of ints the class takes, by a constant index; any other subscript is
    refused."""
    text = built["zfnet"][1].read_text()
    line = "nn.Conv2d(conv3_5[1], conv3_5[2], 3, padding=1)"
    assert "conv3_5=(384, 384, 256)):" in text and line in text
    check_generated_source(text)
    _edits_refused(text, [(line, line.replace("conv3_5[2]", "conv3_5[num_classes]")),
                          (line, line.replace("conv3_5[2]", "conv3_5[1:]")),
                          (line, line.replace("conv3_5[2]", "dir()[2]")),
                          (line, line.replace("conv3_5[2]", "num_classes[2]"))])


def test_a_count_from_a_tuple_the_class_takes_admits_only_its_items_by_constant_index(built):
    """ResNet's stages' depths, `range(layers[0] - 1)` with `layers=(3, 4, 6, 3)`: an item of a tuple
    of ints the class takes, never assigns, by a constant index; any other subscript is refused."""
    text = built["resnet50"][1].read_text()
    assert "layers=(3, 4, 6, 3)):" in text and "for _ in range(layers[0] - 1)\n" in text
    check_generated_source(text)
    _edits_refused(text, [("range(layers[0] - 1)", "range(layers[-1] - 1)"),
                          ("range(layers[0] - 1)", "range(layers[groups] - 1)"),
                          ("range(layers[0] - 1)", "range(layers[0:2] - 1)"),
                          ("range(layers[0] - 1)", "range(layers[0][0] - 1)"),
                          ("range(layers[0] - 1)", "range(groups[0] - 1)"),
                          ("range(layers[0] - 1)", "range(self.layer1[0] - 1)"),
                          ("range(layers[0] - 1)", "range(layers[0] ** 9)"),
                          ("layers=(3, 4, 6, 3)):", "layers=(3, 4, 6, 3.5)):"),
                          ("layers=(3, 4, 6, 3)):", "layers=3):"),
                          ("layers=(3, 4, 6, 3)):\n        super().__init__()\n",
                           "layers=(3, 4, 6, 3)):\n        super().__init__()\n        layers = groups\n")])


def test_a_counted_run_from_a_later_step_admits_only_a_number_then_the_count(built):
    """PyramidNet's stage from its second unit on, `for i in range(1, n)`: a start that is an int
    of 1 or more, then integer arithmetic of the class's own names; anything else there is refused."""
    text = built["pyramidnet110"][1].read_text()
    assert "                for i in range(1, n)\n" in text
    for evil in ["range(1, n.bit_length())", "range(1, len(dir()))", "range(1, n ** 9)", "range(units, n)",
                 "range(1, n, 2)", "range(-1, n)", "range(0, n)", "range(1, 2 if n else 3)", "range(1, m)"]:
        mutant = text.replace("range(1, n)", evil, 1)
        assert mutant != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)


def test_a_configuration_loop_admits_only_its_own_shapes(built):
    """VGG's features as torchvision's make_layers, `for stage in stages:` / `for width in stage:`
    over the configuration the class takes, appending members (under `if batch_norm:` too) and
    carrying the width on, pass; another iterable, other statements or calls in either loop, an
    else, and a loop over what is no parameter are refused."""
    text = built["vgg16_bn"][1].read_text()
    loop = "        for stage in stages:\n            for width in stage:\n"
    pool = "            layers.append(nn.MaxPool2d(2))\n"
    assert loop in text and "                if batch_norm:\n" in text
    _edits_refused(text, [("for width in stage:", "for width in stages.__class__.__mro__:"),
                          ("for width in stage:", "for width in range(9):"),
                          ("for stage in stages:", "for stage in torch.load(stages):"),
                          ("for stage in stages:", "for stage in layers:"),
                          ("for stage in stages:", "for stage in stage_config:"),
                          ("                in_channels = width\n", "                in_channels = width\n"
                           "                self.extra = nn.Linear(1, 1)\n"),
                          ("                in_channels = width\n", "                in_channels = stage\n"),
                          ("                in_channels = width\n", "                layers.extend([nn.ReLU()])\n"),
                          ("                in_channels = width\n", "                in_channels = width\n"
                           "                print(width)\n"),
                          (pool, pool + "            stage = width\n"),
                          (pool, pool + "        else:\n            layers.append(nn.ReLU())\n"),
                          ("if batch_norm:", "if getattr(torch, batch_norm):")])


def test_a_configuration_loop_over_kernels_admits_only_its_own_shapes(built):
    """VGG-C's features, the stages zipped with the kernels the class takes, `for stage, kernel in
    zip(stages, kernels):` / `for width, k in zip(stage, kernel):`, pass; another iterable or a
    zip of other names, more or fewer names than the zip's iterables, the inner loop over anything
    but the outer's names in order, and a width carried on other than the inner's first, are refused."""
    text = built["vgg16_c"][1].read_text()
    outer, inner = "for stage, kernel in zip(stages, kernels):", "for width, k in zip(stage, kernel):"
    assert f"        {outer}\n            {inner}\n" in text
    _edits_refused(text, [(outer, "for stage, kernel in zip(stages, torch.load(kernels)):"),
                          (outer, "for stage, kernel in zip(stages, layers):"),
                          (outer, "for stage, kernel in zip(stages, kernel_table):"),
                          (outer, "for stage, kernel in zip(stages, kernels, strict=True):"),
                          (outer, "for stage, kernel in map(stages, kernels):"),
                          (outer, "for stage, kernel, extra in zip(stages, kernels):"),
                          (outer, "for stage, kernel in zip(stages, kernels, stages):"),
                          (outer, "for stage in zip(stages, kernels):"),
                          (outer, "for stage, self in zip(stages, kernels):"),
                          (inner, "for width, k in zip(kernel, stage):"),
                          (inner, "for width, k in zip(stage, stages):"),
                          (inner, "for width in zip(stage, kernel):"),
                          (inner, "for width, k in stage:"),
                          (inner, "for width, k, j in zip(stage, kernel):"),
                          (inner, "for width, layers in zip(stage, kernel):"),
                          ("                in_channels = width\n", "                in_channels = k\n"),
                          ("padding=k // 2", "padding=k.__class__")])


def test_a_block_loop_admits_only_its_own_shapes(built):
    """DenseNet's features as torchvision's, `for i, num_layers in enumerate(blocks):` over the
    block sizes the class takes, adding a block, carrying the width on, then `if i != len(blocks) -
    1:` a transition, pass; another iterable, test, statement, name or width, and an else, are
    refused, and so is add_module on a private attribute or under a name no identifier."""
    text = built["densenet121"][1].read_text()
    head = "        for i, num_layers in enumerate(blocks):\n"
    assert head in text and "            if i != len(blocks) - 1:\n" in text
    _edits_refused(text, [("enumerate(blocks)", "enumerate(torch.load(blocks))"),
                          ("enumerate(blocks)", "enumerate(block_sizes)"),
                          ("enumerate(blocks)", "zip(blocks, blocks)"),
                          ("for i, num_layers in", "for i, stem in"),
                          ("for i, num_layers in", "for layer, num_layers in"),
                          ("if i != len(blocks) - 1:", "if i != len(dir()) - 1:"),
                          ("if i != len(blocks) - 1:", "if i != 2:"),
                          ("num_features = num_features + num_layers * growth",
                           "num_features = num_features.__class__"),
                          ("num_features = num_features + num_layers * growth", "self.width = num_features"),
                          ("                num_features = num_features // 2\n",
                           "                num_features = num_features // 2\n                print(i)\n"),
                          ('f"denseblock{i + 1}"', 'f"denseblock{dir()}"'),
                          ('f"denseblock{i + 1}"', '"denseblock"'),
                          ("self.features.add_module(\n                f",
                           "self._features.add_module(\n                f"),
                          ('self.features.add_module("norm5", ', 'self.features.add_module("norm 5", '),
                          ('self.features.add_module("norm5", ', 'self._modules.add_module("norm5", '),
                          ("                num_features = num_features // 2\n",
                           "                num_features = num_features // 2\n        else:\n            print(1)\n")])


def test_a_row_loop_admits_only_its_own_shapes(built):
    """MobileNetV2's features as torchvision's, `for t, c, n, s in rows:` / `for i in range(n):`
    over the row table the class takes, the first stride, the residual flag, one append, the width
    carried on, pass; another iterable, index, range, stride, flag, statement, carry or target, an
    else, are refused."""
    shipped = built["mobilenet_v2"][1].read_text()
    head = "        for t, c, n, s in rows:\n            for i in range(n):\n"
    assert head in shipped and "                stride = s if i == 0 else 1\n" in shipped
    check_generated_source(shipped)
    # the flag a block that cannot decide it takes (MobileNetV2's class decides it: `self.residual = ...`)
    add = "                layers.append(InvertedResidual(in_channels, t, c, stride))\n"
    text = shipped.replace(add, "                residual = stride == 1 and in_channels == c\n" + add.replace(
        "stride))", "stride, residual=residual))"))
    assert text != shipped
    check_generated_source(text)
    for old, evil in [("in rows:", "in torch.load(rows):"), ("in rows:", "in dir():"),
                      ("for t, c, n, s in", "for t, c, n, self in"), ("for t, c, n, s in", "for t, c, n, t in"),
                      ("for t, c, n, s in", "for t, c, n, torch in"),
                      ("for i in range(n)", "for i in range(rows)"), ("for i in range(n)", "for i in dir(n)"),
                      ("for i in range(n):\n                stride = s if i == 0",
                       "for torch in range(n):\n                stride = s if torch == 0"),
                      ("for i in range(n)", "for stem in range(n)"), ("for i in range(n)", "for i in range(n, 2)"),
                      ("stride = s if i == 0 else 1", "stride = s if i == 0 else s.__class__"),
                      ("stride = s if i == 0 else 1", "stride = dir() if i == 0 else 1"),
                      ("stride = s if i == 0 else 1", "num_classes = s if i == 0 else 1"),
                      (" residual = stride == 1 and in_channels == c", " residual = stride or print(c)"),
                      (" residual = stride == 1 and in_channels == c", " torch = stride == 1 and in_channels == c"),
                      ("                in_channels = c\n", "                in_channels = c.__class__\n"),
                      ("                in_channels = c\n", "                num_classes = c\n"),
                      ("                in_channels = c\n",
                       "                in_channels = c\n                print(c)\n"),
                      ("                layers.append(InvertedResidual(", "                print(InvertedResidual("),
                      ("                layers.append(InvertedResidual(", "                layers.append(getattr("),
                      ("                in_channels = c\n", "                in_channels = c\n        else:\n"
                       "            print(1)\n")]:
        mutant = text.replace(old, evil, 1)
        assert mutant != text, evil
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)


def test_a_bounded_width_admits_only_max_or_min_of_two_widths(built):
    """EfficientNet-B0's squeeze, the spec's `max(1, block_input.channels // 4)` written as
    `max(1, in_channels // 4)` (emit/specexpr.py `_bound`), passes; a bound of other than two
    integer widths (one, three, starred, a keyword, a float, a generator, a call) is refused."""
    text = built["efficientnet_b0"][1].read_text()
    se = "SqueezeExcitation(hidden, max(1, in_channels // 4))"
    assert se in text
    check_generated_source(text)
    _edits_refused(text, [(se, se.replace("max(1, in_channels // 4)", "max(in_channels // 4)")),
                          (se, se.replace("max(1, ", "max(1, 2, ")),
                          (se, se.replace("max(1, in_channels // 4)", "max(*[1, in_channels // 4])")),
                          (se, se.replace("// 4)", "// 4, key=abs)")),
                          (se, se.replace("max(1, ", "max(1.5, ")),
                          (se, se.replace("max(1, in_channels // 4)", "max(x for x in (1, in_channels))")),
                          (se, se.replace("max(1, ", "max(len(dir()), ")),
                          (se, se.replace("max(1, ", "min(dir(), "))])


def test_a_staged_row_loop_admits_only_its_own_shapes(built):
    """EfficientNet-B0's features as torchvision's, a row loop whose rows are each an nn.Sequential
    (`stage = []` ... `layers.append(nn.Sequential(*stage))`) and whose blocks take a drop-path rate
    from the loop's counter over the rows' total (`sum(row[5] for row in rows)`), and the widths
    outside it read from the table's first or last row (`rows[0][3]`, `4 * rows[-1][4]`), pass;
    another total, list, rate, counter step or order, a rate without its counter, and another
    row, column or table, are refused."""
    text = built["efficientnet_b0"][1].read_text()
    stem, head = "nn.Conv2d(3, rows[0][3], 3,", "nn.Linear(4 * rows[-1][4], num_classes)"
    assert stem in text and head in text and "        in_channels = rows[0][3]\n" in text
    _edits_refused(text, [(stem, stem.replace("rows[0]", "rows[1]")), (stem, stem.replace("[3]", "[k]")),
                          (stem, stem.replace("[3]", "[-3]")), (stem, stem.replace("rows[0][3]", "rows[0]")),
                          (stem, stem.replace("rows", "dir()")), (head, head.replace("rows[-1]", "rows[-2]")),
                          (stem, stem.replace("rows[0][3]", "num_classes[0][3]")),
                          ("        in_channels = rows[0][3]\n", "        in_channels = rows[0][3].__class__\n"),
                          ("        in_channels = rows[0][3]\n", "        in_channels = rows[i][3]\n")])
    total, rate = "sum(row[5] for row in rows)", "sd_prob = stochastic_depth * stage_block_id / total_stage_blocks\n"
    step, add = "                stage_block_id += 1\n", "            layers.append(nn.Sequential(*stage))\n"
    assert total in text and rate in text and step in text and add in text and "            stage = []\n" in text
    check_generated_source(text)
    _edits_refused(text, [(total, "sum(row[5] for row in dir())"), (total, "sum(row.x for row in rows)"),
                          (total, "sum(row[5] for row in rows if row)"), (total, "max(row[5] for row in rows)"),
                          (total, "sum(row[5] for self in rows)"), (total, "sum(row[n] for row in rows)"),
                          ("            stage = []\n", "            stage = [nn.ReLU()]\n"),
                          ("            stage = []\n", "            self = []\n"),
                          (add, "            layers.append(nn.Sequential(*layers))\n"),
                          (add, "            layers.append(nn.ModuleList(stage))\n"),
                          ("                stage.append(Mbconv(", "                layers.append(Mbconv("),
                          (rate, rate.replace("total_stage_blocks", "dir()")),
                          (rate, rate.replace("total_stage_blocks", "(total_stage_blocks - 2.0)")),
                          (rate, rate.replace("stochastic_depth *", "stochastic_depth.__class__ *")),
                          (rate, rate.replace("sd_prob =", "num_classes =")),
                          (rate, rate.replace("stage_block_id /", "i /")),
                          (step, step.replace("+= 1", "+= 2")), (step, step.replace("+=", "-=")),
                          (step, step.replace("stage_block_id", "num_classes")), (step, ""),
                          (step, step + "                print(1)\n"),
                          # `_`, the column no parameter takes (the row's input width), is read nowhere
                          ("                in_channels = c_out\n", "                in_channels = _\n"),
                          ("stage.append(Mbconv(in_channels, t, k,", "stage.append(Mbconv(in_channels, _, k,"),
                          ("for t, k, s, _, c_out, n in rows:", "for _, k, s, _, c_out, n in rows:")])
    looped = text.replace(rate, rate.replace("/ total_stage_blocks", "/ (total_stage_blocks - 1.0)"))
    assert looped != text
    check_generated_source(looped)          # ConvNeXt's `(total_stage_blocks - 1.0)`


def test_a_flat_depth_loop_admits_only_its_own_shapes(built):
    """DPN-68's features as timm's, an OrderedDict of named blocks filled by `for i, (depth, bw,
    inc) in enumerate(zip(depths, (64, 128, 256, 512), incs)):` over the tuples the class takes
    (or literals), a stage's local `r = k_r * bw // 64`, `for j in range(depth):` over the word
    chosen by place, `layers[f"conv{i + 2}_{j + 1}"] = DualPath(...)` and the width carried on,
    pass; another iterable, target, key, test, word, value or statement is refused."""
    text = built["dpn68"][1].read_text()
    head = "        for i, (depth, bw, inc) in enumerate(zip(depths, (64, 128, 256, 512), incs)):\n"
    kind = '                kind = "normal" if j > 0 else "proj" if i == 0 else "down"\n'
    add = '                layers[f"conv{i + 2}_{j + 1}"] = DualPath(in_channels, r, bw, inc, kind=kind)\n'
    carry = "                in_channels = bw + 3 * inc if j == 0 else in_channels + inc\n"
    lets = "            r = k_r * bw // 64\n            for j in range(depth):\n"
    assert all(t in text for t in (head, kind, add, carry, lets, "        layers = OrderedDict()\n",
                                   "        self.features = nn.Sequential(layers)\n"))
    check_generated_source(text)
    _edits_refused(text, [(head, head.replace("zip(depths,", "zip(dir(),")),
                          (head, head.replace("(64, 128, 256, 512)", "(64, 128, 256, 0.5)")),
                          (head, head.replace("(64, 128, 256, 512)", "layers")),
                          (head, head.replace("enumerate(", "reversed(")),
                          (head, head.replace("for i,", "for self,")),
                          (head, head.replace("(depth, bw, inc)", "(depth, bw, depths)")),
                          (lets, lets.replace("k_r * bw // 64", "dir()")),
                          (lets, lets.replace("r = ", "self = ")),
                          (lets, lets.replace("range(depth)", "range(bw)")),
                          (lets, lets.replace("for j in", "for depth in")),
                          (kind, kind.replace("j > 0", "j > 1")),
                          (kind, kind.replace("i == 0", "bw == 0")),
                          (kind, kind.replace('"down"', '"down x"')),
                          (kind, kind.replace('"down"', "print")),
                          (add, add.replace("conv{i + 2}", "conv{dir()}")),
                          (add, add.replace("conv{i + 2}_", "conv{i + 2}{j}")),
                          (add, add.replace("{j + 1}", "{j - 1}")),
                          (add, add.replace('"conv', '"_conv')),
                          (add, add.replace("layers[", "self[")),
                          (add, add.replace("DualPath(", "print(")),
                          (carry, carry.replace("j == 0", "i == 0")),
                          (carry, carry.replace("in_channels + inc", "dir()")),
                          (carry, carry.replace("in_channels =", "self =")),
                          (carry, carry.replace("in_channels =", "layers =")),
                          (carry, ""),
                          ("        layers = OrderedDict()\n", "        layers = OrderedDict(a=1)\n"),
                          ('        layers["conv1_pool"] =', '        layers["conv1 pool"] ='),
                          ('        layers["conv1_pool"] =', '        layers[dir()] ='),
                          ("        self.features = nn.Sequential(layers)\n",
                           "        self.features = nn.Sequential(layers, layers)\n")])


def test_a_depth_loop_admits_only_its_own_shapes(built):
    """ConvNeXt-T's features as torchvision's, `for i, (dim, depth) in enumerate(zip(dims, depths)):`
    over the two tuples the class takes, a stage of blocks with their drop-path rate, then a
    downsampling layer under `if i != len(dims) - 1:`, widths read as `dims[0]`, `dims[i + 1]`,
    `dims[-1]`, pass (a constant item, `dims[1]`, is as safe: that it is the spec's width is
    test_top_widths' to check); another iterable, target, test, count, item, statement or list are refused."""
    text = built["convnext_tiny"][1].read_text()
    head = "        for i, (dim, depth) in enumerate(zip(dims, depths)):\n"
    test, inner = "            if i != len(dims) - 1:\n", "            for _ in range(depth):\n"
    assert head in text and test in text and inner in text and "sum(depths)" in text
    check_generated_source(text)
    _edits_refused(text, [(head, head.replace("zip(dims, depths)", "zip(dims, dir())")),
                          (head, head.replace("zip(dims, depths)", "zip(dims, dims)")),
                          (head, head.replace("enumerate(", "reversed(")),
                          (head, head.replace("for i,", "for self,")),
                          (head, head.replace("(dim, depth)", "(dim, dims)")),
                          (test, test.replace("len(dims) - 1", "len(dims) - 2")),
                          (test, test.replace("len(dims)", "len(dir())")),
                          (inner, inner.replace("range(depth)", "range(dim)")),
                          (inner, inner.replace("for _ in", "for k in")),
                          ("sum(depths)", "sum(dir())"), ("sum(depths)", "sum(layers)"),
                          ("nn.Conv2d(dim, dims[i + 1], 2, stride=2)", "nn.Conv2d(dim, dims[i + 2], 2, stride=2)"),
                          ("nn.Conv2d(dim, dims[i + 1], 2, stride=2)", "nn.Conv2d(dim, dims[depth], 2, stride=2)"),
                          ("nn.Conv2d(3, dims[0], 4, stride=4)", "nn.Conv2d(3, dims[-2], 4, stride=4)"),
                          ("nn.Conv2d(3, dims[0], 4, stride=4)", "nn.Conv2d(3, dims[i + 1], 4, stride=4)"),
                          ("nn.Linear(dims[-1], num_classes)", "nn.Linear(layers[-1], num_classes)"),
                          ("                stage_block_id += 1\n", ""),
                          ("                stage.append(Cnblock(", "                layers.append(Cnblock("),
                          ("                stage.append(Cnblock(", "                print(Cnblock("),
                          ("            layers.append(nn.Sequential(*stage))\n",
                           "            layers.append(nn.Sequential(*layers))\n"),
                          (test + "                layers.append(\n", test + "                stage.append(\n"),
                          (test, test + "                print(i)\n"),
                          (test, "            print(i)\n" + test)])


def test_items_of_a_tuple_of_widths_admit_only_their_own_shapes(built):
    """DLA-34's widths as items of the `channels` tuple its top takes (`channels[2]`, emit/lift.py),
    HRNet's head as a run over the items of `widths` and `head` (`for i in range(4)`, `head[i + 1]`,
    emit/classes.py `_item_run`) pass; an item by a negative index but the last's, of a name that is
    no tuple the class takes, by another index than a constant or the run's, the run's index read
    bare, another count or index name are refused."""
    dla, hrnet = (built[name][1].read_text() for name in ("dla34", "hrnet_w18_small"))
    tree, head, run = "Tree(channels[1], channels[2], stride=2)", "Bottleneck(widths[i], head[i])", "for i in range(4)"
    assert tree in dla and head in hrnet and run in hrnet and "nn.Conv2d(4 * head[i], 4 * head[i + 1]," in hrnet
    check_generated_source(dla)
    check_generated_source(hrnet)
    _edits_refused(dla, [(tree, tree.replace("channels[2]", "channels[-2]")),
                         (tree, tree.replace("channels[2]", "num_classes[2]")),
                         (tree, tree.replace("channels[2]", "dir()[2]")),
                         (tree, tree.replace("channels[2]", "channels[num_classes]"))])
    _edits_refused(hrnet, [(head, head.replace("head[i]", "i")), (head, head.replace("head[i]", "head[i - 1]")),
                           (head, head.replace("head[i]", "head[i + i]")),
                           (head, head.replace("head[i]", "features[i]")),
                           (head, head.replace("head[i]", "head[num_classes]")),
                           (run, run.replace("range(4)", "range(features)")),
                           (run, run.replace("for i", "for features"))])


def test_a_chain_built_member_by_member_admits_only_its_own_shapes(built):
    """MobileNetV2's `layers = []`, `if t != 1: layers.append(...)`, `layers.extend([...])` and
    `nn.Sequential(*layers)` pass; other tests, statements under them, calls on the list, other
    lists and other starred arguments are refused."""
    text = built["mobilenet_v2"][1].read_text()
    test, append = "        if t != 1:\n", "            layers.append(\n"
    assert test + append in text and "        layers = []\n" in text
    assert "        self.conv = nn.Sequential(*layers)\n" in text and "        layers.extend(\n" in text
    check_generated_source(text)
    _edits_refused(text, [(test, "        if t > 1:\n"), (test, "        if t != in_channels:\n"),
                          (test, "        if t != 'a':\n"), (test, "        if layers:\n"),
                          (test, "        if self:\n"), (test, test + "            hidden = 1\n"),
                          (test + append, test + "            layers.pop(\n"),
                          ("        layers = []\n", "        layers = [t]\n"),
                          ("        layers = []\n", "        layers = [x for x in ()]\n"),
                          ("        layers.extend(\n", "        layers.insert(\n"),
                          ("nn.Sequential(*layers)", "nn.Sequential(*layers, *layers)"),
                          ("nn.Sequential(*layers)", "nn.ModuleList(*layers)"),
                          ("nn.Sequential(*layers)", "nn.Sequential(*hidden)")])


def test_a_run_of_list_members_admits_only_int_tuples_and_fresh_names(built):
    """nn.ModuleList's members that differ only in ints are one comprehension over tuples of int
    constants (HRNet's head, as timm builds it in a loop); its variables are fresh names that the
    call reads. Anything else there is refused. (HRNet's head as it was written before its top took
    `widths` and `head`: now a run over their items, `test_items_of_a_tuple_of_widths_...`.)"""
    line = "for in_channels, planes in zip((16, 32, 64, 128), (32, 64, 128, 256))"
    run, head = "for i in range(4)", "Bottleneck(widths[i], head[i])"
    text = built["hrnet_w18_small"][1].read_text()
    assert run in text and head in text
    text = text.replace(run, line, 1).replace(head, "Bottleneck(in_channels, planes)", 1)
    check_generated_source(text)
    for evil in ["for in_channels, planes in zip((16, 32, 64, 128), range(4))",
                 "for in_channels, planes in zip((16, 32, 64, 128), (32, 64, 128, 2.5))",
                 "for in_channels, planes in zip((16, 32, 64, 128), (32, 64, 128, num_classes))",
                 "for in_channels, planes in zip((16, 32, 64, 128), (32, 64, 128))",
                 "for in_channels, planes in zip((16, 32, 64, 128), (32, 64, 128, 256), strict=True)",
                 "for in_channels, planes in zip((16, 32, 64, 128), (32, 64, 128, 256)) if planes",
                 "for in_channels, planes in zip((16, 32, 64, 128), (32, 64, 128, 256)) for _ in (1, 2)",
                 "for in_channels, planes in zip(*((16, 32, 64, 128), (32, 64, 128, 256)))",
                 "for in_channels, planes in map((16, 32, 64, 128), (32, 64, 128, 256))",
                 "for in_channels, self in zip((16, 32, 64, 128), (32, 64, 128, 256))",
                 "for features, planes in zip((16, 32, 64, 128), (32, 64, 128, 256))",
                 "for in_channels, planes, _x in zip((16, 32, 64, 128), (32, 64, 128, 256))",
                 "for in_channels in (16, 32, 64, 128)"]:
        mutant = text.replace(line, evil)
        assert mutant != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)
    single = text.replace(line, "for planes in (32, 64, 128, 256)").replace(
        "Bottleneck(in_channels, planes)", "Bottleneck(16, planes)")
    check_generated_source(single)          # one tuple: no zip


def test_a_pair_added_where_a_child_is_admits_only_that_form(built):
    """WRN's top adds conv1 -> block1.0.bn1 where block1.0 has its shortcut (emit/fuse.py's
    `pair_lines`): presences of children of self, one pair of plain names added to its own; any
    other test, target, names or value there is refused."""
    text = built["wrn28_10"][1].read_text()
    line = '            self.fuse_pairs = (*self.fuse_pairs, ("conv1", "block1.0.bn1"))\n'
    assert "        if self.block1[0].shortcut is not None:\n" + line in text and "    fuse_pairs = ()\n" in text
    check_generated_source(text)
    _edits_refused(text, [
        ("self.block1[0].shortcut is not None", "print(1) is not None"),
        ("self.block1[0].shortcut is not None", "self.block1[0].shortcut is None"),
        ("self.block1[0].shortcut is not None", "self.block1[0].shortcut is not None or exit()"),
        ("self.block1[0].shortcut is not None", "self.block1[k].shortcut is not None"),
        ('("conv1", "block1.0.bn1"))', '("conv1", "__class__"))'),
        ('("conv1", "block1.0.bn1"))', '("conv1", "block1.0.bn1", "x"))'),
        ("(*self.fuse_pairs, ", "(*dir(), "),
        ("            self.fuse_pairs = (*", "            self.training = (*"),
        (line, line + "            print(1)\n"),
        ("        if self.block1[0].shortcut is not None:\n" + line, ""),      # `()` only where __init__ adds
        ("    fuse_pairs = ()\n", "    fuse_pairs = ((1, 2),)\n")])


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*RUFF, *args], capture_output=True, text=True, timeout=120)


def test_a_guard_admits_only_a_name_of_the_class_compared_with_an_int(built):
    """A child built under its block's `when:` (emit/guard.py): `Block(...) if se_reduction > 0
    else None`, one of the class's names compared with an int constant; anything else there is
    refused."""
    text = built["seresnet50"][1].read_text()
    good = "if se_reduction > 0 else None"
    assert good in text
    for evil in ["if se_reduction > len(dir()) else None", "if se_reduction.bit_length() > 0 else None",
                 "if se_reduction > 0 else print", "if se_reduction > 0.5 else None", "if se_reduction > '0' else None",
                 "if 0 < se_reduction < 1 else None", "if se_reduction in (0,) else None",
                 "if se_reduction is 0 else None", "if num_classes_ > 0 else None",
                 "if se_reduction > 0 or 1 else None",
                 "if (se_reduction := 0) > 0 else None"]:
        mutant = text.replace(good, evil)
        assert mutant != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)
    forward = text.replace("out = self.conv1(x)", f"out = self.conv1(x) {good}")
    with pytest.raises(AssertionError, match="whitelist"):       # __init__'s alone
        check_generated_source(forward)


def test_a_text_guard_admits_only_a_name_of_the_class_equal_to_a_word(built):
    """A child a text parameter picks (emit/guard.py's `by_text`, emit/alternatives.py):
    `Block(...) if kind == "proj" else None`, one of the class's names equal to a word, which
    the signature takes with a word for its default (`kind="normal"`) and a `let:` may test
    (`stride = 2 if kind == "down" else 1`); anything else there is refused."""
    text = built["dpn68"][1].read_text()
    good, default = 'if kind == "proj" else None', 'kind="normal"'
    assert good in text and default in text
    for evil in ['if kind == "proj x" else None', 'if kind == "_proj" else None', 'if kind != "proj" else None',
                 'if kind < "proj" else None', 'if kind in "proj" else None', 'if kind == f"{dir()}" else None',
                 'if kind == "proj" + kind else None', 'if "proj" == kind else None', 'if kind == b"proj" else None',
                 'if kind == "proj\\n" else None', 'if kind.strip() == "proj" else None',
                 'if kind == "proj" else print',
                 'if kind == "proj" or 1 else None', 'if kind == "9proj" else None']:
        mutant = text.replace(good, evil)
        assert mutant != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)
    for evil in ['kind="a b"', 'kind="_normal"', 'kind=f"normal"', 'kind="normal\\n"', 'kind=b"normal"',
                 'kind=["normal"]', 'kind="normal" if 1 else "x"']:
        mutant = text.replace(default, evil)
        assert mutant != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)
    let = 'stride = 2 if kind == "down" else 1'           # a `let:` reading it (DPN's stride)
    assert let in text
    for evil in ['stride = 2 if kind == "do wn" else 1', 'stride = 2 if kind != "down" else 1',
                 'stride = 2 if kind == "down" + kind else 1', 'stride = 2 if kind == dir() else 1',
                 'stride = 2 if kind.upper() == "DOWN" else 1', 'stride = print() if kind == "down" else 1',
                 'stride = 2 if kind == "_down" else 1', 'stride = 2 if kind in ("down",) else 1']:
        mutant = text.replace(let, evil)
        assert mutant != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(mutant)
    forward = text.replace("x = self.c1x1_a(x)", f"x = self.c1x1_a(x) {good}")
    with pytest.raises(AssertionError, match="whitelist"):       # __init__'s alone
        check_generated_source(forward)


# a toy whose unit builds its SE block under the block's `when:`, the names LOCAL and R as long as a case needs
GUARDED = """archspec: 1
name: toy
input: [3, 8, 8]
params: {R: 2, num_classes: 10}
blocks:
""" + SE_BLOCK + """  unit:
    params: {c: int}
    nodes:
      - conv: {op: conv, out: "${c}", k: 3, pad: 1}
      - LOCAL: {use: se, reduction: "${R}"}
nodes:
  - u: {use: unit, c: 16}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


@pytest.mark.parametrize("local,r,lines", [("se", "r", 1), ("se_module_of_this_unit", "reduction_ratio", 3),
                                           ("squeeze_excitation_module", "reduction_ratio_of_the_se_block", 5)])
def test_a_guarded_child_is_laid_out_as_ruff_does(tmp_path, local, r, lines):
    """`self.se = Se(c, reduction=r) if r > 0 else None` on one line, or in parentheses, the test
    and its else on lines of their own where the whole does not fit on one: as ruff formats it."""
    spec = tmp_path / "toy.yaml"
    spec.write_text(GUARDED.replace("LOCAL", local).replace("R", r))
    path = tmp_path / "toy.py"
    path.write_text(emit(archspec.analyze(str(spec))))
    text = path.read_text()
    start = text.index(f"        self.{local} = ")
    assert text[start:text.index("\n\n", start)].count("\n") + 1 == lines      # the assignment, __init__'s last
    assert f"if {r} > 0" in text
    check_generated_source(text)
    result = _ruff("format", *SETTINGS, "--check", "--diff", str(path))
    assert result.returncode == 0, result.stdout[:4000] + result.stderr


@pytest.mark.parametrize("names", LANES)
def test_ruff_check_passes(built, names):
    result = _ruff("check", *SETTINGS, "--extend-select", "E501", "--output-format", "concise", *_files(built, names))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("names", LANES)
def test_ruff_format_leaves_them_unchanged(built, names):
    result = _ruff("format", *SETTINGS, "--check", "--diff", *_files(built, names))
    assert result.returncode == 0, result.stdout[:4000] + result.stderr


def _lane(p: Path):
    """Big specs (2 G MACs and more) in the slow lane: their modules take longest to build."""
    slow = shipped_graph(p).macs >= 2_000_000_000
    return pytest.param(p.stem, id=p.stem, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("name", [_lane(p) for p in ALL_SPECS])
def test_imports_and_loads_the_reference_state_dict(built, name):
    g, path = built[name]
    model = load_source(path.read_text(), name).Model
    with torch.device("meta"):
        ours = model()
    peer = _peer(name)
    if peer is not None:
        state = {k: torch.empty(shape, device="meta") for k, shape in PEERS[peer]["state_dict"].items()}
        ours.load_state_dict(state, strict=True, assign=True)
    assert [tuple(v.shape) for v in ours.state_dict().values()] == list(g.state_dict_shapes().values())


def test_most_specs_have_a_peer():
    assert sum(_peer(p.stem) is not None for p in ALL_SPECS) >= 33     # 33 of 46 when written


def _peer(name: str) -> str | None:
    spec = next(p for p in ALL_SPECS if p.stem == name)
    peer = archspec.load(str(spec)).doc.reference.peer
    return peer if peer in PEERS else None


def test_readme_excerpts_are_the_generated_files(built):
    """The README's generated-code excerpts are verbatim pieces of `archspec build` of
    specs/resnet50.yaml (the block, a stage), specs/convnext_tiny.yaml (its stage loop and rates) and
    specs/inception_v3.yaml (a module)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    starts = ("class ", "        self.", "        layers = []")
    blocks = [b for b in readme.split("```python\n")[1:] if b.startswith(starts)]
    assert len(blocks) == 4
    texts = [built[name][1].read_text() for name in ("resnet50", "resnet50", "convnext_tiny", "inception_v3")]
    for b, text in zip(blocks, texts):
        assert b.split("```")[0] in text


# a toy whose unit projects its shortcut one of two ways, or not at all, as its `kind` says (DPN's dual path
# block): FIRST and THIRD the two kinds, in either order (the class is met first with one alternative)
PICKED = """archspec: 1
name: toy
input: [3, 8, 8]
params: {num_classes: 10}
blocks:
  proj:
    params: {out: int, stride: 1}
    nodes:
      - conv: {op: conv, out: "${out}", k: 1, stride: "${stride}", bias: false}
      - bn: batchnorm
  unit:
    params: {c: int, kind: plain}
    let: {stride: "${2 if kind == 'down' else 1}"}
    nodes:
      - wide: {use: proj, out: "${c}", in: input, when: "${kind == 'wide'}"}
      - down: {use: proj, out: "${c}", stride: 2, in: wide, when: "${kind == 'down'}"}
      - body: {op: conv, out: "${c}", k: 3, pad: 1, stride: "${stride}", in: input}
      - {op: add, in: [body, down]}
nodes:
  - u1: {use: unit, c: 16, kind: FIRST}
  - u2: {use: unit, c: 16}
  - u3: {use: unit, c: 32, kind: THIRD}
  - u4: {use: unit, c: 32}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


@pytest.mark.parametrize("first,third", [("down", "wide"), ("wide", "down")])
def test_alternatives_a_text_parameter_picks_are_one_class(tmp_path, first, third):
    """emit/alternatives.py: a block's structures that differ by which of its alternatives they
    have (none, `wide` or `down`) are one class, which takes `kind` and builds each alternative
    under its test in the spec's order, its `let:` written from it; each instance's state_dict
    is its own, and it computes what the spec says (checked by hand here)."""
    spec = tmp_path / "toy.yaml"
    spec.write_text(PICKED.replace("FIRST", first).replace("THIRD", third))
    path = tmp_path / "toy.py"
    path.write_text(emit(archspec.analyze(str(spec))))
    text = path.read_text()
    assert text.count("class Unit") == 1 and "class Unit(nn.Module)" in text
    assert "def __init__(self, in_channels, c, kind=\"plain\"):" in text
    wide, down = text.index('self.wide = Proj(in_channels, c) if kind == "wide" else None'), text.index(
        'self.down = Proj(in_channels, c, stride=2) if kind == "down" else None')
    assert 'stride = 2 if kind == "down" else 1' in text and wide < down
    assert f'self.u1 = Unit(3, 16, kind="{first}")' in text and "self.u2 = Unit(16, 16)\n" in text
    check_generated_source(text)
    result = _ruff("format", *SETTINGS, "--check", "--diff", str(path))
    assert result.returncode == 0, result.stdout[:4000] + result.stderr
    torch.manual_seed(0)
    m = load_source(text).Model().eval()
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == archspec.analyze(str(spec)).state_dict_shapes()
    x = torch.randn(2, 3, 8, 8)

    def proj(p, y):
        return p.bn(p.conv(y))
    with torch.no_grad():
        y = proj(getattr(m.u1, first), x) + m.u1.body(x)
        y = y + m.u2.body(y)
        y = proj(getattr(m.u3, third), y) + m.u3.body(y)
        y = y + m.u4.body(y)
        want = m.fc(torch.flatten(m.pool(y), 1))
        assert torch.equal(m(x), want)


def test_an_alternative_its_parameter_does_not_tell_is_not_built_under_it(tmp_path):
    """`kind == "wide"` guards `wide` only where every instance of that kind has it: here the
    wide unit that keeps the width has none (its `when:` reads the widths too), so each instance
    still builds just what it has."""
    spec = tmp_path / "toy.yaml"
    spec.write_text(PICKED.replace("FIRST", "wide").replace("THIRD", "wide").replace("c: 32", "c: 16").replace(
        "when: \"${kind == 'wide'}\"", "when: \"${kind == 'wide' and block_input.channels != c}\""))
    text = emit(archspec.analyze(str(spec)))
    assert 'if kind == "wide"' not in text
    check_generated_source(text)
    m = load_source(text).Model().eval()
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == archspec.analyze(str(spec)).state_dict_shapes()


# a toy whose unit pools one of two ways as its `pool` says, then projects the pool (BN-Inception's
# pool branch: an average pool in most modules, a max pool in 5b)
POOLED = """archspec: 1
name: toy
input: [3, 8, 8]
params: {num_classes: 10}
blocks:
  unit:
    params: {c: int, pool: avg}
    nodes:
      - body: {op: conv, out: "${c}", k: 3, pad: 1, in: input}
      - avgpool: {in: input, op: avgpool, k: 3, stride: 1, pad: 1, when: "${pool == 'avg'}"}
      - maxpool: {in: input, op: maxpool, k: 3, stride: 1, pad: 1, when: "${pool == 'max'}"}
      - proj: {in: "${pool}pool", op: conv, out: "${c}", k: 1}
      - {op: concat, in: [body, proj]}
nodes:
  - u1: {use: unit, c: 4}
  - u2: {use: unit, c: 4, pool: max}
  - u3: {use: unit, c: 8}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def test_alternative_ops_a_text_parameter_picks_are_one_class(tmp_path):
    """emit/alternatives.py: an op's module may be an alternative too (BN-Inception's pools): the
    unit with a max pool is the others' class, which builds each pool under its test; each
    instance's state_dict is its own, and it computes what the spec says (checked by hand)."""
    spec = tmp_path / "toy.yaml"
    spec.write_text(POOLED)
    text = emit(archspec.analyze(str(spec)))
    assert text.count("class Unit") == 1 and 'def __init__(self, in_channels, c, pool="avg"):' in text
    assert 'self.avgpool = nn.AvgPool2d(3, stride=1, padding=1) if pool == "avg" else None' in text
    assert 'self.maxpool = nn.MaxPool2d(3, stride=1, padding=1) if pool == "max" else None' in text
    assert 'self.u2 = Unit(8, 4, pool="max")' in text
    check_generated_source(text)
    torch.manual_seed(0)
    m = load_source(text).Model().eval()
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == archspec.analyze(str(spec)).state_dict_shapes()
    x = torch.randn(2, 3, 8, 8)

    def unit(u, y, pool):
        return torch.cat([u.body(y), u.proj(pool(y, 3, stride=1, padding=1))], 1)
    with torch.no_grad():
        avg, mx = torch.nn.functional.avg_pool2d, torch.nn.functional.max_pool2d
        y = unit(m.u3, unit(m.u2, unit(m.u1, x, avg), mx), avg)
        assert torch.equal(m(x), m.fc(torch.flatten(m.pool(y), 1)))
