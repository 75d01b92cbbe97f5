"""The README stays true: its spec table's figures are the tool's, every spec is listed."""
import re

import archspec
from conftest import ALL_SPECS, ROOT

ROW = re.compile(r"^\| \[(\w+)\.yaml\]\(specs/\w+\.yaml\) \|[^|]*\| (\d+)x(\d+)x(\d+) \| ([\d,]+) \| ([\d,]+) \|", re.M)


def test_spec_table_matches_the_tool():
    rows = ROW.findall((ROOT / "README.md").read_text())
    assert {r[0] for r in rows} == {p.stem for p in ALL_SPECS}
    for name, c, h, w, params, macs in rows:
        g = archspec.analyze(str(ROOT / "specs" / f"{name}.yaml"))
        nodes = g.inference_nodes()
        assert g.input_shape == (int(c), int(h), int(w)), name
        assert sum(n.params for n in nodes) == int(params.replace(",", "")), name
        assert sum(n.macs for n in nodes) == int(macs.replace(",", "")), name


def test_error_example_is_the_real_output(capsys, monkeypatch):
    from archspec.cli import main
    monkeypatch.chdir(ROOT)
    assert main(["validate", "examples/broken.yaml"]) == 1
    err = capsys.readouterr().err.strip()
    assert f"$ archspec validate examples/broken.yaml\n{err}\n```" in (ROOT / "README.md").read_text()
