"""The one table from PyTorch to archspec ops: which module, function or method is which op,
and its attributes read from the module or the call. Imports torch.

A module entry maps an instance to (op, attrs); a call entry maps an fx call (its tensor
inputs, the other arguments and the shapes torch computed) to a list of (op, attrs): one call
may be several ops (x.mean((2, 3)) is global_avgpool then flatten). Whatever an entry cannot
express exactly raises `Unsupported`, with what differs."""
from __future__ import annotations

import importlib
import math
import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...ops import REGISTRY


class Unsupported(Exception):
    """This module or call has no exact archspec op (the message says what differs)."""


def pair(v) -> Any:
    """A kernel, stride or padding as a spec writes it: one int when square, else (h, w)."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise Unsupported(f"a {len(v)}-d window {tuple(v)} (archspec's are 2-d)")
        return int(v[0]) if v[0] == v[1] else (int(v[0]), int(v[1]))
    return int(v)


def _conv(m: nn.Conv2d) -> dict:
    if m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode={m.padding_mode!r} (archspec's conv pads with zeros)")
    padding: Any = m.padding
    if padding == "valid":
        padding = 0
    elif padding == "same":        # torch pads (k - 1) * d in all, the odd one after: numbers where it splits evenly
        total = [d * (k - 1) for k, d in zip(m.kernel_size, m.dilation)]
        if any(t % 2 for t in total):
            raise Unsupported(f"padding='same' with an even window {tuple(m.kernel_size)} (one more after than "
                              "before; archspec's conv pads evenly)")
        padding = tuple(t // 2 for t in total)
    return {"out": m.out_channels, "k": pair(m.kernel_size), "stride": pair(m.stride), "pad": pair(padding),
            "dilation": pair(m.dilation), "groups": m.groups, "bias": m.bias is not None}


def _conv1d(m: nn.Conv1d) -> dict:
    padding: Any = (0,) if m.padding == "valid" else m.padding
    if m.padding_mode != "zeros" or isinstance(padding, str):
        raise Unsupported(f"padding={padding!r}, padding_mode={m.padding_mode!r} (archspec's conv1d pads by a number, "
                          "with zeros)")
    return {"out": m.out_channels, "k": m.kernel_size[0], "stride": m.stride[0], "pad": padding[0],
            "dilation": m.dilation[0], "groups": m.groups, "bias": m.bias is not None}


def _batchnorm(m: nn.modules.batchnorm._BatchNorm) -> dict:
    if not m.track_running_stats:
        raise Unsupported("track_running_stats=False (archspec's batchnorm keeps running statistics)")
    return {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}


def _pool(m) -> dict:
    if getattr(m, "dilation", 1) not in (1, (1, 1)):
        raise Unsupported(f"dilation={m.dilation}")
    if getattr(m, "return_indices", False) or getattr(m, "divisor_override", None):
        raise Unsupported("return_indices or divisor_override")
    attrs = {"k": pair(m.kernel_size), "stride": pair(m.stride if m.stride is not None else m.kernel_size),
             "pad": pair(m.padding), "ceil_mode": m.ceil_mode}
    if isinstance(m, nn.AvgPool2d):
        attrs["count_include_pad"] = m.count_include_pad
    return attrs


def _adaptive(size, op: str = "avg") -> tuple[str, dict]:
    size = pair(size)
    if size == 1 and op == "avg":
        return "global_avgpool", {}
    if isinstance(size, int) or None not in size:
        return f"adaptive_{op}pool", {"size": size}
    raise Unsupported(f"output size {size} with None")


def _adaptive_max(m: nn.AdaptiveMaxPool2d) -> tuple[str, dict]:
    if m.return_indices:
        raise Unsupported("return_indices")
    return _adaptive(m.output_size, "max")


def _layernorm(m: nn.LayerNorm) -> dict:
    if len(m.normalized_shape) != 1:
        raise Unsupported(f"normalized_shape={tuple(m.normalized_shape)} (archspec normalises one axis)")
    if m.elementwise_affine and m.bias is None:
        raise Unsupported("a LayerNorm without bias")
    return {"eps": m.eps, "affine": m.elementwise_affine}


def _flatten(m: nn.Flatten) -> dict:
    if m.start_dim != 1 or m.end_dim != -1:
        raise Unsupported(f"Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}) (archspec flattens from dim 1)")
    return {}


def _plain(op: str) -> Callable[[nn.Module], tuple[str, dict]]:
    return lambda m: (op, {})


# -- upsampling: nn.Upsample and F.interpolate as the `upsample` op (an integer factor per axis) --------

def _upsample_attrs(scale: tuple, mode, align_corners, size: tuple | None = None) -> dict:
    """By whole factors a `scale`; by others (a call's `size`: 3x3 to 7x7) the `size`."""
    if mode not in ("nearest", "bilinear"):
        raise Unsupported(f"mode {mode!r} (archspec's upsample is nearest or bilinear)")
    whole = all(s >= 1 and s == int(s) for s in scale)
    if not whole and size is None:
        raise Unsupported(f"a factor {scale} (archspec's upsample enlarges by whole factors or to a size)")
    attrs: dict = {"scale": pair(tuple(int(s) for s in scale))} if whole else {"size": tuple(size or ())}
    if mode == "bilinear":
        attrs.update(mode="bilinear", align_corners=bool(align_corners))
    return attrs


def _upsample(m: nn.Upsample) -> tuple[str, dict]:
    """nn.Upsample by a scale_factor (by a size: the factor is the shapes', known in a call only)."""
    s = m.scale_factor
    if s is None:
        raise Unsupported("a size instead of a scale_factor")
    scale = tuple(s) if isinstance(s, (tuple, list)) else (s, s)
    return "upsample", _upsample_attrs(scale, m.mode, m.align_corners)


def _interpolate(c: Call) -> list:
    """F.interpolate(x, size | scale_factor, mode, align_corners): the factor the shapes show."""
    if len(c.shapes[0]) != 4 or c.out is None or c.arg(5, "antialias"):
        raise Unsupported(f"a {len(c.shapes[0]) - 2}-d or antialiased interpolation")
    (h, w), (oh, ow) = c.shapes[0][2:], c.out[2:]
    return [("upsample", _upsample_attrs((oh / h, ow / w), c.arg(2, "mode", "nearest"), c.arg(3, "align_corners"),
                                         (oh, ow) if c.arg(0, "size") is not None else None))]


MODULES: dict[type, Callable[[Any], tuple[str, dict]]] = {
    nn.Conv2d: lambda m: ("conv", _conv(m)),
    nn.Conv1d: lambda m: ("conv1d", _conv1d(m)),
    nn.BatchNorm2d: lambda m: ("batchnorm", _batchnorm(m)),
    nn.BatchNorm1d: lambda m: ("batchnorm", _batchnorm(m)),
    nn.Linear: lambda m: ("linear", {"out": m.out_features, "bias": m.bias is not None}),
    nn.MaxPool2d: lambda m: ("maxpool", _pool(m)),
    nn.AvgPool2d: lambda m: ("avgpool", _pool(m)),
    nn.AdaptiveAvgPool2d: lambda m: _adaptive(m.output_size),
    nn.AdaptiveMaxPool2d: lambda m: _adaptive_max(m),
    nn.LocalResponseNorm: lambda m: ("lrn", {"size": m.size, "alpha": m.alpha / m.size, "beta": m.beta,
                                             "k": float(m.k)}),
    nn.LayerNorm: lambda m: ("layernorm", _layernorm(m)),
    nn.Dropout: lambda m: ("dropout", {"p": float(m.p)}),
    nn.Flatten: lambda m: ("flatten", _flatten(m)),
    nn.ReLU: _plain("relu"),
    nn.ReLU6: _plain("relu6"),
    nn.SiLU: _plain("silu"),
    nn.Hardswish: _plain("hardswish"),
    nn.Hardsigmoid: _plain("hardsigmoid"),
    nn.Sigmoid: _plain("sigmoid"),
    nn.Tanh: _plain("tanh"),
    nn.Identity: _plain("identity"),
    nn.LeakyReLU: lambda m: ("leaky_relu", {"negative_slope": float(m.negative_slope)}),
    nn.GELU: lambda m: ("gelu", {"approximate": m.approximate}),
    nn.Softmax: lambda m: _softmax(m.dim),
    nn.Upsample: _upsample,
    nn.ELU: lambda m: ("elu", {"alpha": float(m.alpha)}),
    nn.Mish: _plain("mish"),
}


def axis_of(dim) -> int:
    """torch's dimension (the batch 0) as an archspec axis, which counts per sample (the channels 0);
    a negative one counts from the end in both."""
    if not isinstance(dim, int) or dim == 0:
        raise Unsupported(f"an op over dim {dim} (archspec's ops work per sample, never across the batch)")
    return dim - 1 if dim > 0 else dim


def _softmax(dim) -> tuple[str, dict]:
    axis = axis_of(dim)          # over any axis: SKNet's and ResNeSt's across the branches too
    return "softmax", {} if axis == 0 else {"axis": axis}


def _softmax_call(c: Call) -> list:
    return [_softmax(_dim(c, 0, "dim"))]


def _stack(c: Call) -> list:
    """torch.stack(xs, dim): a new axis (SKNet's and ResNeSt's branches)."""
    return [("stack", {"axis": axis_of(c.arg(0, "dim", 0))})]


try:      # torchvision's drop path and permute, where torchvision is installed
    from torchvision.ops import Permute, StochasticDepth
    MODULES[StochasticDepth] = lambda m: ("stochastic_depth", {"p": float(m.p), "mode": m.mode})
    MODULES[Permute] = lambda m: ("permute", {"dims": tuple(m.dims)})
except ImportError:       # pragma: no cover
    pass


def _batchnorm_act(m) -> list:
    """timm's BatchNormAct2d: batch norm, then its drop and activation modules (each an op, or none)."""
    return [("batchnorm", _batchnorm(m))] + _act_tail(m)


def _drop_path(m) -> list:
    """timm's DropPath: torchvision's StochasticDepth in row mode, the same Bernoulli draw, scaled by 1 / keep."""
    if not m.scale_by_keep:
        raise Unsupported("scale_by_keep=False (archspec's stochastic_depth scales the kept rows by 1 / (1 - p))")
    return [("stochastic_depth", {"p": float(m.drop_prob), "mode": "row"})]


# modules of libraries that are imported only where the model comes from them: (module, class) -> entry
LIBRARY_MODULES: dict[tuple[str, str], Callable[[Any], list]] = {
    ("timm.layers.drop", "DropPath"): _drop_path,
    ("timm.layers.norm_act", "BatchNormAct2d"): _batchnorm_act,
    ("torchvision.models.convnext", "LayerNorm2d"): lambda m: [("layernorm", _layernorm(m))],   # over channels
    ("timm.layers.norm", "LayerNorm2d"): lambda m: [("layernorm", _layernorm(m))],
    ("timm.layers.norm", "LayerNorm"): lambda m: [("layernorm", _layernorm(m))],
    ("timm.layers.linear", "Linear"): lambda m: [("linear", {"out": m.out_features, "bias": m.bias is not None})],
}


# -- the norms of timm's CNNs (ops/norms.py): group norm, weight-standardised convs, EvoNorm, FRN, RMS norm,
# ConvNeXt-V2's GRN, HGNetV2's learnable affine; and the norm-act modules, a norm then its activation ------

# timm's activation modules that a norm-act module holds (elsewhere the import traces into them: F.gelu)
TIMM_ACTS: dict[tuple[str, str], list] = {("timm.layers.activations", "GELU"): [("gelu", {})],
             ("timm.layers.activations", "GELUTanh"): [("gelu", {"approximate": "tanh"})]}


def _act_tail(m) -> list:
    """A timm norm-act module's drop and activation modules, after its norm: each an op, or none."""
    ops: list = []
    for part in (getattr(m, "drop", None), getattr(m, "act", None)):
        if part is not None and type(part) is not nn.Identity:
            part_ops = module_ops(part) or TIMM_ACTS.get((type(part).__module__, type(part).__qualname__))
            if part_ops is None:
                raise Unsupported(f"a {type(part).__name__} inside it")
            ops += part_ops
    return ops


def _gamma(m) -> float:
    """ScaledStdConv2d's gamma, from the scale gamma / sqrt(fan-in) it keeps: the shortest decimal that gives
    that scale back (as timm computes it), so the spec reads 1.7139588594436646, not a product's rounding."""
    root = m.weight[0].numel() ** -0.5
    gamma = m.scale / root
    return next((g for g in (round(gamma, n) for n in range(4, 18)) if g * root == m.scale), gamma)


def _std_conv(m) -> list:
    attrs = {**_conv(m), "eps": float(m.eps)}
    if isinstance(getattr(m, "gain", None), nn.Parameter):
        attrs |= {"scaled": True, "gamma": _gamma(m)}
    return [("std_conv", attrs)]


def _group_norm(m: nn.GroupNorm) -> list:
    return [("group_norm", {"groups": m.num_groups, "eps": float(m.eps), "affine": m.affine})]


def _evo_norm(variant: str) -> Callable[[Any], list]:
    return lambda m: [("evo_norm", {"groups": m.groups, "eps": float(m.eps), "act": m.v is not None,
                                    "variant": variant})]


def _rms_norm(stat: str) -> Callable[[Any], list]:
    def entry(m) -> list:
        if len(m.normalized_shape) != 1:
            raise Unsupported(f"normalized_shape={tuple(m.normalized_shape)} (archspec normalises the channels)")
        return [("rms_norm", {"eps": float(m.eps), "affine": m.weight is not None, "stat": stat})]
    return entry


MODULES[nn.GroupNorm] = lambda m: _group_norm(m)[0]
LIBRARY_MODULES.update({
    ("timm.layers.std_conv", "StdConv2d"): _std_conv,
    ("timm.layers.std_conv", "ScaledStdConv2d"): _std_conv,
    ("timm.layers.norm", "GroupNorm"): _group_norm,
    ("timm.layers.norm", "GroupNorm1"): _group_norm,
    ("timm.layers.norm_act", "GroupNormAct"): lambda m: _group_norm(m) + _act_tail(m),
    ("timm.layers.norm_act", "GroupNorm1Act"): lambda m: _group_norm(m) + _act_tail(m),
    ("timm.layers.norm_act", "LayerNormAct2d"): lambda m: [("layernorm", _layernorm(m))] + _act_tail(m),
    ("timm.layers.norm_act", "LayerNormAct"): lambda m: [("layernorm", _layernorm(m))] + _act_tail(m),
    ("timm.layers.evo_norm", "EvoNorm2dS0"): _evo_norm("S0"),
    ("timm.layers.evo_norm", "EvoNorm2dS0a"): _evo_norm("S0a"),
    ("timm.layers.filter_response_norm", "FilterResponseNormTlu2d"):
        lambda m: [("frn", {"eps": float(m.eps), "tlu": m.tau is not None})],
    ("timm.layers.filter_response_norm", "FilterResponseNormAct2d"):
        lambda m: [("frn", {"eps": float(m.eps), "tlu": False})] + _act_tail(m),
    ("timm.layers.norm", "RmsNorm2d"): _rms_norm("rms"),
    ("timm.layers.norm", "SimpleNorm2d"): _rms_norm("std"),
    ("timm.layers.grn", "GlobalResponseNorm"): lambda m: [("grn", {"eps": float(m.eps)})],
    ("timm.models.hgnet", "LearnableAffineBlock"): lambda m: [("learnable_affine", {})],
})
# -- end of the norms ------------------------------------------------------------------------------------

def _entry(cls: type) -> Callable[[Any], list] | None:
    entry = MODULES.get(cls)
    if entry is not None:
        return lambda m: [entry(m)]
    library = LIBRARY_MODULES.get((cls.__module__, cls.__qualname__))
    if library is not None:
        return library
    names = {cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}"}
    op = next((op for op in REGISTRY.values() if names & set(op.imports)), None)   # a user's op (--ops)
    return (lambda m: [(op.name, op.attrs_of(m))]) if op is not None else None


def is_op_module(m: nn.Module) -> bool:
    return _entry(type(m)) is not None or _same_base(type(m)) is not None


def module_ops(m: nn.Module) -> list[tuple[str, dict]] | None:
    """[(op, attrs)] of a module archspec has as ops (the first holds its tensors, or is a 'same' pad
    before the one that does), None for a module to trace into."""
    base = _same_base(type(m))
    if base is not None:
        return _same_ops(m, base)
    entry = _entry(type(m))
    return entry(m) if entry else None


# -- calls: (tensor inputs' shapes, other args, kwargs, output shape) -> [(op, attrs)] -------------

class Call:
    """One fx call: its tensor inputs' shapes, its remaining arguments and its output shape."""

    def __init__(self, shapes: list[tuple], args: list, kwargs: dict, out: tuple | None, dense: bool = True):
        self.shapes, self.args, self.kwargs, self.out = shapes, args, kwargs, out
        self.dense = dense           # whether the first tensor input is laid out row-major (contiguous)

    def arg(self, index: int, name: str, default=None):
        """A non-tensor argument by position (among the non-tensor ones) or keyword."""
        if name in self.kwargs:
            return self.kwargs[name]
        return self.args[index] if index < len(self.args) else default


def _dim(c: Call, index: int = 0, name: str = "dim", default=None):
    d = c.arg(index, name, default)
    rank = len(c.shapes[0]) if c.shapes else 4
    return d + rank if isinstance(d, int) and d < 0 else d


def _merge(op: str) -> Callable[[Call], list]:
    def rule(c: Call) -> list:
        if len(c.shapes) < 2:
            consts = [a for a in c.args if isinstance(a, (int, float))]
            if op == "mul" and len(consts) == 1 and len(c.shapes) == 1:
                return [("scale", {"factor": float(consts[0])})]
            if op == "add" and consts == [0] and len(c.shapes) == 1:       # a sum that starts at 0 (MobileOne)
                return [("identity", {})]
            raise Unsupported(f"{op} with a constant {c.args} (archspec's {op} joins tensors)")
        return [(op, {})]
    return rule


def _cat(c: Call) -> list:
    if _dim(c, 0, "dim", 0) != 1:
        raise Unsupported(f"concatenation along dim {c.arg(0, 'dim', 0)} (archspec's concat joins channels, dim 1)")
    return [("concat", {})] if len(c.shapes) > 1 else [("identity", {})]


def _flat(c: Call) -> list:
    """view, reshape, flatten, unflatten, squeeze, unsqueeze: judged by the shapes torch computed
    (the batch axis kept)."""
    x, y = c.shapes[0], c.out
    if y is None or len(y) < 2 or y[0] != x[0]:
        raise Unsupported(f"a reshape from {tuple(x)} to {tuple(y) if y else y} (archspec's reshapes work per "
                          "sample: they keep the batch axis and at least one more)")
    return reshape_ops(tuple(x[1:]), tuple(y[1:]))


def reshape_ops(x: tuple, y: tuple) -> list:
    """The per-sample shape `x` made `y`, the elements in order: no op where equal, a flatten of
    neighbouring axes, an unflatten of one axis, else the reshape op."""
    if x == y:
        return [("identity", {})]
    for s in range(len(x)):
        for e in range(s + 1, len(x)):
            if y == (*x[:s], math.prod(x[s:e + 1]), *x[e + 1:]):
                return [("flatten", {**({"start": s} if s else {}), **({"end": e} if e < len(x) - 1 else {})})]
    n = len(y) - len(x) + 1              # the axes one axis becomes
    for k in range(len(x) if n >= 2 else 0):
        if y[:k] == x[:k] and y[k + n:] == x[k + 1:]:
            return [("unflatten", {**({"axis": k} if k else {}), "sizes": _rest(y[k:k + n])})]
    return [("reshape", {"shape": _rest(y)})]


def _rest(sizes: tuple) -> tuple:
    """Sizes with the one that is not 1 written -1 (the rest): an unsqueeze or a squeeze holds for
    any input size (global context's (H*W, 1)), not only the traced one."""
    big = [k for k, v in enumerate(sizes) if v != 1]
    return tuple(-1 if [k] == big else v for k, v in enumerate(sizes))


def _axes(c: Call) -> tuple[int, ...]:
    """The dims a reduction names (an int or a list), as archspec's per-sample axes, in order."""
    dims = c.arg(0, "dim")
    if dims is None:
        raise Unsupported("a reduction over every dim (archspec's reduce per sample)")
    rank = len(c.shapes[0])
    return tuple(sorted(axis_of(d % rank) for d in (dims if isinstance(dims, (tuple, list)) else [dims])))


def _reduce(op: str) -> Callable[[Call], list]:
    """x.sum(dim), x.mean(dim, keepdim), x.amax(dim): the op over those per-sample axes."""
    def rule(c: Call) -> list:
        axes, keep = _axes(c), bool(c.arg(1, "keepdim", False))
        return [(op, {"axis": axes[0] if len(axes) == 1 else axes, **({"keepdim": True} if keep else {})})]
    return rule


def _mean(c: Call) -> list:
    """A map's spatial mean is global_avgpool (then flatten, without keepdim); any other the mean op."""
    if len(c.shapes[0]) != 4 or _axes(c) != (1, 2):
        return _reduce("mean")(c)
    keep = c.arg(1, "keepdim", False)
    return [("global_avgpool", {})] if keep else [("global_avgpool", {}), ("flatten", {})]


def _transpose(c: Call) -> list:
    a, b = (axis_of(d % len(c.shapes[0])) for d in (c.arg(0, "dim0"), c.arg(1, "dim1")))
    return [("identity", {})] if a == b else [("transpose", {"axes": (min(a, b), max(a, b))})]


def _adaptive_call(c: Call) -> list:
    return [_adaptive(c.arg(0, "output_size"))]


def _adaptive_max_call(c: Call) -> list:
    if c.arg(1, "return_indices", False):
        raise Unsupported("return_indices")
    return [_adaptive(c.arg(0, "output_size"), "max")]


def _pool_call(op: str) -> Callable[[Call], list]:
    def rule(c: Call) -> list:
        k = c.arg(0, "kernel_size")
        stride = c.arg(1, "stride") or k
        attrs = {"k": pair(k), "stride": pair(stride), "pad": pair(c.arg(2, "padding", 0))}
        if op == "maxpool":
            if pair(c.arg(3, "dilation", 1)) != 1 or c.arg(5, "return_indices", False):
                raise Unsupported("max pooling with dilation or return_indices")
            attrs["ceil_mode"] = bool(c.arg(4, "ceil_mode", False))
        else:
            if c.arg(5, "divisor_override") is not None:
                raise Unsupported("divisor_override")
            attrs["ceil_mode"] = bool(c.arg(3, "ceil_mode", False))
            attrs["count_include_pad"] = bool(c.arg(4, "count_include_pad", True))
        return [(op, attrs)]
    return rule


def _dropout(c: Call) -> list:
    return [("dropout", {"p": float(c.arg(0, "p", 0.5))})]


def _unary(op: str) -> Callable[[Call], list]:
    return lambda c: [(op, {})]


def _gelu(c: Call) -> list:
    return [("gelu", {"approximate": c.arg(0, "approximate", "none")})]


def _elu(c: Call) -> list:
    return [("elu", {"alpha": float(c.arg(0, "alpha", 1.0))})]


def _permute(c: Call) -> list:
    dims = c.arg(0, "dims")
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else tuple(c.args)
    return [("permute", {"dims": tuple(d % len(c.shapes[0]) for d in dims)})]


def _same(c: Call) -> list:
    """x.float(), x.to(x.dtype) ...: no op where torch gave back the same shape (dtypes are the spec's)."""
    if c.out != c.shapes[0]:
        raise Unsupported(f"a change of shape from {c.shapes[0]} to {c.out}")
    return [("identity", {})]


def slice_ops(shape: tuple, axis: int, start: int, stop: int, step: int, pieces: list) -> list:
    """x[..., start:stop:step, ...] on one axis of `shape` (torch's, the batch axis 0); `pieces` the
    sizes of the split it is a piece of. Equal pieces of the channels are `chunk`s; any other cut the
    `slice` op."""
    size = shape[axis]
    if (start, stop, step) == (0, size, 1):
        return [("identity", {})]
    if axis == 1 and step == 1:
        for p in sorted({stop - start, *pieces}, reverse=True):
            k = -(-size // p) if p > 0 else 0
            if k and start % p == 0 and stop == min(size, start + p) and -(-size // k) == p:
                return [("chunk", {"chunks": k, "index": start // p})]
    return [("slice", {"axis": axis_of(axis), "start": start, "stop": stop, "step": step})]


def _divide(c: Call) -> list:
    """x / c: a scale by 1 / c (RepViT's mean of two heads); x / y: div (BAT's p / p.sum(3, keepdim=True))."""
    if len(c.shapes) == 2 and not c.args:
        return [("div", {})]
    consts = [a for a in c.args if isinstance(a, (int, float)) and not isinstance(a, bool)]
    if len(c.shapes) != 1 or len(consts) != 1 or c.args[-1] is not consts[0] or not consts[0]:
        raise Unsupported(f"a division by {c.args} (archspec divides by a constant only)")
    return [("scale", {"factor": 1.0 / consts[0]})]


def _expand(c: Call) -> list:
    """x.expand(...): the axes of size 1 repeated to the shape torch computed (BAT's per-group maps made
    one per channel); an expand_as or expand read by a product alone is no op (trace.py)."""
    x, y = c.shapes[0], c.out
    if y is None or len(y) != len(x) or y[0] != x[0]:
        raise Unsupported(f"an expand from {tuple(x)} to {tuple(y) if y else y} (archspec's expand keeps the batch "
                          "axis and the rank)")
    sizes = [-1 if p == q else q for p, q in zip(x[1:], y[1:])]
    return [("expand", {"sizes": sizes})] if any(q != -1 for q in sizes) else [("identity", {})]


FUNCTIONS: dict[Any, Callable[[Call], list]] = {
    operator.add: _merge("add"), operator.iadd: _merge("add"), torch.add: _merge("add"),
    operator.mul: _merge("mul"), operator.imul: _merge("mul"), torch.mul: _merge("mul"),
    torch.cat: _cat, torch.concat: _cat,
    torch.flatten: _flat, torch.mean: _mean,
    F.adaptive_avg_pool2d: _adaptive_call, F.adaptive_max_pool2d: _adaptive_max_call,
    F.max_pool2d: _pool_call("maxpool"), F.avg_pool2d: _pool_call("avgpool"),
    F.dropout: _dropout,
    F.relu: _unary("relu"), torch.relu: _unary("relu"), torch.relu_: _unary("relu"), F.relu6: _unary("relu6"),
    torch.sigmoid: _unary("sigmoid"), F.sigmoid: _unary("sigmoid"), F.silu: _unary("silu"),
    F.hardswish: _unary("hardswish"), F.hardsigmoid: _unary("hardsigmoid"), torch.tanh: _unary("tanh"),
    F.gelu: _gelu, torch.permute: _permute, operator.truediv: _divide,
    F.softmax: _softmax_call, torch.softmax: _softmax_call, torch.stack: _stack,
    F.interpolate: _interpolate,
    torch.reshape: _flat, torch.unflatten: _flat, torch.squeeze: _flat, torch.unsqueeze: _flat,
    torch.transpose: _transpose, torch.sum: _reduce("sum"), torch.amax: _reduce("amax"),
    F.elu: _elu, F.mish: _unary("mish"), operator.matmul: _unary("matmul"), torch.matmul: _unary("matmul"),
}

METHODS: dict[str, Callable[[Call], list]] = {
    "add": _merge("add"), "mul": _merge("mul"),     # and add_, mul_, relu_, ...: trace._out_of_place
    "flatten": _flat, "view": _flat, "reshape": _flat, "mean": _mean,
    "relu": _unary("relu"), "sigmoid": _unary("sigmoid"), "tanh": _unary("tanh"), "contiguous": _unary("identity"),
    "permute": _permute, "div": _divide, "softmax": _softmax_call,
    "float": _same, "type_as": _same, "to": _same, "clone": _same,
    "unflatten": _flat, "squeeze": _flat, "unsqueeze": _flat, "transpose": _transpose,
    "sum": _reduce("sum"), "amax": _reduce("amax"), "matmul": _unary("matmul"),
    "expand": _expand, "expand_as": _expand,
}

# -- attention (ops/merge.py): F.scaled_dot_product_attention as the `attention` op ----------------------

def _attention(c: Call) -> list:
    """F.scaled_dot_product_attention(q, k, v, ...): without a mask, causality or grouped heads (a
    dropout_p the trace shows: timm passes attn_drop.p in training, 0 in eval)."""
    if len(c.shapes) != 3 or c.arg(1, "is_causal", False) or c.arg(4, "enable_gqa", False):
        raise Unsupported("a mask, is_causal or enable_gqa (archspec's attention takes queries, keys and values)")
    if c.args and c.args[0] is None:         # attn_mask=None given by position
        c = Call(c.shapes, c.args[1:], c.kwargs, c.out)
    scale, p = c.arg(3, "scale"), float(c.arg(0, "dropout_p", 0.0))
    return [("attention", {**({"scale": float(scale)} if scale is not None else {}),
                           **({"dropout": p} if p else {})})]


FUNCTIONS[F.scaled_dot_product_attention] = _attention
# x.contiguous() copies a strided tensor (MobileNetV4's attention output, permuted to (C, H, W)): kept, as a
# conv computes on it otherwise than on the strided one; on a row-major tensor it is no op
METHODS["contiguous"] = lambda c: [("identity" if c.dense else "contiguous", {})]
# -- end of attention ------------------------------------------------------------------------------------

# calls that only read sizes (x.size(0) for a view): they make no tensor and no op
SHAPE_CALLS = {"size", "dim"}


def call_ops(kind: str, target, call: Call) -> list | None:
    """[(op, attrs)] of an fx call_function / call_method, or None where the table has no entry."""
    rule = FUNCTIONS.get(target) if kind == "call_function" else METHODS.get(target)
    return rule(call) if rule else None


def call_name(kind: str, target) -> str:
    """How a message names a call: torch.cat, operator.add, Tensor.view."""
    if kind == "call_method":
        return f"Tensor.{target}"
    module = getattr(target, "__module__", None) or ""
    module = {"_operator": "operator", "torch._C._nn": "F", "torch.nn.functional": "F",
              "torch._C._VariableFunctions": "torch"}.get(module, module)
    return f"{module}.{getattr(target, '__name__', target)}" if module else str(getattr(target, "__name__", target))


# -- padding: F.pad, the padding modules, and TensorFlow's 'same' padding (timm's ...Same modules) -------------

def _pad_ops(amounts, mode: str = "constant", value=None) -> list:
    """F.pad's arguments as the pad op (none where it pads nothing)."""
    if mode not in ("constant", "reflect", "replicate"):
        raise Unsupported(f"mode={mode!r} (archspec pads constant, reflect or replicate)")
    value = 0.0 if value is None else float(value)
    if not math.isfinite(value):
        raise Unsupported(f"the pad value {value} (archspec's values are finite)")
    if not isinstance(amounts, (tuple, list)) or not all(isinstance(v, int) for v in amounts):
        raise Unsupported(f"pad amounts {amounts} that are not numbers on this input")
    amounts = tuple(int(v) for v in amounts)
    if not any(amounts):
        return []
    return [("pad", {"amounts": amounts, **({"mode": mode} if mode != "constant" else {}),
                     **({"value": value} if value else {})})]


def _pad_call(c: Call) -> list:
    return _pad_ops(c.arg(0, "pad"), c.arg(1, "mode", "constant"), c.arg(2, "value")) or [("identity", {})]


def _pad_module(m) -> list:
    kind = type(m).__name__[:-2].removesuffix("Pad")      # ReflectionPad2d -> Reflection
    mode = {"Reflection": "reflect", "Replication": "replicate"}.get(kind, "constant")
    return _pad_ops(m.padding, mode, getattr(m, "value", None)) or [("identity", {})]


def _same_ops(m, base: str) -> list:
    """A ...Same module: TensorFlow's 'same' padding, which its forward computes from the input's size
    (the pad_same op, exact at any size), then the op of its base class (the module read as that
    class: a Conv2dSame is an nn.Conv2d with padding 0)."""
    module, _, name = base.rpartition(".")
    entry = _entry(getattr(importlib.import_module(module), name))
    if entry is None:
        raise Unsupported(f"no op for its base {name}")
    ops = entry(m)
    if not getattr(m, "same_pad", getattr(m, "dynamic_padding", True)):    # a static padding: the base class's
        return ops
    same = {"k": pair(m.kernel_size), "stride": pair(m.stride or m.kernel_size),
            "dilation": pair(getattr(m, "dilation", 1))}
    if "MaxPool" in base:
        # -inf padding never wins a max, and every window holding padding holds the edge value it
        # replicates (the padding is under the window's size): replicate padding gives the same maxima.
        if same["dilation"] != 1:
            raise Unsupported(f"dilation={m.dilation} with 'same' padding")
        same["mode"] = "replicate"
    return [("pad_same", same), *ops]


def _same_base(cls: type) -> str | None:
    return SAME.get((cls.__module__, cls.__qualname__))


# class (module, qualified name) -> its base class, whose op runs after the padding
SAME = {
    ("timm.layers.conv2d_same", "Conv2dSame"): "torch.nn.Conv2d",
    ("timm.layers.pool2d_same", "MaxPool2dSame"): "torch.nn.MaxPool2d",
    ("timm.layers.pool2d_same", "AvgPool2dSame"): "torch.nn.AvgPool2d",
    ("timm.layers.std_conv", "StdConv2dSame"): "timm.layers.std_conv.StdConv2d",
    ("timm.layers.std_conv", "ScaledStdConv2dSame"): "timm.layers.std_conv.ScaledStdConv2d",
    ("timm.layers.cond_conv2d", "CondConv2d"): "timm.layers.cond_conv2d.CondConv2d",   # its padding may be 'same'
}


def _condconv(m) -> list:
    """timm's CondConv2d(x, routing_weights): the condconv op (its 'same' padding, if any, before it)."""
    padding = (0, 0) if m.dynamic_padding else m.padding
    return [("condconv", {"out": m.out_channels, "k": pair(m.kernel_size), "stride": pair(m.stride),
                          "pad": pair(padding), "dilation": pair(m.dilation), "groups": m.groups,
                          "bias": m.bias is not None, "experts": m.num_experts})]

FUNCTIONS[F.pad] = _pad_call
SIZED_ARGS = {F.pad}        # calls whose numbers forward may compute from the input's sizes (never its batch)
for _kind in ("ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad"):
    for _n in (1, 2, 3):
        LIBRARY_MODULES[("torch.nn.modules.padding", f"{_kind}{_n}d")] = _pad_module
LIBRARY_MODULES[("timm.layers.cond_conv2d", "CondConv2d")] = _condconv
LIBRARY_MODULES[("timm.layers.blur_pool", "BlurPool2d")] = lambda m: [
    ("blurpool", {"filt_size": m.filt_size, "stride": m.stride, "pad_mode": m.pad_mode})]
