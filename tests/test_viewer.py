"""`archspec diagram --format html`: one self-contained page, its model against `summary --json`, and
the page itself driven in Debian's headless Chromium (through Playwright for Python).

The browser tests need /usr/bin/chromium (`.ci/run` installs it with apt) and the `playwright` package
(the test extra); they never download a browser. Set ARCHSPEC_SCREENSHOTS=DIR to keep the screenshots
(docs/render_diagrams.sh does, for the README).
"""
import json
import os
import re
from pathlib import Path

import pytest
from paths import SPECS

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
    assert page.count("<script") == 2 and "<link" not in page and " src=" not in page and "@import" not in page
    assert "https://" not in page
    assert set(re.findall(r"http://[^\s\"')]+", page)) == {"http://www.w3.org/2000/svg"}   # a namespace, not a fetch
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
    """pip install must install what each page inlines: pyproject's package-data covers every asset."""
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    patterns = tomllib.loads((SPECS.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assets = sorted((SPECS.parent / "archspec" / "reports" / "assets").iterdir())
    assert assets and all(any(a.match(p) for p in patterns["archspec.reports"]) for a in assets)


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


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.set_default_timeout(30_000)    # ms: turns a hang into a failure; never a speed check (loaded CI)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_())
    page.goto(path.as_uri())
    return page, errors


def units(page) -> set[str]:
    return set(page.eval_on_selector_all("#graph .unit", "els => els.map(e => e.dataset.id)"))


def tooltip(page, unit: str) -> str:
    page.locator(f'#graph .unit[data-id="{unit}"]').hover()
    tip = page.locator("#tip")
    assert tip.is_visible()
    return tip.inner_text()


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
    page.locator('#graph .unit[data-id="layer2.0"]').click()           # open a block
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
    page.locator('#graph .frame[data-id="layer2.0"] text.head').click()   # and close it again
    assert units(page) == before
    page.fill("#search", "layer4.1.conv2")                             # find a node inside a closed run
    page.press("#search", "Enter")
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
    page.locator(f'#graph .unit[data-id="{run}"]').click()              # open the run: its three blocks
    assert units(page) == before - {run} | {"layer1.0", "layer1.1", "layer1.2"}
    assert page.locator(f'#graph .frame[data-id="{run}"]').count() == 1
    page.locator('#graph .unit[data-id="layer1.1"]').click()            # a block inside it opens in turn
    assert {"layer1.1.conv1", "layer1.1.add", "layer1.0", "layer1.2"} <= units(page)
    page.locator(f'#graph .frame[data-id="{run}"] text.head').click()   # closing the run closes all of it
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
    page.locator('#graph .unit[data-id="inception4a"]').click()
    shapes = {n["name"]: "×".join(map(str, n["shape"])) for n in summary["nodes"]}
    shapes["input"] = "3×224×224"
    labels = page.eval_on_selector_all("#graph text.shape", "els => els.map(e => [e.dataset.src, e.dataset.tensor, "
                                       "e.textContent])")
    assert len(labels) >= 20 and all(text == shapes[tensor] for _, tensor, text in labels)
    by_src = {src: text for src, _, text in labels}
    assert by_src["input"] == "3×224×224" and by_src["conv1"] == shapes["conv1.relu"]
    assert by_src["inception4a.branch1"] == shapes["inception4a.branch1.relu"]
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
    page.locator('#graph .unit[data-id="inception4a"]').click()
    branches = {f"inception4a.branch{i}" for i in (1, 2, 3, 4)}
    assert branches | {"inception4a.concat"} <= units(page)
    ys = {page.locator(f'#graph .unit[data-id="{b}"] rect.box').get_attribute("y") for b in branches}
    assert len(ys) == 1                                                # the four branches side by side
    block = next(b for b in summary["blocks"] if b["name"] == "inception4a.branch2")
    tip = tooltip(page, "inception4a.branch2")
    assert f"params\t{block['params']:,}" in tip and f"MACs\t{block['macs']:,}" in tip
    page.mouse.move(0, 0)
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
    assert evil in tooltip(page, "b")
    assert errors == []

