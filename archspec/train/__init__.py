"""Training compiled specs: `archspec train` and `archspec visualize` over this package.

    from archspec.train import Config, train
    result = train(Config("specs/lenet5.yaml", data="digits", epochs=20))
"""
from __future__ import annotations

from .loop import Config, Epoch, Result, train

__all__ = ["Config", "Epoch", "Result", "train"]
