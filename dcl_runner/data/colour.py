"""Colour arithmetic the batched augmentations share (float RGB [B, 3, H, W])."""
from __future__ import annotations

from typing import Sequence

import torch

#: ITU-R 601-2 luma weights as PIL's Image.convert('L') rounds them (torchvision's RandomGrayscale on PIL images,
#: the SupCon / Hybrid-SC pipeline)
PIL_LUMA = (0.299, 0.587, 0.114)
#: the same weights as torchvision's tensor ``rgb_to_grayscale`` writes them (its photometric ops, SSD's preset)
TORCHVISION_LUMA = (0.2989, 0.587, 0.114)


def luma(x: torch.Tensor, weights: Sequence[float]) -> torch.Tensor:
    """[B, 1, H, W]: the weighted sum of the R, G, B channels of ``x`` [B, 3, H, W]."""
    w = torch.tensor(weights, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)
