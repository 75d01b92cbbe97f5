"""`archspec list`: a folder of specs as one table, each network with its counts and whether
its own `reference:` figures hold (the README's spec table is this command's output)."""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from ..errors import SpecErrors
from ..names import md_text, one_line


@dataclass
class Entry:
    file: str                 # the spec's path as given (folder/name.yaml)
    name: str
    title: str
    input: list[int]
    params: int               # eval mode: training-only heads left out, as figures are published
    macs: int
    reference: str            # the reference's source, "" where the spec states none
    holds: bool | None        # whether every stated figure holds; None without a reference
    error: str = ""           # the first error, for a spec that does not validate


def catalog(folder: str | Path) -> list[Entry]:
    """Every network spec in `folder` (block libraries are skipped), by file name."""
    from .. import analyze, load
    from .report import reference_summary
    entries = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            spec = load(str(path), library_ok=True)
            if spec.doc.nodes is None:
                continue
            g = analyze(spec)
        except SpecErrors as e:
            entries.append(Entry(str(path), path.stem, "", [], 0, 0, "", None, str(e.diagnostics[0])))
            continue
        ref = reference_summary(g) or {}
        ev = g.eval_counts()
        entries.append(Entry(str(path), g.name, one_line(g.meta.title or ""), list(g.input_shape),
                             ev["params"], ev["macs"], one_line(ref.get("source", "")),
                             ref.get("holds") if ref.get("checks") else None))
    return entries


def format_catalog(entries: list[Entry], fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps([asdict(e) for e in entries], indent=1, allow_nan=False)
    head = ["spec", "network", "input", "params", "MACs", "reference"]
    rows = [[e.file, e.title, "x".join(map(str, e.input)), f"{e.params:,}", f"{e.macs:,}", _reference(e)]
            for e in entries]
    if fmt == "md":     # spec text becomes Markdown text, never markup; the one link is ours
        rows = [[md_link(Path(r[0]).name, r[0]), *map(md_text, r[1:])] for r in rows]
    if fmt == "csv":
        from .report import csv_cell
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([head, *([csv_cell(c) for c in r] for r in rows)])
        return buf.getvalue()
    if fmt == "md":
        return "\n".join(["| " + " | ".join(head) + " |", "|---|---|---|--:|--:|---|",
                          *("| " + " | ".join(r) + " |" for r in rows)])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i in (3, 4) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     .rstrip() for r in [head, *rows])


def _reference(e: Entry) -> str:
    if e.error:
        return f"error: {one_line(e.error, 120)}"
    if e.holds is None:
        return "none stated"
    return f"{e.reference} ({'holds' if e.holds else 'DOES NOT HOLD'})"


def md_link(text: str, path: str) -> str:
    """A link to a spec file: the target percent-encoded, so no scheme (`javascript:`), `)` or
    space survives, and never `//host` (a link to another site)."""
    target = re.sub(r"^/+", "/", quote(path, safe="/"))
    return f"[{md_text(text)}]({target})"
