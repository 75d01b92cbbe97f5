"""The PyTorch side: a `Graph` to PyTorch source and modules, and PyTorch models back to specs.

emit/ writes the source (and imports no torch itself), compiler runs that very source as a
module (load, build, check, export, any node's activations), importing/ turns a PyTorch model
into a spec (`archspec import`), train/ trains compiled specs and draws what they learned
(`archspec train`, `archspec visualize`). Only modules in this package import torch at module
level; this file imports nothing, so importing emit (which writes source) never loads torch.

May import: the shared modules, ir, ops, the front end, the reports, analysis and the package's
`load`/`analyze`. Never the cli (tests/test_layout.py)."""
