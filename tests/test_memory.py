"""Training memory (summary --batch): the activations archspec predicts autograd keeps, against
the bytes torch.autograd.graph.saved_tensors_hooks sees in one training forward of the compiled
module (archspec.pytorch.compiler.saved_bytes), for every shipped spec at batch 2: equal to the byte."""
import json

import pytest
from paths import ALL_SPECS, ROOT, SPECS

import archspec
from archspec import limits
from archspec.cli import main
from archspec.reports.memory import training_memory

torch = pytest.importorskip("torch")
from archspec.pytorch.compiler import saved_bytes  # noqa: E402  (needs torch)

FAST = ["lenet5", "alexnet_torchvision", "resnet20_cifar", "mobilenet_v2", "googlenet", "vgg11"]
EXTRA = [ROOT / "tests" / "specs" / "allops.yaml", ROOT / "examples" / "inception3a.yaml"]


def hooks(path, batch=2, device="meta", dtype=torch.float32) -> tuple[int, int]:
    """(archspec's prediction, what the hooks see), in bytes."""
    g = archspec.analyze(archspec.load(str(path)))
    model = archspec.compile(g, device=device, dtype=dtype)
    x = torch.randn(batch, *g.input_shape, device=device, dtype=dtype)
    name = {torch.float32: "float32", torch.bfloat16: "bfloat16"}[dtype]
    return training_memory(g, batch, name).activations, saved_bytes(model, x)


@pytest.mark.parametrize("path", [SPECS / f"{n}.yaml" for n in FAST] + EXTRA, ids=lambda p: p.stem)
def test_saved_activations_match_the_hooks(path):
    ours, theirs = hooks(path)
    assert ours == theirs


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in ALL_SPECS if p.stem not in FAST], ids=lambda p: p.stem)
def test_saved_activations_match_the_hooks_every_spec(path):
    ours, theirs = hooks(path)
    assert ours == theirs


@pytest.mark.parametrize("path", [SPECS / "lenet5.yaml", SPECS / "resnet20_cifar.yaml", EXTRA[0]],
                         ids=lambda p: p.stem)
def test_real_tensors_on_cpu_keep_what_meta_does(path):
    """The meta-device oracle is the CPU one: real storages, told apart by address."""
    assert hooks(path, device="cpu") == hooks(path)


def test_bfloat16_halves_the_activations_but_indices_and_statistics():
    ours, theirs = hooks(EXTRA[0], dtype=torch.bfloat16)
    assert ours == theirs
    assert ours < training_memory(archspec.analyze(str(EXTRA[0])), 2).activations


def test_parameters_gradients_and_optimizer_state():
    g = archspec.analyze(str(SPECS / "resnet18.yaml"))
    sgd, adam = training_memory(g, 4), training_memory(g, 4, "bfloat16", "adam")
    assert sgd.params == sgd.gradients == sgd.optimizer_state == 11_689_512 * 4
    assert adam.params == 11_689_512 * 2 and adam.optimizer_state == 2 * adam.params
    assert sgd.total == sgd.params * 3 + sgd.buffers + sgd.activations
    stats = 2 * 4 * sum(n.shape[0] for n in g.nodes.values() if n.op.name == "batchnorm")    # per batch
    assert training_memory(g, 8).activations - stats == 2 * (sgd.activations - stats)


def test_shared_storage_counts_once():
    """bn1's output, which the in-place ReLU overwrites and keeps and layer1.0.conv1 keeps as its input,
    is one storage, counted once for bn1 (with its batch mean and 1/std); the ReLU makes none."""
    g = archspec.analyze(str(SPECS / "resnet20_cifar.yaml"))
    m = training_memory(g, 1)
    assert "relu" not in m.saved and m.saved["bn1"] == 16 * 32 * 32 * 4 + 2 * 16 * 4
    assert m.saved["conv1"] == 16 * 32 * 32 * 4          # bn1 keeps its input


def test_cli(capsys):
    assert main(["summary", str(SPECS / "resnet20_cifar.yaml"), "--batch", "2", "--optimizer", "adam",
                 "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "saved bytes" in out and "training memory, batch 2, float32:" in out
    assert "optimizer state (adam: 2 per parameter): 2,157,776 bytes" in out
    assert main(["summary", str(SPECS / "lenet5.yaml"), "--batch", "2", "--json"]) == 0
    mem = json.loads(capsys.readouterr().out)["memory"]
    assert mem["activations"] == 240_864 and mem["saved"]["input"] == 8_192
    with pytest.raises(SystemExit) as e:
        main(["summary", str(SPECS / "lenet5.yaml"), "--batch", "0"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:       # limits.MAX_BATCH: no 29-digit byte counts
        main(["summary", str(SPECS / "lenet5.yaml"), "--batch", str(limits.MAX_BATCH + 1)])
    assert e.value.code == 2 and "expected a batch from 1 to 1,048,576" in capsys.readouterr().err


def test_buffers_bytes_are_the_modules():
    g = archspec.analyze(str(SPECS / "resnet20_cifar.yaml"))
    model = archspec.compile(g, device="meta")
    assert training_memory(g).buffers == sum(b.numel() * b.element_size() for b in model.buffers()) == 5_656
