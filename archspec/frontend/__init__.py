"""The front end: a spec's YAML to the `Graph` (archspec/ir.py), no torch involved.

yamlpos (YAML read from events: values with file:line:col, the file limits) -> spec (the document,
`extends`, block libraries, `--set`, `init:` rules) -> syntax (a list's node forms, names and
dependency order) -> expand (blocks, repeats, `when:`, scopes, outputs; fanout counts a list's
fewest nodes before it is expanded) -> infer (one node's shape, tensors and MACs, by its op's
rules). expr is the `${...}` interpreter, schema the spec files' JSON Schema, gcpause pauses the
cyclic collector while a graph is built. archspec/analysis.py runs the stages (`load`, `analyze`).

May import: the shared modules at the top of archspec (errors, limits, names, files, plugins,
version), ir and ops. Never the back ends (reports/, pytorch/), the cli, analysis, or torch
(tests/test_layout.py)."""
