"""The training loop: one process, or one of several under `torchrun` (DistributedDataParallel,
NCCL on GPU and gloo on CPU, a DistributedSampler, rank 0 logging and checkpointing)."""
from __future__ import annotations

import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.distributed as torch_dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Subset

from ... import analyze, load
from ...errors import Diagnostic, Loc, SpecErrors, warn
from ..compiler import compile as compile_graph
from . import checkpoint, scale
from . import recipe as recipes
from .augment import eval_views, train_views
from .checkpoint import Epoch
from .data import Data, load_data
from .objective import Objective, correct_topk
from .recipe import Recipe
from .threads import cpu_threads

# options a resumed run must share with its checkpoint, besides the recipe (whose epochs may grow)
SAME_ON_RESUME = ("data", "limit", "amp", "seed")


@dataclass
class Config:
    """`archspec train`'s options."""
    spec: str
    sets: list[str] = field(default_factory=list)
    strict: bool = False              # warnings (an unused node) are errors
    data: str = "digits"
    limit: int | None = None          # at most this many images of each split (a smoke run)
    # None: the spec's train: section's value, else archspec's (frontend.recipe.DEFAULTS)
    epochs: int | None = None
    batch_size: int | None = None     # the global batch: split over the processes
    optimizer: str | None = None      # sgd | rmsprop | adam | adamw
    lr: float | None = None           # default: recipe.DEFAULT_LR[optimizer][RBF head]
    lr_step: int = 0                  # multiply the lr by lr_gamma every lr_step epochs (0: the recipe's)
    lr_gamma: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    label_smoothing: float | None = None
    augment: str | None = None        # a key of recipe.FLAG_AUGMENT: "crop+flip", "crop", "distort", "none"
    protocol: str | None = None       # test views: full | center | ten_crop
    accumulate: int | None = None     # batches summed per step (None: 1, or what the GPU's memory needs)
    amp: bool = False
    checkpoint: str | None = None     # a folder: last.pt is written there after every epoch
    resume: bool = False
    seed: int = 0
    workers: int = 0
    threads: int | None = None        # torch's CPU threads (None: threads.cpu_threads' default)
    progress: bool = True
    log: Callable[[str], None] = print

    def options(self, recipe: Recipe) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k in SAME_ON_RESUME}, "recipe": recipe.text()}


@dataclass
class Result:
    model: nn.Module                  # the trained module (not the DDP wrapper)
    history: list[Epoch]
    objective: Objective
    data: Data
    seconds: float                    # training and evaluation, this run
    recipe: Recipe


class Processes:
    """This process's place in a torchrun job (rank 0 of 1 without one)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
        self.backend = "nccl" if self.device.type == "cuda" else "gloo"
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.world > 1 and not torch_dist.is_initialized():
            torch_dist.init_process_group(self.backend)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over the processes."""
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        torch_dist.all_reduce(t)
        return t.tolist()

    def gather(self, obj) -> list:
        if self.world == 1:
            return [obj]
        out: list = [None] * self.world
        torch_dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.world > 1 and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def train(cfg: Config) -> Result:
    """Train a spec's network; raises SpecErrors for what the user can fix."""
    procs = Processes()
    before = torch.get_num_threads()
    torch.set_num_threads(cpu_threads(cfg.threads, before))
    try:
        return _train(cfg, procs)
    finally:
        torch.set_num_threads(before)
        procs.close()


@dataclass
class Run:
    """What one run trains with."""
    cfg: Config
    recipe: Recipe
    procs: Processes
    model: nn.Module
    net: nn.Module                    # the model, or its DDP wrapper
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    objective: Objective
    amp: torch.dtype | None
    average: recipes.Average | None
    size: tuple[int, int]             # the input's (H, W)
    ink: tuple[float, float]
    accumulate: int


def _train(cfg: Config, procs: Processes) -> Result:
    log = cfg.log if procs.main else (lambda _: None)
    spec = load(cfg.spec, cfg.sets)
    graph = analyze(spec)
    warn(graph.warnings if procs.main or cfg.strict else [], cfg.strict)
    recipe = recipes.resolve(spec, recipes.flag_values(cfg), _rbf(graph))
    data = load_data(cfg.data, _data_shape(graph.input_shape, recipe))
    data = data.limited(cfg.limit) if cfg.limit else data
    objective = Objective(graph, len(data.classes), recipe.label_smoothing, spec.params, recipe.aux_weights)
    record = checkpoint.spec_record(spec, cfg.sets) if cfg.checkpoint else {}    # kept only in a checkpoint
    resumed = _resume_state(cfg, record, recipe) if cfg.resume else None
    local_batch, accumulate = scale.batches(cfg, recipe, graph, procs.world, procs.device, log)

    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)       # the same initial weights in every process
    model = compile_graph(graph).to(procs.device)
    recipes.set_dropout(model, recipe.dropout)
    torch.manual_seed(cfg.seed + procs.rank)     # each process its own crops, flips and dropout
    optimizer = recipes.optimizer(recipe, model)
    amp = _amp(cfg, procs.device, log)
    scaler = torch.amp.GradScaler(procs.device.type, enabled=amp is not None and procs.device.type == "cuda")
    average = recipes.Average(model, recipe.ema) if recipe.ema else None
    history = _restore(resumed, model, optimizer, scaler, average, procs.rank) if resumed else []
    net = nn.parallel.DistributedDataParallel(model) if procs.world > 1 else model
    run = Run(cfg, recipe, procs, model, net, optimizer, scaler, objective, amp, average,
              tuple(graph.input_shape[1:]), data.ink, accumulate)
    sampler, loader, test = _loaders(cfg, data, procs, local_batch)
    log(_header(run, graph, data, local_batch, len(history)))
    start = time.perf_counter()
    for epoch in range(len(history), recipe.epochs):
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        tr = _train_epoch(run, loader, epoch, [h.test_top1_error for h in history])
        te = evaluate(average.module(model) if average else model, test, objective, amp, procs,
                      recipe.eval, run.size)
        history.append(Epoch(epoch + 1, tr[0], 1 - tr[1], te[0], 1 - te[1],
                             None if te[2] is None else 1 - te[2], time.perf_counter() - t0))
        log(_epoch_line(history[-1], recipe.epochs, len(data.classes)))
        if cfg.checkpoint:
            _save(run, record, data, history)
    seconds = time.perf_counter() - start
    if history:
        saved = f", checkpoint {os.path.join(cfg.checkpoint, checkpoint.LAST)}" if cfg.checkpoint else ""
        log(f"done: {len(history)} epoch{'' if len(history) == 1 else 's'}, "
            f"{_errors(history[-1], len(data.classes))}; {seconds:.1f} s this run{saved}")
    return Result(model, history, objective, data, seconds, recipe)


def resolved_recipe(cfg: Config) -> Recipe:
    """The recipe a run of cfg would train with (`archspec train --print-recipe`)."""
    spec = load(cfg.spec, cfg.sets)
    return recipes.resolve(spec, recipes.flag_values(cfg), _rbf(analyze(spec)))


def _rbf(graph) -> bool:
    """Whether the main head is an RBF output (its default learning rates are smaller)."""
    outputs = list(graph.outputs.values())
    main = next((o for o in outputs if not o.train_only), outputs[0])
    return graph.nodes[main.node].op.name == "rbf"


def _data_shape(shape: tuple, recipe: Recipe) -> tuple:
    """The images' size before the crops: resize x resize where the recipe says, else the input's."""
    if recipe.resize is None or len(shape) != 3:
        return tuple(shape)
    if recipe.resize < max(shape[1:]):
        raise SpecErrors([Diagnostic(Loc("train.resize"), f"{recipe.resize} is smaller than the input "
                                     f"{shape[1]}x{shape[2]}", hint="the crops are taken from the resized image")])
    return (shape[0], recipe.resize, recipe.resize)


def _save(run: Run, record: dict, data: Data, history: list[Epoch]) -> None:
    rng = run.procs.gather(checkpoint.rng_state())       # every process's: a collective call
    if run.procs.main:
        checkpoint.save(run.cfg.checkpoint, {        # type: ignore[arg-type]
            "spec": record, "options": run.cfg.options(run.recipe), "epoch": len(history),
            "classes": data.classes, "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
            "scaler": run.scaler.state_dict(), "rng": rng, "history": [asdict(h) for h in history],
            "ema": run.average.state if run.average else None})


def _loaders(cfg: Config, data: Data, procs: Processes,
             local_batch: int) -> tuple[DistributedSampler, DataLoader, DataLoader]:
    """This process's share of the training images (its sampler reshuffles them each epoch) and
    of the test images."""
    sampler: DistributedSampler = DistributedSampler(data.train, procs.world, procs.rank, shuffle=True, seed=cfg.seed)
    loader = DataLoader(data.train, local_batch, sampler=sampler, drop_last=True, num_workers=cfg.workers)
    if len(loader) == 0:
        raise SpecErrors([Diagnostic(Loc("--batch-size"), f"{local_batch * procs.world} is more than the "
                                     f"{len(data.train):,} training images")])
    test = DataLoader(Subset(data.test, range(procs.rank, len(data.test), procs.world)), 256,
                      num_workers=cfg.workers)
    return sampler, loader, test


def _restore(state: checkpoint.State, model: nn.Module, optimizer, scaler, average, rank: int) -> list[Epoch]:
    """A checkpoint's state into this run, each part checked first (checkpoint.restore); its epochs so far."""
    checkpoint.restore(state, model, optimizer, scaler, rank)
    if average is not None:
        if state.get("ema") is None:
            raise SpecErrors([Diagnostic(state.where, "no averaged weights, but the recipe averages (ema)",
                                         path="ema")])
        checkpoint.check_model(state["ema"], average.state, state.where)
        average.state = {k: v.to(average.state[k].device) for k, v in state["ema"].items()}
    return [Epoch(**e) for e in state["history"]]


def _resume_state(cfg: Config, record: dict, recipe: Recipe) -> checkpoint.State | None:
    where = Loc("--resume")
    if not cfg.checkpoint:
        raise SpecErrors([Diagnostic(where, "needs --checkpoint DIR (where the checkpoint is)")])
    state = checkpoint.read(cfg.checkpoint, "--checkpoint")
    if state["spec"]["files"] != record["files"] or state["spec"]["sets"] != record["sets"]:
        raise SpecErrors([Diagnostic(where, f"the checkpoint was made by another spec or --set "
                                     f"({state['spec']['main']} {' '.join(state['spec']['sets'])})".rstrip())])
    ours, saved = cfg.options(recipe), state["options"]
    changed = [f"--{k.replace('_', '-')} {saved.get(k)} (now {ours[k]})"
               for k in SAME_ON_RESUME if saved.get(k) != ours[k]]
    changed += recipes.changed(saved.get("recipe"), recipe)
    if changed:
        raise SpecErrors([Diagnostic(where, "the checkpoint was trained with " + ", ".join(changed),
                                     hint="resume with the same options (--epochs may grow)")])
    return state


def _amp(cfg: Config, device: torch.device, log) -> torch.dtype | None:
    """float16 autocast with loss scaling on GPU; on CPU, bfloat16 autocast (no scaling needed)."""
    if not cfg.amp:
        return None
    if device.type == "cuda":
        return torch.float16
    log("--amp on CPU: bfloat16 autocast (float16 mixed precision is for GPUs)")
    return torch.bfloat16


def _train_epoch(run: Run, loader, epoch: int, errors: list[float]) -> tuple[float, float]:
    """One pass; returns (mean loss, top-1 accuracy) over every process's batches. Each optimizer
    step sums the gradients of `accumulate` batches (each loss divided by it)."""
    from tqdm import tqdm
    run.net.train()
    sums = [0.0, 0.0, 0.0, 0.0]        # loss x n, top-1, top-5, n
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{run.recipe.epochs}", leave=False, file=sys.stderr,
               disable=None if run.cfg.progress and run.procs.main else True)
    steps = len(loader)
    for i, (x, y) in enumerate(bar):
        x, y = x.to(run.procs.device, non_blocking=True), y.to(run.procs.device, non_blocking=True)
        x = train_views(x, run.recipe, run.size, run.ink)
        with torch.autocast(run.procs.device.type, run.amp or torch.float32, enabled=run.amp is not None):
            loss, scores = run.objective.loss(run.net(x), y)
        if i % run.accumulate == 0:
            for group in run.optimizer.param_groups:
                group["lr"] = recipes.lr_at(run.recipe, epoch + i / steps, errors)
            run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss / run.accumulate).backward()
        if (i + 1) % run.accumulate == 0 or i + 1 == steps:
            _step(run)
        n = len(y)
        for k, v in enumerate((float(loss.detach()) * n, correct_topk(scores, y, 1), correct_topk(scores, y, 5), n)):
            sums[k] += v
        bar.set_postfix(loss=f"{sums[0] / sums[3]:.3f}", top1=f"{sums[1] / sums[3]:.1%}",
                        top5=f"{sums[2] / sums[3]:.1%}", refresh=False)
    total = run.procs.sum(sums)
    if not math.isfinite(total[0]):
        raise SpecErrors([Diagnostic(Loc("--lr"), "the loss diverged (not a finite number)",
                                     hint="a smaller --lr")])
    return total[0] / total[3], total[1] / total[3]


def _step(run: Run) -> None:
    """One optimizer step: gradients clipped to the recipe's global norm, the step, ZFNet's filter
    renormalisation, the weights' average."""
    if run.recipe.grad_clip:
        run.scaler.unscale_(run.optimizer)
        nn.utils.clip_grad_norm_(run.model.parameters(), run.recipe.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    if run.recipe.max_filter_rms:
        recipes.renormalise_filters(run.model, run.recipe.max_filter_rms)
    if run.average:
        run.average.update(run.model)


@torch.no_grad()
def evaluate(model: nn.Module, loader, objective: Objective, amp, procs: Processes, protocol: str = "full",
             size: tuple | None = None) -> tuple[float, float, float | None]:
    """(mean loss, top-1, top-5 accuracy) of the main head on held-out data, in eval mode (each
    process a share, summed), under the test protocol: one view (the image, or its center), or
    ten whose softmax outputs are averaged (the loss then that average's negative log); top-5 is
    None for fewer than 5 classes."""
    model.eval()
    sums = [0.0, 0.0, 0.0, 0.0]
    for x, y in loader:
        x, y = x.to(procs.device), y.to(procs.device)
        views = eval_views(x, protocol, size or tuple(x.shape[-2:]))
        with torch.autocast(procs.device.type, amp or torch.float32, enabled=amp is not None):
            if len(views) == 1:
                loss, scores = objective.loss(model(views[0]), y)
            else:
                scores = torch.stack([objective.probabilities(model(v)) for v in views]).mean(0)
                loss = -scores.gather(1, y.unsqueeze(1)).clamp_min(1e-30).log().mean()
        for i, v in enumerate((float(loss) * len(y), correct_topk(scores, y, 1), correct_topk(scores, y, 5),
                               len(y))):
            sums[i] += v
    total = procs.sum(sums)
    n = max(total[3], 1)
    return total[0] / n, total[1] / n, total[2] / n if objective.num_classes >= 5 else None


def _header(run: Run, graph, data: Data, local_batch: int, done: int) -> str:
    params = sum(p.numel() for p in run.model.parameters() if p.requires_grad)
    procs, r = run.procs, run.recipe
    split = f" ({procs.world} processes x {local_batch}, {procs.backend})" if procs.world > 1 else ""
    accumulate = f", {run.accumulate} batches a step" if run.accumulate > 1 else ""
    return (f"train {graph.name} ({params:,} params) on {data.source}: {len(data.train):,} train / "
            f"{len(data.test):,} test images, {len(data.classes)} classes; {recipes.describe(r)}, "
            f"batch {r.batch_size}{split}{accumulate}, {procs.device}; loss {run.objective.describe()}"
            + (f"; resumed after epoch {done}" if done else ""))


def _errors(e: Epoch, classes: int) -> str:
    top5 = (f"top-5 error {e.test_top5_error:.2%}" if e.test_top5_error is not None
            else f"top-5 not defined ({classes} classes)")
    return f"test top-1 error {e.test_top1_error:.2%}, {top5}"


def _epoch_line(e: Epoch, epochs: int, classes: int) -> str:
    return (f"epoch {e.epoch}/{epochs}: train loss {e.train_loss:.4f}, top-1 error {e.train_top1_error:.2%}; "
            f"test loss {e.test_loss:.4f}, {_errors(e, classes).removeprefix('test ')} ({e.seconds:.1f} s)")
