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
from isolated import run_cli  # noqa: E402  (tests/isolated.py)

HEAD = "archspec: 1\nname: net\ninput: [3, 8, 8]\n"
NODES = "nodes:\n  - c: {op: conv, out: 4, k: 1}\n  - relu\n"
TIMEOUT = 20                 # seconds: only to turn a hang into a failure, never a speed check
MEMORY = 3 << 30             # address-space limit of the subprocess runs


def q(s: str) -> str:
    """A YAML double-quoted scalar for any string (JSON strings are YAML)."""
    return json.dumps(s)


def case_id(text: str) -> str:
    """A test id from hostile text: word characters only, so that the id given back to pytest on
    a command line (as mutmut does) names the test again."""
    return re.sub(r"[^A-Za-z0-9_=+@.-]+", "_", ascii(text)[1:-1])[:24] or "empty"


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


def cli_proc(*argv):
    """`archspec ...` in the current folder, in a process of its own with a timeout and a memory
    limit (tests/isolated.py: forked from a server that imported archspec once)."""
    code, out, err = run_cli([str(a) for a in argv], TIMEOUT, MEMORY)
    if code is None:
        pytest.fail(f"hang: `archspec {' '.join(map(str, argv))[:120]}` still running after {TIMEOUT} s")
    assert code >= 0, f"killed by signal {-code}:\n{err[-2000:]}"
    return code, out, err


def _limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def cli_subprocess(*argv, stdin):
    """`python -m archspec ...` in the current folder, reading `stdin`, with a timeout and a memory
    limit: a Python of its own, for the case that needs its standard input."""
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


def assert_refused(code, out, err, where: str, *words: str) -> None:
    """The expected refusal: exit 1, no traceback, and stderr's first line is `<where>: error: ...`
    holding each of `words` (where = `net.yaml:<line>:<col>`, or the path a write failed on)."""
    no_traceback(out, err)
    first = err.lstrip().split("\n", 1)[0]
    assert code == 1, f"exit {code}, expected a refusal at {where}\nstdout: {out[-1500:]}\nstderr: {err[-1500:]}"
    assert first.startswith(f"{where}: error: ") and all(w in first for w in words), \
        f"expected `{where}: error: ...{' ... '.join(words)}...`, got:\n{err[-1500:]}"


# why the one name validator (archspec/names.py) refuses a name, word for word
PATTERN = "a name starts with an ASCII letter and has only letters, digits and _"
TOO_LONG = "a name has at most 64 characters"


def reserved(name: str) -> str:
    return f"'{name}' is reserved (a Python keyword or builtin, or a name the compiled module uses)"


def why_refused(name: str) -> str:
    """The validator's reason, decided here from the rule itself (not by calling names.py)."""
    if len(name) > 64:
        return TOO_LONG
    return PATTERN if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) else reserved(name)


def build_refused(capsys, tmp: Path, path: str, where: str, *words: str) -> None:
    """`build` refuses at `where` with `words`, writing nothing."""
    code, out, err = cli(capsys, "build", path, "-o", "out")
    assert_refused(code, out, err, where, *words)
    no_stray_files(tmp)
    assert not (tmp / "out").exists() or not any((tmp / "out").iterdir()), "a failed build wrote files"


def build_outcome(capsys, tmp: Path, path: str) -> str:
    """Build `path` into out/: a module that is plain generated source and passes --check.
    Returns the source."""
    out_dir = tmp / "out"
    code, out, err = cli(capsys, "build", path, "-o", "out")
    no_traceback(out, err)
    no_stray_files(tmp)
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
NODE_NAMES_BUILT = {"none", "x", "out", "block1-0", "forward-1"}    # every other one is refused


def _model(text: str):
    from archspec.pytorch import compiler
    return compiler.load_source(text, "net").Model()


@pytest.mark.parametrize("name", NODE_NAMES, ids=case_id)
def test_node_name(capsys, spec_file, tmp_path, name):
    """A node name is an attribute, a local variable in forward and a state_dict key: one that
    cannot be all three safely is refused where it is first written (the block's node, line 7);
    the others build, and the name is the module's attribute and state_dict key as written."""
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
    if name not in NODE_NAMES_BUILT:
        rule = "a name starts with an ASCII letter" if re.fullmatch(r"[a-z]+-[0-9]+", name) else why_refused(name)
        build_refused(capsys, tmp_path, path, "net.yaml:7:9", repr(name)[:50], f"cannot be a node name: {rule}")
        return
    model = _model(build_outcome(capsys, tmp_path, path))
    assert {f"{name}.weight", f"b.{name}.weight"} <= set(model.state_dict())
    assert type(getattr(model, name)).__name__ == "Conv2d"


BLOCK_NAMES = [INJECT, "x;open('pwned','w');x", "None", "Model", "nn", "F", "torch", "getattr", "super",
               "Conv2d", "\uff23\uff42\uff52"]


@pytest.mark.parametrize("name", BLOCK_NAMES, ids=case_id)
def test_block_name(capsys, spec_file, tmp_path, name):
    """Block names become class names; used named and anonymously (`- name` as a list item).
    All but Conv2d are refused at the block's key; Conv2d is a class of its own (nn.Conv2d is
    only ever reached as an attribute of nn)."""
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
    if name != "Conv2d":
        build_refused(capsys, tmp_path, path, "net.yaml:5:3", f"block name {repr(name)[:50]}"[:50],
                      f"is not allowed: {why_refused(name)}")
        return
    text = build_outcome(capsys, tmp_path, path)
    assert "class Conv2d(nn.Module):" in text and "self.conv = nn.Conv2d(in_channels, 4, 1)" in text
    model = _model(text)
    assert type(model.b).__name__ == type(model.Conv2d).__name__ == "Conv2d"
    assert type(model.b.conv).__module__ == "torch.nn.modules.conv"


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
    build_refused(capsys, tmp_path, path, "net.yaml:5:3", "block name \"x;open('pwned','w');x\" is not allowed",
                  PATTERN)


def test_block_class_names_collide(capsys, spec_file, tmp_path):
    """Two blocks whose names make the same class name, with different structures: two classes."""
    path = spec_file(HEAD + """blocks:
  res_block: {nodes: [{op: conv, out: 4, k: 1}]}
  resBlock: {nodes: [{op: conv, out: 4, k: 3, pad: 1}, {op: conv, out: 4, k: 1}]}
  ResBlock: {nodes: [{op: conv, out: 4, k: 5, pad: 2}]}
nodes:
  - a: res_block
  - b: resBlock
  - c: ResBlock
""")
    model = _model(build_outcome(capsys, tmp_path, path))
    assert type(model.a) is type(model.c) and type(model.a) is not type(model.b)      # a and c: one structure
    assert (model.a.conv.kernel_size, model.c.conv.kernel_size, len(list(model.b.children()))) == ((1, 1), (5, 5), 2)


# title -> (how it reads in the header comment and the class docstring, the top class's name):
# one line, printable, no double quote or backslash (emit/source.py's _text), and a class name
# only where the one name validator accepts one made from it
TITLES = {
    "None": ("None", "Net"), "True": ("True", "Net"), "F": ("F", "Net"), "nn": ("nn", "Net"),
    "torch": ("torch", "Net"), "Model": ("Model", "Net"), "Cbr": ("Cbr", "Net"),
    '"""': ("'''", "Net"),
    'x """\nimport os\nos.system("touch pwned")\n"""': ("x ''' import os os.system('touch pwned') '''",
                                                         "Net"),
    "'''": ("'''", "Net"), "ends with a backslash \\": ("ends with a backslash /", "Net"),
    "": (None, "Net"), "123": ("123", "Net"),
    "x\rimport os; os.system('touch pwned')\r#": ("x import os; os.system('touch pwned') #", "Net"),
    "nul \x00 byte": ("nul byte", "Net"), "x\x0cimport os": ("x import os", "Net"),
    "line\u2028sep": ("line sep", "Net"),
    "the NeT, i.e. x\nimport os": ("the NeT, i.e. x import os", "NeT"),    # the name 'net' as the title cases it
    "word " * 80: (" ".join(["word"] * 60) + "…", "Net"),     # cut at 300 characters
}


@pytest.mark.parametrize("title", list(TITLES), ids=case_id)
def test_title(capsys, spec_file, tmp_path, title):
    """The title is metadata: it reaches the header comment and the docstring (each through its
    one gate) and the class name only as the casing of the spec's name, never code. Every title builds."""
    path = spec_file(HEAD + f"title: {q(title)}\n" + """blocks:
  cbr: {nodes: [{op: conv, out: 4, k: 1}, relu]}
nodes:
  - c: {op: conv, out: 4, k: 1}
  - b: cbr
  - {op: relu, in: b}
""")
    shown, cls = TITLES[title]
    text = build_outcome(capsys, tmp_path, path)
    tree = ast.parse(text)
    top = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    header = " ".join(line[2:] for line in text.split("\n\n\n")[0].splitlines() if line.startswith("# "))
    doc = " ".join((ast.get_docstring(top) or "").split())
    if shown is None:
        assert "from spec 'net': edit" in header and doc.startswith("net Input (N, 3, 8, 8)"), (header, doc)
    else:
        assert f"from spec 'net' ({shown}): edit" in header and doc.startswith(f"{shown} Input (N, 3, 8, 8)"), \
            (header, doc)
    assert text.rstrip().endswith(f"Model = {cls}")


SPEC_NAMES = ["None", INJECT, "x\\", "torch", "123", "n" * 300]


@pytest.mark.parametrize("name", SPEC_NAMES, ids=case_id)
def test_spec_name(capsys, spec_file, tmp_path, name):
    """The spec name reaches file names, class names and diagram ids: the validator refuses each."""
    path = spec_file(f"archspec: 1\nname: {q(name)}\ninput: [3, 8, 8]\n" + NODES)
    build_refused(capsys, tmp_path, path, "net.yaml:2:7", f"spec name {repr(name)[:50]}"[:50],
                  f"is not allowed: {why_refused(name)}")


@pytest.mark.parametrize("param", ["super", "class", "self", "torch", "nn", "F", "None", "lambda",
                                   "__class__", "x"])
def test_param_name(capsys, spec_file, tmp_path, param):
    """Spec and block params named like Python keywords or the generated code's own names are
    refused (located at the spec param's value); `x` builds: two instances with different
    values make the block class take the value as an argument named x."""
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
    if param != "x":
        build_refused(capsys, tmp_path, path, f"net.yaml:4:{12 + len(param)}",
                      f"parameter name '{param}' is not allowed: {why_refused(param)}")
        return
    text = build_outcome(capsys, tmp_path, path)
    assert "def __init__(self, x):" in text and "self.b1 = Blk(4)" in text and "self.b2 = Blk(8)" in text
    model = _model(text)
    assert (model.b1.conv.out_channels, model.b2.conv.out_channels) == (4, 8)


OUTPUTS = """nodes:
  - c: {{op: conv, out: 4, k: 1}}
  - head: {{op: conv, out: 2, k: 1, in: c}}
  - main: {{op: relu, in: c}}
outputs:
  main: main
  {name}: {{node: head, train_only: true, loss_weight: 0.3}}
"""


@pytest.mark.parametrize("name", ["a'b", 'a"b', "a\\", "a\nb", '"""', "x'}; import os; {'"],
                         ids=case_id)
def test_output_name(capsys, spec_file, tmp_path, name):
    """Output names are dict keys in forward's result and in loss_weights: the validator refuses
    any that is not a plain name, at the name."""
    path = spec_file(HEAD + OUTPUTS.format(name=q(name)))
    build_refused(capsys, tmp_path, path, "net.yaml:10:3", f"output name {name!r} is not allowed: {PATTERN}")


def test_output_name_that_builds(capsys, spec_file, tmp_path):
    """A plain output name reaches the source only through literal(): a dict key, as written."""
    import torch
    text = build_outcome(capsys, tmp_path, spec_file(HEAD + OUTPUTS.format(name="aux_head")))
    assert 'self.loss_weights = {"aux_head": 0.3}' in text and 'output_names = ("main", "aux_head")' in text
    model = _model(text).train()
    assert set(model(torch.zeros(1, 3, 8, 8))) == {"main", "aux_head"}
    assert model.loss_weights == {"aux_head": 0.3} and model.output_names == ("main", "aux_head")


# == 2. output paths ======================================================================

@pytest.mark.parametrize("name", ["../escape/x", "/tmp/archspec_abs_test/x", "..", "a/../../b"])
def test_diagram_name_is_not_a_path(capsys, tmp_path, monkeypatch, name):
    """The default diagram file is named after the spec: a name that is a path is refused at the
    name, and nothing is written anywhere (names.file_stem, behind it, is test_file_stem's)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    shutil.rmtree("/tmp/archspec_abs_test", ignore_errors=True)
    (cwd / "net.yaml").write_text(f"archspec: 1\nname: {q(name)}\ninput: [3, 8, 8]\n" + NODES)
    code, out, err = cli(capsys, "diagram", "net.yaml", "--format", "dot")
    try:
        assert_refused(code, out, err, "net.yaml:2:7", f"spec name {name!r} is not allowed: {PATTERN}")
        assert not os.path.exists("/tmp/archspec_abs_test"), "diagram wrote to an absolute path"
        assert sorted(p.name for p in tmp_path.rglob("*")) == ["cwd", "net.yaml"]
    finally:
        shutil.rmtree("/tmp/archspec_abs_test", ignore_errors=True)


def test_build_name_is_not_a_path(capsys, spec_file, tmp_path):
    path = spec_file("archspec: 1\nname: ../../escape/x\ninput: [3, 8, 8]\n" + NODES)
    code, out, err = cli(capsys, "build", path, "-o", "sub/out")
    assert_refused(code, out, err, "net.yaml:2:7", f"spec name '../../escape/x' is not allowed: {PATTERN}")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["net.yaml"]


@pytest.mark.parametrize("name, stem", [("resnet50", "resnet50"), ("ResNet_50", "ResNet_50"), ("Xnet_", "Xnet"),
                                        ("../escape/x", "escape_x"), ("/tmp/x", "tmp_x"),
                                        ("..", "model"), ("", "model"), ("a/../../b", "a_______b"),
                                        ("_x_", "x"), ("n" * 80, "n" * 64), ("c\u03bfnv.py", "c_nv_py"),
                                        ("a\x00b", "a_b")])
def test_file_stem(name, stem):
    """Behind the validator: whatever a graph's name is, the default output file is a plain
    word-character file name in the current folder, never a path or a hidden file."""
    from archspec.names import file_stem
    assert file_stem(name) == stem


def test_write_is_whole_or_not_at_all(tmp_path):
    """files.write_atomic: a write that fails half-way leaves the old file as it was and no
    temporary; a new file is 0644, a rewritten one keeps its mode."""
    from archspec.files import write_atomic
    target = tmp_path / "net.py"
    target.write_text("keep me")
    target.chmod(0o600)
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half\ud800")           # fails while writing: no encoding for a lone surrogate
    assert target.read_text() == "keep me" and [p.name for p in tmp_path.iterdir()] == ["net.py"]
    assert write_atomic(target, "new") == target and target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o600
    fresh = write_atomic(tmp_path / "sub" / "fresh.py", b"x")
    assert fresh.read_bytes() == b"x" and fresh.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["fresh.py", "net.py", "sub"]


def test_temporary_file_is_hidden_beside_the_target(tmp_path, monkeypatch):
    """The temporary a write goes through is `.<name>.<random>.tmp` in the target's folder (so a
    reader never mistakes it for output, and no_stray_files can find one left behind)."""
    import archspec.files
    seen = []
    real = os.replace
    monkeypatch.setattr(archspec.files.os, "replace", lambda src, dst: (seen.append(src), real(src, dst)))
    long = "n" * 150 + ".py"
    archspec.files.write_atomic(tmp_path / "net.py", "x")
    archspec.files.write_atomic(tmp_path / long, "x")
    names = [Path(src).name for src in seen]
    assert [Path(src).parent for src in seen] == [tmp_path, tmp_path]
    assert re.fullmatch(r"\.net\.py\.[^.]+\.tmp", names[0]) and re.fullmatch(r"\.n{100}\.[^.]+\.tmp", names[1]), names


@pytest.mark.parametrize("value, text", [(None, "nothing (an empty value)"), ("a" * 58, repr("a" * 58)),
                                         ("a" * 59, "'" + "a" * 56 + "..."), ("ab", "'ab'"),
                                         (list(range(30)), repr(list(range(30)))[:57] + "...")])
def test_shown_quotes_at_most_60_characters(value, text):
    """names.shown: an error quotes a value by its repr, at most 60 characters (a file read by
    mistake is never echoed whole)."""
    from archspec.names import shown
    assert shown(value) == text and len(shown(value)) <= 60


def _existing_file(tmp: Path) -> str:
    (tmp / "taken").write_text("keep me")
    return "taken"


def _dir_named_like_module(tmp: Path) -> str:
    (tmp / "out" / "net.py").mkdir(parents=True)
    return "out"


# -o target -> the path the error names and the system's reason
UNWRITABLE = {
    "existing-file": (_existing_file, "taken/net.py", "cannot write taken/net.py: File exists"),
    "proc": (lambda t: "/proc/x", "/proc/x/net.py", "cannot write /proc/x/net.py: No such file or directory"),
    "300-chars": (lambda t: "d" * 300, "d" * 119 + "…", "cannot write " + "d" * 119 + "…: File name too long"),
    "proc-deep": (lambda t: "/proc/x/y", "/proc/x/y/net.py",
                  "cannot write /proc/x/y/net.py: No such file or directory"),
    "dir-named-net.py": (_dir_named_like_module, "out/net.py", "cannot write out/net.py: Is a directory"),
}


@pytest.mark.parametrize("case", list(UNWRITABLE))
def test_build_unwritable_output(capsys, spec_file, tmp_path, case):
    target, where, words = UNWRITABLE[case]
    path = spec_file(HEAD + NODES)
    code, out, err = cli(capsys, "build", path, "-o", target(tmp_path))
    assert_refused(code, out, err, where, words)
    no_stray_files(tmp_path)
    if case == "existing-file":
        assert (tmp_path / "taken").read_text() == "keep me"


DIAGRAM_TARGETS = {
    "/proc/x.svg": ("/proc/x.svg", "cannot write /proc/x.svg: No such file or directory"),
    "d" * 300 + ".dot": ("d" * 119 + "…", "cannot write " + "d" * 119 + "…: File name too long"),
    "adir.dot": ("adir.dot", "cannot write adir.dot: Is a directory"),
    "missing/dir/x.dot": None,      # built: the missing folders are made
}


@pytest.mark.parametrize("target", list(DIAGRAM_TARGETS), ids=case_id)
def test_diagram_unwritable_output(capsys, spec_file, tmp_path, target):
    path = spec_file(HEAD + NODES)
    (tmp_path / "adir.dot").mkdir()
    code, out, err = cli(capsys, "diagram", path, "-o", target, "--format", "dot")
    no_stray_files(tmp_path)
    if DIAGRAM_TARGETS[target] is not None:
        assert_refused(code, out, err, *DIAGRAM_TARGETS[target])
        return
    assert code == 0 and (tmp_path / target).read_text().startswith("digraph"), err


# == 3. diagram label injection ===========================================================

HTML = '<A HREF="javascript:alert(1)">x</A> & y'
DHEAD = HEAD + "paper: p\n"       # (a spec without `paper:` is test_diagram_minimal_spec's case)
BLOCK_HTML = 'x"><A HREF="javascript:alert(1)">'
NODE_HTML = 'n"><A HREF="javascript:alert(1)">'
BS1, BS2 = "x \\", "x \\\\"        # end with one / two backslashes
BLOCK_ARGS = DHEAD + f"""blocks:
  blk:
    params: {{tag: str}}
    nodes: [{{op: conv, out: 4, k: 1}}, relu]
nodes:
  - b1: {{use: blk, tag: {q(HTML)}}}
  - b2: {{use: blk, tag: {q(BS1[2:] + "N")}}}
"""
LINES = "a\n<B>b</B>\rc \\G"      # \G: Graphviz's escape for the graph's name
# spec text that validation lets through, and where it must show, as text, in the drawing:
# case -> (spec, {depth: texts that are whole <text> elements of the SVG})
DIAGRAM_BUILT = {
    "title": (DHEAD + f"title: {q(HTML)}\n" + NODES, {"0": [HTML], "1": [HTML]}),
    "title-backslash": (DHEAD + f"title: {q(BS2)}\n" + NODES, {"0": [BS2], "1": [BS2]}),
    "title-one-backslash": (DHEAD + f"title: {q(BS1)}\n" + NODES, {"0": [BS1], "1": [BS1]}),
    "title-lines": (DHEAD + f"title: {q(LINES)}\n" + NODES,
                    {"0": ["a <B>b</B> c \\G"], "1": ["a <B>b</B> c \\G"]}),
    "paper": (HEAD + f"paper: {q(HTML)}\n" + NODES, {"0": [HTML], "1": [HTML]}),
    # a block's string arguments are drawn with its cluster (every node); collapsed, its box shows the ops
    "block-string-arg": (BLOCK_ARGS, {"0": [f"tag={HTML}", "tag=\\N"], "1": []}),
}
# spec text that validation refuses: case -> (spec, location, words)
DIAGRAM_REFUSED = {
    "block-name": (DHEAD + f"""blocks:
  {q(BLOCK_HTML)}: {{nodes: [{{op: conv, out: 4, k: 1}}, relu]}}
nodes:
  - b: {{use: {q(BLOCK_HTML)}}}
  - c: {{op: conv, out: 4, k: 1}}
""", "net.yaml:6:3", f"block name {BLOCK_HTML!r} is not allowed: {PATTERN}"),
    "node-name": (DHEAD + f"nodes:\n  - {q(NODE_HTML)}: {{op: conv, out: 4, k: 1}}\n",
                  "net.yaml:6:5", f"{NODE_HTML!r} cannot be a node name: {PATTERN}"),
    "name-backslash": (f"archspec: 1\nname: {q('net' + chr(92))}\npaper: p\ninput: [3, 8, 8]\n" + NODES,
                       "net.yaml:2:7", f"spec name {'net' + chr(92)!r} is not allowed: {PATTERN}"),
    "name-html": (f"archspec: 1\nname: {q(HTML)}\npaper: p\ninput: [3, 8, 8]\n" + NODES,
                  "net.yaml:2:7", f"spec name {HTML!r} is not allowed: {PATTERN}"),
    "node-backslash": (DHEAD + f"nodes:\n  - {q('n' + chr(92))}: {{op: conv, out: 4, k: 1}}\n",
                       "net.yaml:6:5", f"{'n' + chr(92)!r} cannot be a node name: {PATTERN}"),
    "output-name": (DHEAD + f"""nodes:
  - c: {{op: conv, out: 4, k: 1}}
  - h: {{op: conv, out: 2, k: 1, in: c}}
  - m: {{op: relu, in: c}}
outputs:
  m: m
  {q(HTML)}: {{node: h, train_only: true}}
""", "net.yaml:11:3", f"output name {HTML!r} is not allowed: {PATTERN}"),
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


def _svg_is_inert(svg: bytes) -> list[str]:
    """The SVG's text elements; it must be well-formed XML (labels were escaped, not spliced in)
    with no link element or attribute."""
    root = ET.fromstring(svg)
    for el in root.iter():
        tag = el.tag.rpartition("}")[2].lower()
        assert tag != "a", f"a link element in the SVG: {ET.tostring(el)[:200]!r}"
        for k, v in el.attrib.items():
            assert "javascript:" not in v.lower(), f"attribute {k}={v!r}"
            assert "href" not in k.lower(), f"link attribute {k}={v!r}"
    return [el.text or "" for el in root.iter() if el.tag.rpartition("}")[2] == "text"]


@pytest.mark.parametrize("depth", ["0", "1"])
@pytest.mark.parametrize("case", list(DIAGRAM_BUILT))
def test_diagram_labels(capsys, spec_file, tmp_path, case, depth):
    """Spec text in a label is text: Graphviz draws it character for character, and the SVG
    holds it as escaped text with no element or link made from it."""
    spec, texts = DIAGRAM_BUILT[case]
    path = spec_file(spec)
    code, out, err = cli(capsys, "diagram", path, "--format", "dot", "-o", "d.dot", "--depth", depth)
    no_traceback(out, err)
    no_stray_files(tmp_path)
    assert code == 0, err
    drawn = _svg_is_inert(_render_svg("d.dot"))
    for text in texts[depth]:
        assert text in drawn, f"{text!r} is not one text element of the SVG: {drawn}"
    if not texts[depth]:
        assert not any("tag=" in t for t in drawn), drawn


@pytest.mark.parametrize("command", ["dot", "html"])
@pytest.mark.parametrize("case", list(DIAGRAM_REFUSED))
def test_diagram_refuses_names(capsys, spec_file, tmp_path, case, command):
    """Names become DOT ids, JSON keys and file names: the validator refuses these at the name,
    and nothing is written."""
    spec, where, words = DIAGRAM_REFUSED[case]
    path = spec_file(spec)
    code, out, err = cli(capsys, "diagram", path, "--format", command, "-o", f"d.{command}")
    assert_refused(code, out, err, where, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml"]


SCRIPT = "</script><script>alert(1)</script><!--"
HTML_CASES = {case: spec for case, (spec, _) in DIAGRAM_BUILT.items()} | {
    "script-title": DHEAD + f"title: {q(SCRIPT)}\n" + NODES}


@pytest.mark.parametrize("case", list(HTML_CASES))
def test_diagram_html_keeps_spec_text_in_json(capsys, spec_file, tmp_path, case):
    """--format html: spec text sits only inside the JSON island, which nothing can close early,
    and comes back out of it as written; the <title> holds it escaped."""
    import html
    path = spec_file(HTML_CASES[case])
    code, out, err = cli(capsys, "diagram", path, "--format", "html", "-o", "d.html")
    no_traceback(out, err)
    assert code == 0, err
    page = (tmp_path / "d.html").read_text()
    assert page.lower().count("</script") == 3 and page.lower().count("<script") == 3   # model, elkjs, viewer
    assert "<!--" not in page and "<a " not in page.lower()
    island = page.split('id="model">')[1].split("</script>")[0]
    assert "<" not in island and ">" not in island and "&" not in island
    model = json.loads(island)
    raw = yaml_text(HTML_CASES[case], "title") or "net"
    assert model["title"] == raw and model["paper"] == yaml_text(HTML_CASES[case], "paper")
    title = page.split("<title>")[1].split("</title>")[0]
    assert "<" not in title and html.unescape(title) == " ".join(raw.split()) + " · archspec", title
    if case == "block-string-arg":
        assert [s["args"] for s in model["scopes"]] == [{"tag": HTML}, {"tag": "\\N"}]


def yaml_text(spec: str, key: str):
    import yaml
    return yaml.safe_load(spec).get(key)



def test_script_json_exactly():
    """viewer.script_json: compact JSON whose <, > and & are JSON escapes (so no `</script>` or
    `<!--` can appear raw), and never a bare NaN (JSON.parse would refuse the page's model)."""
    from archspec.reports.viewer import script_json
    assert script_json({"t": "</script><!--&x", "n": [1, 2.5]}) == \
        '{"t":"\\u003c/script\\u003e\\u003c!--\\u0026x","n":[1,2.5]}'
    assert json.loads(script_json({"t": "</script>"})) == {"t": "</script>"}
    with pytest.raises(ValueError, match="JSON compliant"):
        script_json({"x": float("nan")})


def test_html_default_file_and_unwritable(capsys, spec_file, tmp_path):
    """--format html without -o writes <spec name>.html here; a target it cannot write is
    refused at that path, as every output is (files.write_atomic)."""
    path = spec_file(HEAD + NODES)
    code, out, err = cli(capsys, "diagram", path, "--format", "html")
    assert code == 0 and (tmp_path / "net.html").read_text().startswith("<!DOCTYPE html>"), err
    (tmp_path / "adir.html").mkdir()
    code, out, err = cli(capsys, "diagram", path, "--format", "html", "-o", "adir.html")
    assert_refused(code, out, err, "adir.html", "cannot write adir.html: Is a directory")


def test_cannot_write_names_an_error_without_text():
    from archspec.files import cannot_write
    assert str(cannot_write(Path("x/y.py"), OSError())) == "x/y.py: error: cannot write x/y.py: OSError"
    assert str(cannot_write(Path("a\nb"), OSError(13, "Permission denied"))) == \
        "a b: error: cannot write a b: Permission denied"


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


# case -> where it is refused and why: each is refused by the limit or check meant for it
HANG_EXPECTED = {
    'alias-bomb': ('net.yaml:5:286', 'the YAML expands to more than 4,000,000 values'),
    'alias-bomb-title': ('net.yaml:4:288', 'the YAML expands to more than 4,000,000 values'),
    'alias-self': ('net.yaml:5:10', "YAML alias '*a' refers to a value that contains it"),
    'alias-self-map': ('net.yaml:4:16', "YAML alias '*m' refers to a value that contains it"),
    'block-uses-itself-twice': ('net.yaml:5:15',
                                "blocks and groups nested more than archspec's limit of 48 deep (does 'b' "),
    'blocks-mutual': ('net.yaml:6:15', "blocks and groups nested more than archspec's limit of 48 deep (does 'a' "),
    'repeat-1e9': ('net.yaml:5:14', "repeat 1,000,000,000 exceeds archspec's limit of 100,000 steps"),
    'repeat-nested': ('net.yaml:5:35', "repeat 1,000 would exceed archspec's limit of 250,000 nodes (1,000,000"),
    'quadratic-did-you-mean': ('net.yaml:2005:27', "m0000: undefined input 'n0000x'"),
    'extends-dev-zero': ('net.yaml:4:10', "'extends' names a .yaml file, got '/dev/zero'"),
    'extends-dev-urandom': ('net.yaml:4:10', "'extends' names a .yaml file, got '/dev/urandom'"),
    'use-dev-zero': ('net.yaml:4:6', "'use' names a .yaml file, got '/dev/zero'"),
    'node-use-dev-zero': ('net.yaml:5:14', "b: unknown block '/dev/zero'"),
    'extends-self': ('net.yaml:4:10', "'extends' cycle: net.yaml -> net.yaml"),
    'deep-list-10000': ('net.yaml:4:107', 'YAML nested more than 100 deep'),
    'deep-map-10000': ('net.yaml:4:404', 'YAML nested more than 100 deep'),
    'deep-groups-2000': ('net.yaml:4:437', 'YAML nested more than 100 deep'),
}


@pytest.mark.parametrize("case", list(HANG_SPECS))
def test_no_hang_spec(in_tmp, case):
    (in_tmp / "net.yaml").write_text(HANG_SPECS[case])
    code, out, err = cli_proc("validate", "net.yaml")
    assert_refused(code, out, err, *HANG_EXPECTED[case])
    assert len(err) < 100_000, f"{len(err)} characters of errors"


# expression -> why it is refused (at the attribute, net.yaml:5:24)
EXPRESSION_EXPECTED = dict(zip(EXPRESSIONS, [
    '10 ** 64 is too large',
    'exponent 10000000000 is too large',
    'exponent 387420489 is too large',
    "repeating str of size 1 10000000000 times exceeds archspec's limit of ",
    "repeating list of size 1 1000000000 times exceeds archspec's limit of ",
    "range of 10,000,000,000 numbers exceeds archspec's limit of 10,000",
    "range of 1,000,000,000,000,000,000 numbers exceeds archspec's limit of",
    "range of 10,000,000,000 numbers exceeds archspec's limit of 10,000",
    "'%' applies to numbers, not text",
    'round(x, n) takes n between -30 and 30, got -1000000000',
    'round(x, n) takes n between -30 and 30, got 1000000000',
    'the result inf is not a finite number',
    'the result inf is not a finite number',
    'the result nan is not a finite number',
    'exponent 70000 is too large',
    "expression of 99,999 characters exceeds archspec's limit of 1,000",
    "expression of 40,001 characters exceeds archspec's limit of 1,000",
    "expression of 10,001 characters exceeds archspec's limit of 1,000",
    "expression of 10,000 characters exceeds archspec's limit of 1,000",
]))


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=case_id)
def test_no_hang_expression(in_tmp, expr):
    (in_tmp / "net.yaml").write_text(HEAD + f"nodes:\n  - c: {{op: conv, out: {q('${' + expr + '}')}, k: 1}}\n")
    code, out, err = cli_proc("validate", "net.yaml")
    assert_refused(code, out, err, "net.yaml:5:24", "c: in attribute 'out': " + EXPRESSION_EXPECTED[expr])
    assert len(err) < 20_000, f"{len(err)} characters of errors"



def test_every_case_has_its_expected_outcome():
    """Each table of hostile cases and its table of outcomes name the same cases (a case without
    an outcome fails loudly; this catches an outcome whose case was dropped, or a zip cut short)."""
    assert list(EXPRESSION_EXPECTED) == EXPRESSIONS
    for cases, expected in [(HANG_SPECS, HANG_EXPECTED), (TAGGED, TAGGED_EXPECTED), (LIB_CASES, LIB_EXPECTED),
                            (BROKEN_PY, BROKEN_EXPECTED), (ESCAPES, ESCAPES_EXPECTED)]:
        assert cases.keys() == expected.keys()

# a --set value (its first 12 characters) -> the value's line:col and why it is refused
SET_EXPECTED = {
    (_laughs())[:12]: ('1:281', 'the YAML expands to more than 4,000,000 values'),
    ("&a [*a]")[:12]: ('1:5', "YAML alias '*a' refers to a value that contains it"),
    ("!!python/object/apply:os.system ['touch pwned']")[:12]: ('1:1', 'unsupported YAML tag tag:yaml.org,2002:python/'),
    ("[" * 10000 + "]" * 10000)[:12]: ('1:101', 'YAML nested more than 100 deep'),
    ("9" * 5000)[:12]: ('1:1', 'integer too large: 99999999999999999999... (5000 ch'),
}


@pytest.mark.parametrize("value", [_laughs(), "&a [*a]", "!!python/object/apply:os.system ['touch pwned']",
                                   "[" * 10000 + "]" * 10000, "9" * 5000],
                         ids=["alias-bomb", "alias-self", "python-tag", "deep", "5000-digits"])
def test_no_hang_set(in_tmp, value):
    (in_tmp / "net.yaml").write_text(HEAD + "params: {v: 1}\n" + NODES)
    code, out, err = cli_proc("validate", "net.yaml", "--set", f"v={value}")
    assert_fails(code, out, err, set_loc=True)
    where, words = SET_EXPECTED[value[:12]]
    first = err.split("\n", 1)[0]
    assert first.startswith("--set v=") and f":{where}: error: {words}" in first, first
    no_stray_files(in_tmp)


def test_extends_dev_stdin_does_not_wait(in_tmp):
    """`extends: /dev/stdin` with a terminal (here: a pipe nobody writes to) must not block."""
    (in_tmp / "net.yaml").write_text(HEAD + "extends: /dev/stdin\n" + NODES)
    r, w = os.pipe()
    try:
        code, out, err = cli_subprocess("validate", "net.yaml", stdin=r)
    finally:
        os.close(r)
        os.close(w)
    assert_refused(code, out, err, "net.yaml:4:10", "'extends' names a .yaml file, got '/dev/stdin'")


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


TAGGED_EXPECTED = {
    'int-abc': ('net.yaml:4:8', "invalid int value 'abc'"),
    'bool-maybe': ('net.yaml:4:8', "invalid bool value 'maybe'"),
    'timestamp': ('net.yaml:4:8', 'unsupported YAML tag tag:yaml.org,2002:timestamp'),
    'float-x': ('net.yaml:4:8', "invalid float value 'x'"),
    'binary-bad': ('net.yaml:4:8', 'unsupported YAML tag tag:yaml.org,2002:binary'),
    'binary-as-out': ('net.yaml:5:24', 'unsupported YAML tag tag:yaml.org,2002:binary'),
    'set': ('net.yaml:4:8', 'unsupported YAML tag tag:yaml.org,2002:set'),
    'omap': ('net.yaml:4:8', 'unsupported YAML tag tag:yaml.org,2002:omap'),
    'python-object': ('net.yaml:4:8', 'unsupported YAML tag tag:yaml.org,2002:python/object:os.system'),
    'python-apply': ('net.yaml:4:8', 'unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system'),
    'python-name': ('net.yaml:4:8', 'unsupported YAML tag tag:yaml.org,2002:python/name:os.system'),
    'local-tag': ('net.yaml:4:8', 'unsupported YAML tag !pwn'),
    'complex-key': ('net.yaml:4:3', 'a mapping key must be a plain scalar'),
    'complex-node-key': ('net.yaml:5:7', 'a mapping key must be a plain scalar'),
    'merge-key-bad': ('net.yaml:4:10', 'unsupported YAML tag tag:yaml.org,2002:merge'),
    '5000-digit-out': ('net.yaml:5:24', 'integer too large: 99999999999999999999... (5000 characters)'),
    '5000-digit-input': ('net.yaml:3:12', 'integer too large: 99999999999999999999... (5000 characters)'),
    'huge-param': ('net.yaml:4:13', 'integer too large: 10000000000000000000... (401 characters)'),
    'nan-out': ('net.yaml:5:24', '.nan: not a finite number'),
    'inf-k': ('net.yaml:5:30', '.inf: not a finite number'),
    '1e999-k': ('net.yaml:5:30', '1.0e+999: not a finite number'),
    'nan-param': ('net.yaml:4:13', '.nan: not a finite number'),
    'inf-param-expr': ('net.yaml:4:13', '.inf: not a finite number'),
    'nan-dropout': ('net.yaml:5:25', '.nan: not a finite number'),
    'nan-eps': ('net.yaml:6:29', '.nan: not a finite number'),
    'inf-repeat': ('net.yaml:5:14', '.inf: not a finite number'),
    'nan-input': ('net.yaml:3:12', '.nan: not a finite number'),
    'null-node': ('net.yaml:5:5', "a node is an op name, a mapping or 'name: ...', got nothing (an empty "),
    'int-node': ('net.yaml:5:5', "a node is an op name, a mapping or 'name: ...', got 5"),
    'list-node': ('net.yaml:5:5', "a node is an op name, a mapping or 'name: ...', got [['relu']]"),
    'op-mapping': ('net.yaml:5:13', "c: op must name an op or block, got {'x': 1}"),
    'op-list': ('net.yaml:5:13', "c: op must name an op or block, got ['conv']"),
    'use-mapping': ('net.yaml:5:14', "c: use must name an op or block, got {'x': 1}"),
    'in-mapping': ('net.yaml:5:23', "c: in: by name binds a block's inputs; op relu takes a list of inputs"),
    'nul-in-name': ('net.yaml:5:5', "'a\\x00b' cannot be a node name: a name starts with an ASCII letter and"),
    'surrogate': ('net.yaml:5:9', 'YAML syntax error: found invalid Unicode character escape code'),
}


@pytest.mark.parametrize("case", list(TAGGED))
def test_bad_yaml_values(capsys, spec_file, tmp_path, case):
    path = spec_file(_tagged_spec(case))
    code, out, err = cli(capsys, "validate", path)
    assert_refused(code, out, err, *TAGGED_EXPECTED[case])
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


LIB_EXPECTED = {
    'op-mapping': ('lib.yaml:5:17', "op must name an op or block, got {'x': 1}"),
    'op-list': ('lib.yaml:5:17', "op must name an op or block, got ['conv']"),
    'use-mapping': ('lib.yaml:5:18', "use must name an op or block, got {'x': 1}"),
    'use-list': ('lib.yaml:5:18', "use must name an op or block, got ['b']"),
    'bare-mapping-op': ('lib.yaml:5:14', "op must name an op or block, got {'x': 1}"),
    'name-mapping': ('lib.yaml:5:11', 'a mapping key must be a plain scalar'),
    'params-not-names': ('lib.yaml:4:13', "spec key 'dict[str,any]': input should be a valid dictionary (got [['a"),
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
    assert_refused(code, out, err, *LIB_EXPECTED[case])


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
    assert_fails(code, out, err)
    words = {"empty": "--ops '': error: is neither a .py file nor a module name",
             "dir-slash": "--ops ./opsdir/: error: is a folder, not a Python file",
             "dir-named-py": "--ops ops.py: error: is a folder, not a Python file",
             "relative-module": "--ops .x: error: is neither a .py file nor a module name",
             "syntax-error": "bad_ops.py:1:5: error: cannot load",
             "raises": "boom_ops.py:1:1: error: cannot load --ops boom_ops.py: RuntimeError: boom at import"}
    assert words.get(kind, f"{src}: error: cannot load --ops {src}: ") in err.split("\n", 1)[0], err


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


# case -> where build refuses it and why; None: it builds (and its model runs, below)
BROKEN_EXPECTED = {
    "loss-weight-nan": ("net.yaml:10:47", ".nan: not a finite number"),
    "loss-weight-inf": ("net.yaml:9:29", ".inf: not a finite number"),
    "init-std-inf": ("net.yaml:5:31", ".inf: not a finite number"),
    "init-weight-nan": ("net.yaml:5:18", ".nan: not a finite number"),
    "init-mean-1e999": ("net.yaml:5:32", "1.0e+999: not a finite number"),
    "lrn-alpha-overflows": ("net.yaml:6:5", "n: the value inf is not a finite number"),
    "lrn-k-inf": ("net.yaml:6:30", ".inf: not a finite number"),
    "scaled-tanh-nan": ("net.yaml:6:29", ".nan: not a finite number"),
    "bn-momentum-nan": ("net.yaml:6:34", ".nan: not a finite number"),
    "nested-groups-200": ("net.yaml:4:437", "YAML nested more than 100 deep"),
    "nested-seq-250": ("net.yaml:4:371", "YAML nested more than 100 deep"),
    "nested-blocks-120": ("net.yaml:52:17", "blocks and groups nested more than archspec's limit of 48 deep"),
    "dead-node-reads-train-only": None,
    "dead-node-reads-train-only-block": None,
    "train-only-output-is-main-input": None,
    "only-train-only-outputs": None,
}


@pytest.mark.parametrize("case", list(BROKEN_PY))
def test_valid_looking_spec(capsys, spec_file, tmp_path, case):
    """Values that would make broken Python are refused where they are written; the train-only
    shapes build, and the model runs in both modes with the outputs the spec names."""
    path = spec_file(HEAD + BROKEN_PY[case])
    if BROKEN_EXPECTED[case] is not None:
        build_refused(capsys, tmp_path, path, *BROKEN_EXPECTED[case])
        return
    import torch
    model = _model(build_outcome(capsys, tmp_path, path))
    x = torch.zeros(1, 3, 8, 8)
    train, evaluated = model.train()(x), model.eval()(x)
    if case == "only-train-only-outputs":      # one output: a tensor (what eval returns is not checked here)
        assert train.shape == (1, 4, 8, 8) and torch.is_tensor(evaluated)
        return
    assert list(train) == ["out", "aux"] and evaluated.shape == train["out"].shape


# == 7. other outputs =====================================================================

# a user's op (--ops) whose label is its string argument: spec text that validation lets through
# reaches the summary's cells, the JSON, the diagram and, as a value, the generated source
TAG_OP = '''from archspec.ops import Attrs, Op, register
from archspec.ops.base import Call


@register
class TagOp(Op):
    name = "tag"
    doc = "the identity, labelled with the spec's text"

    class Attrs(Attrs):
        note: str

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Identity", (("note", a.note),))

    def call(self, a, args, inplace=False):
        return args[0]

    def label(self, a):
        return a.note
'''


def tagged(spec_file, tmp_path, note: str, title: str = "t") -> str:
    (tmp_path / "tag_op.py").write_text(TAG_OP)
    return spec_file(HEAD + f"title: {q(title)}\nnodes:\n  - c: {{op: conv, out: 4, k: 1}}\n"
                     f"  - t: {{op: tag, note: {q(note)}}}\n  - s: {{op: scaled_tanh, A: -1.7159, S: 0.6667}}\n")


def _no_constants(name):
    raise ValueError(f"bare {name} in JSON")


JSON_REFUSED = {"loss-weight-nan": ("net.yaml:10:47", ".nan: not a finite number"),
                "loss-weight-inf": ("net.yaml:9:29", ".inf: not a finite number"),
                "reference": ("net.yaml:4:21", ".nan: not a finite number")}


@pytest.mark.parametrize("case", list(JSON_REFUSED))
def test_summary_json_refuses_non_finite(capsys, spec_file, case):
    """JSON has no NaN or Infinity: non-finite numbers are refused where they are written."""
    body = BROKEN_PY.get(case) or ("reference: {params: .nan, macs: .inf, params_millions: .nan, "
                                   "source: x}\n" + NODES)
    code, out, err = cli(capsys, "summary", spec_file(HEAD + body), "--json")
    assert_refused(code, out, err, *JSON_REFUSED[case])


HOSTILE = [INJECT, "</script><!--", "=HYPERLINK(\"http://x\",\"y\")", "a\\", "\x1b[31m\u2028x", "'); import os; ('"]


@pytest.mark.parametrize("text", HOSTILE, ids=case_id)
def test_summary_json_is_strict(capsys, spec_file, tmp_path, text):
    """Spec text in the JSON is a JSON string that reads back as written; a spec whose constants
    overflow to inf where build computes them (lrn's alpha / size) still prints strict JSON."""
    code, out, err = cli(capsys, "summary", tagged(spec_file, tmp_path, text, title=text), "--ops", "tag_op.py",
                         "--json")
    assert code == 0, err
    data = json.loads(out, parse_constant=_no_constants)
    assert data["title"] == text and [n["label"] for n in data["nodes"]][1] == text
    code, out, err = cli(capsys, "summary", spec_file(HEAD + BROKEN_PY["lrn-alpha-overflows"]), "--json")
    assert code == 0, err
    assert [n["label"] for n in json.loads(out, parse_constant=_no_constants)["nodes"]] == ["conv 1x1, 8", "lrn 5"]


def test_summary_json_never_writes_nan(spec_file):
    """Behind validation: a non-finite number that reached the summary is an error, never a bare
    NaN in the JSON (main turns it into one line: test_a_bug_is_one_line_not_a_traceback)."""
    import archspec
    from archspec.reports.report import format_summary
    g = archspec.analyze(spec_file(HEAD + NODES))
    g.meta.reference = {"params": float("nan"), "source": "x"}
    with pytest.raises(ValueError, match="JSON compliant"):
        format_summary(g, "json")


FORMULAS = ["=1+1", "@SUM(A1)", "+cmd", "-cmd", "=HYPERLINK(\"http://x\",\"y\")", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("depth", [None, "1"])
@pytest.mark.parametrize("text", FORMULAS, ids=case_id)
def test_summary_csv_has_no_formulas(capsys, spec_file, tmp_path, text, depth):
    """A cell that a spreadsheet would read as a formula (=, +, -, @, tab, CR first) starts with
    an apostrophe; every other cell is as written. The op column holds spec text (a string
    argument shown as the op's label) and a negative number first (scaled tanh's -1.7159).
    (A CR reaches the terminal as a space: test_no_terminal_escapes.)"""
    path = tagged(spec_file, tmp_path, text)
    code, out, err = cli(capsys, "summary", path, "--ops", "tag_op.py", "--format", "csv",
                         *(["--depth", depth] if depth else []))
    assert code == 0, err
    rows = [r for r in csv.reader(io.StringIO(out)) if r]
    assert [r[:2] for r in rows] == [["node", "op"], ["c", "conv 1x1, 4"], ["t", "'" + text.replace("\r", " ")],
                                     ["s", "'-1.7159 tanh(0.6667 a)"]]
    for row in rows:
        for cell in row:
            try:
                float(cell.replace(",", ""))
                continue                 # a number, negative or not
            except ValueError:
                pass
            assert cell.lstrip("\t\r ")[:1] not in ("=", "+", "-", "@"), f"formula-like cell {cell!r}"


@pytest.mark.parametrize("text", ["a=1", "x-1", "conv", "", "'=1"])
def test_summary_csv_keeps_plain_text(capsys, spec_file, tmp_path, text):
    """Text that starts with anything else is left as written."""
    code, out, err = cli(capsys, "summary", tagged(spec_file, tmp_path, text), "--ops", "tag_op.py", "--format", "csv")
    assert code == 0, err
    assert list(csv.reader(io.StringIO(out)))[2][:2] == ["t", text]


@pytest.mark.parametrize("text", FORMULAS, ids=case_id)
def test_formula_names_are_refused(capsys, spec_file, text):
    """The same text as a block or node name never reaches a cell: the validator refuses it."""
    path = spec_file(HEAD + f"""blocks:
  {q(text)}:
    nodes: [{{op: conv, out: 4, k: 1}}, relu]
nodes:
  - b: {{use: {q(text)}}}
  - {q(text)}: {{op: conv, out: 4, k: 1}}
""")
    code, out, err = cli(capsys, "summary", path, "--format", "csv")
    assert_refused(code, out, err, "net.yaml:5:3", f"block name {text!r} is not allowed: {PATTERN}")


@pytest.mark.parametrize("text", HOSTILE, ids=case_id)
def test_string_argument_in_generated_source(capsys, spec_file, tmp_path, text):
    """A string argument enters the generated module only as a value written by literal(): the
    module parses, has the text as one string constant, and builds and checks."""
    path = tagged(spec_file, tmp_path, text)
    code, out, err = cli(capsys, "build", path, "--ops", "tag_op.py", "-o", "out")
    assert code == 0, err
    source = (tmp_path / "out" / "net.py").read_text()
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and ast.unparse(n.func) == "nn.Identity"]
    assert [[a.value for a in c.args] for c in calls] == [[text]], source
    no_stray_files(tmp_path)
    code, out, err = cli(capsys, "build", path, "--ops", "tag_op.py", "-o", "out", "--check")
    assert code == 0, out + err


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


# case -> where it is refused and why (the escape shown as repr shows it); None: it is valid
ESCAPES_EXPECTED = {
    "title": None,
    "unknown-op": ("net.yaml:5:13", "c: unknown op '\\x1b[31mcnv'"),
    "node-name": ("net.yaml:5:5", f"'\\x1b[2J' cannot be a node name: {PATTERN}"),
    "c1-csi": ("net.yaml:5:13", "c: unknown op '\\x9b31mcnv'"),
    "block-name": ("net.yaml:5:3", f"block name '\\x1b[31mb' is not allowed: {PATTERN}"),
    "raw-escape-in-file": ("net.yaml:4:8", "YAML error: character 27 is not allowed in YAML text"),
    "unknown-key": ("net.yaml:4:1", "unknown spec key ' [31mkey'"),
}


@pytest.mark.parametrize("command", ["validate", "summary", "build"])
@pytest.mark.parametrize("case", list(ESCAPES))
def test_no_terminal_escapes(capsys, spec_file, case, command):
    """Control characters from a spec reach the terminal as spaces (a title, which is valid) or
    as repr escapes (in the error that refuses a name or an op)."""
    path = spec_file(ESCAPES[case])
    code, out, err = cli(capsys, command, path, *(["-o", "out"] if command == "build" else []))
    no_traceback(out, err)
    bad = CONTROL.search(out + err)
    assert bad is None, f"raw control character {bad.group()!r} reached the terminal:\n{(out + err)[-1500:]!r}"
    if ESCAPES_EXPECTED[case] is not None:
        assert_refused(code, out, err, *ESCAPES_EXPECTED[case])
        return
    assert code == 0, err
    if command == "summary":
        assert out.split("\n", 1)[0] == "net: [31mred [0m ]0;pwn"


@pytest.mark.parametrize("key", ["extends", "use"])
def test_foreign_file_is_not_echoed(capsys, spec_file, tmp_path, key):
    where = "net.yaml:4:10" if key == "extends" else "net.yaml:4:6"
    path = spec_file(HEAD + f"{key}: /etc/passwd\n" + NODES)
    code, out, err = cli(capsys, "validate", path)
    assert_refused(code, out, err, where, f"'{key}' names a .yaml file, got '/etc/passwd'")
    assert "root:x:0:0" not in out + err

    lines = "".join(f"SECRET-LINE-{i:04d} token {i * 7919}\n" for i in range(500))
    (tmp_path / "notes.txt").write_text(lines)
    path = spec_file(HEAD + f"{key}: notes.txt\n" + NODES)
    code, out, err = cli(capsys, "validate", path)
    assert_refused(code, out, err, where, f"'{key}' names a .yaml file, got 'notes.txt'")
    assert (out + err).count("SECRET-LINE-") <= 2 and len(out + err) < 4000, (out + err)[:2000]


# -- the validator's tables and the last resort --------------------------------------------

def test_reserved_names_cover_nn_module():
    """names.MODULE_ATTRS (kept torch-free) lists every public attribute of torch.nn.Module."""
    from torch import nn

    from archspec.names import MODULE_ATTRS
    public = {a for a in dir(nn.Module) if not a.startswith("_")}
    assert public <= MODULE_ATTRS, sorted(public - MODULE_ATTRS)


def test_reserved_names_cover_the_compiled_module(capsys, spec_file, tmp_path):
    """names.py is the one list of reserved names: every attribute the compiled top class
    defines itself (init_weights, fuse, fuse_pairs, input_shape, output_names, loss_weights, ...),
    with init, a fusable conv + batch norm and a weighted training-only head, is in it."""
    from torch import nn

    from archspec.names import RESERVED
    path = spec_file(HEAD + """init:
  conv: {weight: kaiming_normal}
nodes:
  - c: {op: conv, out: 4, k: 1, bias: false}
  - bn: {op: batchnorm}
  - head: {op: conv, out: 2, k: 1, in: bn}
  - main: {op: relu, in: bn}
outputs:
  main: main
  aux: {node: head, train_only: true, loss_weight: 0.3}
""")
    model = _model(build_outcome(capsys, tmp_path, path))
    own = {a for a in {*vars(type(model)), *vars(model)} - set(dir(nn.Module)) - set(model._modules)
           if not a.startswith("_")}      # _private names: the validator refuses every one
    assert {"init_weights", "fuse", "fuse_pairs", "input_shape", "output_names", "loss_weights"} <= own
    assert own <= RESERVED, sorted(own - RESERVED)


def test_an_op_named_like_the_modules_own_attribute_is_refused(capsys, spec_file, tmp_path):
    """An unnamed node takes its op's name, so an --ops op named `fuse` would have overridden the
    compiled module's fuse(): the op's name meets the one validator when it is registered."""
    (tmp_path / "fuse_ops.py").write_text(
        "from archspec.ops.base import register\nfrom archspec.ops.elementwise import ReLU\n\n\n"
        "@register\nclass Fuse(ReLU):\n    name = 'fuse'\n")
    code, out, err = cli(capsys, "validate", spec_file(HEAD + NODES), "--ops", str(tmp_path / "fuse_ops.py"))
    assert code == 1 and "Traceback" not in err
    assert "fuse_ops.py:5:1: error: cannot load --ops" in err and "op name 'fuse' is not allowed" in err, err


@pytest.mark.parametrize("name, ok", [("conv1", True), ("layer2_0", True), ("0", False), ("none", True),
                                      ("None", False), ("forward", False), ("super", False), ("x" * 64, True),
                                      ("x" * 65, False), ("conv1\n", False), ("cοnv", False), ("_x", False),
                                      ("a-b", False), ("match", False), ("state_dict", False)])
def test_name_validator(name, ok):
    from archspec.names import name_problem
    assert (name_problem(name) is None) == ok, name_problem(name)


def test_name_problem_words():
    """The validator's reasons, word for word (names.name_problem and check_name)."""
    from archspec.errors import SpecError
    from archspec.names import check_name, name_problem
    assert name_problem(5) == "a name must be text, got int"
    assert name_problem("_" + "x" * 63) == PATTERN and name_problem("x" * 65) == TOO_LONG
    assert name_problem("x" * 64) is None and name_problem("None") == reserved("None")
    with pytest.raises(SpecError) as e:
        check_name("None", "spec")
    assert e.value.message == f"spec name 'None' is not allowed: {reserved('None')}"
    assert e.value.hint == "rename it, e.g. conv1, layer2, aux_head"
    check_name("conv1", "node")      # allowed: no error


@pytest.mark.parametrize("text, line", [("a" * 200, "a" * 200), ("a" * 201, "a" * 199 + "…"),
                                        (" a\n\tb\x1b[2J\r\n", "a b [2J"), (12, "12")])
def test_one_line(text, line):
    """names.one_line: free text printable, on one line, at most 200 characters."""
    from archspec.names import one_line
    assert one_line(text) == line


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
