"""Training compiled specs: `archspec train` and `archspec visualize` over this package.

    from archspec.pytorch.train import Config, train
    result = train(Config("specs/lenet5.yaml", data="digits", epochs=20))

May import: the shared modules, ir, the front end, analysis and the compiler; never the cli
(tests/test_layout.py).
"""
from __future__ import annotations

from .loop import Config, Epoch, Result, train

__all__ = ["Config", "Epoch", "Result", "train"]
