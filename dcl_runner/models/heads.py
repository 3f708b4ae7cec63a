"""Default classifier heads for the two task types (methods may build others)."""
from __future__ import annotations

from typing import Dict

import torch
from torch import nn


class LinearHead(nn.Module):
    """Multi-class: one linear layer from pooled features to C logits."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"logits": self.fc(features)}


class AttributeBranches(nn.Module):
    """Multi-attribute: per attribute a ``branch_dim``-d feature layer (+ReLU) and a 1-logit output layer.

    This is the DCL paper's layout ("an independent 64D feature layer and a final output layer for
    each task branch", sec. 4.3.1), computed for all A attributes at once: one [F -> A*D] matmul and
    one batched [A, D] dot product. Returns ``logits`` [B, A] (positive if > 0) and ``embedding``
    [B, A, D], the per-attribute features the triplet losses use.
    """

    def __init__(self, in_features: int, num_attributes: int, branch_dim: int = 64):
        super().__init__()
        self.num_attributes = num_attributes
        self.branch_dim = branch_dim
        self.branches = nn.Linear(in_features, num_attributes * branch_dim)
        self.out_weight = nn.Parameter(torch.empty(num_attributes, branch_dim))
        self.out_bias = nn.Parameter(torch.zeros(num_attributes))
        nn.init.normal_(self.out_weight, std=branch_dim ** -0.5)

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        embedding = torch.relu(self.branches(features)).view(-1, self.num_attributes, self.branch_dim)
        logits = (embedding * self.out_weight).sum(-1) + self.out_bias
        return {"logits": logits, "embedding": embedding}
