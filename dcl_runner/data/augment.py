"""Batched augmentation on the device: a whole uint8 batch in, a normalised float batch out.

Every random draw comes from the generator passed in (seeded per step by the trainer), so a
resumed run augments exactly as an uninterrupted one. Ops (``dataset.augment``):

- ``crop: pad``     random crop with zero padding (``padding`` px each side), per sample;
- ``crop: resized`` random resized crop (area ``scale``, aspect ``ratio``), per sample, as one
  ``grid_sample``; crops are clamped inside the image instead of torchvision's 10 re-draws;
- ``crop: none``;   ``flip: true`` horizontal flip with probability 1/2, per sample.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F

from .. import sections
from ..errors import check_value


def pad_crop(x: torch.Tensor, padding: int, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Random crop of the original size from the zero-padded batch; x is [B, C, H, W]."""
    if padding <= 0:
        return x
    b, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dev = x.device
    oy = torch.randint(0, 2 * padding + 1, (b,), device=dev, generator=generator)
    ox = torch.randint(0, 2 * padding + 1, (b,), device=dev, generator=generator)
    rows = (oy[:, None] + torch.arange(h, device=dev))[:, :, None]  # [B, H, 1]
    cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, :]  # [B, 1, W]
    batch = torch.arange(b, device=dev)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_flip(x: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def resized_crop(
    x: torch.Tensor,
    out_size: int,
    scale: Sequence[float],
    ratio: Sequence[float],
    generator: Optional[torch.Generator],
) -> torch.Tensor:
    """Random resized crop of a float batch to out_size x out_size (bilinear)."""
    b = x.shape[0]
    dev = x.device
    area = torch.empty(b, device=dev).uniform_(scale[0], scale[1], generator=generator)
    log_r = torch.empty(b, device=dev).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (torch.rand(b, device=dev, generator=generator) * 2 - 1) * (1 - w)
    cy = (torch.rand(b, device=dev, generator=generator) * 2 - 1) * (1 - h)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w, cx, h, cy
    grid = F.affine_grid(theta, [b, x.shape[1], out_size, out_size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


CROPS = {"none": "", "pad": "random crop with zero padding", "resized": "random resized crop"}


class Augment:
    """uint8 [B, C, H, W] on the device -> normalised float [B, C, S, S] (S = ``image_size``).

    The keyword-only arguments are ``dataset.augment``'s keys (conf/_base/dataset.yaml): ``crop`` (none | pad |
    resized), ``padding`` (pad), ``scale`` and ``ratio`` (resized), ``flip``.
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
    ):
        self.crop = str(check_value("dataset.augment.crop", crop or "none", CROPS))
        self.padding = int(padding)
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.flip = bool(flip)
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

    def train(self, images: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        x = images
        if self.crop == "pad":
            x = pad_crop(x, self.padding, generator)
        if self.flip:
            x = random_flip(x, generator)
        x = x.float()
        if self.crop == "resized":
            x = resized_crop(x, self.image_size, self.scale, self.ratio, generator)
        else:
            x = self._resize(x)
        return self._normalize(x)

    def eval(self, images: torch.Tensor) -> torch.Tensor:
        return self._normalize(self._resize(images.float()))


def build_augment(dataset: Any, channels_last: bool = False) -> Augment:
    """The ``dataset`` section's augmentation: ``Augment(image_size, mean, std, channels_last, **dataset.augment)``."""
    return sections.build(Augment, dataset["augment"], "dataset.augment", f"the augmentation of dataset {dataset['name']}",
                          int(dataset["image_size"]), list(dataset["mean"]), list(dataset["std"]), channels_last,
                          shared=())
