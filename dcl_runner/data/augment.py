"""Batched augmentation on the device: a whole uint8 batch in, a normalised float batch out.

Every random draw comes from the generator passed in (seeded per step by the trainer), so a
resumed run augments exactly as an uninterrupted one. In a distributed run a process holds its part of the
global batch (``part``, distributed.BatchPart): the per-sample draws are made for the whole global batch and
sliced, so every sample is augmented as in the 1-process run. Ops (``dataset.augment``):

- ``crop: pad``     random crop with zero padding (``padding`` px each side), per sample;
- ``crop: resized`` random resized crop (area ``scale``, aspect ``ratio``), per sample, as one
  ``grid_sample``; crops are clamped inside the image instead of torchvision's 10 re-draws;
- ``crop: none``;   ``flip: true`` horizontal flip with probability 1/2, per sample;
- ``grayscale: p``  random grayscale with probability p, per sample, after the crop and flip (torchvision
  RandomGrayscale's place in SupCon's pipeline, HobbitLong/SupContrast main_supcon.py): the three channels become
  their luma 0.299 R + 0.587 G + 0.114 B (ITU-R 601-2, PIL ``convert('L')``), unrounded; a single-channel image is
  left as it is. p = 0 draws nothing, so the other draws of a batch do not move.
- ``photometric: ssd`` SSD's photometric distortions, per sample (any dataset);
- ``geometric: ssd``   SSD's zoom-out, IoU crop and flip with the boxes following (detection; ``train_batch``).
  Both take their values from ``ssd`` (``ssd_augment.SsdRecipe``); ``data/ssd_augment.py`` documents them.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from .. import sections
from ..distributed import BatchPart, per_sample
from ..errors import ConfigError, check_value
from .colour import PIL_LUMA, luma
from .ssd_augment import SsdRecipe, draw_geometry, move_boxes, photometric_distort, warp

log = logging.getLogger(__name__)


def pad_crop(x: torch.Tensor, padding: int, generator: Optional[torch.Generator], part: Optional[BatchPart] = None) -> torch.Tensor:
    """Random crop of the original size from the zero-padded batch; x is [B, C, H, W]."""
    if padding <= 0:
        return x
    b, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dev = x.device

    def offsets(k: int) -> torch.Tensor:
        return torch.randint(0, 2 * padding + 1, (k,), device=dev, generator=generator)

    oy = per_sample(offsets, b, part)
    ox = per_sample(offsets, b, part)
    rows = (oy[:, None] + torch.arange(h, device=dev))[:, :, None]  # [B, H, 1]
    cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, :]  # [B, 1, W]
    batch = torch.arange(b, device=dev)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_flip(x: torch.Tensor, generator: Optional[torch.Generator], part: Optional[BatchPart] = None) -> torch.Tensor:
    flip = per_sample(lambda k: torch.rand(k, device=x.device, generator=generator), x.shape[0], part) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_grayscale(x: torch.Tensor, p: float, generator: Optional[torch.Generator],
                     part: Optional[BatchPart] = None) -> torch.Tensor:
    """Per sample with probability ``p``: every channel := 0.299 R + 0.587 G + 0.114 B (float [B, 3, H, W])."""
    if p <= 0 or x.shape[1] != 3:
        return x
    gray = per_sample(lambda k: torch.rand(k, device=x.device, generator=generator), x.shape[0], part) < p
    return torch.where(gray[:, None, None, None], luma(x, PIL_LUMA).expand_as(x), x)


def resized_crop(
    x: torch.Tensor,
    out_size: int,
    scale: Sequence[float],
    ratio: Sequence[float],
    generator: Optional[torch.Generator],
    part: Optional[BatchPart] = None,
) -> torch.Tensor:
    """Random resized crop of a float batch to out_size x out_size (bilinear)."""
    b = x.shape[0]
    dev = x.device

    def uniform(low: float, high: float) -> Callable[[int], torch.Tensor]:
        return lambda k: torch.empty(k, device=dev).uniform_(low, high, generator=generator)

    area = per_sample(uniform(scale[0], scale[1]), b, part)
    aspect = torch.exp(per_sample(uniform(math.log(ratio[0]), math.log(ratio[1])), b, part))
    w = torch.sqrt(area * aspect).clamp(max=1.0)
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (per_sample(lambda k: torch.rand(k, device=dev, generator=generator), b, part) * 2 - 1) * (1 - w)
    cy = (per_sample(lambda k: torch.rand(k, device=dev, generator=generator), b, part) * 2 - 1) * (1 - h)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w, cx, h, cy
    grid = F.affine_grid(theta, [b, x.shape[1], out_size, out_size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


CROPS = {"none": "", "pad": "random crop with zero padding", "resized": "random resized crop"}
GEOMETRIC = {"none": "the boxes stay where they are", "ssd": "SSD's zoom-out, IoU crop and flip, boxes following"}
PHOTOMETRIC = {"none": "", "ssd": "SSD's brightness, contrast, saturation, hue and channel order distortions"}


class Augment:
    """uint8 [B, C, H, W] on the device -> normalised float [B, C, S, S] (S = ``image_size``).

    The keyword-only arguments are ``dataset.augment``'s keys (conf/_base/dataset.yaml): ``crop`` (none | pad |
    resized), ``padding`` (pad), ``scale`` and ``ratio`` (resized), ``flip``, ``grayscale``, ``geometric`` and
    ``photometric`` (none | ssd) with the values of ``ssd`` (``SsdRecipe``); ``color_jitter`` only in the YAMLs of
    the ImageNet-family datasets, whose standard pipeline (``dataset.decode: standard``, data/encoded.py) applies it
    in the DataLoader workers: on the device it is not applied, and a run that sets it says so.
    """

    def __init__(
        self,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        channels_last: bool = False,
        dtype: torch.dtype = torch.float32,
        *,
        crop: Optional[str],
        padding: int,
        scale: Sequence[float],
        ratio: Sequence[float],
        flip: bool,
        grayscale: float = 0.0,  # conf/_base/dataset.yaml gives it; the default keeps hand-built Augments as they were
        geometric: str = "none",  # optional across datasets: only the detection ones (conf/_base/ssd_augment.yaml) set it
        photometric: str = "none",  # likewise
        ssd: Optional[SsdRecipe] = None,  # likewise: the recipe's values, where geometric / photometric may be ssd
        color_jitter: Optional[Sequence[float]] = None,  # optional across datasets: only the ImageNet-family YAMLs have it
    ):
        self.crop = str(check_value("dataset.augment.crop", crop or "none", CROPS))
        self.padding = int(padding)
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.flip = bool(flip)
        self.grayscale = float(grayscale)
        if not 0.0 <= self.grayscale <= 1.0:
            raise ConfigError(f"dataset.augment.grayscale={grayscale}: expected a probability in [0, 1] (0: off; "
                              "Hybrid-SC's CIFAR protocol 0.2)")
        self.geometric = str(check_value("dataset.augment.geometric", geometric, GEOMETRIC))
        self.photometric = str(check_value("dataset.augment.photometric", photometric, PHOTOMETRIC))
        self.ssd = ssd
        if ssd is None and "ssd" in (self.geometric, self.photometric):
            raise ConfigError(f"dataset.augment geometric={self.geometric} photometric={self.photometric}: SSD's "
                              "augmentation needs its values in dataset.augment.ssd; add `- /_base/ssd_augment@augment` "
                              "to the dataset's defaults (as conf/dataset/kitti.yaml does)")
        problems = ssd.problems() if "ssd" in (self.geometric, self.photometric) else []
        if problems:
            raise ConfigError("dataset.augment.ssd." + problems[0] + " (conf/_base/ssd_augment.yaml gives the recipe's values)")
        if self.geometric == "ssd" and (self.crop != "none" or self.flip):
            raise ConfigError(f"dataset.augment.geometric=ssd crops and flips by itself (with the boxes); crop={self.crop} "
                              f"flip={self.flip} would move the pixels a second time: set crop: none, flip: false")
        self.color_jitter = color_jitter
        self.image_size = int(image_size)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.channels_last = channels_last
        self.dtype = dtype

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean.to(x.device), self.std.to(x.device)
        x = (x - mean * 255.0) / (std * 255.0)
        if self.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x.contiguous()

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == self.image_size and x.shape[-2] == self.image_size:
            return x
        return F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False)

    def train_batch(self, images: torch.Tensor, targets: torch.Tensor, generator: Optional[torch.Generator],
                    part: Optional[BatchPart] = None) -> tuple:
        """(augmented images, targets): the targets are the batch's own unless ``geometric: ssd`` moved its boxes
        with the pixels (detection box rows, ``data/boxes.py``; a new tensor)."""
        if self.geometric == "none":
            return self.train(images, generator, part), targets
        if targets.ndim != 3:
            raise ConfigError("dataset.augment.geometric=ssd moves boxes with the pixels: detection datasets only; "
                              "set dataset.augment.geometric: none")
        x = images.float()
        if self.photometric == "ssd":
            x = photometric_distort(x, self.ssd, generator, part)
        geometry = draw_geometry(targets, self.ssd, generator, part)
        x = warp(x, geometry, self.mean.view(-1) * 255.0, self.image_size)
        return self._normalize(x), move_boxes(targets, geometry)

    def train(self, images: torch.Tensor, generator: Optional[torch.Generator], part: Optional[BatchPart] = None) -> torch.Tensor:
        """``part``: where these images sit in their global batch (a distributed run; None: they are all of it).
        Images only: with ``geometric: ssd`` the boxes must follow, through ``train_batch``."""
        if self.geometric != "none":
            raise ConfigError("dataset.augment.geometric=ssd moves the boxes with the pixels: augment through "
                              "Augment.train_batch(images, targets, ...)")
        x = images
        if self.crop == "pad":
            x = pad_crop(x, self.padding, generator, part)
        if self.flip:
            x = random_flip(x, generator, part)
        x = x.float()
        if self.photometric == "ssd":
            x = photometric_distort(x, self.ssd, generator, part)
        if self.crop == "resized":
            x = resized_crop(x, self.image_size, self.scale, self.ratio, generator, part)
        else:
            x = self._resize(x)
        return self._normalize(random_grayscale(x, self.grayscale, generator, part))

    def eval(self, images: torch.Tensor) -> torch.Tensor:
        return self._normalize(self._resize(images.float()))


def _positional(dataset: Any, channels_last: bool) -> tuple:
    """Augment's positional arguments from the ``dataset`` section: image_size, mean, std, channels_last."""
    return int(dataset["image_size"]), list(dataset["mean"]), list(dataset["std"]), channels_last


def section_augment(dataset: Any, channels_last: bool = False) -> Augment:
    """``Augment(image_size, mean, std, channels_last, **dataset.augment)``, every key and value checked (one
    ConfigError each): what the config check builds, and what ``build_augment`` starts from."""
    owner = f"the augmentation of dataset {dataset['name']}"
    return sections.build(Augment, dataset["augment"], "dataset.augment", owner, *_positional(dataset, channels_last),
                          shared=())


def build_augment(dataset: Any, channels_last: bool = False, crops_in_workers: bool = False) -> Augment:
    """The ``dataset`` section's augmentation as the run applies it (``section_augment``). ``crops_in_workers`` (the
    standard pipeline, data/encoded.py): crop, flip and colour jitter were done when the images were decoded, and
    the device only normalises them."""
    augment = section_augment(dataset, channels_last)
    args = _positional(dataset, channels_last)
    if crops_in_workers:
        return Augment(*args, crop="none", padding=0, scale=augment.scale, ratio=augment.ratio, flip=False,
                       grayscale=augment.grayscale,  # after the workers' crop / jitter, as torchvision orders it
                       geometric="none", photometric=augment.photometric, ssd=augment.ssd)
    if augment.color_jitter:
        log.warning("dataset.augment.color_jitter=%s is not applied: only dataset.decode=standard (the ImageNet "
                    "family's per-batch decoding) applies colour jitter; set it to null to silence this",
                    list(augment.color_jitter))
    return augment
