"""summary --format paper: GoogLeNet's Table 1 from specs/googlenet.yaml, cell by cell against the
published table (tests/reference/googlenet_table1.json, all 228 cells as the paper prints them),
every cell where archspec's figure differs named with its arithmetic; VGG's and ResNet's tables;
located errors for bad `table:` declarations."""
import json
import math
import re
from typing import NamedTuple

import pytest
from paths import ROOT, SPECS

import archspec
from archspec.cli import main
from archspec.errors import SpecErrors
from archspec.reports.table import paper_table

REF = json.loads((ROOT / "tests" / "reference" / "googlenet_table1.json").read_text())
COLUMN = {title: j for j, title in enumerate(REF["columns"])}
UNIT = {"params": 1024, "ops": 10 ** 6}     # params in K = 1024 elements (the conv2 row fixes it), ops in M = 10^6 MACs


def _label(printed_row: list) -> str:
    """A row by its printed type, and patch size where it has one (two rows are "convolution")."""
    return f"{printed_row[0]} {printed_row[1]}".strip()


class Difference(NamedTuple):
    """A printed cell archspec's count contradicts: `arithmetic` (weights + biases for params, weights x
    output positions for ops, from the printed structure columns) gives the count archspec has."""
    row: str               # its _label
    column: str
    printed: str
    arithmetic: str
    kind: str              # "misprint": no rounding of the count in K = 1024 or 1000 gives the printed figure;
                           # "rounding": the printed figure is the count truncated, archspec's rounded to nearest
    note: str = ""


# Inception params: 1x1 + 3x3 reduce + 3x3 + 5x5 reduce + 5x5 + pool proj weights, then their biases;
# each module's input depth is the printed output size of the row above it.
DIFFERENCES = [
    Difference("convolution 7x7/2", "params", "2.7K", "7*7*3*64 + 64", "misprint", "9,472 = 9.25K"),
    Difference("convolution 7x7/2", "ops", "34M", "7*7*3*64 * 112*112", "misprint",
               "118,013,952 = 118M; 34M is about 2.7K x 112 x 112: it follows the misprinted params"),
    Difference("inception (3a)", "params", "159K",
               "192*64 + 192*96 + 9*96*128 + 192*16 + 25*16*32 + 192*32 + (64+96+128+16+32+32)", "rounding",
               "163,696 = 159.86K, truncated (the table rounds 3b's 379.6K up to 380K)"),
    Difference("inception (4a)", "params", "364K",
               "480*192 + 480*96 + 9*96*208 + 480*16 + 25*16*48 + 480*64 + (192+96+208+16+48+64)", "misprint",
               "376,176 = 367.4K (376.2K with K = 1000)"),
    Difference("inception (4a)", "ops", "73M", "(480*192 + 480*96 + 9*96*208 + 480*16 + 25*16*48 + 480*64) * 14*14",
               "rounding", "73,608,192 = 73.6M, truncated (the table rounds conv2's 359.7M up to 360M)"),
    Difference("inception (4b)", "params", "437K",
               "512*160 + 512*112 + 9*112*224 + 512*24 + 25*24*64 + 512*64 + (160+112+224+24+64+64)", "misprint",
               "449,160 = 438.6K (449.2K with K = 1000)"),
    Difference("inception (4c)", "params", "463K",
               "512*128 + 512*128 + 9*128*256 + 512*24 + 25*24*64 + 512*64 + (128+128+256+24+64+64)", "misprint",
               "510,104 = 498.1K (510.1K with K = 1000)"),
    Difference("inception (4d)", "params", "580K",
               "512*112 + 512*144 + 9*144*288 + 512*32 + 25*32*64 + 512*64 + (112+144+288+32+64+64)", "misprint",
               "605,376 = 591.2K (605.4K with K = 1000)"),
    Difference("inception (4e)", "params", "840K",
               "528*256 + 528*160 + 9*160*320 + 528*32 + 25*32*128 + 528*128 + (256+160+320+32+128+128)", "misprint",
               "868,352 = 848.0K (868.4K with K = 1000)"),
    Difference("inception (5a)", "params", "1072K",
               "832*256 + 832*160 + 9*160*320 + 832*32 + 25*32*128 + 832*128 + (256+160+320+32+128+128)", "misprint",
               "1,043,456 = 1019.0K (1043.5K with K = 1000)"),
    Difference("inception (5a)", "ops", "54M",
               "(832*256 + 832*160 + 9*160*320 + 832*32 + 25*32*128 + 832*128) * 7*7", "misprint",
               "51,079,168 = 51.1M"),
    Difference("inception (5b)", "params", "1388K",
               "832*384 + 832*192 + 9*192*384 + 832*48 + 25*48*128 + 832*128 + (384+192+384+48+128+128)", "misprint",
               "1,444,080 = 1410.2K (1444.1K with K = 1000)"),
    Difference("linear", "params", "1000K", "1024*1000 + 1000", "rounding",
               "1,025,000 = 1000.98K, truncated (the 1,024,000 weights alone are 1000K)"),
]


def _value(arithmetic: str) -> int:
    """A Difference's arithmetic: integers, +, * and parentheses only."""
    assert re.fullmatch(r"[0-9+*() ]+", arithmetic), arithmetic
    return eval(arithmetic, {"__builtins__": {}})      # checked above: arithmetic, nothing else


def _rounded(count: int, unit: int) -> str:
    """The table's rounding rule: whole units, to nearest; two significant figures below 10 (2.7K)."""
    x = count / unit
    return f"{x:.2g}" if x < 10 else f"{round(x)}"


@pytest.fixture(scope="module")
def table():
    g = archspec.analyze(archspec.load(str(SPECS / "googlenet.yaml")))
    titles, body = paper_table(g)
    assert titles == REF["columns"]
    assert len(REF["rows"]) * len(REF["columns"]) == 228
    published = [r for r in REF["rows"] if r[0] != "softmax"]     # no softmax node: the network returns logits
    assert len(body) == len(published) == len(REF["rows"]) - 1
    spans = g.table.rows
    return g, list(zip(published, body, spans))


def _figures(g, span) -> tuple[int, int]:
    """params and MACs of a row's nodes, counted here from the graph (not from the table's text)."""
    name, row = (span, None) if isinstance(span, str) else next(iter(span.items()))
    names = row.nodes if row and row.nodes else [name]
    nodes = [n for n in g.nodes.values() if any(n.name == x or n.name.startswith(x + ".") for x in names)]
    return sum(n.params for n in nodes), sum(n.macs for n in nodes)


def _count(g, span, column: str) -> int:
    return _figures(g, span)[["params", "ops"].index(column)]


def test_every_other_cell_is_as_printed(table):
    """The 12 x 18 = 216 cells of the rows archspec prints, less the 13 DIFFERENCES, equal the
    paper's: the table's text, and for params and ops archspec's count from the graph under the
    table's rounding."""
    g, rows = table
    named = {(d.row, d.column) for d in DIFFERENCES}
    labels = [_label(p) for p, _, _ in rows]
    assert len(named) == len(DIFFERENCES) == 13 and all(labels.count(d.row) == 1 for d in DIFFERENCES)
    for published, ours, span in rows:
        for title, j in COLUMN.items():
            if (_label(published), title) in named:
                continue
            assert ours[j] == str(published[j]), (published[0], title, ours[j])
            if title in UNIT and published[j]:
                assert _rounded(_count(g, span, title), UNIT[title]) + published[j][-1] == published[j]


@pytest.mark.parametrize("d", DIFFERENCES, ids=lambda d: f"{d.row}-{d.column}")
def test_each_difference_is_what_it_says(table, d):
    """The printed cell is as stated, the arithmetic gives archspec's count exactly (the note's figures
    are that count), archspec prints it rounded, and the printed figure is a misprint (no rounding of
    the count in either K gives it) or a truncation (the count's floor, where archspec rounds to nearest)."""
    g, rows = table
    published, ours, span = next(r for r in rows if _label(r[0]) == d.row)
    j = COLUMN[d.column]
    assert published[j] == d.printed
    count = _value(d.arithmetic)
    assert count == _count(g, span, d.column), (d, _count(g, span, d.column))
    assert ours[j] == _rounded(count, UNIT[d.column]) + d.printed[-1] != d.printed
    stated = re.fullmatch(r"([\d,]+) = ([\d.]+)[KM](?:.*\(([\d.]+)K with K = 1000\))?.*", d.note)
    assert stated and int(stated[1].replace(",", "")) == count, d.note     # the note's figures are the count's
    for figure, unit in ((stated[2], UNIT[d.column]), (stated[3], 1000)):
        assert figure is None or round(count / unit, len(figure.partition(".")[2])) == float(figure), d.note
    printed = float(d.printed[:-1])
    if d.kind == "misprint":
        step = 0.1 if "." in d.printed else 1      # the printed figure's last place
        units = [1024, 1000] if d.column == "params" else [UNIT[d.column]]
        assert all(abs(count / u - printed) >= step for u in units)
    else:
        assert d.kind == "rounding" and math.floor(count / UNIT[d.column]) == printed


def test_the_softmax_row_is_the_one_row_not_printed(table):
    """The paper's last row, softmax 1x1x1000 (depth 0, nothing counted), has no node: the network
    returns logits and the loss applies the softmax. Its output size is the linear row's."""
    _, rows = table
    softmax = REF["rows"][-1]
    assert [r[0] for r in REF["rows"]] == [p[0] for p, _, _ in rows] + ["softmax"]
    assert softmax == ["softmax", "", "1x1x1000", 0, *[""] * 8]
    assert rows[-1][1][COLUMN["output size"]] == softmax[COLUMN["output size"]]


def test_the_printed_structure_gives_archspecs_counts(table):
    """Each inception row's params and ops recomputed from the printed columns alone (its #1x1 ...
    pool proj, its input depth the printed output size of the row above, its output size) are
    archspec's counts: the DIFFERENCES are the paper's figures disagreeing with its own structure."""
    g, rows = table
    for (above, _, _), (published, _, span) in zip(rows, rows[1:]):
        if not published[0].startswith("inception"):
            continue
        c = int(above[COLUMN["output size"]].split("x")[-1])
        h = int(published[COLUMN["output size"]].split("x")[0])
        n1, r3, n3, r5, n5, proj = (published[COLUMN[t]] for t in REF["columns"][4:10])
        weights = c * n1 + c * r3 + 9 * r3 * n3 + c * r5 + 25 * r5 * n5 + c * proj
        assert _figures(g, span) == (weights + n1 + r3 + n3 + r5 + n5 + proj, weights * h * h), published[0]
    assert _figures(g, "inception4c")[0] == 510_104          # the "~509K": 509,440 weights + 664 biases


def test_conv2_row_fixes_the_unit_of_params():
    """The conv2 row (1x1 reduce + 3x3) holds 64*64 + 64*192*9 = 114,688 weights: 112K with K = 1024."""
    g = archspec.analyze(archspec.load(str(SPECS / "googlenet.yaml")))
    weights = sum(n.params - n.attrs.out for n in g.nodes.values() if n.name in ("conv2_reduce.conv", "conv2.conv"))
    assert weights == 114_688 == 112 * 1024


def test_cli_prints_the_table(capsys):
    assert main(["summary", str(SPECS / "googlenet.yaml"), "--format", "paper"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Table 1: GoogLeNet incarnation of the Inception architecture\n")
    assert "inception (3a)                     28x28x256    2      64    96           128   16" in out


def test_a_spec_without_a_table(capsys):
    assert main(["summary", str(SPECS / "resnet18.yaml"), "--format", "paper"]) == 1
    assert "declares no table:" in capsys.readouterr().err


BASE = """archspec: 1
name: t
input: [3, 8, 8]
nodes:
  - conv1: {op: conv, out: 4, k: 3}
  - b: {nodes: [{c: {op: conv, out: 2, k: 1}}]}
table:
  title: T
"""


@pytest.mark.parametrize("table, where, message", [
    ("  columns: [{title: x, value: parms}]\n  rows: [conv1]\n", "9:31", "unknown value 'parms'"),
    ("  columns: [{title: x, value: params}]\n  rows: [conv9]\n", "10:10", "table row 'conv9': no such node"),
    ("  columns: [{title: x, value: c.outt}]\n  rows: [b]\n", "9:31", "is no node attribute under any row"),
    ("  columns: [{title: x, value: params}]\n  rows: [{conv1: {text: {y: z}}}]\n", "10:10", "no column 'y'"),
    ("  columns: [{title: x, value: params}, {title: x, value: macs}]\n  rows: [conv1]\n", "9:48", "'x' twice"),
    ("  columns: [{title: x, value: params, unit: k}]\n  rows: [conv1]\n", "9:45", "unit"),
    ("  columns: [{value: params}]\n  rows: [conv1]\n", "9:13", "missing required spec key 'title'"),
])
def test_bad_table_declarations_are_located(spec_file, capsys, table, where, message):
    path = spec_file(BASE + table)
    with pytest.raises(SpecErrors) as e:
        archspec.analyze(archspec.load(path))
    text = str(e.value)
    assert text.startswith(f"{path}:{where}: error:") and message in text, text
    assert main(["validate", path]) == 1


def test_node_attribute_columns_resolve_under_each_row(spec_file):
    path = spec_file(BASE + "  columns: [{title: k, value: c.k}, {title: o, value: output}]\n  rows: [b, conv1]\n")
    g = archspec.analyze(archspec.load(path))
    assert paper_table(g) == (["k", "o"], [["1x1", "6x6x2"], ["", "6x6x4"]])


def test_vgg_configurations_side_by_side():
    """Simonyan & Zisserman 2014, Table 1: A and A-LRN have 11 weight layers, B 13, C and D 16, E 19
    (the rows are the paper's: each run of convs, each max pool, each FC); C's column as printed;
    their params (Table 2) 133M, 133M, 133M, 134M, 138M and 144M."""
    g = archspec.analyze(archspec.load(str(SPECS / "vgg16.yaml")))
    titles, body = paper_table(g)
    assert titles == ["A", "A-LRN", "B", "C", "D", "E"]
    layers = {t: [x for row in body for x in row[j].split("\n") if x] for j, t in enumerate(titles)}
    weighted = {t: sum(x.startswith(("conv", "FC")) for x in v) for t, v in layers.items()}
    assert weighted == {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
    assert layers["A-LRN"][:2] == ["conv3-64", "LRN"] and layers["E"].count("conv3-512") == 8
    assert layers["C"] == ["conv3-64", "conv3-64", "maxpool", "conv3-128", "conv3-128", "maxpool",
                           "conv3-256", "conv3-256", "conv1-256", "maxpool",
                           "conv3-512", "conv3-512", "conv1-512", "maxpool",
                           "conv3-512", "conv3-512", "conv1-512", "maxpool",
                           "FC-4096", "FC-4096", "FC-1000"]          # Table 1's C, less its input and soft-max
    assert [row[0] for row in body].count("maxpool") == 5 and body[-1] == ["FC-1000"] * 6
    table2 = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
    for title, values in g.table.configurations.items():
        params = archspec.analyze(archspec.load(str(SPECS / "vgg16.yaml"), **values)).params
        assert round(params / 1e6) == table2[title]


def test_resnet_stage_rows_for_five_depths():
    """He et al. 2015, Table 1: the stacks add up to 18, 34, 50, 101 and 152 weighted layers."""
    import re
    g = archspec.analyze(archspec.load(str(ROOT / "examples" / "resnet_table1.yaml")))
    titles, body = paper_table(g)
    assert titles[2:] == ["18-layer", "34-layer", "50-layer", "101-layer", "152-layer"]
    assert body[3][:3] == ["conv3_x", "28x28x512", "[3x3, 128; 3x3, 128] x2"]
    assert body[4][6] == "[1x1, 256; 3x3, 256; 1x1, 1024] x36"
    for j, title in enumerate(titles[2:], 2):
        depth = 0
        for row in body:
            stack = re.fullmatch(r"\[(.*)\] x(\d+)", row[j])
            depth += len(stack[1].split(";")) * int(stack[2]) if stack else row[j].count(", 64, stride") + \
                row[j].count("fc")
        assert depth == int(title.split("-")[0]), title


def test_resnet_flops_row():
    """Table 1's FLOPs row (multiply-adds, x 10^9) is within its one decimal of archspec's MACs with the
    paper's stride placement: 1.81, 3.66, 3.86, 7.57, 11.28 (the paper neither rounds nor truncates
    consistently: 3.66 is printed 3.6, 7.57 is 7.6)."""
    published = json.loads((ROOT / "tests" / "reference" / "resnet_table1.json").read_text())["flops_1e9"]
    titles, body = paper_table(archspec.analyze(archspec.load(str(ROOT / "examples" / "resnet_table1.yaml"))))
    assert body[-1][0] == "FLOPs"
    ours = {t: float(v[:-1]) for t, v in zip(titles[2:], body[-1][2:])}
    assert ours == {"18-layer": 1.81, "34-layer": 3.66, "50-layer": 3.86, "101-layer": 7.57, "152-layer": 11.28}
    assert all(abs(ours[t] - published[t]) < 0.1 for t in published)


def test_bad_configuration_is_located(spec_file):
    path = spec_file(BASE + "  configurations: {X: {nope: 1}}\n  rows: segments\n")
    with pytest.raises(SpecErrors) as e:
        paper_table(archspec.analyze(archspec.load(path)))
    assert str(e.value).startswith(f"{path}:9:20: error: table configuration 'X': unknown parameter 'nope'")


def test_readme_table_is_the_real_output(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["summary", "specs/googlenet.yaml", "--format", "paper"]) == 0
    out = capsys.readouterr().out.strip()
    assert f"$ archspec summary specs/googlenet.yaml --format paper\n{out}\n```" in (ROOT / "README.md").read_text()
