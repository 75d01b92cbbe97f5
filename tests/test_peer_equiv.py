"""Compiled specs against torchvision itself: torchvision's freshly initialised weights load
with strict=True and the same input gives the same output (eval), and the same output and
gradients in training mode (which also proves the in-place ReLUs and adds safe for autograd)."""
import pytest
import torch
import torchvision
from paths import ALL_SPECS, SPECS

import archspec

# every spec whose reference names a torchvision model as its peer (googlenet+aux: its own test below)
PEERS = {p.stem: archspec.load(str(p)).doc.reference.peer or "" for p in ALL_SPECS}
PRESENT = sorted(n for n, peer in PEERS.items() if peer.startswith("torchvision.") and "+" not in peer)
OPTIONS: dict[str, dict] = {}                        # torchvision constructor options, per peer
SIZES = {"resnet18": 224}                               # others: 64, the same code paths, fast


def _pair(name, copy=False):
    """torchvision's model, freshly initialised, and ours holding its weights. Ours is built on
    the meta device and takes the tensors themselves (assign=True): no second initialisation."""
    torch.manual_seed(0)
    peer = PEERS[name].split(".", 1)[1]
    ref = getattr(torchvision.models, peer)(**OPTIONS.get(peer, {}))
    ours = archspec.compile(SPECS / f"{name}.yaml", device="meta")
    state = {k: v.clone() for k, v in ref.state_dict().items()} if copy else ref.state_dict()
    ours.load_state_dict(state, strict=True, assign=True)
    return ref, ours


def _close(a, b, tol=1e-4):
    """max |a - b| within tol of the output's scale."""
    return (a - b).abs().max().item() <= tol * max(1.0, a.abs().max().item())


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESENT)
def test_eval_output_equals_torchvision(name):
    ref, ours = _pair(name)
    assert list(ours.state_dict()) == list(ref.state_dict())
    size = SIZES.get(name, 64)
    x = torch.randn(2, 3, size, size)
    with torch.inference_mode():
        assert _close(ref.eval()(x), ours.eval()(x))


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ("resnet18", "resnet50", "densenet121") if n in PRESENT])
def test_training_step_equals_torchvision(name):
    ref, ours = _pair(name, copy=True)
    x = torch.randn(2, 3, 64, 64)
    a, b = ref.train()(x), ours.train()(x)
    assert _close(a, b)
    a.square().mean().backward()
    b.square().mean().backward()
    grads = dict(ours.named_parameters())
    for key, p in ref.named_parameters():
        assert _close(p.grad, grads[key].grad), key
    theirs = ours.state_dict()
    for key, buf in ref.state_dict().items():          # running statistics updated alike
        assert _close(buf.float(), theirs[key].float()), key


@pytest.mark.slow
def test_googlenet_with_aux_heads_equals_torchvision():
    """torchvision's GoogLeNet with its auxiliary classifiers: the same weights load, eval gives
    the logits alone, train gives the logits and both aux outputs, equal to torchvision's."""
    torch.manual_seed(0)
    ref = torchvision.models.googlenet(aux_logits=True, init_weights=True)
    ours = archspec.compile(SPECS / "googlenet_torchvision.yaml", device="meta")
    ours.load_state_dict(ref.state_dict(), strict=True, assign=True)
    x = torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        assert _close(ref.eval()(x), ours.eval()(x))
    # training mode switches the heads on; the rest in eval so dropout and BN are deterministic
    with torch.inference_mode():
        ref.training = ours.training = True
        theirs, mine = ref(x), ours(x)
    assert set(mine) == {"logits", "aux1", "aux2"}
    assert ours.loss_weights == {"aux1": 0.3, "aux2": 0.3}
    assert _close(theirs.logits, mine["logits"])
    assert _close(theirs.aux_logits1, mine["aux1"]) and _close(theirs.aux_logits2, mine["aux2"])
