"""The traps new users fell into (issue 20), each a located error or a warning: constraints a
spec states on its parameters, the root cause of several errors printed first, `--set` named
in the errors it causes, did-you-mean on every node form, `input` in a `when:`, nested repeats'
names as written, the schema taking every form the loader takes, and a variant that says so."""
import shutil

import pytest
from paths import ROOT, SPECS

import archspec
from archspec.cli import main

HEAD = "archspec: 1\ninput: [3, 8, 8]\n"
FOLLOWS = "(follows from the error above)"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err
    return code, out.out, out.err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if ": error: " in line]


@pytest.fixture
def specs_copy(tmp_path, monkeypatch):
    """specs/ copied under the working directory, so a variant sorts after specs/blocks/."""
    shutil.copytree(SPECS, tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "specs"


# -- root cause first ----------------------------------------------------------------------

def test_a_typo_in_a_variants_change_is_the_first_error_and_its_echoes_are_marked(capsys, specs_copy):
    (specs_copy / "resnext_cifar.yaml").write_text(
        "archspec: 1\nextends: resnet_cifar.yaml\nname: resnext_cifar\nchange:\n  layer1: {strdie: 2}\n")
    code, _, err = run(capsys, "validate", "specs/resnext_cifar.yaml")
    lines = error_lines(err)
    assert code == 1
    assert lines[0] == "specs/resnext_cifar.yaml:5:12: error: layer1: block 'stage' has no parameter 'strdie'"
    assert err.splitlines()[1] == "  hint: did you mean 'stride'?"
    assert len(lines) >= 2 and all(line.endswith(FOLLOWS) for line in lines[1:])
    assert all("specs/blocks/resnet.yaml" in line for line in lines[1:])
