"""`archspec diagram --format html`: one self-contained page, its model against `summary --json`, and
the page itself driven in Debian's headless Chromium (through Playwright for Python).

The browser tests need /usr/bin/chromium (`.ci/run` installs it with apt) and the `playwright` package
(the test extra); they never download a browser. Set ARCHSPEC_SCREENSHOTS=DIR to keep the screenshots
(docs/render_diagrams.sh does, for the README). One browser serves the whole module.
"""
import json
import os
import re
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from paths import ROOT, SPECS

from archspec.cli import main

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def html_of(name: str, tmp: Path, capsys) -> tuple[Path, dict]:
    """The page for a spec, and `summary --json` of the same spec (the independent figures)."""
    out = tmp / f"{name}.html"
    assert main(["diagram", str(SPECS / f"{name}.yaml"), "-o", str(out)]) == 0
    assert main(["summary", str(SPECS / f"{name}.yaml"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    return out, summary


def embedded(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="model">(.*?)</script>', page, re.S)
    return json.loads(m[1])


def test_page_is_self_contained_and_counts_match_summary(tmp_path, capsys):
    path, summary = html_of("googlenet", tmp_path, capsys)
    page = path.read_text()
    # the model, elkjs and the viewer inline; nothing the browser would fetch (the browser tests also
    # refuse and count every request that is not the file itself)
    assert page.count("<script") == 3 and "<link" not in page and " src=" not in page and "@import" not in page
    assert re.search(r'<script id="elk">\n// elkjs \d+\.\d+\.\d+ \(Eclipse Layout Kernel\), EPL-2.0', page)
    model = embedded(page)
    assert model["totals"] == {k: summary[k] for k in ("params", "buffers", "macs")}
    nodes = {n["name"]: n for n in model["nodes"]}
    assert [(n["name"], n["params"], n["macs"], n["shape"]) for n in model["nodes"]] == \
        [(n["name"], n["params"], n["macs"], n["shape"]) for n in summary["nodes"]]
    blocks = {b["name"]: (b["params"], b["macs"]) for b in summary["blocks"]}
    assert {s["path"]: (s["params"], s["macs"]) for s in model["scopes"]} == blocks
    assert nodes["conv1.conv"]["weights"] == [{"key": "weight", "shape": [64, 3, 7, 7], "buffer": False},
                                              {"key": "bias", "shape": [64], "buffer": False}]
    assert model["open"] == []          # GoogLeNet's default depth is 1: every block starts closed


def test_expand_and_depth_set_what_starts_open(tmp_path):
    spec = str(SPECS / "resnet34.yaml")
    assert main(["diagram", spec, "-o", str(tmp_path / "a.html"), "--expand", "layer3.1"]) == 0
    assert embedded((tmp_path / "a.html").read_text())["open"] == ["layer1", "layer2", "layer3.1", "layer3", "layer4"]
    assert main(["diagram", spec, "-o", str(tmp_path / "b.html"), "--depth", "1"]) == 0
    assert embedded((tmp_path / "b.html").read_text())["open"] == []
    assert main(["diagram", spec, "-o", str(tmp_path / "c.html"), "--expand", "nope"]) == 1
    assert not (tmp_path / "c.html").exists()
    # one initial depth: DenseNet's transitions (plain ops) start closed like each dense block's layers,
    # the dense blocks and `features` (which hold blocks) open; a glob opens a transition all the same
    spec = str(SPECS / "densenet121.yaml")
    assert main(["diagram", spec, "-o", str(tmp_path / "d.html")]) == 0
    assert sorted(embedded((tmp_path / "d.html").read_text())["open"]) == \
        ["features"] + [f"features.denseblock{i}" for i in (1, 2, 3, 4)]
    assert main(["diagram", spec, "-o", str(tmp_path / "e.html"), "--expand", "features.transition1"]) == 0
    assert "features.transition1" in embedded((tmp_path / "e.html").read_text())["open"]


def test_runs_of_identical_blocks_are_one_box(tmp_path, capsys):
    """As the static diagram draws them: ResNet-34's layer1.0 – layer1.2 is one "basic ×3" box whose
    counts are its blocks' summed (summary --json's block rows); DenseNet's carry their concats."""
    path, summary = html_of("resnet34", tmp_path, capsys)
    runs = embedded(path.read_text())["runs"]
    blocks = {b["name"]: b for b in summary["blocks"]}
    assert [(r["id"], r["block"], r["members"]) for r in runs] == [
        ("layer1.0 – layer1.2", "basic ×3", ["layer1.0", "layer1.1", "layer1.2"]),
        ("layer2.1 – layer2.3", "basic ×3", ["layer2.1", "layer2.2", "layer2.3"]),
        ("layer3.1 – layer3.5", "basic ×5", [f"layer3.{i}" for i in range(1, 6)]),
        ("layer4.1 – layer4.2", "basic ×2", ["layer4.1", "layer4.2"])]
    for r in runs:
        assert (r["params"], r["macs"]) == tuple(sum(blocks[m][k] for m in r["members"]) for k in ("params", "macs"))
        inside = [n for n in summary["nodes"] if n["name"].startswith(r["members"][-1] + ".")]
        assert r["shape"] == inside[-1]["shape"]                 # what the last block outputs
    dense, _ = html_of("densenet121", tmp_path, capsys)
    first = embedded(dense.read_text())["runs"][0]
    assert first["block"] == "dense_layer ×6" and len(first["members"]) == 12     # 6 layers, 6 carried concats
    assert first["members"][:3] == ["features.denseblock1.denselayer1", "features.denseblock1.concat",
                                    "features.denseblock1.denselayer2"]


def test_assets_ship_as_package_data():
    """pip install must install what each page inlines (and elkjs's licence): pyproject's package-data
    covers every asset; the vendored elkjs is the version the page and the README name."""
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    patterns = tomllib.loads((SPECS.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    folder = SPECS.parent / "archspec" / "reports" / "assets"
    assets = sorted(folder.iterdir())
    assert {"elk.bundled.js", "elk.LICENSE.md", "viewer.js"} <= {a.name for a in assets}
    assert all(any(a.match(p) for p in patterns["archspec.reports"]) for a in assets)
    assert (folder / "elk.LICENSE.md").read_text().startswith("# Eclipse Public License - v 2.0")
    from archspec.reports.viewer import ELK_VERSION
    assert f"elkjs {ELK_VERSION}" in (SPECS.parent / "README.md").read_text()


def test_a_segment_through_a_box_is_a_crossing():
    """The geometry the browser tests count with: a line through a box crosses it, one that ends
    at its border or passes beside it does not; a slanted line is clipped exactly; any touch of a
    frame's header counts; a frame holding neither end may not be entered."""
    box = {"id": "b", "x": 10, "y": 10, "w": 20, "h": 10}
    assert crossings([box], [("a", "c", [(20, 0), (20, 40)])]) == [("a", "c", "b")]
    assert crossings([box], [("a", "b", [(20, 0), (20, 40)])]) == []          # it connects b
    assert crossings([box], [("a", "c", [(20, 0), (20, 10)]), ("a", "c", [(31, 0), (31, 40)])]) == []
    assert crossings([box], [("a", "c", [(0, 0), (9, 40)])]) == []           # its bounding box would overlap
    assert crossings([box], [("a", "c", [(0, 0), (40, 40)])]) == [("a", "c", "b")]
    assert path_points("M1,2 L3,4 H10 V20 l1,1 C12,22 13,23 14,24") == \
        [(1, 2), (3, 4), (10, 4), (10, 20), (11, 21), (12, 22), (13, 23), (14, 24)]
    head, frame = {"id": "f", "x": 0, "y": 50, "w": 60, "h": 12}, {"id": "f", "x": 0, "y": 50, "w": 80, "h": 100}
    inner = {"id": "d", "x": 10, "y": 70, "w": 20, "h": 10}
    assert crossings([box, inner], [("b", "d", [(20, 20), (20, 70)])], [head]) == [("b", "d", "header f")]
    assert crossings([box, inner], [("b", "d", [(20, 20), (70, 20), (70, 70), (20, 70)])], [head], [frame]) == []
    assert crossings([box], [("b", "c", [(20, 20), (20, 200)])], [], [frame]) == [("b", "c", "frame f")]


# -- in the browser ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                   "(pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, path: Path, **options):
    page = browser.new_page(viewport={"width": 1500, "height": 950}, **options)
    page.set_default_timeout(60_000)    # ms: turns a hang into a failure; never a speed check (loaded CI)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def only_the_file(route):           # a request anywhere else is refused and reported
        if route.request.url.startswith(("file:", "blob:", "data:")):
            return route.continue_()
        errors.append("request " + route.request.url)
        return route.abort()
    page.route("**/*", only_the_file)
    page.goto(path.as_uri())
    settle(page)
    return page, errors


def settle(page) -> None:
    """Wait until the page has drawn what the last action asked (layout runs in a worker)."""
    page.wait_for_function("document.body.dataset.busy === '0'")


def click(page, selector: str) -> None:
    """Bring a box or frame on screen, click it, and wait for the redraw."""
    unit = re.search(r'data-id="([^"]+)"', selector)
    if unit:
        page.evaluate("id => window.archspecViewer.centre(id)", unit[1])
    page.locator(selector).click()
    settle(page)


def units(page) -> set[str]:
    return set(page.eval_on_selector_all("#graph .unit", "els => els.map(e => e.dataset.id)"))


def tooltip(page, unit: str) -> str:
    page.evaluate("id => window.archspecViewer.centre(id)", unit)
    page.locator(f'#graph .unit[data-id="{unit}"]').hover()
    tip = page.locator("#tip")
    assert tip.is_visible()
    return tip.inner_text()


def path_points(d: str) -> list[tuple[float, float]]:
    """The corners of an SVG path's `d` (M, L, H, V, absolute or relative; a curve C/Q/S/T by its
    control polygon, which holds the curve): every segment the drawing makes, bends included."""
    tokens, out, i, cmd = re.findall(r"[A-Za-z]|-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?", d), [], 0, ""
    take = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2}
    while i < len(tokens):
        if tokens[i].isalpha():
            cmd, i = tokens[i], i + 1
            assert cmd.upper() in take, f"path command {cmd} in {d!r}"
            continue
        args, i = [float(t) for t in tokens[i:i + take[cmd.upper()]]], i + take[cmd.upper()]
        x0, y0 = out[-1] if out else (0.0, 0.0)
        rel = cmd.islower() and out
        if cmd.upper() == "H":
            out.append((args[0] + (x0 if rel else 0), y0))
        elif cmd.upper() == "V":
            out.append((x0, args[0] + (y0 if rel else 0)))
        else:
            out += [(x + (x0 if rel else 0), y + (y0 if rel else 0)) for x, y in zip(args[::2], args[1::2])]
    return out


def through(p, q, r: dict, inset: float = 0.5) -> bool:
    """Whether the segment p-q passes through rectangle r shrunk by `inset` on each side (Liang-Barsky
    clipping: exact for a segment of any slope, not its bounding box)."""
    x0, y0, x1, y1 = r["x"] + inset, r["y"] + inset, r["x"] + r["w"] - inset, r["y"] + r["h"] - inset
    if x1 <= x0 or y1 <= y0:
        return False
    t0, t1, dx, dy = 0.0, 1.0, q[0] - p[0], q[1] - p[1]
    for pp, qq in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if pp == 0:
            if qq <= 0:
                return False
        elif pp < 0:
            t0 = max(t0, qq / pp)
        else:
            t1 = min(t1, qq / pp)
    return t0 < t1


def crossings(boxes: list[dict], edges: list[tuple], heads: list[dict] = (), frames: list[dict] = ()) -> list[tuple]:
    """(source, target, what) for every box an edge's segment passes through (more than 0.5 px inside
    it) that the edge does not connect; every frame header (title) it touches at all, its own frames'
    included; every frame it passes through that holds neither end (it may enter the frames that do)."""
    out, by_id = [], {b["id"]: b for b in boxes}
    inside = lambda b, f: (f["x"] <= b["x"] and f["y"] <= b["y"] and b["x"] + b["w"] <= f["x"] + f["w"]   # noqa: E731
                           and b["y"] + b["h"] <= f["y"] + f["h"])
    for src, dst, points in edges:
        ends = [by_id[u] for u in (src, dst) if u in by_id]
        strangers = [f for f in frames if not any(inside(b, f) for b in ends)]
        for p, q in zip(points, points[1:]):
            out += [(src, dst, b["id"]) for b in boxes if b["id"] not in (src, dst) and through(p, q, b)]
            out += [(src, dst, "header " + h["id"]) for h in heads if through(p, q, h, 0)]
            out += [(src, dst, "frame " + f["id"]) for f in strangers if through(p, q, f)]
    return out


GEOMETRY = """() => {
    const rect = (r) => ({x: +r.getAttribute('x'), y: +r.getAttribute('y'), w: +r.getAttribute('width'),
                          h: +r.getAttribute('height')});
    const bbox = (e) => { const b = e.getBBox(); return {x: b.x, y: b.y, w: b.width, h: b.height}; };
    const all = (q) => [...document.querySelectorAll(q)];
    return {
    boxes: all('#graph .unit').map(g => Object.assign({id: g.dataset.id}, rect(g.querySelector('rect.box')))),
    frames: all('#graph .frame').map(g => Object.assign({id: g.dataset.id}, rect(g.querySelector(':scope > rect')))),
    heads: all('#graph .frame').flatMap(g => [rect(g.querySelector('rect.head')), bbox(g.querySelector('text.head'))]
        .map(r => Object.assign({id: g.dataset.id}, r))),
    paths: all('#graph path.edge').map(p => [p.dataset.src, p.dataset.dst, p.getAttribute('d')]),
    kinds: all('#graph path.edge').map(p => p.getAttribute('class')),
    routed: window.archspecViewer.layout.edges.map(e => !!e.points),
    above: all('#viewport > *').map(e => e.getAttribute('class')),
    }; }"""


def geometry(page) -> dict:
    """Boxes, frames, headers (the title's box and, near the view, its text) and edges as drawn, at
    100% zoom."""
    page.evaluate("() => { const v = window.archspecViewer; v.zoomAt(1 / v.view.k, 0, 0); "
                  "if (v.layout.frames.length) v.centre(v.layout.frames[0]); }")
    g = page.evaluate(GEOMETRY)
    g["edges"] = [(s, d, path_points(p)) for s, d, p in g["paths"]]
    return g


def all_crossings(g: dict) -> list[tuple]:
    return crossings(g["boxes"], g["edges"], g["heads"], g["frames"])


def shoot(page, name: str, tmp: Path) -> None:
    folder = Path(os.environ.get("ARCHSPEC_SCREENSHOTS") or tmp)
    page.screenshot(path=str(folder / f"{name}.png"))


@pytest.mark.slow
def test_resnet34_expand_hover_search_table(browser, tmp_path, capsys):
    path, summary = html_of("resnet34", tmp_path, capsys)
    page, errors = open_page(browser, path)
    before = units(page)
    assert {"layer1.0 – layer1.2", "layer2.0", "layer3.1 – layer3.5", "conv1", "fc"} <= before
    assert not {"layer2.0.conv1", "layer1.0", "layer3.5"} & before                   # runs are one box each
    rows = page.eval_on_selector_all("#layers tbody tr", "els => els.map(e => e.dataset.id)")
    assert set(rows) == before - {"input", "\u21a6 output"}            # the side table lists what is drawn
    click(page, '#graph .unit[data-id="layer2.0"]')           # open a block
    after = units(page)
    assert {"layer2.0.conv1", "layer2.0.add", "layer2.0.downsample"} <= after and "layer2.0" not in after
    assert page.locator('#graph .frame[data-id="layer2.0"]').count() == 1
    node = next(n for n in summary["nodes"] if n["name"] == "layer2.0.conv1")
    tip = tooltip(page, "layer2.0.conv1")
    assert f"params\t{node['params']:,}" in tip and f"MACs\t{node['macs']:,}" in tip and "(128, 28, 28)" in tip
    assert "weight\t(128, 64, 3, 3)" in tip                            # weight shapes, as Netron shows them
    shoot(page, "viewer_resnet34", tmp_path)
    block = next(b for b in summary["blocks"] if b["name"] == "layer3.0")
    tip = tooltip(page, "layer3.0")
    assert f"params\t{block['params']:,}" in tip and f"MACs\t{block['macs']:,}" in tip
    assert "\u2295 residual" in page.locator('#graph .unit[data-id="layer3.0"]').inner_html()   # the skip it hides
    click(page, '#graph .frame[data-id="layer2.0"] text.head')   # and close it again
    assert units(page) == before
    page.fill("#search", "layer4.1.conv2")                             # find a node inside a closed run
    page.press("#search", "Enter")
    settle(page)
    assert {"layer4.1.conv2", "layer4.2"} <= units(page) and "layer4.1 – layer4.2" not in units(page)
    assert page.locator('#graph .unit.selected').get_attribute("data-id") == "layer4.1.conv2"
    assert page.locator('#layers tr.sel').get_attribute("data-id") == "layer4.1.conv2"
    assert "(512, 512, 3, 3)" in page.locator("#details").inner_text()
    page.locator('#layers tr[data-id="fc"]').click()                   # the table selects in the graph
    assert page.locator('#graph .unit.selected').get_attribute("data-id") == "fc"
    assert errors == []


@pytest.mark.slow
def test_resnet34_run_opens_into_its_blocks_and_closes(browser, tmp_path, capsys):
    path, summary = html_of("resnet34", tmp_path, capsys)
    page, errors = open_page(browser, path)
    before, run = units(page), "layer1.0 – layer1.2"
    box = page.locator(f'#graph .unit[data-id="{run}"]').inner_html()
    assert "basic ×3" in box and "\u2295 residual" in box
    blocks = [b for b in summary["blocks"] if b["name"] in ("layer1.0", "layer1.1", "layer1.2")]
    tip = tooltip(page, run)
    assert f"params\t{sum(b['params'] for b in blocks):,}" in tip and f"MACs\t{sum(b['macs'] for b in blocks):,}" in tip
    click(page, f'#graph .unit[data-id="{run}"]')              # open the run: its three blocks
    assert units(page) == before - {run} | {"layer1.0", "layer1.1", "layer1.2"}
    assert page.locator(f'#graph .frame[data-id="{run}"]').count() == 1
    click(page, '#graph .unit[data-id="layer1.1"]')            # a block inside it opens in turn
    assert {"layer1.1.conv1", "layer1.1.add", "layer1.0", "layer1.2"} <= units(page)
    click(page, f'#graph .frame[data-id="{run}"] text.head')   # closing the run closes all of it
    assert units(page) == before
    assert main(["diagram", str(SPECS / "resnet34.yaml"), "-o", str(tmp_path / "x.html"), "--expand", "layer3.1"]) == 0
    page, more = open_page(browser, tmp_path / "x.html")           # --expand inside a run starts it open
    assert {"layer3.0", "layer3.1.conv1", "layer3.2", "layer3.5", "layer1.0 – layer1.2"} <= units(page)
    assert errors + more == []


@pytest.mark.slow
def test_edges_show_their_shapes_where_they_fit(browser, tmp_path, capsys):
    """Each edge label is the shape of the tensor that flows (as summary gives it), and covers no box."""
    path, summary = html_of("googlenet", tmp_path, capsys)
    page, errors = open_page(browser, path)
    click(page, '#graph .unit[data-id="inception4a"]')
    shapes = {n["name"]: "×".join(map(str, n["shape"])) for n in summary["nodes"]}
    shapes["input"] = "3×224×224"
    labels = page.eval_on_selector_all("#graph text.shape", "els => els.map(e => [e.dataset.src, e.dataset.tensor, "
                                       "e.textContent])")
    assert len(labels) >= 20 and all(text == shapes[tensor] for _, tensor, text in labels)
    by_src = {src: text for src, _, text in labels}
    assert by_src["input"] == "3×224×224" and by_src["conv1"] == shapes["conv1.relu"]
    assert by_src["inception4a.branch1"] == shapes["inception4a.branch1.relu"]
    page.evaluate("() => { const v = window.archspecViewer; v.zoomAt(1 / v.view.k, 0, 0); }")   # text laid out
    overlap = page.evaluate("""() => {
        const boxes = [...document.querySelectorAll('#graph .unit rect.box')].map(r => r.getBBox());
        return [...document.querySelectorAll('#graph text.shape')].map(t => t.getBBox()).filter(l => boxes.some(b =>
            l.x < b.x + b.width && b.x < l.x + l.width && l.y < b.y + b.height && b.y < l.y + l.height)).length; }""")
    assert overlap == 0
    assert errors == []


@pytest.mark.slow
def test_googlenet_inception_opens_into_its_branches(browser, tmp_path, capsys):
    path, summary = html_of("googlenet", tmp_path, capsys)
    page, errors = open_page(browser, path)
    assert "inception4a" in units(page)
    click(page, '#graph .unit[data-id="inception4a"]')
    branches = {f"inception4a.branch{i}" for i in (1, 2, 3, 4)}
    assert branches | {"inception4a.concat"} <= units(page)
    ys = {page.locator(f'#graph .unit[data-id="{b}"] rect.box').get_attribute("y") for b in branches}
    assert len(ys) == 1                                                # the four branches side by side
    block = next(b for b in summary["blocks"] if b["name"] == "inception4a.branch2")
    tip = tooltip(page, "inception4a.branch2")
    assert f"params\t{block['params']:,}" in tip and f"MACs\t{block['macs']:,}" in tip
    page.mouse.move(0, 0)
    page.keyboard.press("f")                       # all of it, fitted to the window
    shoot(page, "viewer_googlenet", tmp_path)
    assert errors == []


@pytest.mark.slow
def test_hostile_text_stays_text(browser, tmp_path, monkeypatch):
    """Spec text with markup reaches the page as text: no script runs, no element is injected."""
    monkeypatch.chdir(tmp_path)
    evil = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    (tmp_path / "net.yaml").write_text(
        "archspec: 1\nname: net\ninput: [3, 8, 8]\n"
        f"title: {json.dumps(evil)}\npaper: {json.dumps(evil)}\n"
        "blocks:\n  blk:\n    params: {tag: str}\n    nodes: [{op: conv, out: 4, k: 1}, relu]\n"
        f"nodes:\n  - b: {{use: blk, tag: {json.dumps(evil)}}}\n")
    assert main(["diagram", "net.yaml", "--format", "html"]) == 0
    page, errors = open_page(browser, tmp_path / "net.html")
    assert page.evaluate("window.pwned") is None and page.locator("img").count() == 0
    assert page.locator("#title").inner_text() == evil
    page.click("#collapse-all")
    settle(page)
    assert evil in tooltip(page, "b")
    assert errors == []



# -- every block open: routing, and the view's controls ---------------------------------------

def open_all(page) -> dict:
    page.click("#expand-all")
    settle(page)
    return geometry(page)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet34", "densenet121", "mobilenet_v2", "inception_v3", "googlenet"])
def test_every_block_open_no_edge_crosses_a_box(browser, tmp_path, capsys, name):
    """With every block open, each edge is routed (ELK), drawn above every frame, and passes through
    no box it does not connect, no frame's header and no frame that holds neither of its ends; each
    residual add has its shortcut drawn as one (dashed, orange). As first drawn, with every other
    block open, and with every block closed, likewise no crossing."""
    path, summary = html_of(name, tmp_path, capsys)
    page, errors = open_page(browser, path)
    assert all_crossings(geometry(page)) == []
    g = open_all(page)
    nodes, model = summary["nodes"], embedded(path.read_text())
    assert {b["id"] for b in g["boxes"]} == {n["name"] for n in nodes} | {"input"} | {
        "\u21a6 " + o["name"] for o in model["outputs"]}
    assert all(g["routed"]) and len(g["edges"]) == len(g["routed"]) >= len(nodes)
    assert len(g["heads"]) == 2 * len(g["frames"]) >= 2 * len(model["scopes"])
    titles = [(r, t) for r, t in zip(g["heads"][::2], g["heads"][1::2]) if t["w"]]   # laid out: near the view
    assert titles and all(r["x"] <= t["x"] and t["x"] + t["w"] <= r["x"] + r["w"] + 1 for r, t in titles)
    assert all_crossings(g) == []
    frames = [i for i, c in enumerate(g["above"]) if c.startswith("frame")]
    assert frames and max(frames) < g["above"].index("edges")              # edges over the frames
    adds = [n for n in nodes if n["op"] == "add"]
    assert sum("skip" in k for k in g["kinds"]) == len(adds)               # one shortcut per residual add
    every_other = sorted(s["path"] for s in model["scopes"])[::2] + [r["id"] for r in model["runs"]]
    page.evaluate("paths => window.archspecViewer.setOpen(paths)", every_other)
    settle(page)
    g = geometry(page)
    assert g["frames"] and all_crossings(g) == []
    page.click("#collapse-all")
    settle(page)
    g = geometry(page)
    assert not g["frames"] and all_crossings(g) == []
    assert errors == []


@pytest.mark.slow
def test_fit_zoom_pan_minimap_keyboard(browser, tmp_path, capsys):
    path, _ = html_of("resnet34", tmp_path, capsys)
    page, errors = open_page(browser, path)
    canvas = page.locator("#canvas").bounding_box()

    def inside(box, outer, slack=1):
        return (box["x"] >= outer["x"] - slack and box["y"] >= outer["y"] - slack
                and box["x"] + box["width"] <= outer["x"] + outer["width"] + slack
                and box["y"] + box["height"] <= outer["y"] + outer["height"] + slack)
    assert inside(page.locator("#viewport").bounding_box(), canvas)        # fit on load: all of it on screen
    view = lambda: page.evaluate("({...window.archspecViewer.view})")     # noqa: E731
    world = lambda v, x, y: ((x - canvas["x"] - v["x"]) / v["k"], (y - canvas["y"] - v["y"]) / v["k"])  # noqa: E731
    px, py = canvas["x"] + 300, canvas["y"] + 200
    for ctrl in (False, True):                     # wheel and ctrl+wheel zoom about the pointer
        before = view()
        page.mouse.move(px, py)
        if ctrl:
            page.keyboard.down("Control")
        page.mouse.wheel(0, -240)
        if ctrl:
            page.keyboard.up("Control")
        page.wait_for_function(f"window.archspecViewer.view.k > {before['k']}")
        after = view()
        assert world(after, px, py) == pytest.approx(world(before, px, py), abs=0.5)   # that point stays put
    before, drawn = view(), units(page)            # drag pans, and is no click
    page.mouse.move(px, py)
    page.mouse.down()
    page.mouse.move(px + 120, py + 80, steps=4)
    page.mouse.up()
    after = view()
    assert (after["x"] - before["x"], after["y"] - before["y"]) == pytest.approx((120, 80), abs=1)
    settle(page)
    assert after["k"] == before["k"] and units(page) == drawn
    page.keyboard.press("f")                       # f fits again
    assert inside(page.locator("#viewport").bounding_box(), canvas)
    mini = page.locator("#minimap").bounding_box()   # the minimap moves the view where it is pressed
    page.mouse.click(mini["x"] + 5, mini["y"] + mini["height"] - 3)
    assert view()["y"] < after["y"]
    page.keyboard.press("f")
    click(page, '#graph .unit[data-id="conv1"]')  # arrows walk the boxes
    page.keyboard.press("ArrowDown")
    assert page.evaluate("window.archspecViewer.selected") == "bn1"
    page.keyboard.press("ArrowUp")
    assert page.evaluate("window.archspecViewer.selected") == "conv1"
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    assert page.evaluate("window.archspecViewer.selected") == "layer1.0 – layer1.2"
    page.keyboard.press("Enter")                   # Enter opens the selected block, Escape closes it
    settle(page)
    assert {"layer1.0", "layer1.1", "layer1.2"} <= units(page)
    page.keyboard.press("ArrowDown")
    assert page.evaluate("window.archspecViewer.selected") == "layer1.0"
    page.keyboard.press("Escape")
    settle(page)
    assert "layer1.0 – layer1.2" in units(page) and "layer1.0" not in units(page)
    assert errors == []


@pytest.mark.slow
def test_search_by_name_op_and_attributes(browser, tmp_path, capsys):
    """A query matches names, ops, labels and "key value" attributes ("3x3", "conv", "stride 2");
    every drawn box holding a match is marked, Enter opens the first."""
    path, summary = html_of("resnet34", tmp_path, capsys)
    page, errors = open_page(browser, path)
    model = {n["name"]: n for n in embedded(path.read_text())["nodes"]}

    def search(q: str) -> list[str]:
        page.fill("#search", q)
        return page.eval_on_selector_all("#matches li", "els => els.map(e => e.dataset.id)")
    strided = [n for n, v in model.items() if v["attrs"].get("stride") in ("2", "(2, 2)")]   # written (2, 2)
    found = search("stride 2")
    assert {"layer2.0.conv1", "layer2.0.downsample.0", "maxpool"} <= set(found) and set(found) <= set(strided)
    assert page.locator("#found").inner_text() == f"{len(strided)} matches"
    convs = [n for n, v in model.items() if v["op"] == "conv"]
    assert set(search("conv")) <= set(convs) and page.locator("#found").inner_text() == f"{len(convs)} matches"
    assert set(search("conv, stride 2")) == set(convs) & set(strided)        # both phrases (fewer than 30 listed)
    found = search("3x3")
    assert {"maxpool", "layer1.0.conv1"} <= set(found) and "layer2.0.downsample.0" not in found   # 1x1, pad 0
    assert page.locator("#graph .unit.match").count() >= 4                 # the boxes that hold a match
    page.press("#search", "Enter")
    settle(page)
    assert page.evaluate("window.archspecViewer.selected") == found[0] and found[0] in units(page)
    assert errors == []


@pytest.mark.slow
def test_export_svg_and_png_of_the_view(browser, tmp_path, capsys):
    path, _ = html_of("googlenet", tmp_path, capsys)
    page, errors = open_page(browser, path, accept_downloads=True)
    with page.expect_download() as d:
        page.click("#export-svg")
    svg = ET.parse(d.value.path()).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and d.value.suggested_filename == "googlenet.svg"
    v = page.evaluate("({...window.archspecViewer.view})")
    canvas = page.locator("#canvas").bounding_box()
    x, y, w, h = map(float, svg.get("viewBox").split())
    assert (x, y, w, h) == pytest.approx((-v["x"] / v["k"], -v["y"] / v["k"], canvas["width"] / v["k"],
                                          canvas["height"] / v["k"]), abs=1)      # what is on screen
    ns = "{http://www.w3.org/2000/svg}"
    units = sum("unit" in (g.get("class") or "").split() for g in svg.iter(f"{ns}g"))
    assert svg.find(f"{ns}style") is not None and units >= 10
    with page.expect_download() as d:
        page.click("#export-png")
    png = Path(d.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and d.value.suggested_filename == "googlenet.png"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == pytest.approx((2 * canvas["width"], 2 * canvas["height"]), abs=2)
    assert errors == []


@pytest.mark.slow
def test_tooltip_leaves_with_a_redraw_and_table_is_not_clipped(browser, tmp_path, capsys):
    path, _ = html_of("resnet34", tmp_path, capsys)
    page, errors = open_page(browser, path)
    assert "conv 7x7/2, 64" in tooltip(page, "conv1")
    page.keyboard.press("+")                       # the view changes under the pointer: no stale tooltip
    assert page.locator("#tip").is_hidden()
    tooltip(page, "conv1")
    page.evaluate("document.querySelector('#expand-all').click()")   # a redraw, the pointer not moved
    settle(page)
    assert page.locator("#tip").is_hidden()
    clipped = page.eval_on_selector_all("#layers td",
                                        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).length")
    assert clipped == 0                            # no cell cut off, and the table fits its panel
    assert page.evaluate("(w => w.scrollWidth <= w.clientWidth)(document.querySelector('#table-wrap'))")
    assert errors == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["densenet264", "pyramidnet272"])
def test_the_largest_networks_open_all(browser, tmp_path, capsys, name):
    """Every block of the largest specs opens and is drawn, clicked as soon as the page is drawn (the
    background layout may not have begun) and again after closing all (the times are printed, not
    checked: the machine may be loaded; README gives the figures)."""
    path, summary = html_of(name, tmp_path, capsys)
    page, errors = open_page(browser, path)
    took = []
    for _ in range(2):
        start = page.evaluate("performance.now()")
        page.click("#expand-all")
        settle(page)
        took.append(page.evaluate("new Promise(r => requestAnimationFrame(() => r(performance.now())))") - start)
        g = geometry(page)
        assert len(g["boxes"]) == len(summary["nodes"]) + 2 and all(g["routed"]) and all_crossings(g) == []
        page.click("#collapse-all")
        settle(page)
    print(f"{name}: open all {took[0]:.0f} ms at once, {took[1]:.0f} ms again, {len(g['boxes'])} boxes",
          file=sys.stderr)
    assert errors == []


# -- in a notebook ---------------------------------------------------------------------------

@pytest.mark.slow
def test_notebook_shows_the_viewer_inline(browser, tmp_path, monkeypatch):
    """A notebook run headless (nbclient, the ipykernel of this Python): an analysed graph, a loaded
    spec and archspec.show each give the viewer as HTML output, and that HTML draws in Chromium."""
    # the kernel imports this checkout's archspec, however (or whether) it is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    spec = str(SPECS / "resnet34.yaml")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in (
        f"import archspec\ngraph = archspec.analyze({spec!r})\ngraph",
        f"archspec.load({spec!r})",
        f"archspec.show({spec!r}, expand=['layer2.0'])")])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    html = [o["data"]["text/html"] for c in nb.cells for o in c["outputs"] if "text/html" in o.get("data", {})]
    assert len(html) == 3 and all(h.startswith('<iframe class="archspec-viewer"') for h in html)
    assert all("id=&quot;model&quot;" in h and "ResNet-34" in h for h in html)
    (tmp_path / "out.html").write_text("<!DOCTYPE html><html><body>" + html[2] + "</body></html>")
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto((tmp_path / "out.html").as_uri())
    frame = page.frame_locator("iframe.archspec-viewer")
    frame.locator('#graph .unit[data-id="layer2.0.conv1"]').wait_for(state="attached")   # expand reached the page
    assert frame.locator("#graph .unit").count() > 10


def test_show_and_repr_html_outside_a_notebook():
    """Without IPython running, archspec.show returns the viewer (its `_repr_html_` is the page in an
    iframe); a Graph and a Spec give the same page; a depth given is kept, none is diagram's default."""
    import html

    import archspec
    path = str(SPECS / "resnet34.yaml")
    view = archspec.show(path, depth=1)
    assert view is not None and view.depth == 1 and archspec.show(path).depth == 2
    page = view._repr_html_()
    assert page.startswith('<iframe class="archspec-viewer"') and "<script" not in page   # all of it escaped
    inner = html.unescape(page.split('srcdoc="', 1)[1].rsplit('"', 1)[0])
    assert embedded(inner)["open"] == [] and embedded(inner)["name"] == "resnet34"
    graph, spec = archspec.analyze(path), archspec.load(path)
    assert graph._repr_html_() == spec._repr_html_() == archspec.show(path)._repr_html_()


@pytest.mark.slow
def test_without_workers_elk_runs_in_the_page(browser, tmp_path, capsys):
    """Where a page may not start workers (a notebook frontend's policy), ELK runs in the page itself:
    the same drawing, every edge routed, no error."""
    path, _ = html_of("googlenet", tmp_path, capsys)
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    context.add_init_script("window.Worker = undefined;")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    settle(page)
    assert page.evaluate("window.archspecViewer.inWorker") is False
    g = open_all(page)
    assert all(g["routed"]) and all_crossings(g) == [] and len(g["boxes"]) > 100
    context.close()
    assert errors == []
