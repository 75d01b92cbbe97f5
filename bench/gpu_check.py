"""Every spec on the GPU: forward + backward in bfloat16 with channels_last, and the fused
inference path.

    python bench/gpu_check.py [--batch 8] [--cpu] [specs/*.yaml ...]

Each spec is compiled straight onto CUDA, converted to bfloat16 and channels_last, and run
in training mode (training-only heads included) on a random batch; the loss is the sum of
every output's mean. Checked: output shapes equal the inferred ones, the loss and every
gradient are finite, every parameter got a gradient. Prints one line per spec with the
step time and the training memory: archspec's prediction of the activations autograd keeps
(archspec.reports.memory, bfloat16), what saved_tensors_hooks see on CUDA, and the growth of
torch.cuda.max_memory_allocated over one forward (those activations plus the forward's
transient tensors: an upper bound, expected a little above the prediction; CUDA's fused dropout
keeps a 1-byte mask where the prediction counts the CPU's bfloat16 one). Without CUDA it
says so and exits 0.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import archspec
from archspec.pytorch.compiler import fuse_model, saved_bytes
from archspec.reports.memory import training_memory

ROOT = Path(__file__).resolve().parent.parent


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def step(path: Path, batch: int, device: str) -> str:
    g = archspec.analyze(str(path))
    model = archspec.compile(path, device=device, dtype=torch.bfloat16).train()   # the spec's init too
    x = torch.randn(batch, *g.input_shape, device=device, dtype=torch.bfloat16)
    if x.dim() == 4:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    for _ in range(2):                  # the second step is the one timed (cuDNN picks algorithms first)
        model.zero_grad(set_to_none=True)
        sync(device)
        t = time.perf_counter()
        out = model(x)
        outs = out if isinstance(out, dict) else {"output": out}
        loss = sum(o.float().mean() for o in outs.values())
        loss.backward()
        sync(device)
        seconds = time.perf_counter() - t
    for name, o in outs.items():
        want = (batch, *g.shape_of(g.outputs[name].node))
        assert tuple(o.shape) == want, f"{name}: {tuple(o.shape)} != {want}"
    assert torch.isfinite(loss), f"loss {loss.item()}"
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient"
    cuda = memory(model, x, g, batch) if device == "cuda" else "(memory: CUDA only)"
    return f"{seconds * 1e3:8.1f} ms  loss {loss.item():.4g}  {cuda}"


def memory(model, x, g, batch: int) -> str:
    """Predicted activations kept for backward, what the hooks see, and the forward's peak growth (MiB)."""
    model.zero_grad(set_to_none=True)
    predicted = training_memory(g, batch, "bfloat16").activations
    hooked = saved_bytes(model, x)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    out = model(x)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - before
    del out
    mib = 2 ** 20
    return (f"saved: archspec {predicted / mib:.1f} MiB, hooks {hooked / mib:.1f} MiB "
            f"({predicted / hooked:.3f}); forward peak +{peak / mib:.1f} MiB ({predicted / peak:.3f})")


def fused(path: Path, batch: int, device: str) -> str | None:
    """The fused bfloat16 channels_last module against the float32 unfused one (None: no
    batch norm to fold)."""
    g = archspec.analyze(str(path))
    model = archspec.compile(path, device=device).eval()
    if not hasattr(model, "fuse"):
        return None
    with torch.no_grad():           # running statistics away from the identity, so the fold matters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(batch, *g.input_shape, device=device)
    with torch.inference_mode():
        want = model(x)
        fast = fuse_model(model).to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        xb = x.to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        for _ in range(2):          # the second forward is the one timed
            sync(device)
            t = time.perf_counter()
            got = fast(xb)
            sync(device)
            seconds = time.perf_counter() - t
    difference = float((got.float() - want).abs().max() / want.abs().max())
    assert difference <= 0.05, f"fused bf16 output differs by {difference:.3g} of the largest output"
    return f"{seconds * 1e3:8.1f} ms  fused bf16 channels_last, eval; difference {difference:.2e}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("specs", nargs="*", type=Path)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--cpu", action="store_true", help="run the checks on the CPU (to test this script)")
    args = ap.parse_args()
    device = "cpu" if args.cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing to check")
        return 0
    specs = args.specs or sorted((ROOT / "specs").glob("*.yaml"))
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, bfloat16, channels_last, batch {args.batch}")
    failed = 0
    for what, check in (("train mode forward + backward", step), ("fused inference", fused)):
        print(f"-- {what}")
        for path in specs:
            try:
                result = check(path, args.batch, device)
                if result is not None:
                    print(f"{path.stem:24} ok {result}", flush=True)
            except Exception as e:          # noqa: BLE001 - report every spec, then fail
                failed += 1
                print(f"{path.stem:24} FAILED {type(e).__name__}: {e}", flush=True)
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
