"""Checkpoints: the spec text and --set params that built the network, the training options,
and its state (model, optimizer, loss scaler, epoch, every process's RNG states), so that
`--resume` continues exactly where training stopped and `visualize` rebuilds the network
without the original files.

A checkpoint is untrusted input, like a spec: it is read by ckptfile (bounded, no code, every
tensor its own stored bytes), then every field is checked here before anything uses it, each
problem one error naming the file and the field. Its spec files are checked (count, total size,
relative paths) before one is written, and the spec is loaded confined to them; nothing in a
checkpoint names a file to read (visualize takes its images from the user's --data)."""
from __future__ import annotations

import math
import os
import random
import tempfile
from dataclasses import dataclass, fields

import torch

from ... import analyze, limits, load
from ...errors import Diagnostic, Loc, SpecErrors
from ...files import write_atomic
from ...frontend.spec import Spec
from ...frontend.yamlpos import CONFINED, read_text
from ...ir import Graph
from ...names import one_line
from . import ckptfile


@dataclass
class Epoch:
    """One epoch's figures, as a run prints them and a checkpoint keeps them (its history)."""
    epoch: int
    train_loss: float
    train_top1_error: float
    test_loss: float
    test_top1_error: float
    test_top5_error: float | None     # None: fewer than 5 classes
    seconds: float


FORMAT = 1
LAST = "last.pt"
FIELDS = ("spec", "options", "epoch", "classes", "model", "optimizer", "scaler", "rng", "history")
MAX_TEXT = 4096          # characters of one option value or class name
MAX_SETS = 1000          # --set strings kept in one
MAX_GROUPS = 64          # optimizer parameter groups (archspec's optimizers make one or two)
CHECKPOINT = Loc("checkpoint")


class State(dict):
    """A checkpoint's fields, checked, and where it was read (for the errors of later checks)."""
    where: Loc


def spec_record(spec: Spec, sets: list[str]) -> dict:
    """The spec's files (the spec, its bases and libraries) by path relative to their common
    folder, which file is the spec, and the --set strings; within what a checkpoint may hold."""
    real = [os.path.realpath(f) for f in dict.fromkeys(spec.files)]
    root = os.path.commonpath([os.path.dirname(r) for r in real])
    files = {os.path.relpath(r, root): read_text(r, r) for r in real}
    record = {"main": os.path.relpath(real[0], root), "files": files, "sets": list(sets), "name": spec.name}
    check_record(record, Loc("--checkpoint"))
    return record


def _bad(where: Loc, field: str, message: str, hint: str | None = None) -> SpecErrors:
    return SpecErrors([Diagnostic(where, message, path=field, hint=hint)])


def check_record(record, where: Loc) -> None:
    """The spec part: at most MAX_CHECKPOINT_FILES files of text, MAX_CHECKPOINT_TEXT bytes in all
    (every entry counted: pickle can make one stored string every entry), each named by a plain
    relative path; `main` one of them; the --set strings text."""
    if not isinstance(record, dict) or not {"main", "files", "sets"} <= record.keys():
        raise _bad(where, "spec", "not a spec record (main, files, sets)")
    files, sets = record["files"], record["sets"]
    if not isinstance(files, dict) or not 1 <= len(files) <= limits.MAX_CHECKPOINT_FILES:
        count = format(len(files), ",") if isinstance(files, dict) else "no"
        raise _bad(where, "spec.files", f"{count} files; a checkpoint holds 1 to {limits.MAX_CHECKPOINT_FILES} "
                   "(limits.MAX_CHECKPOINT_FILES)")
    if not isinstance(sets, list) or len(sets) > MAX_SETS or not all(type(s) is str for s in sets):
        raise _bad(where, "spec.sets", f"not a list of at most {MAX_SETS} --set strings")
    for rel, text in files.items():
        _relative(rel, where)
        if type(text) is not str:
            raise _bad(where, f"spec.files[{one_line(repr(rel), 80)}]", f"{_kind(text)}, not text")
    total = 0
    for text in [*files.values(), *sets]:     # characters (<= bytes) first: nothing is encoded past the limit
        if total + len(text) <= limits.MAX_CHECKPOINT_TEXT:
            total += len(text.encode("utf-8", "surrogatepass"))
        if total + len(text) > limits.MAX_CHECKPOINT_TEXT or total > limits.MAX_CHECKPOINT_TEXT:
            raise _bad(where, "spec.files", f"more than archspec's limit of {limits.MAX_CHECKPOINT_TEXT:,} bytes of "
                       "spec text and --set strings (limits.MAX_CHECKPOINT_TEXT)")
    folders = {os.path.dirname(rel) for rel in files} - {""}
    clash = next((f for f in folders if f in files), None)
    if clash is not None:
        raise _bad(where, "spec.files", f"{one_line(repr(clash), 80)} is both a file and a folder")
    if type(record["main"]) is not str or record["main"] not in files:
        raise _bad(where, "spec.main", "not one of the checkpoint's spec files")


def _relative(rel, where: Loc) -> None:
    """A path that stays in the folder it is written to: relative, no `..`, `.` or empty part."""
    parts = rel.split("/") if type(rel) is str else []
    if (not parts or len(rel) > 1024 or "\0" in rel or "\\" in rel or len(parts) > 32
            or any(p in ("", ".", "..") or len(p) > 255 for p in parts)):
        shown = one_line(repr(rel), 80) if type(rel) is str else type(rel).__name__
        raise _bad(where, "spec.files", f"names a file outside its folder ({shown}): a checkpoint's files are "
                   "plain relative paths")


def rebuild(record: dict, where: Loc = CHECKPOINT) -> tuple[Spec, Graph]:
    """The spec and graph from a checkpoint's record, through the files it kept, written to a new
    temporary folder once all are checked (the loader reads files, so `extends:` and `use:`
    resolve as they did) and read confined to them: an `extends:` or `use:` of any other file,
    absolute or through `..`, is an error, not a read."""
    check_record(record, where)
    with tempfile.TemporaryDirectory(prefix="archspec-ckpt-") as tmp:
        written = set()
        for rel, text in record["files"].items():
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "x", encoding="utf-8", errors="surrogatepass") as f:
                f.write(text)
            written.add(os.path.realpath(path))
        token = CONFINED.set(frozenset(written))
        try:
            spec = load(os.path.join(tmp, record["main"]), record["sets"])
            return spec, analyze(spec)
        finally:
            CONFINED.reset(token)


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict, where: Loc = CHECKPOINT, field: str = "rng") -> None:
    """Each state tried on a scratch generator first: a malformed one is an error, and the
    process's generators are set only when all are good."""
    try:
        torch.Generator().set_state(state["torch"])
        random.Random().setstate(state["python"])
        cuda = state["cuda"] if torch.cuda.is_available() else []
        if cuda and (len(cuda) != torch.cuda.device_count() or any(
                s.shape != g.shape for s, g in zip(cuda, torch.cuda.get_rng_state_all()))):
            raise ValueError(f"{len(cuda)} CUDA generator states, not this machine's")
    except (RuntimeError, ValueError, TypeError, OverflowError, KeyError, IndexError) as e:
        raise _bad(where, field, f"not a generator state ({type(e).__name__}: {one_line(e, 120)})") from None
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if cuda:
        torch.cuda.set_rng_state_all(cuda)


def save(folder: str, state: dict) -> str:
    """Write FOLDER/last.pt whole or not at all; one that archspec could not read back is an error."""
    import io
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    if buf.tell() > limits.MAX_CHECKPOINT_BYTES:
        raise _bad(Loc("--checkpoint"), "model", f"the checkpoint would be {buf.tell():,} bytes, more than "
                   f"archspec's limit of {limits.MAX_CHECKPOINT_BYTES:,} (limits.MAX_CHECKPOINT_BYTES)")
    return str(write_atomic(os.path.join(folder, LAST), buf.getvalue()))


def read(path: str, what: str) -> State:
    """A checkpoint file (a folder means its last.pt), every field checked, or one clear error."""
    if os.path.isdir(path):
        path = os.path.join(path, LAST)
    where = Loc(f"{what} {one_line(path, 120)}")
    if not os.path.isfile(path):
        raise SpecErrors([Diagnostic(where, "no checkpoint there", hint="archspec train --checkpoint DIR writes "
                                     f"DIR/{LAST}")])
    try:
        state = ckptfile.load(path)
    except ckptfile.Unreadable as e:
        raise SpecErrors([Diagnostic(where, f"not an archspec checkpoint: {one_line(e, 300)}")]) from None
    except OSError as e:
        raise SpecErrors([Diagnostic(where, f"cannot read it: {e.strerror or type(e).__name__}")]) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else None
        raise SpecErrors([Diagnostic(where, "not an archspec checkpoint (format "
                                     f"{found if type(found) is int else '?'})")])
    checked = State(state)
    checked.where = where
    check_fields(checked, where)
    return checked


def check_fields(state: dict, where: Loc) -> None:
    """Every field's kind and bounds (the model's shapes are checked against a spec by
    check_model, the optimizer's and scaler's against the run that takes them by restore)."""
    missing = next((f for f in FIELDS if f not in state), None)
    if missing:
        raise _bad(where, missing, "missing")
    check_record(state["spec"], where)
    _scalars(state["options"], where, "options")
    history, epoch = state["history"], state["epoch"]
    if not isinstance(history, list) or type(epoch) is not int or epoch != len(history):
        raise _bad(where, "epoch", f"{_kind(epoch)}, with {_kind(history)} epochs of history")
    _history(history, where)
    classes = state["classes"]
    if not isinstance(classes, list) or not classes or not all(type(c) is str and len(c) <= MAX_TEXT for c in classes):
        raise _bad(where, "classes", f"{_kind(classes)}, not a list of class names")
    _tensors(state["model"], where, "model")
    if state.get("ema") is not None:       # the averaged weights (a recipe's ema)
        _tensors(state["ema"], where, "ema")
    _optimizer_kinds(state["optimizer"], where)
    _scalars(state["scaler"], where, "scaler")
    rng = state["rng"]
    if not isinstance(rng, list) or not 1 <= len(rng) <= 4096:
        raise _bad(where, "rng", f"{_kind(rng)}, not one generator state per process")
    for i, r in enumerate(rng):
        if not (isinstance(r, dict) and r.keys() == {"torch", "python", "cuda"} and isinstance(r["cuda"], list)
                and len(r["cuda"]) <= 64):
            raise _bad(where, f"rng[{i}]", "not a generator state (torch, python, cuda)")
        for j, t in enumerate([r["torch"], *r["cuda"]]):
            _plain(t, where, f"rng[{i}]")
            if t.dtype != torch.uint8 or t.dim() != 1 or t.numel() > 2**16:
                raise _bad(where, f"rng[{i}]", f"state {j}: {t.dtype} {list(t.shape)}, not a generator's bytes")


def _kind(value) -> str:
    """A value in a message, never at length: short scalars as they are, else the type (and size)."""
    if value is None or type(value) in (bool, float) or (type(value) is int and abs(value) < 10**30):
        return repr(value)
    if type(value) is str:
        return one_line(repr(value), 60)
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}" + (
        f" of {len(value):,}" if isinstance(value, (list, dict, tuple)) else "")


def _scalars(table, where: Loc, field: str) -> None:
    """A table of plain values (options, the loss scaler's state): text, numbers, booleans, None."""
    if not isinstance(table, dict) or len(table) > 64:
        raise _bad(where, field, f"{_kind(table)}, not a table of at most 64 values")
    for k, v in table.items():
        ok = v is None or type(v) in (bool, int, float) or (type(v) is str and len(v) <= MAX_TEXT)
        if type(k) is not str or not ok or (type(v) is int and abs(v) > limits.MAX_INT):
            raise _bad(where, f"{field}[{_kind(k)}]", f"{_kind(v)}, not a plain value")


def _history(history: list, where: Loc) -> None:
    names = {f.name for f in fields(Epoch)}
    for i, e in enumerate(history):
        if not isinstance(e, dict) or e.keys() != names or not all(
                type(v) in (int, float) or (v is None and k == "test_top5_error") for k, v in e.items()):
            raise _bad(where, f"history[{i}]", f"{_kind(e)}, not an epoch's figures ({', '.join(sorted(names))})")


def _plain(t, where: Loc, field: str) -> None:
    """A dense CPU tensor that is the whole of its own storage, contiguous (no zero strides)."""
    if not isinstance(t, torch.Tensor):
        raise _bad(where, field, f"{_kind(t)}, not a tensor")
    if (t.layout != torch.strided or t.device.type != "cpu" or not t.is_contiguous() or t.storage_offset() != 0
            or t.untyped_storage().nbytes() != t.numel() * t.element_size()):
        raise _bad(where, field, f"a tensor of shape {list(t.shape)} that is not the whole of its own storage")


def _tensors(table, where: Loc, field: str) -> None:
    if not isinstance(table, dict) or len(table) > limits.MAX_CHECKPOINT_RECORDS:
        raise _bad(where, field, f"{_kind(table)}, not a state_dict")
    for k, t in table.items():
        if type(k) is not str:
            raise _bad(where, field, f"a key {_kind(k)}, not a name")
        _plain(t, where, f"{field}[{_kind(k)}]")


def _optimizer_kinds(saved, where: Loc) -> None:
    """torch's optimizer state_dict: {state: {index: {name: tensor or number}}, param_groups: [{...}]}."""
    if not (isinstance(saved, dict) and saved.keys() == {"state", "param_groups"}
            and isinstance(saved["state"], dict) and isinstance(saved["param_groups"], list)):
        raise _bad(where, "optimizer", f"{_kind(saved)}, not an optimizer's state (state, param_groups)")
    groups = saved["param_groups"]      # pickle's memo lets one stored group stand for any number of them
    if len(groups) > MAX_GROUPS:
        raise _bad(where, "optimizer.param_groups", f"{len(groups):,} groups; at most {MAX_GROUPS}")
    listed = sum(len(g["params"]) for g in groups if isinstance(g, dict) and isinstance(g.get("params"), list))
    if listed > limits.MAX_CHECKPOINT_RECORDS:
        raise _bad(where, "optimizer.param_groups", f"its groups list {listed:,} parameters; at most "
                   f"{limits.MAX_CHECKPOINT_RECORDS:,} (limits.MAX_CHECKPOINT_RECORDS)")
    for i, group in enumerate(groups):
        params = group.get("params") if isinstance(group, dict) else None
        if not (isinstance(params, list) and all(type(p) is int for p in params)):
            raise _bad(where, f"optimizer.param_groups[{i}]", "not a parameter group (params: a list of indices)")
        _scalars({k: v for k, v in group.items() if k != "params"}, where, f"optimizer.param_groups[{i}]")
    for index, entry in saved["state"].items():
        field = f"optimizer.state[{_kind(index)}]"
        if not isinstance(entry, dict) or len(entry) > 16:
            raise _bad(where, field, f"{_kind(entry)}, not a parameter's state")
        _tensors({k: v for k, v in entry.items() if isinstance(v, torch.Tensor)}, where, field)
        _scalars({k: v for k, v in entry.items() if not isinstance(v, torch.Tensor)}, where, field)


def check_model(saved: dict, expected: dict, where: Loc) -> None:
    """The checkpoint's weights are the spec's state_dict: the same names, and each tensor the
    spec's shape and dtype (`expected`: a compiled model's state_dict, on the meta device where
    nothing is allocated yet)."""
    missing = [k for k in expected if k not in saved]
    extra = [k for k in saved if k not in expected]
    if missing or extra:
        raise _bad(where, "model", f"has no {missing[0]!r}" if missing else f"has {_kind(extra[0])}, which the spec "
                   "does not", hint=f"{len(missing)} missing, {len(extra)} unexpected: weights of another network")
    for k, want in expected.items():
        got = saved[k]
        _plain(got, where, f"model[{k!r}]")
        if got.shape != want.shape or got.dtype != want.dtype:
            raise _bad(where, f"model[{k!r}]", f"{got.dtype} {list(got.shape)}, but the spec's is {want.dtype} "
                       f"{list(want.shape)}")


def restore(state: State, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler, rank: int) -> None:
    """A checkpoint's state into this run, every part checked against it first: the model's
    weights, the optimizer's groups and per-parameter state (each tensor its parameter's shape,
    or a single number), the loss scaler's figures; then this process's RNG states (process r
    takes r modulo the saved ones: a job of another size)."""
    where = state.where
    check_model(state["model"], model.state_dict(), where)
    _check_optimizer(state["optimizer"], optimizer, where)
    ours = scaler.state_dict()
    saved = state["scaler"]
    figures = {k: v for k, v in saved.items() if k != "_growth_tracker"}
    if ours and (saved.keys() != ours.keys() or type(saved["_growth_tracker"]) is not int or not all(
            type(v) in (int, float) and math.isfinite(v) and v > 0 for v in figures.values())):
        raise _bad(where, "scaler", f"{_kind(saved)}, not a loss scaler's state ({', '.join(ours)})",
                   hint="a checkpoint made with --amp on a GPU")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scaler.load_state_dict(saved)
    i = rank % len(state["rng"])
    set_rng_state(state["rng"][i], where, f"rng[{i}]")


def _sort(value) -> str:
    """The kind of a setting: an int and a float are both a number (weight_decay 0 or 0.0)."""
    return "number" if type(value) in (int, float) else type(value).__name__


def _check_optimizer(saved: dict, optimizer: torch.optim.Optimizer, where: Loc) -> None:
    ours = optimizer.state_dict()["param_groups"]
    if len(saved["param_groups"]) != len(ours):
        raise _bad(where, "optimizer.param_groups", f"{len(saved['param_groups'])} groups; this optimizer has "
                   f"{len(ours)}")
    params: dict[int, torch.Tensor] = {}
    for i, (group, own, real) in enumerate(zip(saved["param_groups"], ours, optimizer.param_groups)):
        field = f"optimizer.param_groups[{i}]"
        if group["params"] != own["params"]:
            raise _bad(where, field, f"{len(group['params'])} parameters; this optimizer has {len(own['params'])}")
        odd = next((k for k, v in group.items() if k not in own or _sort(v) != _sort(own[k])), None)
        if odd is not None:
            raise _bad(where, f"{field}[{_kind(odd)}]", f"{_kind(group[odd])}, not this optimizer's setting")
        params.update(zip(own["params"], real["params"]))
    for index, entry in saved["state"].items():
        param = params.get(index)
        if param is None:
            raise _bad(where, f"optimizer.state[{_kind(index)}]", "state for a parameter the optimizer does not have")
        for name, t in entry.items():      # a buffer per parameter, each its parameter's shape; a step count
            field = f"optimizer.state[{index}][{_kind(name)}]"
            if name == "step":
                if not (type(t) in (int, float) or (isinstance(t, torch.Tensor) and t.dim() == 0)):
                    raise _bad(where, field, f"{_kind(t)}, not a step count")
            elif not isinstance(t, torch.Tensor):
                raise _bad(where, field, f"{_kind(t)}, not a tensor of the parameter's shape")
            elif t.dtype != param.dtype or t.shape != param.shape:
                raise _bad(where, field, f"{t.dtype} {list(t.shape)}, but the parameter is {param.dtype} "
                           f"{list(param.shape)}")
