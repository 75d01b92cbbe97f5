"""The README stays true: its spec table's figures are the tool's, every spec is listed."""
import re

from paths import ALL_SPECS, ROOT, shipped_graph

ROW = re.compile(r"^\| \[(\w+)\.yaml\]\(specs/\w+\.yaml\) \|[^|]*\| (\d+)x(\d+)x(\d+) \| ([\d,]+) \| ([\d,]+) \|", re.M)


def test_spec_table_matches_the_tool():
    rows = ROW.findall((ROOT / "README.md").read_text())
    assert {r[0] for r in rows} == {p.stem for p in ALL_SPECS}
    for name, c, h, w, params, macs in rows:
        g = shipped_graph(ROOT / "specs" / f"{name}.yaml")     # archspec.analyze, once per test process
        counts = g.eval_counts()
        assert g.input_shape == (int(c), int(h), int(w)), name
        assert counts["params"] == int(params.replace(",", "")), name
        assert counts["macs"] == int(macs.replace(",", "")), name


def test_error_example_is_the_real_output(capsys, monkeypatch):
    from archspec.cli import main
    monkeypatch.chdir(ROOT)
    assert main(["validate", "examples/broken.yaml"]) == 1
    err = capsys.readouterr().err.strip()
    assert f"$ archspec validate examples/broken.yaml\n{err}\n```" in (ROOT / "README.md").read_text()


def test_limits_table_matches_limits_py():
    """Every limit in archspec/limits.py is in the README's table, with its value."""
    from archspec import limits
    text = (ROOT / "README.md").read_text()
    table = dict(re.findall(r"^\| `(MAX_\w+)` \| ([^|]+) \|", text, re.M))
    values = {k: v for k, v in vars(limits).items() if k.startswith("MAX_")}
    assert set(table) == set(values)
    for name, value in values.items():
        shown = (f"{value // 2**20} MiB" if name == "MAX_FILE_BYTES" else
                 f"2^{value.bit_length() - 1}" if name in ("MAX_INT", "MAX_ELEMENTS") else f"{value:,}")
        assert table[name].strip() == shown, name


def test_spec_table_is_archspec_list_output(capsys, monkeypatch):
    from archspec.cli import main
    monkeypatch.chdir(ROOT)
    assert main(["list", "specs", "--format", "md"]) == 0
    assert capsys.readouterr().out.strip() in (ROOT / "README.md").read_text()


def test_user_op_example_is_the_example_file():
    """The README's `module()`/`call()` of a user op (section "Your own ops") are the code of
    examples/swish_op.py, comments aside, so the form it shows is the one that runs."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Your own ops"):text.index("## Limits and safety")]
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    assert snippet, "no python example in 'Your own ops'"

    def code(lines: str) -> list[str]:
        return [c for c in (line.split("#")[0].strip() for line in lines.splitlines()) if c]
    shown = code(snippet[1])
    assert any(line.startswith("def call(") for line in shown) and any(".on(" in line for line in shown)
    assert set(shown) <= set(code((ROOT / "examples" / "swish_op.py").read_text()))
