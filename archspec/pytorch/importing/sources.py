"""Where `archspec import` finds a model: torchvision:NAME, timm:NAME, or FILE.py:FACTORY (the
user's own code, run because they asked for it on the command line, as --ops files are).
Models from a library are built on the meta device: importing reads structure, never weights."""
from __future__ import annotations

import os

import torch

from ...errors import Diagnostic, Loc, SpecErrors, did_you_mean
from ...names import one_line
from ...plugins import load_module, run_user_code


def _error(source: str, message: str, hint: str | None = None) -> SpecErrors:
    return SpecErrors([Diagnostic(Loc(f"archspec import {one_line(source, 80)}"), message, hint=hint)])


def load_model(source: str) -> tuple[torch.nn.Module, str, tuple]:
    """(model, its name, its default (C, H, W) input) for a SOURCE argument."""
    kind, sep, what = source.partition(":")
    if not sep or not what:
        raise _error(source, "SOURCE is torchvision:NAME, timm:NAME or FILE.py:FACTORY")
    if kind == "torchvision":
        return _torchvision(source, what)
    if kind == "timm":
        return _timm(source, what)
    path, _, factory = source.rpartition(":")
    if path.endswith(".py"):
        return _user(source, path, factory)
    raise _error(source, f"unknown source {kind!r}", "SOURCE is torchvision:NAME, timm:NAME or FILE.py:FACTORY")


def _torchvision(source: str, name: str):
    import torchvision
    names = torchvision.models.list_models(module=torchvision.models)
    if name not in names:
        raise _error(source, f"torchvision has no classification model {name!r}",
                     did_you_mean(name, names) or "see torchvision.models.list_models()")
    try:
        with torch.device("meta"):
            model = torchvision.models.get_model(name)
    except (NotImplementedError, RuntimeError):      # a builder that computes with tensors (RegNet's widths)
        model = torchvision.models.get_model(name)
    size = 224
    try:
        size = torchvision.models.get_model_weights(name).DEFAULT.transforms().crop_size[0]
    except (AttributeError, IndexError, ValueError):     # no weights or no crop: the usual 224
        pass
    return model, name, (3, size, size)


def _timm(source: str, name: str):
    try:
        import timm
    except ImportError:
        raise _error(source, "timm is not installed", "pip install timm") from None
    if name not in timm.list_models():
        raise _error(source, f"timm has no model {name!r}", did_you_mean(name, timm.list_models()))
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    cfg: dict = getattr(model, "pretrained_cfg", None) or {}
    return model, name, tuple(cfg.get("input_size", (3, 224, 224)))


def _user(source: str, path: str, factory: str):
    if not os.path.isfile(path):
        raise _error(source, f"no such file {one_line(path, 80)}")
    module = run_user_code(path, "import", lambda src: load_module(src, "import"))
    fn = getattr(module, factory, None)
    if not callable(fn):
        names = [n for n in vars(module) if callable(vars(module)[n]) and not n.startswith("_")]
        raise _error(source, f"{one_line(path, 80)} has no function {factory!r}", did_you_mean(factory, names))
    model = run_user_code(path, "import", lambda src: fn())
    if not isinstance(model, torch.nn.Module):
        raise _error(source, f"{factory}() returned a {type(model).__name__}, not a torch.nn.Module")
    return model, factory, (3, 224, 224)
