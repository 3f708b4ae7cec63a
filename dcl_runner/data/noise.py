"""Synthetic label noise for the data-parameters experiments (DP sec. 3.4).

Both modes return a :class:`LabelNoise`: the new training targets, ``chosen`` (the samples picked for
corruption, a ``rate`` fraction: the oracle of DP Table 2 trains on the others, "in setting with 40% noise, we
train only on 60% clean data") and ``noisy`` (the chosen samples whose label now differs from the true one; a
uniformly redrawn or shuffled label can equal the old one, so ``noisy`` is a subset of ``chosen``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class LabelNoise(NamedTuple):
    targets: np.ndarray   # the corrupted training targets
    noisy: np.ndarray     # bool [N]: label differs from the true one
    chosen: np.ndarray    # bool [N]: picked for corruption (noisy ⊆ chosen)


def uniform_noise(targets: np.ndarray, num_classes: int, rate: float, seed: int) -> LabelNoise:
    """The paper's text (DP sec. 3.4, the setting of [17, 26]): "the label of each image is independently changed
    to a uniform random class with probability p". Each sample is chosen with probability ``rate`` and gets a
    uniformly random class, which may be the true one, so about rate * (C-1)/C of the labels change."""
    rng = np.random.default_rng(seed)
    targets = np.asarray(targets).copy()
    chosen = rng.random(len(targets)) < rate
    new = targets.copy()
    new[chosen] = rng.integers(0, num_classes, size=int(chosen.sum()))
    return LabelNoise(new, new != targets, chosen)


def permute_noise(targets: np.ndarray, rate: float, seed: int) -> LabelNoise:
    """The authors' code (dataset/cifar_dataset.py): the images of floor(rate * N) samples are shuffled among
    themselves, i.e. their labels are permuted. The authors always shuffle the first floor(rate * N) images;
    here the chosen samples are a seeded random set of that size (the training order is shuffled anyway)."""
    rng = np.random.default_rng(seed)
    targets = np.asarray(targets).copy()
    n_noisy = int(np.floor(rate * len(targets) + 1e-9))
    picked = rng.choice(len(targets), size=n_noisy, replace=False)
    new = targets.copy()
    new[picked] = targets[rng.permutation(picked)]
    chosen = np.zeros(len(targets), dtype=bool)
    chosen[picked] = True
    return LabelNoise(new, new != targets, chosen)
