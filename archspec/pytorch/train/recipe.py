"""The resolved training recipe: archspec's defaults, under the spec's `train:` section (with
its --set train.KEY values), under the command's flags; each value with where it came from; and
what the loop does with it (learning rate at a point of training, optimizer, averaging, filter norms).

Every learning rate is a function of the training position (epoch + fraction) and the epochs'
figures so far: a resumed run, which has the same history, follows the same schedule."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...errors import Diagnostic, Loc, SpecErrors
from ...frontend.recipe import DEFAULTS, KEYS, TrainDef
from ...frontend.spec import Spec
from ...names import one_line

# by optimizer, for a softmax head and for an RBF head: Eq. (9)'s gradients are squared distances
# over F6's 84 units, far larger than a softmax's (LeNet-5 diverges at 0.01 with SGD)
DEFAULT_LR = {"sgd": (0.05, 0.001), "rmsprop": (0.001, 0.0003), "adam": (0.001, 0.0003), "adamw": (0.001, 0.0003)}
DEFAULT_EPS = {"sgd": 0.0, "rmsprop": 1e-8, "adam": 1e-8, "adamw": 1e-8}
FLAG_AUGMENT = {"crop+flip": ["crop", "flip"], "crop": ["crop"], "distort": ["distort"], "none": []}


@dataclass
class Recipe:
    values: dict[str, Any]            # every key of frontend.recipe.KEYS
    sources: dict[str, str]           # key -> where the value comes from
    note: str | None = None
    reported: dict | None = None      # the paper's top-1/top-5 error for the spec's network, and where

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(key)

    def text(self) -> str:
        """The values as one JSON line (a checkpoint keeps it; resume must match it)."""
        return json.dumps(self.values, sort_keys=True)

    def lines(self) -> list[str]:
        """`archspec train --print-recipe`: each value and its source."""
        width = max(len(k) for k in KEYS)
        # spec text on one printable line each: a source cannot forge lines of this table
        out = [f"{k:<{width}}  {_shown(self.values[k]):<24}  {one_line(self.sources[k], 300)}" for k in KEYS]
        out += [f"note: {one_line(self.note, 1000)}"] if self.note else []
        return out + ([f"paper's error: {reported_text(self.reported)} ({one_line(self.reported['source'], 300)})"]
                      if self.reported else [])


def reported_text(reported: dict | None) -> str:
    """The paper's top-1 and top-5 errors as `top-1 22.85%, top-5 6.71%` (a dash where it gives none)."""
    if not reported:
        return "-"
    return ", ".join(f"top-{k} " + ("-" if reported.get(f"top{k}") is None else f"{reported[f'top{k}']:g}%")
                     for k in (1, 5))


def _shown(v: Any) -> str:
    return "-" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else f"{v:g}" \
        if isinstance(v, float) else str(v)


def resolve(spec: Spec, flags: dict[str, Any], rbf: bool) -> Recipe:
    """The recipe for this run: `flags` are the command's (key -> value, None where not given)."""
    section = TrainDef.model_validate(dict(spec.raw.get("train") or {}))   # checked when the spec loaded
    given = section.model_dump(exclude_unset=True)
    values, sources = {}, {}
    sets = {s.split("=", 1)[0].strip()[len("train."):]: s for s in spec.sets if s.strip().startswith("train.")}
    for key in KEYS:
        if flags.get(key) is not None:
            values[key], sources[key] = flags[key], "command line"
        elif key in given:
            values[key] = given[key]
            sources[key] = f"--set {sets[key]}" if key in sets else \
                section.sources.get(key) or section.source or "the spec (no source given)"
        else:
            values[key], sources[key] = DEFAULTS[key], "archspec default"
    if values["lr"] is None:
        values["lr"] = DEFAULT_LR[values["optimizer"]][rbf]
        sources["lr"] = f"archspec default for {values['optimizer']}" + (" and an RBF output" if rbf else "")
    if values["eps"] is None:
        values["eps"] = DEFAULT_EPS[values["optimizer"]]
    return Recipe(values, sources, section.note,
                  section.reported.model_dump() if section.reported else None)


def flag_values(cfg) -> dict[str, Any]:
    """The train keys a Config gives (None: not given, the recipe's or archspec's value)."""
    flags = {k: getattr(cfg, k, None) for k in KEYS}
    if cfg.lr_step:
        flags.update(schedule="step", every=cfg.lr_step, milestones=[])
    flags["gamma"] = cfg.lr_gamma
    if isinstance(cfg.augment, str):
        flags["augment"] = FLAG_AUGMENT[cfg.augment]
    flags["eval"] = cfg.protocol
    return flags


def base_lr(r: Recipe) -> float:
    """The rate at the recipe's batch: lr, times batch_size / lr_batch under the linear scaling rule
    (Goyal et al. 2017, Sec. 2.1), batch_size being the global batch (all processes)."""
    return r.lr * (r.batch_size / r.lr_batch if r.lr_batch else 1.0)


def lr_at(r: Recipe, t: float, errors: list[float]) -> float:
    """The learning rate at training position t (epochs, fractional), after a warmup that rises
    linearly from warmup_start x lr; `errors`: the held-out top-1 error of each finished epoch (plateau)."""
    lr = base_lr(r)
    if t < r.warmup_epochs:
        return lr * (r.warmup_start + (1 - r.warmup_start) * t / r.warmup_epochs)
    epoch, left = math.floor(t), max(r.epochs - r.warmup_epochs, 1e-9)
    done = min((t - r.warmup_epochs) / left, 1.0)
    if r.schedule == "step":
        drops = sum(epoch >= m for m in r.milestones) if r.milestones else epoch // r.every
        return lr * r.gamma ** drops
    if r.schedule == "exponential":
        return lr * r.gamma ** (epoch // r.every)
    if r.schedule == "plateau":
        return lr * r.gamma ** plateaus(errors[:epoch], r.patience)
    if r.schedule == "cosine":
        return r.min_lr + (lr - r.min_lr) * (1 + math.cos(math.pi * done)) / 2
    if r.schedule == "poly":
        return lr * (1 - done) ** r.power
    return lr


def plateaus(errors: list[float], patience: int) -> int:
    """How many times the rate was divided: each time the error has not improved on its best for
    more than `patience` epochs (then the count starts again), as torch's ReduceLROnPlateau (mode
    min, threshold 0, no cooldown) on the held-out error."""
    best, bad, drops = math.inf, 0, 0
    for e in errors:
        if e < best:
            best, bad = e, 0
        else:
            bad += 1
        if bad > patience:
            drops, bad = drops + 1, 0
    return drops


def optimizer(r: Recipe, model: nn.Module) -> torch.optim.Optimizer:
    """The recipe's optimizer; with decay_norms_biases false, the one-dimensional parameters (norm
    weights, biases) form a second group without weight decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = r.weight_decay
    groups: list[dict] = [{"params": params}]
    if not r.decay_norms_biases and decay:
        groups = [{"params": [p for p in params if p.dim() > 1]},
                  {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    lr = base_lr(r)
    if r.optimizer == "sgd":
        if r.nesterov and not r.momentum:
            raise SpecErrors([Diagnostic(Loc("train.nesterov"), "Nesterov momentum needs momentum > 0")])
        return torch.optim.SGD(groups, lr, momentum=r.momentum, nesterov=r.nesterov, weight_decay=decay)
    if r.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr, alpha=r.rmsprop_decay, eps=r.eps, momentum=r.momentum,
                                   weight_decay=decay)
    kind = torch.optim.Adam if r.optimizer == "adam" else torch.optim.AdamW
    return kind(groups, lr, betas=tuple(r.betas), eps=r.eps, weight_decay=decay)


def set_dropout(model: nn.Module, rate: float | None) -> None:
    """The recipe's dropout rate in every dropout layer (the spec's own rates where it gives none)."""
    if rate is None:
        return
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.p = rate


@torch.no_grad()
def renormalise_filters(model: nn.Module, radius: float) -> None:
    """Zeiler & Fergus 2014, Sec. 3: each convolutional filter whose RMS value exceeds a fixed
    radius is scaled back to that radius."""
    for m in model.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            w = m.weight
            rms = w.pow(2).mean(dim=tuple(range(1, w.dim())), keepdim=True).sqrt()
            w.mul_(torch.where(rms > radius, radius / rms, torch.ones_like(rms)))


class Average:
    """An exponential moving average of the weights (Polyak averaging as Inception-v3 evaluated
    with): avg = decay x avg + (1 - decay) x weight after every step; buffers (batch-norm
    statistics) are copied. Evaluation uses the averaged network."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.state[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                self.state[k].copy_(v)

    def module(self, model: nn.Module) -> nn.Module:
        """A copy of `model` holding the averaged weights."""
        import copy
        twin = copy.deepcopy(model)
        twin.load_state_dict(self.state)
        return twin


def changed(saved: str | None, recipe: Recipe) -> list[str]:
    """How a checkpoint's recipe differs from this run's (its epochs may grow), as `train.KEY old (now new)`."""
    try:
        old = json.loads(saved) if isinstance(saved, str) else {}
    except ValueError:
        old = {}
    if not isinstance(old, dict):
        old = {}
    return [f"train.{k} {_shown(old.get(k))} (now {_shown(v)})" for k, v in recipe.values.items()
            if k != "epochs" and old.get(k) != v]


def schedule_text(r: Recipe) -> str:
    """The base rate and its schedule in words: `0.1 x 0.1 at epochs 30, 60`."""
    lr = f"{base_lr(r):g}"
    if r.schedule == "step":
        lr += (f" x {r.gamma:g} at epochs {', '.join(map(str, r.milestones))}" if r.milestones
               else f" x {r.gamma:g} every {r.every:g} epochs")
    elif r.schedule == "exponential":
        lr += f" x {r.gamma:g} every {r.every:g} epoch{'s' if r.every != 1 else ''}"
    elif r.schedule == "plateau":
        lr += f" x {r.gamma:g} when the error stalls {r.patience + 1} epochs"
    elif r.schedule != "constant":
        lr += f" {r.schedule} to {r.min_lr if r.schedule == 'cosine' else 0:g}"
    return lr + (f" after {r.warmup_epochs:g} warmup epochs" if r.warmup_epochs else "")


def describe(r: Recipe) -> str:
    """The optimizer and schedule in a few words, for the run's first line."""
    augment = f", augment {'+'.join(r.augment)}" if r.augment else ""
    return f"{r.optimizer} lr {schedule_text(r)}, {r.epochs} epochs{augment}, test {r.eval}"
