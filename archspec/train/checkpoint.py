"""Checkpoints: the spec text and --set params that built the network, the training options,
and its state (model, optimizer, loss scaler, epoch, every process's RNG states), so that
`--resume` continues exactly where training stopped and `visualize` rebuilds the network
without the original files. Read with torch.load(weights_only=True): a checkpoint is data,
it cannot run code."""
from __future__ import annotations

import os
import random
import tempfile

import torch

from .. import analyze, load
from ..errors import Diagnostic, Loc, SpecErrors
from ..files import write_atomic
from ..ir import Graph
from ..names import one_line
from ..spec import Spec
from ..yamlpos import read_text

FORMAT = 1
LAST = "last.pt"


def spec_record(spec: Spec, sets: list[str]) -> dict:
    """The spec's files (the spec, its bases and libraries) by path relative to their common
    folder, which file is the spec, and the --set strings."""
    real = [os.path.realpath(f) for f in dict.fromkeys(spec.files)]
    root = os.path.commonpath([os.path.dirname(r) for r in real])
    files = {os.path.relpath(r, root): read_text(r, r) for r in real}
    return {"main": os.path.relpath(real[0], root), "files": files, "sets": list(sets), "name": spec.name}


def rebuild(record: dict) -> tuple[Spec, Graph]:
    """The spec and graph from a checkpoint's record, through the files it kept (written to a
    temporary folder: the loader reads files, so `extends:` and `use:` resolve as they did)."""
    with tempfile.TemporaryDirectory(prefix="archspec-ckpt-") as tmp:
        for rel, text in record["files"].items():
            path = os.path.join(tmp, rel)
            if os.path.commonpath([tmp, os.path.realpath(path)]) != os.path.realpath(tmp):
                raise SpecErrors([Diagnostic(Loc(one_line(rel, 120)), "checkpoint names a file outside its folder")])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        spec = load(os.path.join(tmp, record["main"]), record["sets"])
        return spec, analyze(spec)


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(folder: str, state: dict) -> str:
    """Write FOLDER/last.pt whole or not at all."""
    import io
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    return str(write_atomic(os.path.join(folder, LAST), buf.getvalue()))


def read(path: str, what: str) -> dict:
    """A checkpoint file (a folder means its last.pt), or one clear error."""
    if os.path.isdir(path):
        path = os.path.join(path, LAST)
    where = Loc(f"{what} {one_line(path, 120)}")
    if not os.path.isfile(path):
        raise SpecErrors([Diagnostic(where, "no checkpoint there", hint="archspec train --checkpoint DIR writes "
                                     f"DIR/{LAST}")])
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:      # noqa: BLE001 - any unreadable file is one error
        raise SpecErrors([Diagnostic(where, f"not an archspec checkpoint ({type(e).__name__}: "
                                     f"{one_line(e, 160)})")]) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SpecErrors([Diagnostic(where, "not an archspec checkpoint (format "
                                     f"{state.get('format') if isinstance(state, dict) else '?'})")])
    return state
