"""DIR/results.csv and DIR/results.json: one row per point (per point and seed when training),
the swept keys as columns, then the counts, the training figures and the error. The JSON keeps
each trained row's `key` (everything that decides its training), so a re-run reads a finished
row back instead of training it again."""
from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

from ..errors import Diagnostic, Loc, SpecErrors
from ..files import open_regular, write_atomic
from ..reports.report import csv_cell
from .count import COUNTS, Row

TRAINED = ("epochs", "top1_error", "top5_error", "train_time_s", "checkpoint")
CSV, JSON = "results.csv", "results.json"
MAX_RESULTS_BYTES = 256 * 2**20      # a results.json read back (100,000 rows are ~30 MiB)


def record(row: Row, seed: int | None = None) -> dict[str, Any]:
    """A row as the files hold it (the training figures are added when a trial ends)."""
    out: dict[str, Any] = {"point": row.index, **row.point.values}
    if seed is not None:
        out["seed"] = seed
    out.update(row.counts or dict.fromkeys(COUNTS))
    out["error"] = row.error
    return out


def columns(keys: list[str], training: bool) -> list[str]:
    return ["point", *keys, *(["seed"] if training else []), *COUNTS, *(TRAINED if training else ()), "error"]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return csv_cell(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def write(folder: str, header: dict, keys: list[str], records: list[dict], training: bool) -> list[str]:
    """Both files, each whole or not at all; their paths."""
    cols = columns(keys, training)
    text = io.StringIO()
    out = csv.writer(text, lineterminator="\n")
    out.writerow(cols)
    for r in records:
        out.writerow([_cell(r.get(c)) for c in cols])
    doc = {**header, "columns": cols, "rows": records}
    return [str(write_atomic(os.path.join(folder, CSV), text.getvalue())),
            str(write_atomic(os.path.join(folder, JSON), json.dumps(doc, indent=1) + "\n"))]


def finished(folder: str) -> dict[str, dict]:
    """The trained rows of an earlier run in `folder` (a top-1 error and no error), by key; none
    where there is no results.json. A file that is not an earlier sweep's is an error naming it."""
    path = os.path.join(folder, JSON)
    where = Loc(path)
    try:
        f = open_regular(path)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise SpecErrors([Diagnostic(where, f"cannot read it: {e.strerror}")]) from None
    if f is None:
        raise SpecErrors([Diagnostic(where, "not a regular file")])
    with f:
        data = f.read(MAX_RESULTS_BYTES + 1)
    try:
        doc = json.loads(data) if len(data) <= MAX_RESULTS_BYTES else None
    except (ValueError, RecursionError):
        doc = None
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise SpecErrors([Diagnostic(where, "not an archspec sweep's results (or over "
                                     f"{MAX_RESULTS_BYTES // 2**20} MiB)",
                                     hint="another -o DIR, or remove the file")])
    return {r["key"]: r for r in rows if isinstance(r, dict) and isinstance(r.get("key"), str)
            and r.get("error") is None and isinstance(r.get("top1_error"), (int, float))}
