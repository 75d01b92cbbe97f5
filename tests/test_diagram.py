"""`archspec diagram`: the drawn structure against the IR, read back from the DOT and SVG text.

Expected box and cluster counts are computed here from the graph IR alone (node
names, scopes and repeat indices), not through archspec.reports.render's own helpers.
"""
import functools
import json
import re
import shutil
import subprocess
import sys
from collections import Counter

import pytest
from paths import ALL_SPECS, SPECS, one_per_family, shipped_graph

from archspec.cli import main
from archspec.reports import render
from archspec.reports.report import CONVENTION

SPECIALS = {"input", render.LEGEND}
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
_ID = r'(?:"(?:[^"\\]|\\.)*"|[\w.]+)'
_NODE = re.compile(rf"^\t+({_ID}) \[(.*)\]$", re.M)
_EDGE = re.compile(rf"^\t+({_ID}) -> ({_ID})(?: \[(.*)\])?$", re.M)
_CLUSTER = re.compile(r'^\t*subgraph "?cluster_([^" ]+)"? \{', re.M)
_HEADER = re.compile(r'^\t*subgraph "?cluster_([^" ]+)"? \{\n\t*(.*label=<.*)$', re.M)


def _unquote(s: str) -> str:
    return s[1:-1].replace('\\"', '"') if s.startswith('"') else s


class Dot:
    """The parts of a DOT text the tests look at."""

    def __init__(self, source: str):
        self.source = source
        self.nodes = {_unquote(m[1]): m[2] for m in _NODE.finditer(source)
                      if _unquote(m[1]) not in ("graph", "node", "edge")}
        self.edges = [(_unquote(m[1]), _unquote(m[2]), m[3] or "") for m in _EDGE.finditer(source)]
        self.clusters = [m[1] for m in _CLUSTER.finditer(source) if not m[1].startswith(render.GLOSSARY)]
        self.headers = {m[1]: m[2] for m in _HEADER.finditer(source)}     # a cluster's header: its own label

    @functools.cached_property      # read in loops over every node: made once per diagram
    def boxes(self) -> dict:
        """The main graph's boxes: not the legend, input, outputs, cluster headers or glossary."""
        return {k: v for k, v in self.nodes.items() if k not in SPECIALS
                and not k.startswith((render.OUT_PREFIX, render.GLOSSARY))}


@pytest.fixture(scope="module")
def graphs():
    """A shipped spec's graph by name: paths.shipped_graph, made once per test process (read only)."""
    return lambda name: shipped_graph(SPECS / f"{name}.yaml")


def dot_of(graph, depth):
    return Dot(render.build(graph, depth)[0].source)


@functools.cache
def shipped_dot(name: str, depth: int) -> Dot:
    """A shipped spec's diagram at `depth`, drawn once per test process: two sweeps read depth 0's."""
    return dot_of(shipped_graph(SPECS / f"{name}.yaml"), depth)


# -- what the IR says the diagram must hold --------------------------------------

def _cut(name: str, depth: int) -> str:
    parts = name.split(".")
    return ".".join(parts[:depth]) if depth and len(parts) > depth else name


def _unit(g, name: str, depth: int) -> str:
    """_cut, but never at a list of members (HRNet's transition1 of transition1.0): each member is a unit."""
    cut, k = _cut(name, depth), depth
    while cut != name and getattr(g.scopes.get(cut), "kind", None) == "list":
        k += 1
        cut = ".".join(name.split(".")[:k])
    return cut


def _short_chain(g, path: str, depth: int) -> bool:
    """A block the cut would draw op by op whose ops are a straight line of at most 4, none a merge:
    drawn as one box (DenseNet's transition, a conv_bn branch)."""
    inside = [n for n in g.nodes.values() if n.name.startswith(path + ".")]
    return (0 < len(inside) <= 4 and all(n.name.rpartition(".")[0] == path and _cut(n.name, depth) == n.name
                                         and n.op.name not in ("add", "concat", "mul") for n in inside)
            and not any(x.startswith(path + ".") for x in inside[0].inputs)
            and all(n.inputs == [p.name] for p, n in zip(inside, inside[1:])))


def expected_units(g, depth: int) -> list[str]:
    """Boxes before repeat runs merge: every node, or its depth-component prefix, or the block of a
    short chain the cut would draw op by op."""
    units = [_unit(g, n, depth) for n in g.nodes]
    if depth:
        chains = {p for p in {u.rpartition(".")[0] for u in units} if p in g.scopes and _short_chain(g, p, depth)}
        units = [u.rpartition(".")[0] if u.rpartition(".")[0] in chains else u for u in units]
    return list(dict.fromkeys(units))


def expected_clusters(g, depth: int) -> set[str]:
    return {".".join(u.split(".")[:k]) for u in expected_units(g, depth) for k in range(1, u.count(".") + 1)}


def _contents(g, path: str) -> list:
    """What makes two blocks identical: their nodes' op labels, where a drop rate (stochastic depth,
    dropout) may differ: ConvNeXt's schedule."""
    return [(n.name[len(path):], n.op.name if n.op.name in ("stochastic_depth", "dropout") else n.label)
            for n in g.nodes.values() if n.name.startswith(path + ".")]


def merged_units(g, depth: int) -> tuple[set, set]:
    """Units that continue a repeat run (same parent and block, previous repeat index, same nodes and
    labels but for a drop rate), and the carried concats (DenseNet) that join two members of a run or close it."""
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

@pytest.mark.parametrize("path", one_per_family(ALL_SPECS), ids=lambda p: p.stem)
def test_structure_at_depths(path, graphs):
    g = graphs(path.stem)
    for depth in (0, 1, 2):
        d = shipped_dot(path.stem, depth)
        assert len(d.boxes) == expected_boxes(g, depth), f"boxes at depth {depth}"
        assert Counter(d.clusters) == Counter(expected_clusters(g, depth)), f"clusters at depth {depth}"
        assert all(o in d.nodes for o in ("input", render.LEGEND))
        assert {render.OUT_PREFIX + k for k in g.outputs if k != g.outputs[k].node} <= set(d.nodes)
        ends = {a for a, _, _ in d.edges} | {b for _, b, _ in d.edges}
        assert ends <= set(d.nodes), "an edge points at an undrawn node"
        assert all(_shape_label(attrs) for _, _, attrs in d.edges if "invis" not in attrs), "an edge without a shape"


@pytest.mark.parametrize("path", one_per_family(ALL_SPECS), ids=lambda p: p.stem)
def test_full_depth_draws_every_node_and_edge(path, graphs):
    g = graphs(path.stem)
    d = shipped_dot(path.stem, 0)
    assert set(d.boxes) == set(g.nodes)
    want = {(src, n.name, "×".join(map(str, shp)))
            for n in g.nodes.values() for src, shp in zip(n.inputs, n.in_shapes)}
    got = {(a, b, _shape_label(attrs)) for a, b, attrs in d.edges
           if not b.startswith(render.OUT_PREFIX) and "invis" not in attrs}
    assert got == want
    for name, n in g.nodes.items():
        label = d.boxes[name]
        # the shape is on the node's edges only (one place, one format: 96×55×55), never in its box
        assert _html(_shown(n)) in label and "(" + ", ".join(map(str, n.shape)) + ")" not in label


def _shown(n) -> str:
    """A node's op as drawn: a conv with a group per input channel (and as many out) is `depthwise`."""
    groups = getattr(n.attrs, "groups", 1)
    if n.op.name == "conv" and groups > 1 and groups == n.in_shapes[0][0]:
        return "depthwise " + n.label.replace(f", g{groups}", "")
    return n.label


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
    assert "conv 3x3/2, 128" in conv and "(128, 28, 28)" not in conv and "128×28×28" not in conv   # on its edges
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
    assert [attrs for a, b, attrs in d.edges if a == "input"] == ['label="3×224×224"']
    aux1 = d.nodes[render.OUT_PREFIX + "aux1"]
    assert "dotted" in aux1 and "training only" in aux1       # dotted: training only; dashed: a shortcut
    assert "dotted" not in d.nodes[render.OUT_PREFIX + "logits"]
    assert "dotted" in d.boxes["aux1"] and "dotted" in d.boxes["aux2"]
    assert "dotted" not in d.boxes["inception4a"]
    assert not any("dashed" in attrs for attrs in d.nodes.values())
    full = dot_of(g, 0)
    assert "aux1" in full.clusters and "dotted" in full.boxes["aux1.fc2"]


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
    d = Dot(render.build(g, int(depth))[0].source)
    assert len(d.boxes) == n_boxes
    assert svg.count('class="node"') == len(d.nodes)     # + input, legend, outputs, headers, glossary
    assert svg.count('class="cluster"') == len(re.findall(r"subgraph \S*cluster_", d.source))
    assert len(d.clusters) == len(expected_clusters(g, int(depth)))
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
    text = (in_tmp / "r18.dot").read_text()        # one graph: the legend, the graph and each panel in it
    assert text.startswith("digraph resnet18 {") and text.count("digraph") == 1
    assert [line.strip() for line in text.splitlines() if line.startswith("\tsubgraph")] == [
        f"subgraph {render.LEGEND} {{", "subgraph resnet18 {",
        f"subgraph {render.GLOSSARY}0 {{", f"subgraph {render.GLOSSARY}1 {{"]
    assert "dot -Tsvg r18.dot -o r18.svg" in err
    assert not (in_tmp / "r18.svg").exists()


@needs_dot
def test_diagram_never_imports_torch(tmp_path):
    code = ("import sys\n"
            "from archspec.cli import main\n"
            f"rc = main(['diagram', {str(SPECS / 'googlenet.yaml')!r}, '-o', {str(tmp_path / 'g.svg')!r}])\n"
            f"rc += main(['diagram', {str(SPECS / 'googlenet.yaml')!r}, '-o', {str(tmp_path / 'g.html')!r}])\n"
            "assert rc == 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert (tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "g.html").read_text().startswith("<!DOCTYPE html>")


def test_html_needs_no_graphviz_package(tmp_path):
    """The viewer lays out in JavaScript: --format html works without the `diagram` extra, the
    Graphviz formats say in one line what to install."""
    spec = str(SPECS / "resnet18.yaml")
    code = ("import sys\n"
            "sys.modules['graphviz'] = None\n"           # as if not installed: importing it raises
            "import importlib.util\n"
            "importlib.util.find_spec = lambda name, *a, _f=importlib.util.find_spec: "
            "None if name == 'graphviz' else _f(name, *a)\n"
            "from archspec.cli import main\n"
            f"assert main(['diagram', {spec!r}, '-o', {str(tmp_path / 'r.html')!r}]) == 0\n"
            f"assert main(['diagram', {spec!r}, '-o', {str(tmp_path / 'r.svg')!r}]) == 1\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>") and not (tmp_path / "r.svg").exists()
    assert run.stderr.strip().splitlines() == [
        "archspec diagram needs the graphviz package: pip install 'archspec[diagram]' (--format html does not)"]


# -- glossary, --expand, ranks, legend (issue 12) --------------------------------------

def _glossary(d: Dot) -> dict[str, list[str]]:
    """Glossary entry prefix -> the box ids drawn in it (without its in/out ends)."""
    out: dict[str, list[str]] = {}
    for k in d.nodes:
        if k.startswith(render.GLOSSARY):
            entry, _, name = k.partition("/")
            if name not in ("in", "out"):
                out.setdefault(entry, []).append(name)
    return out


def _rank_groups(d: Dot) -> list[list[str]]:
    groups = re.findall(r"\{\n\t*rank=same\n((?:\t*.* -> .*\n)+)", d.source)
    return [list(dict.fromkeys(_unquote(x) for pair in re.findall(rf"({_ID}) -> ({_ID})", g) for x in pair))
            for g in groups]


def test_glossary_draws_each_block_structure_once(graphs):
    d = dot_of(graphs("resnet34"), None)
    entries = _glossary(d)
    # basic without and with the projection shortcut; each drawn with its add and its dashed skip
    assert sorted(map(sorted, entries.values())) == [
        ["add", "bn1", "bn2", "conv1", "conv2", "downsample", "relu", "relu_1"],
        ["add", "bn1", "bn2", "conv1", "conv2", "relu", "relu_1"]]
    skips = [attrs for a, b, attrs in d.edges if a.startswith(render.GLOSSARY) and b.endswith("/add")
             and "dashed" in attrs]
    assert len(skips) == 2
    assert "⊕ residual" in d.boxes["layer1.0"] and "⊕ residual" in d.boxes["layer3.1"]


@pytest.mark.parametrize("name,count", [("googlenet", 2), ("inception_v3", 6), ("efficientnet_b0", 5)])
def test_glossary_entries_are_distinct_and_open(name, count, graphs):
    """One entry per wiring (widths and kernels aside: 3x3 and 5x5 MBConv share one); an entry that
    would be a single box opens further (an MBConv opens through its `block` wrapper)."""
    entries = _glossary(dot_of(graphs(name), None))
    assert len(entries) == count and all(len(boxes) > 1 for boxes in entries.values())


def test_glossary_dense_layer_has_its_concat(graphs):
    d = dot_of(graphs("densenet121"), None)
    entries = _glossary(d)
    assert list(entries.values()) == [["norm1", "relu1", "conv1", "norm2", "relu2", "conv2", "carry"]]
    entry = next(iter(entries))
    joined = {a for a, b, _ in d.edges if b == f"{entry}/carry"}
    assert joined == {f"{entry}/in", f"{entry}/conv2"}       # concat(x, layer(x))


def test_inception_branches_share_ranks(graphs):
    d = dot_of(graphs("googlenet"), None)
    entry = next(iter(_glossary(d)))
    heads = [f"{entry}/branch{i}" for i in (1, 2, 3, 4)]
    assert heads in _rank_groups(d)                           # side by side, in the spec's order
    v3 = dot_of(graphs("inception_v3"), 2)
    groups = _rank_groups(v3)
    assert ["Mixed_6b.branch1x1", "Mixed_6b.branch7x7_1", "Mixed_6b.branch7x7dbl_1", "Mixed_6b.pool"] in groups
    assert ["Mixed_6b.branch7x7_2", "Mixed_6b.branch7x7dbl_2", "Mixed_6b.branch_pool"] in groups
    assert "<B>Mixed_6b</B>" in v3.headers["Mixed_6b"]       # the header is the frame's label: no box of its own


def test_factorised_kernels_and_strides_read_as_in_the_paper(graphs):
    d = dot_of(graphs("inception_v3"), 2)
    assert "conv 1x7, 128 → batchnorm → relu" in d.boxes["Mixed_6b.branch7x7_2"]
    assert "conv 7x1, 192 → batchnorm → relu" in d.boxes["Mixed_6b.branch7x7_3"]
    assert "[1, 7]" not in d.source and "pad=" not in d.source
    g = dot_of(graphs("googlenet"), 1)
    assert "7x7/2" in g.boxes["conv1"]


def test_expand_opens_chosen_blocks_only(graphs):
    g = graphs("resnet34")
    d = Dot(render.build(g, 2, expand=("layer3.1",))[0].source)
    assert "layer3.1.conv1" in d.boxes and "layer3.1.add" in d.boxes
    assert "layer3.2 – layer3.5" in d.boxes["layer3.2"]         # the run continues after the opened block
    assert "layer3.0" in d.boxes and "layer2.1" in d.boxes       # the rest stays collapsed
    assert "layer3.1" in d.clusters
    deep = Dot(render.build(g, 1, expand=("layer2*",))[0].source)   # a glob opens every level below
    assert "layer2.0.downsample.0" in deep.boxes and "layer3" in deep.boxes
    with pytest.raises(render.DiagramError, match="--expand 'layer9' matches no block.*layer4"):
        render.build(g, 2, expand=("layer9",))


def test_glossary_leaves_out_what_expand_opened(graphs):
    """A structure drawn open in the main graph is not drawn again in the glossary."""
    g = graphs("resnet34")
    both = _glossary(Dot(render.build(g, None)[0].source))
    one = _glossary(Dot(render.build(g, None, expand=("layer3.1",))[0].source))    # basic, no projection
    assert len(both) == 2 and list(one.values()) == [
        ["conv1", "bn1", "relu", "conv2", "bn2", "downsample", "add", "relu_1"]]
    none = Dot(render.build(g, None, expand=("layer3.1", "layer2.0"))[0].source)   # and with it
    assert _glossary(none) == {} and "each block" not in none.nodes[render.LEGEND]


def _entry_source(d: Dot, entry: str) -> str:
    """The DOT text of one glossary entry's cluster."""
    return re.search(rf'subgraph "cluster_{entry}/" {{\n(.*?)\n\t\t}}', d.source, re.S)[1]


@pytest.mark.parametrize("name,head", [("googlenet", "aux1"), ("inception_v3", "AuxLogits")])
def test_glossary_draws_training_only_heads_dotted(name, head, graphs):
    d = dot_of(graphs(name), None)
    entries = {e: _entry_source(d, e) for e in _glossary(d)}
    aux = [e for e, text in entries.items() if f"as {head}" in text]
    assert len(aux) == 1
    for e, text in entries.items():
        boxes = [attrs for k, attrs in d.nodes.items() if k.startswith(e + "/") and k[len(e) + 1:] not in ("in", "out")]
        dotted = [("dotted" in attrs) for attrs in boxes]
        assert dotted == [e in aux] * len(boxes)          # every box of the aux head, none of the others
        assert ('style="rounded,filled,dotted"' in text.split("\n")[0]) == (e in aux)   # and its frame


def test_expand_from_the_cli(graphs, in_tmp, capsys):
    assert main(["diagram", str(SPECS / "resnet34.yaml"), "--format", "dot", "--expand", "layer4.0"]) == 0
    assert "expanded layer4.0" in capsys.readouterr().out
    d = Dot((in_tmp / "resnet34.dot").read_text())
    assert "layer4.0" in d.clusters and "layer4.0.downsample" in d.boxes     # one level opened
    assert main(["diagram", str(SPECS / "resnet34.yaml"), "--expand", "nope", "-o", "x.svg"]) == 1
    assert "matches no block" in capsys.readouterr().err and not (in_tmp / "x.svg").exists()


@pytest.mark.parametrize("name,present,absent", [
    ("lenet5", [], ["residual add", "concat", "collapsed block", "training only", "×N", "each block"]),
    ("resnet34", ["residual add", "collapsed block", "×N", "each block"], ["green funnel", "training only"]),
    ("googlenet", ["green funnel", "collapsed block", "training only", "each block"], ["residual add", "×N"]),
])
def test_legend_lists_only_what_is_drawn(name, present, absent, graphs):
    d = dot_of(graphs(name), None)
    legend = d.nodes[render.LEGEND]
    assert all(p in legend for p in present) and not any(a in legend for a in absent)


def test_no_second_output_box_and_no_internal_words(graphs):
    lenet = dot_of(graphs("lenet5"), 0)
    assert render.OUT_PREFIX + "output" not in lenet.nodes and "peripheries=2" in lenet.boxes["output"]
    dense = dot_of(graphs("densenet121"), None)
    head = dense.headers["features"]
    assert "nodes" not in head and "seq" not in head
    # a cluster holding one box does not repeat its counts in the header
    r34 = dot_of(graphs("resnet34"), None)
    assert "MACs" not in r34.headers["layer1"]
    assert "MACs" in r34.headers["layer2"]


@needs_dot
def test_large_bitmap_is_split_into_pages_never_scaled(graphs, in_tmp, monkeypatch, capsys):
    monkeypatch.setattr(render, "MAX_PX", 4000)
    assert main(["diagram", str(SPECS / "resnet18.yaml"), "--depth", "0", "-o", "r18.png"]) == 0
    out = capsys.readouterr().out
    pages = sorted(in_tmp.glob("r18-*.png"))
    assert len(pages) >= 2 and not (in_tmp / "r18.png").exists()
    m = re.search(r"split into (\d+) pages .*: (page 2 starts at [\w.]+.*)", out)
    assert m and int(m[1]) == len(pages)
    for p in pages:      # the PNG header's height: within the limit, so Graphviz never scaled it down
        data = p.read_bytes()
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert height <= 4000 * 1.02 and width < 4000
    # every box on exactly one page; an edge to another page ends at a note naming the box and its page
    g = graphs("resnet18")
    v = render.view(g, 0)
    level = render.levels([b.id for b in v.boxes], render.box_preds(g, list(g.nodes.values()), v.owner))
    cuts = render._cuts(v, level, len(pages))
    where = {b: 1 + sum(level[b] >= c for c in cuts) for b in level}
    seen = []
    for k in range(1, len(pages) + 1):
        ids = {b for b, p in where.items() if p == k}
        d = Dot(render.build(g, 0, page=render.Page(ids, k, len(pages), where))[0].source)
        seen += list(d.boxes)
        for a, b, _ in d.edges:
            if a.startswith(render.STUB):
                assert where[a[len(render.STUB):]] < k and "from page" in d.nodes[a]
            if b.startswith(render.STUB):
                assert where[b[len(render.STUB):]] > k and "to page" in d.nodes[b]
    assert sorted(b for b in seen if not b.startswith(render.STUB)) == sorted(g.nodes)


# -- the shortcut, found by structure (issue 21) ------------------------------------

def _exclusive(ancestors, x, y) -> int:
    """The nodes on x's side only: ancestors of x (and x) that are not ancestors of y (nor y)."""
    return len(ancestors(x) - ancestors(y))


@pytest.mark.parametrize("path", one_per_family(ALL_SPECS), ids=lambda p: p.stem)
def test_every_shortcut_bypasses_the_other_branch(path, graphs):
    """Every add of two inputs in a shipped spec is a residual: exactly one input is its shortcut, the one
    with strictly fewer nodes of its own than the other operand (0 for an identity); a concat's carried
    input has none. An add of more (HRNet's fusion of four resolutions) may have none."""
    import networkx as nx

    from archspec.reports.skips import shortcuts
    g = graphs(path.stem)
    ancestors = functools.cache(lambda v: nx.ancestors(g.nx, v) | {v})       # a node's, found once per spec
    found = shortcuts(g)
    for n in g.nodes.values():
        if n.op.name not in ("add", "concat") or len(n.inputs) < 2:
            assert n.name not in found
            continue
        if n.op.name == "add" and len(n.inputs) == 2:
            assert n.name in found, n.name
        if n.name not in found:
            continue
        s = n.inputs[found[n.name]]
        others = [x for x in n.inputs if x != s]
        assert all(_exclusive(ancestors, s, o) < _exclusive(ancestors, o, s) for o in others), (n.name, s)
        if n.op.name == "concat":
            assert all(_exclusive(ancestors, s, o) == 0 for o in others), (n.name, s)


@pytest.mark.parametrize("name,index,carried", [
    ("mobilenet_v2", 0, False),      # add [input, conv]: the shortcut is listed first
    ("resnet34", 1, False),          # add [bn2, downsample] / [bn2, input]: listed second
    ("convnext_tiny", 1, False),     # add [stochastic_depth, input]
    ("densenet121", 0, True),        # concat(x, layer(x)): x carried
])
def test_shortcut_whatever_the_input_order(name, index, carried, graphs):
    from archspec.reports.skips import shortcuts
    g = graphs(name)
    merges = [n for n in g.nodes.values() if n.op.name == ("concat" if carried else "add") and len(n.inputs) == 2]
    assert merges and {shortcuts(g)[n.name] for n in merges} == {index}


def test_inception_concats_carry_nothing(graphs):
    from archspec.reports.skips import shortcuts
    for name in ("googlenet", "inception_v3"):
        g = graphs(name)
        assert not any(g.nodes[m].op.name == "concat" for m in shortcuts(g))


def test_mobilenet_v2_shortcut_drawn_on_the_identity_path(graphs):
    """Issue 21: the dashed edge of each of MobileNetV2's 10 residual adds comes from the block's input
    (the previous block's output), never from the block's own last conv."""
    g = graphs("mobilenet_v2")
    d = dot_of(g, 0)
    adds = [n for n in g.nodes.values() if n.op.name == "add"]
    dashed = {b: a for a, b, attrs in d.edges if b.endswith(".add") and "dashed" in attrs}
    assert len(adds) == 10 and set(dashed) == {n.name for n in adds}
    for n in adds:
        scope = n.name.rsplit(".", 1)[0]
        assert dashed[n.name] == n.inputs[0] and not dashed[n.name].startswith(scope + ".")
        solid = [a for a, b, attrs in d.edges if b == n.name and "dashed" not in attrs]
        assert solid == [n.inputs[1]] and solid[0].startswith(scope + ".")


def test_viewer_data_marks_the_shortcut(graphs):
    from archspec.reports.viewer import model
    m = model(graphs("mobilenet_v2"), 0)
    adds = [n for n in m["nodes"] if n["op"] == "add"]
    assert len(adds) == 10 and all(n["skip"] == [True, False] for n in adds)
    assert all(n["skip"] == [False] * len(n["inputs"]) for n in m["nodes"] if n["op"] != "add")


# -- static layout (issue 21) ------------------------------------------------------

def _main_layout(g, depth=None, expand=()) -> dict[str, tuple[float, float]]:
    """Box id -> centre (x, y) in points, from Graphviz's own layout of the main graph (dot -Tjson)."""
    diagram, _ = render.build(g, depth, expand=expand)
    main = next(p for p in diagram.parts if p.name == g.name)
    laid = json.loads(main.pipe(format="json"))
    return {o["name"]: tuple(map(float, o["pos"].split(","))) for o in laid["objects"] if "pos" in o}


@needs_dot
@pytest.mark.parametrize("name,expand,aside", [
    ("googlenet", (), ("aux1", "aux2")),                       # the aux heads branch off; the line runs on
    ("resnet34", ("layer1*",), ()),                            # three open basic blocks and their skips
    ("mobilenet_v2", (), ()),
    ("inception_v3", (), ("AuxLogits",)),
])
def test_the_main_line_is_straight(name, expand, aside, graphs):
    """Issue 21: the glossary is laid out apart and the main line is one column: every box from the
    input to the main output (side branches and shortcuts aside) has the same x, to 1 pt."""
    g = graphs(name)
    at = _main_layout(g, None, expand)
    line = [k for k in Dot(render.build(g, None, expand=expand)[0].source).boxes
            if k in at and not k.startswith(aside) and "downsample" not in k]
    xs = sorted(at[k][0] for k in line)
    assert len(line) > 15 and xs[-1] - xs[0] <= 1.0, [(k, at[k][0]) for k in line]


@needs_dot
def test_glossary_is_a_graph_of_its_own(graphs):
    """The glossary's clusters and headers no longer share the main graph's ranks: it is another graph,
    packed beside the main one, and the legend a third."""
    diagram, _ = render.build(graphs("googlenet"), None)
    assert [p.name for p in diagram.parts] == [render.LEGEND, "googlenet"]
    assert [p.name for p in diagram.panels] == [f"{render.GLOSSARY}0", f"{render.GLOSSARY}1"]
    assert render.GLOSSARY not in diagram.parts[1].source and render.LEGEND not in diagram.parts[1].source


@needs_dot
def test_panels_are_in_the_order_the_network_runs(graphs, in_tmp):
    """Inception-v3's panels read A (Mixed_5b), B (6a), C (6b), the aux head, D (7a), E (7b): left to
    right, then top to bottom, in the SVG Graphviz draws."""
    render.render(graphs("inception_v3"), "v3.svg")
    svg = (in_tmp / "v3.svg").read_text()
    heads = {}
    for m in re.finditer(r'<g id="clust\d+" class="cluster">\n<title>cluster_(__glossary__\d+)/</title>\n'
                         r'<path [^>]*/>\n<text [^>]*x="([\d.-]+)" y="([\d.-]+)"', svg):     # its header: top left
        heads[m[1]] = (float(m[2]), float(m[3]))
    names = {e: re.search(r"as ([\w.]+)", _entry_source(Dot(render.build(graphs("inception_v3"))[0].source), e))[1]
             for e in heads}
    rows = sorted({round(y) for _, y in heads.values()})
    order = sorted(heads, key=lambda e: (rows.index(round(heads[e][1])), heads[e][0]))
    assert [names[e] for e in order] == ["Mixed_5b", "Mixed_6a", "Mixed_6b", "AuxLogits", "Mixed_7a", "Mixed_7b"]


def test_convnext_stages_fold_with_the_drop_path_as_a_range(graphs):
    """Issue 21: ConvNeXt's blocks differ only by their drop-path rate (0.1 * b / 17): each stage is one
    "×N" box (3, 3, 9, 3 blocks), the rate shown as the range its blocks span."""
    g = graphs("convnext_tiny")
    d = dot_of(g, None)
    runs = [int(m) for v in d.boxes.values() for m in re.findall(r"cnblock ×(\d+)", v)]
    assert runs == [3, 3, 9, 3]
    rates = [float(n.attrs.p) for n in g.nodes.values() if n.op.name == "stochastic_depth"]
    first = d.boxes["features.1.0"]
    assert f"p={min(rates[:3]):.3g}–{max(rates[:3]):.3g}" in first        # p=0–0.0118


def test_resnet_v15_panel_is_a_strided_block(graphs):
    """ResNet-50 (v1.5) strides in the 3x3 of a block's first conv pair; layer1.0 has the same wiring
    but stride 1, so the panel is drawn from layer2.0, where the stride shows (conv 3x3/2)."""
    d = dot_of(graphs("resnet50"), None)
    entries = _glossary(d)
    projection = next(e for e, boxes in entries.items() if "downsample" in boxes)
    text = _entry_source(d, projection)
    assert "as layer2.0" in text and "same structure: layer1.0, layer3.0, layer4.0" in text
    assert "conv 3x3/2, 128" in d.nodes[f"{projection}/conv2"] and "conv 1x1/2" in d.nodes[f"{projection}/downsample"]


def test_xception_says_depthwise(graphs):
    d = dot_of(graphs("xception"), None)
    assert "depthwise conv 3x3, 728 → conv 1x1, 728" in d.source
    assert not re.search(r"g728\b", d.source)


def test_xception_shows_its_three_flows(graphs):
    """The rows of its paper table (Fig. 5: entry, middle and exit flow, each spanning several nodes) are
    the diagram's sections, in order, each around its own boxes (the middle flow: one box of 8 modules);
    a table of single layers (GoogLeNet's Table 1) cuts the diagram into nothing."""
    source = dot_of(graphs("xception"), None).source
    parts = re.split(r'subgraph "cluster_section ([^"]+)" \{', source)
    assert parts[1::2] == ["entry flow", "middle flow", "exit flow"]
    boxes = [re.findall(r"^\t+(\w+) \[label=", part.split("\n\t\t}", 1)[0], re.M) for part in parts[2::2]]
    assert boxes == [["conv1", "bn1", "act1", "conv2", "bn2", "act2", "block1", "block2", "block3"], ["block4"],
                     ["block12", "conv3", "bn3", "act3", "conv4", "bn4", "act4", "global_pool", "flatten", "fc"]]
    assert "block4 – block11" in parts[4] and "module ×8" in parts[4]
    assert "cluster_section" not in dot_of(graphs("googlenet"), None).source


def test_densenet_panel_shows_the_dense_connection(graphs):
    """The dense layer's panel: its input is concatenated with its output (the carried input dashed, as
    a shortcut), so every later layer sees all the earlier ones."""
    d = dot_of(graphs("densenet121"), None)
    entry = next(iter(_glossary(d)))
    into = {a: attrs for a, b, attrs in d.edges if b == f"{entry}/carry"}
    assert set(into) == {f"{entry}/in", f"{entry}/conv2"}
    assert "dashed" in into[f"{entry}/in"] and "dashed" not in into[f"{entry}/conv2"]
    assert "shape=invtrapezium" in d.nodes[f"{entry}/carry"]


def test_densenet_transitions_are_one_box_each(graphs):
    """Issue 21: a dense block is one box, and so is each transition (norm → relu → conv → pool), its ops
    named in it; the stem's ops, children of `features` beside the dense blocks, stay four boxes."""
    d = dot_of(graphs("densenet121"), None)
    transitions = [k for k in d.boxes if ".transition" in k]
    assert transitions == ["features.transition1", "features.transition2", "features.transition3"]
    assert "batchnorm → relu → conv 1x1, 128 → avgpool 2x2/2" in d.boxes["features.transition1"]
    assert {"features.conv0", "features.norm0", "features.relu0", "features.pool0"} <= set(d.boxes)


@pytest.mark.parametrize("count,text", [(1_516, "1,516"), (99_999, "99,999"), (100_000, "100K"),
                                        (11_000_000, "11.0M"), (10_800_000, "10.8M"), (128_000_000, "128M"),
                                        (999_960_000, "1.00G"), (4_089_184_256, "4.09G")])
def test_one_rounding_rule(count, text):
    """Exact below 100,000; else three significant digits, trailing zeros kept (never 11M beside 10.8M)."""
    assert render.si(count) == text


@pytest.mark.parametrize("name", ["resnet34", "googlenet", "xception"])
def test_box_lines_are_table_rows(name, graphs):
    """Lines of two font sizes are table rows, each sized by its font: a <BR/> between a 11 pt line and a
    9 pt one let an underscore strike the line below (conv_relu through "64")."""
    d = dot_of(graphs(name), None)
    for k, attrs in d.nodes.items():
        if k.startswith(render.GLOSSARY) and k.endswith(("/in", "/out")):
            continue
        assert "</FONT><BR/>" not in attrs and "<BR/><FONT" not in attrs, k
        assert not re.search(r"</B><BR/>|<BR/><B>", attrs), k


def test_legend_is_compact(graphs):
    """The symbols share lines (at most 84 characters each): the legend is no longer than its facts."""
    legend = dot_of(graphs("googlenet"), None).nodes[render.LEGEND]
    rows = re.findall(r"<TR>", legend)
    assert len(rows) <= 18 and "orange ellipse: residual add" not in legend      # no add in GoogLeNet
    symbols = re.findall(r'COLOR="#666666">([^<]*)</FONT></TD></TR>', legend)[-3:]
    assert all(len(line) <= 84 * 2 for line in symbols)


def _texts(obj) -> list[tuple[float, float, float, float]]:
    """The boxes of the text Graphviz draws for a label (its _ldraw_ ops), as (x0, y0, x1, y1) in points."""
    out, size = [], 14.0
    for op in obj.get("_ldraw_", []):
        if op["op"] == "F":
            size = float(op["size"])
        if op["op"] == "T":
            (x, y), w = op["pt"], float(op["width"])
            x0 = {"l": x, "c": x - w / 2, "r": x - w}[op["align"]]
            out.append((x0, y - 0.25 * size, x0 + w, y + 0.75 * size))
    return out


def _curve(points: list, steps: int = 20) -> list[tuple[float, float]]:
    """Points along a Graphviz spline (cubic Bézier segments sharing their ends)."""
    out = []
    for k in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[k:k + 4]
        for i in range(steps + 1):
            t = i / steps
            a, b, c, e = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
            out.append((a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]))
    return out


@needs_dot
@pytest.mark.parametrize("name,expand", [("resnet34", ()), ("resnet34", ("layer1*",)), ("mobilenet_v2", ()),
                                         ("densenet121", ()), ("inception_v3", ("Mixed_6*",))])
def test_the_main_line_crosses_no_frame_header(name, expand, graphs):
    """A frame's header (name, block, arguments, counts) sits top right, beside the main line: no edge
    between two boxes of the main line passes through its text (geometry from dot -Tjson). Side
    edges (a shortcut lane, an Inception fan-out) may still pass one."""
    g = graphs(name)
    diagram, v = render.build(g, None, expand=expand)
    laid = json.loads(next(p for p in diagram.parts if p.name == g.name).pipe(format="json"))
    headers = [t for o in laid["objects"] if o.get("name", "").startswith("cluster_") for t in _texts(o)]
    line = render.spine(v) | {"input"}
    assert headers
    for e in laid["edges"]:
        if not {laid["objects"][e["tail"]]["name"], laid["objects"][e["head"]]["name"]} <= line \
                or e.get("style") == "dashed":       # a shortcut from the line back into it runs beside it
            continue
        for op in e.get("_draw_", []):
            if op["op"] in ("b", "B"):
                hits = [(x, y) for x, y in _curve(op["points"]) for x0, y0, x1, y1 in headers
                        if x0 < x < x1 and y0 < y < y1]
                assert not hits, (laid["objects"][e["tail"]]["name"], laid["objects"][e["head"]]["name"], hits[:1])
