"""A clean hold-out: training images kept with their true labels for methods that learn from a small clean set.

Learning to re-weight (Ren et al., ICML 2018, CIFAR noisy-label experiments: "For UNIFORMFLIP, we use 1,000 clean images in the
validation set", split off the training set) and MentorNet DD (Jiang et al., ICML 2018: the mentor learns on a
small clean subset) need one. ``dataset.clean_holdout.size`` images are drawn uniformly without replacement from
the training set by ``dataset.clean_holdout.seed`` (a fixed draw for every run, as Ren et al.'s
``generate_noisy_cifar_data._split`` shuffles with one seed); label noise never touches them (their true label is
restored), and ``meta["clean_holdout_mask"]`` marks them. They stay in the training split, so that the methods
fetch them by position (``TrainContext.fetch``); those methods leave them out of the noisy training order, and
every other method refuses a hold-out (it would train on them: ``config_check``).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def holdout_mask(num_train: int, size: int, seed: int) -> np.ndarray:
    """bool [num_train]: ``size`` positions drawn uniformly without replacement by ``seed``."""
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < num_train:
        raise ConfigError(f"dataset.clean_holdout.size={size!r}: expected an integer in [0, {num_train}) (this training "
                          f"set has {num_train} images; 0 holds none out)")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"dataset.clean_holdout.seed={seed!r}: expected an integer")
    mask = np.zeros(num_train, dtype=bool)
    mask[np.random.default_rng(seed).choice(num_train, size=size, replace=False)] = True
    return mask


def restore_true_labels(targets: np.ndarray, meta: dict, mask: np.ndarray) -> np.ndarray:
    """The training targets with the held-out images' true labels (``meta`` records the noise; no noise: as is).
    The noise masks of ``meta`` no longer count them as chosen or noisy."""
    targets = np.asarray(targets).copy()
    if "clean_targets" in meta:
        targets[mask] = meta["clean_targets"][mask]
        for key in ("noisy_mask", "noise_chosen_mask"):
            meta[key] = meta[key] & ~mask
    return targets
