"""conftest.py fails the session when a test writes into the checkout: run in a throwaway git
checkout holding the same conftest, a test that writes a file next to its tests/ folder fails
the session naming the file; one that writes under tmp_path passes."""
import shutil
import subprocess

import pytest
from paths import ROOT

pytest_plugins = ["pytester"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_writing_into_the_checkout_fails_the_session(pytester):
    tests = pytester.mkdir("repo") / "tests"         # pytester's tmp_path folders lie beside repo/
    tests.mkdir()
    (tests / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tests / "test_it.py").write_text(
        "from pathlib import Path\n\n\n"
        "def test_tidy(tmp_path):\n    (tmp_path / 'fine.svg').write_text('x')\n\n\n"
        "def test_writes_into_the_checkout():\n    (Path(__file__).parent.parent / 'stray.svg').write_text('x')\n")
    subprocess.run(["git", "init", "-q", str(tests.parent)], check=True)
    args = ["-p", "no:cacheprovider", "-p", "no:xdist", str(tests / "test_it.py")]
    tidy = pytester.runpytest_subprocess(*args, "-k", "tidy")
    assert tidy.ret == 0
    writes = pytester.runpytest_subprocess(*args)
    assert writes.ret == pytest.ExitCode.TESTS_FAILED
    writes.assert_outcomes(passed=2)            # every test passed: the session fails for the file
    writes.stdout.fnmatch_lines(["the tests wrote into the checkout, so the session fails*", "    ?? stray.svg"])
