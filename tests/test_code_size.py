"""The project's size rules, enforced: no function (methods and nested functions included) in `archspec/`
is over 50 lines, no class over 250. A line count is `end_lineno - lineno + 1` of the `def`/`class` statement:
from its `def`/`class` line to its last line, docstring and comments inside included, decorators above it not."""
import ast

import pytest
from paths import ROOT

PACKAGE = ROOT / "archspec"
MAX_FUNCTION = 50
MAX_CLASS = 250


def oversized(source: str, where: str) -> list[str]:
    """Every function over MAX_FUNCTION lines and class over MAX_CLASS lines in `source`, as
    'where:line kind name N lines'; nested definitions are named by their enclosing ones (Outer.inner)."""
    found: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                is_class = isinstance(child, ast.ClassDef)
                limit = MAX_CLASS if is_class else MAX_FUNCTION
                if lines > limit:
                    kind = "class" if is_class else "function"
                    found.append(f"{where}:{child.lineno} {kind} {name} {lines} lines (limit {limit})")
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_no_function_or_class_in_the_package_is_over_its_size_limit():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20, "the package's modules were not found"
    found = [o for f in files for o in oversized(f.read_text(), str(f.relative_to(ROOT)))]
    assert not found, "over the size rules:\n" + "\n".join(found)


def _body(n: int) -> str:
    return "".join(f"    x{i} = {i}\n" for i in range(n - 1))


@pytest.mark.parametrize("source,expected", [
    # a function of exactly 50 lines passes; 51 is named
    ("def f():\n" + _body(50), []),
    ("def f():\n" + _body(51), ["m.py:1 function f 51 lines (limit 50)"]),
    # decorators are not counted: the def line starts the count
    ("@a\n@b\ndef f():\n" + _body(50), []),
    # a method and a nested function are named through their owners
    ("class C:\n    def m(self):\n        def inner():\n" + "".join(f"            y{i} = 0\n" for i in range(50))
     + "        return inner\n",
     ["m.py:2 function C.m 53 lines (limit 50)", "m.py:3 function C.m.inner 51 lines (limit 50)"]),
    # a class of 250 lines passes, 251 is named
    ("class C:\n" + "".join(f"    a{i} = {i}\n" for i in range(249)), []),
    ("class C:\n" + "".join(f"    a{i} = {i}\n" for i in range(250)), ["m.py:1 class C 251 lines (limit 250)"]),
    # functions inside if/try blocks are found too
    ("if True:\n    def g():\n" + "".join(f"        z{i} = 0\n" for i in range(50)),
     ["m.py:2 function g 51 lines (limit 50)"]),
], ids=["fn50", "fn51", "decorated", "nested", "class250", "class251", "in-if"])
def test_the_size_check_counts_lines_as_stated(source, expected):
    assert oversized(source, "m.py") == expected
