"""The standard ImageNet input pipeline: each image file decoded when a batch needs it, in DataLoader workers.

``dataset.decode: standard`` (ImageNet, ImageNet-LT and WebVision by default) keeps a split as its list of
encoded image files (:class:`EncodedImages`) instead of a decoded cache. A worker process reads and decodes
each image of a batch in full and transforms it as pytorch/examples imagenet/main.py (the DP authors'
main_imagenet.py lines 112-126; Kang et al.'s classifier-balancing data/dataloader.py) do:

- training: ``RandomResizedCrop(image_size, scale, ratio)`` of the whole decoded image (torchvision's
  parameter draw: 10 tries of area and log-aspect, then the centre crop clamped to the ratio range),
  ``RandomHorizontalFlip()``, and ``ColorJitter(brightness, contrast, saturation)`` where
  ``dataset.augment.color_jitter`` asks for it (Kang et al.'s ImageNet-LT recipe), factors in random order;
- evaluation (and a method's un-augmented view of the training set): ``Resize(image_size / eval_crop_fraction)``
  of the short side (224 / 0.875 = 256), ``CenterCrop(image_size)`` (224); a smaller ``image_size`` (smoke runs)
  keeps the same proportion.

Resizing is PIL's antialiased bilinear filter, as torchvision's PIL path. A training crop's random numbers come
from a generator seeded by (step seed, the sample's position in the global batch): the same crop whatever the
number of workers or processes, and again on resume. The main process moves the uint8 [B, 3, S, S] batch to the
device, where it is only normalised (flip and crop are done). ``decode: cache`` keeps the previous path: decode
once into a square uint8 cache and crop on the device (small sets, or a machine short of CPU cores).

Sources: a list of files, or a packed file (:mod:`.packed`: one file of encoded images and an index).
"""
from __future__ import annotations

import io
import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError, DatasetError

DECODE_MODES = {"standard": "decode each batch in DataLoader workers with the standard ImageNet transforms",
                "cache": "decode once into a square cache, crop on the device"}


class EncodedImages:
    """N encoded images (files, or records of a packed file) decoded on demand to uint8 [3, S, S].

    To the shared data code it looks like a uint8 [N, 3, S, S] array (``len``, ``shape``, ``dtype``, ``ndim``;
    indexing with an index array gives the subset), but it is never loaded whole: ``SplitLoader`` decodes
    the rows of each batch in its workers (:func:`decode_rows`).
    """

    ndim = 4
    dtype = np.dtype(np.uint8)

    def __init__(self, sources: Any, size: int, eval_resize: int, augment: "TrainCrop") -> None:
        self.sources = sources  # a list of file paths, or a packed.PackedImages
        self.size, self.eval_resize, self.augment = int(size), int(eval_resize), augment

    def __len__(self) -> int:
        return len(self.sources)

    @property
    def shape(self) -> Tuple[int, int, int, int]:
        return (len(self), 3, self.size, self.size)

    def __getitem__(self, index) -> "EncodedImages":
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        sources = self.sources.subset(index) if hasattr(self.sources, "subset") else [self.sources[i] for i in index]
        return EncodedImages(sources, self.size, self.eval_resize, self.augment)

    def read(self, i: int) -> bytes:
        """The encoded bytes of image i."""
        source = self.sources[i]
        if isinstance(source, (bytes, memoryview, np.ndarray)):
            return bytes(source)
        with open(source, "rb") as fh:
            return fh.read()

    def name(self, i: int) -> str:
        return self.sources.name(i) if hasattr(self.sources, "name") else str(self.sources[i])

    def open(self, i: int):
        """Image i as an RGB PIL image (CMYK and greyscale JPEGs converted); DatasetError naming a bad file."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(self.read(i))) as img:
                return img.convert("RGB")
        except (OSError, ValueError, SyntaxError) as exc:
            raise DatasetError(f"cannot decode the image {self.name(i)} ({type(exc).__name__}: {exc}): the file is "
                               "corrupt or not an image. Replace it from the dataset's original archive.") from None


class TrainCrop:
    """The training transform's settings (``dataset.augment``): RandomResizedCrop's scale and ratio, the flip
    and ColorJitter's brightness / contrast / saturation (null: none)."""

    def __init__(self, augment: Any) -> None:
        augment = augment or {}
        self.scale = tuple(float(v) for v in augment.get("scale", (0.08, 1.0)))
        self.ratio = tuple(float(v) for v in augment.get("ratio", (3 / 4, 4 / 3)))
        self.flip = bool(augment.get("flip", True))
        jitter = augment.get("color_jitter")
        self.jitter = tuple(float(v) for v in jitter) if jitter else None
        if self.jitter is not None and (len(self.jitter) != 3 or min(self.jitter) < 0):
            raise ConfigError(f"dataset.augment.color_jitter={list(jitter)}: expected [brightness, contrast, saturation], "
                              "each >= 0 (torchvision ColorJitter's factors), or null")


def resized_crop_box(width: int, height: int, scale: Sequence[float], ratio: Sequence[float],
                     rng: np.random.Generator) -> Tuple[int, int, int, int]:
    """torchvision RandomResizedCrop.get_params: (top, left, h, w) of the crop, drawn with ``rng``."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    in_ratio = width / height  # fallback: the whole image, cut to the ratio range, centred
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def train_transform(img, size: int, crop: TrainCrop, rng: np.random.Generator):
    """RandomResizedCrop(size) + RandomHorizontalFlip() (+ ColorJitter) of a PIL image. The crop is cut, then
    resized, as torchvision's PIL path does (resizing with a box would let the filter see past the crop)."""
    from PIL import Image

    top, left, h, w = resized_crop_box(img.width, img.height, crop.scale, crop.ratio, rng)
    img = img.crop((left, top, left + w, top + h)).resize((size, size), Image.BILINEAR)
    if crop.flip and rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    if crop.jitter:
        factors = [rng.uniform(max(0.0, 1 - j), 1 + j) for j in crop.jitter]
        img = color_jitter(img, factors, [k for k in rng.permutation(3) if crop.jitter[k] > 0])
    return img


def color_jitter(img, factors: Sequence[float], order: Sequence[int]):
    """torchvision ColorJitter on a PIL image: brightness, contrast, saturation (factors[0..2]), applied in
    ``order`` (its random order), each as torchvision's adjust_* does on PIL (ImageEnhance; contrast about the
    mean of the greyscale image)."""
    from PIL import ImageEnhance

    enhancers = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)
    for k in order:
        img = enhancers[k](img).enhance(factors[k])
    return img


def eval_transform(img, size: int, resize: int):
    """Resize(resize) of the short side (torchvision: the long side int(resize * long / short)) + CenterCrop(size)."""
    from PIL import Image

    short, long = sorted((img.width, img.height))
    if short != resize:
        scaled = int(resize * long / short)
        img = img.resize((resize, scaled) if img.width <= img.height else (scaled, resize), Image.BILINEAR)
    top, left = int(round((img.height - size) / 2.0)), int(round((img.width - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def sample_rng(step_seed: int, position: int) -> np.random.Generator:
    """The generator of one training crop: (step seed, position in the global batch)."""
    return np.random.default_rng([step_seed % 2**63, position])


def decode_rows(images: EncodedImages, rows: np.ndarray, crop: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """uint8 [len(rows), 3, S, S]: the evaluation transform of each row, or with ``crop = (step seed, offset)``
    the training transform, sample j drawing from ``sample_rng(step seed, offset + j)``."""
    out = np.empty((len(rows), 3, images.size, images.size), dtype=np.uint8)
    for j, i in enumerate(rows):
        img = images.open(int(i))
        if crop is None:
            img = eval_transform(img, images.size, images.eval_resize)
        else:
            img = train_transform(img, images.size, images.augment, sample_rng(crop[0], crop[1] + j))
        out[j] = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    return out


def encoded_split_images(sources: Any, image_size: int, eval_crop_fraction: float, augment: Any) -> EncodedImages:
    """``dataset.decode: standard``: the split's images, decoded per batch at ``image_size``, evaluated after a
    resize to ``image_size / eval_crop_fraction``, trained with ``augment``'s crop, flip and colour jitter."""
    fraction = float(eval_crop_fraction)
    if not 0 < fraction <= 1:
        raise ConfigError(f"dataset.eval_crop_fraction={fraction}: expected a number in (0, 1] (the centre crop's share "
                          "of the resized short side; 0.875 = 224 / 256, the standard protocol)")
    size = int(image_size)
    return EncodedImages(sources, size, math.floor(size / fraction + 1e-6), TrainCrop(augment))


def is_encoded(images: Any) -> bool:
    return isinstance(images, EncodedImages)

