"""Every rendering command's cost bounded by its input (issue 25): diagram, diff, the html viewer and
PNG paging, each on a small spec generated here that made them quadratic (or unbounded) before.

Each case states its result and a bound on its cost, counted in function calls (tests/cost.py), not
seconds: the growth of the calls from size n to 2n (about 2 where the work is linear, near 4 where it is
quadratic), or, where the command refuses before the work, a bound on them. The counts are the same on
every machine, so they catch a return to quadratic work, never a slow machine; each case's comment
gives its count now and that of the unprotected code.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from cost import calls, growth

import archspec
from archspec.cli import main
from archspec.limits import MAX_DIFF_PAIRS, MAX_GLOSSARY_BOXES, MAX_PAGES, MAX_TABLE_CELLS
from archspec.reports import diff, render


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return path


def chain(name: str, pairs: int, prefix: str = "") -> str:
    """A flat chain of `pairs` conv + relu nodes, named <prefix>c<i> and <prefix>r<i>."""
    nodes = "".join(f"  - {prefix}c{i}: {{op: conv, out: 4, k: 1}}\n  - {prefix}r{i}: relu\n" for i in range(pairs))
    return f"archspec: 1\nname: {name}\ninput: [4, 8, 8]\nnodes:\n{nodes}"


def graphs(tmp: Path, specs: dict[int, str]) -> dict[int, archspec.Graph]:
    """Each size's spec loaded and analysed beforehand: the counts are those of the command alone."""
    return {n: archspec.analyze(archspec.load(write(tmp, f"s{n}", text))) for n, text in specs.items()}


def alternating(n: int) -> str:
    """A repeat of n steps alternating blocks a and b: no two neighbours form a run."""
    return f"""archspec: 1
name: alt
input: [4, 8, 8]
blocks:
  a:
    nodes: [{{op: conv, out: 4, k: 1}}, relu]
  b:
    nodes: [{{op: conv, out: 4, k: 1}}, batchnorm]
nodes:
  - layer: {{repeat: {n}, node: {{use: "${{'a' if i % 2 == 0 else 'b'}}"}}}}
"""


@pytest.mark.slow
def test_repeat_alternating_two_structures_draws_in_linear_time(tmp_path):
    """500 and 1,000 steps alternating a and b. Before: quadratic in render._entry and glossary
    (24 s for 2,000 steps). Calls from 500 to 1,000 steps: 2.05x now; 2.91x with _entry scanning
    every node again, 3.53x with nodes_in doing so."""
    g = graphs(tmp_path, {500: alternating(500), 1000: alternating(1000)})
    dot, v = render.build(g[500], 2)        # first: the modules it imports and g[500]'s indexes not counted
    assert len(v.boxes) == 500 and not any(b.kind == "run" for b in v.boxes)   # every step its own box
    assert [e.path for e in render.glossary(v)] == []        # both blocks are 2-op chains, named in their box
    assert "conv 1x1, 4 → relu<" in dot.source and "conv 1x1, 4 → batchnorm<" in dot.source
    assert growth(lambda n: render.build(g[n], 2), 500) < 2.3


@pytest.mark.slow
def test_glossary_draws_at_most_its_limit_and_says_so(tmp_path):
    """At the automatic depth the whole repeat is one box whose glossary entry would open into 500
    boxes: past MAX_GLOSSARY_BOXES it is counted in the legend, not drawn. Its cost: 227 calls a node
    now (227,157 for 1,000 nodes); 447 drawing the entry regardless of the limit."""
    g = graphs(tmp_path, {500: alternating(500)})[500]
    render.build(g)             # once first: the modules it imports and the graph's indexes not counted
    (dot, v), count = calls(render.build, g)
    assert count < 300 * len(g.nodes), f"{count:,} calls"
    assert v.depth == 1 and [b.id for b in v.boxes] == ["layer"]
    assert [e.path for e in render.glossary(v)] == ["layer"] and render.within_budget(g, render.glossary(v)) == []
    assert f"the glossary draws 0 of 1 block structures (at most {MAX_GLOSSARY_BOXES:,} boxes)" in dot.source
    assert render.GLOSSARY not in dot.source                 # nothing of the 500 boxes drawn


def nested(kinds: int, steps: int) -> str:
    blocks = "  k0:\n    nodes: [{op: conv, out: 4, k: 1}]\n" + "".join(
        f"  k{j}:\n    nodes: [{{a: {{use: k{j - 1}}}}}, relu]\n" for j in range(1, kinds))
    return (f"archspec: 1\nname: nested\ninput: [4, 8, 8]\nblocks:\n{blocks}"
            f"nodes:\n  - layer: {{repeat: {steps}, node: {{use: k{kinds - 1}}}}}\n")


@pytest.mark.slow
def test_nested_block_kinds_repeated_draw_in_linear_time(tmp_path):
    """11 and 22 nested block kinds repeated 100 times (1,100 and 2,200 nodes, 13 and 24 levels).
    Before: 130 s for 44 kinds x 1,000 (the glossary summed the whole graph per entry, the automatic
    depth once per level tried); now the scopes are indexed once and the graph summed once. Calls from
    11 to 22 kinds: 2.01x now (2.31x with the larger graph's index not yet built: names grow with the
    nesting); 4.79x with each glossary entry's rows taken from the whole graph."""
    g = graphs(tmp_path, {k: nested(k, 100) for k in (11, 22)})
    assert len(g[22].nodes) == 2_200
    dot, v = render.build(g[22])
    assert [b.kind for b in v.boxes] == ["run"] and v.boxes[0].row.op == "k21 ×100"
    # one entry per kind of more than CHAIN ops (k4 ... k21), each drawn from the first step
    entries = render.glossary(v)
    assert [e.path for e in entries] == ["layer.0"] + ["layer.0" + ".a" * k for k in range(1, 18)]
    assert entries[0].also[:2] == ["layer.1", "layer.2"] and len(entries[0].also) == 99
    assert growth(lambda k: render.build(g[k]), 11) < 2.5


def table_spec(n: int) -> str:
    rows = "".join("        " + "X" * n + "\n" for _ in range(n))
    return (f"archspec: 1\nname: table\ninput: [{n}, 8, 8]\nnodes:\n  - c:\n      op: conv\n      out: {n}\n"
            f"      k: 1\n      connections: |\n{rows}")


@pytest.mark.parametrize("command", ["diagram", "build", "validate"])
def test_huge_connections_table_is_refused_before_the_work(tmp_path, capsys, command):
    """1500x1500 cells: before, `diagram` took 30 s, 3.3 GB and wrote an 826 MB SVG, `build` a 66 MB
    module. Now a located error naming MAX_TABLE_CELLS, and nothing written. 300x300 cells here:
    2,919-3,384 calls now; without the limit, diagram made about 216,000 (and Graphviz drew 90,000 cells
    for 10 s), build 5,429,213, validate 3,767 (it does no per-cell work: its error is the test)."""
    spec = write(tmp_path, "table", table_spec(300))
    out = ["-o", str(tmp_path / ("t.py" if command == "build" else "t.svg"))] if command != "validate" else []
    main([command, str(spec), *out])          # once first: the command's modules imported, not counted
    capsys.readouterr()
    rc, count = calls(main, [command, str(spec), *out])
    err = capsys.readouterr().err
    assert count < 10_000, f"{count:,} calls"
    assert rc == 1
    assert f"{spec}:5:5: error: c: connection table has 90,000 cells" in err and "MAX_TABLE_CELLS" in err
    assert "Traceback" not in err and not list(tmp_path.glob("t.*"))


def test_connections_table_at_the_limit_is_accepted(tmp_path, capsys):
    side = int(MAX_TABLE_CELLS ** 0.5)
    assert side * side == MAX_TABLE_CELLS
    assert main(["validate", str(write(tmp_path, "t", table_spec(side)))]) == 0
    rc = main(["validate", str(write(tmp_path, "u", table_spec(side + 1)))])
    assert rc == 1 and "MAX_TABLE_CELLS" in capsys.readouterr().err


@pytest.mark.slow
def test_diff_of_two_large_networks_with_other_names_is_near_linear(tmp_path):
    """Two chains of 1,200 and of 2,400 nodes, every name different: before, 28-42 s in difflib for
    20,000; now each row pairs with the one of the same structure, as before, in near-linear work.
    Calls from 1,200 to 2,400 rows: 2.00x now; 3.84x with difflib above MAX_DIFF_PAIRS too."""
    (tmp_path / "b").mkdir()
    a = graphs(tmp_path, {n: chain("net_a", n, "a") for n in (600, 1200)})
    b = graphs(tmp_path / "b", {n: chain("net_b", n, "b") for n in (600, 1200)})
    assert 1200 * 1200 > MAX_DIFF_PAIRS
    d = diff.diff(a[600], b[600])
    assert len(d.pairs) == 1_200 and all(p.status == "~" for p in d.pairs)
    assert [p.name for p in d.pairs[:2]] == ["ac0 -> bc0", "ar0 -> br0"]
    assert growth(lambda n: diff.diff(a[n], b[n]), 600) < 2.3


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
def test_png_of_a_very_long_chain_is_refused_before_graphviz_runs(tmp_path, capsys, monkeypatch):
    """A 15,000-node chain as PNG: before, 68 s and 87 files (a full rebuild per page). Now refused
    from its ranks (MAX_PAGES) before Graphviz lays anything out; nothing is written. A 4,000-node
    chain here: Graphviz never runs (refused after its layout only, it lays out all 4,000 boxes first:
    a subprocess, so not in the Python calls, which are nearly the same)."""
    laid: list[str] = []
    draw = render._draw
    monkeypatch.setattr(render, "_draw", lambda d, p, fmt: laid.append(fmt) or draw(d, p, fmt))
    spec = write(tmp_path, "chain", chain("chain", 2_000))
    rc = main(["diagram", str(spec), "-o", str(tmp_path / "chain.png")])
    err = capsys.readouterr().err
    assert rc == 1 and laid == []
    assert f"would need at least 20 pages of 16,000 px (4,000 boxes), over the limit of {MAX_PAGES}" in err
    assert not list(tmp_path.glob("*.png")) and "Traceback" not in err


# -- the viewer in Chromium --------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def js_calls(cdp, url: str) -> int:
    """The calls of the page's own functions since last asked: V8's precise coverage counts each
    function's calls, the same on every machine, and resets them when taken (Playwright's scripts,
    which have other urls, left out)."""
    coverage = cdp.send("Profiler.takePreciseCoverage")["result"]
    return sum(f["ranges"][0]["count"] for script in coverage if script["url"] == url for f in script["functions"])


def viewer_calls(browser, tmp: Path, pairs: int) -> tuple[int, int, int]:
    """The JavaScript calls of loading a flat chain's page, of clicking a node and of zooming in."""
    page_path = tmp / f"flat{pairs}.html"
    assert main(["diagram", str(write(tmp, f"flat{pairs}", chain("flat", pairs))), "-o", str(page_path)]) == 0
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.startPreciseCoverage", {"callCount": True, "detailed": False})
    url = page_path.as_uri()
    page.goto(url)
    page.wait_for_selector("#graph .unit")
    load = js_calls(cdp, url)
    assert page.locator("#graph .unit").count() == 2 * pairs + 2       # every node, the input and the output
    page.evaluate("window.archspecViewer.centre('c1000')")       # on screen (the view is panned, not scrolled)
    js_calls(cdp, url)
    page.locator('#graph .unit[data-id="c1000"]').click()
    click = js_calls(cdp, url)
    assert page.locator("#layers tr.sel").get_attribute("data-id") == "c1000"
    page.click("#zoom-in")
    redraw = js_calls(cdp, url)
    assert page.locator("#graph .unit").count() == 2 * pairs + 2
    page.close()
    assert errors == []
    return load, click, redraw


@pytest.mark.slow
def test_viewer_draws_a_large_flat_network_in_linear_time(tmp_path):
    """2,500 and 5,000 flat nodes (one column with lanes, past the viewer's FLAT). Before, every draw
    tested each unit against every node (`within`) and each edge label against every box: 36 s to
    load 10,000 nodes. The JavaScript calls from 2,500 to 5,000 nodes: load 1.996x now (395,553 ->
    789,497), 3.94x with `within` filtering every node again, 3.97x with each label tested against
    every box (Taken.hits); a click 22,097 at either size, a zoom 20 (it moves the view only)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        small, large = (viewer_calls(browser, tmp_path, pairs) for pairs in (1_250, 2_500))
        browser.close()
    for what, n, n2 in zip(("load", "click", "zoom"), small, large):
        assert n2 / n < 2.3, f"{what}: {n:,} calls for 2,500 nodes, {n2:,} for 5,000"
