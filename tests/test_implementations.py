"""tests/reference/implementations.json, the peers' figures that the library specs are checked
against, is what tests/reference/make_implementations.py measures from torchvision and timm now:
each model where its package is installed at the version the file states (skipped otherwise)."""
import importlib.util
import json

import pytest
from paths import ROOT


def _script():
    spec = importlib.util.spec_from_file_location("make_implementations",
                                                  ROOT / "tests" / "reference" / "make_implementations.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make = _script()
COMMITTED = json.loads(make.FILE.read_text())
# Measured under 0.3 s each on the meta device (2 loaded cores); the rest, timm's import alone ~5 s, are slow.
FAST = {f"torchvision.{n}" for n in ("alexnet", "googlenet", "googlenet+aux", "inception_v3", "inception_v3+aux",
                                     "mobilenet_v2", "resnet18", "resnet34", "resnet50", "resnext50_32x4d",
                                     "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "wide_resnet50_2")}


def test_the_file_is_the_scripts():
    """The same models in the same order, and a _source that says how they were measured."""
    assert list(COMMITTED["models"]) == make.MODELS
    assert COMMITTED["_source"] == make.SOURCE
    assert all(version in make.SOURCE for version in make.VERSIONS.values())


@pytest.mark.parametrize("key", [pytest.param(k, marks=[] if k in FAST else [pytest.mark.slow]) for k in make.MODELS])
def test_committed_figures_are_what_the_peer_measures(key):
    package, found = make.peer(key), make.installed()
    for name in (package, "torch"):
        if found[name] != make.VERSIONS[name]:
            pytest.skip(f"{name} {found[name] or 'not installed'}; the file was measured with {make.VERSIONS[name]}")
    assert make.measure(key) == COMMITTED["models"][key]
