"""Rewrite the output shown under each `$ archspec ...` line of docs/authoring.md with what the
command prints now. Run by hand after a deliberate change (`python tests/make_guide_output.py`,
with archspec importable); tests/test_authoring.py runs the same commands through run_guide()
and compares. The commands run in a temporary copy of specs/ and examples/, so `build` writes
nowhere real, with one torch thread (the shown training run was made with one)."""
import io
import os
import re
import shlex
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import torch

from archspec.cli import main

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "authoring.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def blocks(kind: str) -> list[re.Match]:
    """The guide's fenced blocks of one kind ("" for the command blocks, "yaml" for the files)."""
    return [m for m in BLOCK.finditer(GUIDE.read_text()) if m.group(1) == kind]


def commands(text: str) -> list[tuple[str, str]]:
    """(command, shown output) pairs of one command block."""
    pairs: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        else:
            pairs[-1][1].append(line)
    return [(cmd, "\n".join(out)) for cmd, out in pairs]


def run_command(command: str) -> str:
    """What one `archspec ...` line prints: its standard output, then its standard error."""
    argv = shlex.split(command)
    assert argv[0] == "archspec", command
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        main(argv[1:])
    return (out.getvalue() + err.getvalue()).rstrip("\n")


def run_guide(workdir: Path) -> list[tuple[re.Match, list[tuple[str, str, str]]]]:
    """Each command block with its (command, shown, printed now) triples, run in `workdir`."""
    shutil.copytree(ROOT / "specs", workdir / "specs")
    shutil.copytree(ROOT / "examples", workdir / "examples")
    cwd, threads = os.getcwd(), torch.get_num_threads()
    os.chdir(workdir)
    torch.set_num_threads(1)
    try:
        return [(m, [(cmd, shown, run_command(cmd)) for cmd, shown in commands(m.group(2))]) for m in blocks("")]
    finally:
        torch.set_num_threads(threads)
        os.chdir(cwd)


def rewrite() -> int:
    """Write the outputs printed now into the guide; the number of outputs that changed."""
    with tempfile.TemporaryDirectory() as tmp:
        results = run_guide(Path(tmp))
    text, changed = GUIDE.read_text(), 0
    for m, runs in results:
        changed += sum(shown != now for _, shown, now in runs)
        text = text.replace(m.group(0), "```\n" + "".join(f"$ {cmd}\n{now}\n" for cmd, _, now in runs) + "```\n", 1)
    GUIDE.write_text(text)
    return changed


if __name__ == "__main__":
    print(f"{GUIDE.relative_to(ROOT)}: {rewrite()} command outputs changed")
