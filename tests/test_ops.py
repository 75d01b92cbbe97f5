"""Every op in the registry against PyTorch itself.

For a few attribute / input-shape cases per op, a one-node spec is analysed (the op's
`shape()`, `tensors()`, `macs()` and `label()`) and compiled (the op's PyTorch form, as the
compiler builds it), and the compiled module is run on a real tensor: the inferred shape must
be the real output's, the state_dict's keys and sizes the op's tensors, and
`FlopCounterMode` / 2 its MACs. The functional form (`call()`, what anonymous nodes compile
to) is evaluated with torch, nn and F in scope and must give the module's output.
"""
import inspect
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.ops import REGISTRY, Call, kw
from archspec.ops.base import _NO_DEFAULT
from archspec.pytorch.compiler import source
from archspec.pytorch.emit.expr import expression, node_expr

B = 2        # batch: FlopCounterMode counts the whole batch, the analysis one sample

LAST = "p: {op: permute, dims: [0, 2, 3, 1]}"       # (C, H, W) -> channels-last (H, W, C)

STACK2 = ["r: relu", "s: {op: stack, in: [input, r]}"]     # (2, C, H, W): the input and its relu

ROUTE = ["g: global_avgpool", "r: {op: flatten, in: g}"]     # (C,): routing weights without parameters

# (id, input shape, node `x` (YAML flow text), nodes before it, expected label or None)
# `x` is the network's output; the nodes before it only feed merge ops and have no parameters or MACs.
CASES = [
    ("conv", [3, 10, 10], "{op: conv, out: 8, k: 3}", [], "conv 3x3, 8"),
    ("conv-stride-pad", [3, 11, 11], "{op: conv, out: 5, k: 5, stride: 2, pad: 2}", [], "conv 5x5/2, 5"),
    ("conv-pairs-groups-nobias", [4, 9, 11],
     "{op: conv, out: 6, k: [3, 2], stride: [2, 1], pad: [1, 0], groups: 2, bias: false}", [],
     "conv 3x2/2,1, 6, g2"),
    ("conv-dilation", [2, 11, 11], "{op: conv, out: 4, k: 3, dilation: 2, pad: 2, stride: 2}", [],
     "conv 3x3/2, 4"),
    ("conv-dilation-pair", [3, 9, 10], "{op: conv, out: 3, k: 3, dilation: [1, 2], groups: 3}", [],
     "conv 3x3, 3, g3"),
    ("conv-depthwise", [4, 6, 6], "{op: conv, out: 8, k: 3, pad: 1, groups: 4}", [], "conv 3x3, 8, g4"),
    ("conv-table", [3, 8, 8],        # fan-ins 2 3 1 2 3: three classes, interleaved
     '{op: conv, out: 5, k: 3, pad: 1, connections: "X X . X X\\nX X X . X\\n. X . X X"}', [],
     "conv 3x3, 5, table"),
    ("conv-table-nobias-stride", [4, 9, 9],
     '{op: conv, out: 3, k: [3, 1], stride: 2, bias: false, connections: "X . X\\n. X X\\nX X .\\n. . X"}', [],
     "conv 3x1/2, 3, table"),
    ("maxpool", [3, 8, 8], "{op: maxpool, k: 2}", [], "maxpool 2x2/2"),
    ("maxpool-ceil", [2, 8, 8], "{op: maxpool, k: 3, stride: 2, ceil_mode: true}", [], "maxpool 3x3/2 ceil"),
    ("maxpool-ceil-pad", [1, 5, 6], "{op: maxpool, k: 2, stride: 2, pad: 1, ceil_mode: true}", [], None),
    ("maxpool-pairs", [2, 7, 8], "{op: maxpool, k: [3, 2], stride: [1, 2], pad: [1, 0]}", [], None),
    ("avgpool", [3, 7, 7], "{op: avgpool, k: 2}", [], "avgpool 2x2/2"),
    ("avgpool-ceil-pad", [2, 9, 10],
     "{op: avgpool, k: 3, stride: 2, pad: 1, ceil_mode: true, count_include_pad: false}", [], None),
    ("avgpool-ceil-edge", [1, 6, 6], "{op: avgpool, k: 3, stride: 2, pad: 1, ceil_mode: true}", [], None),
    ("adaptive_avgpool", [3, 7, 8], "{op: adaptive_avgpool, size: [2, 3]}", [], "adaptive avgpool 2x3"),
    ("adaptive_avgpool-default", [2, 5, 5], "adaptive_avgpool", [], "adaptive avgpool 1x1"),
    ("global_avgpool", [5, 4, 3], "global_avgpool", [], "global avgpool"),
    ("lrn", [7, 4, 4], "{op: lrn, size: 3}", [], "lrn 3"),
    ("lrn-default", [6, 3, 3], "lrn", [], "lrn 5"),
    ("batchnorm", [4, 5, 5], "batchnorm", [], "batchnorm"),
    ("batchnorm-1d", [6], "{op: batchnorm, eps: 0.001, momentum: 0.2}", [], "batchnorm"),
    ("batchnorm-no-affine", [3, 2, 2], "{op: batchnorm, affine: false}", [], "batchnorm"),
    ("linear", [7], "{op: linear, out: 5}", [], "linear 5"),
    ("linear-nobias", [12], "{op: linear, out: 3, bias: false}", [], "linear 3"),
    ("flatten", [2, 3, 4], "flatten", [], "flatten"),
    ("flatten-1d", [5], "flatten", [], "flatten"),
    ("dropout", [3, 4, 4], "{op: dropout, p: 0.25}", [], "dropout 0.25"),
    ("dropout-1d", [9], "dropout", [], "dropout 0.5"),
    ("relu", [3, 4, 4], "relu", [], "relu"),
    ("relu-1d", [5], "relu", [], "relu"),
    ("tanh", [3, 4, 4], "tanh", [], "tanh"),
    ("scaled_tanh", [3, 4, 4], "scaled_tanh", [], "1.7159 tanh(0.6667 a)"),
    ("scaled_tanh-attrs", [6], "{op: scaled_tanh, A: 2, S: 0.5}", [], "2 tanh(0.5 a)"),
    ("sigmoid", [4, 2, 3], "sigmoid", [], "sigmoid"),
    ("softmax", [5], "softmax", [], "softmax"),
    ("softmax-3d", [4, 2, 3], "softmax", [], "softmax"),
    ("subsample", [3, 8, 8], "subsample", [], "subsample 2x2"),
    ("subsample-k3", [2, 7, 8], "{op: subsample, k: 3}", [], "subsample 3x3"),
    ("rbf", [6], "{op: rbf, out: 4}", [], "rbf 4"),
    ("concat", [3, 4, 4], "{op: concat, in: [input, p]}", ["p: {op: pad_channels, out: 5}"], "concat"),
    ("concat-3-1d", [4], "{op: concat, in: [input, input, input]}", [], "concat"),
    ("add", [3, 4, 4], "{op: add, in: [input, input]}", [], "add"),
    ("add-3-1d", [5], "{op: add, in: [input, input, input]}", [], "add"),
    ("mul-broadcast", [3, 4, 5], "{op: mul, in: [input, g]}", ["g: global_avgpool"], "mul"),
    ("mul-broadcast-first", [3, 4, 5], "{op: mul, in: [g, input]}", ["g: global_avgpool"], "mul"),
    ("div-rows", [3, 4, 5], "{op: div, in: [p, s]}", ["p: sigmoid", "s: {op: sum, in: p, axis: 2, keepdim: true}"],
     "div"),
    ("div-broadcast-first", [3, 4, 5], "{op: div, in: [g, input]}", ["g: global_avgpool"], "div"),
    ("expand", [2, 1, 3], "{op: expand, sizes: [-1, 4, 3]}", [], "expand -1, 4, 3"),
    ("expand-groups", [4, 3, 3], "{op: expand, sizes: [2, 3, -1, 3, 3]}", ["{op: unflatten, sizes: [2, 1, 2]}"],
     "expand 2, 3, -1, 3, 3"),
    ("pad_channels", [4, 5, 5], "{op: pad_channels, out: 7, stride: 2}", [], "pad channels 7, /2"),
    ("pad_channels-same", [4, 6, 6], "{op: pad_channels, out: 4}", [], "pad channels 4"),
    ("identity", [3, 4, 4], "identity", [], "identity"),
    ("identity-1d", [3], "identity", [], "identity"),
    ("relu6", [3, 4, 4], "relu6", [], "relu6"),
    ("relu6-1d", [5], "relu6", [], "relu6"),
    ("hardswish", [3, 4, 4], "hardswish", [], "hardswish"),
    ("hardsigmoid", [6], "hardsigmoid", [], "hardsigmoid"),
    ("silu", [3, 4, 4], "silu", [], "silu"),
    ("gelu", [3, 4, 4], "gelu", [], "gelu"),
    ("gelu-tanh", [5], "{op: gelu, approximate: tanh}", [], "gelu tanh"),
    ("leaky_relu", [3, 4, 4], "leaky_relu", [], "leaky relu 0.01"),
    ("leaky_relu-slope-1d", [5], "{op: leaky_relu, negative_slope: -0.2}", [], "leaky relu -0.2"),
    ("scale", [3, 4, 4], "{op: scale, factor: 0.17}", [], "scale 0.17"),
    ("scale-int-1d", [5], "{op: scale, factor: -2}", [], "scale -2"),
    ("add-weights", [3, 4, 4], "{op: add, in: [input, r], weights: [1, 0.17]}", ["r: relu"], "add 1, 0.17"),
    ("add-weights-3-1d", [5], "{op: add, in: [r, input, r], weights: [0.5, -1, 2]}", ["r: relu"], "add 0.5, -1, 2"),
    ("layernorm", [4, 3, 5], "layernorm", [], "layernorm"),
    ("layernorm-1d", [6], "{op: layernorm, eps: 0.001}", [], "layernorm"),
    ("layernorm-no-affine", [4, 3, 3], "{op: layernorm, affine: false, eps: 1.0e-5}", [], "layernorm"),
    ("layernorm-no-affine-1d", [7], "{op: layernorm, affine: false}", [], "layernorm"),
    ("stochastic_depth", [3, 4, 4], "{op: stochastic_depth, p: 0.2}", [], "stochastic depth 0.2"),
    ("stochastic_depth-batch-1d", [5], "{op: stochastic_depth, p: 0.5, mode: batch}", [], "stochastic depth 0.5 batch"),
    ("permute", [3, 4, 5], "{op: permute, dims: [0, 2, 3, 1]}", [], "permute 0, 2, 3, 1"),
    ("permute-back", [3, 4, 5], "{op: permute, dims: [0, 3, 1, 2]}", [LAST], "permute 0, 3, 1, 2"),
    ("permute-spatial", [3, 4, 5], "{op: permute, dims: [0, 1, 3, 2]}", [], None),
    ("permute-last-first", [3, 4, 5], "{op: permute, dims: [0, 3, 1, 2]}", [], None),     # (H, W, C) to (C, H, W)
    ("contiguous", [3, 4, 5], "{op: contiguous, in: t}", ["t: {op: transpose, axes: [1, 2]}"], "contiguous"),
    ("permute-1d", [6], "{op: permute, dims: [0, 1]}", [], "permute 0, 1"),
    ("permute-5d", [3, 8, 8], "{op: permute, dims: [0, 3, 5, 1, 2, 4]}", ["{op: reshape, shape: [3, 4, 2, 4, 2]}"],
     "permute 0, 3, 5, 1, 2, 4"),        # TResNet's space-to-depth
    ("linear-channels-last", [3, 4, 5], "{op: linear, out: 6}", [LAST], "linear 6"),
    ("layernorm-channels-last", [4, 3, 5], "layernorm", [LAST], "layernorm"),
    ("layernorm-channels-last-no-affine", [4, 3, 5], "{op: layernorm, affine: false}", [LAST], "layernorm"),
    ("gelu-channels-last", [4, 3, 5], "gelu", [LAST], "gelu"),
    ("add-channels-last", [3, 4, 4], "{op: add, in: [p, p]}", [LAST], "add"),
    ("layer_scale", [4, 3, 3], "{op: layer_scale, init: 0.5}", [], "layer scale 0.5"),
    ("layer_scale-1d", [5], "layer_scale", [], "layer scale 1e-06"),
    ("layer_scale-channels-last", [4, 3, 5], "layer_scale", [LAST], "layer scale 1e-06"),
    ("layer_scale-flat", [4, 3, 5], "{op: layer_scale, flat: true}", [], "layer scale 1e-06"),
    ("layer_scale-scalar", [4, 3, 5], "{op: layer_scale, scalar: true, init: 0.0}", [], "layer scale 0 scalar"),
    ("matmul", [4, 3, 5], "{op: matmul, in: [input, t]}", ["t: {op: transpose, axes: [1, 2]}"], "matmul"),
    ("matmul-vector", [2, 3, 4], "{op: matmul, in: [input, s]}",
     ["t: {op: transpose, axes: [1, 2]}", "s: {op: mean, in: t, axis: [2], keepdim: true}"], "matmul"),
    ("add-broadcast", [3, 4, 5], "{op: add, in: [input, g]}", ["g: global_avgpool"], "add"),     # global context
    ("adaptive_maxpool", [3, 7, 6], "{op: adaptive_maxpool, size: [7, 1]}", [], "adaptive maxpool 7x1"),   # BAT's
    ("adaptive_maxpool-square", [2, 6, 6], "{op: adaptive_maxpool, size: 2}", [], "adaptive maxpool 2x2"),
    # ECA's: a vector viewed as (1, C) (a spec's input is (C, H, W) or (N,): an unflatten before)
    ("conv1d", [12], "{op: conv1d, out: 1, k: 3, pad: 1, bias: false}", ["{op: unflatten, sizes: [1, -1]}"],
     "conv1d 3, 1"),
    ("conv1d-groups-stride", [36], "{op: conv1d, out: 6, k: 3, stride: 2, dilation: 2, groups: 2}",
     ["{op: unflatten, sizes: [4, 9]}"], "conv1d 3/2, 6, g2"),
    ("chunk", [6, 3, 3], "{op: chunk, chunks: 2, index: 1}", [], "chunk 2/2"),
    ("chunk-uneven-1d", [7], "{op: chunk, chunks: 3, index: 2}", [], "chunk 3/3"),
    ("channel_shuffle", [6, 2, 3], "{op: channel_shuffle, groups: 2}", [], "channel shuffle 2"),
    ("channel_shuffle-3", [6, 1, 1], "{op: channel_shuffle, groups: 3}", [], "channel shuffle 3"),
    # the axis ops (issue 20): every axis per sample, 0 the channels; shapes of any rank
    ("slice", [6, 4, 4], "{op: slice, start: 2, stop: 5}", [], "slice 2:5"),
    ("slice-axis-step-negative", [3, 8, 5], "{op: slice, axis: -2, start: -7, step: 3}", [], "slice -7::3 axis -2"),
    ("slice-1d", [9], "{op: slice, stop: -2}", [], "slice :-2"),
    ("slice-4d", [3, 4, 4], "{op: slice, axis: 1, start: 1}", STACK2, "slice 1: axis 1"),
    ("split", [10, 3, 3], "{op: split, sizes: [3, 7], index: 1}", [], "split 2/2"),
    ("split-rest-before", [10, 3, 3], "{op: split, sizes: [-1, 2, 3], index: 1}", [], "split 2/3"),
    ("split-rest-itself", [10, 3, 3], "{op: split, sizes: [2, -1, 3], index: 1}", [], "split 2/3"),
    ("split-axis-negative-index", [2, 3, 9], "{op: split, sizes: [2, -1, 3], index: -1, axis: 2}", [],
     "split 3/3 axis 2"),
    ("split-1d", [7], "{op: split, sizes: [4, 3]}", [], "split 1/2"),
    ("softmax-axis", [4, 2, 3], "{op: softmax, axis: 1}", [], "softmax axis 1"),
    ("softmax-branches", [4, 2, 2], "{op: softmax, axis: 0}", STACK2, "softmax"),
    ("softmax-last-1d", [5], "{op: softmax, axis: -1}", [], "softmax axis -1"),
    ("stack", [3, 4, 4], "{op: stack, in: [input, r, input]}", ["r: relu"], "stack"),
    ("stack-axis-end", [3, 4, 4], "{op: stack, in: [input, r], axis: -1}", ["r: relu"], "stack axis -1"),
    ("stack-1d", [5], "{op: stack, in: [input, r], axis: 1}", ["r: relu"], "stack axis 1"),
    ("reshape", [12, 1, 1], "{op: reshape, shape: [3, -1, 1, 1]}", [], "reshape 3, -1, 1, 1"),
    ("reshape-to-1d", [3, 2, 4], "{op: reshape, shape: [24]}", [], "reshape 24"),
    ("reshape-large", [512, 7, 7], "{op: reshape, shape: [25088]}", [], "reshape 25088"),
    ("reshape-4d-to-2d", [3, 2, 2], "{op: reshape, shape: [2, 12]}", STACK2, "reshape 2, 12"),
    ("flatten-start-end", [2, 3, 4], "{op: flatten, start: 1, end: 2}", [], "flatten 1..2"),
    ("flatten-4d-negative", [3, 2, 5], "{op: flatten, start: 0, end: -2}", STACK2, "flatten 0..-2"),
    ("unflatten", [6, 2, 3], "{op: unflatten, sizes: [2, -1]}", [], "unflatten 2, -1"),
    ("unflatten-axis", [2, 3, 8], "{op: unflatten, axis: -1, sizes: [2, 2, 2]}", [], "unflatten 2, 2, 2 axis -1"),
    ("transpose", [2, 3, 4], "{op: transpose, axes: [0, 2]}", [], "transpose 0, 2"),
    ("transpose-4d", [3, 2, 2], "{op: transpose, axes: [0, 1]}", STACK2, "transpose 0, 1"),
    ("elu", [3, 4, 4], "elu", [], "elu"),
    ("elu-alpha-1d", [5], "{op: elu, alpha: 0.5}", [], "elu 0.5"),
    ("mish", [3, 4, 4], "mish", [], "mish"),
    ("sum", [3, 4, 4], "{op: sum, axis: 0}", STACK2, "sum axis 0"),
    ("sum-keepdim", [3, 4, 5], "{op: sum, axis: [1, 2], keepdim: true}", [], "sum axes 1, 2"),
    ("mean", [3, 4, 5], "{op: mean, axis: [1, 2], keepdim: true}", [], "mean axes 1, 2"),
    ("mean-last", [3, 4, 5], "{op: mean, axis: -1}", [], "mean axis -1"),
    ("mul-branches", [3, 4, 4], "{op: mul, in: [s, g]}", [*STACK2, "g: {op: mean, axis: [2, 3], keepdim: true}"],
     "mul"),
    ("relu-4d", [3, 2, 2], "relu", STACK2, "relu"),
    ("amax", [3, 4, 5], "{op: amax, axis: [1, 2], keepdim: true}", [], "amax axes 1, 2"),
    ("amax-channels", [3, 4, 5], "{op: amax, axis: 0}", [], "amax axis 0"),
    ("upsample", [3, 4, 5], "upsample", [], "upsample x2"),
    ("upsample-pair-bilinear", [2, 3, 4], "{op: upsample, scale: [2, 3], mode: bilinear}", [],
     "upsample x2,3 bilinear"),
    ("upsample-bilinear-corners", [2, 3, 3], "{op: upsample, scale: 4, mode: bilinear, align_corners: true}", [],
     "upsample x4 bilinear"),
    # the norms of timm's CNNs (ops/norms.py; tests/test_norm_ops.py checks each against timm's layer)
    ("group_norm", [6, 4, 4], "{op: group_norm, groups: 3}", [], "group norm 3"),
    ("group_norm-no-affine", [4, 3, 3], "{op: group_norm, groups: 2, affine: false, eps: 0.001}", [], "group norm 2"),
    ("std_conv", [3, 8, 8], "{op: std_conv, out: 4, k: 3, pad: 1, bias: false}", [], "std conv 3x3, 4"),
    ("std_conv-scaled", [4, 9, 9], "{op: std_conv, out: 6, k: 3, stride: 2, groups: 2, scaled: true, gamma: 1.7}", [],
     "scaled std conv 3x3/2, 6, g2"),
    ("evo_norm", [8, 4, 4], "{op: evo_norm, groups: 4}", [], "evonorm S0 4"),
    ("evo_norm-s0a-no-act", [6, 3, 3], "{op: evo_norm, groups: 2, act: false, variant: S0a}", [],
     "evonorm S0a 2, no act"),
    ("frn", [5, 4, 4], "frn", [], "frn tlu"),
    ("frn-no-tlu", [5, 3, 3], "{op: frn, tlu: false}", [], "frn"),
    ("rms_norm", [6, 3, 4], "rms_norm", [], "rms norm"),
    ("rms_norm-std-no-affine", [6, 3, 4], "{op: rms_norm, stat: std, affine: false}", [], "std norm"),
    ("grn", [6, 3, 4], "grn", [], "grn"),
    ("grn-channels-last", [6, 3, 4], "grn", [LAST], "grn"),
    ("learnable_affine", [3, 4, 4], "learnable_affine", [], "learnable affine"),
    ("learnable_affine-1d", [5], "{op: learnable_affine, scale: 2.0, bias: 0.5}", [], "learnable affine"),
    # q k^T v over (heads, L, E): the same tensor thrice; one key/value head for two query heads (MobileNetV4's)
    ("attention", [8, 4, 5], "{op: attention, in: [q, q, q]}", ["q: {op: unflatten, sizes: [2, 4]}"], "attention"),
    ("attention-mqa-scale", [8, 4, 5], "{op: attention, in: [q, m, m], scale: 0.5}",
     ["q: {op: unflatten, sizes: [2, 4]}", "m: {op: mean, in: q, axis: [0], keepdim: true}"], "attention"),
    ("attention-dropout", [8, 4, 5], "{op: attention, in: [q, m, m], dropout: 0.25}",
     ["q: {op: unflatten, sizes: [2, 4]}", "m: {op: mean, in: q, axis: [0], keepdim: true}"], "attention"),
    # CLIP's attention pool: (H*W, C) tokens, the mean token before them, a position embedding, linear per token
    ("pos_embed", [6, 3, 4], "pos_embed", [], "pos embed"),
    ("pos_embed-tokens", [12], "{op: pos_embed, in: t}", ["t: {op: unflatten, sizes: [4, 3]}"], "pos embed"),
    ("concat-tokens", [12], "{op: concat, in: [m, t]}",
     ["t: {op: unflatten, sizes: [4, 3]}", "m: {op: mean, in: t, axis: [0], keepdim: true}"], "concat"),
    ("linear-tokens", [12], "{op: linear, in: t, out: 5}", ["t: {op: unflatten, sizes: [4, 3]}"], "linear 5"),
    ("upsample-size", [2, 3, 3], "{op: upsample, size: [7, 7]}", [], "upsample to 7x7"),     # GhostNetV2's 3 to 7
    ("pad", [3, 5, 6], "{op: pad, amounts: [0, 1, 0, 1]}", [], "pad 0, 1, 0, 1"),
    ("pad-value-crop", [3, 5, 6], "{op: pad, amounts: [2, -1, 1, 0], value: -1.5}", [], "pad 2, -1, 1, 0 -1.5"),
    ("pad-channels-1d", [4], "{op: pad, amounts: [1, 3], value: 2}", [], "pad 1, 3 2"),
    ("pad-reflect", [2, 4, 5], "{op: pad, amounts: [1, 1, 2, 3], mode: reflect}", [], "pad 1, 1, 2, 3 reflect"),
    ("pad-replicate-width", [2, 4, 5], "{op: pad, amounts: [3, 0, 0, 0], mode: replicate}", [],
     "pad 3, 0, 0, 0 replicate"),
    ("blurpool", [3, 8, 9], "blurpool", [], "blurpool 3x3/2"),
    ("blurpool-5-constant", [2, 7, 7], "{op: blurpool, filt_size: 5, stride: 1, pad_mode: constant}", [],
     "blurpool 5x5/1 constant"),
    ("blurpool-4-replicate", [2, 6, 5], "{op: blurpool, filt_size: 4, stride: 3, pad_mode: replicate}", [],
     "blurpool 4x4/3 replicate"),
    ("condconv", [4, 6, 6], "{op: condconv, in: [input, r], out: 6, k: 3, pad: 1, experts: 4}", ROUTE,
     "condconv 3x3, 6, 4 experts"),
    ("condconv-stride-groups-bias", [4, 7, 7],
     "{op: condconv, in: [input, r], out: 2, k: [3, 1], stride: 2, groups: 2, bias: true, experts: 4}", ROUTE,
     "condconv 3x1/2, 2, g2, 4 experts"),
    ("pad_same", [3, 8, 8], "{op: pad_same, k: 3, stride: 2}", [], "pad same 3x3/2"),
    ("pad_same-odd-replicate", [2, 7, 8], "{op: pad_same, k: [3, 2], stride: 2, mode: replicate}", [],
     "pad same 3x2/2 replicate"),
    ("pad_same-dilation", [2, 5, 6], "{op: pad_same, k: 3, stride: [1, 2], dilation: 2}", [], "pad same 3x3/1,2"),
    ("pad-6", [2, 3, 3], "{op: pad, amounts: [1, 0, 0, 1, 2, 0]}", [], "pad 1, 0, 0, 1, 2, 0"),
]


def test_every_builtin_op_has_cases():
    builtin = {name for name, op in REGISTRY.items() if type(op).__module__.startswith("archspec.ops")}
    covered = {case[0].split("-")[0] for case in CASES}
    assert builtin <= covered, f"ops without cases: {sorted(builtin - covered)}"


def _spec(tmp_path, case_id, shape, node, before):
    lines = [f"  - {n}" for n in before] + [f"  - x: {node}"]
    path = tmp_path / f"{case_id}.yaml"
    path.write_text(f"archspec: 1\ninput: {shape}\nnodes:\n" + "\n".join(lines) + "\noutputs: {y: x}\n")
    return str(path)


@pytest.mark.parametrize("case_id,shape,node,before,label", CASES, ids=[c[0] for c in CASES])
def test_op_against_pytorch(tmp_path, case_id, shape, node, before, label):
    g = archspec.analyze(_spec(tmp_path, case_id, shape, node, before))
    n = g.nodes["x"]
    torch.manual_seed(0)
    m = archspec.compile(g).eval()
    x = torch.randn(B, *shape)
    with torch.no_grad(), FlopCounterMode(display=False) as flops:
        y = m(x)

    assert tuple(y.shape) == (B, *n.shape), "inferred shape != PyTorch's output shape"
    state = m.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {t.path("x"): tuple(t.shape) for t in n.tensors}
    params = sum(p.numel() for p in m.parameters())
    assert (params, sum(v.numel() for v in state.values()) - params) == (n.params, n.buffers)
    assert (n.params, n.buffers) == (g.params, g.buffers)       # the producers have none
    assert flops.get_total_flops() == 2 * B * n.macs, "MACs != FlopCounterMode / 2"
    if label is not None:
        assert n.label == label

    # the functional form (anonymous nodes), with the module's tensors where it has any
    inputs = [x if i == "input" else _value(m, g, i, x) for i in n.inputs]
    call = None if n.tensors else node_expr(n)
    text = None if call is None else expression(call, [f"a{j}" for j in range(len(inputs))])
    if text is not None:
        scope = {"torch": torch, "nn": nn, "F": F, "self": types.SimpleNamespace(training=False),
                 **{f"a{j}": v for j, v in enumerate(inputs)}}
        with torch.no_grad():
            assert torch.allclose(eval(text, scope), y, atol=1e-6), text     # noqa: S307 - op's own text


def _value(m, g, name, x):
    """A producer's output, from PyTorch directly (the cases use only these)."""
    if name == "input":
        return x
    n = g.nodes[name]
    a, ins = n.attrs, [_value(m, g, i, x) for i in n.inputs]
    if n.op.name == "global_avgpool":
        return x.mean((2, 3), keepdim=True)
    if n.op.name == "pad_channels":
        return F.pad(x[:, :, ::a.stride, ::a.stride], (0, 0, 0, 0, 0, a.out - x.shape[1]))
    if n.op.name == "relu":
        return ins[0].clamp(min=0)
    if n.op.name == "flatten":
        return ins[0].flatten(1)
    if n.op.name == "permute":
        return x.permute(*a.dims)
    if n.op.name == "stack":
        return torch.stack(ins, 1)
    if n.op.name == "transpose":
        return ins[0].transpose(a.axes[0] + 1, a.axes[1] + 1)
    if n.op.name == "reshape":
        return ins[0].reshape(B, *a.shape)
    if n.op.name == "unflatten":
        return ins[0].unflatten(a.axis + 1, a.sizes)
    if n.op.name == "mean":
        return ins[0].mean([d + 1 for d in a.axis], keepdim=a.keepdim)
    if n.op.name == "sigmoid":
        return 1 / (1 + torch.exp(-ins[0]))
    if n.op.name == "sum":
        return ins[0].sum([d + 1 for d in (a.axis if isinstance(a.axis, list) else [a.axis])], keepdim=a.keepdim)
    raise AssertionError(name)


def test_merge_ops_compute_what_they_say(tmp_path):
    """concat, add, mul and div against torch's own cat, sum, broadcasting product and quotient."""
    x = torch.randn(B, 3, 4, 5)
    gate = x.mean((2, 3), keepdim=True)
    p = torch.sigmoid(x)
    want = {"concat": torch.cat([x, F.pad(x, (0, 0, 0, 0, 0, 2))], 1), "mul-broadcast": x * gate,
            "mul-broadcast-first": gate * x, "div-rows": p / p.sum(3, keepdim=True), "div-broadcast-first": gate / x}
    for case_id, shape, node, before, _ in CASES:
        if case_id in want:
            m = archspec.compile(_spec(tmp_path, case_id, shape, node, before)).eval()
            assert torch.allclose(m(x), want[case_id])
    for case_id, k, fn in (("add-3-1d", 5, lambda v: v + v + v), ("concat-3-1d", 4, lambda v: torch.cat([v] * 3, 1))):
        spec = next(c for c in CASES if c[0] == case_id)
        v = torch.randn(B, k)
        assert torch.equal(archspec.compile(_spec(tmp_path, *spec[:4])).eval()(v), fn(v))


def _layernorm(x, w, b, eps):
    """Normalise over dim 1 (the channels or features), by hand."""
    mean = x.mean(1, keepdim=True)
    var = ((x - mean) ** 2).mean(1, keepdim=True)
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return (x - mean) / torch.sqrt(var + eps) * w.view(shape) + b.view(shape)


def _only(params):
    """The one parameter (a layer scale's, named after its node)."""
    (p,) = params.values()
    return p


def _gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh((2 / torch.pi) ** 0.5 * (x + 0.044715 * x ** 3)))


# case id -> the computation by hand: f(x, {"weight": ..., "bias": ...}) against torch's own arithmetic
REFERENCE = {
    "relu6": lambda x, m: x.clamp(0, 6),
    "hardswish": lambda x, m: x * (x + 3).clamp(0, 6) / 6,
    "hardsigmoid": lambda x, m: (x + 3).clamp(0, 6) / 6,
    "silu": lambda x, m: x * torch.sigmoid(x),
    "gelu": lambda x, m: 0.5 * x * (1 + torch.erf(x / 2 ** 0.5)),
    "gelu-tanh": lambda x, m: _gelu_tanh(x),
    "leaky_relu": lambda x, m: torch.where(x > 0, x, 0.01 * x),
    "leaky_relu-slope-1d": lambda x, m: torch.where(x > 0, x, -0.2 * x),
    "scale": lambda x, m: 0.17 * x,
    "scale-int-1d": lambda x, m: -2 * x,
    "add-weights": lambda x, m: x + 0.17 * x.clamp(min=0),
    "add-weights-3-1d": lambda x, m: 2.5 * x.clamp(min=0) - x,
    "layernorm": lambda x, m: _layernorm(x, m["weight"], m["bias"], 1e-6),
    "layernorm-1d": lambda x, m: _layernorm(x, m["weight"], m["bias"], 1e-3),
    "layernorm-no-affine": lambda x, m: _layernorm(x, torch.ones(4), torch.zeros(4), 1e-5),
    "layernorm-no-affine-1d": lambda x, m: _layernorm(x, torch.ones(7), torch.zeros(7), 1e-6),
    "layernorm-channels-last": lambda x, m: _layernorm(x, m["weight"], m["bias"], 1e-6).permute(0, 2, 3, 1),
    "layernorm-channels-last-no-affine":
        lambda x, m: _layernorm(x, torch.ones(4), torch.zeros(4), 1e-6).permute(0, 2, 3, 1),
    "layer_scale": lambda x, m: x * _only(m),            # (C, 1, 1)
    "layer_scale-1d": lambda x, m: x * _only(m),
    "layer_scale-channels-last": lambda x, m: x.permute(0, 2, 3, 1) * _only(m),
    "layer_scale-flat": lambda x, m: x * _only(m).reshape(1, -1, 1, 1),     # (C,), timm's gamma
    "layer_scale-scalar": lambda x, m: x * _only(m),             # (), NFNet's skipinit_gain
    "matmul": lambda x, m: torch.einsum("bcik,bcjk->bcij", x, x),
    "matmul-vector": lambda x, m: x @ x.mean(2, keepdim=True).transpose(2, 3),      # (3, 4) @ (4, 1)
    "add-broadcast": lambda x, m: x + x.sum((2, 3), keepdim=True) / 20,
    "adaptive_maxpool": lambda x, m: x.amax(3, keepdim=True),
    "adaptive_maxpool-square": lambda x, m: x.unflatten(3, (2, 3)).unflatten(2, (2, 3)).amax((3, 5)),
    "conv1d": lambda x, m: torch.einsum("bclk,ock->bol", F.pad(x[:, None], (1, 1)).unfold(2, 3, 1), m["weight"]),
    "permute-spatial": lambda x, m: x.transpose(2, 3),
    "permute-last-first": lambda x, m: x.transpose(1, 3).transpose(2, 3),
    "contiguous": lambda x, m: x.transpose(2, 3),
    "permute-5d": lambda x, m: x.view(B, 3, 4, 2, 4, 2).permute(0, 3, 5, 1, 2, 4),
    "stochastic_depth": lambda x, m: x,                 # eval mode
    "stochastic_depth-batch-1d": lambda x, m: x,
    "chunk": lambda x, m: x[:, 3:6],
    "chunk-uneven-1d": lambda x, m: x[:, 6:7],          # pieces of 3, 3 and 1
    "channel_shuffle": lambda x, m: x[:, [0, 3, 1, 4, 2, 5]],
    "channel_shuffle-3": lambda x, m: x[:, [0, 2, 4, 1, 3, 5]],
    "slice": lambda x, m: x[:, 2:5],
    "slice-axis-step-negative": lambda x, m: x[:, :, 1::3],       # -7 of 8 is 1
    "slice-1d": lambda x, m: x[:, :7],
    "slice-4d": lambda x, m: _stack2(x)[:, :, 1:],
    "split": lambda x, m: torch.split(x, [3, 7], 1)[1],
    "split-rest-before": lambda x, m: torch.split(x, [5, 2, 3], 1)[1],
    "split-rest-itself": lambda x, m: torch.split(x, [2, 5, 3], 1)[1],
    "split-axis-negative-index": lambda x, m: torch.split(x, [2, 4, 3], 3)[-1],
    "split-1d": lambda x, m: torch.split(x, [4, 3], 1)[0],
    "softmax-axis": lambda x, m: x.exp() / x.exp().sum(2, keepdim=True),
    "softmax-branches": lambda x, m: _stack2(x).exp() / _stack2(x).exp().sum(1, keepdim=True),
    "softmax-last-1d": lambda x, m: x.exp() / x.exp().sum(1, keepdim=True),
    "stack": lambda x, m: torch.stack([x, x.clamp(min=0), x], 1),
    "stack-axis-end": lambda x, m: torch.stack([x, x.clamp(min=0)], 4),
    "stack-1d": lambda x, m: torch.stack([x, x.clamp(min=0)], 2),
    "reshape": lambda x, m: x.view(-1, 3, 4, 1, 1),
    "reshape-to-1d": lambda x, m: x.view(-1, 24),
    "reshape-large": lambda x, m: x.flatten(1),
    "reshape-4d-to-2d": lambda x, m: _stack2(x).view(-1, 2, 12),
    "flatten-start-end": lambda x, m: x.view(-1, 2, 12),
    "flatten-4d-negative": lambda x, m: _stack2(x).view(-1, 12, 5),
    "unflatten": lambda x, m: x.view(-1, 2, 3, 2, 3),
    "unflatten-axis": lambda x, m: x.view(-1, 2, 3, 2, 2, 2),
    "transpose": lambda x, m: x.permute(0, 3, 2, 1),
    "transpose-4d": lambda x, m: _stack2(x).permute(0, 2, 1, 3, 4),
    "elu": lambda x, m: torch.where(x > 0, x, x.exp() - 1),
    "elu-alpha-1d": lambda x, m: torch.where(x > 0, x, 0.5 * (x.exp() - 1)),
    "mish": lambda x, m: x * torch.tanh(torch.log1p(x.exp())),
    "sum": lambda x, m: x + x.clamp(min=0),
    "sum-keepdim": lambda x, m: x.sum((2, 3), keepdim=True),
    "mean": lambda x, m: x.sum((2, 3), keepdim=True) / 20,
    "mean-last": lambda x, m: x.sum(3) / 5,
    "mul-branches": lambda x, m: _stack2(x) * _stack2(x).mean((3, 4), keepdim=True),
    "relu-4d": lambda x, m: _stack2(x).clamp(min=0),
    "amax": lambda x, m: x.flatten(2).max(2).values[:, :, None, None],
    "amax-channels": lambda x, m: x.max(1).values,
    "upsample": lambda x, m: x.repeat_interleave(2, 2).repeat_interleave(2, 3),
    "pos_embed": lambda x, m: x + _only(m),
    "pos_embed-tokens": lambda x, m: x.view(B, 4, 3) + _only(m),
    "concat-tokens": lambda x, m: torch.cat([x.view(B, 4, 3).mean(1, keepdim=True), x.view(B, 4, 3)], 1),
    "linear-tokens": lambda x, m: x.view(B, 4, 3) @ m["weight"].T + m["bias"],
    "attention": lambda x, m: _attention(x.unflatten(1, (2, 4)), None, 5 ** -0.5),
    "attention-dropout": lambda x, m: _attention(x.unflatten(1, (2, 4)), x.unflatten(1, (2, 4)).mean(1, True),
                                                 5 ** -0.5),      # eval: no dropout
    "attention-mqa-scale": lambda x, m: _attention(x.unflatten(1, (2, 4)), x.unflatten(1, (2, 4)).mean(1, True), 0.5),
    # nearest from 3 to 7: output k reads input floor(k * 3 / 7)
    "upsample-size": lambda x, m: x[:, :, [0, 0, 0, 1, 1, 2, 2]][:, :, :, [0, 0, 0, 1, 1, 2, 2]],
    # pad, written out: a bigger tensor of the fill value with the input placed in it (cropped where negative)
    "pad": lambda x, m: _placed(x, torch.zeros(B, 3, 6, 7), (0, 0, 0, 0)),
    "pad-value-crop": lambda x, m: _placed(x[..., :-1], torch.full((B, 3, 6, 7), -1.5), (0, 0, 1, 2)),
    "pad-channels-1d": lambda x, m: _placed(x, torch.full((B, 8), 2.0), (1,)),
    "pad-reflect": lambda x, m: x[:, :, [2, 1, 0, 1, 2, 3, 2, 1, 0]][..., [1, 0, 1, 2, 3, 4, 3]],
    "pad-replicate-width": lambda x, m: x[..., [0, 0, 0, 0, 1, 2, 3, 4]],
    # blurpool: the binomial filter written out, as a depthwise conv after the padding
    "blurpool": lambda x, m: _blur(F.pad(x, (1, 1, 1, 1), mode="reflect"), [1, 2, 1], 2),
    "blurpool-5-constant": lambda x, m: _blur(F.pad(x, (2, 2, 2, 2)), [1, 4, 6, 4, 1], 1),
    "blurpool-4-replicate": lambda x, m: _blur(F.pad(x, (2, 2, 2, 2), mode="replicate"), [1, 3, 3, 1], 3),
    # TensorFlow's 'same': 8 at stride 2 pads 1 (0 before); 7 pads 2 (1, 1); k 2 on 8 pads 0; dilation 2 pads 4
    "pad_same": lambda x, m: F.pad(x, (0, 1, 0, 1)),
    "pad_same-odd-replicate": lambda x, m: F.pad(x, (0, 0, 1, 1), mode="replicate"),
    "pad_same-dilation": lambda x, m: F.pad(x, (1, 2, 2, 2)),
    "pad-6": lambda x, m: _placed(x, torch.zeros(B, 4, 4, 4), (2, 0, 1)),
}


def _blur(x, row, stride):
    row = torch.tensor(row, dtype=torch.float32) / sum(row)
    k = (row[:, None] * row[None, :]).expand(x.shape[1], 1, len(row), len(row))
    return F.conv2d(x, k, stride=stride, groups=x.shape[1])


def _placed(x, out, at):
    """`out` with `x` written into it at the offsets `at` of its last axes."""
    index = (slice(None),) * (out.dim() - len(at)) + tuple(slice(o, o + n) for o, n in zip(at, x.shape[-len(at):]))
    out[index] = x
    return out
def _attention(q, kv, scale):
    """softmax(q k^T * scale) v by hand, k = v = `kv` (or q) broadcast over the heads."""
    kv = q if kv is None else kv
    return torch.softmax(q @ kv.transpose(-1, -2) * scale, -1) @ kv


def _stack2(x):
    """STACK2's result: the input and its relu on a new axis after the batch."""
    return torch.stack([x, x.clamp(min=0)], 1)


@pytest.mark.parametrize("case_id", sorted(REFERENCE))
def test_new_ops_compute_what_they_say(tmp_path, case_id):
    """The module (named node) and the functional form (the anonymous node) against the
    computation written out in torch arithmetic, with random weights where the op has any."""
    _, shape, node, before, _ = next(c for c in CASES if c[0] == case_id)
    x = torch.randn(B, *shape) * 4
    anonymous = tmp_path / "anonymous.yaml"       # its last node is the output
    anonymous.write_text(f"archspec: 1\ninput: {shape}\nnodes:\n" + "".join(f"  - {n}\n" for n in [*before, node]))
    for path in (_spec(tmp_path, case_id, shape, node, before), str(anonymous)):
        m = archspec.compile(path).eval()
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn_like(p))
            params = {k.rsplit(".", 1)[-1]: v for k, v in m.named_parameters()}
            assert torch.allclose(m(x), REFERENCE[case_id](x, params), atol=1e-5), path


def test_lenet_c3_counts_against_pytorch():
    """LeNet-5's C3 from the paper's table: 1,516 params, and MACs = FlopCounterMode / 2."""
    from paths import SPECS
    g = archspec.analyze(str(SPECS / "lenet5.yaml"))
    c3 = g.nodes["C3"]
    m = archspec.compile(g).get_submodule("C3")
    x = torch.randn(1, *c3.in_shapes[0])
    with torch.no_grad(), FlopCounterMode(display=False) as flops:
        y = m(x)
    assert tuple(y.shape[1:]) == c3.shape == (16, 10, 10)
    assert sum(p.numel() for p in m.parameters()) == c3.params == 1516
    assert flops.get_total_flops() == 2 * c3.macs == 2 * 60 * 25 * 100     # 60 connections, 5x5, 10x10
    assert c3.label == "conv 5x5, 16, table"


@pytest.mark.parametrize("act,fn", [("relu6", F.relu6), ("hardswish", F.hardswish), ("hardsigmoid", F.hardsigmoid),
                                    ("silu", F.silu), ("leaky_relu", F.leaky_relu),
                                    ("{op: leaky_relu, negative_slope: -0.5}", lambda v: F.leaky_relu(v, -0.5))])
def test_activations_in_place_after_a_fresh_tensor(tmp_path, act, fn):
    """After a conv (a fresh tensor nothing else reads) an activation runs in place, as relu does,
    anonymous (F.<fn>(x, inplace=True)) and named (nn.<Module>(inplace=True)); values and
    gradients are the out-of-place ones. A negative leaky slope stays out of place (autograd
    has no in-place backward for it)."""
    path = tmp_path / "inplace.yaml"
    path.write_text(f"archspec: 1\ninput: [3, 6, 6]\nnodes:\n  - c1: {{op: conv, out: 4, k: 3, pad: 1}}\n  - {act}\n"
                    f"  - c2: {{op: conv, out: 4, k: 3, pad: 1}}\n  - a: {act}\n")
    text = source(str(path))
    negative = "-0.5" in act
    assert (text.count("inplace=True") == 2) != negative, text
    m = archspec.compile(str(path))
    x = torch.randn(B, 3, 6, 6, requires_grad=True)
    y = m(x)
    y.square().sum().backward()
    x2 = x.detach().clone().requires_grad_()
    want = fn(m.c2(fn(m.c1(x2))))
    want.square().sum().backward()
    assert torch.allclose(y, want) and torch.allclose(x.grad, x2.grad, atol=1e-6)


@pytest.mark.parametrize("p,mode", [(0.3, "row"), (0.5, "batch"), (1.0, "row"), (0.0, "batch")])
def test_stochastic_depth_against_torchvision(tmp_path, p, mode):
    """In training the same draws as torchvision.ops.stochastic_depth under the same seed; the
    identity in eval mode."""
    tv = pytest.importorskip("torchvision")
    path = _spec(tmp_path, "sd", [3, 4, 4], f"{{op: stochastic_depth, p: {p}, mode: {mode}}}", [])
    m = archspec.compile(path)
    x = torch.randn(16, 3, 4, 4)
    for seed in range(3):
        torch.manual_seed(seed)
        got = m.train()(x)
        torch.manual_seed(seed)
        assert torch.equal(got, tv.ops.stochastic_depth(x, p, mode, training=True))
    assert torch.equal(m.eval()(x), x)
    if 0 < p < 1 and mode == "row":      # some samples dropped, the rest scaled
        torch.manual_seed(0)
        y = m.train()(x)
        kept = [i for i in range(16) if y[i].abs().sum() > 0]
        assert 0 < len(kept) < 16 and all(torch.allclose(y[i], x[i] / (1 - p)) for i in kept)


def test_init_rule_names_only_the_classes_the_file_defines(spec_file):
    """An init rule for an op with a helper class (LayerNorm2d) on a graph that only uses the
    torch class (1-d layernorm) must not name the undefined helper."""
    path = spec_file("archspec: 1\ninput: [6]\ninit: {layernorm: {weight: 1, bias: 0}}\nnodes:\n"
                     "  - ln: {op: layernorm}\n")
    model = archspec.compile(path)
    assert float(model.ln.weight.detach().sum()) == 6.0


def _torch_target(fn: str):
    """The torch class (`nn.Conv2d`) or function (`F.dropout`) a Call names, None for another
    (the ops' helper classes, methods, operators) or one whose signature Python cannot read."""
    owner, _, name = fn.partition(".")
    target = getattr({"nn": nn, "F": F}.get(owner), name, None) if name else None
    try:
        params = inspect.signature(target).parameters if target is not None else None
    except (TypeError, ValueError):          # a builtin (F.avg_pool2d)
        return None
    return None if params is None or any(p.kind is p.VAR_POSITIONAL for p in params.values()) else params


def _signature_problems(call) -> list[str]:
    """A torch call against torch's own signature: its arguments after the inputs it is applied
    to, the required ones positional and in torch's order, the optional ones by keyword, each
    left out at torch's default (the op's `kw` default is torch's; one the op never leaves out
    takes a value other than torch's). torch's default None for a functional argument (F.pad's
    value) stands for a value that the op may write as its default."""
    params = _torch_target(call.fn)
    if params is None:
        return []
    names = list(params)[len(call.inputs):]
    required = [n for n in names if params[n].default is inspect.Parameter.empty]
    positional = [a for a, _ in call.args]
    out = [] if positional == required else [f"{call.fn}: positional {positional}, torch's required {required}"]
    for name, value, default in call.kwargs:
        torchs = params[name].default if name in params else inspect.Parameter.empty
        if torchs is inspect.Parameter.empty:
            out.append(f"{call.fn}: {name} by keyword, not one of torch's optional arguments")
        elif default is not _NO_DEFAULT and not _same(default, torchs) and not (torchs is None and call.fn[0] == "F"):
            out.append(f"{call.fn}: {name}'s default {default!r}, torch's {torchs!r}")
        elif _same(value, torchs) and not _same(value, default):
            out.append(f"{call.fn}: {name}={value!r} written, torch's default")
    return out


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("case_id,shape,node,before,label", CASES, ids=[c[0] for c in CASES])
def test_torch_calls_are_written_as_torch_signs_them(tmp_path, case_id, shape, node, before, label):
    """Each op's nn module and functional call, as torchvision writes them: required arguments
    positional, optional ones by keyword, left out at torch's default (`nn.LocalResponseNorm(5,
    alpha=0.0005, k=2.0)`, not `(5, 0.0005, 0.75, 2.0)`); the defaults the ops leave out are
    torch's (inspect.signature), as ir.InitRule's are torch.nn.init's."""
    n = archspec.analyze(_spec(tmp_path, case_id, shape, node, before)).nodes["x"]
    shapes = list(n.in_shapes)
    module, own = n.op.module(n.attrs, shapes, n.shape), n.op.parameter(n.attrs, shapes, n.shape)
    calls = [c for c in (module, own, node_expr(n, params=int(own is not None))) if isinstance(c, Call)]
    assert [p for c in calls for p in _signature_problems(c)] == []


def test_the_signature_check_finds_calls_torch_would_not_write():
    """The check is not blind: LRN's arguments as the op wrote them before (optional ones
    positional, k at torch's 1.0 written), a keyword default that is not torch's, a required
    argument by keyword."""
    lrn = Call("nn.LocalResponseNorm", (("size", 5), ("alpha", 1e-4), ("beta", 0.75), ("k", 1.0)))
    assert _signature_problems(lrn) == [
        "nn.LocalResponseNorm: positional ['size', 'alpha', 'beta', 'k'], torch's required ['size']"]
    assert _signature_problems(Call("nn.Dropout", (), (kw("p", 0.2, 0.2),))) == [
        "nn.Dropout: p's default 0.2, torch's 0.5"]
    assert _signature_problems(Call("F.dropout", (), (kw("p", 0.5),)).on("x")) == [
        "F.dropout: p=0.5 written, torch's default"]
    assert _signature_problems(Call("nn.Linear", (("in_features", 4),), (kw("out_features", 2),))) == [
        "nn.Linear: positional ['in_features'], torch's required ['in_features', 'out_features']",
        "nn.Linear: out_features by keyword, not one of torch's optional arguments"]
    assert _signature_problems(Call("nn.Conv2d", (("in_channels", 4), ("out_channels", 2), ("kernel_size", 3)),
                                    (kw("stride", 1, 1), kw("groups", 2, 1)))) == []
