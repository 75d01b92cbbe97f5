"""`archspec diagram`: the drawn structure against the IR, read back from the DOT and SVG text.

Expected box and cluster counts are computed here from the graph IR alone (node
names, scopes and repeat indices), not through archspec.render's own helpers.
"""
import json
import re
import shutil
import subprocess
import sys
from collections import Counter

import pytest
from paths import ALL_SPECS, SPECS

import archspec
from archspec import render
from archspec.cli import main
from archspec.report import CONVENTION

SPECIALS = {"input", render.LEGEND}
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
_ID = r'(?:"(?:[^"\\]|\\.)*"|[\w.]+)'
_NODE = re.compile(rf"^\t+({_ID}) \[(.*)\]$", re.M)
_EDGE = re.compile(rf"^\t+({_ID}) -> ({_ID})(?: \[(.*)\])?$", re.M)
_CLUSTER = re.compile(r'^\t*subgraph "?cluster_([^" ]+)"? \{', re.M)


def _unquote(s: str) -> str:
    return s[1:-1].replace('\\"', '"') if s.startswith('"') else s


class Dot:
    """The parts of a DOT text the tests look at."""

    def __init__(self, source: str):
        self.source = source
        self.nodes = {_unquote(m[1]): m[2] for m in _NODE.finditer(source)
                      if _unquote(m[1]) not in ("graph", "node", "edge")}
        self.edges = [(_unquote(m[1]), _unquote(m[2]), m[3] or "") for m in _EDGE.finditer(source)]
        self.clusters = [m[1] for m in _CLUSTER.finditer(source)]

    @property
    def boxes(self) -> dict:
        return {k: v for k, v in self.nodes.items() if k not in SPECIALS and not k.startswith(render.OUT_PREFIX)}


@pytest.fixture(scope="module")
def graphs():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = archspec.analyze(str(SPECS / f"{name}.yaml"))
        return cache[name]
    return get


def dot_of(graph, depth):
    return Dot(render.build(graph, depth)[0].source)


# -- what the IR says the diagram must hold --------------------------------------

def _cut(name: str, depth: int) -> str:
    parts = name.split(".")
    return ".".join(parts[:depth]) if depth and len(parts) > depth else name


def expected_units(g, depth: int) -> list[str]:
    """Boxes before repeat runs merge: every node, or its depth-component prefix."""
    return list(dict.fromkeys(_cut(n, depth) for n in g.nodes))


def expected_clusters(g, depth: int) -> set[str]:
    return {".".join(u.split(".")[:k]) for u in expected_units(g, depth) for k in range(1, u.count(".") + 1)}


def _contents(g, path: str) -> list:
    return [(n.name[len(path):], n.label) for n in g.nodes.values() if n.name.startswith(path + ".")]


def merged_units(g, depth: int) -> tuple[set, set]:
    """Units that continue a repeat run (same parent and block, previous repeat index, same nodes and
    labels), and the carried concats (DenseNet) that join two members of a run or close it."""
    units = expected_units(g, depth)
    scopes = {u: g.scopes[u] for u in units if u in g.scopes}
    continuing, in_runs, order = set(), set(), list(scopes)
    for u, s in scopes.items():
        if s.repeat is None or s.repeat == 0:
            continue
        # the step before: the nearest earlier sibling of the same block and the previous index
        # (nested repeats in one seq, MobileNetV2's rows, hold several steps of each index)
        prev = [p for p in order[:order.index(u)] if (scopes[p].kind, scopes[p].block) == (s.kind, s.block)
                and scopes[p].repeat == s.repeat - 1 and p.rpartition(".")[0] == u.rpartition(".")[0]]
        if prev and _contents(g, prev[-1]) == _contents(g, u):
            continuing.add(u)
            in_runs |= {u, prev[-1]}
    outputs = {scopes[u].output for u in in_runs}
    carried = {u for u in units if u in g.nodes and g.nodes[u].op.name == "concat"
               and len(g.nodes[u].inputs) == 2 and set(g.nodes[u].inputs) & outputs}
    return continuing, carried


def expected_boxes(g, depth: int) -> int:
    if not depth:
        return len(g.nodes)
    continuing, carried = merged_units(g, depth)
    return len(expected_units(g, depth)) - len(continuing) - len(carried)


# -- structure of every spec at depth 0, 1 and 2 -------------------------------------

@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.stem)
def test_structure_at_depths(path, graphs):
    g = graphs(path.stem)
    for depth in (0, 1, 2):
        d = dot_of(g, depth)
        assert len(d.boxes) == expected_boxes(g, depth), f"boxes at depth {depth}"
        assert Counter(d.clusters) == Counter(expected_clusters(g, depth)), f"clusters at depth {depth}"
        assert all(o in d.nodes for o in ("input", render.LEGEND))
        assert {render.OUT_PREFIX + k for k in g.outputs} <= set(d.nodes)
        ends = {a for a, _, _ in d.edges} | {b for _, b, _ in d.edges}
        assert ends <= set(d.nodes), "an edge points at an undrawn node"
        assert all(_shape_label(attrs) for _, _, attrs in d.edges), "an edge without a shape"


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.stem)
def test_full_depth_draws_every_node_and_edge(path, graphs):
    g = graphs(path.stem)
    d = dot_of(g, 0)
    assert set(d.boxes) == set(g.nodes)
    want = {(src, n.name, "×".join(map(str, shp)))
            for n in g.nodes.values() for src, shp in zip(n.inputs, n.in_shapes)}
    got = {(a, b, _shape_label(attrs)) for a, b, attrs in d.edges
           if not b.startswith(render.OUT_PREFIX)}
    assert got == want
    for name, n in g.nodes.items():
        label = d.boxes[name]
        assert _html(n.label) in label and "(" + ", ".join(map(str, n.shape)) + ")" in label


def _shape_label(attrs: str) -> str | None:
    """An edge's label when it is a compact shape (DOT leaves a plain number unquoted)."""
    m = re.search(r'label="?([0-9×]+)"?(?: |$)', attrs)
    return m and m[1]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") \
        .replace("'", "&#x27;")


# -- known labels, runs, merges, heads -----------------------------------------------

@pytest.mark.parametrize("name", ["resnet18", "resnet34"])
def test_known_node_labels(name, graphs):
    d = dot_of(graphs(name), 0)
    conv = d.boxes["layer2.0.conv1"]
    assert "conv 3x3/2, 128" in conv and "(128, 28, 28)" in conv
    assert "conv 1x1/2, 128" in d.boxes["layer2.0.downsample.0"]
    assert ("layer2.0.conv1", "layer2.0.bn1") in {(a, b) for a, b, _ in d.edges}
    edge = next(attrs for a, b, attrs in d.edges if (a, b) == ("layer2.0.conv1", "layer2.0.bn1"))
    assert 'label="128×28×28"' in edge
    assert "layer2.0" in d.clusters and "layer2.0.downsample" in d.clusters


def test_resnet50_depths_one_and_two(graphs):
    g = graphs("resnet50")
    one = dot_of(g, 1)
    assert list(one.boxes) == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                               "avgpool", "flatten", "fc"]
    assert one.clusters == []
    assert "stage" in one.boxes["layer3"]
    two = dot_of(g, 2)
    runs = {k: re.search(r"×(\d+)", v)[1] for k, v in two.boxes.items() if "×" in v}
    assert runs == {"layer1.1": "2", "layer2.1": "3", "layer3.1": "5", "layer4.1": "2"}
    assert "layer3.1 – layer3.5" in two.boxes["layer3.1"]
    assert sorted(two.clusters) == ["layer1", "layer2", "layer3", "layer4"]
    # the run's counts are the sum of its members' (the numbers summary --depth 2 prints)
    assert "5.59M params" in two.boxes["layer3.1"] and "1.09G MACs" in two.boxes["layer3.1"]


def test_resnet18_first_stage_is_one_run(graphs):
    two = dot_of(graphs("resnet18"), 2)
    assert "basic ×2" in two.boxes["layer1.0"] and "layer1.1" not in two.boxes
    assert "×" not in two.boxes["layer2.0"] and "×" not in two.boxes["layer2.1"]


def test_densenet_runs_absorb_the_carried_concats(graphs):
    g = graphs("densenet121")
    d = dot_of(g, 3)
    runs = sorted(int(m) for v in d.boxes.values() for m in re.findall(r"dense_layer ×(\d+)", v))
    assert runs == [6, 12, 16, 24]
    assert not any(k.rsplit(".", 1)[-1].startswith("concat") for k in d.boxes)


def test_merges_are_distinct(graphs):
    d = dot_of(graphs("resnet18"), 0)
    adds = [k for k in d.boxes if k.endswith(".add")]
    assert adds and all("shape=ellipse" in d.boxes[k] for k in adds)
    shortcut = [attrs for a, b, attrs in d.edges if b == "layer2.0.add" and a == "layer2.0.downsample.1"]
    assert shortcut and "dashed" in shortcut[0]
    g = dot_of(graphs("googlenet"), 0)
    concats = [k for k in g.boxes if k.endswith(".concat")]
    assert len(concats) == 9 and all("shape=invtrapezium" in g.boxes[k] for k in concats)


def test_input_outputs_and_training_only_heads(graphs):
    g = graphs("googlenet")
    d = dot_of(g, 1)
    assert "(3, 224, 224)" in d.nodes["input"]
    aux1 = d.nodes[render.OUT_PREFIX + "aux1"]
    assert "dashed" in aux1 and "training only" in aux1
    assert "dashed" not in d.nodes[render.OUT_PREFIX + "logits"]
    assert "dashed" in d.boxes["aux1"] and "dashed" in d.boxes["aux2"]
    assert "dashed" not in d.boxes["inception4a"]
    full = dot_of(g, 0)
    assert "aux1" in full.clusters and "dashed" in full.boxes["aux1.fc2"]


def test_lenet_connection_table_is_drawn_as_table_one(graphs):
    g = graphs("lenet5")
    label = dot_of(g, 0).boxes["C3"]
    grid = [r.replace(" ", "") for r in g.nodes["C3"].attrs.connections.strip().splitlines()]
    cells = re.findall(r"<TD BGCOLOR[^>]*><FONT[^>]*>(X| )</FONT></TD>", label)
    assert len(cells) == 6 * 16
    assert "".join("X" if c == "X" else "." for c in cells) == "".join(grid).upper()


# -- legend ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet50", "googlenet", "lenet5", "densenet121"])
def test_legend_totals_equal_summary_json(name, graphs, capsys):
    assert main(["summary", str(SPECS / f"{name}.yaml"), "--json"]) == 0
    want = json.loads(capsys.readouterr().out)
    legend = dot_of(graphs(name), None).nodes[render.LEGEND]

    def num(pattern):
        return int(re.search(pattern, legend)[1].replace(",", ""))
    assert num(r"params ([\d,]+) trainable") == want["params"]
    assert num(r"MACs ([\d,]+) \(") == want["macs"]
    assert num(r"FLOPs = 2 × MACs = ([\d,]+)") == want["flops"]
    if want["buffers"]:
        assert num(r"\+ ([\d,]+) in buffers") == want["buffers"]
    if want["train_only_outputs"]:
        assert num(r"eval mode[^:]*: params ([\d,]+)") == want["inference"]["params"]
        assert num(r"eval mode[^:]*: params [\d,]+, MACs ([\d,]+)") == want["inference"]["macs"]
    for part in CONVENTION.split("; "):
        assert _html(part).replace("&#x27;", "'") in legend


# -- defaults ----------------------------------------------------------------------

@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.stem)
def test_default_depth_fits_one_screen(path, graphs):
    g = graphs(path.stem)
    v = render.view(g, render.default_depth(g))
    assert len(v.boxes) <= render.BUDGET or v.depth == 1


def test_default_depths_of_known_specs(graphs):
    depths = {n: render.default_depth(graphs(n)) for n in ("lenet5", "resnet50", "googlenet", "densenet121")}
    assert depths == {"lenet5": 0, "resnet50": 2, "googlenet": 1, "densenet121": 3}


# -- the command -------------------------------------------------------------------

@needs_dot
@pytest.mark.parametrize("name,depth", [("lenet5", "0"), ("resnet50", "2"), ("googlenet", "1")])
def test_svg_structure(name, depth, graphs, in_tmp, capsys):
    assert main(["diagram", str(SPECS / f"{name}.yaml"), "--depth", depth]) == 0
    assert f"wrote {name}.svg" in capsys.readouterr().out
    svg = (in_tmp / f"{name}.svg").read_text()
    g = graphs(name)
    n_boxes = expected_boxes(g, int(depth))
    assert svg.count('class="node"') == n_boxes + 2 + len(g.outputs)       # + input, legend
    assert svg.count('class="cluster"') == len(expected_clusters(g, int(depth)))
    assert not list(in_tmp.glob(".*.tmp")), "the temporary file was left behind"


@needs_dot
def test_format_from_suffix_direction_and_set(in_tmp):
    assert main(["diagram", str(SPECS / "lenet5.yaml"), "-o", "out/lenet.png"]) == 0
    assert (in_tmp / "out/lenet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["diagram", str(SPECS / "resnet18.yaml"), "--format", "dot", "--direction", "LR",
                 "--depth", "0", "--set", "layers=[1,1,1,1]"]) == 0
    d = Dot((in_tmp / "resnet18.dot").read_text())
    assert "rankdir=LR" in d.source
    assert "layer1.0.conv1" in d.boxes and "layer1.1.conv1" not in d.boxes


def test_dot_missing_writes_the_dot_file_and_one_line(in_tmp, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(in_tmp / "empty"))
    assert main(["diagram", str(SPECS / "resnet18.yaml"), "-o", "r18.svg"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "apt-get install graphviz" in err and "Traceback" not in err
    assert (in_tmp / "r18.dot").read_text().startswith("digraph resnet18 {")
    assert not (in_tmp / "r18.svg").exists()


@needs_dot
def test_diagram_never_imports_torch(tmp_path):
    code = ("import sys\n"
            "from archspec.cli import main\n"
            f"rc = main(['diagram', {str(SPECS / 'googlenet.yaml')!r}, '-o', {str(tmp_path / 'g.svg')!r}])\n"
            "assert rc == 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert (tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")
