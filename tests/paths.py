"""Paths shared by the test modules (a plain module: conftest.py holds only fixtures)."""
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ALL_SPECS = sorted(p for p in SPECS.glob("*.yaml"))


def one_per_family(paths, also=("inception_v3", "resnet34", "resnet50")):
    """A per-spec sweep's parameters: the first spec of each family (its name's leading letters:
    resnet18..152 are one) and those the README shows run in the fast lane; the others are marked
    slow, so the fast lane stays under a minute and CI still runs every spec."""
    import re

    import pytest
    seen: set[str] = set()
    out = []
    for p in paths:
        family = re.match(r"[a-z]*", p.stem).group(0)
        fast = family not in seen or p.stem in also
        seen.add(family)
        out.append(p if fast else pytest.param(p, marks=pytest.mark.slow, id=p.stem))
    return out


def per_family(paths):
    """one_per_family's lanes for a sweep over more files than specs/'s networks: a network beyond
    its family's first (and those the README shows) is marked slow, every other file stays fast;
    the values stay paths, so the sweep's own ids apply."""
    import pytest
    slow = {p.values[0] for p in one_per_family(ALL_SPECS) if not isinstance(p, Path)}
    return [pytest.param(p, marks=pytest.mark.slow) if p in slow else p for p in paths]


@functools.cache
def shipped_graph(path: Path):
    """A shipped spec's analysis, made once per test process: several modules choose their lanes
    by it at collection (read only), and each xdist worker collects every module."""
    import archspec
    return archspec.analyze(str(path))


@functools.cache
def shipped_source(path: Path) -> str:
    """A shipped spec's generated file (emit of its shipped_graph), made once per test process: the
    generated-source checks and the reviewer's reading both read every spec's (read only)."""
    from archspec.pytorch.emit import emit
    return emit(shipped_graph(path))
