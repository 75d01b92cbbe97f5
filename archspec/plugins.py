"""The user's own code, run by their explicit request on the command line (`--ops FILE.py|MODULE`,
`archspec import FILE.py:FACTORY`); a spec file can never cause it. What it raises is reported
as the project's located error."""
from __future__ import annotations

import os
import re
import sys

from .errors import Diagnostic, Loc, SpecErrors
from .names import one_line


def load_plugins(sources: list[str]) -> None:
    """Import user op modules: a .py file by path, or an importable module name."""
    for src in sources:
        run_user_code(src, "--ops", load_module)


def run_user_code(src: str, flag: str, action):
    """`action(src)`, which runs the user's own code (an --ops file, an import's factory), by their
    explicit request on the command line; a spec file can never cause it. Whatever that code
    raises is reported as the project's error, with the file and line where it happened."""
    try:
        return action(src)
    except SpecErrors:
        raise
    except Exception as e:     # noqa: BLE001 - the user's code may raise anything
        raise SpecErrors([Diagnostic(_plugin_loc(src, e), f"cannot load {flag} {one_line(src, 80)}: "
                                     f"{type(e).__name__}: {one_line(e, 200)}")]) from None


MODULE_NAME = re.compile(r"(?!\d)\w+(\.(?!\d)\w+)*")     # what `import NAME` takes: dotted words


def load_module(src: str, flag: str = "--ops"):
    """A .py file's module (by path, registered in sys.modules), or an importable module by name."""
    import importlib
    import importlib.util

    def refuse(problem: str):
        return SpecErrors([Diagnostic(Loc(f"{flag} {one_line(src, 80) or repr(src)}"), problem,
                                      hint="name a .py file, or a module as `import` takes it (my_ops, pkg.ops)")])
    if not src.endswith(".py") and MODULE_NAME.fullmatch(src):
        return importlib.import_module(src)
    if os.path.isdir(src):
        raise refuse("is a folder, not a Python file")
    if not src.endswith(".py"):
        raise refuse("is neither a .py file nor a module name")
    if not os.path.isfile(src):
        raise refuse("no such file")
    spec = importlib.util.spec_from_file_location(f"archspec_ops_{abs(hash(src))}", src)
    if spec is None or spec.loader is None:
        raise refuse("not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module      # as an import would: its classes know their file (inspect, import)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def _plugin_loc(src: str, e: Exception) -> Loc:
    """Where in the user's file the error is: a syntax error's own line, else the deepest frame there."""
    if isinstance(e, SyntaxError) and e.lineno:
        return Loc(one_line(e.filename or src, 120), e.lineno, e.offset or 0)
    tb, line = e.__traceback__, 0
    while tb is not None:
        if os.path.basename(tb.tb_frame.f_code.co_filename) == os.path.basename(src):
            line = tb.tb_lineno
        tb = tb.tb_next
    return Loc(one_line(src, 120), line, 1 if line else 0)
