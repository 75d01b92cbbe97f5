"""archspec's packages are the stages of the README's picture, and import only what each package's
__init__.py says it may: the front end no back end, nothing torch but the PyTorch side, nothing the
command line. Read from the source (every import, those inside functions too), never by importing."""
import ast
import functools

from paths import ROOT
from test_imports import PACKAGE, graph, imported, module_name

SHARED = {"archspec.errors", "archspec.limits", "archspec.names", "archspec.files", "archspec.plugins",
          "archspec.version"}
API = {"archspec", "archspec.analysis", "archspec.__main__"}   # the package's face: load, analyze, compile
STAGES = ("frontend", "reports", "pytorch", "sweep", "cli")

# What each layer may import (its own modules always): the layers below it.
MAY_IMPORT = {
    "shared": {"shared"},
    "ir": {"shared"},                                        # ir.py and ops/
    "frontend": {"shared", "ir"},
    "reports": {"shared", "ir", "frontend", "api"},          # table expands a spec's other configurations
    "pytorch": {"shared", "ir", "frontend", "api", "reports"},
    "sweep": {"shared", "ir", "frontend", "api", "reports", "pytorch"},     # pytorch inside a Ray trial only
    "cli": {"shared", "ir", "frontend", "api", "reports", "pytorch", "sweep"},
    "api": {"shared", "ir", "frontend", "reports", "pytorch", "sweep", "cli"},
}
# Imports against the layers allowed all the same: none (memory reads which ops run in place from the IR).
EXCEPTIONS: set[tuple[str, str]] = set()
TORCH = ("torch", "torchvision", "timm")
# Modules inside pytorch/ that importing never loads torch: emit writes source, it does not run it.
TORCH_FREE_IN_PYTORCH = ("archspec.pytorch", "archspec.pytorch.emit")


def layer(module: str) -> str:
    parts = module.split(".")
    if module in SHARED:
        return "shared"
    if module in API:
        return "api"
    if module == "archspec.ir" or parts[:2] == ["archspec", "ops"]:
        return "ir"
    if len(parts) > 1 and parts[1] in STAGES:
        return parts[1]
    raise AssertionError(f"{module}: in no layer of tests/test_layout.py (a new top-level module?)")


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Each import of a module from a layer its importer may not import, as 'a -> b (layer a -> layer b)'."""
    return [f"{a} -> {b} ({layer(a)} -> {layer(b)})" for a in sorted(edges) for b in sorted(edges[a])
            if layer(b) != layer(a) and layer(b) not in MAY_IMPORT[layer(a)] and (a, b) not in EXCEPTIONS]


def loaded(start: str, edges: dict[str, set[str]]) -> set[str]:
    """The archspec modules importing `start` runs: its module-level imports, theirs, and the packages
    above each (importing a.b.c runs a/__init__.py and a/b/__init__.py first)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        m = todo.pop()
        parts = m.split(".")
        for n in [".".join(parts[:i]) for i in range(1, len(parts) + 1)]:
            if n in edges and n not in seen:
                seen.add(n)
                todo.extend(edges[n])
    return seen


@functools.cache
def module_level() -> dict[str, set[str]]:
    """Each archspec module's imports run when it is imported, archspec's and others' (torch ...):
    made once per test process, read (never changed) by two checks."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported(p, modules, module_level=True) - {module_name(p)} for p in paths}


def torch_loaded_by(start: str, top: dict[str, set[str]]) -> list[str]:
    """'module: torch...' for each module that importing `start` runs and that imports torch at module level."""
    internal = {m: {n for n in names if n in top} for m, names in top.items()}
    return [f"{m}: {n}" for m in sorted(loaded(start, internal)) for n in sorted(top[m])
            if n.split(".")[0] in TORCH]


def test_the_checks_see_a_forbidden_import():
    edges = {"archspec.frontend.spec": {"archspec.errors", "archspec.reports.report"},
             "archspec.reports.report": {"archspec.ir"}, "archspec.errors": set(), "archspec.ir": set(),
             "archspec.reports.memory": {"archspec.pytorch.emit.scopes"}, "archspec.pytorch.emit.scopes": set()}
    assert violations(edges) == ["archspec.frontend.spec -> archspec.reports.report (frontend -> reports)",
                                 "archspec.reports.memory -> archspec.pytorch.emit.scopes (reports -> pytorch)"]
    top = {"archspec": set(), "archspec.reports": set(), "archspec.reports.report": {"archspec.pytorch.x"},
           "archspec.pytorch": set(), "archspec.pytorch.x": {"torch.nn", "os"}}
    assert torch_loaded_by("archspec.reports.report", top) == ["archspec.pytorch.x: torch.nn"]
    assert torch_loaded_by("archspec.pytorch", top) == []


def test_each_package_imports_only_the_layers_below_it():
    found = violations(graph())
    assert not found, "imports against the layers (each package's __init__.py says what it may import):\n" + \
        "\n".join(found)


def test_nothing_imports_the_command_line():
    users = sorted(a for a, bs in graph().items() if layer(a) not in ("cli", "api") and any(
        layer(b) == "cli" for b in bs))
    assert users == [], f"the command line imported from {users}"


def test_the_torch_free_modules_never_load_torch():
    """validate, summary, schema and diagram run without torch: importing any module outside pytorch/
    (or pytorch/__init__.py, or emit/, which memory reads) runs no `import torch`."""
    top = module_level()
    free = [m for m in top if layer(m) != "pytorch" or m.startswith(TORCH_FREE_IN_PYTORCH[1]) or
            m == TORCH_FREE_IN_PYTORCH[0]]
    assert "archspec.cli.commands" in free and "archspec.reports.memory" in free
    found = {m: torch_loaded_by(m, top) for m in free}
    assert not any(found.values()), "torch loaded at import: " + "; ".join(
        f"{m} runs {', '.join(v)}" for m, v in found.items() if v)


def test_the_compiler_is_where_torch_is():
    """The check above can fail: the torch side's modules do import torch where they are loaded."""
    top = module_level()
    assert "archspec.pytorch.compiler: torch" in torch_loaded_by("archspec.pytorch.compiler", top)


def test_each_package_says_what_it_owns_and_may_import():
    """Every package's __init__.py has a docstring with a 'May import' sentence."""
    silent = [str(p.relative_to(ROOT)) for p in sorted(PACKAGE.rglob("__init__.py"))
              if p.parent != PACKAGE and "May import" not in (ast.get_docstring(ast.parse(p.read_text())) or "")]
    assert silent == []
