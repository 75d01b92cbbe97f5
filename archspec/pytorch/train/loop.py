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
from . import checkpoint
from .checkpoint import Epoch
from .data import Data, augment, load_data
from .objective import Objective, correct_topk
from .threads import cpu_threads

# by optimizer, for a softmax head and for an RBF head: Eq. (9)'s gradients are squared distances
# over F6's 84 units, far larger than a softmax's (LeNet-5 diverges at 0.01 with SGD)
DEFAULT_LR = {("sgd", False): 0.05, ("sgd", True): 0.001, ("rmsprop", False): 0.001, ("rmsprop", True): 0.0003}
# options a resumed run must share with its checkpoint (--epochs may grow)
SAME_ON_RESUME = ("data", "batch_size", "optimizer", "lr", "lr_step", "lr_gamma", "momentum", "weight_decay",
                  "label_smoothing", "augment", "amp", "seed")


@dataclass
class Config:
    """`archspec train`'s options."""
    spec: str
    sets: list[str] = field(default_factory=list)
    strict: bool = False              # warnings (an unused node) are errors
    data: str = "digits"
    epochs: int = 10
    batch_size: int = 32              # the global batch: split over the processes
    optimizer: str = "sgd"            # sgd (with momentum) | rmsprop
    lr: float | None = None           # default: DEFAULT_LR[optimizer, RBF head]
    lr_step: int = 0                  # multiply the lr by lr_gamma every lr_step epochs (0: constant)
    lr_gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: str | None = None        # one of data.AUGMENTATIONS: "crop+flip", "crop" (AlexNet's), "distort"
    amp: bool = False
    checkpoint: str | None = None     # a folder: last.pt is written there after every epoch
    resume: bool = False
    seed: int = 0
    workers: int = 0
    threads: int | None = None        # torch's CPU threads (None: threads.cpu_threads' default)
    progress: bool = True
    log: Callable[[str], None] = print

    def options(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k in SAME_ON_RESUME}


@dataclass
class Result:
    model: nn.Module                  # the trained module (not the DDP wrapper)
    history: list[Epoch]
    objective: Objective
    data: Data
    seconds: float                    # training and evaluation, this run


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


def _train(cfg: Config, procs: Processes) -> Result:
    log = cfg.log if procs.main else (lambda _: None)
    spec = load(cfg.spec, cfg.sets)
    graph = analyze(spec)
    warn(graph.warnings if procs.main or cfg.strict else [], cfg.strict)
    data = load_data(cfg.data, graph.input_shape)
    objective = Objective(graph, len(data.classes), cfg.label_smoothing, spec.params)
    record = checkpoint.spec_record(spec, cfg.sets) if cfg.checkpoint else {}    # kept only in a checkpoint
    resumed = _resume_state(cfg, record) if cfg.resume else None
    local_batch = _local_batch(cfg.batch_size, procs.world)

    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)       # the same initial weights in every process
    model = compile_graph(graph).to(procs.device)
    torch.manual_seed(cfg.seed + procs.rank)     # each process its own crops, flips and dropout
    optimizer = _optimizer(cfg, model, _base_lr(cfg, objective))
    amp = _amp(cfg, procs.device, log)
    scaler = torch.amp.GradScaler(procs.device.type, enabled=amp is not None and procs.device.type == "cuda")
    history = _restore(resumed, model, optimizer, scaler, procs.rank) if resumed else []
    net = nn.parallel.DistributedDataParallel(model) if procs.world > 1 else model

    sampler, loader, test = _loaders(cfg, data, procs, local_batch)
    log(_header(cfg, graph, data, model, objective, procs, local_batch, len(history)))
    start = time.perf_counter()
    for epoch in range(len(history), cfg.epochs):
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        _set_lr(optimizer, cfg, objective, epoch)
        tr = _train_epoch(net, loader, optimizer, scaler, objective, cfg, amp, procs, epoch, data.ink[0])
        te = evaluate(model, test, objective, amp, procs)
        history.append(Epoch(epoch + 1, tr[0], 1 - tr[1], te[0], 1 - te[1],
                             None if te[2] is None else 1 - te[2], time.perf_counter() - t0))
        log(_epoch_line(history[-1], cfg.epochs, len(data.classes)))
        if cfg.checkpoint:
            rng = procs.gather(checkpoint.rng_state())       # every process's: a collective call
            if procs.main:
                checkpoint.save(cfg.checkpoint, {
                    "spec": record, "options": cfg.options(), "epoch": epoch + 1, "classes": data.classes,
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict(), "rng": rng, "history": [asdict(h) for h in history]})
    seconds = time.perf_counter() - start
    if history:
        saved = f", checkpoint {os.path.join(cfg.checkpoint, checkpoint.LAST)}" if cfg.checkpoint else ""
        log(f"done: {len(history)} epoch{'' if len(history) == 1 else 's'}, "
            f"{_errors(history[-1], len(data.classes))}; {seconds:.1f} s this run{saved}")
    return Result(model, history, objective, data, seconds)


def _loaders(cfg: Config, data: Data, procs: Processes,
             local_batch: int) -> tuple[DistributedSampler, DataLoader, DataLoader]:
    """This process's share of the training images (its sampler reshuffles them each epoch) and
    of the test images."""
    sampler: DistributedSampler = DistributedSampler(data.train, procs.world, procs.rank, shuffle=True, seed=cfg.seed)
    loader = DataLoader(data.train, local_batch, sampler=sampler, drop_last=True, num_workers=cfg.workers)
    if len(loader) == 0:
        raise SpecErrors([Diagnostic(Loc("--batch-size"), f"{cfg.batch_size} is more than the "
                                     f"{len(data.train):,} training images")])
    test = DataLoader(Subset(data.test, range(procs.rank, len(data.test), procs.world)), 256,
                      num_workers=cfg.workers)
    return sampler, loader, test


def _restore(state: checkpoint.State, model: nn.Module, optimizer, scaler, rank: int) -> list[Epoch]:
    """A checkpoint's state into this run, each part checked first (checkpoint.restore); its epochs so far."""
    checkpoint.restore(state, model, optimizer, scaler, rank)
    return [Epoch(**e) for e in state["history"]]


def _local_batch(batch: int, world: int) -> int:
    if batch < 1 or batch % world:
        raise SpecErrors([Diagnostic(Loc("--batch-size"), f"{batch} does not split over {world} processes",
                                     hint=f"a multiple of {world}: the global batch is split evenly")])
    return batch // world


def _resume_state(cfg: Config, record: dict) -> checkpoint.State | None:
    where = Loc("--resume")
    if not cfg.checkpoint:
        raise SpecErrors([Diagnostic(where, "needs --checkpoint DIR (where the checkpoint is)")])
    state = checkpoint.read(cfg.checkpoint, "--checkpoint")
    if state["spec"]["files"] != record["files"] or state["spec"]["sets"] != record["sets"]:
        raise SpecErrors([Diagnostic(where, f"the checkpoint was made by another spec or --set "
                                     f"({state['spec']['main']} {' '.join(state['spec']['sets'])})".rstrip())])
    ours = cfg.options()
    changed = [f"--{k.replace('_', '-')} {state['options'].get(k)} (now {ours[k]})"
               for k in SAME_ON_RESUME if state["options"].get(k) != ours[k]]
    if changed:
        raise SpecErrors([Diagnostic(where, "the checkpoint was trained with " + ", ".join(changed),
                                     hint="resume with the same options (--epochs may grow)")])
    return state


def _base_lr(cfg: Config, objective: Objective) -> float:
    return cfg.lr if cfg.lr is not None else DEFAULT_LR[cfg.optimizer, objective.main.rbf]


def _set_lr(optimizer: torch.optim.Optimizer, cfg: Config, objective: Objective, epoch: int) -> None:
    """Step decay by the epoch's index alone (as AlexNet's and ResNet's divisions by 10), so a
    resumed run or a longer --epochs follows the same schedule."""
    for group in optimizer.param_groups:
        group["lr"] = _base_lr(cfg, objective) * (cfg.lr_gamma ** (epoch // cfg.lr_step) if cfg.lr_step else 1)


def _optimizer(cfg: Config, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    # Inception-v3 (Szegedy et al. 2016, Sec. 8): RMSProp with decay 0.9
    return torch.optim.RMSprop(params, lr, alpha=0.9, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _amp(cfg: Config, device: torch.device, log) -> torch.dtype | None:
    """float16 autocast with loss scaling on GPU; on CPU, bfloat16 autocast (no scaling needed)."""
    if not cfg.amp:
        return None
    if device.type == "cuda":
        return torch.float16
    log("--amp on CPU: bfloat16 autocast (float16 mixed precision is for GPUs)")
    return torch.bfloat16


def _train_epoch(net, loader, optimizer, scaler, objective: Objective, cfg: Config, amp, procs: Processes,
                 epoch: int, background: float) -> tuple[float, float]:
    """One pass; returns (mean loss, top-1 accuracy) over every process's batches. `background`:
    the normalised value of a blank pixel (what a distortion fills in)."""
    from tqdm import tqdm
    net.train()
    sums = [0.0, 0.0, 0.0, 0.0]        # loss x n, top-1, top-5, n
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, file=sys.stderr,
               disable=None if cfg.progress and procs.main else True)
    for x, y in bar:
        x, y = x.to(procs.device, non_blocking=True), y.to(procs.device, non_blocking=True)
        if cfg.augment:
            x = augment(x, cfg.augment, background)
        with torch.autocast(procs.device.type, amp or torch.float32, enabled=amp is not None):
            loss, scores = objective.loss(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        n = len(y)
        for i, v in enumerate((float(loss.detach()) * n, correct_topk(scores, y, 1), correct_topk(scores, y, 5), n)):
            sums[i] += v
        bar.set_postfix(loss=f"{sums[0] / sums[3]:.3f}", top1=f"{sums[1] / sums[3]:.1%}",
                        top5=f"{sums[2] / sums[3]:.1%}", refresh=False)
    total = procs.sum(sums)
    if not math.isfinite(total[0]):
        raise SpecErrors([Diagnostic(Loc("--lr"), "the loss diverged (not a finite number)",
                                     hint="a smaller --lr")])
    return total[0] / total[3], total[1] / total[3]


@torch.no_grad()
def evaluate(model: nn.Module, loader, objective: Objective, amp, procs: Processes
             ) -> tuple[float, float, float | None]:
    """(mean loss, top-1, top-5 accuracy) of the main head on held-out data, in eval mode
    (each process a share, summed); top-5 is None for fewer than 5 classes."""
    model.eval()
    sums = [0.0, 0.0, 0.0, 0.0]
    for x, y in loader:
        x, y = x.to(procs.device), y.to(procs.device)
        with torch.autocast(procs.device.type, amp or torch.float32, enabled=amp is not None):
            loss, scores = objective.loss(model(x), y)
        for i, v in enumerate((float(loss) * len(y), correct_topk(scores, y, 1), correct_topk(scores, y, 5),
                               len(y))):
            sums[i] += v
    total = procs.sum(sums)
    n = max(total[3], 1)
    return total[0] / n, total[1] / n, total[2] / n if objective.num_classes >= 5 else None


def _header(cfg: Config, graph, data: Data, model: nn.Module, objective: Objective, procs: Processes,
            local_batch: int, done: int) -> str:
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lr = f"{_base_lr(cfg, objective):g}" + (f" x {cfg.lr_gamma:g} every {cfg.lr_step} epochs" if cfg.lr_step else "")
    split = f" ({procs.world} processes x {local_batch}, {procs.backend})" if procs.world > 1 else ""
    return (f"train {graph.name} ({params:,} params) on {data.source}: {len(data.train):,} train / "
            f"{len(data.test):,} test images, {len(data.classes)} classes; {cfg.optimizer} lr {lr}, "
            f"batch {cfg.batch_size}{split}, {procs.device}; loss {objective.describe()}"
            + (f"; resumed after epoch {done}" if done else ""))


def _errors(e: Epoch, classes: int) -> str:
    top5 = (f"top-5 error {e.test_top5_error:.2%}" if e.test_top5_error is not None
            else f"top-5 not defined ({classes} classes)")
    return f"test top-1 error {e.test_top1_error:.2%}, {top5}"


def _epoch_line(e: Epoch, epochs: int, classes: int) -> str:
    return (f"epoch {e.epoch}/{epochs}: train loss {e.train_loss:.4f}, top-1 error {e.train_top1_error:.2%}; "
            f"test loss {e.test_loss:.4f}, {_errors(e, classes).removeprefix('test ')} ({e.seconds:.1f} s)")
