"""archspec's modules import each other without a cycle, counting the imports inside functions
(a cycle through a function-level import works only while no module on it needs the other at
import time: one moved import makes it a circular-import crash)."""
import ast
import functools

from paths import ROOT

PACKAGE = ROOT / "archspec"


def module_name(path, root=ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path, modules: set[str], root=ROOT, module_level: bool = False) -> set[str]:
    """The archspec modules `path` imports anywhere in it: `from .x import y` is x, and x.y too
    where y is a module; `from . import y` is the package, or y where y is a module. With
    `module_level`, only the imports run when it is imported (none inside a function)."""
    return {m for m in imported(path, modules, root, module_level) if m in modules and m != module_name(path, root)}


def imported(path, modules: set[str], root=ROOT, module_level: bool = False) -> set[str]:
    """Every module `path` imports, archspec's (relative ones resolved, as `imports` says) and others
    (`import torch.nn.functional as F` is torch.nn.functional, `from torch import nn` is torch)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree, typing_only = parsed(path)
    for node in walk(tree, module_level):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            subs = {f"{target}.{a.name}" for a in node.names} & modules
            found |= subs if subs and len(subs) == len(node.names) else subs | {target}
    return found


@functools.cache
def parsed(path) -> tuple[ast.Module, set[int]]:
    """A source file's tree and the ids of its nodes under `if TYPE_CHECKING:`, read once per test
    process (this module's and test_layout's checks read every file of the package, most twice)."""
    tree = ast.parse(path.read_text())
    return tree, {id(n) for block in ast.walk(tree) if is_type_checking(block)
                  for stmt in block.body for n in ast.walk(stmt)}


def walk(tree: ast.AST, module_level: bool):
    """Every node of `tree`, as ast.walk; with `module_level`, none inside a function's body."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if not (module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))):
            todo.extend(ast.iter_child_nodes(node))


def is_type_checking(node) -> bool:
    """`if TYPE_CHECKING:`: imports for annotations only, never run, so no cycle at run time."""
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


@functools.cache
def graph() -> dict[str, set[str]]:
    """Each archspec module's imports of archspec modules: made once per test process, read (never
    changed) by the checks here and in test_layout."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports(p, modules) for p in paths}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of modules that import each other round, as a path a -> ... -> a."""
    return [path_through(edges, g) for g in groups_of(edges)]


def groups_of(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(set(group))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def path_through(edges: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest cycle from the group's first module back to it, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges[v] & group):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle in {group}")


def test_the_finder_sees_cycles_and_function_level_imports(tmp_path):
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    (tmp_path / "archspec" / "sub").mkdir(parents=True)
    source = tmp_path / "archspec" / "sub" / "m.py"
    source.write_text("import json\n\n\ndef f():\n    from ..cli import main\n    from .. import table, load\n"
                      "    from . import other\n\nif TYPE_CHECKING:\n    from ..diff import x\n")
    modules = {"archspec", "archspec.cli", "archspec.diff", "archspec.table", "archspec.sub", "archspec.sub.m",
               "archspec.sub.other"}
    assert imports(source, modules, tmp_path) == {"archspec", "archspec.cli", "archspec.table", "archspec.sub.other"}


def test_the_graph_reads_every_kind_of_import():
    edges = graph()
    assert "archspec.frontend.expand" in edges["archspec.analysis"]          # inside analyze()
    assert "archspec.pytorch.compiler" in edges["archspec"]                  # inside compile()
    assert "archspec.ops" in edges["archspec.frontend.expand"]               # from ..ops import REGISTRY
    assert "archspec.ops.base" in edges["archspec.ops.merge"]                # from . import base (a module)
    assert "archspec.errors" in edges["archspec.pytorch.importing.sources"]  # from ...errors import ...
    assert "archspec.reports.render" in edges["archspec.cli.commands"]       # from ..reports import render


def test_no_import_cycle():
    edges = graph()
    found = cycles(edges)
    groups = [sorted(g) for g in groups_of(edges)]
    assert not found, "import cycles: " + "; ".join(
        f"{' -> '.join(c)} (modules that import each other round: {', '.join(g)})" for c, g in zip(found, groups))
