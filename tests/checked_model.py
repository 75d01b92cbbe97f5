"""A small spec's generated module, checked: its source passes the whitelist, `check()` agrees,
its state_dict is the graph's, and its batch norms hold running statistics other than the
identity's, so that a forward in eval mode tests them too."""
from __future__ import annotations

import torch
from source_check import check_generated_source
from torch import nn

import archspec
from archspec.pytorch.compiler import check, load_source, source


def checked_model(text: str, spec_file) -> tuple[str, nn.Module]:
    """(source, the module in eval mode) of a spec text, written by the `spec_file` fixture."""
    path = spec_file(text)
    src = source(path)
    check_generated_source(src)
    assert check(path).ok
    model = load_source(src).Model().eval()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == archspec.analyze(path).state_dict_shapes()
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return src, model
