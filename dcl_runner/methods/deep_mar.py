"""DeepMAR (Li, Chen & Huang, ACPR 2015, "Multi-attribute learning for pedestrian attribute recognition in
surveillance scenarios"; DCL Table 5 row "Deep-Mar" [32]): one network, one sigmoid output per attribute, trained
with a cross-entropy whose per-attribute weights come from the attributes' positive ratios in the training set.

The weighted sigmoid cross-entropy, as the authors' code computes it (dangweili/pedestrian-attribute-recognition-
pytorch, script/experiment/train_deepmar_resnet50.py: ``weight_pos = exp(1 - p_l)``, ``weight_neg = exp(p_l)``,
loss = ``F.binary_cross_entropy_with_logits(score, target, weight) * num_att``)::

    L = -1/N sum_i sum_l w_il (y_il log s_il + (1 - y_il) log(1 - s_il))
    w_il = exp((1 - p_l) / sigma^2)  if y_il = 1,   exp(p_l / sigma^2)  if y_il = 0

with p_l the share of positives of attribute l in the training set and sigma = 1 (the code's exponent has no
sigma; the paper's weight is exp(.../sigma^2) with sigma = 1, so ``sigma`` stays a key). A rare attribute's
positives weigh up to e, its negatives about 1. The classifier is one linear layer on the pooled feature with
dropout before it (the code's ``drop_pool5`` 0.5, its classifier initialised N(0, 0.001), bias 0).
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import ATTRIBUTES, TaskInfo
from .base import METHODS, Batch, Method, StepResult, TrainContext


def deepmar_weights(targets: torch.Tensor, positive_ratio: torch.Tensor, sigma: float) -> torch.Tensor:
    """DeepMAR's weighted cross-entropy weights [B, A]: exp((1 - p_l)/sigma^2) on positives, exp(p_l/sigma^2) on negatives."""
    scale = 1.0 / (sigma * sigma)
    positive = torch.exp((1.0 - positive_ratio) * scale)
    negative = torch.exp(positive_ratio * scale)
    return torch.where(targets > 0.5, positive, negative)


class DropoutLinearHead(nn.Module):
    """DeepMAR's classifier: dropout on the pooled feature, then one linear layer to the A attribute logits."""

    def __init__(self, in_features: int, num_outputs: int, dropout: float, init_std: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_outputs)
        nn.init.normal_(self.fc.weight, std=init_std)
        nn.init.zeros_(self.fc.bias)

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"logits": self.fc(self.dropout(features))}


@METHODS.register("deep_mar")
class DeepMar(Method):
    """conf/method/deep_mar.yaml: ``sigma`` (the weights' temperature), ``dropout`` and ``init_std`` of the classifier."""

    task_kinds = (ATTRIBUTES,)

    def __init__(self, task: TaskInfo, *, sigma: float, dropout: float, init_std: float):
        super().__init__(task, branch_dim=None)
        self.sigma, self.dropout, self.init_std = float(sigma), float(dropout), float(init_std)
        self.register_buffer("positive_ratio", torch.full((task.num_outputs,), 0.5))

    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        return DropoutLinearHead(in_features, self.task.num_outputs, self.dropout, self.init_std)

    def setup(self, ctx: TrainContext) -> None:
        self.positive_ratio = ctx.train_targets.float().mean(0).to(self.positive_ratio.device)

    def loss(self, outputs, batch: Batch, epoch: int) -> StepResult:
        logits = outputs["logits"].float()
        weights = deepmar_weights(batch.y, self.positive_ratio.to(logits.device), self.sigma)
        loss = F.binary_cross_entropy_with_logits(logits, batch.y, weight=weights, reduction="sum") / len(batch.y)
        return StepResult(loss=loss, parts={}, logits=outputs["logits"])
