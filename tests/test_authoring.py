"""docs/authoring.md stays true: each YAML block is the file it names, each `$ archspec ...`
line prints what the page shows (run from a copy of the repository's specs and examples, so
`build` writes nowhere real; training times aside), and the figures the page attributes to
torchvision and timm are theirs. ARCHSPEC_WRITE_GUIDE=1 rewrites the shown outputs."""
import os
import re
import shlex
import shutil

import pytest
import torch
from paths import ROOT

import archspec
from archspec.cli import main

GUIDE = ROOT / "docs" / "authoring.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
TIMES = [(re.compile(r"\(\d+\.\d s\)"), "(... s)"), (re.compile(r"\d+\.\d s this run"), "... s this run")]


def _blocks(kind: str):
    return [m for m in BLOCK.finditer(GUIDE.read_text()) if m.group(1) == kind]


def test_yaml_blocks_are_the_files():
    blocks = _blocks("yaml")
    assert len(blocks) == 6
    for m in blocks:
        text = m.group(2)
        path = text.splitlines()[0].removeprefix("# ")
        assert (ROOT / path).read_text() == text, path


def _commands(text: str) -> list[tuple[str, str]]:
    """(command, shown output) pairs of one block."""
    pairs: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        else:
            pairs[-1][1].append(line)
    return [(cmd, "\n".join(out)) for cmd, out in pairs]


def _run(command: str, capsys) -> str:
    argv = shlex.split(command)
    assert argv[0] == "archspec"
    main(argv[1:])
    captured = capsys.readouterr()
    return (captured.out + captured.err).rstrip("\n")


def _normal(text: str) -> str:
    for pattern, shown in TIMES:
        text = pattern.sub(shown, text)
    return text


@pytest.mark.slow
def test_every_command_prints_what_the_guide_shows(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)             # the page's training run was made with one thread
    text, rewritten, count = GUIDE.read_text(), [], 0
    try:
        for m in _blocks(""):
            pairs = _commands(m.group(2))
            actual = [(cmd, _run(cmd, capsys)) for cmd, _ in pairs]
            count += len(pairs)
            if os.environ.get("ARCHSPEC_WRITE_GUIDE"):
                rewritten.append((m.group(0), "```\n" + "".join(f"$ {c}\n{o}\n" for c, o in actual) + "```\n"))
                continue
            for (cmd, shown), (_, got) in zip(pairs, actual):
                assert _normal(got) == _normal(shown), cmd
    finally:
        torch.set_num_threads(threads)
    assert count == 11
    for old, new in rewritten:
        text = text.replace(old, new, 1)
    if rewritten:
        GUIDE.write_text(text)


@pytest.mark.slow
def test_figures_attributed_to_peers():
    """ResNeXt-50 and SqueezeNet 1.1 are torchvision's, to the parameter and the output;
    SE-ResNet-18 is timm's less its rounding of 64 / 16 = 4 channels up to 8 in layer1."""
    torchvision = pytest.importorskip("torchvision")
    guide = ROOT / "examples" / "guide"
    for name in ("resnext50_32x4d", "squeezenet1_1"):
        ours, theirs = archspec.compile(guide / f"{name}.yaml"), getattr(torchvision.models, name)()
        ours.load_state_dict(theirs.state_dict())
        ours.eval(), theirs.eval()
        x = torch.randn(1, 3, 224, 224)
        with torch.no_grad():
            torch.testing.assert_close(ours(x), theirs(x))
    timm = pytest.importorskip("timm")
    se = archspec.analyze(str(guide / "se_resnet18.yaml"))
    theirs = sum(p.numel() for p in timm.create_model("seresnet18").parameters())
    assert theirs - se.params == 2 * ((64 * 8 + 8 + 8 * 64) - (64 * 4 + 4 + 4 * 64)) == 1032
