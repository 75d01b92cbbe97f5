"""Diagram speed: `archspec diagram --depth 0` (every node) on the largest spec in specs/.

    python bench/render.py [--runs N] [--all] [--format svg|png|pdf|dot]

Prints a markdown table: the whole command as a fresh process (what a user
waits for), and in-process the three stages: analyze (load + expand + count),
build (the DOT text) and layout (Graphviz's `dot`). Medians of N runs.
The target is under 5 s for the largest spec at full depth.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archspec  # noqa: E402  (after the path tweak, for running from a checkout)
from archspec.reports import render  # noqa: E402


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench(spec: Path, fmt: str, runs: int, out: Path) -> dict:
    g = archspec.analyze(str(spec))
    dot, v = render.build(g, 0)
    cmd = [sys.executable, "-m", "archspec", "diagram", str(spec), "--depth", "0", "-o", str(out / f"x.{fmt}")]
    return {
        "spec": spec.stem, "nodes": len(g.nodes), "clusters": len(v.clusters),
        "analyze": median_time(lambda: archspec.analyze(str(spec)), runs),
        "build": median_time(lambda: render.build(g, 0), runs),
        # Graphviz: each part laid out by dot, packed by gvpack, drawn by neato (render._draw)
        "layout": median_time(lambda: render._draw(dot, out / f"x.{fmt}", fmt), runs) if fmt != "dot" else 0.0,
        "command": median_time(lambda: subprocess.run(cmd, check=True, capture_output=True), runs),
        "bytes": (out / f"x.{fmt}").stat().st_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--all", action="store_true", help="every spec, not only the largest")
    ap.add_argument("--format", default="svg", choices=render.FORMATS)
    args = ap.parse_args()
    sizes = {p: len(archspec.analyze(str(p)).nodes) for p in sorted((ROOT / "specs").glob("*.yaml"))}
    specs = sorted(sizes, key=sizes.get, reverse=True)
    print(f"| spec | nodes | clusters | analyze | build DOT | dot -T{args.format} | whole command | output |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs if args.all else specs[:1]:
            r = bench(spec, args.format, args.runs, Path(tmp))
            print(f"| {r['spec']} | {r['nodes']} | {r['clusters']} | {r['analyze']:.2f} s | {r['build']:.2f} s "
                  f"| {r['layout']:.2f} s | {r['command']:.2f} s | {r['bytes'] / 1024:.0f} KiB |")


if __name__ == "__main__":
    main()
