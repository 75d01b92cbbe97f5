"""The `${...}` interpreter (archspec.frontend.expr): what it computes, checked against Python's own
evaluation of the same text, and every refusal as a SpecError with a clear message."""
import math

import pytest

from archspec import limits
from archspec.errors import SpecError
from archspec.frontend.expr import FUNCTIONS, ShapeView, evaluate, resolve

ENV = {"planes": 64, "layers": [3, 4, 6, 3], "name": "conv", "ratio": 0.25, "flag": True, "i": 2}


def py(text, env=ENV):
    """Python's own value of the text (the oracle), tuples shown as the interpreter's lists."""
    v = eval(text, {"__builtins__": {}}, {**env, "floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt,
                                            "min": min, "max": max, "abs": abs, "len": len, "sum": sum,
                                            "int": int, "float": float, "round": round,
                                            "range": lambda *a: list(range(*a))})
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
    "ceil(planes / 3)", "int(planes * ratio)",
])
def test_functions_equal_pythons(text):
    got = evaluate(text, ENV)
    want = py(text)
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
    ("[i for i in range(3)]", "'ListComp' is not allowed"),
    ("sum(i for i in layers)", "'GeneratorExp' is not allowed"),
    ("{i: 1 for i in layers}", "'DictComp' is not allowed"),
    ("{1: 2}", "'Dict' is not allowed"),
    ("{1, 2}", "'Set' is not allowed"),
    ("f'{planes}'", "'JoinedStr' is not allowed"),
    ("[*layers]", "'Starred' is not allowed"),
    ("layers[1:]", "'Slice' is not allowed"),
    ("planes.real", "no attribute 'real' on 64"),
    ("name.upper()", "only these functions may be called"),
    ("__import__('os')", "only these functions may be called: abs, ceil, float"),
    ("print(1)", "only these functions may be called"),
    ("open('x')", "only these functions may be called"),
    ("max(layers, key=abs)", "only these functions may be called"),
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
    ("sqrt(-1)", r"sqrt\(...\) failed: math domain error"),
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
