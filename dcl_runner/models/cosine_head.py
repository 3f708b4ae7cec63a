"""Cosine classifier head (LDAM's ``NormedLinear``, Cao et al. 2019): logits are cosine similarities.

logit_c = <x / |x|, w_c / |w_c|> in [-1, 1]; the loss scales them (LDAM's s = 30). The weight is
stored as ``fc.weight`` [C, F] like a linear layer, so per-class weight norms read the same way.
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn


class CosineLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        weight = torch.empty(out_features, in_features).uniform_(-1, 1)
        self.weight = nn.Parameter(weight.renorm(2, 0, 1e-5).mul(1e5))  # LDAM's init: unit-norm rows

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=1).t()


class CosineHead(nn.Module):
    """Multi-class head: pooled features -> C cosine logits."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.fc = CosineLinear(in_features, num_classes)

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"logits": self.fc(features)}
