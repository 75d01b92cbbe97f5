"""Issue 25, the spec side: commands whose cost a small valid spec could blow up (paper tables,
libraries extending one base, `init: zero:` patterns) are linear or refused by a projected count
before the work, with a located error; inputs that used to end as "internal error" (an `extends:`
chain of 1,500 files, a 5,000-digit `--set` index, a configuration key named `path`) are the
project's own errors; text written into Markdown (`list --format md`) and YAML (`import`) stays text.
Cost is counted in function calls (tests/cost.py), the same on every machine: a bound on the calls of a
refusal, or on their growth from n to 2n; each comment gives the unprotected code's count."""
import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cost import calls, growth

import archspec
from archspec import limits
from archspec.cli import main
from archspec.errors import Diagnostics
from archspec.frontend.spec import Loader

ROOT = Path(__file__).resolve().parents[1]


def _net(n: int, table: str = "", params: str = "") -> str:
    """A network of n relu nodes: body.0.relu ... body.{n-1}.relu, each in a block instance."""
    return (f"archspec: 1\nname: big\nparams: {{n: {n}{params}}}\ninput: [4, 8, 8]\n"
            "blocks:\n  unit: {nodes: [relu]}\n"
            "nodes:\n  - body: {repeat: \"${n}\", node: {use: unit}}\n" + table)


def _errors(capsys) -> str:
    err = capsys.readouterr().err
    assert "internal error" not in err
    return err


# -- paper tables -----------------------------------------------------------------------------------


def test_table_configuration_keys_path_and_sets_are_unknown_parameters(capsys, spec_file):
    """Configuration values used to be passed as keywords to load(path, sets, ...): `path: 1` was a
    TypeError ("internal error"); now it is an unknown parameter, located at the configuration."""
    path = spec_file(_net(4, "table:\n  title: t\n  configurations:\n    a: {path: 1}\n    b: {sets: [x]}\n"
                             "  rows: [body]\n"))
    assert main(["validate", path]) == 1
    err = _errors(capsys)
    assert "net.yaml:12:5: error: table configuration 'a': unknown parameter 'path'" in err


def test_table_configurations_are_refused_by_their_projected_nodes(capsys, spec_file):
    """16 configurations of a 6,251-node network would build 100,016 nodes (> MAX_TABLE_NODES): refused
    before the first is built (the unprotected code built them all, 40 of a 200k-node net took 89 s).
    Function calls: 1.75M (the spec's own network built); with no projection, all 16 built in turn (the
    16th passes the limit): 28.9M."""
    path = spec_file(_net(6_251, "table:\n  title: t\n  configurations:\n" +
                          "".join(f"    c{k}: {{n: 6251}}\n" for k in range(16)) + "  rows: [body]\n"))
    code, n = calls(main, ["validate", path])
    assert n < 2_200_000, f"{n:,} calls: configurations were built"
    assert code == 1
    err = _errors(capsys)
    assert "net.yaml:11:3: error: table: 16 configurations of a 6,251-node network would build about 100,016 " \
           "nodes; at most 100,000" in err


def test_table_configurations_count(capsys, spec_file):
    table = "table:\n  title: t\n  configurations:\n" + "".join(f"    c{k}: {{n: 2}}\n" for k in range(17))
    path = spec_file(_net(2, table + "  rows: [body]\n"))
    assert main(["validate", path]) == 1
    assert "net.yaml:11:3: error: table: 17 configurations; at most 16" in _errors(capsys)


def test_table_configurations_larger_than_projected_are_counted_as_built(capsys, spec_file, monkeypatch):
    """The projection takes the spec's own size; a configuration much larger is counted as it is
    built, and the one that passes MAX_TABLE_NODES is named, before the next is built. At a limit of
    1,000 (100,000 took two 60k-node builds, 23 s): 371k calls; one 600-node configuration costs
    170k; all built before they were counted: 1.69M."""
    from archspec.reports import table
    monkeypatch.setattr(table, "MAX_TABLE_NODES", 1_000)
    path = spec_file(_net(10, "table:\n  title: t\n  configurations:\n    a: {n: 600}\n    b: {n: 600}\n"
                              "    c: {n: 5000}\n  rows: [body]\n"))
    code, n = calls(main, ["validate", path])
    assert n < 500_000, f"{n:,} calls: 'c' was built"
    assert code == 1
    assert "net.yaml:13:5: error: table configurations: their networks have more than 1,000 nodes together " \
           "(1,200 by 'b')" in _errors(capsys)


def test_table_rows_limit(capsys, spec_file):
    rows = "".join(f"    - body.{k}\n" for k in range(limits.MAX_TABLE_ROWS + 1))
    path = spec_file(_net(2000, "table:\n  title: t\n  columns: [{title: n, value: name}]\n  rows:\n" + rows))
    assert main(["validate", path]) == 1
    assert "net.yaml:12:3: error: table: 1,001 rows and totals; at most 1,000" in _errors(capsys)


def test_table_rows_are_found_in_one_pass(spec_file):
    """n rows, each a block of a 20n-node network: each row's nodes, in one pass over the nodes. The
    table's calls grow 1.97x from 50 rows to 100 (the unprotected lookup scanned every node per
    row, 3.93x: 20M name tests at 1,000 rows, about 5 s)."""
    cols = "[{title: layer, value: name}, {title: out, value: output}, {title: depth, value: depth}]"
    graphs = {}
    for n in (50, 100):
        rows = "".join(f"    - body.{k * 20}\n" for k in range(n))
        text = _net(20 * n, f"table:\n  title: t\n  columns: {cols}\n  rows:\n" + rows)
        graphs[n] = archspec.analyze(spec_file(text, f"net{n}.yaml"))
    from archspec.reports.table import paper_table
    assert growth(lambda n: paper_table(graphs[n]), 50) < 2.3
    titles, body = paper_table(graphs[100])
    assert titles == ["layer", "out", "depth"]
    assert body[:2] == [["body.0", "8x8x4", "0"], ["body.20", "8x8x4", "0"]] and len(body) == 100


def test_table_reads_are_counted_before_the_cells(capsys, spec_file):
    """1,000 rows each spanning the whole 1,001-node network, 5 columns: 5,005,000 node figures to read,
    past MAX_TABLE_READS: refused before any cell is computed. Function calls: 345k; counted after
    the cells: 8.38M."""
    rows = "".join("    - body\n" for _ in range(1000))
    cols = ", ".join(f"{{title: {v}, value: {v}}}" for v in ("params", "macs", "depth", "output", "layers"))
    path = spec_file(_net(1_001, f"table:\n  title: t\n  columns: [{cols}]\n  rows:\n" + rows))
    code, n = calls(main, ["validate", path])
    assert n < 500_000, f"{n:,} calls: the cells were computed"
    assert code == 1
    assert "net.yaml:12:3: error: table: its cells would read 5,005,000 node figures (each row's nodes times " \
           "its columns); at most 5,000,000" in _errors(capsys)


@pytest.mark.slow
def test_table_configurations_stay_within_memory(tmp_path):
    """40 configurations of a 50,000-node network (a 2 KB spec) in a process limited to 2 GiB of
    address space: refused at once (the unprotected code kept every configuration's graph)."""
    spec = tmp_path / "net.yaml"
    spec.write_text(_net(50_000, "table:\n  title: t\n  configurations:\n" +
                         "".join(f"    c{k}: {{n: 50000}}\n" for k in range(16)) + "  rows: [body]\n"))
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
            "from archspec.cli import main; sys.exit(main(['validate', sys.argv[1]]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, str(spec)], capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 1, done.stderr[-500:]
    assert "16 configurations of a 50,000-node network would build about 800,000 nodes" in done.stderr


# -- files naming files ---------------------------------------------------------------------------------


def test_libraries_parse_a_shared_base_once(spec_file, monkeypatch):
    """40 libraries extending one base: the base is read and parsed once per load (the unprotected
    loader parsed it 40 times: 72.6 s for a 2 MB base), and the blocks are the same. Function calls:
    the load costs 2.7 parses of the 300-block base; parsing it for each library: 39."""
    from archspec.frontend import spec as spec_module
    base = "archspec: 1\nblocks:\n" + "".join(f"  blk{k}: {{params: {{w: 8}}, nodes: [relu]}}\n" for k in range(300))
    spec_file(base, "base.yaml")
    for k in range(40):
        spec_file(f"archspec: 1\nextends: base.yaml\nblocks:\n  own{k}: {{nodes: [relu]}}\n", f"lib{k}.yaml")
    top = spec_file("archspec: 1\nuse: [" + ", ".join(f"lib{k}.yaml" for k in range(40)) + "]\n"
                    "input: [3, 8, 8]\nnodes: [own3, blk5]\n")
    parsed = []
    real = spec_module.load_file
    monkeypatch.setattr(spec_module, "load_file", lambda path, shown: parsed.append(path) or real(path, shown))
    _, parse = calls(real, "base.yaml", "base.yaml")
    spec, n = calls(archspec.load, top)
    assert n < 4 * parse, (n, parse)
    assert sorted(parsed) == sorted(["net.yaml", "base.yaml", *(f"lib{k}.yaml" for k in range(40))])
    assert len(spec.blocks) == 340 and spec.blocks["blk5"].loc.file == "base.yaml"


def test_a_change_in_one_variant_leaves_the_shared_base_alone(spec_file):
    """The base's parse is shared within a load; `change:` copies the node list it changes."""
    spec_file("archspec: 1\ninput: [3, 8, 8]\nnodes:\n  - c: {op: conv, out: 4, k: 3}\n", "base.yaml")
    spec_file("archspec: 1\nextends: base.yaml\nchange: {c: {out: 8}}\nblocks:\n  b: {nodes: [relu]}\n", "lib.yaml")
    top = spec_file("archspec: 1\nextends: base.yaml\nuse: lib.yaml\nnodes: [b, {c: {op: conv, out: 2, k: 1}}]\n")
    g = archspec.analyze(top)
    assert g.nodes["c"].attrs.out == 2
    loader = Loader(Diagnostics())
    variant, base = loader.read("lib.yaml", "lib.yaml"), loader.read("base.yaml", "base.yaml")
    assert variant["nodes"][0]["c"]["out"] == 8 and base["nodes"][0]["c"]["out"] == 4


@pytest.mark.parametrize("key", ["extends", "use"])
def test_a_chain_of_1500_files_is_a_located_error(capsys, in_tmp, key):
    """An `extends:` (or `use:`) chain of 1,500 files was a RecursionError; it stops at MAX_FILE_CHAIN."""
    n = 1500
    for k in range(n):
        link = f"{key}: f{k + 1}.yaml\n" if k < n - 1 else ""
        body = "input: [3, 8, 8]\nnodes: [relu]\n" if key == "extends" and k == n - 1 else \
            f"blocks:\n  b{k}: {{nodes: [relu]}}\n" if key == "use" else ""
        (in_tmp / f"f{k}.yaml").write_text(f"archspec: 1\n{link}{body}")
    top = "f0.yaml"
    if key == "use":
        (in_tmp / "top.yaml").write_text("archspec: 1\nuse: f0.yaml\ninput: [3, 8, 8]\nnodes: [relu]\n")
        top = "top.yaml"
    assert main(["validate", top]) == 1
    err = _errors(capsys)
    if key == "extends":
        assert "f31.yaml:2:10: error: 'extends' chain of more than 32 files" in err
    else:
        assert "f31.yaml:2:6: error: 'use' chain of more than 32 libraries, each using the next" in err


def test_a_chain_at_the_limit_loads(in_tmp):
    n = limits.MAX_FILE_CHAIN
    for k in range(n):
        tail = f"extends: f{k + 1}.yaml\n" if k < n - 1 else "input: [3, 8, 8]\nnodes: [relu]\n"
        (in_tmp / f"f{k}.yaml").write_text(f"archspec: 1\n{tail}")
    assert list(archspec.analyze("f0.yaml").nodes) == ["relu"]


# -- --set ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", [19, 5000])
def test_a_long_set_index_is_no_such_item(capsys, spec_file, digits):
    """int() refuses strings of 4,300+ digits: `--set layers[999...]=1` was an internal error."""
    path = spec_file("archspec: 1\nparams: {w: [4, 4]}\ninput: [3, 8, 8]\n"
                     "nodes:\n  - {op: conv, out: '${w[0]}', k: 1}\n")
    assert main(["validate", path, "--set", f"w[{'9' * digits}]=1"]) == 1
    assert "error: parameter 'w' has no item [9999999999999999999" in _errors(capsys)


# -- init: zero: ----------------------------------------------------------------------------------------


def _zero_spec(patterns: list[str], n: int, flat: bool = False) -> str:
    """n steps of conv + batchnorm (body.K.c, body.K.b), or with `flat` n convs (body.K)."""
    step = "{op: conv, out: 2, k: 1}" if flat else \
        "{nodes: [{c: {op: conv, out: 2, k: 1}}, {b: batchnorm}, relu]}"
    return ("archspec: 1\nname: zeros\ninput: [2, 4, 4]\ninit:\n  zero: [" + ", ".join(f"'{p}'" for p in patterns) +
            f"]\nnodes:\n  - body: {{repeat: {n}, node: {step}}}\n")


def test_zero_patterns_match_as_fnmatch_in_the_same_order(spec_file):
    """The prefix-bisected matching gives exactly fnmatch's matches, in the same order: each pattern's
    nodes in graph order, first mention wins."""
    from archspec.pytorch.emit.init import _zero_names
    patterns = ["body.7.c", "body.1*.b", "*.c", "body.?.b", "body.[23]*.c", "body.[!0-8].b", "body.3.b", "[", "body*"]
    g = archspec.analyze(spec_file(_zero_spec(patterns, 40)))
    weighted = [n.name for n in g.nodes.values() if any(t.key == "weight" for t in n.tensors)]
    expected = {}
    for p in patterns:
        hits = [name for name in weighted if fnmatch.fnmatchcase(name, p)]
        expected.update(dict.fromkeys(hits))
    assert "[" not in expected
    patterns.remove("[")
    g = archspec.analyze(spec_file(_zero_spec(patterns, 40)))
    assert _zero_names(g, g.init) == [x for x in expected]


def test_zero_patterns_unmatched_is_located(capsys, spec_file):
    path = spec_file(_zero_spec(["body.1.c", "nothing*"], 3))
    assert main(["build", path, "-o", "out"]) == 1
    assert "net.yaml:5:3: error: init: zero pattern 'nothing*' matches no node with a weight" in _errors(capsys)


def test_n_zero_patterns_over_n_convs_build_in_linear_calls(spec_file, capsys):
    """n patterns (0.45 n globs) over n convs: `build`'s calls grow 2.00x from n = 500 to 1,000 (the
    unprotected code ran fnmatch for every pattern and node, 3.15x: 25M tests at 5,000, 17-21 s)."""
    def build(n: int) -> None:
        re.purge()        # each run compiles its globs: re's cache would hold the last run's
        patterns = [f"body.{k}*" if k % 2 == 0 and k >= n // 10 else f"body.{k}" for k in range(n)]
        assert main(["build", spec_file(_zero_spec(patterns, n, flat=True)), "-o", "out"]) == 0
    build(10)             # what a first build imports and caches, before either is counted
    assert growth(build, 500) < 2.3          # run at 500, then at 1,000
    source = Path("out/zeros.py").read_text()
    names = re.search(r"for name in (\(.*?\)):", source, re.S)[1]
    assert eval(names) == tuple(f"body.{k}" for k in range(1000))    # body.100* is body.100 alone: no body.1000


def test_zero_globs_are_refused_by_their_projected_tests(capsys, spec_file):
    """4,000 copies of `*` over 501 convs would test 2,004,000 names (> MAX_INIT_TESTS): refused before
    the first. Function calls: 645k; tested before they were counted: 4.70M."""
    path = spec_file(_zero_spec(["*"] * 4000, 501, flat=True))
    code, n = calls(main, ["build", path, "-o", "out"])
    assert n < 900_000, f"{n:,} calls: the names were tested"
    assert code == 1
    assert "net.yaml:5:3: error: init: zero patterns would test 2,004,000 node names; at most 2,000,000" \
        in _errors(capsys)


# -- text into Markdown ---------------------------------------------------------------------------------

HOSTILE_TEXT = ['<script>alert(1)</script>', '[click](javascript:alert(1))', 'a | b', '**bold** _em_ ~~x~~',
                '&amp; &#60;', '`code`', '<img src=x onerror=alert(1)>', 'back\\slash', '<javascript:alert(1)>']


def test_list_md_is_text_not_markup(in_tmp, capsys):
    """Titles, references and file names are shown as themselves: rendered by a CommonMark parser with
    GFM tables, the table has one row per spec, six cells each, no tag or link but the file's own, and
    each cell's text is exactly the spec's."""
    markdown_it = pytest.importorskip("markdown_it")
    specs = in_tmp
    for k, text in enumerate(HOSTILE_TEXT):
        (specs / f"s{k}.yaml").write_text(f"archspec: 1\ntitle: {json.dumps(text)}\ninput: [3, 8, 8]\n"
                                          f"reference: {{source: {json.dumps(text)}, params: 0}}\nnodes: [relu]\n")
    (specs / "javascript:alert(1)|x.yaml").write_text("archspec: 1\ninput: [3, 8, 8]\nnodes: [relu]\n")
    assert main(["list", ".", "--format", "md"]) == 0
    out = capsys.readouterr().out
    tokens = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(out)
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 1 + len(HOSTILE_TEXT) + 1
    inline = [t for t in tokens if t.type == "inline"]
    kinds = {c.type for t in inline for c in t.children}
    assert kinds <= {"text", "link_open", "link_close", "softbreak"}, kinds
    links = [c.attrs["href"] for t in inline for c in t.children if c.type == "link_open"]
    assert len(links) == len(HOSTILE_TEXT) + 1 and all(re.fullmatch(r"[\w%./-]+\.yaml", h) for h in links), links
    assert "javascript%3Aalert%281%29%7Cx.yaml" in links
    cells = [t.content for t in inline]
    texts = ["".join(c.content for c in t.children if c.type == "text") for t in inline]
    assert len(cells) == 6 * len(rows)
    for text in HOSTILE_TEXT:
        assert text in texts, text                                 # the title, as itself
        assert f"{text} (holds)" in texts, text                   # the reference
    assert "javascript:alert(1)|x.yaml" in texts


@pytest.mark.parametrize("command", ["summary", "diff"])
def test_summary_and_diff_md_are_text_not_markup(command, in_tmp, capsys):
    """`summary --format md` and `diff --format md` write a spec's title and reference source (and
    diff its --set strings) as text: no tag, link or emphasis, each text rendered as itself."""
    markdown_it = pytest.importorskip("markdown_it")
    text = " ".join(HOSTILE_TEXT)
    (in_tmp / "s.yaml").write_text(f"archspec: 1\ntitle: {json.dumps(text)}\ninput: [3, 8, 8]\nparams: {{w: 4}}\n"
                                   f"reference: {{source: {json.dumps(text)}, params: 0}}\n"
                                   "nodes: [{c: {op: conv, out: '${w}', k: 1}}]\n")
    # (the same w: a --set that changes the network retitles it "variant of ...", shortened)
    argv = ["s.yaml"] if command == "summary" else ["s.yaml", "s.yaml", "--set", "w=4"]
    assert main([command, *argv, "--format", "md"]) == 0
    out = capsys.readouterr().out
    inline = [t for t in markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(out)
              if t.type == "inline"]
    assert {c.type for t in inline for c in t.children} <= {"text", "softbreak", "hardbreak"}, out
    texts = " ".join(c.content for t in inline for c in t.children if c.type == "text")
    assert text in texts, out


def test_md_link_never_leaves_for_another_host():
    from archspec.reports.catalog import md_link
    assert md_link("a.yaml", "//evil.example/a.yaml") == "[a.yaml](/evil.example/a.yaml)"
    assert md_link("vgg16_bn.yaml", "specs/vgg16_bn.yaml") == "[vgg16_bn.yaml](specs/vgg16_bn.yaml)"


# -- text into YAML -------------------------------------------------------------------------------------

HOSTILE_NAMES = ["a\nmalicious: 1", "x: y", "#c", "*anchor", "&a", "!!python/object:os.system", "- item",
                 "{a: b}", "null", "~", "é😀\u2028\x85\x00", '"q\\', "ok'", " lead", "1e3", "yes"]


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_import_text_quotes_every_name(hostile):
    """spec_text with hostile output, spec, block and parameter names: the YAML loads back (with PyYAML
    and with archspec's own reader) with exactly the intended keys and values."""
    from archspec.frontend.yamlpos import load_text
    from archspec.pytorch.importing.structure import Block, Node, Result
    from archspec.pytorch.importing.yamltext import spec_text
    fc = Node("fc", {"op": "linear", "out": 4}, ["input"], "fc")
    block = Block(hostile, "nodes", {hostile: "int"}, [Node(hostile, {"op": "relu"}, ["input"], hostile)], hostile)
    unit = Node("u", {"use": hostile, hostile: 1, "b": 2, "c": 3, "d": 4}, ["fc"], "u")
    result = Result("nodes", [fc, unit], [block], [(hostile, "fc", False), ("aux", "u", True)])
    text = spec_text(result, hostile, hostile, hostile, (3, 8, 8))
    for doc in (yaml.safe_load(text), load_text(text, "x.yaml")):
        assert list(doc) == ["archspec", "name", "title", "doc", "input", "blocks", "nodes", "outputs"]
        assert doc["name"] == doc["title"] == doc["doc"] == hostile
        assert list(doc["outputs"]) == [hostile, "aux"]
        assert list(doc["blocks"]) == [hostile] and doc["blocks"][hostile]["params"] == {hostile: "int"}
        assert doc["blocks"][hostile]["output"] == hostile
        assert doc["nodes"][1] == {"u": {"use": hostile, "args": [1, 2, 3, 4]}}
    assert all(ord(c) < 128 for c in text)


@pytest.mark.slow
def test_import_of_a_model_with_hostile_output_names_adds_no_keys(in_tmp, capsys):
    """A model returning a tuple type whose fields are hostile: the spec text quotes them, so it is
    refused by the name validator (nothing written), never read as extra top-level keys."""
    (in_tmp / "evil.py").write_text(
        "import torch.nn as nn\n"
        "class Out(tuple):\n"
        "    _fields = ('logits', 'aux\\nrequires_ops: {x: evil.py}')\n"
        "    def __new__(cls, a, b):\n"
        "        return tuple.__new__(cls, (a, b))\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.c = nn.Conv2d(3, 4, 1)\n"
        "        self.d = nn.Conv2d(4, 4, 1)\n"
        "    def forward(self, x):\n"
        "        y = self.c(x)\n"
        "        return Out(self.d(y), y)\n"
        "def net():\n"
        "    return Net()\n")
    from archspec.pytorch.importing import import_model
    from archspec.pytorch.importing.sources import load_model
    model, name, _ = load_model("evil.py:net")
    doc = yaml.safe_load(import_model(model, (3, 8, 8), name, "evil.py:net"))
    assert "requires_ops" not in doc and list(doc["outputs"]) == ["logits", "aux\nrequires_ops: {x: evil.py}"]
    assert main(["import", "evil.py:net", "-o", "a.yaml", "--input", "3,8,8"]) == 1
    assert not (in_tmp / "a.yaml").exists() and "internal error" not in capsys.readouterr().err



def test_a_row_naming_a_block_many_times_is_counted_before_it_is_listed(capsys, spec_file):
    """One row naming the whole 10,000-node network 600 times: 6,000,000 nodes it would list,
    refused before the list is made (it was built first: 8,000 x 100k nodes ran out of memory)."""
    row = "    - all: {nodes: [" + ", ".join(["body"] * 600) + "]}\n"
    path = spec_file(_net(10_000, "table:\n  title: t\n  columns: [{title: p, value: params}]\n  rows:\n" + row))
    assert main(["validate", path]) == 1
    assert "net.yaml:12:3: error: table: its cells would read 6,000,000 node figures" in _errors(capsys)


def test_a_row_spanning_no_nodes_is_an_error(capsys, spec_file):
    """`nodes: []` would make a row with nothing in it, dropped without a word: refused at the list."""
    path = spec_file(_net(4, "table:\n  title: t\n  columns: [{title: p, value: params}]\n  rows:\n"
                             "    - none: {nodes: []}\n"))
    assert main(["validate", path]) == 1
    err = _errors(capsys)
    assert "net.yaml:13:21: error:" in err and "at least 1 item" in err, err
