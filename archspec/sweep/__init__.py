"""Design-space sweeps (`archspec sweep`): many points of one spec family, counted at once and,
with `--train`, trained as Ray tasks.

space (the points: a grid or random samples of spec parameters and `train.KEY` recipe values),
count (each point validated and counted, `--where` kept; torch-free), results (results.csv and
results.json, read back to resume), plots (the pictures, matplotlib), trials (the training sweep
on Ray; torch and Ray are imported inside its functions only, in the Ray workers).

May import: the shared modules, ir, the front end, the reports, analysis and the package's
`load`/`analyze`, and pytorch/ inside functions only (a trial trains there). Never the cli
(tests/test_layout.py)."""
