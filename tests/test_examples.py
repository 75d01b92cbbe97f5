"""The examples work end to end: a user op loaded with --ops, counted and compiled."""
import subprocess
import sys

import pytest
from paths import ROOT

from archspec.cli import main

EX = ROOT / "examples"


def test_user_op_from_the_command_line(capsys, monkeypatch):
    from archspec.ops import REGISTRY
    monkeypatch.delitem(REGISTRY, "swish", raising=False)      # another test may have loaded it
    assert main(["validate", str(EX / "swish_net.yaml")]) == 1
    err = capsys.readouterr().err
    assert "this spec needs op 'swish' from swish_op.py: pass --ops" in err and "did you mean" not in err
    assert main(["validate", str(EX / "swish_net.yaml"), "--ops", str(EX / "swish_op.py")]) == 0
    assert "5,514 params" in capsys.readouterr().out


@pytest.mark.slow
def test_user_op_compiles_and_checks(tmp_path):
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, "-m", "archspec", "build", str(EX / "swish_net.yaml"), "--ops",
                        str(EX / "swish_op.py"), "--check", "-o", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    source = (tmp_path / "swish_net.py").read_text()
    assert "class Swish(nn.Module)" in source and "self.act1 = Swish(1.5)" in source


def test_missing_plugin_is_a_clear_error(capsys):
    assert main(["validate", str(EX / "swish_net.yaml"), "--ops", "nope.py"]) == 1
    err = capsys.readouterr().err
    assert "--ops nope.py: error: no such file" in err and "Traceback" not in err
