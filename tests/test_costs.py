"""Every rendering command's cost bounded by its input (issue 25): diagram, diff, the html viewer and
PNG paging, each on a small spec generated here that made them quadratic (or unbounded) before.

Each case states its result and a time bound. The bounds are generous (measured in-process, on a
loaded machine the fixed code takes a fraction of them; the quadratic code took 25 s to minutes on
the same inputs): they catch a return to quadratic work, not a slow machine.
"""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

import archspec
from archspec.cli import main
from archspec.limits import MAX_DIFF_PAIRS, MAX_GLOSSARY_BOXES, MAX_PAGES, MAX_TABLE_CELLS
from archspec.reports import diff, render

BUDGET = 10.0     # seconds for each command's own work


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return path


def chain(name: str, pairs: int, prefix: str = "") -> str:
    """A flat chain of `pairs` conv + relu nodes, named <prefix>c<i> and <prefix>r<i>."""
    nodes = "".join(f"  - {prefix}c{i}: {{op: conv, out: 4, k: 1}}\n  - {prefix}r{i}: relu\n" for i in range(pairs))
    return f"archspec: 1\nname: {name}\ninput: [4, 8, 8]\nnodes:\n{nodes}"


def timed(f, *args, **kwargs):
    start = time.perf_counter()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - start


ALTERNATING = """archspec: 1
name: alt
params: {n: 3000}
input: [4, 8, 8]
blocks:
  a:
    nodes: [{op: conv, out: 4, k: 1}, relu]
  b:
    nodes: [{op: conv, out: 4, k: 1}, batchnorm]
nodes:
  - layer: {repeat: "${n}", node: {use: "${'a' if i % 2 == 0 else 'b'}"}}
"""


@pytest.mark.slow
def test_repeat_alternating_two_structures_draws_in_linear_time(tmp_path):
    """3,000 steps alternating a and b: no two neighbours form a run. Before: quadratic in
    render._entry and glossary (24 s for 2,000 steps); now well within the budget."""
    g = archspec.analyze(archspec.load(write(tmp_path, "alt", ALTERNATING)))
    (dot, v), took = timed(render.build, g, 2)
    assert took < BUDGET, f"diagram of 6,000 nodes took {took:.1f} s"
    assert len(v.boxes) == 3000 and not any(b.kind == "run" for b in v.boxes)   # every step its own box
    assert [e.path for e in render.glossary(v)] == []        # both blocks are 2-op chains, named in their box
    assert "conv 1x1, 4 → relu<" in dot.source and "conv 1x1, 4 → batchnorm<" in dot.source


@pytest.mark.slow
def test_glossary_draws_at_most_its_limit_and_says_so(tmp_path):
    """At the automatic depth the whole repeat is one box whose glossary entry would open into 3,000
    boxes: past MAX_GLOSSARY_BOXES it is counted in the legend, not drawn."""
    g = archspec.analyze(archspec.load(write(tmp_path, "alt", ALTERNATING)))
    (dot, v), took = timed(render.build, g)
    assert took < BUDGET
    assert v.depth == 1 and [b.id for b in v.boxes] == ["layer"]
    assert [e.path for e in render.glossary(v)] == ["layer"] and render.within_budget(g, render.glossary(v)) == []
    assert f"the glossary draws 0 of 1 block structures (at most {MAX_GLOSSARY_BOXES:,} boxes)" in dot.source
    assert render.GLOSSARY not in dot.source                 # nothing of the 3,000 boxes drawn


def nested(kinds: int, steps: int) -> str:
    blocks = "  k0:\n    nodes: [{op: conv, out: 4, k: 1}]\n" + "".join(
        f"  k{j}:\n    nodes: [{{a: {{use: k{j - 1}}}}}, relu]\n" for j in range(1, kinds))
    return (f"archspec: 1\nname: nested\ninput: [4, 8, 8]\nblocks:\n{blocks}"
            f"nodes:\n  - layer: {{repeat: {steps}, node: {{use: k{kinds - 1}}}}}\n")


@pytest.mark.slow
def test_nested_block_kinds_repeated_draw_in_linear_time(tmp_path):
    """44 nested block kinds repeated 1,000 times (44,000 nodes, 46 levels). Before: 130 s (the
    glossary summed the whole graph per entry, the automatic depth once per level tried); now the
    scopes are indexed once and the graph summed once."""
    g = archspec.analyze(archspec.load(write(tmp_path, "nested", nested(44, 1000))))
    assert len(g.nodes) == 44_000
    (dot, v), took = timed(render.build, g)
    assert took < BUDGET, f"diagram took {took:.1f} s"
    assert [b.kind for b in v.boxes] == ["run"] and v.boxes[0].row.op == "k43 ×1000"
    # one entry per kind of more than CHAIN ops (k4 ... k43), each drawn from the first step
    entries = render.glossary(v)
    assert [e.path for e in entries] == ["layer.0"] + ["layer.0" + ".a" * k for k in range(1, 40)]
    assert entries[0].also[:2] == ["layer.1", "layer.2"] and len(entries[0].also) == 999


def table_spec(n: int) -> str:
    rows = "".join("        " + "X" * n + "\n" for _ in range(n))
    return (f"archspec: 1\nname: table\ninput: [{n}, 8, 8]\nnodes:\n  - c:\n      op: conv\n      out: {n}\n"
            f"      k: 1\n      connections: |\n{rows}")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["diagram", "build", "validate"])
def test_huge_connections_table_is_refused_before_the_work(tmp_path, capsys, command):
    """1500x1500 cells: before, `diagram` took 30 s, 3.3 GB and wrote an 826 MB SVG, `build` a 66 MB
    module. Now a located error naming MAX_TABLE_CELLS, and nothing written."""
    spec = write(tmp_path, "table", table_spec(1500))
    out = ["-o", str(tmp_path / ("t.py" if command == "build" else "t.svg"))] if command != "validate" else []
    rc, took = timed(main, [command, str(spec), *out])
    err = capsys.readouterr().err
    assert rc == 1 and took < BUDGET
    assert f"{spec}:5:5: error: c: connection table has 2,250,000 cells" in err and "MAX_TABLE_CELLS" in err
    assert "Traceback" not in err and not list(tmp_path.glob("t.*"))


def test_connections_table_at_the_limit_is_accepted(tmp_path, capsys):
    side = int(MAX_TABLE_CELLS ** 0.5)
    assert side * side == MAX_TABLE_CELLS
    assert main(["validate", str(write(tmp_path, "t", table_spec(side)))]) == 0
    rc = main(["validate", str(write(tmp_path, "u", table_spec(side + 1)))])
    assert rc == 1 and "MAX_TABLE_CELLS" in capsys.readouterr().err


@pytest.mark.slow
def test_diff_of_two_large_networks_with_other_names_is_near_linear(tmp_path):
    """Two 20,000-node chains, every name different: before, 28-42 s in difflib; now each row pairs
    with the one of the same structure, as before, in well under the budget."""
    a = archspec.analyze(archspec.load(write(tmp_path, "a", chain("net_a", 10_000, "a"))))
    b = archspec.analyze(archspec.load(write(tmp_path, "b", chain("net_b", 10_000, "b"))))
    d, took = timed(diff.diff, a, b)
    assert took < BUDGET, f"diff took {took:.1f} s"
    assert len(d.pairs) == 20_000 and all(p.status == "~" for p in d.pairs)
    assert [p.name for p in d.pairs[:2]] == ["ac0 -> bc0", "ar0 -> br0"]


def covers(a: list[str], b: list[str], ops) -> int:
    """Check that opcodes walk both sequences in order and that 'equal' stretches are equal; the
    number of rows they pair."""
    i = j = 0
    for tag, i1, i2, j1, j2 in ops:
        assert (i1, j1) == (i, j)
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        i, j = i2, j2
    assert (i, j) == (len(a), len(b))
    return sum(i2 - i1 for tag, i1, i2, *_ in ops if tag == "equal")


def test_anchored_alignment_is_a_valid_alignment_and_keeps_what_one_edit_leaves():
    """Above MAX_DIFF_PAIRS: a valid alignment (every row once, in order), and after one inserted,
    removed or renamed row every other row is still paired."""
    rng = random.Random(25)
    for _ in range(300):
        a = [rng.choice("abcde") + str(rng.randrange(4)) for _ in range(rng.randrange(60))]
        b = [x for x in a if rng.random() < 0.8] + rng.sample(a, min(3, len(a)))
        covers(a, b, diff._merged(diff._anchored(a, b)))
    base = [f"layer{i}" for i in range(3000)]
    for edited in (base[:1500] + ["new"] + base[1500:], base[:1500] + base[1501:], base[:1500] + ["x"] + base[1501:]):
        assert len(base) * len(edited) > MAX_DIFF_PAIRS
        assert covers(base, edited, diff.opcodes(base, edited)) == 2999 + (len(edited) > len(base))


def test_small_diffs_still_use_difflib_exactly():
    a, b = ["conv", "relu", "conv", "add"], ["conv", "conv", "relu", "add", "fc"]
    from difflib import SequenceMatcher
    assert diff.opcodes(a, b) == SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


@pytest.mark.slow
def test_png_of_a_very_long_chain_is_refused_before_graphviz_runs(tmp_path, capsys):
    """A 15,000-node chain as PNG: before, 68 s and 87 files (a full rebuild per page). Now refused
    from its ranks (MAX_PAGES) before Graphviz lays anything out; nothing is written."""
    spec = write(tmp_path, "chain", chain("chain", 7_500))
    rc, took = timed(main, ["diagram", str(spec), "-o", str(tmp_path / "chain.png")])
    err = capsys.readouterr().err
    assert rc == 1 and took < BUDGET
    assert f"would need at least 73 pages of 16,000 px (15,000 boxes), over the limit of {MAX_PAGES}" in err
    assert not list(tmp_path.glob("*.png")) and "Traceback" not in err


# -- the viewer in Chromium --------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.slow
def test_viewer_draws_a_large_flat_network_in_linear_time(tmp_path):
    """10,000 flat nodes: before, every draw tested each unit against every node (`within`) and
    each edge label against every box: 36 s to load here; now about 4 s to load, and a click
    and a redraw likewise."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    page_path = tmp_path / "flat.html"
    assert main(["diagram", str(write(tmp_path, "flat", chain("flat", 5_000))), "-o", str(page_path)]) == 0
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 950})
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _, load = timed(lambda: (page.goto(page_path.as_uri()), page.wait_for_selector("#graph .unit")))
        assert page.locator("#graph .unit").count() == 10_002          # every node, the input and the output
        page.evaluate("window.archspecViewer.centre('c4000')")       # on screen (the view is panned, not scrolled)
        _, click = timed(page.locator('#graph .unit[data-id="c4000"]').click)
        assert page.locator("#layers tr.sel").get_attribute("data-id") == "c4000"
        _, redraw = timed(page.click, "#zoom-in")
        assert page.locator("#graph .unit").count() == 10_002
        browser.close()
    assert errors == []
    assert max(load, click, redraw) < 2 * BUDGET, f"load {load:.1f} s, click {click:.1f} s, redraw {redraw:.1f} s"
