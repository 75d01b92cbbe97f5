"""archspec train / visualize: the losses against hand-written formulas, bit-identical resume,
DDP (2 gloo processes under torchrun) against one process, LeNet-5 on digits, the errors."""
import math
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from paths import ROOT

import archspec
from archspec import analyze, load
from archspec.cli import main
from archspec.pytorch.train import Config, train
from archspec.pytorch.train.data import DISTORTIONS, Distortions, affine, distort
from archspec.pytorch.train.objective import RBF_RUBBISH, Objective

LENET = str(ROOT / "specs" / "lenet5.yaml")
QUIET = {"progress": False, "log": lambda _: None}

TWO_HEADS = """\
archspec: 1
input: [1, 8, 8]
nodes:
  - flatten
  - trunk: {op: linear, out: 16}
  - act: relu
  - fc: {op: linear, out: 4}
  - side: {op: linear, out: 4, in: act}
outputs:
  logits: fc
  aux: {node: side, train_only: true, loss_weight: 0.3}
"""


def test_rbf_loss_is_lecun_eq9():
    """E = y_D + log(exp(-j) + sum_i exp(-y_i)) (LeCun et al. 1998, Eq. 9), written out."""
    objective = Objective(analyze(load(LENET)), 10)
    y = torch.rand(3, 10) * 200
    target = torch.tensor([0, 4, 9])
    loss, scores = objective.loss(y, target)
    by_hand = [float(y[p, target[p]] + torch.log(math.exp(-RBF_RUBBISH) + torch.exp(-y[p]).sum()))
               for p in range(3)]
    assert float(loss) == pytest.approx(sum(by_hand) / 3, rel=1e-5)
    assert torch.equal(scores.argmax(1), y.argmin(1))          # the nearest code wins


def test_aux_heads_weighted_by_loss_weight(spec_file):
    """Training mode: logits' loss + 0.3 x aux's (the spec's loss_weight); eval: the main head only."""
    graph = analyze(load(spec_file(TWO_HEADS)))
    objective = Objective(graph, 4, label_smoothing=0.1)
    out = {"logits": torch.randn(5, 4), "aux": torch.randn(5, 4)}
    target = torch.tensor([0, 1, 2, 3, 0])
    loss, _ = objective.loss(out, target)
    want = (F.cross_entropy(out["logits"], target, label_smoothing=0.1)
            + 0.3 * F.cross_entropy(out["aux"], target, label_smoothing=0.1))
    assert float(loss) == pytest.approx(float(want), rel=1e-6)
    assert float(objective.loss(out["logits"], target)[0]) == pytest.approx(
        float(F.cross_entropy(out["logits"], target, label_smoothing=0.1)), rel=1e-6)


def test_library_aux_heads():
    """GoogLeNet's two aux heads at 0.3 and Inception-v3's at 0.4, as their specs declare."""
    heads = {name: Objective(analyze(load(str(ROOT / "specs" / f"{name}.yaml"))), 1000).describe()
             for name in ("googlenet", "inception_v3")}
    assert heads == {"googlenet": "logits + 0.3 aux1 + 0.3 aux2", "inception_v3": "logits + 0.4 aux"}


@pytest.mark.slow
def test_lenet5_learns_digits():
    """The paper's LeNet-5, RBF output and Eq. (9), on 1,347 digits: >= 95% of 450 held out."""
    result = train(Config(LENET, epochs=6, lr=0.001, lr_step=4, lr_gamma=0.5, augment="none", **QUIET))
    last = result.history[-1]
    assert last.test_top1_error <= 0.05
    assert last.test_top5_error is not None and last.test_top5_error <= last.test_top1_error


def test_distort_shapes_determinism_identity():
    """A batch keeps its shape; the same seeded generator draws the same distortions, another
    seed others; with every range 0 each image is itself."""
    x = torch.randn(4, 3, 32, 32)
    def run(seed, ranges=DISTORTIONS):
        return distort(x, -0.1, ranges, generator=torch.Generator().manual_seed(seed))
    assert run(0).shape == x.shape
    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))
    torch.testing.assert_close(run(0, Distortions(0, 0, 0, 0, 0)), x, rtol=0, atol=1e-6)


def test_affine_known_maps():
    """By hand: a shift of one pixel moves the content left and fills the background; a 90 degree
    turn is torch.rot90; a shear of 0.5 on an 8x8 image samples row 0 at column j - 1.75
    (u + 0.5 v with v = -7/8: 1.75 pixels), bilinearly between columns j - 2 and j - 1."""
    x = torch.randn(1, 1, 8, 8)
    def at(tx=0.0, ty=0.0, scale=0.0, squeeze=0.0, shear=0.0, angle=0.0):
        return affine(x, torch.tensor([[tx, ty, scale, squeeze, shear, angle]]), -0.1)
    shifted = at(tx=2 / 8)
    torch.testing.assert_close(shifted[..., :7], x[..., 1:], rtol=0, atol=1e-6)
    torch.testing.assert_close(shifted[..., 7], torch.full((1, 1, 8), -0.1), rtol=0, atol=1e-6)
    torch.testing.assert_close(at(angle=math.pi / 2), torch.rot90(x, 1, (2, 3)), rtol=0, atol=1e-5)
    sheared = at(shear=0.5)
    assert float(sheared[0, 0, 0, 5]) == pytest.approx(float(0.75 * x[0, 0, 0, 3] + 0.25 * x[0, 0, 0, 4]), abs=1e-5)


@pytest.mark.slow
def test_resume_is_bit_identical(tmp_path):
    """2 epochs straight == 1 epoch, then --resume for the second, with LeCun's distortions
    drawing from the saved RNG: every weight and optimizer buffer equal to the bit."""
    straight = train(Config(LENET, epochs=2, checkpoint=str(tmp_path / "a"), augment="distort", **QUIET))
    train(Config(LENET, epochs=1, checkpoint=str(tmp_path / "b"), augment="distort", **QUIET))
    resumed = train(Config(LENET, epochs=2, checkpoint=str(tmp_path / "b"), resume=True, augment="distort", **QUIET))
    assert [h.epoch for h in resumed.history] == [1, 2]
    ours, theirs = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert all(torch.equal(a["optimizer"]["state"][i]["momentum_buffer"], b["optimizer"]["state"][i]["momentum_buffer"])
               for i in a["optimizer"]["state"])
    assert a["history"][1]["test_loss"] == b["history"][1]["test_loss"]
    assert b["spec"]["files"] == {"lenet5.yaml": (ROOT / "specs" / "lenet5.yaml").read_text()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(out, epochs: int, *resume: str):
    out.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for _ in range(2):      # once more, on a new port, where a rank died by a signal: seen once in
        run = subprocess.run(     # a loaded full run (gloo aborted a rank); a failing run fails twice
            [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
             "--master-port", str(_free_port()), str(ROOT / "tests" / "ddp_worker.py"), LENET, str(out),
             str(epochs), "64", *resume], capture_output=True, text=True, env=env, timeout=300)
        if run.returncode == 0 or "received by PID" not in run.stderr:
            break
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout, [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


@pytest.mark.slow
def test_ddp_two_gloo_processes_match_one(tmp_path):
    """torchrun, 2 CPU processes (gloo), global batch 64 = 2 x 32, 2 epochs: the replicas end
    identical and equal to one process with batch 64 (LeNet-5 has no dropout or batch norm, so
    the only difference is the order of the gradient sums; DistributedSampler shards one seeded
    permutation, so the two processes' batches together are the one process's batch). A job
    stopped after epoch 1 and resumed ends bit-identical to the straight one."""
    stdout, replicas = _torchrun(tmp_path / "straight", 2)
    assert "(2 processes x 32, gloo)" in stdout
    assert stdout.count("epoch 2/2:") == 1                      # rank 0 logs
    single = train(Config(LENET, epochs=2, batch_size=64, augment="none", lr=0.001, **QUIET)).model.state_dict()
    for k, v in single.items():
        assert torch.equal(replicas[0][k], replicas[1][k]), k
        torch.testing.assert_close(replicas[0][k], v, rtol=1e-4, atol=1e-5)
    saved = torch.load(tmp_path / "straight" / "ck" / "last.pt", weights_only=True)     # rank 0 wrote it
    assert len(saved["rng"]) == 2 and not torch.equal(saved["rng"][0]["torch"], saved["rng"][1]["torch"])
    assert all(torch.equal(saved["model"][k], replicas[0][k]) for k in replicas[0])
    _torchrun(tmp_path / "resumed", 1)
    _, resumed = _torchrun(tmp_path / "resumed", 2, "resume")
    assert all(torch.equal(resumed[r][k], replicas[r][k]) for r in (0, 1) for k in replicas[0])


def _images(root, classes: int, per_class: int = 4):
    from PIL import Image
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            Image.new("L", (12, 12), 40 * c + i).save(root / f"class{c}" / f"{i}.png")


def test_folder_three_classes_top5_undefined(tmp_path, capsys):
    """An ImageFolder of 3 classes trains end to end (--amp on CPU is bfloat16 autocast; --augment
    distort); top-5 is reported as not defined."""
    _images(tmp_path / "imgs", 3)
    (tmp_path / "net.yaml").write_text(
        "archspec: 1\ninput: [1, 8, 8]\nnodes:\n  - flatten\n  - fc: {op: linear, out: 3}\n")
    code = main(["train", str(tmp_path / "net.yaml"), "--data", f"folder:{tmp_path / 'imgs'}", "--epochs", "1",
                 "--batch-size", "4", "--amp", "--augment", "distort", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "10 train / 2 test images, 3 classes" in out
    assert "--amp on CPU: bfloat16 autocast" in out
    assert "top-5 not defined (3 classes)" in out


def _error(capsys, *argv) -> str:
    assert main(list(argv)) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err.strip()


def test_errors_are_one_line(tmp_path, capsys):
    assert _error(capsys, "train", LENET, "--data", "folder:/no/such/dir") == \
        "--data folder:/no/such/dir: error: no such folder"
    (tmp_path / "empty").mkdir()
    err = _error(capsys, "train", LENET, "--data", f"folder:{tmp_path / 'empty'}")
    assert err.startswith(f"--data folder:{tmp_path / 'empty'}: error: no images: ")
    assert "hint: an ImageFolder holds one subfolder per class" in err
    assert _error(capsys, "train", LENET, "--data", "mnist").startswith("--data mnist: error: unknown data source")
    assert _error(capsys, "train", LENET, "--resume") == \
        "--resume: error: needs --checkpoint DIR (where the checkpoint is)"


def _line(spec: str, text: str) -> int:
    return next(i for i, line in enumerate((ROOT / spec).read_text().splitlines(), 1) if text in line)


def test_outputs_must_match_classes(tmp_path, capsys, monkeypatch):
    """Located at the spec's output node, with the fix as the hint: the spec's num_classes where it
    has one, else the last layer's out."""
    monkeypatch.chdir(ROOT)
    spec = "specs/resnet_cifar.yaml"
    err = _error(capsys, "train", spec, "--set", "n=1", "--set", "num_classes=7")
    assert err.splitlines() == [f"{spec}:{_line(spec, '- fc:')}:5: error: fc: output 'output' gives 7 values, "
                                "but the data has 10 classes", "  hint: --set num_classes=10"]
    _images(tmp_path / "imgs", 3)
    spec = "specs/lenet5.yaml"
    err = _error(capsys, "train", spec, "--data", f"folder:{tmp_path / 'imgs'}")
    assert err.splitlines() == [f"{spec}:{_line(spec, '- output:')}:5: error: output: output 'output' gives 10 "
                                "values, but the data has 3 classes", "  hint: --set num_classes=3"]
    (tmp_path / "net.yaml").write_text(TWO_HEADS)                  # no num_classes param
    err = _error(capsys, "train", str(tmp_path / "net.yaml"), "--data", f"folder:{tmp_path / 'imgs'}")
    assert err.splitlines()[1:] == ["  hint: give the last layer out: 3 (or a num_classes param)"]


@pytest.mark.slow
def test_visualize_checkpoint(tmp_path, capsys):
    """ZFNet's three pictures from a checkpoint; the occlusion map at one point is P(true class)
    of the image occluded by hand."""
    from archspec.pytorch.train.data import load_data
    from archspec.pytorch.train.visualize import occlusion
    train(Config(LENET, epochs=1, checkpoint=str(tmp_path / "ck"), **QUIET))
    assert main(["visualize", str(tmp_path / "ck"), "--data", "digits", "-o", str(tmp_path / "vis"),
                 "--layer", "S2"]) == 0
    names = ["filters.png", "features_S2.png", "occlusion.png"]
    assert capsys.readouterr().out.split() == [w for n in names for w in ("wrote", str(tmp_path / "vis" / n))]
    assert all((tmp_path / "vis" / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)

    state = torch.load(tmp_path / "ck" / "last.pt", weights_only=True)
    model = archspec.compile(LENET)
    model.load_state_dict(state["model"])
    model.eval()
    data = load_data("digits", (1, 32, 32))
    x, label = data.test[0]
    objective = Objective(analyze(load(LENET)), 10)
    heat = occlusion(model, objective, x, int(label), 8, data.gray())
    assert heat.shape == (32, 32)
    by_hand = x.clone()
    by_hand[:, 10 - 4:10 + 4, 20 - 4:20 + 4] = data.gray()
    with torch.no_grad():
        p = objective.probabilities(model(by_hand.unsqueeze(0)))[0, int(label)]
    assert float(heat[10, 20]) == pytest.approx(float(p), abs=1e-5)     # batched vs one image


def test_visualize_errors(tmp_path, capsys):
    assert _error(capsys, "visualize", str(tmp_path), "--data", "digits") == \
        (f"checkpoint {tmp_path}/last.pt: error: no checkpoint there\n"
         "  hint: archspec train --checkpoint DIR writes DIR/last.pt")
    (tmp_path / "last.pt").write_text("not a checkpoint")
    assert _error(capsys, "visualize", str(tmp_path), "--data", "digits").startswith(
        f"checkpoint {tmp_path}/last.pt: error: not an archspec checkpoint: not a zip archive")


def test_strict_makes_warnings_errors(spec_file, capsys):
    path = spec_file("archspec: 1\ninput: [1, 32, 32]\nnodes:\n  - flat: flatten\n"
                     "  - unused: {op: linear, out: 5}\n  - fc: {op: linear, out: 10, in: flat}\n")
    assert _error(capsys, "train", path, "--strict").splitlines() == [
        "net.yaml:5:5: error: unused: output is never used",
        "  hint: feed it to another node, list it in outputs:, or remove it (an error with --strict)"]


def test_checkpoint_keeps_every_spec_file():
    """A variant's record holds its base and libraries, and rebuilds the same network from them
    alone; a record naming a file outside its folder is refused."""
    from archspec.pytorch.train import checkpoint
    spec = load(str(ROOT / "examples" / "guide" / "resnext50_32x4d.yaml"), ["num_classes=10"])
    record = checkpoint.spec_record(spec, ["num_classes=10"])
    assert sorted(record["files"]) == ["examples/guide/resnext50_32x4d.yaml", "specs/blocks/resnet.yaml",
                                       "specs/resnet50.yaml"]
    _, graph = checkpoint.rebuild(record)
    assert graph.params == analyze(spec).params
    with pytest.raises(archspec.SpecErrors, match="outside its folder"):
        checkpoint.rebuild({**record, "files": {"../evil.yaml": "archspec: 1"}})
