"""The training sweep: each valid point, once per seed, trained by `archspec.pytorch.train` as a
Ray task, on a local Ray instance (the machine's cores, or --cpus) or a cluster (--address).
A trial that fails is a row with its error, and the others go on; every finished trial is written
at once, and a re-run reads finished trials back (by their key) instead of training them again.
A trial's folder keeps its checkpoint: a trial interrupted mid-way resumes from its last epoch.
Ray and torch are imported inside the functions (Ray's in the driver, torch's in the workers)."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import time
from typing import Any

from ..errors import Diagnostic, Loc, SpecErrors
from ..names import one_line
from . import results
from .count import Row, error_text
from .results import TRAINED, record

NEEDS = ("ray", "torch", "torchvision", "sklearn", "tqdm")


def check_extras() -> None:
    """Ray and the `train` extra are there (before anything is counted)."""
    missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        raise SpecErrors([Diagnostic(Loc("--train"), f"a training sweep needs {', '.join(missing)}",
                                     hint="pip install 'archspec[sweep,train]'")])


def _data(data: str) -> str:
    """--data with its folder absolute: a Ray worker's working folder is not ours."""
    return "folder:" + os.path.abspath(data[len("folder:"):]) if data.startswith("folder:") else data


def spec_digest(spec: str, sets: list[str]) -> str:
    """SHA-256 of the text of the spec and every file it extends or uses: an edited spec is a new
    network, its trials trained again."""
    from .. import load
    from ..frontend.yamlpos import read_text
    digest = hashlib.sha256()
    for path in dict.fromkeys(load(spec, sets).files):
        digest.update(read_text(path, path).encode() + b"\0")
    return digest.hexdigest()


def trial_key(spec: str, digest: str, sets: list[str], data: str, train: dict, asha: list | None) -> str:
    """Everything that decides a trial's result (ASHA's rungs too: it may stop a trial), as one text."""
    return json.dumps({"spec": os.path.realpath(spec), "text": digest, "sets": sets, "data": data, "train": train,
                       **({"asha": asha} if asha else {})}, sort_keys=True)


def _trials(opts, spec_sets: list[str], shared: dict, kept: list[Row], done: dict) -> tuple[list[dict], list]:
    """Each trial's record (a finished one's figures read back) and those left to train."""
    records, pending = [], []
    digest = spec_digest(opts.spec, spec_sets)
    asha = [opts.asha_eta, opts.asha_min_epochs] if opts.asha else None
    for row in kept:
        if row.counts is None:
            records.append(record(row))           # an invalid point: listed, never trained
            continue
        for seed in range(opts.seeds):
            rec = record(row, seed)
            train = {**shared, **row.point.train(), "seed": seed}
            sets = spec_sets + row.point.spec_sets()
            rec["key"] = trial_key(opts.spec, digest, sets, _data(opts.data), train, asha)
            if rec["key"] in done:
                rec.update({k: done[rec["key"]].get(k) for k in TRAINED})
            else:
                name = f"p{row.index}-s{seed}-{hashlib.sha1(rec['key'].encode()).hexdigest()[:10]}"
                pending.append((rec, sets, train, os.path.join(os.path.abspath(opts.output), "trials", name)))
            records.append(rec)
    return records, pending


def train_sweep(opts, spec_sets: list[str], shared: dict, kept: list[Row], header: dict) -> list[dict]:
    """Every trial's record, in point and seed order; results are written as each trial ends."""
    records, pending = _trials(opts, spec_sets, shared, kept, results.finished(opts.output))
    trials = sum(1 for r in records if "key" in r)
    print(f"training {len(pending)} of {trials} trial{'s' if trials != 1 else ''} on Ray"
          + (f" ({trials - len(pending)} finished earlier: read back from {results.JSON})"
             if trials > len(pending) else ""))
    keys = header["keys"]
    if pending and opts.asha:
        _epochs(pending)        # one count, checked before Ray starts
    if pending:
        _run(opts, pending, lambda: results.write(opts.output, header, keys, records, True))
    return records


def _init(opts) -> bool:
    """Start Ray (or join --address); False where this process already had it running."""
    import ray
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")    # Ray asks the network for nothing
    if opts.address:
        ray.init(address=opts.address, log_to_driver=False)
        return True
    # local workers import this very archspec (a checkout on PYTHONPATH, or the installed one)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=opts.cpus, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    return True


def _run(opts, pending: list, save) -> None:
    """The pending trials as Ray tasks (all at once, or rung by rung with --asha); each result
    into its record, saved as it comes."""
    import ray
    started = _init(opts)
    try:
        gpus = opts.gpus_per_trial
        if gpus is None:        # a GPU each where the cluster has GPUs
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray.remote(num_cpus=opts.cpus_per_trial, num_gpus=gpus, max_retries=0)(run_trial)

        def submit(item, epochs: int | None = None):
            rec, sets, train, folder = item
            return task.remote(os.path.abspath(opts.spec), sets, _data(opts.data),
                               train if epochs is None else {**train, "epochs": epochs}, folder, opts.cpus_per_trial)
        (_asha if opts.asha else _all)(opts, pending, save, submit, gpus)
    except KeyboardInterrupt:
        print(f"interrupted: the finished trials are in {results.JSON}; the same command goes on from them",
              file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if started:
            ray.shutdown()


def _outcome(ref) -> dict:
    """A finished task's figures, or its error: a worker that died (memory, a signal) too."""
    import ray
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as e:
        return {"error": f"the trial's Ray task failed: {type(e).__name__}: {one_line(e, 300)}"}


def _all(opts, pending: list, save, submit, gpus: float) -> None:
    import ray
    refs = {submit(item): item[0] for item in pending}
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1)
        rec = refs.pop(ready[0])
        rec.update(_outcome(ready[0]))
        save()
        print(_line(rec), flush=True)


def _asha(opts, pending: list, save, submit, gpus: float) -> None:
    """ASHA (asha.py): as many trials in flight as the cluster runs at once, promotions first."""
    import ray

    from .asha import Asha, ladder
    resources = ray.cluster_resources()
    slots = max(1, int(resources.get("CPU", 1) // opts.cpus_per_trial))
    if gpus:
        slots = max(1, min(slots, int(resources.get("GPU", 0) // gpus)))
    rungs = ladder(opts.asha_min_epochs, _epochs(pending), opts.asha_eta)
    state = Asha(len(pending), rungs, opts.asha_eta)
    refs: dict = {}
    while True:
        while len(refs) < slots and (job := state.job()) is not None:
            refs[submit(pending[job[0]], rungs[job[1]])] = job
        if not refs:
            return
        ready, _ = ray.wait(list(refs), num_returns=1)
        trial, rung = refs.pop(ready[0])
        rec = pending[trial][0]
        spent = rec.get("train_time_s") or 0.0
        rec.update(_outcome(ready[0]))
        if rec.get("train_time_s") is not None:
            rec["train_time_s"] = round(spent + rec["train_time_s"], 3)
        state.report(trial, rung, None if rec.get("error") else rec["top1_error"])
        save()
        print(_line(rec) + f" [rung {rung + 1}/{len(rungs)}: {rungs[rung]} epochs]", flush=True)


def _epochs(pending: list) -> int:
    """The full epochs of every trial (one count: ASHA compares trials rung by rung)."""
    from ..pytorch.train import Config
    counts = {item[2].get("epochs", Config.epochs) for item in pending}
    if len(counts) > 1:
        raise SpecErrors([Diagnostic(Loc("--asha"), f"the trials train {sorted(counts)} epochs: ASHA compares "
                                     "them rung by rung, at one count", hint="sweep train.epochs without --asha")])
    return counts.pop()


def _line(rec: dict) -> str:
    what = f"point {rec['point']} seed {rec['seed']}"
    if rec.get("error"):
        return f"{what}: failed: {rec['error']}"
    top5 = "" if rec.get("top5_error") is None else f", top-5 error {rec['top5_error']:.2%}"
    return f"{what}: top-1 error {rec['top1_error']:.2%}{top5} ({rec['train_time_s']:.1f} s)"


def run_trial(spec: str, sets: list[str], data: str, train: dict[str, Any], folder: str, threads: int) -> dict:
    """One trial, in a Ray worker: its figures, or its error (never raised: the sweep goes on).
    The log goes to FOLDER/train.log, the checkpoint to FOLDER/last.pt (resumed where it is)."""
    from ..pytorch.train import Config
    from ..pytorch.train import train as train_network
    from ..pytorch.train.checkpoint import LAST
    os.makedirs(folder, exist_ok=True)
    start = time.perf_counter()
    with open(os.path.join(folder, "train.log"), "a") as log:
        try:
            cfg = Config(spec, sets, data=data, progress=False, log=lambda s: print(s, file=log, flush=True),
                         checkpoint=folder, resume=os.path.exists(os.path.join(folder, LAST)), threads=threads,
                         **train)
            result = train_network(cfg)
        except SpecErrors as e:
            return {"error": error_text(e)}
        except Exception as e:      # noqa: BLE001 - a trial's failure is its row, the sweep goes on
            print(f"{type(e).__name__}: {e}", file=log)
            return {"error": f"{type(e).__name__}: {one_line(e, 300)}"}
    last = result.history[-1]
    return {"epochs": len(result.history), "top1_error": last.test_top1_error, "top5_error": last.test_top5_error,
            "train_time_s": round(time.perf_counter() - start, 3), "checkpoint": os.path.join(folder, LAST)}
