"""Mixup (Zhang et al., ICLR 2018): train on convex combinations of pairs of samples and their targets.

x~ = lam x_i + (1 - lam) x_j with lam ~ Beta(alpha, alpha) per batch and j a permutation of the
batch (the reference implementation's form). The loss of a mixed batch is
lam l(x~, y_i) + (1 - lam) l(x~, y_j), which for any loss linear in the target distribution (CE,
the two-head soft labels) equals the loss of the mixed target.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch


def draw_mixup(batch_size: int, alpha: float, generator: Optional[torch.Generator], device: torch.device) -> Tuple[torch.Tensor, float]:
    """(permutation [B] on ``device``, lam ~ Beta(alpha, alpha)), reproducible on resume.

    The permutation comes from ``generator``; lam from a NumPy generator seeded with the seed of
    ``generator`` (the trainer seeds a fresh one per step from (seed, epoch, step)), so no value has
    to come back from the device: reading a draw of a CUDA generator (``.item()``) would make the
    host wait for the GPU at every step."""
    perm = torch.randperm(batch_size, generator=generator, device=device)
    seed = generator.initial_seed() if generator is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
    lam = float(np.random.default_rng([seed, _MIXUP_STREAM]).beta(alpha, alpha))
    return perm, lam


_MIXUP_STREAM = 0x6D6978  # keeps lam's NumPy stream apart from anything else seeded with the step seed


def mix(x: torch.Tensor, perm: torch.Tensor, lam: float) -> torch.Tensor:
    return lam * x + (1.0 - lam) * x[perm]
