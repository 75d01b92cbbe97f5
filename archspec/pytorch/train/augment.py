"""The papers' training augmentations and test-time views, on batches of images that the data
source made `resize` x `resize` (or the input's size). Each image draws its random numbers from
torch's global generator in the order torchvision's transforms do (so the same seed gives
torchvision's crops), and that generator is in every checkpoint: a resumed run draws what the
straight one did.

Training: random_sized_crop (Szegedy et al. 2015, Sec. 6, as torchvision's RandomResizedCrop),
scale_jitter (Simonyan & Zisserman 2015, Sec. 3.1: the image rescaled isotropically to a random
S in scale_range, then a random crop), crop (Krizhevsky et al. 2012, Sec. 4.1: a random crop of
the input size; from an image of the input's own size, one zero-padded by 1/8), flip (mirror with
probability 1/2), distort (LeCun et al. 1998, data.distort), pca_lighting (Krizhevsky et al.,
Sec. 4.1: each image plus sum_i alpha_i lambda_i p_i, alpha_i ~ N(0, lighting_std)).
Test: full (the image as it is), center (its central crop), ten_crop (the four corners and the
center, and their mirror images, the softmax outputs averaged: Krizhevsky et al., Sec. 4.1)."""
from __future__ import annotations

import torch
import torchvision.transforms.functional as TF
from torchvision import transforms

from .data import crop as pad_crop
from .data import distort

# ImageNet's RGB eigenvalues and eigenvectors (columns) for pixels in [0, 1], as fb.resnet.torch
# computed them for its AlexNet-style lighting noise; the paper computed its own on ImageNet's
# training set and does not print them
IMAGENET_EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
IMAGENET_EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009],
                                [-0.5808, -0.0045, -0.8140],
                                [-0.5836, -0.6948, 0.4203]])


def train_views(x: torch.Tensor, recipe, size: tuple[int, int], ink: tuple[float, float]) -> torch.Tensor:
    """A training batch augmented as the recipe says, at the input's size (H, W); `ink`: the
    normalised values of black and white."""
    steps = recipe.augment
    if "random_sized_crop" in steps:
        x = torch.stack([random_sized_crop(i, size, recipe.crop_scale, recipe.crop_ratio) for i in x])
    if "scale_jitter" in steps:
        x = torch.stack([scale_jitter(i, size, recipe.scale_range) for i in x])
    if "crop" in steps:
        x = pad_crop(x, flip=False) if tuple(x.shape[-2:]) == size else torch.stack([random_crop(i, size) for i in x])
    x = center(x, size)
    if "flip" in steps:
        x = torch.stack([flip(i) for i in x])
    if "distort" in steps:
        x = distort(x, ink[0])
    if "pca_lighting" in steps and x.shape[1] == 3:
        x = torch.stack([lighting(i, recipe.lighting_std, ink[1] - ink[0]) for i in x])
    return x


def random_sized_crop(img: torch.Tensor, size, scale, ratio) -> torch.Tensor:
    i, j, h, w = transforms.RandomResizedCrop.get_params(img, list(scale), list(ratio))
    return TF.resized_crop(img, i, j, h, w, list(size), antialias=True)


def scale_jitter(img: torch.Tensor, size, scale_range) -> torch.Tensor:
    s = int(torch.randint(scale_range[0], scale_range[1] + 1, (1,)).item())
    return random_crop(TF.resize(img, s, antialias=True), size)


def random_crop(img: torch.Tensor, size) -> torch.Tensor:
    i, j, h, w = transforms.RandomCrop.get_params(img, tuple(size))
    return img[..., i:i + h, j:j + w]


def flip(img: torch.Tensor) -> torch.Tensor:
    return img.flip(-1) if torch.rand(1) < 0.5 else img


def lighting(img: torch.Tensor, std: float, unit: float) -> torch.Tensor:
    """AlexNet's PCA colour noise on one RGB image; `unit`: the normalised size of [0, 1]."""
    alpha = torch.randn(3) * std
    shift = IMAGENET_EIGVEC @ (alpha * IMAGENET_EIGVAL) * unit
    return img + shift.to(img.device, img.dtype).view(3, 1, 1)


def center(x: torch.Tensor, size) -> torch.Tensor:
    """The central size crop (nothing when the batch is that size already)."""
    return x if tuple(x.shape[-2:]) == tuple(size) else TF.center_crop(x, list(size))


def eval_views(x: torch.Tensor, protocol: str, size) -> list[torch.Tensor]:
    """The views of a test batch whose predictions are averaged."""
    if protocol == "ten_crop":        # the patches' mirror images (torchvision's ten_crop crops the mirrored
        crops = list(TF.five_crop(x, list(size)))     # image: another center where the margin is odd)
        return crops + [c.flip(-1) for c in crops]
    return [center(x, size)]
