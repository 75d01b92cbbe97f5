"""compiler: a spec as a torch.nn.Module, through the source that emit writes.

The module of archspec that imports torch (with archspec.pytorch.train, which trains its modules).
`compile()` runs the very source `archspec build` writes, so the in-process model and the built file
are the same code. (This module is not called `compile.py`: importing a
submodule `archspec.compile` would replace the `archspec.compile` function on
the package.)
"""
from __future__ import annotations

import builtins
import hashlib
import linecache
import math
import os
import re
import sys
import types
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..frontend.spec import Spec
from ..ir import Graph
from .emit import emit

_LOADED: dict[str, types.ModuleType] = {}


def _resolve(spec_or_path, params: dict) -> Graph:
    """The Graph of a path, a loaded Spec or an expanded Graph (the back ends' one input);
    keyword params override a path's parameters."""
    from ..analysis import analyze, load
    if isinstance(spec_or_path, Graph):
        if params:
            raise TypeError("parameters apply to a spec path, not to an expanded Graph")
        return spec_or_path
    if isinstance(spec_or_path, Spec):
        if params:
            raise TypeError("parameters apply to a spec path; pass them to archspec.load()")
        return analyze(spec_or_path)
    return analyze(load(os.fspath(spec_or_path), **params))


def source(spec_or_path, probe: bool = False, **params) -> str:
    """The generated PyTorch source of a spec (what `archspec build` writes)."""
    return emit(_resolve(spec_or_path, params), probe)


def load_source(text: str, name: str = "model") -> types.ModuleType:
    """Run generated source as a module, once per distinct text. The module is registered in
    sys.modules and its text in linecache, so inspect, TorchScript and pickle find it."""
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    if digest in _LOADED:
        return _LOADED[digest]
    modname = f"archspec_generated_{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{digest}"
    filename = f"<archspec-generated {modname}>"
    mod = types.ModuleType(modname)
    mod.__file__ = filename
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    sys.modules[modname] = mod
    exec(builtins.compile(text, filename, "exec"), mod.__dict__)
    _LOADED[digest] = mod
    return mod


def compile(spec_or_path, device=None, dtype=None, fuse: bool = False, **params) -> nn.Module:
    """Build the PyTorch module of a spec (a path, a Spec, or an expanded Graph: all three give
    the same module, `init:` rules included).

    forward(x) returns the output tensor; a spec with several outputs returns a dict
    {name: tensor}, training-only outputs (GoogLeNet's aux heads) only in train() mode,
    and in eval() mode a plain tensor where a single output is left. `device="meta"`
    builds without allocating memory (fast; for shapes and counting); `dtype` converts
    floating parameters and buffers after construction. `fuse=True` returns the module in
    eval mode with every batch norm folded into the conv before it (`Model.fuse()`), for
    inference; its outputs equal the unfused eval outputs to float rounding."""
    graph = _resolve(spec_or_path, params)
    cls = load_source(emit(graph), graph.name).Model
    if device is None:
        model = cls()
    else:
        with torch.device(device):
            model = cls()
    if fuse:
        model = fuse_model(model)
    return model.to(dtype=dtype) if dtype is not None else model


def fuse_model(model: nn.Module) -> nn.Module:
    """The model in eval mode, its batch norms folded where the graph has conv -> batch norm
    (a spec without such pairs has no `fuse` method and is returned as it is)."""
    model.eval()
    fuse = getattr(model, "fuse", None)        # the generated top class's method
    return fuse() if callable(fuse) else model


@dataclass
class FuseCheck:
    """A fused module against the unfused one (`archspec build --fuse`)."""
    pairs: int                      # conv -> batch norm pairs folded
    difference: float               # max |fused - unfused| / max |unfused|, eval mode

    TOLERANCE = 1e-4

    @property
    def ok(self) -> bool:
        return self.difference <= self.TOLERANCE

    def __str__(self) -> str:
        verdict = "equal" if self.ok else "MISMATCH: not equal"
        return (f"{self.pairs} conv + batch norm pairs folded; outputs {verdict} to the unfused module's "
                f"within {self.TOLERANCE:g} (max difference {self.difference:.2e} of the largest output)")


def check_fused(model: nn.Module, input_shape: tuple, batch: int = 1) -> FuseCheck:
    """Fuse `model` (freshly initialised: its batch norms get random running statistics first,
    so that the fold is tested on values that are not the identity) and compare its eval
    outputs with the unfused module's on a random batch."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d) and m.running_mean is not None and m.running_var is not None:
                m.running_mean.normal_(0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5, generator=gen)
                    m.bias.normal_(0, 0.1, generator=gen)
    x = torch.randn(batch, *input_shape, generator=gen)
    with torch.inference_mode():
        want = _tensors(model.eval()(x))
        pairs = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
        got = _tensors(fuse_model(model)(x))
        pairs -= sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    scale = max(float(w.abs().max()) for w in want) or 1.0
    return FuseCheck(pairs, max(float((g - w).abs().max()) for g, w in zip(got, want)) / scale)


def _tensors(out) -> list[torch.Tensor]:
    return list(out.values()) if isinstance(out, dict) else [out]


# -- the build check --------------------------------------------------------------------

@dataclass
class Check:
    """Measured against analytic figures (`archspec build --check`)."""
    params: tuple[int, int]                 # (module, analytic)
    buffers: tuple[int, int]
    macs: tuple[int, int]                   # (FlopCounterMode / 2, analytic)
    shapes_checked: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [f"params  {self.params[0]:>16,} module   {self.params[1]:>16,} analytic",
                 f"buffers {self.buffers[0]:>16,} module   {self.buffers[1]:>16,} analytic",
                 f"MACs    {self.macs[0]:>16,} measured {self.macs[1]:>16,} analytic "
                 "(FlopCounterMode / 2)",
                 f"shapes  {self.shapes_checked} nodes, real output shape == inferred"
                 if self.ok else f"shapes  {self.shapes_checked} nodes checked"]
        return "\n".join(lines + [f"MISMATCH: {p}" for p in self.problems])


def check(spec_or_path, batch: int = 2, **params) -> Check:
    """Build the module on the meta device (no memory, no compute) in training mode, so that
    training-only heads run too, and compare it with the graph: state_dict keys and shapes,
    parameter and buffer counts, FlopCounterMode MACs, and every node's output shape.
    Functional nodes report their shapes through `_probe` (emit's probe mode), module nodes
    through forward hooks."""
    graph = _resolve(spec_or_path, params)
    mod = load_source(emit(graph, probe=True), graph.name + "_probe")
    with torch.device("meta"):
        model = mod.Model()
    model.train()
    seen = _record_shapes(model, mod, graph)
    x = torch.empty(batch, *graph.input_shape, device="meta")
    try:
        with FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        mod._probe = None     # type: ignore[attr-defined]  # the generated module's hook
        for h in seen.pop("__hooks__"):
            h.remove()
    return _compare(model, graph, seen, counter.get_total_flops() // 2 // batch, batch)


def _record_shapes(model: nn.Module, mod: types.ModuleType, graph: Graph) -> dict:
    seen: dict = {}
    seen["__hooks__"] = _watch(model, mod, graph, lambda name, value: seen.__setitem__(name, tuple(value.shape)))
    return seen


def _watch(model: nn.Module, mod: types.ModuleType, graph: Graph, record) -> list:
    """Call record(node name, output) for every node a forward pass computes: functional nodes
    through the probe module's `_probe`, module nodes through forward hooks (returned, to remove)."""
    path_of = {id(m): name for name, m in model.named_modules()}

    def probe(owner, local, value):
        prefix = path_of[id(owner)]
        record(f"{prefix}.{local}" if prefix else local, value)
        return value
    mod._probe = probe        # type: ignore[attr-defined]

    fired: set[str] = set()

    def hook(name):      # a module's first call: a shared one's later calls are probed by their own names
        def first_call(m, args, out) -> None:
            if name not in fired:
                fired.add(name)
                record(name, out)
        return first_call
    node_of = _module_nodes(graph, [name for name, _ in model.named_modules()])
    return [m.register_forward_hook(hook(node_of[name])) for name, m in model.named_modules() if name in node_of]


def _module_nodes(graph: Graph, modules: list[str]) -> dict[str, str]:
    """The node each module computes: the one of its name, or else the one node of the block it
    is (a block exports distinct nodes of its own: one node's block gives that node's value), as
    where the block only wraps a module and is that module (`emit`'s `ClassPlanner.wrapped`)."""
    inside: dict[str, list[str]] = {}
    for name in graph.nodes:
        for k in range(name.count(".")):
            inside.setdefault(name.rsplit(".", k + 1)[0], []).append(name)
    return {m: m if m in graph.nodes else inside[m][0] for m in modules
            if m in graph.nodes or len(inside.get(m, ())) == 1}


@torch.no_grad()
def activations(graph: Graph, state_dict: dict, x: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    """The outputs of the named nodes (any node: a module's or a functional one's) for input x,
    with these weights, in eval mode; and the network's output under the key ''."""
    mod = load_source(emit(graph, probe=True), graph.name + "_probe")
    model = mod.Model()
    model.load_state_dict(state_dict)
    model.eval()
    wanted, got = set(names), dict[str, torch.Tensor]()
    hooks = _watch(model, mod, graph, lambda name, value: got.__setitem__(name, value) if name in wanted else None)
    try:
        got[""] = model(x)
    finally:
        mod._probe = None     # type: ignore[attr-defined]
        for h in hooks:
            h.remove()
    return got


def _compare(model: nn.Module, graph: Graph, seen: dict, macs: int, batch: int) -> Check:
    problems = []
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    want = list(graph.state_dict_shapes().items())
    if ours != want:
        diff = next((f"{a} != {b}" for a, b in zip(ours, want) if a != b), f"{len(ours)} vs {len(want)} entries")
        problems.append(f"state_dict differs from the graph's: first difference {diff}")
    n_params = sum(p.numel() for p in model.parameters())
    n_buffers = sum(math.prod(s) for k, s in ours) - n_params
    for what, got, exp in (("params", n_params, graph.params), ("buffers", n_buffers, graph.buffers),
                           ("MACs", macs, graph.macs)):
        if got != exp:
            problems.append(f"{what}: {got:,} measured, {exp:,} analytic")
    for n in graph.nodes.values():
        got = seen.get(n.name)
        if got != (batch, *(n.shape or ())):
            problems.append(f"{n.name}: output shape {got[1:] if got else 'never seen'}, inferred {n.shape}")
    return Check((n_params, graph.params), (n_buffers, graph.buffers), (macs, graph.macs),
                 len(graph.nodes), problems)


# -- exports -------------------------------------------------------------------------------

EXPORTS = {"torchscript": ".torchscript.pt", "onnx": ".onnx", "exported-program": ".pt2"}


def saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for backward in one training-mode forward of `model` on
    `x`, parameters and buffers aside, each storage counted once (as PyTorch holds it): what
    archspec.reports.memory predicts. Works on the meta device (storages told apart by identity)."""
    held = {t.untyped_storage()._cdata for t in [*model.parameters(), *model.buffers()]}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage._cdata not in held:
            seen[storage._cdata] = storage.nbytes()
        return t
    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(seen.values())


def export(model: nn.Module, input_shape: tuple, fmt: str, path: str) -> str:
    """Write `model` (put in eval mode) as a TorchScript, ONNX or torch.export artefact,
    atomically; return how it was made. ONNX and torch.export artefacts have a dynamic batch
    axis."""
    if fmt not in EXPORTS:
        raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(EXPORTS)}")
    model.eval()
    x = torch.randn(1, *input_shape)
    batch = ({0: torch.export.Dim("batch")},)     # ONNX and torch.export take any batch size
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, f".{base}.{os.getpid()}.tmp{EXPORTS[fmt]}")   # the suffix tells the format
    how = fmt
    try:
        if fmt == "torchscript":
            how = _torchscript(model, x, tmp)
        elif fmt == "onnx":        # an example batch of 2: torch.export specialises a size of 1
            torch.onnx.export(model, (x.expand(2, *input_shape),), tmp, dynamo=True, external_data=False,
                              verbose=False, dynamic_shapes=batch)
        else:
            torch.export.save(torch.export.export(model, (x.expand(2, *input_shape),), dynamic_shapes=batch), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return how


def _torchscript(model: nn.Module, x: torch.Tensor, path: str) -> str:
    """Scripted, except a model whose forward returns a dict in training and a tensor in eval
    (training-only outputs): TorchScript needs one return type, so that one is traced in eval
    mode. (torch 2.14 deprecates TorchScript; it still works, so its warnings are muted.)"""
    how = "torchscript"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            artefact = torch.jit.script(model)
        except Exception as e:      # noqa: BLE001 - any scripting failure falls back to tracing
            artefact = torch.jit.trace(model, x)
            why = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
            how = f"torchscript, traced in eval mode (scripting failed: {why})"
        torch.jit.save(artefact, path)
    return how
