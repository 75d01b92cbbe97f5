"""summary --format paper: GoogLeNet's Table 1 from specs/googlenet.yaml, row by row against the
published table (tests/reference/googlenet_table1.json), and located errors for bad `table:` declarations."""
import json

import pytest
from paths import ROOT, SPECS

import archspec
from archspec.cli import main
from archspec.errors import SpecErrors
from archspec.table import paper_table

REF = json.loads((ROOT / "tests" / "reference" / "googlenet_table1.json").read_text())
STRUCTURE = ["type", "patch size/stride", "output size", "depth", "#1x1", "#3x3 reduce", "#3x3", "#5x5 reduce",
             "#5x5", "pool proj"]
# the published figures archspec's counts contradict, with archspec's (K = 1024 elements, M = 10^6 MACs)
PARAMS_MISPRINTS = {"convolution": 9.25, "inception (4a)": 367.4, "inception (4b)": 438.6,
                    "inception (4c)": 498.1, "inception (4d)": 591.2, "inception (4e)": 848.0,
                    "inception (5a)": 1019.0, "inception (5b)": 1410.2}
OPS_MISPRINTS = {"convolution": 118.0, "inception (5a)": 51.1}


@pytest.fixture(scope="module")
def table():
    g = archspec.analyze(archspec.load(str(SPECS / "googlenet.yaml")))
    titles, body = paper_table(g)
    assert titles == REF["columns"]
    published = [r for r in REF["rows"] if r[0] != "softmax"]     # no softmax node: the network returns logits
    assert len(body) == len(published)
    spans = g.meta["table"].rows
    return g, list(zip(published, body, spans))


def test_structure_columns_exactly(table):
    _, rows = table
    for published, ours, _ in rows:
        for col in STRUCTURE:
            j = REF["columns"].index(col)
            assert ours[j] == str(published[j]), (published[0], col)


def _figures(g, span) -> tuple[int, int]:
    """params and MACs of a row's nodes, counted here from the graph (not from the table's text)."""
    name, row = (span, None) if isinstance(span, str) else next(iter(span.items()))
    names = row.nodes if row and row.nodes else [name]
    nodes = [n for n in g.nodes.values() if any(n.name == x or n.name.startswith(x + ".") for x in names)]
    return sum(n.params for n in nodes), sum(n.macs for n in nodes)


def _misprints(table, column: str, figure: int, unit: float) -> dict[str, float]:
    """The rows whose printed figure is a whole unit or more from archspec's count (the table rounds
    to whole units, up or down; one decimal below 10), with archspec's count in those units."""
    g, rows = table
    wrong = {}
    for published, _, span in rows:
        printed = published[REF["columns"].index(column)]
        ours = _figures(g, span)[figure] / unit
        if printed and abs(ours - float(printed[:-1])) >= 1:
            wrong[published[0]] = round(ours, 2 if ours < 10 else 1)
    return wrong


def test_ops_within_the_tables_rounding_misprints_named(table):
    assert _misprints(table, "ops", 1, 1e6) == OPS_MISPRINTS          # M = 10^6 multiply-adds


def test_params_within_the_tables_rounding_misprints_named(table):
    assert _misprints(table, "params", 0, 1024) == PARAMS_MISPRINTS   # K = 1024 elements
    g, _ = table
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
    for title, values in g.meta["table"].configurations.items():
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
