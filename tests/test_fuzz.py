"""Mutation fuzzing of the shipped specs: every mutant ends either as a located SpecErrors
(whose message echoes no control character) or as a valid spec whose generated source is in
the emitter's whitelist (tests/source_check.py), imports, builds, runs and checks.

The mutation engine lives here and is shared with the long campaign, bench/fuzz.py
(plain seeded random there, hypothesis here): each mutation reads its choices from a
chooser, so one engine serves both. A mutant is the text of one spec file (or block
library) after 1-3 mutations; it is written with the files it `use`s / `extends` into a
fresh folder and run through load -> analyze -> source -> ast.parse -> whitelist check ->
import -> build on the meta device -> eval-mode forward on meta -> archspec.pytorch.compiler.check
(real shapes, params and MACs == the analysis), under an alarm of CPU time (a hang is a failure,
shown with the mutant), with the folder's listing compared before and after (archspec writes
nothing). A block library is loaded alone (library_ok) and through its smallest users.
"""
from __future__ import annotations

import ast
import functools
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from source_check import check_generated_source  # noqa: E402

# -- the files ------------------------------------------------------------------------------

_REF = re.compile(r"^(?:use|extends)\s*:\s*(.+?)\s*$", re.M)
_REF_ITEM = re.compile(r"^\s*-\s*(\S+\.ya?ml)\s*$", re.M)


def _refs(rel: str) -> list[str]:
    """The files a spec names in a top-level `use:` (one path, a flow list or a block list)
    or `extends:`, relative to the repository root."""
    text = (ROOT / rel).read_text()
    out = []
    for m in _REF.finditer(text):
        value = m.group(1).split("#")[0].strip()
        out += [v.strip().strip("'\"") for v in value.strip("[]").split(",") if v.strip()]
    if re.search(r"^use\s*:\s*$", text, re.M):
        out += _REF_ITEM.findall(text.split("\nuse:", 1)[1].split("\n\n", 1)[0])
    here = os.path.dirname(rel)
    return [os.path.normpath(os.path.join(here, v)) for v in out if v.endswith((".yaml", ".yml"))]


@functools.lru_cache(maxsize=None)
def closure(rel: str) -> tuple[str, ...]:
    """`rel` and every file it needs, transitively (paths relative to ROOT)."""
    seen, todo = [], [rel]
    while todo:
        r = todo.pop()
        if r not in seen and (ROOT / r).is_file():
            seen.append(r)
            todo += _refs(r)
    return tuple(seen)


SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.yaml"))
LIBRARIES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs" / "blocks").glob("*.yaml"))
EXTRA = [p for p in ("tests/specs/allops.yaml",) if (ROOT / p).is_file()]
TARGETS = SPECS + LIBRARIES + EXTRA


@functools.lru_cache(maxsize=None)
def consumers(lib: str, limit: int = 2) -> tuple[str, ...]:
    """Specs that use a library, the smallest first: what a mutated library is run through."""
    users = [s for s in SPECS if lib in closure(s)[1:]]
    return tuple(sorted(users, key=lambda s: (len(closure(s)), (ROOT / s).stat().st_size))[:limit])


# -- choosers: where a mutation's choices come from --------------------------------------------

class RandomChooser:
    """Choices from a seeded random.Random (bench/fuzz.py)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]


class DrawChooser:
    """Choices drawn from hypothesis (so a failing example replays, derandomized)."""

    def __init__(self, draw):
        from hypothesis import strategies as st
        self.draw, self.st = draw, st

    def int(self, lo: int, hi: int) -> int:
        return self.draw(self.st.integers(lo, hi))

    def pick(self, seq):
        return seq[self.int(0, len(seq) - 1)]


# -- the mutations ------------------------------------------------------------------------------

NUMBERS = ["0", "-1", "1", "2", "3", "7", "1000000000000000000000000000000", "1e999", "-1e999", ".nan", ".inf",
           "-.inf", "0.5", "2.5", "-0.0", "1e-300", "65536", "99999999999", "9223372036854775808", "0x10",
           "0o17", "1_000", "2e3", "true", "null", '"3"', "[3, 3]", "{}", "${10**64}", "${2**63}",
           "${1/0}", "${0.1*3}", "${-2**63}", "${99999999**9}"]
HOSTILE = ["none", "null", "~", "true", "forward", "__init__", "__class__", "self", "torch", "nn", "F",
           "getattr", "_probe", "super", "Model", "input", "training", "init_weights", "input_shape",
           "output_names", "loss_weights", "x", "x_0", "out", "class", "lambda", "_x", "0", "1x", "a.b",
           "a-b", "a b", "\"a'b\"", "'a\"b'", "x;import os", "\"x); import os; (\"", '"\\"\\"\\""', '"""',
           "../x", "../../../../../../etc/passwd", "/dev/zero", "/dev/stdin", ".", "blocks",
           "a" * 300, '"\\x1b[31m"', "\x1b[31m", '"a\\nb"', '"a\\rb"', "é", "名前", "\u202eabc", "a#b",
           "{}", "[]", "*", "&a", "? x", "${", "${x}", "${input.__class__}", "${().__class__.__bases__}",
           "${'a' * 100000}", "${[0] * 100000}", "${" + "(" * 200 + "1" + ")" * 200 + "}", "%", "@x",
           "`x`", "!x", "|", ">", "-", "- x", "\t", "'", '"', "\\", "\"\\u0000\"", "\"\\t\""]
# op names and spec keys: a word may become another part of the language
VOCAB = ["adaptive_avgpool", "add", "avgpool", "batchnorm", "concat", "conv", "dropout", "flatten",
         "global_avgpool", "identity", "linear", "lrn", "maxpool", "mul", "pad_channels", "rbf", "relu",
         "scaled_tanh", "sigmoid", "softmax", "subsample", "tanh", "in", "repeat", "node", "nodes", "seq",
         "use", "args", "params", "let", "when", "output", "outputs", "name", "carry", "train_only",
         "loss_weight", "init", "zero", "extends", "blocks", "input", "i", "stride", "pad", "k", "out",
         "groups", "dilation", "bias", "connections", "ceil_mode", "count_include_pad", "size", "p", "A", "S",
         "block", "doc", "title", "reference", "archspec"]
# whole expressions for `${...}` (and edits of the operators inside one)
EXPRS = ["input.channels / 3", "input.channels // 0", "i - 1", "-1", "0", "1/3", "float(2)", "2.5", "'x'",
         "[1, 2]", "input.shape", "input.rank", "range(3)", "len('a' * 9)", "sqrt(-1)", "2**64", "1e308 * 10",
         "max()", "int('x')", "input.height / 0", "layers[99]", "layers[-1]", "True", "out % 0",
         "round(1e308 * 10)", "int(1e300)", "float('nan')", "floor(float('inf'))", "ceil(1e999)",
         "sum(range(10**6))", "'a' * -1", "[0] * 10000", "abs(-2**63)", "min(1, 'a')", "input", "i",
         "undefined_name", "input.channels * 2.0", "9**20", "2**63 - 1", "-2**63", "1 if input else 2",
         "'conv' + str(1)", "[[[]]]", "{'a': 1}", "(1, 2)", "input.width % 7", "x.__class__"]
OPERATORS = [("+", "-"), ("-", "+"), ("*", "/"), ("//", "/"), ("*", "**"), ("//", "%"), ("==", "!="),
             ("!=", "=="), ("<", ">="), ("0]", "-1]"), ("i", "i * 1000"), ("1", "0")]
TAGS = ["!!python/object:os.system", "!!python/object/apply:os.system [\"echo pwned\"]",
        "!!python/name:os.system", "!!timestamp 2001-12-14", "!!binary aGVsbG8=", "!!set {a, b}",
        "!!omap [a: 1]", "!!float 1e999", "!!int 0x10", "!custom x", "!!str 3", "!!null ''",
        "!!python/tuple [1, 2]", "!<tag:yaml.org,2002:python/object/new:os.system> [ls]", "2001-12-14"]
BOMB = ["lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
    f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]

_NUM = re.compile(r"(?<![\w.$])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"(?:^|(?<=[\s{,\-]))([A-Za-z_][A-Za-z0-9_]*)(?=\s*:(?:\s|$))", re.M)
_VALUE = re.compile(r"(?<=:[ \t])([^\s#{}\[\],][^#{}\[\],\n]*?)(?=\s*(?:[,}\]]|#|$))", re.M)


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _one(s: str, n: int = 40) -> str:
    r = repr(s)
    return r if len(r) <= n else r[:n - 4] + "...'"


def m_delete(text, ch):
    ls = _lines(text)
    i = ch.int(0, len(ls) - 1)
    return "\n".join(ls[:i] + ls[i + 1:]), f"delete line {i + 1} {_one(ls[i])}"


def m_duplicate(text, ch):
    ls = _lines(text)
    i = ch.int(0, len(ls) - 1)
    return "\n".join(ls[:i + 1] + ls[i:]), f"duplicate line {i + 1} {_one(ls[i])}"


def m_swap_lines(text, ch):
    ls = _lines(text)
    i, j = ch.int(0, len(ls) - 1), ch.int(0, len(ls) - 1)
    ls[i], ls[j] = ls[j], ls[i]
    return "\n".join(ls), f"swap lines {i + 1} and {j + 1}"


def _replace_match(text, ch, regex, values, what):
    ms = list(regex.finditer(text))
    if not ms:
        return text, f"{what}: nothing to change"
    m = ch.pick(ms)
    new = ch.pick(values)
    return (text[:m.start()] + new + text[m.end():],
            f"line {_line_of(text, m.start())}: {what} {_one(m.group(0))} -> {_one(new)}")


def m_number(text, ch):
    return _replace_match(text, ch, _NUM, NUMBERS, "number")


def m_word(text, ch):
    """A word becomes another word of the file, of the spec language, or a hostile name."""
    pool = [HOSTILE, VOCAB, sorted(set(_WORD.findall(text)))][ch.int(0, 2)]
    return _replace_match(text, ch, _WORD, pool, "word")


_EXPR = re.compile(r"\$\{([^{}\n]*)\}")


def m_expr(text, ch):
    """A `${...}` gets an operator or operand changed, or a whole new expression."""
    ms = list(_EXPR.finditer(text))
    if not ms:
        return text, "expr: no expression"
    m = ch.pick(ms)
    body = m.group(1)
    old, new = ch.pick(OPERATORS)
    if ch.int(0, 1) and old in body:
        k = body.count(old)
        n = ch.int(0, k - 1)
        at = -1
        for _ in range(n + 1):
            at = body.find(old, at + 1)
        nbody = body[:at] + new + body[at + len(old):]
    else:
        nbody = ch.pick(EXPRS)
    return (text[:m.start(1)] + nbody + text[m.end(1):],
            f"line {_line_of(text, m.start())}: expression {_one(body)} -> {_one(nbody)}")


def m_value(text, ch):
    """A whole scalar value after `key: ` becomes a hostile one, a number or a tag."""
    return _replace_match(text, ch, _VALUE, HOSTILE + NUMBERS + TAGS, "value")


def m_cut(text, ch):
    i = ch.int(0, len(text))
    return text[:i], f"cut at char {i} (line {_line_of(text, i)})"


def m_swap_keys(text, ch):
    ms = list(_KEY.finditer(text))
    if len(ms) < 2:
        return text, "swap keys: fewer than two keys"
    a, b = sorted((ch.pick(ms), ch.pick(ms)), key=lambda m: m.start())
    if a.start() == b.start():
        return text, "swap keys: the same key"
    out = text[:a.start()] + b.group(1) + text[a.end():b.start()] + a.group(1) + text[b.end():]
    return out, (f"swap keys {a.group(1)!r} (line {_line_of(text, a.start())}) and "
                 f"{b.group(1)!r} (line {_line_of(text, b.start())})")


def m_tag(text, ch):
    """A tagged value: in place of a scalar value, or as a new top-level key."""
    tag = ch.pick(TAGS)
    ms = list(_VALUE.finditer(text))
    if ms and ch.int(0, 1):
        m = ch.pick(ms)
        return (text[:m.start()] + tag + text[m.end():],
                f"line {_line_of(text, m.start())}: value {_one(m.group(0))} -> {_one(tag)}")
    ls = _lines(text)
    i = ch.int(0, len(ls))
    return "\n".join(ls[:i] + [f"evil: {tag}"] + ls[i:]), f"insert line {i + 1} 'evil: {tag}'"


def m_alias(text, ch):
    """A billion-laughs bomb as top-level keys, optionally used as a value; or a self alias."""
    kind = ch.int(0, 2)
    ls = _lines(text)
    if kind == 2:
        i = ch.int(0, len(ls))
        line = ch.pick(["loop: &r [*r]", "loop: &r {a: *r}", "title: *undefined", "loop: &r [1, &s [*r]]"])
        return "\n".join(ls[:i] + [line] + ls[i:]), f"insert line {i + 1} {line!r}"
    ms = list(_VALUE.finditer(text))
    if kind == 1 and ms:
        m = ch.pick(ms)
        depth = ch.int(0, 8)
        text = text[:m.start()] + f"*a{depth}" + text[m.end():]
        where = f"value {_one(m.group(0))} (line {_line_of(text, m.start())}) -> *a{depth}"
        return "\n".join(BOMB + [text]), f"prepend a 9^9 alias bomb; {where}"
    return "\n".join(BOMB + [text]), "prepend a 9^9 alias bomb (unused)"


MUTATIONS = {
    "delete": m_delete, "duplicate": m_duplicate, "swap_lines": m_swap_lines, "number": m_number,
    "word": m_word, "expr": m_expr, "value": m_value, "cut": m_cut, "swap_keys": m_swap_keys, "tag": m_tag,
    "alias": m_alias,
}
# how often each is picked: the semantic edits (numbers, words, values, lines) most, so that
# many mutants get past the YAML layer into expansion, shapes and the emitter
WEIGHTS = {"delete": 2, "duplicate": 2, "swap_lines": 1, "number": 4, "word": 4, "expr": 3, "value": 3, "cut": 1,
           "swap_keys": 1, "tag": 1, "alias": 1}
_ORDER = [name for name in MUTATIONS for _ in range(WEIGHTS[name])]


def mutate(text: str, ch, max_mutations: int = 3) -> tuple[str, list[str]]:
    """1..max_mutations (at most 3) mutations of the text, one most often; returns the text
    with one line per mutation."""
    steps = []
    for _ in range(ch.pick([1, 1, 1, 2, 2, 3][:2 * max_mutations])):
        name = ch.pick(_ORDER)
        text, desc = MUTATIONS[name](text, ch)
        steps.append(f"{name}: {desc}")
    return text, steps


# -- running a mutant --------------------------------------------------------------------------

class MutantTimeout(BaseException):
    """Raised by the alarm: not an Exception, so no `except Exception` in archspec swallows it."""


@dataclass
class Outcome:
    kind: str                      # valid | rejected | failure | hang
    stage: str = ""                # where it ended: load, analyze, source, parse, check, import, build,
                                   # forward, shapes, files
    error: BaseException | None = None
    tb: str = ""
    frame: str = ""                # innermost archspec frame, file:function
    detail: str = ""
    files: list = field(default_factory=list)    # the spec paths run (relative to the mutant folder)
    source: str = ""               # the generated source, once there is one


def _alarm(signum, frame):
    raise MutantTimeout()


WALL_BACKSTOP = 10      # the watchdog's wall-clock limit, in multiples of its CPU limit: a hang that sleeps


def _watchdog(done: threading.Event, cpu_limit: float, target: str, text: str, state: dict) -> None:
    """Ends the process where the alarm cannot interrupt a hang (inside C code): after `cpu_limit`
    CPU seconds of this process, as the alarm counts them (a loaded machine's other processes do not
    count), or a hang that sleeps after WALL_BACKSTOP times as many seconds of the clock."""
    start, wall = time.process_time(), time.monotonic()
    while not done.wait(1.0):
        if time.process_time() - start > cpu_limit or time.monotonic() - wall > WALL_BACKSTOP * cpu_limit:
            sys.stderr.write(f"\nfuzz: mutant of {target} hung uninterruptibly in stage {state['stage']}; "
                             f"mutant:\n{text}\n")
            sys.stderr.flush()
            os._exit(3)


def innermost_frame(exc: BaseException) -> str:
    """file:function of the innermost traceback frame in archspec (or in generated code)."""
    import archspec
    pkg = os.path.dirname(os.path.abspath(archspec.__file__))
    found = "(no archspec frame)"
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.startswith(pkg + os.sep):
            found = f"archspec/{os.path.relpath(code.co_filename, pkg)}:{code.co_name}"
        elif code.co_filename.startswith("<archspec-generated"):
            found = f"<generated>:{code.co_name}"
        tb = tb.tb_next
    return found


def _listing(folder: str) -> set[str]:
    out = set()
    for d, dirs, files in os.walk(folder):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), folder))
    return out


def _pipeline(path: str, library: bool, state: dict, deep: bool) -> None:
    from torch import nn

    import archspec
    import archspec.pytorch.compiler
    state["stage"] = "load"
    spec = archspec.load(path, library_ok=library)
    if library:
        return
    state["stage"] = "analyze"
    graph = archspec.analyze(spec)
    state["stage"] = "source"
    src = archspec.pytorch.compiler.source(spec)
    state["source"] = src
    state["stage"] = "parse"
    ast.parse(src)
    state["stage"] = "check"
    check_generated_source(src)
    state["stage"] = "import"
    mod = archspec.pytorch.compiler.load_source(src, graph.name)
    assert isinstance(mod.Model, type) and issubclass(mod.Model, nn.Module), "Model is not an nn.Module class"
    state["stage"] = "build"
    model = archspec.compile(spec, device="meta")
    assert isinstance(model, nn.Module), f"compile returned {type(model).__name__}"
    if not deep:
        return
    import torch
    state["stage"] = "forward"          # eval mode, on meta: shapes only, no memory, no compute
    model.eval()
    with torch.no_grad():
        y = model(torch.empty(1, *graph.input_shape, device="meta"))
    assert isinstance(y, (torch.Tensor, dict)), f"forward returned {type(y).__name__}"
    state["stage"] = "shapes"           # train mode: every node's real shape, params, MACs == analysis
    check = archspec.pytorch.compiler.check(spec)
    assert check.ok, "archspec.pytorch.compiler.check disagrees with the analysis: " + "; ".join(check.problems[:3])


def run_mutant(target: str, text: str, timeout: float = 10.0, hard_exit_after: float | None = None,
               deep: bool = True) -> Outcome:
    """Write the mutant (and the files it needs) to a fresh folder and run it through archspec;
    `deep` also runs the built model forward on the meta device (eval mode) and
    archspec.pytorch.compiler.check (train mode: real shapes, params and MACs against the analysis).
    The alarm turns a hang into an Outcome('hang'); a hang the alarm cannot interrupt (inside C
    code) is ended by a watchdog after `hard_exit_after` seconds: it prints the mutant and exits."""
    state: dict = {"stage": "write"}
    out = _run(target, text, timeout, hard_exit_after, state, deep)
    out.source = state.get("source", "")
    return out


def _run(target: str, text: str, timeout: float, hard_exit_after: float | None, state: dict,
         deep: bool) -> Outcome:
    import archspec
    folder = tempfile.mkdtemp(prefix="archspec-fuzz-")
    old_cwd = os.getcwd()
    library = target in LIBRARIES
    runs = [(target, True)] + [(c, False) for c in consumers(target)] if library else [(target, False)]
    done = threading.Event()
    if hard_exit_after:
        threading.Thread(target=_watchdog, args=(done, hard_exit_after, target, text, state), daemon=True).start()
    old_handler = signal.signal(signal.SIGPROF, _alarm)
    try:
        for rel in closure(target):
            dst = Path(folder) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(text if rel == target else (ROOT / rel).read_text())
        os.chdir(folder)
        before = _listing(folder)
        signal.setitimer(signal.ITIMER_PROF, timeout)     # CPU seconds: another process's load does not count
        for rel, lib in runs:
            _pipeline(rel, lib, state, deep)
        signal.setitimer(signal.ITIMER_PROF, 0)
        state["stage"] = "files"
        after = _listing(folder)
        if after != before:
            return Outcome("failure", "files", detail=f"files created: {sorted(after - before)}; "
                                                      f"removed: {sorted(before - after)}", frame="(files)")
        return Outcome("valid", "done", files=[r for r, _ in runs])
    except MutantTimeout as e:
        return Outcome("hang", state["stage"], e, traceback.format_exc(), innermost_frame(e),
                       f"no result after {timeout} CPU seconds")
    except archspec.SpecErrors as e:
        try:
            message = str(e)
        except Exception as e2:  # noqa: BLE001 - rendering the errors must not fail
            return Outcome("failure", state["stage"] + ":render", e2, traceback.format_exc(), innermost_frame(e2),
                           "str(SpecErrors) raised")
        bad = sorted({c for c in message if not c.isprintable() and c not in "\n\t"})
        if bad:     # a name echoed raw: escapes, carriage returns, bidi overrides reach the terminal
            return Outcome("failure", state["stage"], e, "", "(message text)",
                           f"SpecErrors message holds control characters {bad!r}: {message[:300]!r}")
        return Outcome("rejected", state["stage"], e, detail=message)
    except (Exception, RecursionError, MemoryError) as e:   # noqa: BLE001 - every other error is a finding
        return Outcome("failure", state["stage"], e, traceback.format_exc(), innermost_frame(e),
                       f"{type(e).__name__}: {str(e)[:500]}")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old_handler)
        done.set()
        os.chdir(old_cwd)
        shutil.rmtree(folder, ignore_errors=True)


def report(target: str, steps: list[str], text: str, out: Outcome) -> str:
    """The failure of one mutant, for a test message or a saved example."""
    src = out.source if out.stage in ("parse", "check", "import", "build", "forward", "shapes") else ""
    return (f"mutant of {target} -> {out.kind} in stage {out.stage}: {out.detail}\n"
            f"innermost archspec frame: {out.frame}\n"
            "mutations:\n" + "".join(f"  {s}\n" for s in steps) +
            f"{out.tb}\n--- mutant text ---\n{text}\n--- end ---" +
            (f"\n--- generated source ---\n{src}\n--- end ---" if src else ""))


# -- the property test -----------------------------------------------------------------------

try:
    import pytest
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
except ImportError:          # bench/fuzz.py imports the engine without the test dependencies
    pytest = None

if pytest is not None:
    EXAMPLES_PER_FILE = 10
    # CPU seconds a mutant may run before it counts as a hang: a hang guard, not a speed check. CPU
    # time, not the clock's: under a load of 9 on 2 cores, DenseNet-121's mutants passed 30 s of the
    # clock in init_weights alone. The slowest unmutated spec (pyramidnet272, deep) takes about 4 s.
    MUTANT_TIMEOUT = 30.0

    @st.composite
    def mutants(draw, target: str):
        text = (ROOT / target).read_text()
        return mutate(text, DrawChooser(draw))

    @pytest.mark.slow
    @pytest.mark.parametrize("target", TARGETS)
    def test_mutants_fail_cleanly_or_build(target):
        @settings(max_examples=EXAMPLES_PER_FILE, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate],      # no shrinking: bounded time even when failing
                  suppress_health_check=list(HealthCheck))
        @given(mutants(target))
        def check(mutant):
            text, steps = mutant
            out = run_mutant(target, text, timeout=MUTANT_TIMEOUT, hard_exit_after=2 * MUTANT_TIMEOUT)
            assert out.kind in ("valid", "rejected"), report(target, steps, text, out)
        check()

    # Mutants the long campaign (bench/fuzz.py) found mishandled, as (file, line, old, new) edits;
    # each must end like any other mutant: a clean SpecErrors, or a model that builds.
    KNOWN = [
        ("specs/xception.yaml", 42, "256", "99999999999"),   # torch: "Storage size calculation overflowed"
        ("specs/blocks/vgg.yaml", 10, "0.01", "-1"),         # init std -1: torch "normal expects std >= 0.0"
        ("specs/alexnet.yaml", 14, "pad: 2", "pad: 99999999999"),  # flatten: nn.Linear(640000000102400000004096, ...)
        ("specs/lenet5.yaml", 13, "conv", '"\\x1b[31m"'),     # the unknown op echoed raw (ANSI escape) in the error
        ("specs/pyramidnet110.yaml", 33, "pyramidal_unit", '"a\\rb"'),  # an unknown block name with a carriage return
        ("specs/lenet5.yaml", 2, "name", '"\\u202e"'),        # an unknown spec key with a bidi override
        ("specs/resnet101.yaml", 7, "23", "65536"),          # 650k nodes: refused after the first block
    ]

    @pytest.mark.parametrize("target, line, old, new", KNOWN, ids=lambda v: str(v)[:24])
    def test_known_mutants(target, line, old, new):
        lines = (ROOT / target).read_text().split("\n")
        assert old in lines[line - 1], f"{target}:{line} no longer holds {old!r}: update KNOWN"
        lines[line - 1] = lines[line - 1].replace(old, new, 1)
        text = "\n".join(lines)
        out = run_mutant(target, text, timeout=MUTANT_TIMEOUT, hard_exit_after=2 * MUTANT_TIMEOUT)
        assert out.kind in ("valid", "rejected"), report(target, [f"line {line}: {old!r} -> {new!r}"], text, out)

    def _spin(*_):
        while True:
            pass

    def _sleep(*_):
        time.sleep(1.0)

    def test_the_alarm_counts_cpu_time_not_the_clock(monkeypatch):
        """A mutant that computes past its CPU seconds is a hang; one that waits as long on the clock
        (as a run waits on a loaded machine) is not: a hang guard a busy machine does not set off."""
        monkeypatch.setattr(sys.modules[__name__], "_pipeline", _spin)
        spun = run_mutant("specs/lenet5.yaml", (ROOT / "specs/lenet5.yaml").read_text(), timeout=0.3)
        monkeypatch.setattr(sys.modules[__name__], "_pipeline", _sleep)
        slept = run_mutant("specs/lenet5.yaml", (ROOT / "specs/lenet5.yaml").read_text(), timeout=0.3)
        assert (spun.kind, slept.kind) == ("hang", "valid"), (spun.detail, slept.detail)
