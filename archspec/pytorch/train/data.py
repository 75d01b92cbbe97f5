"""Training data: scikit-learn's handwritten digits, or an ImageFolder directory.

Every image arrives at the spec's input size (C, H, W), normalised; augmentation
(AlexNet's random crops and mirror images, LeCun's affine distortions) is applied to
whole batches on the training device with the training RNG (see `augment`), so the
datasets themselves hold no randomness and a resumed run draws what the straight one did.
"""
from __future__ import annotations

import math
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset

from ... import limits
from ...errors import Diagnostic, Loc, SpecErrors
from ...files import open_regular
from ...names import one_line

DIGITS_TEST_FRACTION = 0.25     # 1,797 images: 1,347 to train, 450 held out
SPLIT_SEED = 0                  # the held-out split never changes with --seed
FOLDER_TEST_FRACTION = 0.2      # a folder without train/ and val/ holds out this share


@dataclass
class Data:
    train: Any                   # a sized Dataset of (image, class index)
    test: Any
    classes: list[str]
    source: str                  # what --data said
    ink: tuple[float, float]     # the normalised values of black and white: (background, full ink)

    def gray(self) -> float:
        """A mid-gray pixel, normalised (ZFNet's occluding patch)."""
        return sum(self.ink) / 2

    def limited(self, n: int) -> Data:
        """At most n images of each split, evenly spaced through it (a folder lists its images class
        by class, so the first n would be one class; the digits split is already shuffled)."""
        return replace(self, train=_spaced(self.train, n), test=_spaced(self.test, n))


def _spaced(images, n: int):
    return images if n >= len(images) else Subset(images, [i * len(images) // n for i in range(n)])


def data_error(source: str, message: str, hint: str | None = None) -> SpecErrors:
    return SpecErrors([Diagnostic(Loc(f"--data {one_line(source, 120)}"), message, hint=hint)])


def load_data(source: str, shape: tuple) -> Data:
    """`digits` or `folder:PATH`, as tensors of the spec's input shape (C, H, W), each image made
    at that size only when a batch is taken."""
    if len(shape) != 3:
        raise data_error(source, f"the spec's input is {list(shape)}; training data are images (C, H, W)")
    if math.prod(shape) > limits.MAX_DATA_ELEMENTS:
        raise data_error(source, f"the spec's input {list(shape)} is {math.prod(shape):,} values an image, more than "
                         f"archspec's limit of {limits.MAX_DATA_ELEMENTS:,} for training data "
                         "(limits.MAX_DATA_ELEMENTS)", hint="a smaller input, e.g. --set input=[3,224,224]")
    if source == "digits":
        return digits(shape)
    if source.startswith("folder:"):
        return folder(source, source[len("folder:"):], shape)
    raise data_error(source, "unknown data source", hint="--data digits or --data folder:PATH (an ImageFolder)")


# LeCun et al. 1998, Sec. II-A: background -0.1, full ink 1.175, "so that the mean input is
# roughly 0 and the variance roughly 1"
LECUN_INK = (-0.1, 1.175)


def digits(shape: tuple) -> Data:
    """The 1,797 8x8 digits of scikit-learn (no download; intensities 0..16), resized to (H, W)
    bilinearly, gray repeated over C channels, scaled as LeCun's inputs; a fixed stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    train, test = train_test_split(range(len(y)), test_size=DIGITS_TEST_FRACTION, random_state=SPLIT_SEED,
                                   stratify=bunch.target)
    return Data(Digits(x[train], y[train], shape), Digits(x[test], y[test], shape),
                [str(c) for c in bunch.target_names], "digits", LECUN_INK)


class Digits(Dataset):
    """8x8 images in [0, 1], drawn at the spec's input size batch by batch (never all at once:
    a 200-byte spec with input [1, 1024, 1024] would ask for 7.5 GB up front)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, shape: tuple):
        self.images, self.labels, self.shape = images, labels, tuple(shape)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A batch (DataLoader takes it whole)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        x = F.interpolate(self.images[idx], size=self.shape[1:], mode="bilinear", align_corners=False).clamp(0, 1)
        x = (x * (LECUN_INK[1] - LECUN_INK[0]) + LECUN_INK[0]).expand(-1, self.shape[0], -1, -1)
        return list(zip(x.unbind(0), self.labels[idx].unbind(0)))


def folder(source: str, path: str, shape: tuple) -> Data:
    """An ImageFolder (one subfolder per class). PATH/train and PATH/val are used when both
    exist (ImageNet's layout); otherwise a fixed share of PATH is held out."""
    from torchvision import transforms
    if not os.path.isdir(path):
        raise data_error(source, "no such folder" if not os.path.exists(path) else "not a folder")
    c = shape[0]
    if c not in (1, 3):
        raise data_error(source, f"the spec's input has {c} channels; images give 1 (gray) or 3 (RGB)")
    to_tensor = transforms.Compose([transforms.Resize(shape[1:]), transforms.ToTensor(),
                                    transforms.Normalize([0.5] * c, [0.5] * c)])
    split = [os.path.join(path, d) for d in ("train", "val")]
    roots = split if all(os.path.isdir(d) for d in split) else [path]
    sets = [Images(source, path, r, "L" if c == 1 else "RGB", to_tensor) for r in roots]
    if len(sets) == 2:
        if sets[0].classes != sets[1].classes:
            raise data_error(source, "train/ and val/ have different class folders")
        return Data(sets[0], sets[1], sets[0].classes, source, (-1.0, 1.0))
    whole = sets[0]
    if len(whole) < 2:
        raise data_error(source, f"{len(whole)} image: too few to hold some out")
    order = torch.randperm(len(whole), generator=torch.Generator().manual_seed(SPLIT_SEED)).tolist()
    n_test = max(1, round(len(whole) * FOLDER_TEST_FRACTION))
    return Data(Subset(whole, order[n_test:]), Subset(whole, order[:n_test]), whole.classes, source, (-1.0, 1.0))


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")   # torchvision's


class Images(Dataset):
    """torchvision's ImageFolder layout (classes: the sorted subfolders; images: the files with an
    image suffix below each, in sorted order), walked without leaving `top` through a link,
    without following a link loop, and taking regular files only (a FIFO named x.png is skipped,
    never opened). Every image's first bytes are read as the folder is walked, so a file that is
    not an image is an error naming it before training starts."""

    def __init__(self, source: str, top: str, root: str, mode: str, transform):
        self.source, self.mode, self.transform = source, mode, transform
        top_real = os.path.realpath(top)
        if os.path.commonpath([top_real, os.path.realpath(root)]) != top_real:
            raise data_error(source, f"{one_line(root, 160)} links outside the folder",
                             hint="archspec follows no link out of the folder it is given: name the real folder")
        entries = [(name, path) for name, path, kind in _entries(source, top_real, root) if kind == "dir"]
        self.classes = [name for name, _ in entries]
        if not self.classes:
            raise data_error(source, f"no images: no class folders in {one_line(root, 120)}",
                             hint="an ImageFolder holds one subfolder per class, with the images in them")
        seen: set[str] = set()
        self.samples = [(f, k) for k, (name, folder) in enumerate(entries)
                        for f in _images(source, top_real, folder, seen)]
        empty = sorted(set(self.classes) - {self.classes[k] for _, k in self.samples})
        if empty:
            raise data_error(source, f"no images: class folder {one_line(empty[0], 80)!r} holds none",
                             hint="an ImageFolder holds one subfolder per class, with the images in them")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[i]
        with open_image(self.source, path) as image:
            try:
                pixels = image.convert(self.mode)
            except (OSError, ValueError) as e:
                raise data_error(self.source, f"{one_line(path, 160)}: cannot decode the image ({one_line(e, 80)})",
                                 hint="remove or replace the file") from None
        return self.transform(pixels), label


def _entries(source: str, top: str, folder: str) -> list[tuple[str, str, str | None]]:
    """(name, path, kind) of folder's entries sorted by name, kind "dir", "file" (a regular file)
    or None (anything else: a FIFO, a device, a dangling link, a link loop); a link that leaves
    `top` is an error."""
    try:
        listed = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        raise data_error(source, f"cannot list {one_line(folder, 160)}: {e.strerror}") from None
    out: list[tuple[str, str, str | None]] = []
    for entry in listed:
        if entry.is_symlink():
            real = os.path.realpath(entry.path)
            if os.path.commonpath([top, real]) != top:
                raise data_error(source, f"{one_line(entry.path, 160)} links outside the folder (to "
                                 f"{one_line(real, 120)})", hint="archspec follows no link out of the folder it "
                                 "is given: name the real folder")
        try:           # both follow a link; is_file() is true for a regular file only
            kind = "dir" if entry.is_dir() else "file" if entry.is_file() else None
        except OSError:
            kind = None
        out.append((entry.name, entry.path, kind))
    return out


def _images(source: str, top: str, folder: str, seen: set) -> list[str]:
    """The image files below folder, in sorted order, each folder once (`seen`: the real paths
    walked so far, which stops link loops)."""
    found: list[tuple[str, list[str]]] = []
    todo = [folder]
    while todo:
        here = todo.pop()
        real = os.path.realpath(here)
        if real in seen:
            continue
        seen.add(real)
        files = []
        for name, path, kind in _entries(source, top, here):
            if kind == "dir":
                todo.append(path)
            elif kind == "file" and name.lower().endswith(IMAGE_SUFFIXES):
                _check_signature(source, path)      # a file that is not an image: its path now
                files.append(path)
        found.append((here, files))
    return [f for _, files in sorted(found) for f in files]


# the first bytes of every format of IMAGE_SUFFIXES (by content: PIL opens a PNG named .jpg)
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+",
              b"P1", b"P2", b"P3", b"P4", b"P5", b"P6", b"P7", b"Pf", b"PF")


def _check_signature(source: str, path: str) -> None:
    """The file starts as an image does (16 bytes read: a walk of a million images stays quick;
    the header is read, and the size checked, when the image is loaded)."""
    try:
        f, head = open_regular(path), b""      # not a regular file: no bytes, so not an image
        if f is not None:
            with f:
                head = f.read(16)
    except OSError as e:
        raise data_error(source, f"cannot read {one_line(path, 160)}: {e.strerror}") from None
    if not (head.startswith(SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")):
        raise data_error(source, f"{one_line(path, 160)} is not an image (it does not start as one)",
                         hint="an image folder holds images only: remove the file")


@contextmanager
def open_image(source: str, path: str):
    """A PIL image of a regular file (opened without blocking, so a FIFO never hangs), its size
    within MAX_IMAGE_PIXELS; its header is read here, its pixels when it is converted."""
    from PIL import Image
    try:
        f = open_regular(path)
    except OSError as e:
        raise data_error(source, f"cannot read {one_line(path, 160)}: {e.strerror}") from None
    if f is None:
        raise data_error(source, f"{one_line(path, 160)} is not a regular file")
    with f:
        try:
            with warnings.catch_warnings():     # PIL warns of sizes past its own limit: ours is lower
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(f)
        except Image.DecompressionBombError:
            raise data_error(source, f"{one_line(path, 160)} is more pixels than archspec's limit of "
                             f"{limits.MAX_IMAGE_PIXELS:,} (limits.MAX_IMAGE_PIXELS)") from None
        except Exception as e:      # noqa: BLE001 - PIL's errors for a file that is not an image vary
            raise data_error(source, f"{one_line(path, 160)} is not an image ({type(e).__name__})",
                             hint="an image folder holds images only: remove the file") from None
        if image.width * image.height > limits.MAX_IMAGE_PIXELS:
            raise data_error(source, f"{one_line(path, 160)} is {image.width:,} x {image.height:,} pixels, more "
                             f"than archspec's limit of {limits.MAX_IMAGE_PIXELS:,} (limits.MAX_IMAGE_PIXELS)")
        yield image


AUGMENTATIONS = ("crop+flip", "crop", "distort")


def augment(x: torch.Tensor, kind: str, background: float, generator: torch.Generator | None = None
            ) -> torch.Tensor:
    """A training batch augmented as `--augment KIND` says (one of AUGMENTATIONS)."""
    if kind == "distort":
        return distort(x, background, generator=generator)
    return crop(x, flip=kind == "crop+flip", generator=generator)


def crop(x: torch.Tensor, flip: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """AlexNet's augmentation (Krizhevsky et al. 2012, Sec. 4.1) on a batch: each image a random
    crop of the input size from the image zero-padded by 1/8 of its size on every side (AlexNet
    cropped 224 from 256), and with `flip` mirrored left-right with probability 1/2 (for objects;
    a mirrored digit is not the same digit)."""
    n, _, h, w = x.shape
    ph, pw = max(1, h // 8), max(1, w // 8)
    padded = F.pad(x, (pw, pw, ph, ph))
    dy = torch.randint(0, 2 * ph + 1, (n,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * pw + 1, (n,), generator=generator, device=x.device)
    mirror = (torch.rand(n, generator=generator, device=x.device) < 0.5) & flip
    rows = (dy.view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, w)
    cols = torch.where(mirror.view(n, 1), w - 1 - cols, cols) + dx.view(n, 1)
    idx_rows = rows.expand(n, x.shape[1], h, padded.shape[3])
    picked = padded.gather(2, idx_rows)
    return picked.gather(3, cols.view(n, 1, 1, w).expand(n, x.shape[1], h, w))


@dataclass(frozen=True)
class Distortions:
    """The ranges of `distort`'s random affine maps (as `affine` takes them: the map from output
    to input points), each drawn uniformly in [-r, r] per image."""
    translate: float = 0.05     # a fraction of the image's side, horizontally and vertically
    scale: float = 0.1          # relative size
    squeeze: float = 0.1        # width x (1 + q), height / (1 + q)
    shear: float = 0.1          # horizontal: x + shear * y
    rotate: float = 10.0        # degrees


DISTORTIONS = Distortions()


def distort(x: torch.Tensor, background: float, ranges: Distortions = DISTORTIONS,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """LeCun et al. 1998's training distortions (Sec. III-B, Fig. 7: random combinations of
    horizontal and vertical translation, scaling, squeezing and horizontal shearing, which took
    LeNet-5 from 0.95% to 0.8% test error on MNIST) on a batch, plus a small rotation: one random
    affine map per image, drawn as `ranges` says (the paper gives no ranges; these were chosen on
    digits)."""
    n = x.shape[0]
    r = ranges                # translate: a side is 2 units in affine's coordinates
    bounds = torch.tensor([2 * r.translate, 2 * r.translate, r.scale, r.squeeze, r.shear, math.radians(r.rotate)],
                          device=x.device)
    draw = (torch.rand(n, 6, generator=generator, device=x.device) * 2 - 1) * bounds
    return affine(x, draw, background)


def affine(x: torch.Tensor, params: torch.Tensor, background: float) -> torch.Tensor:
    """Each image n resampled bilinearly through the map of params[n] = (tx, ty, scale, squeeze,
    shear, angle): output point p (coordinates -1..1 across the image, y down) shows the input at
    R(angle) [[(1+scale)(1+squeeze), (1+scale) shear], [0, (1+scale) / (1+squeeze)]] p + (tx, ty),
    so positive tx moves the content left and scale > 0 shrinks it; uncovered points take the
    background value."""
    tx, ty, scale, squeeze, shear, angle = params.unbind(1)
    s, q = 1 + scale, 1 + squeeze
    cos, sin = angle.cos(), angle.sin()
    a, b, d = s * q, s * shear, s / q                       # the upper-triangular part, then R(angle)
    theta = torch.stack([torch.stack([cos * a, cos * b - sin * d, tx], 1),
                         torch.stack([sin * a, sin * b + cos * d, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x - background, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False) + background
