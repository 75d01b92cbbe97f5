"""A spec's `train:` section: how its paper trained and tested the network (optimizer, learning-rate
schedule, batch, epochs, regularisation, augmentation, test protocol), each value with the paper's
section it comes from (`sources:`, key -> text; `source:` for the rest). Variants inherit it key by key;
`--set train.KEY=VALUE` changes one value. archspec/pytorch/train resolves it with the command's flags."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import Diagnostics, Loc, did_you_mean
from ..names import shown
from .yamlpos import YDict, overlay

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "step", "exponential", "plateau", "cosine", "poly")
# applied in this order, whatever order the list gives (a crop first, then what acts on its pixels)
AUGMENTATIONS = ("random_sized_crop", "scale_jitter", "crop", "flip", "distort", "pca_lighting")
PROTOCOLS = ("full", "center", "ten_crop")
Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
Percent = Annotated[float, Field(ge=0, le=100)]


class Reported(BaseModel):
    """What the paper reports for this network (errors in %, None where it gives none), and where."""
    model_config = ConfigDict(extra="forbid", strict=True)
    top1: Percent | None = None
    top5: Percent | None = None
    source: str                                  # table, protocol and data set, or why none is given


class TrainDef(BaseModel):
    """The `train:` keys; an absent key takes archspec's default (DEFAULTS) or a command-line flag."""
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    source: str | None = None                    # the paper's section for every value not in sources
    sources: dict[str, str] = Field(default_factory=dict)   # key -> where its value comes from
    note: str | None = None                      # what the paper did that archspec cannot, and the stand-in
    reported: Reported | None = None             # the paper's top-1/top-5 error for this network
    optimizer: Literal["sgd", "rmsprop", "adam", "adamw"] | None = None
    lr: Pos | None = None
    lr_batch: Annotated[int, Field(ge=1)] | None = None     # linear scaling: lr x batch_size / lr_batch
    momentum: Annotated[float, Field(ge=0, lt=1)] | None = None     # SGD, RMSProp
    nesterov: bool | None = None
    rmsprop_decay: Fraction | None = None        # RMSProp's moving average of squared gradients
    eps: Pos | None = None                       # RMSProp, Adam
    betas: Annotated[list[Fraction], Field(min_length=2, max_length=2)] | None = None    # Adam
    weight_decay: NonNeg | None = None
    decay_norms_biases: bool | None = None       # false: norm weights and biases take no decay
    batch_size: Annotated[int, Field(ge=1)] | None = None
    epochs: Annotated[int, Field(ge=1)] | None = None
    schedule: Literal["constant", "step", "exponential", "plateau", "cosine", "poly"] | None = None
    milestones: list[Annotated[int, Field(ge=1)]] | None = None    # step: the epochs where lr x gamma
    every: Pos | None = None                                       # step/exponential: every N epochs
    gamma: Pos | None = None
    patience: Annotated[int, Field(ge=0)] | None = None            # plateau: epochs without improvement
    power: Pos | None = None                                       # poly
    min_lr: NonNeg | None = None                                   # cosine
    warmup_epochs: NonNeg | None = None                            # linear from warmup_start x lr
    warmup_start: Fraction | None = None
    label_smoothing: Fraction | None = None
    aux_weights: dict[str, NonNeg] | None = None                   # output -> loss weight
    grad_clip: Pos | None = None                                   # the gradients' global L2 norm
    dropout: Fraction | None = None                                # every dropout layer's rate
    ema: Fraction | None = None                                    # decay of an exponential average
    max_filter_rms: Pos | None = None                              # ZFNet: renormalise conv filters
    augment: list[Literal["random_sized_crop", "scale_jitter", "crop", "flip", "distort",
                          "pca_lighting"]] | None = None
    resize: Annotated[int, Field(ge=1)] | None = None              # images are first made resize x resize
    scale_range: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)] | None = None
    crop_scale: Annotated[list[Annotated[float, Field(gt=0, le=1)]], Field(min_length=2, max_length=2)] | None = None
    crop_ratio: Annotated[list[Pos], Field(min_length=2, max_length=2)] | None = None
    lighting_std: NonNeg | None = None                             # PCA lighting's alpha ~ N(0, std)
    eval: Literal["full", "center", "ten_crop"] | None = None

    @model_validator(mode="after")
    def _sourced(self):
        unknown = [k for k in self.sources if k not in KEYS]
        if unknown:
            raise ValueError(f"sources names '{unknown[0]}', not a train key"
                             + (f"; {did_you_mean(unknown[0], KEYS)}" if did_you_mean(unknown[0], KEYS) else ""))
        for key in ("scale_range", "crop_scale", "crop_ratio"):
            pair = getattr(self, key)
            if pair is not None and pair[0] > pair[1]:
                raise ValueError(f"{key} {pair}: the low end first")
        return self


KEYS = tuple(k for k in TrainDef.model_fields if k not in ("source", "sources", "note", "reported"))

# archspec's own values for what neither the spec nor a flag gives (`lr` by optimizer and head: the loop's)
DEFAULTS: dict[str, Any] = {
    "optimizer": "sgd", "lr": None, "lr_batch": None, "momentum": 0.9, "nesterov": False, "rmsprop_decay": 0.9,
    "eps": None, "betas": [0.9, 0.999], "weight_decay": 0.0, "decay_norms_biases": True, "batch_size": 32,
    "epochs": 10, "schedule": "constant", "milestones": [], "every": 1, "gamma": 0.1, "patience": 2,
    "power": 1.0, "min_lr": 0.0, "warmup_epochs": 0.0, "warmup_start": 0.0, "label_smoothing": 0.0,
    "aux_weights": {}, "grad_clip": None, "dropout": None, "ema": None, "max_filter_rms": None, "augment": [],
    "resize": None, "scale_range": [256, 512], "crop_scale": [0.08, 1.0], "crop_ratio": [0.75, 4 / 3],
    "lighting_std": 0.1, "eval": "full"}


def check_train(raw: YDict, diags: Diagnostics) -> TrainDef | None:
    """The spec's `train:` section validated, each problem located at its key (None: no section)."""
    section = raw.get("train")
    if section is None:
        return None
    if not isinstance(section, YDict):
        diags.error(raw.at("train"), f"train: is a mapping of training settings, got {shown(section)}")
        return None
    try:
        return TrainDef.model_validate(dict(section))
    except ValidationError as e:
        for err in e.errors():
            key = err["loc"][0] if err["loc"] else None
            diags.error(_where(section, key, err["type"]), _message(err, key))
        return None


def _where(section: YDict, key, kind: str) -> Loc:
    if key not in section:
        return section.loc
    return section.key_at(key) if kind == "extra_forbidden" else section.at(key)


def _message(err, key) -> str:
    if err["type"] == "extra_forbidden":
        hint = did_you_mean(str(key), list(TrainDef.model_fields))
        return f"unknown train key '{key}'" + (f"; {hint}" if hint else "")
    what = f"train key '{key}'" if key is not None else "train"
    return f"{what}: {err['msg'].lower()} (got {shown(err.get('input'))})"


def merge_train(base, child):
    """A variant's section over its base's, key by key (and `sources:` source by source); the base's
    `reported:` figures are its own network's, so a variant has only those it states (child None:
    a variant without a section of its own)."""
    if child is None:
        if not isinstance(base, YDict):
            return base                              # not a mapping: check_train says so
        child = YDict(base.loc)
    out = overlay(base, child)
    if out is not child and isinstance(base.get("sources"), dict) and isinstance(child.get("sources"), dict):
        out["sources"] = {**base["sources"], **child["sources"]}
    if out is not child and isinstance(child, dict) and "reported" not in child:
        out.pop("reported", None)
    return out


def set_train(raw: YDict, key: str, value: Any, loc: Loc, diags: Diagnostics) -> None:
    """`--set train.KEY=VALUE`: one value of the section (made if the spec has none), checked with
    the rest by check_train."""
    if key not in TrainDef.model_fields:
        diags.error(loc, f"unknown train key {shown(key)}",
                    hint=did_you_mean(key, list(TrainDef.model_fields)) or f"train keys: {', '.join(KEYS)}")
        return
    old = raw.get("train")
    old = old if isinstance(old, YDict) else YDict(loc)
    section = YDict(old.loc, old, old.locs, old.key_locs)      # a copy: a base's section is shared
    section[key], section.locs[key], section.key_locs[key] = value, loc, loc
    raw["train"] = section
    raw.locs.setdefault("train", loc)
    raw.key_locs.setdefault("train", loc)
