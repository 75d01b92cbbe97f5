"""Regenerate tests/reference/implementations.json from the peers themselves: run by hand
(`python tests/reference/make_implementations.py`) with the versions VERSIONS names installed.
tests/test_implementations.py checks the committed file against measure(), model by model.

Each model is built on the meta device (no weights, no arithmetic): params = elements of all
parameters; macs = torch.utils.flop_counter.FlopCounterMode's total / 2 for one image of `input`
in eval mode; state_dict = model.state_dict() keys and shapes in order. For torchvision the
published figures are its default weights' metadata (num_params, _ops in GFLOPS); `input` is
those weights' crop size (timm: its pretrained config's input size)."""
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

FILE = Path(__file__).resolve().parent / "implementations.json"
VERSIONS = {"torchvision": "0.29.1", "timm": "1.0.31", "torch": "2.14.1"}
SOURCE = ("Measured from the peers themselves by tests/reference/make_implementations.py: torchvision {torchvision}, "
          "timm {timm}, torch {torch}, on the meta device (params = elements of all parameters; macs = "
          "torch.utils.flop_counter.FlopCounterMode total / 2 for one image of `input` in eval mode; state_dict = "
          "model.state_dict() keys and shapes in order; published_* = torchvision's default weights' metadata)."
          ).format(**VERSIONS)
AUX_NOTE = "aux_logits=True; aux heads run in training mode only, so eval-mode macs equal the plain model's"
# "peer.name" or "peer.name+aux" (torchvision's auxiliary classifiers on; off in the plain entry).
MODELS = (
    [f"timm.{n}" for n in ("dla34", "hrnet_w18_small", "inception_resnet_v2", "inception_v4", "legacy_senet154",
                           "legacy_seresnet50", "legacy_seresnext50_32x4d", "legacy_xception", "resnest14d",
                           "resnet50d", "seresnet50", "seresnext50_32x4d", "xception41")]
    + [f"timm.{n}" for n in ("res2net50_26w_4s", "dpn68", "skresnet50")]     # issue 20's hand-written zoo specs
    + [f"torchvision.{n}" for n in (
        "alexnet", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny", "densenet121",
        "densenet161", "densenet169", "densenet201", "efficientnet_b0", "googlenet", "googlenet+aux",
        "inception_v3", "inception_v3+aux", "mobilenet_v2", "resnet101", "resnet152", "resnet18", "resnet34",
        "resnet50", "resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d", "vgg11", "vgg11_bn", "vgg13",
        "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "wide_resnet101_2", "wide_resnet50_2")])


def peer(key: str) -> str:
    """The package a model comes from: "timm" or "torchvision"."""
    return key.split(".", 1)[0]


def _build(key: str) -> tuple[torch.nn.Module, list[int], dict]:
    """The model on the meta device, its input shape, and the published figures."""
    package, name = key.split(".", 1)
    plain, aux = name.removesuffix("+aux"), name.endswith("+aux")
    if package == "timm":
        import timm
        with torch.device("meta"):
            model = timm.create_model(plain, pretrained=False)
        return model, list(model.pretrained_cfg["input_size"]), {}
    import torchvision
    weights = torchvision.models.get_model_weights(plain).DEFAULT
    kwargs = {"aux_logits": aux, "init_weights": False} if plain in ("googlenet", "inception_v3") else {}
    with torch.device("meta"):
        model = torchvision.models.get_model(plain, **kwargs)
    size = weights.transforms().crop_size[0]
    published = ({"note": AUX_NOTE} if aux else
                 {"published_params": weights.meta["num_params"], "published_gflops": weights.meta["_ops"]})
    return model, [3, size, size], published


def measure(key: str) -> dict:
    """One model's entry of implementations.json, measured now."""
    model, shape, published = _build(key)
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, *shape, device="meta"))
    flops = counter.get_total_flops()
    assert flops % 2 == 0, (key, flops)
    return {"input": shape, "params": sum(p.numel() for p in model.parameters()), "macs": flops // 2,
            **published, "state_dict": {k: list(v.shape) for k, v in model.state_dict().items()}}


def installed() -> dict[str, str | None]:
    """The installed version of each package VERSIONS names (None: not installed)."""
    found: dict[str, str | None] = {}
    for package in VERSIONS:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def main() -> None:
    if installed() != VERSIONS:
        raise SystemExit(f"needs {VERSIONS}, installed: {installed()}")
    models = {key: measure(key) for key in MODELS}
    lines = [f"{json.dumps(key)}: {json.dumps(entry)}" for key, entry in models.items()]
    FILE.write_text("{\n" + f'"_source": {json.dumps(SOURCE)},\n"models": {{\n' + ",\n".join(lines) + "\n}\n}\n")
    print(f"wrote {FILE.name}: {len(models)} models")


if __name__ == "__main__":
    main()
