"""Per-sample losses and class weights of the single-stage long-tail baselines (two-head paper Tables 1-5).

Every loss here returns one value per sample ([B]); the method family in ``longtail.py`` weights,
mixes (Mixup) and reduces them. Pure functions of tensors, no state.

- focal loss (Lin et al., TPAMI 2020): FL = -(1 - p_t)^gamma log p_t; gamma = 0 is CE. With class weights
  (CB+Focal, Cui et al. eq. 6 as kaidic/LDAM-DRW losses.py runs it) the focal term is taken of the
  class-weighted CE: l = w_y CE, FL = (1 - exp(-l))^gamma l, averaged over the batch;
- class-balanced weights (Cui et al., CVPR 2019): effective number E_n = (1 - beta^n)/(1 - beta),
  weight_c proportional to 1 / E_{n_c}, normalised so the weights sum to C;
- LDAM (Cao et al., NeurIPS 2019): per-class margin Delta_j = K / n_j^{1/4} with K chosen so the
  largest margin is ``max_margin`` (0.5 in their code), subtracted from the true-class logit of a
  cosine classifier whose logits are scaled by s (30 in their code);
- soft-target cross-entropy, for the two-head model's eq. 4 and Mixup's mixed targets.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample softmax cross-entropy [B]."""
    return F.cross_entropy(logits.float(), y, reduction="none")


def focal_loss(logits: torch.Tensor, y: torch.Tensor, gamma: float, class_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Focal loss (Lin et al.) per sample: -(1 - p_t)^gamma log p_t. gamma = 0 gives cross-entropy.

    ``class_weight`` [B] (the weight of each sample's class): the class-balanced focal loss of Cui et al.
    (their eq. 6) in the form kaidic/LDAM-DRW losses.py computes it: l = w_y CE (``F.cross_entropy(...,
    weight=w, reduction='none')``), FL = (1 - exp(-l))^gamma l. The weight thus enters the modulator too;
    the caller averages these over the batch (``loss.mean()`` there), not over sum w.
    """
    ce = cross_entropy(logits, y)
    if class_weight is not None:
        ce = class_weight.to(ce.dtype) * ce
    if gamma == 0:
        return ce
    p_t = torch.exp(-ce)
    return (1.0 - p_t).clamp_min(0.0).pow(gamma) * ce


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-sum_k q_k log p_k per sample, for a target distribution q [B, K] (two-head eq. 4)."""
    return -(target * F.log_softmax(logits.float(), dim=1)).sum(dim=1)


def effective_number_weights(counts: Sequence[int], beta: float) -> np.ndarray:
    """Class-balanced weights (Cui et al.): (1 - beta) / (1 - beta^n_c), normalised to sum to C.

    beta = 0 gives equal weights; beta -> 1 approaches inverse class frequency. A class with no
    training image gets weight 0 before normalisation (nothing to weight).
    """
    n = np.asarray(counts, dtype=np.float64)
    if not 0 <= beta < 1:
        raise ValueError(f"class-balanced beta must be in [0, 1), got {beta}")
    effective = (1.0 - np.power(beta, n)) / (1.0 - beta) if beta > 0 else np.minimum(n, 1.0)
    weights = np.where(n > 0, 1.0 / np.maximum(effective, 1e-12), 0.0)
    return weights / weights.sum() * len(n)


def ldam_margins(counts: Sequence[int], max_margin: float = 0.5) -> np.ndarray:
    """LDAM margins (Cao et al.): Delta_j proportional to n_j^(-1/4), the largest equal to ``max_margin``."""
    n = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    margins = 1.0 / np.power(n, 0.25)
    return margins * (max_margin / margins.max())


def ldam_loss(logits: torch.Tensor, y: torch.Tensor, margins: torch.Tensor, scale: float) -> torch.Tensor:
    """LDAM loss per sample: CE of s * (z - Delta_y e_y); ``logits`` are cosine similarities in [-1, 1]."""
    shifted = logits.float() - F.one_hot(y, logits.shape[1]).float() * margins[y][:, None]
    return cross_entropy(scale * shifted, y)


def weighted_mean(per_sample: torch.Tensor, weights: Optional[torch.Tensor]) -> torch.Tensor:
    """sum_i w_i l_i / sum_i w_i (PyTorch's weighted ``cross_entropy`` reduction); the plain mean without weights."""
    if weights is None:
        return per_sample.mean()
    return (weights * per_sample).sum() / weights.sum().clamp_min(1e-12)
