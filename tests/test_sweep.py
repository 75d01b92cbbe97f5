"""`archspec sweep`: grids and samples of a spec family counted torch-free (their counts those of
`archspec summary --set`), invalid points and --where, the papers' tables as sweeps (WRN's Table 4,
ResNeXt's Tables 2 and 3), bad input as located errors, and the training sweep on a local Ray
instance with its resume."""
import csv
import json
import re
import shlex
import subprocess
import sys

import pytest
from paths import ROOT

from archspec import analyze, load
from archspec.cli import main
from archspec.sweep.asha import Asha, ladder
from archspec.sweep.plots import pareto
from archspec.sweep.space import split_values

WRN = str(ROOT / "specs" / "wrn_cifar.yaml")
REF = ROOT / "tests" / "reference"


def sweep(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["sweep", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def rows(folder) -> list[dict]:
    return json.loads((folder / "results.json").read_text())["rows"]


def test_a_wrn_grid_counts_what_summary_counts(tmp_path, capsys):
    """depth x k, 2 x 3 = 6 points, each one's params and MACs those of `summary --set`; results.csv
    holds the same rows, the swept keys as columns."""
    rc, out, _ = sweep(capsys, WRN, "--grid", "depth=16,28", "--grid", "k=2,4,8", "-o", str(tmp_path))
    assert rc == 0 and "counted 6 points" in out and "6 valid, 0 invalid" in out
    got = rows(tmp_path)
    assert [(r["depth"], r["k"]) for r in got] == [(16, 2), (16, 4), (16, 8), (28, 2), (28, 4), (28, 8)]
    for r in got:
        assert main(["summary", WRN, "--set", f"depth={r['depth']}", "--set", f"k={r['k']}", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert (r["params"], r["macs"], r["activations"]) == (summary["params"], summary["macs"],
                                                              summary["activations"])
        assert r["error"] is None and r["memory_bytes"] > 4 * r["params"]
    with open(tmp_path / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["point", "depth", "k", "params", "macs", "activations", "memory_bytes", "error"]
    assert [int(t["params"]) for t in table] == [r["params"] for r in got]
    assert (tmp_path / "params_vs_macs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_memory_is_summarys_at_the_sweeps_batch(tmp_path, capsys):
    """memory_bytes is `summary --batch B`'s total; train.batch_size of a point wins over --batch-size."""
    from archspec.reports.memory import training_memory
    assert sweep(capsys, WRN, "--grid", "depth=10", "--grid", "train.batch_size=8,64", "--batch-size", "16",
                 "-o", str(tmp_path), "--no-pictures")[0] == 0
    g = analyze(load(WRN, ["depth=10"]))
    assert [r["memory_bytes"] for r in rows(tmp_path)] == [training_memory(g, 8).total, training_memory(g, 64).total]


def _commands(script) -> list[list[str]]:
    """The `archspec sweep` command lines of an example script (backslash continuations joined)."""
    text = script.read_text().replace("\\\n", " ")
    return [shlex.split(line)[1:] for line in text.splitlines() if line.startswith("archspec sweep")]


def _run_example(argv: list[str], tmp_path, capsys) -> list[dict]:
    argv = [a.replace('"$@"', "") for a in argv if a != "$@"]
    out = argv.index("-o")
    argv[out + 1] = str(tmp_path / argv[out + 1].replace("/", "_"))
    argv[1] = str(ROOT / argv[1])
    assert main(argv + ["--no-pictures"]) == 0
    capsys.readouterr()
    return rows(tmp_path / argv[out + 1].rpartition("/")[2])


def test_the_wrn_example_reproduces_table_4(tmp_path, capsys):
    """All 24 WRN-d-k of the grid count; the ten Table 4 prints equal ours rounded to 0.1M."""
    (argv,) = _commands(ROOT / "examples" / "sweeps" / "wrn_table4.sh")
    got = {f"{r['depth']}-{r['k']}": r["params"] for r in _run_example(argv, tmp_path, capsys)}
    assert len(got) == 24
    printed = json.loads((REF / "wrn_table4.json").read_text())["params_millions"]
    assert {name: round(got[name] / 1e6, 1) for name in printed} == printed


def test_the_resnext_example_keeps_table_2s_settings(tmp_path, capsys):
    """--where's parameter band keeps exactly Table 2's (C, d) among the 25 of the grid, for ResNet-50
    and -101; each conv2 block's weights are Sec. 3.4's C(256d + 9d^2 + 256d), within 2.1% of its
    ~70k (8x14d: 71,456, the farthest); the MACs are the papers' ~4.1 and ~7.8 billion within 5%
    (the d were chosen to preserve complexity roughly: 8x14d is 4.1% over); Table 1's ResNet-50 and
    ResNeXt-50 32x4d as printed (params cut to 0.1M: 25,557,032 is printed 25.5; MACs rounded)."""
    ref = json.loads((REF / "resnext_table2.json").read_text())
    settings = [tuple(s) for s in ref["settings"]]
    assert [c * d for c, d in settings] == ref["group_conv_width"]
    commands = _commands(ROOT / "examples" / "sweeps" / "resnext_table3.sh")
    for argv, net in zip(commands, ("resnet50", "resnet101")):
        got = _run_example(argv, tmp_path, capsys)
        assert [(r["groups"], r["base_width"]) for r in got] == settings
        flops = ref["table3_flops_1e9"][net] * 1e9
        assert all(abs(r["macs"] - flops) < 0.05 * flops for r in got), [r["macs"] for r in got]
        if net == "resnet50":
            for r, name in ((got[0], "resnet50"), (got[-1], "resnext50_32x4d")):
                t1 = ref["table1"][name]
                assert (int(r["params"] / 1e5) / 10, round(r["macs"] / 1e9, 1)) == (t1["params_1e6"], t1["flops_1e9"])
    for c, d in settings:
        g = analyze(load(str(ROOT / "specs" / "resnet50.yaml"), [f"groups={c}", f"base_width={d}"]))
        block = sum(g.nodes[f"layer1.1.conv{i}"].params for i in (1, 2, 3))
        assert block == c * (256 * d + 9 * d * d + d * 256)
        assert abs(block - ref["block_params"]) <= 0.021 * ref["block_params"]


def test_sampling_is_seeded_and_stays_in_its_ranges(tmp_path, capsys):
    def drawn(seed: str) -> list[tuple]:
        assert sweep(capsys, WRN, "--sample", "30", "--seed", seed, "--range", "depth=10:40:int", "--range",
                     "train.lr=0.001:0.1:log", "--grid", "k=1,2", "-o", str(tmp_path), "--no-pictures")[0] == 0
        return [(r["depth"], r["train.lr"], r["k"]) for r in rows(tmp_path)]
    first = drawn("1")
    assert drawn("1") == first and drawn("2") != first and len(first) == 30
    assert all(isinstance(d, int) and 10 <= d <= 40 and 0.001 <= lr <= 0.1 and k in (1, 2) for d, lr, k in first)
    assert len({d for d, _, _ in first}) > 5 and len({k for _, _, k in first}) == 2


def test_where_keeps_the_points_it_holds_for(tmp_path, capsys):
    rc, out, _ = sweep(capsys, WRN, "--grid", "depth=16,22,28,40", "--grid", "k=1,2,4", "--where",
                       "params < 2e6 and depth > 16", "-o", str(tmp_path), "--no-pictures")
    got = rows(tmp_path)
    assert rc == 0 and "--where kept 5, dropped 7" in out
    assert [(r["depth"], r["k"]) for r in got] == [(22, 1), (22, 2), (28, 1), (28, 2), (40, 1)]
    assert all(r["params"] < 2e6 for r in got)


def test_an_invalid_point_is_a_row_with_its_located_error(tmp_path, capsys):
    """k=0 makes a conv of 0 channels (at its line in the spec), k=x is no int (at its --set): both are
    rows with the error, listed on stderr; the valid point is counted; the sweep succeeds."""
    rc, out, err = sweep(capsys, WRN, "--grid", "depth=10", "--grid", "k=0,1,x", "-o", str(tmp_path),
                         "--no-pictures")
    assert rc == 0 and "1 valid, 2 invalid" in out
    bad, good, text = rows(tmp_path)
    assert re.match(r".*wrn_cifar\.yaml:\d+:\d+: error: block1\.0\.conv1: attribute 'out' of conv", bad["error"])
    assert text["error"].startswith("--set k=x: error: parameter 'k' expects int")
    assert good["error"] is None and good["params"] == analyze(load(WRN, ["depth=10", "k=1"])).params
    assert bad["params"] is None and "invalid point 0 (depth=10, k=0): " in err and "invalid point 2" in err


@pytest.mark.parametrize("args, message", [
    (["--grid", "dpth=16,22"], "--grid dpth=16,22: error: unknown parameter 'dpth'\n  hint: did you mean 'depth'?"),
    (["--grid", "depth"], "--grid depth: error: expected KEY=VALUES"),
    (["--grid", "depth=16,,22"], "--grid depth=16,,22: error: an empty value"),
    (["--grid", "depth=16", "--grid", "depth=22"], "--grid depth=22: error: 'depth' is swept twice"),
    (["--range", "depth=10:40"], "--range depth=10:40: error: a range is sampled: give --sample N"),
    (["--sample", "3", "--range", "depth=40:10"], "--range depth=40:10: error: LO (40) must be below HI (10)"),
    (["--sample", "3", "--range", "train.lr=0:1:log"], "error: a log range needs LO > 0, got 0"),
    (["--sample", "3", "--range", "depth=1:x"], "error: expected KEY=LO:HI, then :log and/or :int"),
    (["--grid", "train.lr=0.1,-1"], "--grid train.lr=0.1,-1: error: train.lr must be positive, got -1"),
    (["--grid", "train.optimiser=sgd"], "error: unknown training option 'train.optimiser'\n  hint: did you mean"),
    (["--grid", "train.optimizer=lbfgs"], "error: train.optimizer takes sgd or rmsprop or adam or adamw, got 'lbfgs'"),
    (["--grid", "k=1,2", "--where", "parms < 1e6"], "--where parms < 1e6: error: undefined name 'parms'"),
    (["--grid", "k=1,2", "--where", "params + 1"], "--where params + 1: error: gives "),
    (["--grid", "k=1,2", "--where", "__import__('os')"], "--where __import__('os'): error: only these functions"),
    (["--grid", "k=1", "--set", "depht=10"], "--set depht=10: error: unknown parameter 'depht'"),
    ([], "archspec sweep: error: nothing to sweep"),
])
def test_bad_input_is_a_located_error(tmp_path, capsys, args, message):
    rc, out, err = sweep(capsys, WRN, *args, "-o", str(tmp_path / "out"))
    assert rc == 1 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_a_training_sweep_without_ray_says_what_to_install(tmp_path, capsys, monkeypatch):
    from archspec.sweep import trials
    monkeypatch.setattr(trials, "NEEDS", ("ray", "no_such_module_for_archspec"))
    rc, out, err = sweep(capsys, WRN, "--grid", "k=1", "--train", "-o", str(tmp_path / "out"))
    assert rc == 1 and out == "" and not (tmp_path / "out").exists()
    assert err == ("--train: error: a training sweep needs no_such_module_for_archspec\n"
                   "  hint: pip install 'archspec[sweep,train]'\n")


def test_helpers():
    assert split_values("[1,1],[2,2], 3") == ["[1,1]", "[2,2]", " 3"]
    points = [{"params": 1, "error": 0.5}, {"params": 2, "error": 0.6}, {"params": 3, "error": 0.2},
              {"params": 3, "error": 0.3}, {"params": 4, "error": 0.2}]
    assert [(p["params"], p["error"]) for p in pareto(points, "params")] == [(1, 0.5), (3, 0.2)]


def test_asha_promotes_the_best_of_each_rung_as_results_come():
    """Li et al. 2020, Algorithm 2: a free worker takes a promotion (the highest rung first: the best
    1/eta of a rung's results so far, not yet promoted), else a new trial; a failed trial never goes on."""
    assert ladder(1, 10, 3) == [1, 3, 9, 10] and ladder(1, 9, 3) == [1, 3, 9] and ladder(4, 2, 3) == [2]
    s = Asha(5, [1, 2, 4], 2)
    assert [s.job() for _ in range(6)] == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), None]
    s.report(0, 0, 0.5)
    assert s.job() is None                      # one result: the best half of it is nobody
    s.report(1, 0, 0.3)
    assert s.job() == (1, 1) and s.job() is None
    s.report(2, 0, 0.1)
    s.report(4, 0, None)                        # failed
    assert s.job() == (2, 1) and s.job() is None
    s.report(3, 0, 0.9)                         # 4 results: the best 2 are 2 and 1, both promoted
    assert s.job() is None
    s.report(1, 1, 0.2)
    s.report(2, 1, 0.05)
    assert s.job() == (2, 2) and s.job() is None


def test_a_sampled_training_sweeps_pictures(tmp_path):
    """Mean errors per point over its seeds (failed trials left out; with ASHA, the trials stopped
    early too), and the three pictures of a sampled space, the error EDF among them."""
    pytest.importorskip("matplotlib")
    from archspec.sweep.plots import by_point, draw
    records = [{"point": p, "k": p + 1, "seed": s, "params": 10 ** (p + 3), "macs": 10 ** (p + 5),
                "epochs": 3 if p else 1, "top1_error": 0.1 * (p + 1) + 0.01 * s, "error": None}
               for p in range(3) for s in range(2)] + [{"point": 3, "k": 4, "seed": 0, "params": 5, "macs": 5,
                                                          "epochs": 3, "top1_error": None, "error": "diverged"}]
    means = [(p["label"], round(p["error"], 3)) for p in by_point(records, ["k"])]
    assert means == [("k=1", 0.105), ("k=2", 0.205), ("k=3", 0.305)]
    assert [p["label"] for p in by_point(records, ["k"], full_only=True)] == ["k=2", "k=3"]
    paths = draw(str(tmp_path), records, ["k"], True, True)
    assert [p.rpartition("/")[2] for p in paths] == ["params_vs_error.png", "macs_vs_error.png", "error_edf.png"]
    assert all((tmp_path / name).read_bytes()[:4] == b"\x89PNG" for name in ("error_edf.png", "macs_vs_error.png"))


def test_a_counting_sweep_imports_neither_torch_nor_ray(tmp_path):
    code = ("import sys; from archspec.cli import main; "
            f"rc = main(['sweep', {WRN!r}, '--grid', 'depth=10,16', '-o', {str(tmp_path)!r}]); "
            "print(rc, sorted(m for m in ('torch', 'ray') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.stdout.strip().endswith("0 []"), r.stdout + r.stderr


def test_a_trials_key_holds_the_text_of_the_spec_and_its_base(tmp_path):
    """A finished trial is read back by its key: editing the spec, or a file it extends, is a new key."""
    from archspec.sweep.trials import spec_digest, trial_key
    for name in ("wrn_cifar.yaml", "wrn28_10.yaml"):
        (tmp_path / name).write_text((ROOT / "specs" / name).read_text())
    spec = str(tmp_path / "wrn28_10.yaml")
    before = spec_digest(spec, [])
    key = trial_key(spec, before, ["k=2"], "digits", {"lr": 0.1, "seed": 0}, None)
    assert key == trial_key(spec, spec_digest(spec, []), ["k=2"], "digits", {"seed": 0, "lr": 0.1}, None)
    assert key != trial_key(spec, before, ["k=2"], "digits", {"lr": 0.1, "seed": 0}, [3, 1])   # --asha may stop it
    base = tmp_path / "wrn_cifar.yaml"
    base.write_text(base.read_text().replace("dropout: 0.0", "dropout: 0.3"))
    assert spec_digest(spec, []) != before


def test_a_failed_trial_is_its_error_not_the_sweeps(tmp_path):
    """A trial that cannot train returns its located error (the sweep writes it in the row)."""
    pytest.importorskip("torch")
    from archspec.sweep.trials import run_trial
    got = run_trial(str(ROOT / "specs" / "lenet5.yaml"), [], "digits", {"batch_size": 5000, "epochs": 1},
                    str(tmp_path / "t"), 1)
    assert got == {"error": "--batch-size: error: 5000 is more than the 1,347 training images"}


@pytest.mark.slow
def test_a_training_sweep_on_ray_and_its_resume(tmp_path, capsys, monkeypatch):
    """LeNet-5 on digits, 2 learning rates x 2 seeds, 1 epoch, on a local Ray instance of 2 CPUs:
    4 rows with top-1 errors and checkpoints; the same command again trains nothing: every row read
    back, equal, no trial handed to Ray (counted at trials._run, the one way to it) and every file
    of every trial's folder (checkpoint, log) unchanged to the byte and the nanosecond. A mutant
    that printed "training 0 of 4" and rows read back but ran the 4 trials again failed both."""
    pytest.importorskip("ray")
    pytest.importorskip("torch")
    from archspec.sweep import trials
    handed: list[int] = []          # the trials each call hands to Ray
    real = trials._run
    monkeypatch.setattr(trials, "_run", lambda opts, pending, save: handed.append(len(pending)) or
                        real(opts, pending, save))
    argv = [str(ROOT / "specs" / "lenet5.yaml"), "--train", "--data", "digits", "--grid", "train.lr=0.001,0.002",
            "--seeds", "2", "--set", "train.epochs=1", "--cpus", "2", "-o", str(tmp_path)]
    rc, out, err = sweep(capsys, *argv)
    assert rc == 0 and "training 4 of 4 trials on Ray" in out, out + err
    assert handed == [4]
    got = rows(tmp_path)
    assert [(r["train.lr"], r["seed"]) for r in got] == [(0.001, 0), (0.001, 1), (0.002, 0), (0.002, 1)]
    for r in got:
        assert r["error"] is None and 0 <= r["top1_error"] < 0.9 and 0 <= r["top5_error"] <= r["top1_error"]
        assert r["params"] == 60000 and (tmp_path / r["checkpoint"]).is_file() and r["train_time_s"] > 0
    assert len({r["top1_error"] for r in got}) > 1        # seeds and rates train differently
    for name in ("params_vs_error.png", "macs_vs_error.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"

    def trial_files() -> dict:
        return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (tmp_path / "trials").rglob("*") if p.is_file()}
    before = trial_files()
    assert sum(p.name == "last.pt" for p in before) == 4
    rc, out, err = sweep(capsys, *argv)
    assert rc == 0 and "training 0 of 4 trials on Ray (4 finished earlier" in out, out + err
    assert rows(tmp_path) == got
    assert handed == [4], handed
    assert trial_files() == before


@pytest.mark.slow
def test_an_interrupted_trial_resumes_from_its_checkpoint(tmp_path):
    """A trial's folder keeps last.pt after every epoch: run again there (a sweep stopped mid-way), it
    continues from it, not from scratch, and reports the same figures for the epochs done."""
    pytest.importorskip("torch")
    from archspec.sweep.trials import run_trial
    args = (str(ROOT / "specs" / "lenet5.yaml"), [], "digits", {"epochs": 1, "lr": 0.002}, str(tmp_path), 1)
    first = run_trial(*args)
    assert "error" not in first and first["top1_error"] < 0.9
    again = run_trial(*args)
    log = (tmp_path / "train.log").read_text()
    assert "resumed after epoch 1" in log and log.count("epoch 1/1:") == 1
    assert (again["top1_error"], again["top5_error"]) == (first["top1_error"], first["top5_error"])


@pytest.mark.slow
def test_asha_stops_the_poor_trials_early(tmp_path, capsys):
    """4 learning rates, 3 epochs, eta 2 on local Ray: rungs of 1, 2 and 3 epochs; some trial trains
    all 3, some stop after 1, fewer epochs in all than 4 x 3; a promoted trial goes on from its
    checkpoint (its log says it resumed); the pictures plot the full trials only."""
    pytest.importorskip("ray")
    pytest.importorskip("torch")
    rc, out, err = sweep(capsys, str(ROOT / "specs" / "lenet5.yaml"), "--train", "--grid",
                         "train.lr=0.0003,0.001,0.002,0.004", "--set", "train.epochs=3", "--asha", "--asha-eta", "2",
                         "--cpus", "2", "-o", str(tmp_path))
    assert rc == 0 and "[rung 3/3: 3 epochs]" in out, out + err
    got = rows(tmp_path)
    epochs = sorted(r["epochs"] for r in got)
    assert all(r["error"] is None for r in got) and epochs[0] == 1 and epochs[-1] == 3 and sum(epochs) < 12
    full = [r for r in got if r["epochs"] == 3]
    assert "resumed after epoch 2" in (tmp_path / full[0]["checkpoint"]).with_name("train.log").read_text()
