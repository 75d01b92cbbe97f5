"""Checkpoints and training data are untrusted input (issue 25): what `visualize`, `train
--resume` and `train --data` must do with files written to break them. Each case states its
expected outcome (a located `error:` naming the file and the field, or a correct result) and a
bound: memory by an address-space limit set in a subprocess once torch is imported (its
baseline plus BUDGET), work by the function calls made in-process (tests/cost.py: the same count on
every machine; a wall-clock bound failed on a slower one).

Hostile checkpoints are forged here (`Forge`): torch.save's layout, with any claim in the pickle
(a storage's size, a tensor's shape, strides and offset) and any record (stored or deflated)."""
from __future__ import annotations

import io
import math
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from cost import within

import archspec
from archspec import load
from archspec.cli import main
from archspec.errors import SpecErrors
from archspec.limits import MAX_CHECKPOINT_TEXT, MAX_DATA_ELEMENTS
from archspec.pytorch.train import checkpoint, loop
from archspec.pytorch.train import recipe as recipes
from archspec.pytorch.train.loop import Config, Epoch

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 1 << 30            # bytes a hostile case may add to the subprocess once torch is imported
MOST = 40_000               # function calls (within()) a refused checkpoint may cost: 1,178 to 34,044 now
CHAIN = 30_000              # function calls of a generated case's read-rebuild-check: 1,084 to 16,921 now (a
                            # mutant counting a claimed shape's elements one by one: Overrun)
TINY = textwrap.dedent("""\
    archspec: 1
    name: tiny
    input: [1, 8, 8]
    nodes:
      - c1: {op: conv, out: 2, k: 3, pad: 1}
      - relu
      - flatten
      - fc: {op: linear, out: 10}
    """)


# -- forging checkpoints ------------------------------------------------------------------

class Storage:
    """A storage as the pickle names it: ('storage', FloatStorage, key, 'cpu', numel)."""

    def __init__(self, key: str, numel: int, kind=torch.FloatStorage):
        self.key, self.numel, self.kind = key, numel, kind


class Tensor:
    """A tensor as the pickle rebuilds it: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage: Storage, size, stride=None, offset: int = 0):
        self.storage, self.size, self.offset = storage, tuple(size), offset
        self.stride = tuple(stride) if stride is not None else tuple(
            math.prod(self.size[i + 1:]) for i in range(len(self.size)))

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, self.offset, self.size, self.stride, False, OrderedDict()))


class Forge:
    """A checkpoint in torch.save's layout, with whatever the pickle and the records claim."""

    def __init__(self):
        self.records: dict[str, bytes] = {}
        self.deflated: dict[str, int] = {}     # key -> bytes of zeros, deflate-compressed
        self.compressed: set[str] = set()      # records written deflate-compressed

    def tensor(self, t: torch.Tensor) -> Tensor:
        """A real tensor: its bytes as a record of its own."""
        key = str(len(self.records) + len(self.deflated))
        t = t.detach().contiguous()
        self.records[key] = t.numpy().tobytes() if t.numel() else b""
        kind = {torch.float32: torch.FloatStorage, torch.uint8: torch.ByteStorage,
                torch.int64: torch.LongStorage}[t.dtype]
        return Tensor(Storage(key, t.numel(), kind), t.shape)

    def state(self, obj, made: dict | None = None):
        """A checkpoint state's tensors (nested in dicts, lists, tuples) as forged tensors; a dict
        or list found twice is made once (`made`), so pickle's memo stores it once, as in torch.save."""
        made = {} if made is None else made
        if isinstance(obj, torch.Tensor):
            return self.tensor(obj)
        if id(obj) in made:
            return made[id(obj)]
        if isinstance(obj, dict):
            made[id(obj)] = type(obj)((k, self.state(v, made)) for k, v in obj.items())
        elif isinstance(obj, (list, tuple)):
            made[id(obj)] = type(obj)(self.state(v, made) for v in obj)
        else:
            return obj
        return made[id(obj)]

    def write(self, path: Path, obj, pkl: bytes | None = None) -> Path:
        class Pickler(pickle.Pickler):
            def persistent_id(self, o):
                return ("storage", o.kind, o.key, "cpu", o.numel) if isinstance(o, Storage) else None
        if pkl is None:
            buf = io.BytesIO()
            Pickler(buf, protocol=2).dump(obj)
            pkl = buf.getvalue()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", pkl)
            z.writestr("archive/byteorder", sys.byteorder)
            for key, data in self.records.items():
                z.writestr(f"archive/data/{key}", data,
                           zipfile.ZIP_DEFLATED if key in self.compressed else zipfile.ZIP_STORED)
            for key, size in self.deflated.items():
                info = zipfile.ZipInfo(f"archive/data/{key}")
                info.compress_type = zipfile.ZIP_DEFLATED
                with z.open(info, "w", force_zip64=True) as f:
                    chunk = bytes(1 << 20)
                    for _ in range(size >> 20):
                        f.write(chunk)
            z.writestr("archive/version", "3\n")
        return path


def legit_state(spec_path: str) -> dict:
    """What `archspec train --checkpoint` writes after one epoch (momentum buffers included)."""
    spec = load(spec_path)
    model = archspec.compile(spec)
    cfg = Config(spec_path, lr=0.05)
    recipe = recipes.resolve(spec, recipes.flag_values(cfg), loop._rbf(archspec.analyze(spec)))
    optimizer = recipes.optimizer(recipe, model)      # as train makes it
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    return {"format": checkpoint.FORMAT, "spec": checkpoint.spec_record(spec, []),
            "options": cfg.options(recipe), "epoch": 1, "classes": [str(i) for i in range(10)],
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scaler": torch.amp.GradScaler("cpu", enabled=False).state_dict(), "rng": [checkpoint.rng_state()],
            "history": [asdict(Epoch(1, 1.0, 0.5, 1.0, 0.5, 0.1, 1.0))]}


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> str:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY)
    return "tiny.yaml"


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory):
    """A refused visualize and a refused resume, uncounted: a process's first run also makes what is
    made once (parsers, caches, metadata read; up to 34,000 calls more), no case's work. With it a
    case counts the same alone or after others."""
    folder = tmp_path_factory.mktemp("warm")
    (folder / "tiny.yaml").write_text(TINY)
    (folder / "ck").mkdir()
    spec = str(folder / "tiny.yaml")
    forged(folder, _set(legit_state(spec), "classes", [f"c{i}" for i in range(10)]), "ck.pt")
    forged(folder, _set(legit_state(spec), "optimizer.param_groups", []), "ck/last.pt")
    for argv in (["visualize", folder / "ck.pt", "--data", "digits"],
                 ["train", spec, "--checkpoint", folder / "ck", "--resume", "--epochs", "1", "--no-progress"]):
        assert main([str(a) for a in argv]) == 1


def forged(tmp_path: Path, state: dict, name: str = "ck.pt") -> Path:
    forge = Forge()
    return forge.write(tmp_path / name, forge.state(state))


def error(capsys, *argv) -> str:
    """main() in-process: exit 1, one located error, no traceback, in at most MOST function calls
    (a check that loops over what a checkpoint claims, rather than over its bytes, fails here)."""
    capsys.readouterr()
    code, _ = within(MOST, main, [str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return err.strip()


# -- memory-bounded runs ------------------------------------------------------------------

CHILD = """\
import resource, sys
import torch, torchvision, sklearn, matplotlib, PIL.Image      # the baseline: archspec train's imports
import archspec.cli, archspec.pytorch.train.visualize
vm = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + {budget}, vm + {budget}))
{body}
"""


def bounded(body: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Python code run with the address space limited to torch's baseline + BUDGET."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    code = CHILD.format(budget=BUDGET, body=body)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    assert p.returncode >= 0, f"killed by signal {-p.returncode}: {p.stderr[-2000:]}"
    return p


def bounded_cli(*argv) -> str:
    """`archspec ARGV` under the bound: exit 1 with one located error (never MemoryError)."""
    p = bounded(f"sys.exit(archspec.cli.main({[str(a) for a in argv]!r}))")
    assert p.returncode == 1, p.stderr[-2000:]
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr[-2000:]
    return p.stderr.strip()


# -- the reader ---------------------------------------------------------------------------

def test_reader_reads_what_torch_save_wrote(tiny, tmp_path):
    """archspec's reader gives what torch.load gives for a checkpoint torch.save wrote: the same
    structure, every tensor equal, plain and contiguous."""
    state = legit_state(tiny)
    checkpoint.save(str(tmp_path / "ck"), {k: v for k, v in state.items() if k != "format"})
    ours = checkpoint.read(str(tmp_path / "ck"), "checkpoint")
    theirs = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)

    def same(a, b) -> bool:
        if isinstance(a, torch.Tensor):
            return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b) and a.is_contiguous()
        if isinstance(a, dict):
            return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
        if isinstance(a, (list, tuple)):
            return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return a == b
    assert same(dict(ours), theirs)
    assert str(ours.where) == f"checkpoint {tmp_path / 'ck' / 'last.pt'}"


def test_forged_legit_checkpoint_visualizes(tiny, tmp_path, capsys):
    """The forge writes what torch.save does: a forged copy of a good state draws its pictures."""
    path = forged(tmp_path, legit_state(tiny))
    assert main(["visualize", str(path), "--data", "digits", "-o", str(tmp_path / "vis")]) == 0
    assert sorted(p.name for p in (tmp_path / "vis").iterdir()) == ["features_c1.png", "filters.png", "occlusion.png"]


ZERO_STRIDE = "a tensor of shape [2, 1, 30000, 30000] at offset 0 on a storage of 1 elements"


def _zero_stride(tmp_path: Path, tiny: str) -> Path:
    """c1.weight: one stored float presented as 2x1x30000x30000 (7.2 GB) through zero strides."""
    forge = Forge()
    state = forge.state(legit_state(tiny))
    state["model"]["c1.weight"] = Tensor(forge.tensor(torch.ones(1)).storage, (2, 1, 30000, 30000), (0, 0, 0, 0))
    return forge.write(tmp_path / "ck.pt", state)


def test_zero_stride_view_refused(tiny, tmp_path, capsys):
    err = error(capsys, "visualize", _zero_stride(tmp_path, tiny), "--data", "digits")
    assert err.startswith(f"checkpoint {tmp_path / 'ck.pt'}: error: not an archspec checkpoint: {ZERO_STRIDE}")


def _bytearray_bomb(tmp_path: Path) -> Path:
    """data.pkl is REDUCE(bytearray, (3 GB,)): torch.load(weights_only=True) allocates it."""
    class Bomb:
        def __reduce__(self):
            return (bytearray, (3 << 30,))
    return Forge().write(tmp_path / "ck.pt", None, pickle.dumps({"format": 1, "x": Bomb()}, protocol=2))


def _tensor_bomb(tmp_path: Path) -> Path:
    class Bomb:
        def __reduce__(self):
            return (torch.FloatTensor, (3 << 28,))
    return Forge().write(tmp_path / "ck.pt", None, pickle.dumps({"format": 1, "x": Bomb()}, protocol=2))


def _memo_bomb(tmp_path: Path) -> Path:
    """LONG_BINPUT 2^30: the C unpickler sizes its memo list by the index (8 GiB)."""
    return Forge().write(tmp_path / "ck.pt", None, b"\x80\x02N" + b"r\x00\x00\x00\x40" + b".")


def _claimed_storage(tmp_path: Path, tiny: str) -> Path:
    """A storage that claims 2^40 floats over a record of 4 bytes."""
    forge = Forge()
    state = forge.state(legit_state(tiny))
    small = forge.tensor(torch.ones(1))
    state["model"]["c1.weight"] = Tensor(Storage(small.storage.key, 2**40), (2**40,))
    return forge.write(tmp_path / "ck.pt", state)


def _deflated(tmp_path: Path, tiny: str) -> Path:
    """c1.weight's record deflate-compressed: 1 MB in the file, 1.5 GiB inflated; the pickle's
    claims match it, so only refusing compressed records stops the inflation."""
    forge = Forge()
    state = forge.state(legit_state(tiny))
    forge.deflated["bomb"] = 3 << 29
    state["model"]["c1.weight"] = Tensor(Storage("bomb", (3 << 29) // 4), ((3 << 29) // 4,))
    return forge.write(tmp_path / "ck.pt", state)


HOSTILE_FILES = {      # how each is made, and the start of its error after "not an archspec checkpoint: "
    "zero strides": (_zero_stride, ZERO_STRIDE),
    "bytearray": (lambda p, t: _bytearray_bomb(p), "data.pkl names __builtin__.bytearray"),
    "tensor class": (lambda p, t: _tensor_bomb(p), "data.pkl names torch.FloatTensor"),
    "memo index": (lambda p, t: _memo_bomb(p), None),
    "claimed storage": (_claimed_storage, "storage '"),
    "deflated": (_deflated, "record 'archive/data/bomb' is compressed"),
}


@pytest.mark.parametrize("case", [c for c in HOSTILE_FILES if c != "deflated"])   # deflated: 1.5 GiB to compress,
def test_hostile_checkpoint_files_in_process(case, tiny, tmp_path, capsys):         # slow lane (..._bounded)
    """Each refused with its own located reason, quickly."""
    make, reason = HOSTILE_FILES[case]
    err = error(capsys, "visualize", make(tmp_path, tiny), "--data", "digits")
    head = f"checkpoint {tmp_path / 'ck.pt'}: error: "
    if reason is None:        # the memo index: the Python unpickler's memo is a dict, the pickle is None
        assert err == head + "not an archspec checkpoint (format ?)"
    else:
        assert err.startswith(head + "not an archspec checkpoint: " + reason), err


@pytest.mark.slow
@pytest.mark.parametrize("case", list(HOSTILE_FILES))
def test_hostile_checkpoints_bounded(case, tiny, tmp_path):
    """The same files through `archspec visualize` in a process limited to torch's baseline +
    1 GiB: each claims 1.5 to 7.5 GB, and each ends as its located error."""
    make, reason = HOSTILE_FILES[case]
    err = bounded_cli("visualize", make(tmp_path, tiny), "--data", "digits", "-o", tmp_path / "vis")
    assert err.startswith(f"checkpoint {tmp_path / 'ck.pt'}: error: not an archspec checkpoint")
    assert err.endswith("(format ?)") if reason is None else reason in err, err
    assert not (tmp_path / "vis").exists()


# -- the fields ---------------------------------------------------------------------------

def _set(state: dict, field: str, value) -> dict:
    """state with one field (a dotted path, `model.c1.weight` style keys after the first dot
    for model) replaced; value None deletes it."""
    head, _, rest = field.partition(".")
    if not rest:
        if value is None:
            state.pop(head)
        else:
            state[head] = value
    elif head == "model":
        state["model"][rest] = value
    else:
        _set(state[head], rest, value)
    return state


FIELD_ERRORS = [       # (field, value, the error after "checkpoint PATH: error: ")
    ("epoch", "1", "epoch: '1', with a list of 1 epochs of history"),
    ("epoch", 5, "epoch: 5, with a list of 1 epochs of history"),
    ("classes", [1, 2], "classes: a list of 2, not a list of class names"),
    ("options", {"lr": [0.1]}, "options['lr']: a list of 1, not a plain value"),
    ("options", {"seed": 10**5000}, "options['seed']: an int, not a plain value"),
    ("history", [{"epoch": 1}], "history[0]: a dict of 1, not an epoch's figures"),
    ("rng", [], "rng: a list of 0, not one generator state per process"),
    ("rng", [{"torch": 1, "python": 2}], "rng[0]: not a generator state (torch, python, cuda)"),
    ("model", None, "model: missing"),
    ("model.c1.weight", torch.zeros(3, 1, 3, 3),
     "model['c1.weight']: torch.float32 [3, 1, 3, 3], but the spec's is torch.float32 [2, 1, 3, 3]"),
    ("model.c1.weight", torch.zeros(2, 1, 3, 3, dtype=torch.int64),
     "model['c1.weight']: torch.int64 [2, 1, 3, 3], but the spec's is torch.float32 [2, 1, 3, 3]"),
    ("model.extra", torch.zeros(1), "model: has 'extra', which the spec does not"),
    ("model.c1.weight", "w", "model['c1.weight']: 'w', not a tensor"),
    ("optimizer", {"state": []}, "optimizer: a dict of 1, not an optimizer's state (state, param_groups)"),
    ("scaler", {"scale": "x" * 5000}, "scaler['scale']: 'xxxx"),
    ("spec.main", "/etc/passwd", "spec.main: not one of the checkpoint's spec files"),
    ("spec.files", {"../evil.yaml": TINY}, "spec.files: names a file outside its folder ('../evil.yaml')"),
    ("spec.files", {"/etc/evil.yaml": TINY}, "spec.files: names a file outside its folder ('/etc/evil.yaml')"),
    ("spec.files", {"a/./b.yaml": TINY}, "spec.files: names a file outside its folder ('a/./b.yaml')"),
    ("spec.files", {"tiny.yaml": TINY, "tiny.yaml/x.yaml": TINY},
     "spec.files: 'tiny.yaml' is both a file and a folder"),
    ("spec.files", {"tiny.yaml": 5}, "spec.files['tiny.yaml']: 5, not text"),
    ("spec.sets", "n=1", "spec.sets: not a list of at most 1000 --set strings"),
    # one stored group stands for all 100 (or 64) through pickle's memo: refused by counting them, in
    # 19,222 and 23,488 calls; checked group by group first, 100,000 checks (3M groups once meant hours):
    # 120,322 and 124,224 calls, over MOST (a mutant checking both limits after the loop over the groups)
    ("optimizer.param_groups", [{"params": [0] * 1000}] * 100, "optimizer.param_groups: 100 groups; at most 64"),
    ("optimizer.param_groups", [{"params": [0] * 1563}] * 64,
     "optimizer.param_groups: its groups list 100,032 parameters; at most 100,000"),
]


@pytest.mark.parametrize("field, value, expected", FIELD_ERRORS, ids=[f"{f}-{i}" for i, (f, _, _) in
                                                                      enumerate(FIELD_ERRORS)])
def test_malformed_field_is_located(field, value, expected, tiny, tmp_path, capsys, monkeypatch):
    """Each malformed field: one error naming the checkpoint and the field, before any spec file
    is written (no temporary folder made) where the field is read before the spec."""
    made = []
    real = checkpoint.tempfile.TemporaryDirectory
    monkeypatch.setattr(checkpoint.tempfile, "TemporaryDirectory", lambda **kw: made.append(1) or real(**kw))
    path = forged(tmp_path, _set(legit_state(tiny), field, value))
    err = error(capsys, "visualize", path, "--data", "digits", "-o", tmp_path / "vis")
    assert err.startswith(f"checkpoint {path}: error: {expected}"), err
    if not field.startswith("model"):      # the model's shapes are checked against the rebuilt spec
        assert made == []
    assert not (tmp_path / "vis").exists()


def test_memo_backed_spec_files_refused_before_writing(tiny, tmp_path, capsys, monkeypatch):
    """Pickle's memo lets one stored string back every entry: 200 entries of one 1 MiB string
    (a 1 MB file) count as 200 MiB, over MAX_CHECKPOINT_TEXT, and nothing is written; 257 entries
    are over MAX_CHECKPOINT_FILES (100,000 took 2.5M calls to unpickle, over error()'s MOST)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(checkpoint.tempfile, "tempdir", None)
    big = "#" * (1 << 20)
    state = legit_state(tiny)
    state["spec"]["files"] = {"tiny.yaml": TINY, **{f"f{i}.yaml": big for i in range(200)}}
    path = forged(tmp_path, state)
    assert path.stat().st_size < 2 << 20
    err = error(capsys, "visualize", path, "--data", "digits")
    assert err == (f"checkpoint {path}: error: spec.files: more than archspec's limit of {MAX_CHECKPOINT_TEXT:,} "
                   "bytes of spec text and --set strings (limits.MAX_CHECKPOINT_TEXT)")
    state["spec"]["files"] = {"tiny.yaml": TINY, **{f"f{i}.yaml": big for i in range(256)}}
    err = error(capsys, "visualize", forged(tmp_path, state, "many.pt"), "--data", "digits")
    assert "spec.files: 257 files; a checkpoint holds 1 to 256" in err
    assert list((tmp_path / "tmp").iterdir()) == []


NOT_EMBEDDED = ("secret.yaml: error: spec file is not one of the checkpoint's files: "
                "a checkpoint's spec reads only those")


@pytest.mark.parametrize("link,expected", [
    ("extends: {secret}", NOT_EMBEDDED),
    ("extends: ../../{name}", "'extends' file not found: '../../secret.yaml'"),   # relative to the temporary copy
    ("use: [{secret}]", NOT_EMBEDDED)])
def test_embedded_spec_reads_only_embedded_files(link, expected, tiny, tmp_path, capsys):
    """An embedded spec's `extends:` or `use:` of a file outside the embedded ones (absolute or
    through `..`) is an error, and that file is never read (its text shows nowhere)."""
    secret = tmp_path / "secret.yaml"
    secret.write_text("archspec: 1\nparams: {PRIVATE_TOKEN_123: 1}\n")
    state = legit_state(tiny)
    text = link.format(secret=secret, name=secret.name) + "\n" + TINY
    state["spec"]["files"] = {"tiny.yaml": text}
    err = error(capsys, "visualize", forged(tmp_path, state), "--data", "digits")
    assert err.splitlines()[0].endswith(expected), err
    assert "PRIVATE_TOKEN_123" not in err


def test_visualize_needs_data_and_reads_only_it(tiny, tmp_path, capsys, monkeypatch):
    """Without --data: a usage error; with it, the images come from --data, never from the
    folder the checkpoint's options name."""
    state = legit_state(tiny)
    state["options"]["data"] = f"folder:{tmp_path / 'private'}"
    path = forged(tmp_path, state)
    with pytest.raises(SystemExit) as e:
        main(["visualize", str(path)])
    assert e.value.code == 2
    assert "the following arguments are required: --data" in capsys.readouterr().err
    from archspec.pytorch.train import visualize
    sources = []
    real = visualize.load_data
    monkeypatch.setattr(visualize, "load_data", lambda source, shape: sources.append(source) or real(source, shape))
    assert main(["visualize", str(path), "--data", "digits", "-o", str(tmp_path / "vis")]) == 0
    assert sources == ["digits"]


def test_visualize_data_must_have_the_trained_classes(tiny, tmp_path, capsys):
    state = legit_state(tiny)
    state["classes"] = [f"c{i}" for i in range(10)]
    err = error(capsys, "visualize", forged(tmp_path, state), "--data", "digits")
    assert err.splitlines() == ["--data digits: error: its 10 classes are not the 10 the checkpoint was trained on",
                                "  hint: the classes it was trained on: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9"]


RESUME_ERRORS = [      # (field, value, the error after "--checkpoint PATH: error: ")
    ("optimizer.param_groups", [], "optimizer.param_groups: 0 groups; this optimizer has 1"),
    ("optimizer.state", {0: {"momentum_buffer": torch.zeros(7)}},
     "optimizer.state[0]['momentum_buffer']: torch.float32 [7], but the parameter is torch.float32 [2, 1, 3, 3]"),
    ("optimizer.state", {99: {}}, "optimizer.state[99]: state for a parameter the optimizer does not have"),
    ("optimizer.state", {0: {"momentum_buffer": 0.5}},          # passed, and failed at the first step
     "optimizer.state[0]['momentum_buffer']: 0.5, not a tensor of the parameter's shape"),
    ("optimizer.state", {0: {"momentum_buffer": torch.zeros(())}},
     "optimizer.state[0]['momentum_buffer']: torch.float32 [], but the parameter is torch.float32 [2, 1, 3, 3]"),
    ("rng", [{"torch": torch.zeros(3, dtype=torch.uint8), "python": (3, (1,), None), "cuda": []}],
     "rng[0]: not a generator state (RuntimeError"),
    ("rng", [{"torch": torch.get_rng_state(), "python": (3, (1,), None), "cuda": []}],
     "rng[0]: not a generator state (ValueError"),
    ("rng", [{"torch": torch.get_rng_state(), "python": {}, "cuda": []}],
     "rng[0]: not a generator state (KeyError"),
]


@pytest.mark.parametrize("field, value, expected", RESUME_ERRORS, ids=[f"{f}-{i}" for i, (f, _, _) in
                                                                        enumerate(RESUME_ERRORS)])
def test_resume_checks_state_against_the_run(field, value, expected, tiny, tmp_path, capsys):
    """train --resume: the optimizer's groups and per-parameter state and every RNG state are
    checked against the run that takes them: a located error, never torch's own."""
    (tmp_path / "ck").mkdir()
    path = forged(tmp_path, _set(legit_state(tiny), field, value), "ck/last.pt")
    err = error(capsys, "train", tiny, "--checkpoint", tmp_path / "ck", "--resume", "--epochs", "1", "--no-progress")
    assert err.startswith(f"--checkpoint {path}: error: {expected}"), err


def test_resume_with_options_missing_names_them(tiny, tmp_path, capsys):
    """A checkpoint whose options lack one the run must share: named as missing, not a KeyError."""
    (tmp_path / "ck").mkdir()
    forged(tmp_path, _set(legit_state(tiny), "options", {}), "ck/last.pt")
    err = error(capsys, "train", tiny, "--checkpoint", tmp_path / "ck", "--resume", "--epochs", "1", "--no-progress")
    assert err.startswith("--resume: error: the checkpoint was trained with --data None (now digits)"), err


def test_a_record_that_fails_its_crc_is_unreadable(tiny, tmp_path, capsys):
    """A flipped byte in data.pkl: zipfile's bad CRC is the checkpoint's error, not a traceback."""
    import zipfile
    path = forged(tmp_path, legit_state(tiny))
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith("data.pkl"))
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    err = error(capsys, "visualize", path, "--data", "digits", "-o", tmp_path / "vis")
    assert err.startswith(f"checkpoint {path}: error: not an archspec checkpoint: record '") and \
        "data.pkl' cannot be read (Bad CRC-32" in err, err


# -- data ---------------------------------------------------------------------------------

def test_digits_drawn_per_batch_and_input_limit(monkeypatch):
    """digits at [1, 1024, 1024] makes no image until asked (1,797 of them would be 7.5 GB): the
    images resized (counted at F.interpolate, refused past 32) are the one drawn; an input over
    MAX_DATA_ELEMENTS is refused with the limit; a non-image input too."""
    import torch.nn.functional as F

    from archspec.pytorch.train.data import load_data
    drawn: list[int] = []
    real = F.interpolate

    def interpolate(x, *args, **kwargs):
        drawn.append(n := len(x))
        assert n <= 32, f"{n} images resized at once"     # before the memory is asked for
        return real(x, *args, **kwargs)
    monkeypatch.setattr(F, "interpolate", interpolate)
    data = load_data("digits", (1, 1024, 1024))
    assert drawn == []
    x, y = data.train[0]
    assert x.shape == (1, 1024, 1024) and 0 <= int(y) < 10
    assert data.train.images.shape == (1347, 1, 8, 8)
    assert drawn == [1]
    with pytest.raises(SpecErrors) as e:
        load_data("digits", (3, 2048, 2048))
    assert str(e.value) == (f"--data digits: error: the spec's input [3, 2048, 2048] is 12,582,912 values an image, "
                            f"more than archspec's limit of {MAX_DATA_ELEMENTS:,} for training data "
                            "(limits.MAX_DATA_ELEMENTS)\n  hint: a smaller input, e.g. --set input=[3,224,224]")
    with pytest.raises(SpecErrors, match=r"the spec's input is \[64\]; training data are images"):
        load_data("digits", (64,))


def test_digits_batches_equal_one_resize_of_all():
    """Per batch or all at once, the same pixels (a resumed run draws what a straight one did)."""
    import torch.nn.functional as F

    from archspec.pytorch.train.data import LECUN_INK, load_data
    data = load_data("digits", (3, 32, 32))
    whole = F.interpolate(data.test.images, size=(32, 32), mode="bilinear", align_corners=False).clamp(0, 1)
    whole = (whole * (LECUN_INK[1] - LECUN_INK[0]) + LECUN_INK[0]).expand(-1, 3, -1, -1)
    batch = torch.stack([x for x, _ in data.test.__getitems__(list(range(40, 72)))])
    assert torch.equal(batch, whole[40:72])


@pytest.mark.slow
def test_digits_large_input_memory_bounded():
    """A 200-byte spec with input [1, 1024, 1024]: loading digits and drawing a batch of 32 stays
    within torch's baseline + 1 GiB (all 1,797 images up front: 7.5 GB)."""
    p = bounded(textwrap.dedent("""\
        from torch.utils.data import DataLoader
        from archspec.pytorch.train.data import load_data
        data = load_data("digits", (1, 1024, 1024))
        x, y = next(iter(DataLoader(data.train, 32)))
        print(tuple(x.shape), tuple(y.shape))
        """))
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split("\n")[0] == "(32, 1, 1024, 1024) (32,)"


def _png(path: Path, value: int = 40) -> None:
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (12, 12), value).save(path)


WALK = 5_000        # function calls a walk of a few files may make: 569 to 1,777 here; without `seen`, round
                    # the link loops (2 a level, for ever until ELOOP at 40 links): Overrun, once a hang


def _walk(tmp_path: Path):
    """load_data on tmp_path/imgs: (Data or the SpecErrors, the function calls it made), Overrun
    past WALK calls. Each FIFO there is held open with 64 bytes in it while it runs, so that code
    that opened one (blocking) and read it would get a file that is not an image, not a hang."""
    from archspec.pytorch.train.data import load_data

    def run():
        try:
            return load_data(f"folder:{tmp_path / 'imgs'}", (1, 8, 8))
        except SpecErrors as e:
            return e
    fifos = [os.open(p, os.O_RDWR | os.O_NONBLOCK) for p in (tmp_path / "imgs").rglob("*") if p.is_fifo()]
    try:
        for fd in fifos:
            os.write(fd, bytes(64))
        return within(WALK, run)
    finally:
        for fd in fifos:
            os.close(fd)


def test_folder_walk_link_loops_fifo_and_regular_files(tmp_path):
    """Two self-links and a link to a parent: walked once each; a FIFO named x.png is skipped,
    never opened; the images are found in torchvision's order."""
    for c in ("a", "b"):
        for i in range(2):
            _png(tmp_path / "imgs" / c / f"{i}.png")
    os.symlink(".", tmp_path / "imgs" / "a" / "self")
    os.symlink("..", tmp_path / "imgs" / "b" / "up")
    os.symlink("loop", tmp_path / "imgs" / "a" / "loop")          # a link to itself: ELOOP
    os.mkfifo(tmp_path / "imgs" / "a" / "x.png")
    data, _ = _walk(tmp_path)
    assert not isinstance(data, SpecErrors), str(data)
    whole = data.train.dataset
    assert whole.classes == ["a", "b"]
    assert [(Path(p).relative_to(tmp_path / "imgs").as_posix(), k) for p, k in whole.samples] == [
        ("a/0.png", 0), ("a/1.png", 0), ("b/0.png", 1), ("b/1.png", 1)]


def test_folder_non_image_and_outside_link_are_errors_with_the_path(tmp_path):
    """A file named x.png that is not an image, and a link out of the folder: each an error
    naming the file, before training starts."""
    _png(tmp_path / "imgs" / "a" / "0.png")
    _png(tmp_path / "imgs" / "b" / "0.png")
    (tmp_path / "imgs" / "b" / "x.png").write_text("not an image")
    err, _ = _walk(tmp_path)
    assert str(err).splitlines() == [
        f"--data folder:{tmp_path / 'imgs'}: error: {tmp_path / 'imgs' / 'b' / 'x.png'} is not an image (it does "
        "not start as one)", "  hint: an image folder holds images only: remove the file"]
    (tmp_path / "imgs" / "b" / "x.png").unlink()
    _png(tmp_path / "private" / "secret.png")
    os.symlink(tmp_path / "private", tmp_path / "imgs" / "a" / "out")
    err, _ = _walk(tmp_path)
    assert str(err).splitlines()[0] == (f"--data folder:{tmp_path / 'imgs'}: error: {tmp_path / 'imgs' / 'a' / 'out'} "
                                        f"links outside the folder (to {tmp_path / 'private'})")


# -- options ------------------------------------------------------------------------------

@pytest.mark.parametrize("option, value, expected", [
    ("--seed", "9" * 40, "expected a seed from 0 to 4,294,967,295"),
    ("--seed", "-1", "expected a seed from 0 to 4,294,967,295"),
    ("--workers", "-1", "expected a number of processes from 0 to 256"),
    ("--momentum", "-1", "expected a momentum in [0, 1)"),
    ("--weight-decay", "nan", "expected a weight decay in [0, inf)"),
    ("--weight-decay", "-0.1", "expected a weight decay in [0, inf)"),
    ("--lr-step", "-1", "expected an integer of 0 or more"),
    ("--label-smoothing", "1", "expected a fraction in [0, 1)"),
])
def test_train_option_ranges(option, value, expected, capsys):
    """Each a usage error (exit 2) that names the option and its valid range."""
    with pytest.raises(SystemExit) as e:
        main(["train", "x.yaml", option, value])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (f"archspec train: error: argument {option}: "
                                                               f"{expected}, got {value!r}")


def test_visualize_image_index_range(capsys):
    with pytest.raises(SystemExit) as e:
        main(["visualize", "ck", "--data", "digits", "--image", "-1"])
    assert e.value.code == 2
    assert "argument --image: expected an integer of 0 or more, got '-1'" in capsys.readouterr().err


# -- hostile checkpoints, generated -------------------------------------------------------

@pytest.mark.slow
def test_generated_hostile_checkpoints(tmp_path, monkeypatch):
    """hypothesis builds checkpoints from hostile parts: c1.weight as a zero-stride or strided
    view, at an offset, with a huge claimed shape or storage, or in a compressed record; a spec
    file named by an absolute path or through `..`; `main` outside the files. The chain visualize
    runs (read, rebuild, check against the spec) either accepts a checkpoint made of good parts
    only or ends in the checkpoint's located error; never another exception; each in CHAIN function
    calls (Overrun past them: a check looping over a claimed size or shape fails here)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from archspec.pytorch.compiler import compile as compile_graph

    folder = tmp_path
    monkeypatch.chdir(folder)
    (folder / "tiny.yaml").write_text(TINY)
    base = legit_state("tiny.yaml")
    shapes = st.lists(st.integers(0, 2**40), max_size=6).map(tuple)
    weight = st.one_of(
        st.just(("good",)), st.tuples(st.just("zero strides"), shapes), st.tuples(st.just("claimed"), shapes),
        st.tuples(st.just("storage"), st.integers(0, 2**62)), st.tuples(st.just("offset"), st.integers(1, 2**62)),
        st.just(("transposed",)), st.just(("compressed",)))
    names = st.sampled_from(["tiny.yaml", "../tiny.yaml", "/tmp/tiny.yaml", "a/../tiny.yaml", "", "./tiny.yaml",
                             "a//tiny.yaml", "x\\..\\tiny.yaml"])

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(weight, names, st.sampled_from(["same", "/etc/passwd", "../tiny.yaml", "other.yaml"]))
    def check(w, name, main_name):
        forge = Forge()
        state = forge.state(base)
        real = base["model"]["c1.weight"]
        key = state["model"]["c1.weight"].storage.key
        if w[0] == "zero strides":
            state["model"]["c1.weight"] = Tensor(Storage(key, real.numel()), w[1], (0,) * len(w[1]))
        elif w[0] == "claimed":
            state["model"]["c1.weight"] = Tensor(Storage(key, real.numel()), w[1])
        elif w[0] == "storage":
            state["model"]["c1.weight"] = Tensor(Storage(key, w[1]), real.shape)
        elif w[0] == "offset":
            state["model"]["c1.weight"] = Tensor(Storage(key, real.numel()), real.shape, offset=w[1])
        elif w[0] == "transposed":
            state["model"]["c1.weight"] = Tensor(Storage(key, real.numel()), (3, 3, 1, 2), (1, 3, 9, 9))
        elif w[0] == "compressed":
            forge.compressed.add(key)
        text = state["spec"]["files"].pop("tiny.yaml")
        state["spec"]["files"][name] = text
        state["spec"]["main"] = name if main_name == "same" else main_name
        path = forge.write(folder / "ck.pt", state)
        good = w == ("good",) and name == "tiny.yaml" and main_name == "same"     # a plain relative path only

        def chain() -> bool:
            read = checkpoint.read(str(path), "checkpoint")
            _, graph = checkpoint.rebuild(read["spec"], read.where)
            checkpoint.check_model(read["model"], compile_graph(graph, device="meta").state_dict(), read.where)
            return True
        try:
            accepted, _ = within(CHAIN, chain)
        except SpecErrors as e:
            assert str(e).startswith(f"checkpoint {path}: error: ") and "\n" not in str(e), str(e)
            accepted = False
        assert accepted == good, (w, name, main_name)
    check()


def test_check_model_refuses_views_from_any_source(tiny):
    """check_model holds on its own (a state_dict from the Python API, not through the reader):
    a zero-stride view and a slice of a larger storage are refused; the spec's own weights pass."""
    from archspec.errors import Loc
    from archspec.pytorch.compiler import compile as compile_graph
    graph = archspec.analyze(load(tiny))
    expected = compile_graph(graph, device="meta").state_dict()
    good = archspec.compile(graph).state_dict()
    checkpoint.check_model(good, expected, Loc("x"))
    for bad in (torch.zeros(1).expand(2, 1, 3, 3), torch.zeros(40)[2:20].view(2, 1, 3, 3)):
        with pytest.raises(SpecErrors) as e:
            checkpoint.check_model({**good, "c1.weight": bad}, expected, Loc("x"))
        assert str(e.value) == ("x: error: model['c1.weight']: a tensor of shape [2, 1, 3, 3] that is not the whole "
                                "of its own storage")


def test_image_over_the_pixel_limit_refused_before_decoding(tmp_path, monkeypatch):
    """A 57-byte PNG whose header claims 10000 x 9000 pixels (270 MB as RGB; under PIL's own
    limit): an error naming it when it is loaded, before any pixel is decoded."""
    import struct
    import zlib

    from PIL import ImageFile

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    _png(tmp_path / "imgs" / "a" / "0.png")
    big = tmp_path / "imgs" / "b" / "big.png"
    big.parent.mkdir()
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10000, 9000, 8, 2, 0, 0, 0))
                    + chunk(b"IEND", b""))
    data, _ = _walk(tmp_path)
    whole = data.train.dataset
    monkeypatch.setattr(ImageFile.ImageFile, "load",       # where PIL decodes the pixels
                        lambda image: pytest.fail("pixels decoded before the size was checked"))
    with pytest.raises(SpecErrors) as e:
        whole[[p for p, _ in whole.samples].index(str(big))]
    assert str(e.value) == (f"--data folder:{tmp_path / 'imgs'}: error: {big} is 10,000 x 9,000 pixels, more than "
                            "archspec's limit of 67,108,864 (limits.MAX_IMAGE_PIXELS)")


def test_a_data_error_raised_in_a_loader_worker_is_the_same_error():
    """torch's DataLoader re-raises a worker's exception as type(text), the worker's traceback in the
    text: SpecErrors made so is the worker's one located diagnostic (it printed a character a line)."""
    from archspec.errors import Diagnostic, Loc, SpecErrors
    original = SpecErrors([Diagnostic(Loc("--data folder:imgs"), "imgs/b/x.png cannot be decoded",
                                      hint="an image folder holds images only")])
    text = ("Caught SpecErrors in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
            '  File "data.py", line 9, in __getitem__\n    raise data_error(path)\n'
            f"archspec.errors.SpecErrors: {original}\n")
    assert str(SpecErrors(text)) == str(original)
    assert str(SpecErrors("Caught SpecErrors ... something else")) == "error: Caught SpecErrors ... something else"


def test_the_spec_record_is_made_only_for_a_checkpoint(tiny, tmp_path, capsys, monkeypatch):
    """A spec's files are recorded (and held to the checkpoint's limits) only where a checkpoint
    keeps them: past MAX_CHECKPOINT_TEXT it trains without --checkpoint, and is refused with it."""
    monkeypatch.setattr(checkpoint.limits, "MAX_CHECKPOINT_TEXT", 10)
    assert main(["train", tiny, "--epochs", "1", "--no-progress"]) == 0
    err = error(capsys, "train", tiny, "--epochs", "1", "--no-progress", "--checkpoint", tmp_path / "ck")
    assert err.startswith("--checkpoint: error: spec.files: ") and "limits.MAX_CHECKPOINT_TEXT" in err, err
