"""The `${...}` interpreter (archspec.frontend.expr): what it computes, checked against Python's own
evaluation of the same text, and every refusal as a SpecError with a clear message."""
import math

import pytest

from archspec import limits
from archspec.errors import SpecError
from archspec.frontend import expr as expr_module
from archspec.frontend.expr import FUNCTIONS, ShapeView, evaluate, names_read, resolve

ENV = {"planes": 64, "layers": [3, 4, 6, 3], "name": "conv", "ratio": 0.25, "flag": True, "i": 2}


def _torchvision_make_divisible():
    from torchvision.models._utils import _make_divisible
    return _make_divisible


def py(text, env=ENV):
    """Python's own value of the text (the oracle), tuples shown as the interpreter's lists."""
    v = eval(text, {"__builtins__": {}}, {**env, "floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt,
                                            "min": min, "max": max, "abs": abs, "len": len, "sum": sum,
                                            "int": int, "float": float, "round": round,
                                            "range": lambda *a: list(range(*a)), "log2": math.log2,
                                            "make_divisible": _torchvision_make_divisible(), "str": str})
    return list(v) if isinstance(v, tuple) else v


def fails(text, match, env=ENV):
    with pytest.raises(SpecError, match=match) as e:
        evaluate(text, env)
    return e.value


# -- values, against Python ----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "1 + 2 * 3", "(1 + 2) * 3", "2 ** 3 ** 2", "-2 ** 2", "(-2) ** 2", "2 ** -1", "10 - 4 - 3", "100 / 8 / 5",
    "7 // 2", "-7 // 2", "7 // -2", "7 % 3", "-7 % 3", "7 % -3", "7.5 // 2", "7.5 % 2", "7 / 2", "8 / 2",
    "planes * 4 // 2 + 1", "planes // 3 % 5", "-planes", "+planes", "not planes", "not 0", "True + 1",
    "1 < 2 < 3", "3 > 2 > 2", "1 < 2 == 2", "1 == 1.0", "1 != 2 != 1", "2 <= 2 >= 1", "'a' < 'b'",
    "3 in layers", "5 not in layers", "'on' in name", "[1, 2] == [1, 2]",
    "0 and 1", "2 and 3", "0 or 4", "'' or 'x'", "0 or '' or []", "1 and 2 and 3",
    "'a' if flag else 'b'", "planes if planes > 100 else planes * 2", "1 if 0 else 2 if 0 else 3",
    "layers[0]", "layers[-1]", "layers[-4]", "name[1]", "name[-1]", "[[1, 2], [3]][0][1]", "(1, 2)",
    "layers + [1]", "layers * 2", "2 * layers", "name + 's'", "name * 3", "[1, 'a', ratio, None, True]",
    "i * 2 + 1", "ratio * planes", "1e3", "0x10 + 0o7 + 0b1", "1_000",
])
def test_values_equal_pythons(text):
    got = evaluate(text, ENV)
    want = py(text)
    assert got == want and type(got) is type(want), text


@pytest.mark.parametrize("text", [
    "min(3, 1, 2)", "min([4, 2])", "max(1, 2.5)", "max(layers)", "abs(-3)", "abs(-2.5)", "len(layers)",
    "len(name)", "sum(layers)", "sum([1, 2.5])", "sum([])", "int(3.9)", "int(-3.9)", "int('42')", "float(3)",
    "float('1.5')", "round(2.5)", "round(3.5)", "round(2.675, 2)", "round(1234, -2)", "round(1.5, 30)",
    "floor(2.5)", "floor(-2.5)", "ceil(2.1)", "ceil(-2.1)", "sqrt(16)", "sqrt(2)", "range(4)",
    "range(2, 10, 3)", "range(5, 0, -2)", "sum(range(5))", "len(range(3, 9))", "max(range(7))",
    "ceil(planes / 3)", "int(planes * ratio)", "log2(8)", "log2(10)", "log2(0.5)", "int(log2(planes))",
    "make_divisible(37.5, 8)", "make_divisible(16 * 0.25, 8)", "make_divisible(3, 8, 1)", "sqrt(0)",
    "str(planes)", "str(ratio)", "'y' + str(i + 1)",
])
def test_functions_equal_pythons(text):
    got = evaluate(text, ENV)
    want = py(text)
    assert got == want and type(got) is type(want), text


@pytest.mark.parametrize("text", [
    "[k * 2 for k in range(4)]", "[k for k in layers if k > 3]", "[k for k in layers if k > 3 if k < 6]",
    "[f'y{k + 1}' for k in range(3)] + ['pool']", "f'conv{i}_{planes}'", "f'{ratio}{flag}'", "f'plain'",
    "[c for c in name]", "[k + planes for k in []]", "len([k for k in range(1000)])",
])
def test_comprehensions_and_fstrings_equal_pythons(text):
    """A computed list of names (Res2Net's ladder: y1 .. y(s-1), pool), as Python builds it."""
    want = eval(text, {"__builtins__": {}, "range": lambda *a: list(range(*a)), "len": len, **ENV})
    got = evaluate(text, ENV)
    assert got == want and type(got) is type(want), text


def test_every_function_is_tested():
    tested = "".join(test_functions_equal_pythons.pytestmark[0].args[1])
    assert all(f"{name}(" in tested for name in FUNCTIONS), sorted(n for n in FUNCTIONS if f"{n}(" not in tested)


def test_short_circuit_and_lazy_branches():
    """The side not taken is never evaluated: an error there is no error."""
    assert evaluate("0 and 1 / 0", {}) == 0
    assert evaluate("1 or 1 / 0", {}) == 1
    assert evaluate("flag or undefined_name", ENV) is True
    assert evaluate("1 if 1 else 1 / 0", {}) == 1
    assert evaluate("1 / 0 if 0 else 2", {}) == 2
    assert evaluate("1 > 2 > 1 / 0", {}) is False          # a chain stops at its first false link
    fails("1 and 1 / 0", "division by zero")
    fails("0 or 1 / 0", "division by zero")
    fails("1 < 2 < 1 / 0", "division by zero")


def test_true_false_none():
    assert evaluate("True", {}) is True and evaluate("False", {}) is False and evaluate("None", {}) is None
    assert evaluate("flag == True", ENV) is True


# -- the incoming tensor ---------------------------------------------------------------------

def test_shape_view():
    env = {"input": ShapeView((3, 8, 9))}
    assert [evaluate(f"input.{f}", env) for f in ("channels", "height", "width", "shape")] == [3, 8, 9, [3, 8, 9]]
    assert evaluate("input.channels * 2 + input.shape[2]", env) == 15
    assert evaluate("input.shape", env) is not evaluate("input.shape", env)      # a copy each time
    flat = {"input": ShapeView((10,))}
    assert evaluate("input.channels", flat) == 10 and evaluate("input.shape", flat) == [10]
    with pytest.raises(SpecError, match=r"the incoming tensor \(10,\) has no height"):
        evaluate("input.height", flat)
    with pytest.raises(SpecError, match="no attribute 'depth' on shape\\(3, 8, 9\\)") as e:
        evaluate("input.depth", env)
    assert ".channels" in e.value.hint
    with pytest.raises(SpecError, match="no attribute '__class__'"):
        evaluate("input.__class__", env)


# -- resolve: whole expression keeps its type, text around it makes text ---------------------------

def test_resolve_types_and_interpolation():
    env = {"planes": 64, "ratio": 0.5, "flag": False, "layers": [1, 2]}
    assert resolve("${planes}", env) == 64 and type(resolve("${planes}", env)) is int
    assert resolve("  ${planes * ratio}  ", env) == 32.0            # surrounding blanks: still whole
    assert resolve("${flag}", env) is False
    assert resolve("${layers}", env) == [1, 2]
    assert resolve("${'x'}", env) == "x"
    assert resolve("conv${planes}", env) == "conv64"
    assert resolve("${planes}${planes}", env) == "6464"             # two expressions: text
    assert resolve("${planes} ${ratio}", env) == "64 0.5"
    assert resolve("layer${1 + 1}.${layers[0]}", env) == "layer2.1"
    assert resolve("a${flag}b", env) == "aFalseb"
    assert resolve(["${planes}", "x${planes}", 3, ["${ratio}"]], env) == [64, "x64", 3, [0.5]]
    assert resolve("no expression", env) == "no expression" and resolve(7, env) == 7
    assert resolve("${1 + 1", env) == "${1 + 1"                       # unclosed: plain text
    assert resolve("${max([1, 2])}", env) == 2                        # brackets and commas inside
    with pytest.raises(SpecError, match="undefined name 'nope'"):
        resolve("x${nope}", env)


# -- errors ------------------------------------------------------------------------------------------

def test_undefined_names_suggest():
    e = fails("plane * 2", "undefined name 'plane' in expression")
    assert e.hint == "did you mean 'planes'?"
    e = fails("zzz", "undefined name 'zzz'", env={"planes": 1, "inputs": 2})
    assert e.hint == "names defined here: planes"                    # `inputs` is internal: not listed
    assert fails("zzz", "undefined name", env={}).hint == "names defined here: none"
    fails("max + 1", "'max' is a function; call it, e.g. max\\(...\\)")


@pytest.mark.parametrize("text,match", [
    ("lambda: 1", "'Lambda' is not allowed in expressions"),
    ("[k for j in range(3) for k in range(j)]", "a list comprehension takes one 'for'"),
    ("[[j for j in range(k)] for k in range(3)]", "no comprehension inside it"),
    ("[k for k in range(3) if [j for j in range(k)]]", "no comprehension inside it"),
    ("[i for i in range(3)]", "the comprehension's variable 'i' would hide 'i'"),
    ("[a for a, b in [[1, 2]]]", "names one variable"),
    ("[k for k in planes]", "a comprehension loops over a list, got int 64"),
    ("[k for k in range(1001)]", "a comprehension over 1,001 items exceeds archspec's limit of 1,000"),
    ("[layers * 2000 for k in range(2)]", "more than archspec's limit of 10,000 elements"),
    ("f'{planes!r}'", "plain {value} fields"),
    ("f'{ratio:.2f}'", "plain {value} fields"),
    ("sum(i for i in layers)", "'GeneratorExp' is not allowed"),
    ("{i: 1 for i in layers}", "'DictComp' is not allowed"),
    ("{1: 2}", "'Dict' is not allowed"),
    ("{1, 2}", "'Set' is not allowed"),
    ("[*layers]", "'Starred' is not allowed"),
    ("layers[::2]", "a slice takes no step"),
    ("layers[:1.5]", "a slice's ends must be ints"),
    ("planes.real", "no attribute 'real' on 64"),
    ("name.upper()", "only these functions may be called"),
    ("__import__('os')", "only these functions may be called: abs, ceil, float"),
    ("print(1)", "only these functions may be called"),
    ("open('x')", "only these functions may be called"),
    ("max(layers, key=abs)", r"max\(...\) takes no keyword 'key'"),
    ("(lambda: 1)()", "only these functions may be called"),
    ("1 @ 2", "operator MatMult is not allowed"),
    ("1 << 2", "operator LShift is not allowed"),
    ("1 | 2", "operator BitOr is not allowed"),
    ("b'x'", "unsupported literal b'x'"),
    ("1j", "unsupported literal 1j"),
    ("...", "unsupported literal Ellipsis"),
    ("x := 1", "cannot parse expression"),
    ("1 +", "cannot parse expression '1 \\+': invalid syntax"),
    ("import os", "cannot parse expression"),
])
def test_disallowed_syntax(text, match):
    e = fails(text, match)
    assert "Traceback" not in str(e)


def test_bitwise_not_is_refused_clearly():
    fails("~1", "not allowed")


@pytest.mark.parametrize("text,match", [
    ("1 / 0", "division by zero: 1 / 0"),
    ("1 // 0", "division by zero: 1 // 0"),
    ("1 % 0", "division by zero: 1 % 0"),
    ("1.5 / 0.0", "division by zero"),
    ("0 ** -1", "division by zero"),
    ("planes / (i - 2)", "division by zero: 64 / 0"),
])
def test_division_by_zero(text, match):
    fails(text, match)


@pytest.mark.parametrize("text,match", [
    ("layers[4]", r"index 4 out of range for \[3, 4, 6, 3\] \(length 4\)"),
    ("layers[-5]", r"index -5 out of range"),
    ("name[9]", r"index 9 out of range for 'conv'"),
    ("[][0]", r"index 0 out of range"),
    ("layers[1.0]", "index must be an int, got float 1.0"),
    ("layers[True]", "index must be an int, got bool True"),
    ("planes[0]", "cannot index int 64"),
    ("'a' + 1", "cannot apply '\\+' to str 'a' and int 1"),
    ("'a' < 1", "cannot compare str 'a' with int 1"),
    ("-name", "bad operand str 'conv' for unary operator"),
    ("'%d' % 3", "'%' applies to numbers, not text"),
    ("sum(1)", r"sum\(...\) adds a list of numbers, got 1"),
    ("sum(['a'])", r"sum\(...\) adds a list of numbers"),
    ("sqrt(-1)", r"sqrt of the negative number -1"),
    ("int('x')", r"int\(...\) failed: invalid literal"),
    ("min()", r"min\(...\) failed"),
    ("float('nan')", "the result nan is not a finite number"),
    ("float('inf')", "the result inf is not a finite number"),
    ("1e308 * 10", "the result inf is not a finite number"),
])
def test_type_and_value_errors(text, match):
    fails(text, match)


# -- limits (archspec/limits.py) ---------------------------------------------------------------------

def test_max_expr_chars():
    n = limits.MAX_EXPR_CHARS
    ok = "1" + " " * (n - 1)
    assert evaluate(ok, {}) == 1
    fails(ok + " ", f"expression of {n + 1:,} characters exceeds archspec's limit of {n:,}")


def test_max_expr_nodes():
    terms = "+".join(["1"] * 100)               # 100 constants, 99 BinOps: 199 nodes
    assert evaluate(terms, {}) == 100
    too_many = "+".join(["1"] * (limits.MAX_EXPR_NODES // 2 + 1))
    assert len(too_many) <= limits.MAX_EXPR_CHARS
    fails(too_many, f"has more than archspec's limit of {limits.MAX_EXPR_NODES} terms")
    deep = "(" * 150 + "1" + ")" * 150          # parentheses are no nodes
    assert evaluate(deep, {}) == 1


def test_max_int():
    top = limits.MAX_INT - 1
    assert evaluate(str(top), {}) == top and evaluate(f"-{top}", {}) == -top
    bits = limits.MAX_INT.bit_length() - 1
    fails(str(limits.MAX_INT), f"outside archspec's integer range, -2\\*\\*{bits} < n < 2\\*\\*{bits}")
    fails(f"{top} + 1", "outside archspec's integer range")
    fails(f"-{top} - 1", "outside archspec's integer range")
    fails(f"{2**32} * {2**32}", "outside archspec's integer range")
    fails("int(1e300)", "outside archspec's integer range")
    assert evaluate("2 ** 62 + (2 ** 62 - 1)", {}) == top


def test_exponent_limit():
    assert evaluate("2 ** 62", {}) == 2 ** 62 and evaluate("1 ** 64", {}) == 1
    assert evaluate("2.0 ** -64", {}) == 2.0 ** -64
    fails("2 ** 65", "exponent 65 is too large")
    fails("1 ** 65", "exponent 65 is too large")
    fails("2 ** -65", "exponent -65 is too large")
    fails("2 ** 65.0", "exponent 65.0 is too large")
    fails("10 ** 64", "10 \\*\\* 64 is too large")
    fails("9 ** 9 ** 9", "too large")
    fails("2 ** 64", "outside archspec's integer range")


def test_max_size():
    n = limits.MAX_SIZE
    assert len(evaluate(f"'a' * {n}", {})) == n
    assert len(evaluate(f"range({n // 2})", {})) == n // 2
    fails(f"'a' * {n + 1}", f"repeating str of size 1 {n + 1} times exceeds archspec's limit of {n:,} elements")
    fails(f"'ab' * {n // 2 + 1}", "exceeds archspec's limit")
    fails(f"range({n + 1})", f"range of {n + 1:,} numbers exceeds archspec's limit of {n:,}")
    fails("range(10 ** 18)", "exceeds archspec's limit")
    fails(f"'{'a' * 600}' * 20", "exceeds archspec's limit")
    fails(f"range({n // 2 + 10}) + range({n // 2 + 10})", f"more than archspec's limit of {n:,} elements")
    fails(f"[[0] * 100] * {n}", "exceeds archspec's limit")


def test_max_size_is_the_length_of_a_list():
    n = limits.MAX_SIZE
    assert len(evaluate(f"range({n})", {})) == n            # README: elements of ... `range(n)`
    assert len(evaluate(f"[0] * {n}", {})) == n


def test_round_digits():
    assert evaluate("round(1.5, 30)", {}) == 1.5 and evaluate("round(155, -30)", {}) == 0
    fails("round(1.5, 31)", "round\\(x, n\\) takes n between -30 and 30, got 31")
    fails("round(1, -10 ** 9)", "takes n between -30 and 30")
    fails("round(1.5, 1.5)", "takes n between -30 and 30, got 1.5")


def test_errors_are_short_for_long_values():
    """A value shown in a message is cut short: specs are never echoed at length."""
    env = {"big": "x" * 5000}
    e = fails("big + 1", "cannot apply", env=env)
    assert len(str(e)) < 500
    e = fails("big[6000]", "out of range", env=env)
    assert len(str(e)) < 500


# -- make_divisible, log2, sqrt (issue 20): against torchvision and timm, and their bounds ------------

def _widths():
    """Widths as MobileNet/EfficientNet make them: base channels times width multipliers."""
    for c in (1, 3, 8, 16, 24, 32, 40, 48, 64, 72, 80, 96, 112, 120, 160, 184, 200, 240, 320, 480, 672, 960, 1280):
        for m in (0.1, 0.25, 0.35, 0.5, 0.75, 1.0, 1.1, 1.2, 1.25, 1.4, 1.6, 1.8, 2.0, 2.2, 3.1):
            yield c * m
    yield from range(0, 300, 3)


def test_make_divisible_is_torchvisions_and_timms():
    """For hundreds of widths, divisors 1-8, 16, 32, and every min_value form: torchvision's
    _make_divisible; timm's make_divisible (round_limit 0.9 and others) wherever min_value is not
    0, which timm alone reads as `divisor` (`min_value or divisor`)."""
    pytest.importorskip("timm")
    from timm.layers import make_divisible as timm_md
    tv_md = _torchvision_make_divisible()
    checked = 0
    for v in _widths():
        for d in (1, 2, 3, 4, 5, 7, 8, 16, 32):
            for mv in (None, 1, d, 2 * d, 100):
                env = {"v": v, "d": d, "mv": mv}
                want = tv_md(v, d, mv)
                assert evaluate("make_divisible(v, d, mv)", env) == want == timm_md(v, d, mv)
                checked += 1
            for limit in (0.0, 0.5, 1.0):
                got = evaluate("make_divisible(v, d, round_limit=r)", {"v": v, "d": d, "r": limit})
                assert got == timm_md(v, d, None, limit)
    assert checked > 10_000         # widths x divisors x min_values
    # the one difference, kept as torchvision has it: an explicit min_value of 0
    assert evaluate("make_divisible(0, 8, 0)", {}) == tv_md(0, 8, 0) == 0 != timm_md(0, 8, 0)
    assert evaluate("make_divisible(32)", {}) == 32          # timm's default divisor, 8


@pytest.mark.parametrize("text,match", [
    ("sqrt(-1)", "sqrt of the negative number -1"),
    ("sqrt(-0.5)", "sqrt of the negative number -0.5"),
    ("log2(0)", "log2 of 0, which is not positive"),
    ("log2(-8)", "log2 of -8, which is not positive"),
    ("log2('a')", "log2\\(x\\) takes a number, got str 'a'"),
    ("sqrt(True)", "sqrt\\(x\\) takes a number, got bool"),
    ("floor(1e300)", "outside archspec's integer range"),
    ("ceil(-1e300)", "outside archspec's integer range"),
    ("sqrt(2 ** 62) ** 2 ** 6", "2147483648.0 \\*\\* 64 is too large"),
    ("float('inf')", "the result inf is not a finite number"),
    ("float('nan')", "the result nan is not a finite number"),
    ("1e999", "the result inf is not a finite number"),
    ("2.0 ** 1024", "exponent 1024 is too large"),
    ("make_divisible(1e300, 8)", "outside archspec's integer range"),
    ("make_divisible(10, 0)", "divisor must be a positive int, got 0"),
    ("make_divisible(10, 2.5)", "divisor must be a positive int, got 2.5"),
    ("make_divisible(10, True)", "divisor must be a positive int, got True"),
    ("make_divisible('a', 8)", "takes a number, got str 'a'"),
    ("make_divisible(10, 8, 'x')", "min_value takes a number"),
    ("make_divisible(10, 8, scale=2)", "make_divisible\\(...\\) takes no keyword 'scale'"),
    ("min(3, 1, key=2)", "min\\(...\\) takes no keyword 'key'"),
    ("make_divisible(10, 8, 1, 0.9, 5)", "make_divisible\\(...\\) failed"),
])
def test_arithmetic_of_widths_stays_within_bounds(text, match):
    """Every refusal a SpecError (never a Python error, never inf or nan in a value)."""
    fails(text, match, {})


def test_bound_errors_are_located_in_the_spec(spec_file):
    """An out-of-domain function in a spec is the project's located error, at the value."""
    import archspec
    from archspec.errors import SpecErrors
    path = spec_file("archspec: 1\ninput: [3, 8, 8]\nparams:\n  c: 16\n  w: ${log2(c - 16)}\n"
                     "nodes:\n  - {op: conv, out: '${int(w)}', k: 1}\n")
    with pytest.raises(SpecErrors) as e:
        archspec.analyze(path)
    assert "net.yaml:5:6: error: in param 'w': log2 of 0, which is not positive" in str(e.value)


def test_shape_view_of_other_ranks():
    """A stack's (R, C, H, W) has channels (its first axis) but no height or width to name: .shape."""
    four = {"input": ShapeView((2, 16, 8, 8))}
    assert evaluate("input.channels", four) == 2 and evaluate("input.shape[2]", four) == 8
    with pytest.raises(SpecError, match=r"the incoming tensor \(2, 16, 8, 8\) has no height"):
        evaluate("input.height", four)
    assert evaluate("input.rank", four) == 4


def test_names_read_walks_each_text_once(monkeypatch):
    """The expander asks names_read of a node's expressions at every instance of its block: a text's
    parsed tree is walked once (the names of a text are its text's), and each caller gets its own set."""
    walked = []
    walk = expr_module.ast.walk
    monkeypatch.setattr(expr_module.ast, "walk", lambda tree: walked.append(tree) or walk(tree))
    text = "${planes * expansion_once + 1} and ${width_once // 2}"      # read nowhere else in the tests
    first = names_read(text)
    assert walked
    walked.clear()
    first.add("changed")        # the caller's own set: the next caller's is not changed
    assert names_read(text) == {"planes", "expansion_once", "width_once"}
    assert not walked               # asked again: no tree walked again
