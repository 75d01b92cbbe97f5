"""CLI speed: `archspec summary --json` against counting the same model with torch,
and validate+count time on generated plain specs of 1k, 10k and 100k nodes.

    python bench/cli.py [--runs N]

Prints a markdown table (the README's). Medians of N whole-process runs; the
scaling rows time load + expand + count in-process after one warm-up.
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
TORCH_COUNT = """
import torch, torchvision
from torch.utils.flop_counter import FlopCounterMode
m = torchvision.models.resnet50()
params = sum(p.numel() for p in m.parameters())
with FlopCounterMode(display=False) as f:
    m(torch.randn(1, 3, 224, 224))
print(params, f.get_total_flops() // 2)
"""


def median_time(cmd: list[str], runs: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def plain_spec(n: int) -> str:
    """n nodes: conv 3x3 / batchnorm / relu repeated, 16 channels on 8x8."""
    body = ["  - {op: conv, out: 16, k: 3, pad: 1, bias: false}", "  - batchnorm", "  - relu"]
    lines = ["archspec: 1", f"name: plain{n}", "input: [16, 8, 8]", "nodes:"]
    lines += [body[i % 3] for i in range(n)]
    return "\n".join(lines) + "\n"


def time_in_process(path: str, runs: int) -> float:
    import archspec
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        g = archspec.analyze(path)
        _ = (g.params, g.macs, g.activations)
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    ours, out = median_time([sys.executable, "-m", "archspec", "summary", "specs/resnet50.yaml", "--json"], args.runs)
    theirs, ref = median_time([sys.executable, "-c", TORCH_COUNT], max(3, args.runs // 2))
    print("| measurement | time | ratio |\n|---|--:|--:|")
    print(f"| `archspec summary specs/resnet50.yaml --json` (whole process) | {ours:.3f} s | 1 |")
    print(f"| torch + torchvision: build resnet50, FlopCounterMode (whole process) | {theirs:.3f} s "
          f"| {theirs / ours:.1f}x slower |")
    print(f"(torch counted {ref.strip()}; archspec's JSON agrees: "
          f"{'25557032' in out and '4089184256' in out})")
    with tempfile.TemporaryDirectory() as tmp:
        scale = {}
        for n in (1_000, 10_000, 100_000):
            path = Path(tmp) / f"plain{n}.yaml"
            path.write_text(plain_spec(n))
            scale[n] = time_in_process(str(path), 1 if n == 100_000 else 3)
            print(f"| validate + count, {n:,} plain nodes (in process) | {scale[n]:.3f} s | |")
        print(f"| time(100k) / time(10k) | | {scale[100_000] / scale[10_000]:.1f} |")


if __name__ == "__main__":
    main()
