import gc
import os
import subprocess
from pathlib import Path

import pytest

# Under pytest-xdist each worker is a process of its own: one torch thread each, or two workers with
# two threads each oversubscribe a 2-core machine and the slow lane runs 10-20x slower (set before
# any test module imports torch, which reads OMP_NUM_THREADS when it starts its thread pool).
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

try:        # hypothesis keeps no example database in the checkout (.hypothesis/)
    from hypothesis import settings
    settings.register_profile("archspec", database=None)
    settings.load_profile("archspec")
except ImportError:
    pass

ROOT = Path(__file__).resolve().parent.parent
BEFORE = pytest.StashKey[set]()


# -- the cyclic garbage collector and what lives as long as the process ------------------------------
# Collecting imports torch, torchvision and every test module and analyses the shipped specs: about
# a million objects that live as long as the process, and the tests import more (sklearn, matplotlib,
# torch.export's machinery) and fill caches; each of Python's full collections walked them all again:
# a worker of the fast lane spent ~22 s of CPU in the collector (collecting, testing, and in pytest's
# five collections at exit), ~7 s with what follows. The collector is off while collecting (those
# objects hold few cycles); what is alive after it, and after each test module (its fixtures torn
# down), is frozen (gc.freeze: left out of later collections' walks). Each test's own objects are
# collected as before.
@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session):
    enabled = gc.isenabled()
    gc.disable()
    try:
        return (yield)
    finally:
        if enabled:
            gc.enable()
        _freeze()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    try:
        return (yield)
    finally:
        if nextitem is None or getattr(nextitem, "module", None) is not getattr(item, "module", None):
            _freeze()


def _freeze() -> None:
    """Collect the garbage, then freeze what is left."""
    gc.collect()
    gc.freeze()


@pytest.fixture
def spec_file(tmp_path, monkeypatch):
    """Write a spec text to a file in a temporary working directory; return its relative path."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "net.yaml") -> str:
        (tmp_path / name).write_text(text)
        return name
    return write


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- tests write nothing into the checkout ---------------------------------------------------------
# The controller (not an xdist worker) notes `git status --porcelain` when the session starts and fails
# the session if it ends with entries that were not there: a file a test wrote into the checkout (or
# a tracked file it changed). Skipped outside a git checkout of this repository.

def _status() -> set[str] | None:
    """The checkout's `git status --porcelain` lines, every untracked file listed; None if ROOT is not
    the top of a git checkout (an unpacked sdist, no git)."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=120)
    try:
        top = git("rev-parse", "--show-toplevel")
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != ROOT:
            return None
        status = git("status", "--porcelain", "--untracked-files=all")
    except (OSError, subprocess.SubprocessError):
        return None
    return set(status.stdout.splitlines()) if status.returncode == 0 else None


def _controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if _controller(session.config) and (before := _status()) is not None:
        session.config.stash[BEFORE] = before


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(BEFORE, None)
    after = _status() if before is not None else None
    if before is None or after is None or not (new := sorted(after - before)):
        return
    lines = ["the tests wrote into the checkout, so the session fails (`git status --porcelain` entries "
             "new since it began; write under tmp_path instead):", *(f"    {line}" for line in new)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write("\n")           # after the progress dots
        for line in lines:
            reporter.write_line(line, red=True, bold=True)
    else:
        print("\n".join(lines))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
