"""The spec's `train:` section (validation, variants, --set, flags over it), the schedules, optimizers,
averaging, clipping and filter renormalisation against hand computations and torch's own, the
augmentations against torchvision's transforms drawn with the same seed, ten-crop testing by hand,
and resume bit-identical with the new options."""
import math
import re
from types import SimpleNamespace

import pytest
import torch
import torchvision.transforms.functional as TF
from paths import ROOT
from torch import nn
from torchvision import transforms

from archspec import load
from archspec.cli import main
from archspec.errors import SpecErrors
from archspec.pytorch.train import Config, train
from archspec.pytorch.train import augment as aug
from archspec.pytorch.train import recipe as recipes
from archspec.pytorch.train.loop import Processes, _step, evaluate, resolved_recipe
from archspec.pytorch.train.objective import Objective

QUIET = {"progress": False, "log": lambda _: None}
TINY = """\
archspec: 1
input: [1, 8, 8]
nodes:
  - conv: {op: conv, out: 4, k: 3, pad: 1}
  - bn: batchnorm
  - relu
  - flatten
  - drop: {op: dropout, p: 0.1}
  - fc: {op: linear, out: 10}
train:
  source: the test's paper, Sec. 1
  sources: {lr: Sec. 2}
  lr: 0.1
  epochs: 3
  batch_size: 64
  schedule: step
  milestones: [2]
"""


def recipe(**values) -> recipes.Recipe:
    from archspec.frontend.recipe import DEFAULTS
    full = {**DEFAULTS, "lr": 0.1, "eps": 1e-8, **values}
    return recipes.Recipe(full, {k: "test" for k in full})


def _error(capsys, *argv) -> str:
    assert main(list(argv)) == 1
    return capsys.readouterr().err.strip()


def test_section_errors_are_located(spec_file, capsys):
    path = spec_file(TINY + "  optimzer: sgd\n  momentum: 1.5\n")
    err = _error(capsys, "validate", path)
    assert "net.yaml:18:3: error: unknown train key 'optimzer'; did you mean 'optimizer'?" in err
    assert "net.yaml:19:13: error: train key 'momentum': input should be less than 1 (got 1.5)" in err
    assert "--set train.lrr=1: error: unknown train key 'lrr'" in _error(capsys, "validate", spec_file(TINY),
                                                                          "--set", "train.lrr=1")
    assert "train key 'epochs': input should be greater than or equal to 1 (got 0)" in _error(
        capsys, "validate", spec_file(TINY), "--set", "train.epochs=0")


def test_variant_inherits_key_by_key_and_sources(spec_file):
    spec_file(TINY)
    variant = spec_file("archspec: 1\nextends: net.yaml\ntrain:\n  lr: 0.5\n  sources: {lr: the variant}\n", "v.yaml")
    r = resolved_recipe(Config(variant))
    assert (r.lr, r.epochs, r.milestones) == (0.5, 3, [2])
    assert (r.sources["lr"], r.sources["epochs"]) == ("the variant", "the test's paper, Sec. 1")


def test_set_and_flags_override_the_section(spec_file):
    path = spec_file(TINY)
    r = resolved_recipe(Config(path, ["train.lr=0.3", "train.augment=[flip]"], epochs=7, lr_step=1, lr_gamma=0.5))
    assert (r.lr, r.augment, r.epochs, r.schedule, r.every, r.gamma, r.milestones) == \
        (0.3, ["flip"], 7, "step", 1, 0.5, [])
    assert r.sources["lr"] == "--set train.lr=0.3" and r.sources["epochs"] == "command line"
    assert r.sources["momentum"] == "archspec default"
    assert not load(path, ["train.lr=0.3"]).overridden       # a recipe change keeps the reference checked


def test_print_recipe_shows_sources(spec_file, capsys):
    assert main(["train", spec_file(TINY), "--print-recipe"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["lr"].split()[1:] == ["0.1", "Sec.", "2"]
    assert lines["epochs"].endswith("the test's paper, Sec. 1")
    assert lines["weight_decay"].endswith("archspec default")


def test_print_recipe_keeps_spec_text_to_one_printable_line(spec_file, capsys):
    """A source or note with a newline or a terminal escape cannot forge lines of the table."""
    text = TINY.replace("sources: {lr: Sec. 2}", 'sources: {lr: "Sec. 2\\nmomentum  0.0  forged\\u001b[31m"}')
    assert main(["train", spec_file(text + '  note: "a\\nb"\n'), "--print-recipe"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == [*recipes.KEYS, "note:"]
    assert "\x1b" not in "".join(out) and out[-1] == "note: a b"


def test_reported_figures_are_the_networks_own(spec_file, capsys):
    """`reported:` (the paper's errors) is checked, printed, and not inherited: a variant is another
    network, so it shows only the figures it states."""
    base = spec_file(TINY + '  reported: {top1: 22.85, top5: 6.71, source: "Table 3, 10-crop"}\n')
    assert main(["train", base, "--print-recipe"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "paper's error: top-1 22.85%, top-5 6.71% (Table 3, 10-crop)"
    assert resolved_recipe(Config(spec_file("archspec: 1\nextends: net.yaml\n", "v.yaml"))).reported is None
    own = spec_file('archspec: 1\nextends: net.yaml\ntrain:\n  reported: {top1: 27.9, source: "Table 2"}\n', "w.yaml")
    assert resolved_recipe(Config(own)).reported == {"top1": 27.9, "top5": None, "source": "Table 2"}
    assert "train key 'reported'" in _error(capsys, "validate", spec_file(
        TINY + '  reported: {top1: 120, source: "x"}\n', "bad.yaml"))


@pytest.mark.parametrize("values, points", [
    ({"schedule": "step", "milestones": [2, 5], "gamma": 0.1}, {0: 0.1, 1.9: 0.1, 2: 0.01, 4.5: 0.01, 5: 0.001}),
    ({"schedule": "step", "every": 3, "gamma": 0.5}, {0: 0.1, 2.9: 0.1, 3: 0.05, 6.2: 0.025}),
    ({"schedule": "exponential", "every": 2, "gamma": 0.94}, {0: 0.1, 1.5: 0.1, 2: 0.094, 5.9: 0.1 * 0.94 ** 2}),
    ({"schedule": "cosine", "epochs": 10, "min_lr": 0.01}, {0: 0.1, 5: 0.055, 10: 0.01, 2.5: 0.01 + 0.09 * (
        1 + math.cos(math.pi / 4)) / 2}),
    ({"schedule": "poly", "epochs": 10, "power": 2.0}, {0: 0.1, 5: 0.025, 9: 0.001}),
    ({"schedule": "cosine", "epochs": 12, "warmup_epochs": 2, "warmup_start": 0.1},
     {0: 0.01, 1: 0.055, 2: 0.1, 7: 0.05}),
    ({"lr_batch": 256, "batch_size": 1024}, {0: 0.4, 50: 0.4}),
])
def test_schedules_by_hand(values, points):
    r = recipe(**values)
    for t, want in points.items():
        assert recipes.lr_at(r, t, []) == pytest.approx(want, rel=1e-12), t


def test_plateau_matches_torch():
    """Divided by gamma after more than `patience` epochs without a new best error, as
    torch's ReduceLROnPlateau(mode=min, threshold=0) does."""
    errors = [0.5, 0.4, 0.41, 0.42, 0.40, 0.3, 0.3, 0.3, 0.3, 0.29, 0.35, 0.36]
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], 0.1)
    torch_plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=2, threshold=0)
    r = recipe(schedule="plateau", gamma=0.1, patience=2)
    for epoch, e in enumerate(errors, 1):
        torch_plateau.step(e)
        assert recipes.lr_at(r, epoch, errors) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12), epoch


def test_optimizers_and_decay_exemption():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    sgd = recipes.optimizer(recipe(nesterov=True, weight_decay=1e-4, decay_norms_biases=False), model)
    assert [len(g["params"]) for g in sgd.param_groups] == [1, 3]       # conv weight; its bias, bn's two
    assert [g["weight_decay"] for g in sgd.param_groups] == [1e-4, 0.0] and sgd.param_groups[0]["nesterov"]
    rms = recipes.optimizer(recipe(optimizer="rmsprop", rmsprop_decay=0.9, eps=1.0, lr=0.045), model)
    assert isinstance(rms, torch.optim.RMSprop) and (rms.defaults["alpha"], rms.defaults["eps"]) == (0.9, 1.0)
    adamw = recipes.optimizer(recipe(optimizer="adamw", betas=[0.9, 0.99], weight_decay=0.05), model)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["betas"] == (0.9, 0.99)
    assert len(recipes.optimizer(recipe(weight_decay=1e-4), model).param_groups) == 1


def test_average_by_hand():
    model = nn.Linear(2, 1)
    avg = recipes.Average(model, 0.9)
    w0 = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    avg.update(model)
    with torch.no_grad():
        model.weight.add_(1.0)
    avg.update(model)
    want = 0.9 * (0.9 * w0 + 0.1 * (w0 + 1)) + 0.1 * (w0 + 2)
    torch.testing.assert_close(avg.state["weight"], want, rtol=0, atol=1e-6)
    torch.testing.assert_close(avg.module(model).weight, want, rtol=0, atol=1e-6)


def test_clipping_and_filter_renormalisation_by_hand():
    """The step clips the gradients' global norm (3, 4 -> norm 5 clipped to 1: 0.6, 0.8) before
    plain SGD; then every conv filter with RMS over 0.1 is scaled to RMS 0.1, the others kept."""
    lin = nn.Linear(2, 1, bias=False)
    conv = nn.Conv2d(1, 2, 1, bias=False)
    model = nn.Sequential(lin, conv)
    with torch.no_grad():
        lin.weight.zero_()
        conv.weight.copy_(torch.tensor([0.5, 0.05]).view(2, 1, 1, 1))
    lin.weight.grad = torch.tensor([[3.0, 4.0]])
    opt = torch.optim.SGD(model.parameters(), 1.0)
    run = SimpleNamespace(recipe=recipe(grad_clip=1.0, max_filter_rms=0.1), model=model, optimizer=opt,
                          scaler=torch.amp.GradScaler("cpu", enabled=False), average=None)
    _step(run)
    torch.testing.assert_close(lin.weight, torch.tensor([[-0.6, -0.8]]), rtol=0, atol=1e-6)
    torch.testing.assert_close(conv.weight.flatten(), torch.tensor([0.1, 0.05]), rtol=0, atol=1e-7)


def test_dropout_rate_set():
    model = nn.Sequential(nn.Dropout(0.1), nn.Linear(1, 1), nn.Dropout2d(0.2))
    recipes.set_dropout(model, 0.5)
    assert [m.p for m in model if hasattr(m, "p")] == [0.5, 0.5]


def _same_seed(ours, theirs, seed=3):
    torch.manual_seed(seed)
    a = ours()
    torch.manual_seed(seed)
    return a, theirs()


def test_augmentations_match_torchvision_with_the_same_seed():
    x = torch.randn(4, 3, 40, 40)
    size = (32, 32)
    rr = transforms.RandomResizedCrop(size, antialias=True)
    a, b = _same_seed(lambda: aug.train_views(x, recipe(augment=["random_sized_crop"]), size, (-1, 1)),
                      lambda: torch.stack([rr(i) for i in x]))
    assert torch.equal(a, b)
    rc, fl = transforms.RandomCrop(size), transforms.RandomHorizontalFlip()
    a, b = _same_seed(lambda: aug.train_views(x, recipe(augment=["crop", "flip"]), size, (-1, 1)),
                      lambda: torch.stack([fl(i) for i in torch.stack([rc(i) for i in x])]))
    assert torch.equal(a, b)

    def jitter_by_hand():      # VGG: S drawn in [40, 48], the image resized to S, then RandomCrop
        out = []
        for i in x:
            s = int(torch.randint(40, 49, (1,)))
            out.append(rc(transforms.Resize(s, antialias=True)(i)))
        return torch.stack(out)
    a, b = _same_seed(lambda: aug.train_views(x, recipe(augment=["scale_jitter"], scale_range=[40, 48]), size,
                                              (-1, 1)), jitter_by_hand)
    assert torch.equal(a, b)


def test_pca_lighting_by_hand():
    """AlexNet Sec. 4.1: each pixel + [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T, a ~ N(0, 0.1), in units of
    the normalised [0, 1] range (2 for [-1, 1])."""
    x = torch.zeros(2, 3, 4, 4)
    torch.manual_seed(5)
    out = aug.train_views(x, recipe(augment=["pca_lighting"], lighting_std=0.1), (4, 4), (-1.0, 1.0))
    torch.manual_seed(5)
    for n in range(2):
        a = torch.randn(3) * 0.1
        shift = [2 * sum(float(aug.IMAGENET_EIGVEC[c, k] * a[k] * aug.IMAGENET_EIGVAL[k]) for k in range(3))
                 for c in range(3)]
        for c in range(3):
            torch.testing.assert_close(out[n, c], torch.full((4, 4), shift[c]), rtol=0, atol=1e-7)


def test_ten_crop_by_hand():
    """Four corners, the center and their mirror images: the softmax outputs averaged (Krizhevsky et
    al., Sec. 4.1), on a network whose logits are the mean of each quarter of its 2x2 view."""
    model = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4, 4))
    x = torch.arange(2 * 16, dtype=torch.float32).view(2, 1, 4, 4) / 10
    y = torch.tensor([1, 3])
    objective = Objective.__new__(Objective)
    objective.main = SimpleNamespace(output="out", rbf=False)
    objective.num_classes = 4
    loader = [(x, y)]
    loss, top1, top5 = evaluate(model, loader, objective, None, Processes(), "ten_crop", (3, 3))
    crops = [x[..., r:r + 3, c:c + 3] for r, c in ((0, 0), (0, 1), (1, 0), (1, 1))] + [x[..., 0:3, 0:3]]
    crops[4] = TF.center_crop(x, [3, 3])
    views = crops + [v.flip(-1) for v in crops]
    with torch.no_grad():
        p = sum(torch.softmax(model(v), 1) for v in views) / 10
    assert loss == pytest.approx(float(-p[[0, 1], y].log().mean()), rel=1e-6)
    assert top1 == float((p.argmax(1) == y).float().mean())
    assert top5 is None


@pytest.mark.slow
def test_resume_bit_identical_with_the_new_options(spec_file):
    """Nesterov SGD, warmup then cosine, clipping, an average, crops and flips, filter renormalisation
    and ten-crop testing: 2 epochs straight == 1, then --resume."""
    path = spec_file(TINY)
    sets = ["train.nesterov=true", "train.schedule=cosine", "train.warmup_epochs=1", "train.grad_clip=1.0",
            "train.ema=0.9", "train.augment=[crop,flip]", "train.max_filter_rms=0.5", "train.resize=10",
            "train.eval=ten_crop", "train.weight_decay=0.0001", "train.decay_norms_biases=false"]
    straight = train(Config(path, sets, epochs=2, checkpoint="a", **QUIET))
    train(Config(path, sets, epochs=1, checkpoint="b", **QUIET))
    resumed = train(Config(path, sets, epochs=2, checkpoint="b", resume=True, **QUIET))
    ours, theirs = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    a, b = (torch.load(f"{d}/last.pt", weights_only=True) for d in "ab")
    assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in a["ema"])
    assert a["history"] == [dict(h, seconds=a["history"][i]["seconds"]) for i, h in enumerate(b["history"])]
    with pytest.raises(SpecErrors, match=r"train.lr 0.1 \(now 0.2\)"):
        train(Config(path, sets, epochs=3, lr=0.2, checkpoint="b", resume=True, **QUIET))


@pytest.mark.slow
def test_eval_command_on_a_checkpoint(spec_file, capsys):
    path = spec_file(TINY)
    train(Config(path, epochs=1, checkpoint="ck", **QUIET))
    assert main(["eval", "ck", "--data", "digits", "--protocol", "center"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("net epoch 1 on digits (450 held-out images, center): loss ")
    assert "top-1 error" in line and "top-5 error" in line


SEED_SPECS = ("lenet5", "alexnet", "zfnet", "vgg16", "vgg19", "googlenet", "inception_v3", "resnet50", "resnet18",
              "resnet_cifar", "resnet20_cifar", "densenet121", "densenet_cifar", "wrn_cifar", "wrn28_10",
              "pyramidnet110", "resnext50_32x4d", "resnext101_32x8d", "xception", "seresnet50", "senet154",
              "mobilenet_v2", "efficientnet_b0", "convnext_tiny", "convnext_base")


@pytest.mark.parametrize("name", SEED_SPECS)
def test_seed_specs_carry_a_sourced_recipe(name):
    """Each seed network's spec (or its base) has a train: section, and every value it gives names
    where it comes from (a paper's section, or what stands in for it)."""
    spec = load(str(ROOT / "specs" / f"{name}.yaml"))
    assert isinstance(spec.raw.get("train"), dict), name
    r = resolved_recipe(Config(str(ROOT / "specs" / f"{name}.yaml")))
    given = set(spec.raw["train"]) - {"source", "sources", "note", "reported"}
    assert given and all(r.sources[k] not in ("archspec default", "the spec (no source given)") for k in given)
    assert all(len(r.sources[k]) > 10 for k in given)
    assert r.reported and len(r.reported["source"]) > 10     # what the paper reports, or why nothing


def test_lenet5_bare_recipe_is_the_readme_one():
    """`archspec train specs/lenet5.yaml` with no flag trains as the README's 98.7% run did."""
    r = resolved_recipe(Config(str(ROOT / "specs" / "lenet5.yaml")))
    assert (r.optimizer, r.lr, r.momentum, r.schedule, r.every, r.gamma, r.epochs, r.batch_size, r.augment,
            r.eval) == ("sgd", 0.002, 0.9, "step", 7, 0.5, 30, 32, ["distort"], "full")
    assert "SDLM" in r.note


def test_accumulation_chosen_from_the_memory_estimate():
    """The fewest forwards a step whose batch's estimate fits: 64 images needing 10 units each in a
    budget of 200 take 4 forwards of 16 (160); a budget under one image takes one image a forward."""
    from archspec.pytorch.train.scale import choose
    assert choose(64, lambda b: 10 * b, 200) == 4
    assert choose(64, lambda b: 10 * b, 640) == 1
    assert choose(6, lambda b: 10 * b, 5) == 6


@pytest.mark.slow
def test_accumulated_step_equals_the_whole_batch(spec_file):
    """Two batches of 32, each loss halved, sum to the gradient of one batch of 64: the same weights
    after an epoch up to float rounding (a network without batch norm, no augmentation)."""
    path = spec_file(TINY.replace("  - bn: batchnorm\n", "").replace("  - drop: {op: dropout, p: 0.1}\n", ""))
    whole = train(Config(path, epochs=1, batch_size=64, **QUIET))
    halves = train(Config(path, epochs=1, batch_size=64, accumulate=2, **QUIET))
    for k, v in whole.model.state_dict().items():
        torch.testing.assert_close(halves.model.state_dict()[k], v, rtol=1e-4, atol=1e-5)


def recipe_table() -> str:
    """README's table of the seed specs' recipes (resolved with no flag)."""
    rows = ["| spec | optimizer | learning rate and schedule | epochs | batch | augmentation | test "
            "| paper's top-1 / top-5 error |",
            "|---|---|---|--:|--:|---|---|---|"]
    for name in SEED_SPECS:
        r = resolved_recipe(Config(str(ROOT / "specs" / f"{name}.yaml")))
        optimizer = {"sgd": "SGD" + (" Nesterov" if r.nesterov else "") + f" {r.momentum:g}",
                     "rmsprop": f"RMSProp {r.rmsprop_decay:g}" + (f", momentum {r.momentum:g}" if r.momentum else ""),
                     "adam": "Adam", "adamw": "AdamW"}[r.optimizer]
        optimizer += f", wd {r.weight_decay:g}" if r.weight_decay else ""
        schedule = recipes.schedule_text(r)
        test = r.eval + (f" of {r.resize}" if r.resize else "")
        rows.append(f"| [{name}](specs/{name}.yaml) | {optimizer} | {schedule} | {r.epochs} | {r.batch_size} | "
                    f"{', '.join(r.augment) or '-'} | {test} | {reported(r.reported)} |")
    return "\n".join(rows)


def reported(figures: dict) -> str:
    """`22.85% / 6.71%` (one decimal at least: 4.0%), a dash where the paper gives none; `not
    reported` where it gives neither."""
    shown = ["-" if v is None else f"{v:.1f}%" if v == round(v, 1) else f"{v:g}%"
             for v in (figures["top1"], figures["top5"])]
    return "not reported" if shown == ["-", "-"] else " / ".join(shown)


def test_readme_recipes_table():
    """README's recipes table is what the specs say."""
    assert recipe_table() in (ROOT / "README.md").read_text()


LADDER = ("inception_v2", "inception_v2_rmsprop", "inception_v2_smoothing", "inception_v2_factorized",
          "inception_v2_bn_aux")


def test_inception_ladder_counts_and_last_rung_is_v3():
    """Table 3 of the Rethinking paper as variants: each rung validates with its stated count holding,
    compiles, and changes one thing; the last rung is inception_v3.yaml, network (every tensor's name
    and shape, training-only head included) and recipe alike."""
    from archspec import analyze
    from archspec.pytorch.compiler import compile as compile_graph
    graphs = {n: analyze(load(str(ROOT / "specs" / f"{n}.yaml"))) for n in (*LADDER, "inception_v3")}
    assert main(["validate", *(str(ROOT / "specs" / f"{n}.yaml") for n in LADDER)]) == 0    # references hold
    params = [graphs[n].params for n in LADDER]          # training params: the aux head included
    assert params[0] == params[1] == params[2] and params[4] == graphs["inception_v3"].params
    stem = (3 * 3 * 3 * 32 + 3 * 3 * 32 * 32 + 3 * 3 * 32 * 64 + 2 * (32 + 32 + 64)) - (7 * 7 * 3 * 64 + 2 * 64)
    aux_bn = 2 * (128 + 768) - (128 + 768)               # batch norms in, conv biases out
    assert (params[3] - params[2], params[4] - params[3]) == (stem, aux_bn) == (19232, 896)
    shapes = {n: {k: tuple(v.shape) for k, v in compile_graph(graphs[n], device="meta").state_dict().items()}
              for n in ("inception_v2_factorized", "inception_v2_bn_aux", "inception_v3")}
    assert shapes["inception_v2_bn_aux"] == shapes["inception_v3"] != shapes["inception_v2_factorized"]
    recipes_of = {n: resolved_recipe(Config(str(ROOT / "specs" / f"{n}.yaml"))).values
                  for n in (*LADDER, "inception_v3")}
    assert recipes_of["inception_v2_bn_aux"] == recipes_of["inception_v3"]
    steps = [{k for k in recipes_of[a] if recipes_of[a][k] != recipes_of[b][k]} for a, b in zip(LADDER, LADDER[1:])]
    assert steps == [{"optimizer", "momentum"}, {"label_smoothing"}, set(), set()]


def test_gpu_accumulation_says_what_it_chose(monkeypatch):
    """On a GPU (its free memory faked here) the step's batch is split until summary --batch's
    estimate fits 80% of it, and the run says so; with room, one forward a step."""
    from archspec import analyze
    from archspec.pytorch.train import scale
    from archspec.reports.memory import training_memory
    graph = analyze(load(str(ROOT / "specs" / "resnet20_cifar.yaml")))
    need = training_memory(graph, 32, "float32", "sgd").total
    said = []
    cfg = SimpleNamespace(accumulate=None, amp=False)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (int(need / 0.8) + 1, 0))
    assert scale.batches(cfg, recipe(batch_size=128), graph, 2, torch.device("cuda"), said.append) == (32, 2)
    assert said and said[0].startswith("batch 128: 64 images a process do not fit") and "2 batches of 32" in said[0]
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * need, 0))
    assert scale.batches(cfg, recipe(batch_size=128), graph, 2, torch.device("cuda"), said.append) == (64, 1)


def test_limit_takes_evenly_spaced_images():
    """--limit N keeps N images of each split, spaced through it (a folder lists its images class by
    class: the first N would be one class); a limit past the split's size keeps it whole."""
    from archspec.pytorch.train.data import load_data
    data = load_data("digits", (1, 8, 8))
    small = data.limited(10)
    assert (len(small.train), len(small.test)) == (10, 10)
    assert small.train.indices == [i * 1347 // 10 for i in range(10)] == [0, 134, 269, 404, 538, 673, 808, 942, 1077,
                                                                          1212]
    assert torch.equal(small.test[3][0], data.test[3 * 450 // 10][0])
    assert data.limited(5000).train is data.train


SMOKE_IMAGES = 4          # digits a split in the slow lane's epoch (README, Training): 1 step of 4, 4 tested


@pytest.mark.slow
@pytest.mark.parametrize("name", SEED_SPECS)
def test_every_recipe_runs_an_epoch_on_digits(name, capsys):
    """Each seed recipe trains one epoch through `archspec train SPEC --data digits`, the digits
    resized to the network's input (or the recipe's resize), with its own optimizer, schedule,
    augmentation, averaging, filter norms and test protocol; only the batch (the recipes' 96 to
    4,096 exceed the subset; lr_batch rescales the rate) and the classes are set. It ends with a
    finite loss and reports top-1 and top-5 errors. --limit keeps 4 images a split: a 224-pixel
    network's epoch on all 1,347 digits is minutes of CPU."""
    spec = load(str(ROOT / "specs" / f"{name}.yaml"))
    classes = ["--set", "num_classes=10"] if "num_classes" in spec.params else []
    assert main(["train", str(ROOT / "specs" / f"{name}.yaml"), "--data", "digits", "--limit", str(SMOKE_IMAGES),
                 "--epochs", "1", "--batch-size", str(SMOKE_IMAGES), "--no-progress", *classes]) == 0
    out = capsys.readouterr().out
    assert f"{SMOKE_IMAGES} train / {SMOKE_IMAGES} test images" in out
    epoch = re.search(r"epoch 1/1: train loss (\S+), .*; test loss (\S+), top-1 error (\S+)%, top-5 error (\S+)%",
                      out)
    assert epoch, out
    losses, errors = [float(v) for v in epoch.groups()[:2]], [float(v) for v in epoch.groups()[2:]]
    assert all(math.isfinite(v) for v in losses) and all(0 <= e <= 100 for e in errors)
    assert errors[1] <= errors[0]                     # a top-5 miss is a top-1 miss
