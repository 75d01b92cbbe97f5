"""`archspec eval CHECKPOINT --data SOURCE [--protocol P]`: a trained network's top-1 and top-5
on the held-out images of SOURCE, alone, under its recipe's test protocol or another."""
from __future__ import annotations

import json

import torch

from ...errors import Diagnostic, SpecErrors
from ..compiler import compile as compile_graph
from . import checkpoint
from .data import load_data
from .loop import Processes, evaluate
from .objective import Objective
from .threads import cpu_threads
from .visualize import check_classes


def evaluate_checkpoint(path: str, data: str, protocol: str | None, threads: int | None = None) -> str:
    """One line: the checkpoint's top-1 and top-5 error on `data`'s held-out images (the averaged
    weights where its recipe averaged them)."""
    state = checkpoint.read(path, "checkpoint")
    _, graph = checkpoint.rebuild(state["spec"], state.where)
    resize, trained_protocol = _recipe(state)
    protocol = protocol or trained_protocol
    weights = state["ema"] if state.get("ema") is not None else state["model"]
    checkpoint.check_model(weights, compile_graph(graph, device="meta").state_dict(), state.where)
    shape = tuple(graph.input_shape)
    images = load_data(data, (shape[0], resize, resize) if resize else shape)
    check_classes(images, state["classes"], data)
    before = torch.get_num_threads()
    torch.set_num_threads(cpu_threads(threads, before))
    try:
        model = compile_graph(graph)
        model.load_state_dict(weights)
        objective = Objective(graph, len(images.classes))
        loader = torch.utils.data.DataLoader(images.test, 256)
        loss, top1, top5 = evaluate(model, loader, objective, None, Processes(), protocol, tuple(shape[1:]))
    finally:
        torch.set_num_threads(before)
    five = f"top-5 error {1 - top5:.2%}" if top5 is not None else f"top-5 not defined ({len(images.classes)} classes)"
    return (f"{graph.name} epoch {state['epoch']} on {data} ({len(images.test):,} held-out images, {protocol}): "
            f"loss {loss:.4f}, top-1 error {1 - top1:.2%}, {five}")


def _recipe(state: checkpoint.State) -> tuple[int | None, str]:
    """The resize and test protocol of the checkpoint's recipe (a checked JSON text)."""
    try:
        values = json.loads(state["options"].get("recipe") or "{}")
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise SpecErrors([Diagnostic(state.where, "not a recipe (JSON of the train keys)", path="options.recipe")])
    resize, protocol = values.get("resize"), values.get("eval", "full")
    if not (resize is None or (type(resize) is int and 1 <= resize <= 4096)) or protocol not in (
            "full", "center", "ten_crop"):
        raise SpecErrors([Diagnostic(state.where, f"resize {resize!r}, eval {protocol!r}: not a test protocol",
                                     path="options.recipe")])
    return resize, protocol
