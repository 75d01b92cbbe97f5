"""Hostile input: what archspec must do with specs, --set values, --ops and output paths
written to break it. The properties are message-independent:

- bad input ends with exit 1 (argparse usage errors: 2), "error:" on stderr, the problem's
  location (`<file>:<line>:<col>:` inside a spec file, `--set ...:` for a --set value), and never
  a Python traceback;
- nothing hangs or eats the machine (the risky cases run in a subprocess with a timeout and an
  address-space limit; a hang fails the test, it never blocks the run);
- nothing is written outside the working folder or the `-o` target, and no half-written file
  is left behind;
- where the input is in fact valid, the command succeeds and the generated module is plain
  archspec output (tests/source_check.py) that builds and passes `--check`; no spec text ever
  becomes code, markup, a spreadsheet formula or a terminal escape.
"""
from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from archspec.cli import main

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

HEAD = "archspec: 1\nname: net\ninput: [3, 8, 8]\n"
NODES = "nodes:\n  - c: {op: conv, out: 4, k: 1}\n  - relu\n"
TIMEOUT = 20                 # seconds: only to turn a hang into a failure, never a speed check
MEMORY = 3 << 30             # address-space limit of the subprocess runs


def q(s: str) -> str:
    """A YAML double-quoted scalar for any string (JSON strings are YAML)."""
    return json.dumps(s)


# -- running the command line ------------------------------------------------------------

def cli(capsys, *argv):
    """main() in-process: (exit code, stdout, stderr). An exception escaping main is what the
    user would see as a traceback: fail, chaining the exception so its origin is shown."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    except Exception as e:
        capsys.readouterr()
        raise AssertionError(f"traceback for the user: {type(e).__name__}: {str(e)[:300]}") from e
    out = capsys.readouterr()
    return (0 if code is None else code), out.out, out.err


def _limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def cli_proc(*argv, stdin=subprocess.DEVNULL):
    """`python -m archspec ...` in the current folder, with a timeout and a memory limit."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    try:
        p = subprocess.run([sys.executable, "-m", "archspec", *map(str, argv)], stdin=stdin,
                           capture_output=True, timeout=TIMEOUT, env=env, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: `archspec {' '.join(map(str, argv))[:120]}` still running after {TIMEOUT} s")
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode >= 0, f"killed by signal {-p.returncode}:\n{err[-2000:]}"
    return p.returncode, out, err


def no_traceback(out: str, err: str) -> None:
    both = out + err
    assert "Traceback" not in both, f"traceback:\n{both[-3000:]}"
    assert "internal error" not in both, f"a bug caught by main's last resort:\n{both[-3000:]}"


def located(err: str, *files: str) -> bool:
    """`<file>:<line>:<col>:` with line, col >= 1, for one of `files` (matched by base name)."""
    names = "|".join(re.escape(os.path.basename(f)) for f in files)
    return re.search(rf"(?:^|[\s/'\"(])(?:{names}):([1-9]\d*):([1-9]\d*):", err, re.M) is not None


def assert_fails(code, out, err, *files, codes=(1,), set_loc=False):
    """A clean failure: exit code, 'error:', no traceback, and the location where there is one."""
    no_traceback(out, err)
    assert code in codes, f"exit {code}, expected {codes}\nstdout: {out[-1500:]}\nstderr: {err[-1500:]}"
    assert "error:" in err, f"no 'error:' on stderr:\n{err[-1500:]}"
    if files:
        assert located(err, *files), f"no {'/'.join(files)}:<line>:<col>: location in:\n{err[-1500:]}"
    if set_loc:
        assert re.search(r"(?m)^--set\b.*:", err), f"no --set location in:\n{err[-1500:]}"


def no_stray_files(root: Path, allowed=()) -> None:
    """No temporaries left behind, no `pwned` marker anywhere under root."""
    for p in root.rglob("*"):
        assert "pwned" not in p.name, f"spec text ran as code: {p} exists"
        assert not (p.name.startswith(".") and p.name.endswith(".tmp")), f"half-written file left: {p}"


def assert_safe_source(text: str) -> None:
    from source_check import check_generated_source  # tests/source_check.py
    ast.parse(text)
    check_generated_source(text)


def build_outcome(capsys, tmp: Path, path: str, must_succeed: bool = False) -> str | None:
    """Build `path` into out/: either a clean located failure that wrote nothing, or a module that
    is plain generated source and passes --check. Returns the source (None on failure)."""
    out_dir = tmp / "out"
    code, out, err = cli(capsys, "build", path, "-o", "out")
    no_traceback(out, err)
    no_stray_files(tmp)
    if code != 0 and not must_succeed:
        assert_fails(code, out, err, path)
        assert not out_dir.exists() or not any(out_dir.iterdir()), "a failed build wrote files"
        return None
    assert code == 0, f"a valid spec failed to build:\n{err[-2000:]}"
    files = list(out_dir.glob("*.py"))
    assert len(files) == 1 and files[0].parent == out_dir, files
    text = files[0].read_text()
    try:
        assert_safe_source(text)
    except SyntaxError as e:
        raise AssertionError(f"generated source does not parse: {e}\n{text[:3000]}") from None
    code, out, err = cli(capsys, "build", path, "-o", "out", "--check")
    no_traceback(out, err)
    no_stray_files(tmp)
    assert code == 0, f"--check failed on a spec that built:\n{out[-2000:]}\n{err[-2000:]}"
    return text


# == 1. code injection ====================================================================

INJECT = '"""\nimport os\nos.system("touch pwned")\n"""'
NODE_NAMES = [
    "conv\n", "none", "None", "True", "forward", "super", "self", "torch", "nn", "F", "getattr",
    "__class__", "__init__", "_private", "x", "out", "input_shape", "loss_weights", "training", "fuse", "fuse_pairs",
    "Model", "c\u03bfnv", "\uff43\uff4f\uff4e\uff56", "\ufb01lter", "n" * 500,
    "x;open('pwned','w');x", INJECT, "a.b", "a b", "1x", "",
    "block1-0", "a-1;x", "a-b", "-1", "a--1", "forward-1",
]


@pytest.mark.parametrize("name", NODE_NAMES, ids=lambda s: ascii(s)[:24])
def test_node_name(capsys, spec_file, tmp_path, name):
    """A node name is an attribute, a local variable in forward and a state_dict key; one that
    cannot be all three safely is an error, anything else must build and check."""
    path = spec_file(HEAD + f"""blocks:
  blk:
    nodes:
      - {q(name)}: {{op: conv, out: 4, k: 1}}
      - {{op: add, in: [input, {q(name)}]}}
nodes:
  - conv: {{op: conv, out: 4, k: 1}}
  - {q(name)}: {{op: conv, out: 4, k: 1}}
  - r: {{op: relu, in: {q(name)}}}
  - {{op: add, in: [r, {q(name)}]}}
  - b: {{use: blk}}
""")
    build_outcome(capsys, tmp_path, path)


@pytest.mark.parametrize("name", [INJECT, "x;open('pwned','w');x", "None", "Model", "nn", "F",
                                  "torch", "getattr", "super", "Conv2d", "\uff23\uff42\uff52"],
                         ids=lambda s: ascii(s)[:24])
def test_block_name(capsys, spec_file, tmp_path, name):
    """Block names become class names; used named and anonymously (`- name` as a list item)."""
    path = spec_file(HEAD + f"""blocks:
  {q(name)}:
    nodes: [{{op: conv, out: 4, k: 1}}, relu]
  cbr:
    nodes: [{{op: conv, out: 4, k: 1}}, {{op: conv, out: 4, k: 3, pad: 1}}]
nodes:
  - b: {{use: {q(name)}}}
  - {q(name)}
  - cbr
""")
    build_outcome(capsys, tmp_path, path)


@pytest.mark.parametrize("name", ["fuse", "fuse_pairs", "init_weights", "input_shape", "loss_weights"])
def test_the_compiled_modules_own_names_fail_validate(capsys, spec_file, name):
    """What the compiled class defines itself (fuse(), fuse_pairs, ...) is refused by validate,
    not first by build: the one validator knows every name the module uses."""
    path = spec_file(HEAD + f"nodes:\n  - {name}: {{op: conv, out: 4, k: 1}}\n")
    code, out, err = cli(capsys, "validate", path)
    assert code == 1 and f"'{name}' is reserved" in out + err


def test_block_anonymous_plain_scalar(capsys, spec_file, tmp_path):
    path = spec_file(HEAD + """blocks:
  x;open('pwned','w');x:
    nodes: [{op: conv, out: 4, k: 1}, relu]
nodes:
  - x;open('pwned','w');x
  - x;open('pwned','w');x
""")
    build_outcome(capsys, tmp_path, path)


def test_block_class_names_collide(capsys, spec_file, tmp_path):
    """Two blocks whose names make the same class name, with different structures."""
    path = spec_file(HEAD + """blocks:
  res_block: {nodes: [{op: conv, out: 4, k: 1}]}
  resBlock: {nodes: [{op: conv, out: 4, k: 3, pad: 1}, {op: conv, out: 4, k: 1}]}
  ResBlock: {nodes: [{op: conv, out: 4, k: 5, pad: 2}]}
nodes:
  - a: res_block
  - b: resBlock
  - c: ResBlock
""")
    build_outcome(capsys, tmp_path, path)


TITLES = {     # title -> a valid title that must build (else: a located error is acceptable too)
    "None": True, "True": True, "F": True, "nn": True, "torch": True, "Model": True, "Cbr": True,
    '"""': True, 'x """\nimport os\nos.system("touch pwned")\n"""': True, "'''": True,
    "ends with a backslash \\": True, "": True, "123": True,
    "x\rimport os; os.system('touch pwned')\r#": False, "nul \x00 byte": False,
    "x\x0cimport os": False, "line\u2028sep": False,
}


@pytest.mark.parametrize("title", list(TITLES), ids=lambda s: ascii(s)[:24])
def test_title(capsys, spec_file, tmp_path, title):
    """The title is metadata: it may reach comments, docstrings and class names, never code."""
    path = spec_file(HEAD + f"title: {q(title)}\n" + """blocks:
  cbr: {nodes: [{op: conv, out: 4, k: 1}, relu]}
nodes:
  - c: {op: conv, out: 4, k: 1}
  - b: cbr
  - {op: relu, in: b}
""")
    build_outcome(capsys, tmp_path, path, must_succeed=TITLES[title])


@pytest.mark.parametrize("name", ["None", INJECT, "x\\", "torch", "123", "n" * 300],
                         ids=lambda s: ascii(s)[:24])
def test_spec_name(capsys, spec_file, tmp_path, name):
    path = spec_file(f"archspec: 1\nname: {q(name)}\ninput: [3, 8, 8]\n" + NODES)
    build_outcome(capsys, tmp_path, path)


@pytest.mark.parametrize("param", ["super", "class", "self", "torch", "nn", "F", "None", "lambda",
                                   "__class__", "x"])
def test_param_name(capsys, spec_file, tmp_path, param):
    """Spec and block params named like Python keywords or the generated code's own names;
    two instances with different values make the block class take the value as an argument."""
    path = spec_file(HEAD + f"""params: {{{param}: 4}}
blocks:
  blk:
    params: {{{param}: int}}
    nodes: [{{op: conv, out: "${{{param}}}", k: 1}}, relu]
nodes:
  - c: {{op: conv, out: "${{{param}}}", k: 1}}
  - b1: {{use: blk, {param}: 4}}
  - b2: {{use: blk, {param}: 8}}
""")
    build_outcome(capsys, tmp_path, path)


@pytest.mark.parametrize("name", ["a'b", 'a"b', "a\\", "a\nb", '"""', "x'}; import os; {'"],
                         ids=lambda s: ascii(s)[:24])
def test_output_name(capsys, spec_file, tmp_path, name):
    path = spec_file(HEAD + f"""nodes:
  - c: {{op: conv, out: 4, k: 1}}
  - head: {{op: conv, out: 2, k: 1, in: c}}
  - main: {{op: relu, in: c}}
outputs:
  main: main
  {q(name)}: {{node: head, train_only: true, loss_weight: 0.3}}
""")
    text = build_outcome(capsys, tmp_path, path)
    if text is not None:
        import torch

        from archspec.pytorch import compiler
        model = compiler.load_source(text, "net").Model().train()
        assert set(model(torch.zeros(1, 3, 8, 8))) == {"main", name}
        assert model.loss_weights == {name: 0.3}


# == 2. output paths ======================================================================

@pytest.mark.parametrize("name", ["../escape/x", "/tmp/archspec_abs_test/x", "..", "a/../../b"])
def test_diagram_name_is_not_a_path(capsys, tmp_path, monkeypatch, name):
    """The default diagram file is named after the spec: the name must not steer it elsewhere."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    shutil.rmtree("/tmp/archspec_abs_test", ignore_errors=True)
    (cwd / "net.yaml").write_text(f"archspec: 1\nname: {q(name)}\ninput: [3, 8, 8]\n" + NODES)
    code, out, err = cli(capsys, "diagram", "net.yaml", "--format", "dot")
    no_traceback(out, err)
    try:
        assert not os.path.exists("/tmp/archspec_abs_test"), "diagram wrote to an absolute path"
        outside = [p for p in tmp_path.rglob("*") if cwd not in p.parents and p != cwd]
        assert not outside, f"diagram wrote outside the working folder: {outside}"
        if code == 0:
            made = [p for p in cwd.iterdir() if p.name != "net.yaml"]
            assert len(made) == 1 and made[0].is_file() and made[0].suffix == ".dot", made
        else:
            assert_fails(code, out, err, "net.yaml")
        no_stray_files(tmp_path)
    finally:
        shutil.rmtree("/tmp/archspec_abs_test", ignore_errors=True)


def test_build_name_is_not_a_path(capsys, spec_file, tmp_path):
    path = spec_file("archspec: 1\nname: ../../escape/x\ninput: [3, 8, 8]\n" + NODES)
    code, out, err = cli(capsys, "build", path, "-o", "sub/out")
    no_traceback(out, err)
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "net.yaml"
               and (tmp_path / "sub" / "out") not in p.parents]
    assert not outside, outside
    if code != 0:
        assert_fails(code, out, err, path)


def _existing_file(tmp: Path) -> str:
    (tmp / "taken").write_text("keep me")
    return "taken"


def _dir_named_like_module(tmp: Path) -> str:
    (tmp / "out" / "net.py").mkdir(parents=True)
    return "out"


@pytest.mark.parametrize("target", [_existing_file, lambda t: "/proc/x", lambda t: "d" * 300,
                                    lambda t: "/proc/x/y", _dir_named_like_module],
                         ids=["existing-file", "proc", "300-chars", "proc-deep", "dir-named-net.py"])
def test_build_unwritable_output(capsys, spec_file, tmp_path, target):
    path = spec_file(HEAD + NODES)
    before = (tmp_path / "taken").read_text() if (tmp_path / "taken").exists() else None
    out_arg = target(tmp_path)
    code, out, err = cli(capsys, "build", path, "-o", out_arg)
    assert_fails(code, out, err, codes=(1, 2))
    no_stray_files(tmp_path)
    if out_arg == "taken":
        assert (tmp_path / "taken").read_text() == "keep me"
    assert before is None or before == "keep me"


@pytest.mark.parametrize("target", ["/proc/x.svg", "d" * 300 + ".dot", "adir.dot", "missing/dir/x.dot"])
def test_diagram_unwritable_output(capsys, spec_file, tmp_path, target):
    path = spec_file(HEAD + NODES)
    (tmp_path / "adir.dot").mkdir()
    code, out, err = cli(capsys, "diagram", path, "-o", target, "--format", "dot")
    no_traceback(out, err)
    no_stray_files(tmp_path)
    if code != 0:
        assert_fails(code, out, err)
    else:       # creating the missing folders is acceptable
        assert target == "missing/dir/x.dot" and (tmp_path / target).is_file()


# == 3. diagram label injection ===========================================================

HTML = '<A HREF="javascript:alert(1)">x</A> & y'
DHEAD = HEAD + "paper: p\n"       # (a spec without `paper:` is test_diagram_minimal_spec's case)
BLOCK_HTML = q('x"><A HREF="javascript:alert(1)">')
NODE_HTML = q('n"><A HREF="javascript:alert(1)">')
BS1, BS2 = q("x \\"), q("x \\\\")       # ends with one / two backslashes
NAME_BS, NODE_BS, ARG_BS = q("net\\"), q("n\\"), q("x\\")
DIAGRAM_CASES = {
    "block-name": DHEAD + f"""blocks:
  {BLOCK_HTML}: {{nodes: [{{op: conv, out: 4, k: 1}}, relu]}}
nodes:
  - b: {{use: {BLOCK_HTML}}}
  - c: {{op: conv, out: 4, k: 1}}
""",
    "node-name": DHEAD + f"nodes:\n  - {NODE_HTML}: {{op: conv, out: 4, k: 1}}\n",
    "title": DHEAD + f"title: {q(HTML)}\n" + NODES,
    "title-backslash": DHEAD + f"title: {BS2}\n" + NODES,
    "title-one-backslash": DHEAD + f"title: {BS1}\n" + NODES,
    "name-backslash": f"archspec: 1\nname: {NAME_BS}\npaper: p\ninput: [3, 8, 8]\n" + NODES,
    "name-html": f"archspec: 1\nname: {q(HTML)}\npaper: p\ninput: [3, 8, 8]\n" + NODES,
    "node-backslash": DHEAD + f"nodes:\n  - {NODE_BS}: {{op: conv, out: 4, k: 1}}\n",
    "block-string-arg": DHEAD + f"""blocks:
  blk:
    params: {{tag: str}}
    nodes: [{{op: conv, out: 4, k: 1}}, relu]
nodes:
  - b1: {{use: blk, tag: {q(HTML)}}}
  - b2: {{use: blk, tag: {ARG_BS}}}
""",
    "output-name": DHEAD + f"""nodes:
  - c: {{op: conv, out: 4, k: 1}}
  - h: {{op: conv, out: 2, k: 1, in: c}}
  - m: {{op: relu, in: c}}
outputs:
  m: m
  {q(HTML)}: {{node: h, train_only: true}}
""",
}


def _render_svg(dot_file: str) -> bytes:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    p = subprocess.run(["dot", "-Tsvg", dot_file], capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0, f"Graphviz cannot parse the .dot: {p.stderr.decode(errors='replace')[-1000:]}"
    assert b"syntax error" not in p.stderr.lower(), p.stderr
    return p.stdout


@pytest.mark.parametrize("head", ["", "title: t\n", "paper: p\n"], ids=["bare", "title", "paper"])
def test_diagram_minimal_spec(capsys, spec_file, head):
    """A valid spec without title or paper draws: the .dot must be valid Graphviz."""
    path = spec_file(HEAD + head + NODES)
    code, out, err = cli(capsys, "diagram", path, "--format", "dot", "-o", "d.dot")
    assert code == 0, err
    _svg_is_inert(_render_svg("d.dot"))


def _svg_is_inert(svg: bytes) -> None:
    root = ET.fromstring(svg)       # well-formed XML: labels were escaped, not spliced in
    for el in root.iter():
        tag = el.tag.rpartition("}")[2].lower()
        assert tag != "a", f"a link element in the SVG: {ET.tostring(el)[:200]!r}"
        for k, v in el.attrib.items():
            assert "javascript:" not in v.lower(), f"attribute {k}={v!r}"
            assert "href" not in k.lower(), f"link attribute {k}={v!r}"


@pytest.mark.parametrize("depth", ["0", "1"])
@pytest.mark.parametrize("case", list(DIAGRAM_CASES))
def test_diagram_labels(capsys, spec_file, tmp_path, case, depth):
    path = spec_file(DIAGRAM_CASES[case])
    code, out, err = cli(capsys, "diagram", path, "--format", "dot", "-o", "d.dot", "--depth", depth)
    no_traceback(out, err)
    no_stray_files(tmp_path)
    if code != 0:
        assert_fails(code, out, err, path)
        assert not (tmp_path / "d.dot").exists()
        return
    svg = _render_svg("d.dot")
    _svg_is_inert(svg)
    assert b"<a " not in svg.lower() and b"<a>" not in svg.lower()


@pytest.mark.parametrize("case", list(DIAGRAM_CASES) + ["script-title"])
def test_diagram_html_keeps_spec_text_in_json(capsys, spec_file, tmp_path, case):
    """--format html: spec text sits only inside the JSON island, which nothing can close early."""
    text = DIAGRAM_CASES.get(case) or DHEAD + f"title: {q('</script><script>alert(1)</script><!--')}\n" + NODES
    path = spec_file(text)
    code, out, err = cli(capsys, "diagram", path, "--format", "html", "-o", "d.html")
    no_traceback(out, err)
    if code != 0:
        assert_fails(code, out, err, path)
        return
    page = (tmp_path / "d.html").read_text()
    assert page.lower().count("</script") == 2 and page.lower().count("<script") == 2
    assert "<!--" not in page and "<a " not in page.lower()      # the <title> holds escaped text
    island = page.split('id="model">')[1].split("</script>")[0]
    assert "<" not in island and ">" not in island and "&" not in island
    json.loads(island)


# == 4. hangs and memory ==================================================================

def _laughs() -> str:
    """Billion laughs as one YAML flow node: 9 levels of 9 aliases (9**9 leaves)."""
    parts = ["&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        parts.append(f"&{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "[" + ", ".join(parts) + ", *i]"


def _deep(n: int) -> str:
    inner = "{op: conv, out: 4, k: 1}"
    for _ in range(n):
        inner = "{g: {nodes: [" + inner + "]}}"
    return inner


HANG_SPECS = {
    "alias-bomb": HEAD + f"params:\n  v: {_laughs()}\n" + NODES,
    "alias-bomb-title": HEAD + f"title: {_laughs()}\n" + NODES,
    "alias-self": HEAD + "params:\n  v: &a [*a]\n" + NODES,
    "alias-self-map": HEAD + "params: &m {v: *m}\n" + NODES,
    "block-uses-itself-twice": HEAD + "blocks:\n  b: {nodes: [{use: b}, {use: b}]}\nnodes:\n  - x: {use: b}\n",
    "blocks-mutual": HEAD + "blocks:\n  a: {nodes: [{use: b}, {use: b}]}\n  b: {nodes: [{use: a}, {use: a}]}\n"
                            "nodes:\n  - x: {use: a}\n",
    "repeat-1e9": HEAD + "nodes:\n  - {repeat: \"${10**9}\", node: relu}\n",
    "repeat-nested": HEAD + "nodes:\n  - {repeat: 1000, node: {repeat: 1000, node: {repeat: 1000, node: relu}}}\n",
    "quadratic-did-you-mean": HEAD + "nodes:\n"
        + "".join(f"  - n{i:04d}: relu\n" for i in range(2000))
        + "".join(f"  - m{i:04d}: {{op: relu, in: n{i:04d}x}}\n" for i in range(2000)),
    "extends-dev-zero": HEAD + "extends: /dev/zero\n" + NODES,
    "extends-dev-urandom": HEAD + "extends: /dev/urandom\n" + NODES,
    "use-dev-zero": HEAD + "use: /dev/zero\n" + NODES,
    "node-use-dev-zero": HEAD + "nodes:\n  - b: {use: /dev/zero}\n",
    "extends-self": HEAD + "extends: net.yaml\n" + NODES,
    "deep-list-10000": HEAD + "title: " + "[" * 10000 + "]" * 10000 + "\n" + NODES,
    "deep-map-10000": HEAD + "title: " + "{a: " * 10000 + "1" + "}" * 10000 + "\n" + NODES,
    "deep-groups-2000": HEAD + "nodes: [" + _deep(2000) + "]\n",
}
EXPRESSIONS = [
    "((10**64)**64)**64", "10**10**10", "9**9**9**9", "'a' * 10**10", "[0] * 10**9", "range(10**10)",
    "len(range(10**18))", "sum(range(10**10))", "'%0999999999d' % 1", "round(1, -10**9)",
    "round(1.5, 10**9)", "1e999", "1e308 * 10", "float('nan')", "-(2**70000)",
    "+".join(["1"] * 50000), "not " * 10000 + "1", "(" * 5000 + "1" + ")" * 5000, "[" * 5000 + "]" * 5000,
]


@pytest.mark.parametrize("case", list(HANG_SPECS))
def test_no_hang_spec(in_tmp, case):
    (in_tmp / "net.yaml").write_text(HANG_SPECS[case])
    code, out, err = cli_proc("validate", "net.yaml")
    assert_fails(code, out, err, "net.yaml")
    assert len(err) < 100_000, f"{len(err)} characters of errors"


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=lambda s: ascii(s)[:24])
def test_no_hang_expression(in_tmp, expr):
    (in_tmp / "net.yaml").write_text(HEAD + f"nodes:\n  - c: {{op: conv, out: {q('${' + expr + '}')}, k: 1}}\n")
    code, out, err = cli_proc("validate", "net.yaml")
    assert_fails(code, out, err, "net.yaml")
    assert len(err) < 20_000, f"{len(err)} characters of errors"


@pytest.mark.parametrize("value", [_laughs(), "&a [*a]", "!!python/object/apply:os.system ['touch pwned']",
                                   "[" * 10000 + "]" * 10000, "9" * 5000],
                         ids=["alias-bomb", "alias-self", "python-tag", "deep", "5000-digits"])
def test_no_hang_set(in_tmp, value):
    (in_tmp / "net.yaml").write_text(HEAD + "params: {v: 1}\n" + NODES)
    code, out, err = cli_proc("validate", "net.yaml", "--set", f"v={value}")
    assert_fails(code, out, err, set_loc=True)
    no_stray_files(in_tmp)


def test_extends_dev_stdin_does_not_wait(in_tmp):
    """`extends: /dev/stdin` with a terminal (here: a pipe nobody writes to) must not block."""
    (in_tmp / "net.yaml").write_text(HEAD + "extends: /dev/stdin\n" + NODES)
    r, w = os.pipe()
    try:
        code, out, err = cli_proc("validate", "net.yaml", stdin=r)
    finally:
        os.close(r)
        os.close(w)
    assert_fails(code, out, err, "net.yaml")


# == 5. tracebacks ========================================================================

TAGGED = {
    "int-abc": "title: !!int abc\n",
    "bool-maybe": "title: !!bool maybe\n",
    "timestamp": "title: !!timestamp 2020-13-45\n",
    "float-x": "title: !!float x\n",
    "binary-bad": "title: !!binary '!!!not base64'\n",
    "binary-as-out": "nodes:\n  - c: {op: conv, out: !!binary aGVsbG8=, k: 1}\n",
    "set": "title: !!set {a, b}\n",
    "omap": "title: !!omap [{a: 1}]\n",
    "python-object": "title: !!python/object:os.system {}\n",
    "python-apply": "title: !!python/object/apply:os.system ['touch pwned']\n",
    "python-name": "title: !!python/name:os.system ''\n",
    "local-tag": "title: !pwn x\n",
    "complex-key": "? [a, b]\n: 1\n",
    "complex-node-key": "nodes:\n  - ? [a]\n    : relu\n",
    "merge-key-bad": "params: {<<: 5}\n",
    "5000-digit-out": "nodes:\n  - c: {op: conv, out: " + "9" * 5000 + ", k: 1}\n",
    "5000-digit-input": "",
    "huge-param": "params: {w: " + "1" + "0" * 400 + "}\nnodes:\n  - c: {op: conv, out: \"${w}\", k: 1}\n",
    "nan-out": "nodes:\n  - c: {op: conv, out: .nan, k: 1}\n",
    "inf-k": "nodes:\n  - c: {op: conv, out: 4, k: .inf}\n",
    "1e999-k": "nodes:\n  - c: {op: conv, out: 4, k: 1.0e+999}\n",
    "nan-param": "params: {w: .nan}\nnodes:\n  - c: {op: conv, out: \"${w}\", k: 1}\n",
    "inf-param-expr": "params: {w: .inf}\nnodes:\n  - c: {op: conv, out: \"${int(w)}\", k: 1}\n",
    "nan-dropout": "nodes:\n  - d: {op: dropout, p: .nan}\n",
    "nan-eps": "nodes:\n  - c: {op: conv, out: 4, k: 1}\n  - b: {op: batchnorm, eps: .nan}\n",
    "inf-repeat": "nodes:\n  - {repeat: .inf, node: relu}\n",
    "nan-input": "",
    "null-node": "nodes:\n  - null\n  - relu\n",
    "int-node": "nodes:\n  - 5\n",
    "list-node": "nodes:\n  - [[relu]]\n",
    "op-mapping": "nodes:\n  - c: {op: {x: 1}}\n",
    "op-list": "nodes:\n  - c: {op: [conv]}\n",
    "use-mapping": "nodes:\n  - c: {use: {x: 1}}\n",
    "in-mapping": "nodes:\n  - c: {op: relu, in: {x: 1}}\n",
    "nul-in-name": "nodes:\n  - \"a\\0b\": relu\n",
    "surrogate": "nodes:\n  - \"a\\ud800\": relu\n",
}
TAGGED["5000-digit-input"] = None
TAGGED["nan-input"] = None


def _tagged_spec(case: str) -> str:
    if case == "5000-digit-input":
        return "archspec: 1\nname: net\ninput: [3, " + "9" * 5000 + ", 8]\n" + NODES
    if case == "nan-input":
        return "archspec: 1\nname: net\ninput: [3, .nan, 8]\n" + NODES
    body = TAGGED[case]
    return HEAD + body + ("" if "nodes:" in body else NODES)


@pytest.mark.parametrize("case", list(TAGGED))
def test_bad_yaml_values(capsys, spec_file, tmp_path, case):
    path = spec_file(_tagged_spec(case))
    code, out, err = cli(capsys, "validate", path)
    assert_fails(code, out, err, path)
    no_stray_files(tmp_path)


LIB_CASES = {
    "op-mapping": "      - c: {op: {x: 1}}\n",
    "op-list": "      - c: {op: [conv]}\n",
    "use-mapping": "      - c: {use: {x: 1}}\n",
    "use-list": "      - c: {use: [b]}\n",
    "bare-mapping-op": "      - {op: {x: 1}}\n",
    "name-mapping": "      - ? {x: 1}\n        : relu\n",
    "params-not-names": None,
}


@pytest.mark.parametrize("case", list(LIB_CASES))
def test_block_library(capsys, spec_file, tmp_path, case):
    """A block library (no nodes, no input) with malformed node forms."""
    if case == "params-not-names":
        text = "archspec: 1\nblocks:\n  b:\n    params: [[a], {b: 1}]\n    nodes: [relu]\n"
    else:
        text = "archspec: 1\nblocks:\n  b:\n    nodes:\n" + LIB_CASES[case]
    path = spec_file(text, "lib.yaml")
    code, out, err = cli(capsys, "validate", path)
    assert_fails(code, out, err, path)


def test_summary_negative_depth(capsys, spec_file):
    path = spec_file(HEAD + NODES)
    code, out, err = cli(capsys, "summary", path, "--depth", "-1")
    assert_fails(code, out, err, codes=(1, 2))


def _ops(tmp: Path, kind: str) -> str:
    if kind == "empty":
        return ""
    if kind == "dir":
        (tmp / "opsdir").mkdir()
        return "opsdir"
    if kind == "dir-slash":
        (tmp / "opsdir").mkdir()
        return "./opsdir/"
    if kind == "dir-named-py":
        (tmp / "ops.py").mkdir()
        return "ops.py"
    if kind == "syntax-error":
        (tmp / "bad_ops.py").write_text("def (:\n")
        return "bad_ops.py"
    if kind == "raises":
        (tmp / "boom_ops.py").write_text("raise RuntimeError('boom at import')\n")
        return "boom_ops.py"
    if kind == "sys-exit":
        (tmp / "exit_ops.py").write_text("import sys\nsys.exit(7)\n")
        return "exit_ops.py"
    if kind == "relative-module":
        return ".x"
    if kind == "binary":
        (tmp / "bin_ops.py").write_bytes(b"\xff\xfe\x00\x00garbage")
        return "bin_ops.py"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["empty", "dir", "dir-slash", "dir-named-py", "syntax-error", "raises",
                                  "relative-module", "binary"])
def test_ops_bad_source(capsys, spec_file, tmp_path, kind):
    path = spec_file(HEAD + NODES)
    src = _ops(tmp_path, kind)
    code, out, err = cli(capsys, "validate", path, "--ops", src)
    assert_fails(code, out, err, codes=(1, 2))


# == 6. valid-looking specs that make broken Python =======================================

BROKEN_PY = {
    "loss-weight-nan": """nodes:
  - c: {op: conv, out: 4, k: 1}
  - h: {op: conv, out: 2, k: 1, in: c}
  - m: {op: relu, in: c}
outputs:
  m: m
  h: {node: h, train_only: true, loss_weight: .nan}
""",
    "loss-weight-inf": """nodes:
  - c: {op: conv, out: 4, k: 1}
  - h: {op: conv, out: 2, k: 1, in: c}
outputs:
  c: c
  h: {node: h, loss_weight: .inf}
""",
    "init-std-inf": "init:\n  conv: {weight: normal, std: .inf}\n" + NODES,
    "init-weight-nan": "init:\n  conv: {weight: .nan, bias: .inf}\n" + NODES,
    "init-mean-1e999": "init:\n  conv: {weight: normal, mean: 1.0e+999}\n" + NODES,
    "lrn-alpha-overflows": "nodes:\n  - c: {op: conv, out: 8, k: 1}\n  - n: {op: lrn, size: 5, alpha: 1.0e+308}\n",
    "lrn-k-inf": "nodes:\n  - c: {op: conv, out: 8, k: 1}\n  - n: {op: lrn, size: 5, k: .inf}\n",
    "scaled-tanh-nan": "nodes:\n  - c: {op: conv, out: 4, k: 1}\n  - t: {op: scaled_tanh, A: .nan, S: .inf}\n",
    "bn-momentum-nan": "nodes:\n  - c: {op: conv, out: 4, k: 1}\n  - b: {op: batchnorm, momentum: .nan}\n",
    "nested-groups-200": "nodes: [" + _deep(200) + "]\n",
    "nested-seq-250": "nodes: [" + ("{s: {seq: [" * 250) + "{op: conv, out: 4, k: 1}" + ("]}}" * 250) + "]\n",
    "nested-blocks-120": "blocks:\n" + "".join(f"  b{i}: {{nodes: [{{use: b{i + 1}}}]}}\n" for i in range(120))
                         + "  b120: {nodes: [{op: conv, out: 4, k: 1}]}\nnodes:\n  - x: {use: b0}\n",
    "dead-node-reads-train-only": """nodes:
  - c: {op: conv, out: 4, k: 1}
  - head: {op: conv, out: 2, k: 1, in: c}
  - dead: {op: relu, in: head}
  - main: {op: relu, in: c}
outputs:
  out: main
  aux: {node: head, train_only: true}
""",
    "dead-node-reads-train-only-block": """blocks:
  cbr: {nodes: [{op: conv, out: 2, k: 1}, relu]}
nodes:
  - c: {op: conv, out: 4, k: 1}
  - head: {use: cbr, in: c}
  - dead: {op: lrn, size: 5, in: head}
  - main: {op: relu, in: c}
outputs:
  out: main
  aux: {node: head, train_only: true}
""",
    "train-only-output-is-main-input": """nodes:
  - c: {op: conv, out: 4, k: 1}
  - head: {op: conv, out: 4, k: 1, in: c}
  - main: {op: add, in: [c, head]}
outputs:
  out: main
  aux: {node: head, train_only: true}
""",
    "only-train-only-outputs": """nodes:
  - c: {op: conv, out: 4, k: 1}
outputs:
  aux: {node: c, train_only: true}
""",
}


@pytest.mark.parametrize("case", list(BROKEN_PY))
def test_valid_looking_spec(capsys, spec_file, tmp_path, case):
    path = spec_file(HEAD + BROKEN_PY[case])
    build_outcome(capsys, tmp_path, path)


# == 7. other outputs =====================================================================

def _no_constants(name):
    raise ValueError(f"bare {name} in JSON")


@pytest.mark.parametrize("case", ["loss-weight-nan", "loss-weight-inf", "reference", "lrn-alpha-overflows"])
def test_summary_json_is_strict(capsys, spec_file, case):
    body = BROKEN_PY.get(case) or ("reference: {params: .nan, macs: .inf, params_millions: .nan, "
                                   "source: x}\n" + NODES)
    path = spec_file(HEAD + body)
    code, out, err = cli(capsys, "summary", path, "--json")
    no_traceback(out, err)
    if code != 0:
        assert_fails(code, out, err, path)
        return
    json.loads(out, parse_constant=_no_constants)


FORMULAS = ["=1+1", "@SUM(A1)", "+cmd", "-cmd", "=HYPERLINK(\"http://x\",\"y\")", "\t=1+1"]


@pytest.mark.parametrize("depth", [None, "1"])
@pytest.mark.parametrize("text", FORMULAS, ids=lambda s: ascii(s)[:16])
def test_summary_csv_has_no_formulas(capsys, spec_file, text, depth):
    path = spec_file(HEAD + f"title: {q(text)}\n" + f"""blocks:
  {q(text)}:
    params: {{tag: str}}
    nodes: [{{op: conv, out: 4, k: 1}}, relu]
nodes:
  - b: {{use: {q(text)}, tag: {q(text)}}}
  - {q(text)}: {{op: conv, out: 4, k: 1}}
""")
    code, out, err = cli(capsys, "summary", path, "--format", "csv", *(["--depth", depth] if depth else []))
    no_traceback(out, err)
    if code != 0:
        assert_fails(code, out, err, path)
        return
    for row in csv.reader(io.StringIO(out)):
        for cell in row:
            try:
                float(cell.replace(",", ""))
                continue                 # a number, negative or not
            except ValueError:
                pass
            assert cell.lstrip("\t\r ")[:1] not in ("=", "+", "-", "@"), f"formula-like cell {cell!r}"


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ESCAPES = {
    "title": HEAD + "title: \"\\e[31mred\\e[0m \\e]0;pwn\\a\"\n" + NODES,
    "unknown-op": HEAD + "nodes:\n  - c: {op: \"\\e[31mcnv\", out: 4, k: 1}\n",
    "node-name": HEAD + "nodes:\n  - \"\\e[2J\": relu\n",
    "c1-csi": HEAD + "nodes:\n  - c: {op: \"\\x9b31mcnv\"}\n",
    "block-name": HEAD + "blocks:\n  \"\\e[31mb\": {nodes: [relu]}\nnodes:\n  - x: {use: \"\\e[31mb\"}\n",
    "raw-escape-in-file": HEAD + "title: \x1b[31mred\n" + NODES,
    "unknown-key": HEAD + "\"\\e[31mkey\": 1\n" + NODES,
}


@pytest.mark.parametrize("command", ["validate", "summary", "build"])
@pytest.mark.parametrize("case", list(ESCAPES))
def test_no_terminal_escapes(capsys, spec_file, case, command):
    path = spec_file(ESCAPES[case])
    code, out, err = cli(capsys, command, path, *(["-o", "out"] if command == "build" else []))
    no_traceback(out, err)
    bad = CONTROL.search(out + err)
    assert bad is None, f"raw control character {bad.group()!r} reached the terminal:\n{(out + err)[-1500:]!r}"
    if code != 0:
        assert_fails(code, out, err, path)


@pytest.mark.parametrize("key", ["extends", "use"])
def test_foreign_file_is_not_echoed(capsys, spec_file, tmp_path, key):
    path = spec_file(HEAD + f"{key}: /etc/passwd\n" + NODES)
    code, out, err = cli(capsys, "validate", path)
    assert_fails(code, out, err)
    assert "root:x:0:0" not in out + err

    lines = "".join(f"SECRET-LINE-{i:04d} token {i * 7919}\n" for i in range(500))
    (tmp_path / "notes.txt").write_text(lines)
    path = spec_file(HEAD + f"{key}: notes.txt\n" + NODES)
    code, out, err = cli(capsys, "validate", path)
    assert_fails(code, out, err)
    assert (out + err).count("SECRET-LINE-") <= 2 and len(out + err) < 4000, (out + err)[:2000]


# -- the validator's tables and the last resort --------------------------------------------

def test_reserved_names_cover_nn_module():
    """names.MODULE_ATTRS (kept torch-free) lists every public attribute of torch.nn.Module."""
    from torch import nn

    from archspec.names import MODULE_ATTRS
    public = {a for a in dir(nn.Module) if not a.startswith("_")}
    assert public <= MODULE_ATTRS, sorted(public - MODULE_ATTRS)


@pytest.mark.parametrize("name, ok", [("conv1", True), ("layer2_0", True), ("0", False), ("none", True),
                                      ("None", False), ("forward", False), ("super", False), ("x" * 64, True),
                                      ("x" * 65, False), ("conv1\n", False), ("cοnv", False), ("_x", False),
                                      ("a-b", False), ("match", False), ("state_dict", False)])
def test_name_validator(name, ok):
    from archspec.names import name_problem
    assert (name_problem(name) is None) == ok, name_problem(name)


@pytest.mark.parametrize("name, ok", [("0", True), ("17", True), ("block1-0", True), ("b_2-13", True),
                                      ("a-b", False), ("a-1x", False), ("-1", False), ("a--1", False),
                                      ("1-0", False), ("a-1\n", False), ("a" * 62 + "-1", True),
                                      ("a" * 63 + "-1", False)])
def test_node_names_may_be_torchs_indices(name, ok):
    """Node names (only they) may also be indices (features.0) or RegNet's numbered children
    (trunk_output.block1.block1-0): state_dict keys that the compiled module reaches by getattr."""
    from archspec.names import name_problem
    assert (name_problem(name, index_ok=True) is None) == ok, name_problem(name, index_ok=True)


def test_a_bug_is_one_line_not_a_traceback(capsys, monkeypatch, spec_file):
    """main's last resort: an exception that is archspec's own bug ends as one line, exit 1."""
    import archspec.reports.report
    monkeypatch.setattr(archspec.reports.report, "format_summary", lambda *a, **k: 1 / 0)
    code, out, err = cli(capsys, "summary", spec_file(HEAD + NODES))
    assert code == 1 and "Traceback" not in err
    assert "internal error: ZeroDivisionError" in err and len(err.strip().splitlines()) == 1
