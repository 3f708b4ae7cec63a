"""Long-tailed training subsets and size caps."""
from __future__ import annotations

from typing import List

import numpy as np


def longtail_counts(n_max: int, num_classes: int, ratio: float) -> List[int]:
    """Images kept per class: n_i = n_max * ratio^(-i/(C-1)), truncated, at least 1.

    This is the exponential profile of the long-tail literature (Cao et al. 2019, the two-head
    paper sec. 3.1); truncation as in their code makes CIFAR-10/100 at ratio 100 keep 12,406 / 10,847.
    """
    if num_classes == 1:
        return [n_max]
    return [max(1, int(n_max * ratio ** (-i / (num_classes - 1)))) for i in range(num_classes)]


def longtail_indices(targets: np.ndarray, num_classes: int, ratio: float, seed: int = 0) -> np.ndarray:
    """Indices of a long-tailed subset: class i keeps a seeded random choice of n_i of its images.

    n_max is the size of the largest class; class 0 is the head. Returned sorted (dataset order).
    """
    targets = np.asarray(targets)
    present = np.bincount(targets, minlength=num_classes)
    counts = longtail_counts(int(present.max()), num_classes, ratio)
    rng = np.random.default_rng(seed)
    keep = []
    for c in range(num_classes):
        idx = np.flatnonzero(targets == c)
        rng.shuffle(idx)
        keep.append(idx[: counts[c]])
    return np.sort(np.concatenate(keep))


def stratified_cap(targets: np.ndarray, max_samples: int, seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_samples`` samples keeping every class's share (at least one each).

    Multi-class targets keep their class profile (so a smoke run of a long-tailed set is still
    long-tailed and has every class); attribute targets ([N, A]) are sampled uniformly.
    """
    n = len(targets)
    rng = np.random.default_rng(seed)
    if max_samples >= n:
        return np.arange(n)
    if np.asarray(targets).ndim != 1:
        return np.sort(rng.choice(n, size=max_samples, replace=False))
    frac = max_samples / n
    keep = []
    for c in np.unique(targets):
        idx = np.flatnonzero(targets == c)
        k = max(1, int(round(len(idx) * frac)))
        keep.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))
