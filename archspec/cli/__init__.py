"""The command line (`archspec`, `python -m archspec`): commands (the parser and one function per
subcommand) and argtypes (bounded argument types). validate, summary, schema and diagram never
import torch: the PyTorch side is imported inside the commands that need it.

May import anything in archspec, pytorch/ only inside functions; nothing in archspec imports the
cli but __main__ (tests/test_layout.py)."""
from .commands import main

__all__ = ["main"]
