"""A long mutation-fuzzing campaign over the shipped specs (the engine of tests/test_fuzz.py,
driven by plain seeded random instead of hypothesis), in process, one alarm per mutant.

    python bench/fuzz.py --mutants 2000 --seed 1 --save /tmp/fuzzfail

Every mutant must end as a located SpecErrors or as a valid spec whose generated source is
whitelisted (tests/source_check.py), imports and builds on the meta device. The summary
groups everything else by exception type, stage and innermost archspec frame; with --save,
one example of each group is written there (report + mutant text). Exit status 1 when any
mutant failed or hung.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_fuzz as engine  # noqa: E402


def group_key(out: engine.Outcome) -> tuple:
    """What makes two failures the same bug: exception type, stage, innermost archspec frame,
    and for whitelist/property assertions the message with names and numbers blanked."""
    etype = type(out.error).__name__ if out.error is not None else out.kind
    msg = ""
    if isinstance(out.error, AssertionError) or out.stage == "files":
        text = str(out.error) if out.error is not None else out.detail
        text = re.sub(r"\(line \d+: .*", "", text.split("\n")[0])
        msg = re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "_", text)[:120]
    if out.kind == "hang":      # where the alarm landed is chance: one kind per archspec file
        return (out.kind, etype, "", out.frame.split(":")[0], "")
    return (out.kind, etype, out.stage, out.frame, msg)


def _limit_memory(gib: float) -> None:
    """Cap the heap (RLIMIT_DATA) at what the process holds now plus `gib`, so an exploding
    mutant is a MemoryError, not a dead machine."""
    if gib <= 0:
        return
    with open("/proc/self/status") as f:
        data_kb = next(int(line.split()[1]) for line in f if line.startswith("VmData"))
    limit = int(data_kb * 1024 + gib * 2**30)
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutants", type=int, default=100_000, help="mutants to run (default 100000)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per mutant before it counts as a hang")
    ap.add_argument("--save", metavar="DIR", help="write one example mutant per failure kind here")
    ap.add_argument("--max-mutations", type=int, default=3, help="mutations stacked per mutant, 1-3")
    ap.add_argument("--target", action="append", help="fuzz only these spec files (repeatable)")
    ap.add_argument("--memory-gib", type=float, default=8.0, help="extra heap a mutant may use (0: no cap)")
    ap.add_argument("--shallow", action="store_true",
                    help="stop at the meta build: no forward, no archspec.pytorch.compiler.check (faster)")
    ap.add_argument("--progress", type=int, default=500, help="print a line every N mutants (0: never)")
    args = ap.parse_args(argv)

    import archspec.pytorch.compiler  # noqa: F401 - import torch before the clock and the memory cap
    _limit_memory(args.memory_gib)
    targets = args.target or engine.TARGETS
    texts = {t: (engine.ROOT / t).read_text() for t in targets}
    rng = random.Random(args.seed)
    chooser = engine.RandomChooser(rng)
    counts: Counter = Counter()
    stages: Counter = Counter()
    groups: dict[tuple, dict] = {}
    if args.save:
        os.makedirs(args.save, exist_ok=True)
    start = time.perf_counter()
    n = 0
    for n in range(1, args.mutants + 1):
        target = chooser.pick(targets)
        text, steps = engine.mutate(texts[target], chooser, args.max_mutations)
        out = engine.run_mutant(target, text, timeout=args.timeout, hard_exit_after=max(60.0, 6 * args.timeout),
                                 deep=not args.shallow)
        counts[out.kind] += 1
        if out.kind == "rejected":
            stages[out.stage] += 1
        if out.kind in ("failure", "hang"):
            key = group_key(out)
            g = groups.setdefault(key, {"count": 0, "first": n, "target": target, "steps": steps,
                                        "detail": out.detail})
            g["count"] += 1
            if g["count"] == 1 and args.save:
                name = f"{len(groups):03d}-{out.kind}-{key[1]}-{out.stage}".replace("/", "_").replace(":", "_")
                base = os.path.join(args.save, name)
                Path(base + ".txt").write_text(engine.report(target, steps, text, out) + "\n")
                Path(base + ".yaml").write_text(text)
                g["file"] = base + ".txt"
        if args.progress and n % args.progress == 0:
            el = time.perf_counter() - start
            print(f"  {n} mutants, {n / el:.1f}/s: {counts['valid']} valid, {counts['rejected']} rejected, "
                  f"{counts['failure']} failures, {counts['hang']} hangs, {len(groups)} kinds", flush=True)
    elapsed = time.perf_counter() - start

    print(f"\nmutants {n} in {elapsed:.1f} s ({n / max(elapsed, 1e-9):.1f}/s), seed {args.seed}")
    print(f"  valid (built on meta)     {counts['valid']}")
    print(f"  rejected with SpecErrors  {counts['rejected']}  "
          f"({', '.join(f'{k} {v}' for k, v in stages.most_common())})")
    print(f"  other exceptions          {counts['failure']}")
    print(f"  hangs (> {args.timeout:g} s)          {counts['hang']}")
    if groups:
        print(f"\n{len(groups)} distinct failure kinds (kind, exception, stage, innermost archspec frame):")
        for key, g in sorted(groups.items(), key=lambda kv: -kv[1]["count"]):
            kind, etype, stage, frame, msg = key
            where = f"in {stage} at {frame}" if stage else f"in {frame}"
            print(f"- {g['count']:>5} x {kind} {etype} {where}" + (f" [{msg}]" if msg else ""))
            print(f"          e.g. {g['target']}: {'; '.join(g['steps'])}")
            print(f"          -> {g['detail'][:200].splitlines()[0] if g['detail'] else ''}")
            if g.get("file"):
                print(f"          saved: {g['file']}")
    return 1 if counts["failure"] or counts["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
