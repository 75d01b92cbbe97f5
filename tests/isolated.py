"""archspec's command line in a process of its own, for hostile input that would hang the test run
or eat the machine if a limit of archspec's failed: a timeout turns a hang into a failure and an
address-space limit bounds the memory. The process is forked from a server that imported archspec
once (multiprocessing's forkserver), so a case costs a fork, not a Python start and archspec's
imports (about 0.4 s each); it is still a process of its own, with its own limits, exit code and
output. A plain module (tests/conftest.py holds only fixtures), imported by the forked processes."""
from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What `archspec validate` imports: loaded once in the server, not again in each process.
PRELOAD = ["archspec.cli", "archspec.frontend.expand", "archspec.reports.report"]


def _main(argv: list[str], cwd: str, out: str, err: str, memory: int) -> None:
    """In the forked process: the limit, the folder and the output files, then archspec's main
    (its return value the exit code, as `python -m archspec` has it)."""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    os.chdir(cwd)
    for fd, path in ((1, out), (2, err)):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(f, fd)
        os.close(f)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)         # as Python's own streams
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    from archspec.cli import main
    sys.exit(main(argv))


def _server() -> multiprocessing.context.BaseContext:
    """The forkserver context, its server started from the checkout's root (its sys.path[0]), so
    that the archspec it preloads is the checkout's, as `PYTHONPATH=<root> python -m archspec`."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        os.chdir(here)
    return context


def run_cli(argv: list[str], timeout: float, memory: int) -> tuple[int | None, str, str]:
    """`archspec *argv` in the current folder, in a process of its own limited to `memory` bytes of
    address space: (exit code, stdout, stderr); the exit code None when it still ran after
    `timeout` seconds (then killed); negative when a signal killed it."""
    with tempfile.TemporaryDirectory() as folder:
        out, err = os.path.join(folder, "out"), os.path.join(folder, "err")
        process = _server().Process(target=_main, args=(argv, os.getcwd(), out, err, memory))
        process.start()
        process.join(timeout)
        code = process.exitcode
        if code is None:
            process.kill()
            process.join()
        return code, _read(out), _read(err)


def _read(path: str) -> str:
    """A file's text as `subprocess.run` would give it decoded; '' if the process never wrote it."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
