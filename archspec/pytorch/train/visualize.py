"""ZFNet-style pictures of a trained network (Zeiler & Fergus 2014): the first layer's filters,
one layer's feature maps for one image, and an occlusion-sensitivity map (a gray patch slid over
the image, the probability of the true class at each position, as their Fig. 7)."""
from __future__ import annotations

import io
import os

import torch

from ...errors import Diagnostic, Loc, SpecErrors, did_you_mean
from ...files import write_atomic
from ...ir import Graph
from ...limits import MAX_VISUALIZE_ELEMENTS
from ...names import file_stem, one_line
from ..compiler import activations
from ..compiler import compile as compile_graph
from . import checkpoint
from .data import Data, load_data
from .objective import Objective


def visualize(path: str, out_dir: str, layer: str | None = None, image: int = 0,
              patch: int | None = None, data: str | None = None) -> list[str]:
    """Write filters.png, features_<layer>.png and occlusion.png into out_dir; return their paths.
    The images come from `data` (--data, as `train` takes it), never from the checkpoint: a
    checkpoint names no file that is read."""
    import matplotlib
    matplotlib.use("Agg")
    state, graph, images = _inputs(path, data)
    if not 0 <= image < len(images.test):
        raise SpecErrors([Diagnostic(Loc("--image"), f"{image} is not one of the {len(images.test)} held-out images")])
    x, label = images.test[image]
    first = next((n for n in graph.nodes.values() if n.op.name == "conv"), None)
    layer = layer or (first.name if first else None)
    if layer not in graph.nodes:
        hint = did_you_mean(str(layer), graph.nodes)
        raise SpecErrors([Diagnostic(Loc("--layer"), f"no node {layer!r} in {graph.name}" if layer else
                                     "the network has no conv layer: name one with --layer", hint=hint)])
    if len(graph.nodes[layer].shape or ()) != 3:
        raise SpecErrors([Diagnostic(Loc("--layer"), f"{layer} gives {graph.nodes[layer].shape}, not feature maps "
                                     "(C, H, W)", hint="a conv, pooling or activation node")])
    title = f"{graph.name}, epoch {state['epoch']}"
    label_name = images.classes[int(label)]
    written = []
    if first is not None:
        written.append(_save(out_dir, "filters.png", _filters(state["model"][f"{first.name}.weight"],
                                                             f"{title}: {first.name} filters")))
    maps = activations(graph, state["model"], x.unsqueeze(0), [layer])[layer][0]
    written.append(_save(out_dir, f"features_{file_stem(layer)}.png",
                         _features(x, maps, f"{title}: {layer} for held-out image {image} ({label_name!r})")))
    model = compile_graph(graph)
    model.load_state_dict(state["model"])
    objective = Objective(graph, len(images.classes))
    size = patch or max(1, graph.input_shape[1] // 4)
    heat = occlusion(model, objective, x, int(label), size, images.gray(),
                     batch=max(1, MAX_VISUALIZE_ELEMENTS // max(1, graph.activations)))
    written.append(_save(out_dir, "occlusion.png", _occlusion(
        x, heat, size, f"{title}: P({label_name!r}) with a {size}x{size} gray patch over each point")))
    return written


def _inputs(path: str, data: str | None) -> tuple[checkpoint.State, Graph, Data]:
    """The checkpoint, checked: its network rebuilt (within the activations visualize allows)
    and its weights the network's; the user's data, with the classes it was trained on."""
    if data is None:
        raise SpecErrors([Diagnostic(Loc("--data"), "visualize needs the images to draw: --data digits or "
                                     "--data folder:PATH (held-out image --image I)")])
    state = checkpoint.read(path, "checkpoint")
    _, graph = checkpoint.rebuild(state["spec"], state.where)
    if graph.activations > MAX_VISUALIZE_ELEMENTS:
        raise SpecErrors([Diagnostic(state.where, f"{graph.activations:,} activations for one image, more than "
                                     f"archspec's limit of {MAX_VISUALIZE_ELEMENTS:,} for visualize "
                                     "(limits.MAX_VISUALIZE_ELEMENTS)", path="spec")])
    checkpoint.check_model(state["model"], compile_graph(graph, device="meta").state_dict(), state.where)
    images = load_data(data, graph.input_shape)
    check_classes(images, state["classes"], data)
    return state, graph, images


def check_classes(images: Data, trained: list[str], data: str) -> None:
    """The user's data has the classes the checkpoint was trained on."""
    if images.classes != trained:
        shown = ", ".join(one_line(c, 40) for c in trained[:10]) + (", ..." if len(trained) > 10 else "")
        raise SpecErrors([Diagnostic(Loc(f"--data {one_line(data, 120)}"), f"its {len(images.classes)} classes are "
                                     f"not the {len(trained)} the checkpoint was trained on",
                                     hint=f"the classes it was trained on: {shown}")])


@torch.no_grad()
def occlusion(model, objective: Objective, x: torch.Tensor, label: int, size: int, gray: float,
              stride: int | None = None, batch: int = 64) -> torch.Tensor:
    """P(label) with a gray size x size patch centred on each position (stride: every
    input/32 pixels), the image's edges padded so that every pixel gets a value; at most `batch`
    occluded images at a time."""
    model.eval()
    _, h, w = x.shape
    stride = stride or max(1, h // 32)
    points = [(y0, x0) for y0 in range(0, h, stride) for x0 in range(0, w, stride)]
    probs = []
    for start in range(0, len(points), batch):
        chunk = points[start:start + batch]
        images = x.unsqueeze(0).repeat(len(chunk), 1, 1, 1)
        for i, (y0, x0) in enumerate(chunk):
            top, left = max(0, y0 - size // 2), max(0, x0 - size // 2)
            images[i, :, top:y0 - size // 2 + size, left:x0 - size // 2 + size] = gray
        probs.append(objective.probabilities(model(images))[:, label])
    return torch.cat(probs).view(len(range(0, h, stride)), len(range(0, w, stride)))


def _image(ax, x: torch.Tensor, **kw) -> None:
    """A (C, H, W) tensor as a picture: gray for one channel, RGB for three, scaled to its range."""
    x = x.detach().float()
    x = (x - x.min()) / (x.max() - x.min() + 1e-12)
    if x.shape[0] == 3:
        ax.imshow(x.permute(1, 2, 0).numpy(), **kw)
    else:
        ax.imshow(x.mean(0).numpy(), cmap="gray", **kw)
    ax.set_xticks([])
    ax.set_yticks([])


def _grid(n: int, title: str, cell: float = 1.2):
    import matplotlib.pyplot as plt
    cols = min(n, 8 if n <= 64 else 16)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell, rows * cell + 0.6), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return fig, list(axes.flat)


def _filters(weight: torch.Tensor, title: str):
    """Each output channel's filter (RGB where the input has 3 channels, else their mean)."""
    n = min(weight.shape[0], 96)
    fig, axes = _grid(n, title)
    for i in range(n):
        _image(axes[i], weight[i] if weight.shape[1] == 3 else weight[i].mean(0, keepdim=True),
               interpolation="nearest")
    return fig


def _features(x: torch.Tensor, maps: torch.Tensor, title: str):
    n = min(maps.shape[0], 63)
    fig, axes = _grid(n + 1, title)
    _image(axes[0], x)
    axes[0].set_title("input", fontsize=7)
    for i in range(n):
        _image(axes[i + 1], maps[i:i + 1], interpolation="nearest")
        axes[i + 1].set_title(str(i), fontsize=7)
    return fig


def _occlusion(x: torch.Tensor, heat: torch.Tensor, size: int, title: str):
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(7, 3.6))
    _image(a, x)
    a.set_title("image", fontsize=8)
    shown = b.imshow(heat.numpy(), cmap="jet", vmin=0, vmax=1, extent=(0, x.shape[2], x.shape[1], 0))
    b.set_title("P(true class), patch centred at each point", fontsize=8)
    fig.colorbar(shown, ax=b, fraction=0.046)
    fig.suptitle(title, fontsize=9)
    return fig


def _save(out_dir: str, name: str, fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return str(write_atomic(os.path.join(out_dir, name), buf.getvalue()))


