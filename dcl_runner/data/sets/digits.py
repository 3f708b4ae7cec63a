"""``digits_lt``: scikit-learn's bundled handwritten digits (1,797 real 8x8 images, no download).

A seeded stratified split puts ``test_per_class`` images of every digit in a balanced test set;
the rest is the training set, to which the long-tail profile (``imbalance_ratio``) is applied.
"""
from __future__ import annotations

import numpy as np

from ..base import DATASETS, MULTICLASS, DataBundle, ImageDataset, Split


@DATASETS.register("digits_lt")
class DigitsLT(ImageDataset):
    """conf/dataset/digits_lt.yaml documents the keys below."""

    kind = MULTICLASS
    num_classes = 10
    embedded = True  # bundled with scikit-learn

    def __init__(self, *, split_seed: int, test_per_class: int):
        self.split_seed, self.test_per_class = int(split_seed), int(test_per_class)

    def load(self) -> DataBundle:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[:, None, :, :]
        targets = digits.target.astype(np.int64)
        rng = np.random.default_rng(self.split_seed)
        per_class = self.test_per_class
        test_idx = np.concatenate([rng.permutation(np.flatnonzero(targets == c))[:per_class] for c in range(10)])
        train_mask = np.ones(len(targets), dtype=bool)
        train_mask[test_idx] = False
        test_idx = np.sort(test_idx)
        return DataBundle(
            kind=MULTICLASS,
            names=[str(d) for d in range(10)],
            train=Split(images[train_mask], targets[train_mask]),
            test=Split(images[test_idx], targets[test_idx]),
        )
