"""Compiled specs against torchvision on CPU: forward time with the same weights, build time.

    python bench/forward.py [--repeat 7] [--compile] [--models resnet50 densenet121 ...]

For each model with a spec here and a torchvision constructor: torchvision's freshly
initialised weights (batch norm running statistics randomised, so that folding them is not
a no-op) are loaded into the compiled spec (strict), outputs are checked equal, then three
modules run in eval mode under inference_mode at batch 1 and 8, interleaved (torchvision,
archspec, archspec fused, torchvision, ...) so that drift of the machine hits all alike:
torchvision's model, archspec's module as built, and archspec's module with `fuse()` (batch
norms folded into the convs) in channels_last memory format (input converted once, outside
the timing, as a pipeline feeding channels_last images would). The median times and the
ratios to torchvision are printed as a markdown table. `--compile` adds torch.compile
(inductor) rows: archspec fused + channels_last compiled vs torchvision compiled. Then the
build time of the largest ResNet spec: archspec.compile vs the torchvision constructor (both
initialise weights), archspec's parts (front end, emitter, the generated constructor), and
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


def models(name: str):
    """torchvision's model, archspec's with its weights, and that one fused in channels_last."""
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)().eval()
    for m in theirs.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.running_var, 0.5, 2.0)
            torch.nn.init.normal_(m.running_mean, 0.0, 0.1)
    spec = SPECS / f"{name}.yaml"
    weights = theirs.state_dict()
    built = []
    for _ in range(2):
        ours = archspec.compile(spec, device="meta")
        ours.load_state_dict({k: v.clone() for k, v in weights.items()}, strict=True, assign=True)
        built.append(ours.eval())
    fused = archspec.pytorch.compiler.fuse_model(built[1]).to(memory_format=torch.channels_last)
    return theirs, built[0], fused


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def timed(fn, x) -> float:
    t = time.perf_counter()
    fn(x)
    return time.perf_counter() - t


def race(runs: list[tuple], repeat: int) -> list[float]:
    """Median seconds per forward of each (module, input), interleaved in a rotating order,
    after two warm-up rounds; the outputs are checked equal to the first's first."""
    with torch.inference_mode():
        want = runs[0][0](runs[0][1])
        for model, x in runs[1:]:
            got = model(x)
            if (got - want).abs().max() > 1e-4 * want.abs().max():
                sys.exit("outputs differ: not benchmarking")
        for _ in range(2):
            for model, x in runs:
                model(x)
        times: list[list[float]] = [[] for _ in runs]
        for r in range(repeat):             # the order rotates: none always runs after another
            for k in range(len(runs)):
                model, x = runs[(r + k) % len(runs)]
                times[(r + k) % len(runs)].append(timed(model, x))
    return [statistics.median(t) for t in times]


def build_times(repeat: int = 5) -> list[tuple[str, float]]:
    """Median seconds of building the largest ResNet spec and its parts, interleaved: archspec's
    front end (load + analyze), the emitter, the generated constructor, all of archspec.compile,
    and torchvision's constructor (both initialise weights); archspec.compile(device="meta")."""
    from archspec.pytorch.compiler import load_source
    from archspec.pytorch.emit import emit
    resnets = [p for p in SPECS.glob("resnet*.yaml") if hasattr(torchvision.models, p.stem)]
    largest = max(resnets, key=lambda p: archspec.analyze(str(p)).params)
    graph = archspec.analyze(str(largest))
    generated = load_source(emit(graph), graph.name).Model     # imports and the source cache, as in any session
    steps = [(f"{largest.stem}: archspec.compile (CPU, init)", lambda: archspec.compile(largest)),
             (f"{largest.stem}: torchvision constructor", getattr(torchvision.models, largest.stem)),
             ("  of which the front end (load + analyze)", lambda: archspec.analyze(str(largest))),
             ("  of which the emitter (source text)", lambda: emit(graph)),
             ("  of which the generated constructor", generated),
             (f"{largest.stem}: archspec.compile(device='meta')", lambda: archspec.compile(largest, device="meta"))]
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(repeat):
        for k, (_, fn) in enumerate(steps):
            times[k].append(timed(lambda _, f=fn: f(), None))
    return [(what, statistics.median(t)) for (what, _), t in zip(steps, times)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["resnet50", "densenet121", "inception_v3", "vgg16"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (inductor) of both")
    ap.add_argument("--build-only", action="store_true", help="only the build times")
    args = ap.parse_args()
    names = [m for m in args.models if (SPECS / f"{m}.yaml").exists() and hasattr(torchvision.models, m)]
    names = [] if args.build_only else names
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads, "
          f"CPU, float32, eval, inference_mode; median of {args.repeat}\n")
    if names:
        print("| model | mode | batch | torchvision ms | archspec ms | ratio | fused + channels_last ms | ratio |")
        print("|---|---|--:|--:|--:|--:|--:|--:|")
    for name in names:
        theirs, ours, fused = models(name)
        for batch in args.batches:
            x = torch.randn(batch, *ours.input_shape)
            t = race([(theirs, x), (ours, x), (fused, channels_last(x))], args.repeat)
            print(f"| {name} | eager | {batch} | {t[0] * 1e3:.1f} | {t[1] * 1e3:.1f} | {t[1] / t[0]:.3f} | "
                  f"{t[2] * 1e3:.1f} | {t[2] / t[0]:.3f} |", flush=True)
        if args.compile:
            theirs_c, fused_c = torch.compile(theirs), torch.compile(fused)
            for batch in args.batches:
                x = torch.randn(batch, *ours.input_shape)
                t = race([(theirs_c, x), (fused_c, channels_last(x))], args.repeat)
                print(f"| {name} | torch.compile | {batch} | {t[0] * 1e3:.1f} | | | {t[1] * 1e3:.1f} | "
                      f"{t[1] / t[0]:.3f} |", flush=True)
    print("\n| build | seconds |\n|---|--:|")
    for what, seconds in build_times():
        print(f"| {what} | {seconds:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
