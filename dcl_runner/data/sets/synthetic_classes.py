"""``synthetic_classes``: an embedded multi-class dataset (no download, deterministic by seed).

Each class owns a smooth random colour prototype covering the image; a sample of class c shows its
prototype at a per-sample strength in [``min_strength``, 1], shifted by up to 2 pixels, over a smooth
random background with pixel noise. Prototypes are correlated through a shared component
(``overlap``), so classes are learnable but not trivially separable. The training set starts
balanced (``train_per_class``) and the shared long-tail profile (``imbalance_ratio``) then thins it;
the test set stays balanced. It stands in for CIFAR-LT / ImageNet-LT shaped tasks in
``python -m dcl_runner.tables --budget smoke`` when the real data is not on disk.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..base import DATASETS, MULTICLASS, DataBundle, ImageDataset, Split
from .synthetic import _shift_groups, _smooth_field


def generate_classes(per_class: int, num_classes: int, size: int, channels: int, seed: int, pattern_seed: int,
                     strength: float, min_strength: float, overlap: float, noise: float) -> tuple:
    """Return (uint8 images [N, C, size, size], int64 labels [N]) with ``per_class`` images of every class."""
    layout = np.random.default_rng(pattern_seed)  # the class -> prototype map, shared by all splits
    shared = _smooth_field(layout, 1, channels, size, 4)
    own = _smooth_field(layout, num_classes, channels, size, 4)
    prototypes = (overlap * shared + (1.0 - overlap) * own).astype(np.float32)

    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes, dtype=np.int64), per_class)
    rng.shuffle(labels)
    n = len(labels)
    amount = rng.uniform(min_strength, 1.0, size=n).astype(np.float32)[:, None, None, None]
    images = np.empty((n, channels, size, size), dtype=np.uint8)
    for start in range(0, n, 2048):  # chunks keep the float32 working set small
        sel = slice(start, min(n, start + 2048))
        signal = amount[sel] * prototypes[labels[sel]]
        shifted = np.empty_like(signal)
        for sy, sx, members in _shift_groups(rng, len(signal), 2):
            if len(members):
                shifted[members] = np.roll(signal[members], (sy, sx), axis=(2, 3))
        background = _smooth_field(rng, len(signal), channels, size, 4)
        pixels = 128 + 45 * strength * shifted + 20 * background + 255 * noise * rng.standard_normal(shifted.shape, dtype=np.float32)
        images[sel] = np.clip(pixels, 0, 255).astype(np.uint8)
    return images, labels


@DATASETS.register("synthetic_classes")
class SyntheticClasses(ImageDataset):
    """conf/dataset/synthetic_classes.yaml documents the keys below."""

    kind = MULTICLASS
    embedded = True  # num_classes: the config's (the class attribute stays None)

    def __init__(self, *, num_classes: int, channels: int, image_size: int, train_per_class: int,
                 test_per_class: int, data_seed: int, pattern_seed: int, strength: float, min_strength: float,
                 overlap: float, pixel_noise: float,
                 generate_size: Optional[int] = None):  # optional: in no YAML; null generates at image_size
        self.classes = int(num_classes)
        self.per_class = (int(train_per_class), int(test_per_class))
        self.data_seed = int(data_seed)
        self.common = dict(
            num_classes=self.classes, size=int(generate_size or image_size), channels=int(channels),
            pattern_seed=int(pattern_seed), strength=float(strength), min_strength=float(min_strength),
            overlap=float(overlap), noise=float(pixel_noise),
        )

    def load(self) -> DataBundle:
        train = generate_classes(self.per_class[0], seed=self.data_seed, **self.common)
        test = generate_classes(self.per_class[1], seed=self.data_seed + 1, **self.common)
        return DataBundle(
            kind=MULTICLASS,
            names=[f"class_{k:03d}" for k in range(self.classes)],
            train=Split(*train),
            test=Split(*test),
        )
