"""archspec diff: the papers' comparisons reproduced from the shipped specs and examples."""
import json
import math
import re
import shutil

import pytest
from paths import ROOT

import archspec
from archspec.cli import main
from archspec.reports.diff import diff, format_diff
from archspec.reports.render import BUDGET

EX, SPECS = ROOT / "examples", ROOT / "specs"


def graph(path, *sets):
    return archspec.analyze(archspec.load(str(path), list(sets)))


def test_se_resnet50_vs_resnet50():
    """Hu et al. 2018: SE adds about 2.5M params to ResNet-50 and costs 3.87 vs 3.86 GFLOPs. Under the
    conv+linear MACs convention the cost is +0.06%; the paper's +0.26% (0.01 G in its rounding) also
    counts the squeeze pooling and the gating multiply, which `--count-elementwise` adds."""
    d = diff(graph(SPECS / "resnet50.yaml"), graph(SPECS / "seresnet50.yaml"), elementwise=True)
    totals = d.totals()
    (pa, pb), (ma, mb) = totals["params"], totals["MACs"]
    assert pb - pa == 2_530_992 and round((pb - pa) / 1e6, 1) == 2.5
    assert f"{(mb - ma) / ma * 100:.2f}" == "0.06"
    added = [p.b for p in d.pairs if p.status == "+"]
    assert added and all(".se." in r.name for r in added)
    assert {p.status for p in d.pairs} == {"=", "+"}
    # the elementwise delta is exactly each SE block's squeeze (C*H*W reads) and gate (C*H*W multiplies)
    se_inputs = [n.in_shapes[0] for n in d.b.nodes.values() if n.name.endswith(".se.global_avgpool")]
    ea, eb = totals["elementwise"]
    assert eb - ea == 2 * sum(math.prod(s) for s in se_inputs) == 11_038_720


def test_se_resnet50_gflops_as_the_paper_rounds():
    """With the paper's stride placement ResNet-50 is 3.86 G MACs; SE-ResNet-50 is 3.87 G only when the
    squeeze pooling and the gating multiply are counted too."""
    a, b = graph(SPECS / "resnet50.yaml", "stride_in_1x1=true"), graph(SPECS / "seresnet50.yaml", "stride_in_1x1=true")
    t = diff(a, b, elementwise=True).totals()
    (ma, mb), (ea, eb) = t["MACs"], t["elementwise"]
    assert (round(ma / 1e9, 2), round(mb / 1e9, 2)) == (3.86, 3.86)
    assert round((mb + eb - ea) / 1e9, 2) == 3.87


def test_three_3x3_vs_one_7x7():
    """Simonyan & Zisserman 2014, Sec. 2.3: 27 C^2 vs 49 C^2 weights for the same receptive field."""
    c = 64
    t = diff(graph(EX / "conv7x7.yaml"), graph(EX / "conv3x3_stack.yaml")).totals()
    assert t["params"] == (49 * c * c, 27 * c * c)
    assert t["MACs"] == (49 * c * c * 56 * 56, 27 * c * c * 56 * 56)


def test_inception3a_with_and_without_reductions():
    """Szegedy et al. 2014, Fig. 2: the 1x1 reductions cut inception (3a) from 387K to 164K params and
    from 303M to 128M MACs (Table 1's ops for 3a: 128M); the naive module's output is 416 channels wide."""
    g = graph(EX / "inception3a.yaml")
    d = diff(g, graph(EX / "inception3a.yaml", "reductions=false"))
    t = d.totals()
    weights = 192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 25 + 192 * 32
    biases = 64 + 96 + 128 + 16 + 32 + 32
    naive = 192 * 64 + 192 * 128 * 9 + 192 * 32 * 25
    assert t["params"] == (weights + biases, naive + 64 + 128 + 32)
    assert t["MACs"] == (weights * 28 * 28, naive * 28 * 28) and round(t["MACs"][0] / 1e6) == 128
    removed = {p.a.name for p in d.pairs if p.status == "-"}
    dropped = ("branch2.reduce", "branch3.reduce", "branch4.proj")
    assert removed == {f"{b}.{x}" for b in dropped for x in ("conv", "relu")}
    assert d.pairs[-1].b.shape == (416, 28, 28)


def test_cifar_resnet20_plain_vs_residual():
    """He et al. 2015, Sec. 4.2: option A shortcuts add no parameters; plain and residual ResNet-20 have
    the same params and MACs, and differ only by the adds and zero-padded shortcuts."""
    d = diff(graph(SPECS / "resnet_cifar.yaml", "residual=false"), graph(SPECS / "resnet_cifar.yaml"))
    t = d.totals()
    assert t["params"] == (269_722, 269_722) and t["MACs"][0] == t["MACs"][1]
    added = [p.b for p in d.pairs if p.status != "="]
    assert {p.status for p in d.pairs} == {"=", "+"}
    assert {r.name.split(".")[-1] for r in added} == {"add", "pad_channels"}
    assert sum(r.name.endswith("add") for r in added) == 9 and all(r.params == 0 for r in added)


def test_densenet121_vs_resnet50_params():
    """Huang et al. 2017, Fig. 3: DenseNet-121 (8.0M) reaches ResNet-50's accuracy with under a third
    of its parameters (25.6M)."""
    t = diff(graph(SPECS / "resnet50.yaml"), graph(SPECS / "densenet121.yaml"), depth=1).totals()
    assert t["params"] == (25_557_032, 7_978_856)
    assert round(t["params"][1] / t["params"][0], 4) == 0.3122


def test_rows_pair_by_structure_where_names_differ():
    d = diff(graph(SPECS / "resnet50.yaml"), graph(SPECS / "densenet121.yaml"), depth=1)
    fc = [p for p in d.pairs if p.a is not None and p.a.name == "fc"]
    assert fc[0].b.name == "classifier" and fc[0].name == "fc -> classifier" and fc[0].status == "~"


def test_cli_formats(capsys):
    cifar = str(SPECS / "resnet_cifar.yaml")
    args = ["diff", cifar, cifar, "--set-b", "n=5", "--depth", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "+  layer1.3" in out and "params: 269,722 -> 464,154, +194,432" in out
    assert main(args + ["--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["b"]["sets"] == ["n=5"] and data["totals"]["params"]["delta"] == 194_432
    assert sum(r["status"] == "added" for r in data["rows"]) == 6
    assert main(args + ["--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("status,node,op A,op B") and any(r.startswith("added,layer1.3,,basic,") for r in lines)
    assert main(args + ["--format", "md", "--count-elementwise"]) == 0
    assert "| + | layer1.3 | basic |" in capsys.readouterr().out


def test_set_applies_to_both_sides_and_set_a_to_one(capsys):
    a = str(SPECS / "resnet_cifar.yaml")
    assert main(["diff", a, a, "--set", "n=5", "--set-a", "residual=false", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"]["sets"] == ["n=5", "residual=false"] and data["b"]["sets"] == ["n=5"]
    assert data["totals"]["params"]["a"] == data["totals"]["params"]["b"] == 464_154


def test_bad_side_is_a_located_error(capsys, spec_file):
    good = spec_file("archspec: 1\nname: a\ninput: [3, 8, 8]\nnodes:\n  - conv1: {op: conv, out: 4, k: 3}\n")
    bad = spec_file("archspec: 1\nname: b\ninput: [3, 8, 8]\nnodes:\n  - conv1: {op: conv, out: 4, k: 30}\n", "b.yaml")
    assert main(["diff", good, bad]) == 1
    err = capsys.readouterr().err
    assert err.startswith("b.yaml:5:") and "Traceback" not in err
    assert main(["diff", good, good, "--set-b", "nope=1"]) == 1
    assert "nope" in capsys.readouterr().err


def test_identical_specs_have_no_changes():
    g = graph(SPECS / "googlenet.yaml")
    text = format_diff(diff(g, graph(SPECS / "googlenet.yaml"), depth=1))
    assert "rows: 24 same, 0 changed, 0 added in B, 0 removed from A" in text and "B/A 1.0000 (+0.00%)" in text
    assert "params in eval mode: 6,998,552 -> 6,998,552, 0" in text


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "json"])
def test_every_format_of_a_deep_diff(fmt):
    d = diff(graph(SPECS / "resnet18.yaml"), graph(SPECS / "resnet34.yaml"))
    assert format_diff(d, fmt)


def test_diagram_dot_highlights_changes(in_tmp, capsys):
    inception = str(EX / "inception3a.yaml")
    assert main(["diff", inception, inception, "--set-b", "reductions=false", "--format", "dot", "-o", "d.dot"]) == 0
    assert capsys.readouterr().out == "wrote d.dot\n"
    source = (in_tmp / "d.dot").read_text()
    a, b = _sides(source)
    assert sorted(k for k, v in a.nodes.items() if 'fillcolor="#ea9999"' in v) == sorted(   # only in A
        f"{br}.{x}" for br in ("branch2.reduce", "branch3.reduce", "branch4.proj") for x in ("conv", "relu"))
    changed = {"branch2.conv.conv", "branch3.conv.conv", "concat"}        # 3x3, 5x5 and the concat: wider
    assert {k for k, v in a.nodes.items() if 'fillcolor="#f6b26b"' in v} == changed
    assert {k for k, v in b.nodes.items() if 'fillcolor="#f6b26b"' in v} == changed
    assert not any('fillcolor="#ea9999"' in v or 'fillcolor="#b6d7a8"' in v for v in b.nodes.values())
    assert "--set reductions=false" in source and "params: 163,696 -&gt; 387,296 (+223,600)" in source


class _Side:
    """One side of a diff diagram's DOT: its nodes (id -> attributes) and edges (tail, head, attributes)."""

    def __init__(self, text: str):
        ident = r'(?:"(?:[^"\\]|\\.)*"|[\w.]+)'
        unquote = lambda s: s[1:-1].replace('\\"', '"') if s.startswith('"') else s      # noqa: E731
        self.nodes = {unquote(m[1]): m[2] for m in re.finditer(rf"^\t+({ident}) \[(.*)\]$", text, re.M)
                      if unquote(m[1]) not in ("graph", "node", "edge")}
        self.edges = [(unquote(m[1]), unquote(m[2]), m[3] or "")
                      for m in re.finditer(rf"^\t+({ident}) -> ({ident})(?: \[(.*)\])?$", text, re.M)]


def _sides(source: str) -> tuple[_Side, _Side]:
    parts = re.split(r"^\tsubgraph ", source, flags=re.M)        # the diagram's parts, one subgraph each
    a, b = (_Side(next(p for p in parts if p.startswith(f"side{k} "))) for k in (1, 2))
    return a, b


def _owner(g, drawn: dict[str, str]) -> dict[str, str]:
    """Each node of g -> the drawn box holding it: itself, its nearest drawn enclosing block, or the run
    (label "×N") that starts at an earlier sibling index."""
    runs = {}
    for box, attrs in drawn.items():
        m = re.search(r"×(\d+)<", attrs)
        if m and box.rsplit(".", 1)[-1].isdigit():
            stem, first = box.rsplit(".", 1)
            runs.update({f"{stem}.{int(first) + k}": box for k in range(int(m[1]))})
    out = {}
    for name in g.nodes:
        parts = name.split(".")
        prefixes = [".".join(parts[:k]) for k in range(len(parts), 0, -1)]
        out[name] = next((p for p in prefixes if p in drawn), None) or next(runs[p] for p in prefixes if p in runs)
    return out


PAIRS = [("resnet50.yaml", (), "seresnet50.yaml", ()), ("resnet18.yaml", (), "resnet34.yaml", ()),
         ("resnet_cifar.yaml", ("residual=false",), "resnet_cifar.yaml", ()),
         ("mobilenet_v2.yaml", (), "efficientnet_b0.yaml", ()), ("vgg16.yaml", (), "vgg16_bn.yaml", ()),
         ("googlenet.yaml", (), "inception_v3.yaml", ())]


@pytest.mark.parametrize("a,sa,b,sb", PAIRS, ids=lambda x: x if isinstance(x, str) else "-".join(x))
def test_diff_diagram_draws_only_real_edges(a, sa, b, sb):
    """Issue 21: every edge of each side's diagram is an edge of that side's graph (between the boxes
    holding its two ends), and every edge of the graph between two drawn boxes is drawn."""
    from archspec.reports import diffdraw
    d = diff(graph(SPECS / a, *sa), graph(SPECS / b, *sb))
    for g, side in zip((d.a, d.b), _sides(diffdraw.build(d).source)):
        boxes = {k: v for k, v in side.nodes.items() if k != "input" and not k.startswith("__")}
        owner = _owner(g, boxes)
        real = {(owner.get(x, x), owner[n.name]) for n in g.nodes.values() for x in n.inputs} | \
            {(owner[o.node], f"__output__{k}") for k, o in g.outputs.items()}
        real = {(x, y) for x, y in real if x != y}
        drawn = {(x, y) for x, y, attrs in side.edges if "invis" not in attrs}
        assert drawn == real


def test_se_branch_stands_out_in_the_diff_diagram():
    """SE-ResNet-50 vs ResNet-50 at the default depth: B's first changed bottleneck is drawn open and its
    SE block is green (only in B), between bn3 and the add; the blocks that gained one are orange on
    both sides; nothing is red. The whole fits about one screen of boxes per side."""
    from archspec.reports import diffdraw
    d = diff(graph(SPECS / "resnet50.yaml"), graph(SPECS / "seresnet50.yaml"))
    a, b = _sides(diffdraw.build(d).source)
    green = [k for k, v in b.nodes.items() if 'fillcolor="#b6d7a8"' in v]
    assert green == ["layer1.0.se"]
    assert ("layer1.0.bn3", "layer1.0.se") in {(x, y) for x, y, _ in b.edges}
    assert ("layer1.0.se", "layer1.0.add") in {(x, y) for x, y, _ in b.edges}
    assert "layer1.0.se" not in a.nodes
    orange = {k for k, v in a.nodes.items() if 'fillcolor="#f6b26b"' in v}
    assert {"layer2.0", "layer3.0", "layer4.0"} <= orange and orange == \
        {k for k, v in b.nodes.items() if 'fillcolor="#f6b26b"' in v}
    assert not any("#ea9999" in v for v in a.nodes.values())
    assert len(a.nodes) < 2 * BUDGET and len(b.nodes) < 2 * BUDGET


def test_diagram_file_and_errors(in_tmp, capsys):
    a, b = str(SPECS / "resnet18.yaml"), str(SPECS / "resnet34.yaml")
    if shutil.which("dot"):
        assert main(["diff", a, b, "--depth", "1", "--format", "svg"]) == 0
        assert (in_tmp / "diff_resnet18_resnet34.svg").read_text().lstrip().startswith("<?xml")
    assert main(["diff", a, b, "-o", "x.txt"]) == 1
    assert "-o writes a diagram" in capsys.readouterr().err and not (in_tmp / "x.txt").exists()


def test_readme_diff_is_the_real_output(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["diff", "specs/resnet50.yaml", "specs/seresnet50.yaml", "--depth", "1"]) == 0
    out = capsys.readouterr().out.strip()
    assert f"$ archspec diff specs/resnet50.yaml specs/seresnet50.yaml --depth 1\n{out}\n```" in \
        (ROOT / "README.md").read_text()


def test_diff_paper_tables_and_memory_never_import_torch():
    import subprocess
    import sys
    code = (
        "import sys\n"
        "from archspec.cli import main\n"
        f"assert main(['diff', {str(SPECS / 'resnet50.yaml')!r}, {str(SPECS / 'seresnet50.yaml')!r}]) == 0\n"
        f"assert main(['summary', {str(SPECS / 'vgg16.yaml')!r}, '--format', 'paper']) == 0\n"
        f"assert main(['summary', {str(SPECS / 'resnet50.yaml')!r}, '--batch', '8', '--json']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


LAYOUT = """archspec: 1
name: {name}
input: [4, 4, 4]
blocks:
  t:
    nodes:
{body}nodes:
  - x: t
"""


def test_a_layout_change_is_a_change(capsys, spec_file):
    """Block t ends channels last in A and channels first in B, the same sizes and counts: the row
    changed (a channels-last shape is not equal to the plain tuple of its sizes)."""
    last = "      - {op: permute, dims: [0, 2, 3, 1]}\n"
    a = spec_file(LAYOUT.format(name="a", body=last), "a.yaml")
    b = spec_file(LAYOUT.format(name="b", body=last + "      - {op: permute, dims: [0, 3, 1, 2]}\n"), "b.yaml")
    assert main(["diff", a, b, "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "~  x     t   (4, 4, 4) HWC -> (4, 4, 4)" in out
    assert "rows: 0 same, 1 changed, 0 added in B, 0 removed from A" in out
    assert main(["diff", a, b, "--depth", "1", "--format", "json"]) == 0
    assert [r["status"] for r in json.loads(capsys.readouterr().out)["rows"]] == ["changed"]
    assert main(["diff", a, a, "--depth", "1"]) == 0
    assert "rows: 1 same, 0 changed" in capsys.readouterr().out


def test_diff_diagram_draws_the_shortcut_on_the_identity_path():
    """The diff diagram draws each side as `archspec diagram` does, so MobileNetV2's shortcut (listed
    first: add [input, conv]) is the dashed edge, from the block's input, not from its own conv."""
    from archspec.reports import diffdraw
    d = diff(graph(SPECS / "mobilenet_v2.yaml"), graph(SPECS / "efficientnet_b0.yaml"))
    a, _ = _sides(diffdraw.build(d).source)
    into = [(x, y, attrs) for x, y, attrs in a.edges if y.endswith(".add")]
    dashed = [(x, y) for x, y, attrs in into if "dashed" in attrs]
    assert len(dashed) == 10 and len(into) == 20
    assert all(not x.startswith(y.rpartition(".")[0] + ".") for x, y in dashed)          # from outside the block
    assert all(x.startswith(y.rpartition(".")[0] + ".") for x, y, attrs in into if "dashed" not in attrs)
