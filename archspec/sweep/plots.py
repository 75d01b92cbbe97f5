"""A sweep's pictures (matplotlib, the Agg back end: no display). A counting sweep: params vs
MACs. A training sweep: params vs top-1 error and MACs vs top-1 error, each point's error the mean
over its seeds, the Pareto front marked (no other point is both cheaper and better); for a sampled
space also the error EDF of Radosavovic et al. 2019 (On Network Design Spaces for Visual
Recognition, Sec. 3): F(e), the fraction of models with an error below e."""
from __future__ import annotations

import os
from collections import defaultdict

MAX_LABELS = 30          # points named beside their dot (more would cover the picture)


def by_point(records: list[dict], keys: list[str], full_only: bool = False) -> list[dict]:
    """One entry per trained point: its label, counts and mean top-1 error over its seeds (with
    `full_only`, over the trials that trained every epoch: ASHA stopped the others early)."""
    errors: dict[int, list[float]] = defaultdict(list)
    first: dict[int, dict] = {}
    full = max((r.get("epochs") or 0 for r in records), default=0)
    for r in records:
        if r.get("error") is None and r.get("top1_error") is not None and (not full_only or r.get("epochs") == full):
            errors[r["point"]].append(r["top1_error"])
            first.setdefault(r["point"], r)
    return [{"label": ", ".join(f"{k}={first[p][k]}" for k in keys), "params": first[p]["params"],
             "macs": first[p]["macs"], "error": sum(e) / len(e), "seeds": e} for p, e in sorted(errors.items())]


def pareto(points: list[dict], cost: str) -> list[dict]:
    """The points no other point beats: as cheap or cheaper and with a lower error; by cost."""
    front: list[dict] = []
    for p in sorted(points, key=lambda p: (p[cost], p["error"])):
        if not front or p["error"] < front[-1]["error"]:
            front.append(p)
    return front


def draw(folder: str, records: list[dict], keys: list[str], training: bool, sampled: bool,
         stopped_early: bool = False) -> list[str]:
    """The pictures' paths (none where matplotlib is missing: it says so)."""
    try:
        import matplotlib
    except ImportError:
        print("no pictures: they need matplotlib (pip install matplotlib)")
        return []
    matplotlib.use("Agg")
    if not training:
        valid = [r for r in records if r.get("params") is not None]
        return [_scatter(folder, "params_vs_macs.png", [{"label": _label(r, keys), "params": r["params"],
                                                         "error": r["macs"]} for r in valid],
                         "params", "MACs", None)] if valid else []
    points = by_point(records, keys, stopped_early)
    if not points:
        return []
    paths = [_scatter(folder, f"{cost}_vs_error.png", points, cost, "top-1 error (mean over seeds)",
                      pareto(points, cost)) for cost in ("params", "macs")]
    if sampled:
        paths.append(_edf(folder, points))
    return paths


def _label(r: dict, keys: list[str]) -> str:
    return ", ".join(f"{k}={r[k]}" for k in keys)


def _scatter(folder: str, name: str, points: list[dict], x: str, ylabel: str, front: list[dict] | None) -> str:
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    seeds = [(p[x], e) for p in points if len(p.get("seeds", ())) > 1 for e in p["seeds"]]
    if seeds:
        ax.scatter([c for c, _ in seeds], [e for _, e in seeds], s=9, color="tab:gray", alpha=0.6, zorder=1,
                   label="each seed")
    ax.scatter([p[x] for p in points], [p["error"] for p in points], s=22, color="tab:blue", zorder=2,
               label="points" if front is None or not seeds else "mean over seeds")
    if front:
        ax.plot([p[x] for p in front], [p["error"] for p in front], "-o", color="tab:red", ms=7, mfc="none",
                zorder=3, label="Pareto front")
        ax.legend(loc="best", fontsize=8)
    if len(points) <= MAX_LABELS:
        for p in points:
            ax.annotate(p["label"], (p[x], p["error"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    if front is None:
        ax.set_yscale("log")
    else:
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.2%}")
    ax.set_xlabel("MACs" if x == "macs" else "params")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = os.path.join(folder, name)
    fig.savefig(path)
    plt.close(fig)
    return path


def _edf(folder: str, points: list[dict]) -> str:
    import matplotlib.pyplot as plt
    errors = sorted(p["error"] for p in points)
    n = len(errors)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    ax.step([errors[0], *errors], [0, *[(i + 1) / n for i in range(n)]], where="post", color="tab:blue")
    ax.set_xlabel("top-1 error e")
    ax.set_ylabel("F(e): fraction of models with error < e")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
    ax.set_ylim(0, 1)
    ax.set_title(f"error EDF of {n} sampled models", fontsize=9)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = os.path.join(folder, "error_edf.png")
    fig.savefig(path)
    plt.close(fig)
    return path
