"""Compiled specs against torchvision on CPU: forward time with the same weights, build time.

    python bench/forward.py [--repeat 7] [--compile] [--models resnet50 densenet121 vgg16]

For each model with a spec here and a torchvision constructor: torchvision's freshly
initialised weights are loaded into the compiled spec (strict), outputs are checked equal,
then both run in eval mode under inference_mode at batch 1 and 8, interleaved (ours,
theirs, ours, ...) so that drift of the machine hits both alike. The median time of each
and the ratio archspec / torchvision are printed as a markdown table. `--compile` adds
torch.compile (inductor) rows. Then the build time of the largest ResNet spec:
archspec.compile vs the torchvision constructor (both initialise weights), and
archspec.compile(device="meta").
A script, not a test: timings depend on the machine; nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision

import archspec

SPECS = Path(__file__).resolve().parent.parent / "specs"


def pair(name: str):
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)().eval()
    ours = archspec.compile(SPECS / f"{name}.yaml", device="meta")
    ours.load_state_dict({k: v.clone() for k, v in theirs.state_dict().items()}, strict=True, assign=True)
    return ours.eval(), theirs


def timed(fn, x) -> float:
    t = time.perf_counter()
    fn(x)
    return time.perf_counter() - t


def race(ours, theirs, x, repeat: int) -> tuple[float, float]:
    """Median seconds per forward of each, interleaved, after two warm-up rounds."""
    with torch.inference_mode():
        if not torch.allclose(ours(x), theirs(x), atol=1e-4, rtol=1e-4):
            sys.exit("outputs differ: not benchmarking")
        for _ in range(2):
            ours(x), theirs(x)
        a, b = [], []
        for _ in range(repeat):
            a.append(timed(ours, x))
            b.append(timed(theirs, x))
    return statistics.median(a), statistics.median(b)


def build_times(repeat: int = 3) -> list[tuple[str, float]]:
    resnets = [p for p in SPECS.glob("resnet*.yaml") if hasattr(torchvision.models, p.stem)]
    largest = max(resnets, key=lambda p: archspec.analyze(str(p)).params)
    ctor = getattr(torchvision.models, largest.stem)
    archspec.compile(largest, device="meta")            # imports and the source cache, as in any session

    def median(fn):
        return statistics.median(timed(lambda _: fn(), None) for _ in range(repeat))
    return [(f"{largest.stem}: archspec.compile (CPU, init)", median(lambda: archspec.compile(largest))),
            (f"{largest.stem}: torchvision constructor", median(ctor)),
            (f"{largest.stem}: archspec.compile(device='meta')",
             median(lambda: archspec.compile(largest, device="meta")))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["resnet50", "densenet121", "vgg16"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (inductor) of both")
    args = ap.parse_args()
    models = [m for m in args.models if (SPECS / f"{m}.yaml").exists() and hasattr(torchvision.models, m)]
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads, "
          f"CPU, float32, eval, inference_mode; median of {args.repeat}\n")
    print("| model | mode | batch | archspec ms | torchvision ms | ratio |")
    print("|---|---|--:|--:|--:|--:|")
    for name in models:
        ours, theirs = pair(name)
        modes = [("eager", ours, theirs)]
        if args.compile:
            modes.append(("torch.compile", torch.compile(ours), torch.compile(theirs)))
        for mode, a, b in modes:
            for batch in args.batches:
                x = torch.randn(batch, *ours.input_shape)
                t_ours, t_theirs = race(a, b, x, args.repeat)
                print(f"| {name} | {mode} | {batch} | {t_ours * 1e3:.1f} | {t_theirs * 1e3:.1f} | "
                      f"{t_ours / t_theirs:.3f} |", flush=True)
    print("\n| build | seconds |\n|---|--:|")
    for what, seconds in build_times():
        print(f"| {what} | {seconds:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
