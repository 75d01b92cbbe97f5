"""Survey: `archspec import timm:NAME` over timm's CNN classification models, each round trip
checked as tests/test_import.py checks torchvision's.

Which models: every name of `timm.list_models()` whose model module is in CNN_MODULES. The rule:
a family is a CNN when every model of its module mixes space with convolutions and pooling only
(no self-attention, no MLP token mixing, no state-space scan); a module that mixes CNNs with
attention models (byoanet, maxxvit, mobilenetv5, metaformer, ...) is left out whole.

Per model, in order, the first step that fails is recorded:
  create   timm.create_model on the meta device
  trace    torch.fx traces it (a model fx cannot trace is outside the survey's share)
  import   archspec import: the spec validates and holds the model's state_dict keys and shapes
  params   the spec's params equal the model's
  macs     the spec's eval MACs equal FlopCounterMode / 2 on the model's default input (meta device)
  load     the compiled module loads the model's state_dict with strict=True
  eval     equal outputs in eval mode on a small input
  train    equal outputs in training mode under one seed (dropout and drop-path draw alike)

    PYTHONPATH=. python bench/timm_survey.py [--modules resnet,dla] [--models a,b] [--limit N] [--jobs N] [--static]
        [--out bench/timm_survey.csv]

writes the CSV (name, module, result, step, why, seconds) and a markdown summary next to it
(same name, .md). A model is run in a child process with a time limit, so one crash or hang
costs that model only."""
from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from queue import Empty

CNN_MODULES = [
    "byobnet", "convmixer", "convnext", "cspnet", "densenet", "dla", "dpn", "efficientnet", "fasternet",
    "ghostnet", "hardcorenas", "hgnet", "hrnet", "inception_next", "inception_resnet_v2", "inception_v3",
    "inception_v4", "mobilenetv3", "nasnet", "nfnet", "pnasnet", "rdnet", "regnet", "repghost", "repvit",
    "res2net", "resnest", "resnet", "resnetv2", "rexnet", "selecsls", "senet", "sknet", "starnet", "tresnet",
    "vgg", "vovnet", "xception", "xception_aligned",
]
STEPS = ["create", "trace", "import", "params", "macs", "load", "eval", "train"]
SMALL = (64, 96, 128, 160, 224)      # the output comparison's input side: the first the model runs on
TOL = 1e-4                           # outputs agree to this, relative to their largest magnitude


class Failed(Exception):
    def __init__(self, step: str, why: str):
        super().__init__(why)
        self.step, self.why = step, why


def models(modules: list[str]) -> list[tuple[str, str]]:
    """The models of the modules, taken in turn from each (a run stopped early is a sample of all)."""
    import itertools

    import timm
    lists = [[(name, m) for name in sorted(timm.list_models(module=m))] for m in modules]
    return [x for row in itertools.zip_longest(*lists) for x in row if x is not None]


def _one_line(text: str, n: int = 240) -> str:
    return " ".join(str(text).split())[:n]


def _close(a, b) -> bool:
    return bool((a - b).abs().max().item() <= TOL * max(1.0, a.abs().max().item()))


def round_trip(name: str, static: bool = False) -> None:
    """Raises Failed(step, why) at the first step that does not hold; `static`: the steps up to
    macs only (no weights, no outputs: everything on the meta device)."""
    import timm
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import archspec
    from archspec.errors import SpecErrors
    from archspec.pytorch.importing import import_source

    try:
        with torch.device("meta"):
            meta = timm.create_model(name, pretrained=False).eval()
    except Exception as e:      # noqa: BLE001 - any failure of timm's own builder
        raise Failed("create", f"{type(e).__name__}: {e}") from None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.yaml")
        try:
            import_source(f"timm:{name}", path)
        except SpecErrors as e:
            text = _one_line(e, 400)
            raise Failed("trace" if "torch.fx cannot trace" in text else "import", text) from None
        g = archspec.analyze(path)
        theirs = sum(p.numel() for p in meta.parameters())
        if g.params != theirs:
            raise Failed("params", f"{g.params} != {theirs}")
        with FlopCounterMode(display=False) as fc:
            meta(torch.zeros(1, *g.input_shape, device="meta"))
        macs = g.eval_counts()["macs"]
        if macs != fc.get_total_flops() // 2:
            raise Failed("macs", f"{macs} != {fc.get_total_flops() // 2}")
        if static:
            return
        torch.manual_seed(0)
        model = timm.create_model(name, pretrained=False)
        ours = archspec.compile(path, device="meta")
        try:
            # copies: shared tensors would make the buffers' comparison after a training step vacuous
            ours.load_state_dict({k: v.clone() for k, v in model.state_dict().items()}, strict=True, assign=True)
        except RuntimeError as e:
            raise Failed("load", _one_line(e)) from None
        _outputs(model, ours, torch)


def _outputs(model, ours, torch) -> None:
    """Eval outputs on the smallest input both run on (a model traced for its default input may take
    a branch on the shape that a small input does not; a spec with reshapes to the traced positions,
    as MobileNetV4's attention, runs on its own input size only, tried last), then training outputs on the same."""
    x = None
    sizes = [(side, side) for side in SMALL]
    for hw in (*sizes, *[tuple(ours.input_shape[1:])] * (tuple(ours.input_shape[1:]) not in sizes)):
        x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(1))
        try:
            with torch.inference_mode():
                want, got = model.eval()(x), ours.eval()(x)
            break
        except Exception:       # noqa: BLE001 - too small for the model or for the spec: try the next size
            continue
    else:
        raise Failed("eval", "the model and the spec run together on none of the small inputs")
    if not _close(want, got):
        raise Failed("eval", f"outputs differ by {(want - got).abs().max().item():.3g}")
    states = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(0)
    want = model.train()(x)
    torch.manual_seed(0)
    got = ours.train()(x)
    if isinstance(got, dict):
        got = next(iter(got.values()))
    if isinstance(want, (tuple, list)):
        want = want[0]
    if not _close(want.detach(), got.detach()):
        raise Failed("train", f"outputs differ by {(want - got).abs().max().item():.3g}")
    ours_state = ours.state_dict()
    moved = [k for k, v in model.state_dict().items() if not torch.equal(v, ours_state[k]) and k in states]
    if moved:
        raise Failed("train", f"buffers differ after the training step at {moved[0]}")


def _child(name: str, static: bool, queue) -> None:
    import torch
    torch.set_num_threads(1)
    try:
        round_trip(name, static)
        queue.put(("ok", "", ""))
    except Failed as e:
        queue.put(("fail", e.step, _one_line(e.why, 400)))
    except Exception as e:      # noqa: BLE001 - a bug of the survey or of archspec: recorded, never hidden
        tb = traceback.extract_tb(e.__traceback__)[-1]
        queue.put(("fail", "error", _one_line(f"{type(e).__name__}: {e} at {tb.filename}:{tb.lineno}", 400)))


def run_one(name: str, limit: float, static: bool = False) -> tuple[str, str, str, float]:
    start = time.time()
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, static, queue))
    proc.start()
    got = _result(proc, queue, start + limit)       # read before joining: a child exits once its result is sent
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return (*(got or ("fail", "timeout", f"over {limit:.0f} s")), time.time() - start)


def _result(proc, queue, deadline: float) -> tuple[str, str, str] | None:
    """The child's (result, step, why), a crash where it died without one, None past the deadline."""
    while time.time() < deadline:
        try:
            return queue.get(timeout=1)
        except Empty:
            if not proc.is_alive() and queue.empty():
                return "fail", "crash", f"exit code {proc.exitcode}"
    return None


def summary(rows: list[dict]) -> str:
    traced = [r for r in rows if r["step"] not in ("create", "trace")]
    ok = [r for r in traced if r["result"] == "ok"]
    lines = [f"# timm CNN import survey ({len(rows)} models)", "",
             f"- traced by torch.fx: {len(traced)} of {len(rows)}",
             f"- round-trip: {len(ok)} of {len(traced)} traced "
             f"({100 * len(ok) / max(1, len(traced)):.1f}%)", "",
             "| module | models | traced | round-trip |", "|---|--:|--:|--:|"]
    for m in sorted({r["module"] for r in rows}):
        rs = [r for r in rows if r["module"] == m]
        t = [r for r in rs if r["step"] not in ("create", "trace")]
        lines.append(f"| {m} | {len(rs)} | {len(t)} | {sum(r['result'] == 'ok' for r in t)} |")
    lines += ["", "| step | why | models | e.g. |", "|---|---|--:|---|"]
    whys: dict[tuple, list] = {}
    for r in rows:
        if r["result"] != "ok":
            whys.setdefault((r["step"], group(r["why"])), []).append(r["name"])
    for (step, why), names in sorted(whys.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"| {step} | {why.replace('|', '/')} | {len(names)} | {', '.join(names[:3])} |")
    return "\n".join(lines) + "\n"


GROUPS = [          # (pattern in the failure, why that group fails): the first that matches
    (r"reshape from \(2, \d+, \d+, \d+\) to \(\d+, \d+, 1, 1\)", "BAT's resize_mat: a view folding the batch into "
     "the first axis (B * C, ...), then a product with torch.eye (a Kronecker product: needs an op)"),
    (r"slice \[", "a channel slice at an offset or of unequal pieces (needs the slice op)"),
    (r"reads \d+ tensors from outside|has \d+ outputs", "a module with several inputs or outputs: DLA/VoVNet/HRNet/"
     "SelecSLS aggregation, Res2Net's and HGNet's list-laid branches (needs multi-input blocks, list-laid members)"),
    (r"torch\.stack|Tensor\.sum|softmax", "split attention over branches: stack, sum, softmax over the radix axis "
     "(needs stack, sum, softmax(axis))"),
    (r"Conv2dSame|F\.pad|padding='same' with an even", "TensorFlow 'same' padding, asymmetric (needs a pad op)"),
    (r"StdConv2d|Tensor\.pow|group_norm|EvoNorm|Tensor\.float", "weight standardisation, group, RMS or Evo norms "
     "(needs those ops)"),
    (r"gamma|layer_scale|ConvNeXtBlock|MetaNeXtBlock|DenseBlock", "a layer scale (C,) on a channels-first map "
     "(archspec's layer_scale holds (C, 1, 1) there)"),
    (r"to \(1, \d+\)|reshape from|Tensor\.view", "a reshape: ECA's Conv1d over channels, global context, "
     "space-to-depth (needs reshape/unflatten, and a conv1d for ECA)"),
    (r"interpolate", "upsampling (needs an interpolate op)"),
    (r"adaptive_max_pool2d", "adaptive max pooling (needs an op)"),
    (r"CondConv2d", "CondConv's mixture of experts weights (needs an op)"),
    (r"LearnableAffineBlock", "HGNetV2's learnable affine: a scale and a bias used directly (needs an op)"),
    (r"BlurPool|used directly", "another module's tensor used directly in forward (blur pool's filter, ...)"),
    (r"repeat count must be", "a module named `repeat`, a reserved key (an importer bug)"),
]


def group(why: str) -> str:
    import re
    return next((label for pattern, label in GROUPS if re.search(pattern, why)), _reason(why))


def _reason(why: str) -> str:
    """A failure's kind: its message without the module path it names."""
    text = why.split(": error: ", 1)[-1]
    if text.count(": ") and "(" in text.split(": ")[0]:
        text = text.split(": ", 1)[1]
    return text[:90]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", default=",".join(CNN_MODULES))
    ap.add_argument("--models", default="")
    ap.add_argument("--limit", type=int, default=0, help="at most this many models per module")
    ap.add_argument("--time", type=float, default=300.0, help="seconds per model")
    ap.add_argument("--out", default="bench/timm_survey.csv")
    ap.add_argument("--static", action="store_true", help="the steps up to macs only, on the meta device")
    ap.add_argument("--jobs", type=int, default=1, help="models at once")
    ap.add_argument("--summarize", default="", help="only write the markdown summary of this CSV")
    a = ap.parse_args(argv)
    if a.summarize:          # (of a run stopped early: its rows so far)
        with open(a.summarize, newline="") as f, open(os.path.splitext(a.summarize)[0] + ".md", "w") as out:
            out.write(summary(list(csv.DictReader(f))))
        return 0
    import torch  # noqa: F401 - imported once here: each model's process forks from this one

    import archspec.pytorch.compiler  # noqa: F401
    import archspec.pytorch.importing.structure  # noqa: F401
    chosen = models(a.modules.split(","))
    if a.models:
        wanted = set(a.models.split(","))
        chosen = [(n, m) for n, m in models(CNN_MODULES) if n in wanted]
    if a.limit:
        per: Counter = Counter()
        chosen = [(n, m) for n, m in chosen if (per.update([m]) or per[m] <= a.limit)]
    from concurrent.futures import ThreadPoolExecutor
    rows = []
    with open(a.out, "w", newline="") as f, ThreadPoolExecutor(a.jobs) as pool:
        w = csv.DictWriter(f, ["name", "module", "result", "step", "why", "seconds"])
        w.writeheader()
        results = pool.map(lambda nm: run_one(nm[0], a.time, a.static), chosen)
        for (name, module), (result, step, why, secs) in zip(chosen, results):
            row = {"name": name, "module": module, "result": result, "step": step, "why": why,
                   "seconds": f"{secs:.1f}"}
            rows.append(row)
            w.writerow(row)
            f.flush()
            print(f"{name:40s} {result:4s} {step:7s} {secs:6.1f}s {why[:150]}", flush=True)
    with open(os.path.splitext(a.out)[0] + ".md", "w") as f:
        f.write(summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
