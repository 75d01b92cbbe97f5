"""Compiled specs against their peers, the models they mirror (each spec's `reference.peer`:
`torchvision.NAME` or `timm.NAME`): the peer's freshly initialised weights, its batch norms'
statistics, scales and shifts drawn at random, load with strict=True in the peer's key order;
the same input gives the same output in eval mode, and the same output, gradients and updated
buffers in one training step under one seed (which also proves the in-place ReLUs and adds safe
for autograd, and that dropout sits where the peer's does). Equal means within 1e-4 of the
output's scale (`_close`): today every pair is equal to the last bit, which floating-point order
need not guarantee."""
import pytest
import torch
from paths import ALL_SPECS, SPECS

import archspec

LIBRARIES = ("torchvision", "timm")
# every spec whose reference names a peer in one of them (googlenet+aux, inception_v3+aux: their own tests)
PEERS = {p.stem: archspec.load(str(p)).doc.reference.peer or "" for p in ALL_SPECS}
PRESENT = sorted(n for n, peer in PEERS.items() if peer.split(".")[0] in LIBRARIES and "+" not in peer)
TIMM = sorted(n for n in PRESENT if PEERS[n].startswith("timm."))
# (batch, side) of the input. Default (2, 64): the code paths of 224, fast. timm's peers: batch 1 at
# the smallest side whose last batch norm sees more than one value per channel in training mode (it
# refuses one); eval alone accepts smaller (75 for the Inceptions, 8 or less for the others)
INPUTS = {"resnet18": (2, 224), "xception": (1, 39), "seresnet50": (1, 33), "seresnext50_32x4d": (1, 33),
          "senet154": (1, 35), "inception_v4": (1, 107), "inception_resnet_v2": (1, 107)}
TRAIN = ["resnet18", "resnet50", "densenet121", *TIMM]     # training steps: these (all of timm's)


def _peer(name):
    """The peer, freshly initialised under seed 0; skips (with the reason) where its library is missing."""
    library, model = PEERS[name].split(".", 1)
    lib = pytest.importorskip(library, reason=f"the peer {PEERS[name]} needs {library}: pip install -e '.[test]'")
    torch.manual_seed(0)
    ref = lib.create_model(model) if library == "timm" else getattr(lib.models, model)()
    # batch norms drawn at random: fresh statistics (0, 1) make eval-mode ones near identities, and
    # timm's ResNets start each residual branch's last one at zero (that branch would not be tested)
    with torch.no_grad():
        for m in ref.modules():
            if getattr(m, "running_var", None) is not None:
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)
    return ref


def _pair(name, copy=False):
    """The peer and ours holding its weights. Ours is built on the meta device and takes the
    tensors themselves (assign=True): no second initialisation."""
    ref = _peer(name)
    ours = archspec.compile(SPECS / f"{name}.yaml", device="meta")
    state = {k: v.clone() for k, v in ref.state_dict().items()} if copy else ref.state_dict()
    ours.load_state_dict(state, strict=True, assign=True)
    return ref, ours


def _input(name):
    batch, side = INPUTS.get(name, (2, 64))
    return torch.randn(batch, 3, side, side)


def _close(a, b, tol=1e-4):
    """max |a - b| within tol of the output's scale."""
    return (a - b).abs().max().item() <= tol * max(1.0, a.abs().max().item())


def _check_eval(ref, ours, x):
    with torch.inference_mode():
        assert _close(ref.eval()(x), ours.eval()(x))


def _check_training_step(ref, ours, x):
    """Outputs, every parameter's gradient and every buffer after one step (running statistics)."""
    torch.manual_seed(1)                # dropout draws its masks in forward order: the same seed for both
    a = ref.train()(x)
    torch.manual_seed(1)
    b = ours.train()(x)
    assert _close(a, b)
    a.square().mean().backward()
    b.square().mean().backward()
    grads = dict(ours.named_parameters())
    for key, p in ref.named_parameters():
        assert _close(p.grad, grads[key].grad), key
    theirs = ours.state_dict()
    for key, buf in ref.state_dict().items():
        assert _close(buf.float(), theirs[key].float()), key


@pytest.mark.slow      # timm's peers: 2-5 s each on 2 loaded cores (senet154, 115M parameters: 9 s)
@pytest.mark.parametrize("name", PRESENT)
def test_outputs_equal_peer(name):
    """Strict load in the peer's key order, equal eval output, and for TRAIN an equal training step
    (ours holds copies: the step updates buffers in place, which shared tensors would make equal)."""
    ref, ours = _pair(name, copy=name in TRAIN)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = _input(name)
    _check_eval(ref, ours, x)
    if name in TRAIN:
        _check_training_step(ref, ours, x)


@pytest.mark.slow
def test_googlenet_with_aux_heads_equals_torchvision():
    """torchvision's GoogLeNet with its auxiliary classifiers: the same weights load, eval gives
    the logits alone, train gives the logits and both aux outputs, equal to torchvision's."""
    import torchvision
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
