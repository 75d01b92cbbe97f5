"""The torch-free back ends: what a `Graph` says, as text, tables, diagrams and pages.

report (summaries, CSV and JSON, the rows the other views share), table (a paper's table from the
spec's `table:`), render (Graphviz diagrams), viewer (the interactive HTML page; its JavaScript
and CSS in assets/, package data), diff and diffdraw (`archspec diff` and its diagram), memory
(training memory), catalog (`archspec list`).

May import: the shared modules, ir, ops, the front end (table expands a spec's other
configurations), analysis and the package's `load`/`analyze`. Never torch, the cli or pytorch/
(memory reads which ops run in place from the IR, `Graph.in_place`; tests/test_layout.py)."""
