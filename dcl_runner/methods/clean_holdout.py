"""The clean hold-out as a method sees it (``dataset.clean_holdout``, ``data/holdout.py``): which training positions
are held out, a shuffle of the others for the noisy training order, and a batch of held-out images when asked.

Used by the methods that learn from a small clean set (``l2rw``; ``Method.uses_clean_holdout``).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch

from ..errors import ConfigError
from .base import TrainContext


class CleanHoldout:
    """Built in a method's ``setup`` from the context; ``batch`` fetches held-out images by position."""

    def __init__(self, ctx: TrainContext, method: str):
        mask = ctx.meta.get("clean_holdout_mask")
        if mask is None or not np.asarray(mask).any():
            raise ConfigError(f"method={method} learns from a clean hold-out of the training set, and this dataset has "
                              "none: set dataset.clean_holdout.size (Ren et al. 2018 (CIFAR noisy-label experiments): 1000 images on CIFAR)")
        mask = torch.as_tensor(np.asarray(mask), dtype=torch.bool)
        if bool(mask.all()):
            raise ConfigError(f"method={method}: every training image is held out; lower dataset.clean_holdout.size")
        self.clean = torch.nonzero(mask).flatten()     # positions of the held-out (clean) images
        self.noisy = torch.nonzero(~mask).flatten()    # positions of the images trained on as (noisy) data
        self.fetch = ctx.fetch

    def training_order(self, generator: torch.Generator) -> torch.Tensor:
        """A shuffle of the non-held-out positions: the held-out images never enter the noisy training batches."""
        return self.noisy[torch.randperm(len(self.noisy), generator=generator)]

    def batch(self, size: int, generator: torch.Generator | None) -> Tuple[torch.Tensor, torch.Tensor]:
        """(x, y) of ``size`` held-out images drawn uniformly with replacement, augmented as a training batch."""
        device = generator.device if generator is not None else torch.device("cpu")
        pick = torch.randint(len(self.clean), (size,), generator=generator, device=device).cpu()
        x, y, _ = self.fetch(self.clean[pick], generator=generator)
        return x, y
