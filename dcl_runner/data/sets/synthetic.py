"""``synthetic_attributes``: the embedded default dataset (no download, deterministic by seed).

Small RGB images carrying CelebA's 40 attributes at CelebA's positive rates (DCL Table 2 levels).
Each attribute k owns a smooth random colour pattern at its own place on the image; a sample with
the attribute shows that pattern at a per-sample strength in [``min_strength``, 1] (so some
positives are hard), shifted by a small per-attribute jitter. All samples also get a per-image
translation, a smooth random background and pixel noise. Patterns overlap, so an attribute is
learnable but not trivial, and the rare ones suffer from imbalance the way CelebA's do.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..base import ATTRIBUTES, DATASETS, DataBundle, ImageDataset, Split
from ..celeba_attributes import ATTRIBUTE_NAMES, positive_rates


def _smooth_field(rng: np.random.Generator, n: int, channels: int, size: int, coarse: int) -> np.ndarray:
    """n smooth random fields [n, C, size, size]: coarse Gaussian noise upsampled bilinearly."""
    import torch
    import torch.nn.functional as F

    base = torch.from_numpy(rng.standard_normal((n, channels, coarse, coarse)).astype(np.float32))
    up = F.interpolate(base, size=(size, size), mode="bicubic", align_corners=False)
    up = up / up.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-6)
    return up.numpy()


def _shift_groups(rng: np.random.Generator, n: int, max_shift: int):
    """Per-sample integer shifts (dy, dx) in [-max_shift, max_shift], grouped by value."""
    dy = rng.integers(-max_shift, max_shift + 1, size=n)
    dx = rng.integers(-max_shift, max_shift + 1, size=n)
    for sy in range(-max_shift, max_shift + 1):
        for sx in range(-max_shift, max_shift + 1):
            yield sy, sx, np.flatnonzero((dy == sy) & (dx == sx))


def generate(n: int, size: int, seed: int, pattern_seed: int, strength: float, noise: float,
             min_strength: float, pattern_size: int) -> tuple:
    """Return (uint8 images [n, 3, size, size], uint8 attributes [n, 40])."""
    layout = np.random.default_rng(pattern_seed)  # the attribute -> pattern map, shared by all splits
    num_attr = len(ATTRIBUTE_NAMES)
    patterns = _smooth_field(layout, num_attr, 3, pattern_size, 3)
    places = layout.integers(0, size - pattern_size + 1, size=(num_attr, 2))

    rng = np.random.default_rng(seed)
    attrs = (rng.random((n, num_attr)) < positive_rates()[None, :]).astype(np.uint8)
    pad = 3
    canvas = np.zeros((n, 3, size + 2 * pad, size + 2 * pad), dtype=np.float32)
    for k in range(num_attr):
        pos = np.flatnonzero(attrs[:, k])
        if len(pos) == 0:
            continue
        amount = rng.uniform(min_strength, 1.0, size=len(pos)).astype(np.float32)[:, None, None, None]
        y0, x0 = places[k] + pad
        for sy, sx, members in _shift_groups(rng, len(pos), 1):
            if len(members):
                rows = slice(y0 + sy, y0 + sy + pattern_size)
                cols = slice(x0 + sx, x0 + sx + pattern_size)
                canvas[pos[members], :, rows, cols] += amount[members] * patterns[k]
    images = np.empty((n, 3, size, size), dtype=np.float32)
    for sy, sx, members in _shift_groups(rng, n, 2):  # per-image translation (pose / alignment)
        if len(members):
            images[members] = canvas[members, :, pad + sy : pad + sy + size, pad + sx : pad + sx + size]
    background = _smooth_field(rng, n, 3, size, 4)
    pixels = 128 + 40 * strength * images + 25 * background + 255 * noise * rng.standard_normal(images.shape, dtype=np.float32)
    return np.clip(pixels, 0, 255).astype(np.uint8), attrs


@DATASETS.register("synthetic_attributes")
class SyntheticAttributes(ImageDataset):
    """conf/dataset/synthetic_attributes.yaml documents the keys below."""

    kind = ATTRIBUTES
    embedded = True

    def __init__(self, *, image_size: int, num_train: int, num_test: int, data_seed: int, pattern_seed: int,
                 pattern_size: int, strength: float, min_strength: float, pixel_noise: float,
                 generate_size: Optional[int] = None):  # optional: in no YAML; null generates at image_size
        self.sizes = (int(num_train), int(num_test))
        self.data_seed = int(data_seed)
        self.common = dict(size=int(generate_size or image_size), pattern_seed=int(pattern_seed), strength=float(strength),
                           noise=float(pixel_noise), min_strength=float(min_strength), pattern_size=int(pattern_size))

    def load(self) -> DataBundle:
        train = generate(self.sizes[0], seed=self.data_seed, **self.common)
        test = generate(self.sizes[1], seed=self.data_seed + 1, **self.common)
        return DataBundle(
            kind=ATTRIBUTES,
            names=list(ATTRIBUTE_NAMES),
            train=Split(*train),
            test=Split(*test),
        )
