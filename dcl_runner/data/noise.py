"""Synthetic label noise for the data-parameters experiments (DP sec. 3.4)."""
from __future__ import annotations

from typing import Tuple

import numpy as np


def uniform_noise(targets: np.ndarray, num_classes: int, rate: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """The paper's text: each label is replaced, with probability ``rate``, by a uniformly random class.

    The random class may equal the true one (as in the setting of [17, 26] the paper follows), so the
    fraction of labels that actually change is rate * (C-1)/C. Returns (new targets, noisy mask),
    where the mask marks samples whose label now differs from the true one.
    """
    rng = np.random.default_rng(seed)
    targets = np.asarray(targets).copy()
    replace = rng.random(len(targets)) < rate
    new = targets.copy()
    new[replace] = rng.integers(0, num_classes, size=int(replace.sum()))
    return new, new != targets


def permute_noise(targets: np.ndarray, rate: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """The authors' code: the labels of a ``rate`` fraction of samples are shuffled among themselves.

    Equivalent to shuffling the images of those samples. floor(rate * N) samples are chosen, as in the
    authors' code (which shuffles the first floor(rate * N) images). Returns (new targets, noisy
    mask); the mask marks the chosen samples whose label changed (a shuffle may keep a few labels).
    """
    rng = np.random.default_rng(seed)
    targets = np.asarray(targets).copy()
    n_noisy = int(np.floor(rate * len(targets) + 1e-9))
    chosen = rng.choice(len(targets), size=n_noisy, replace=False)
    new = targets.copy()
    new[chosen] = targets[rng.permutation(chosen)]
    return new, new != targets
