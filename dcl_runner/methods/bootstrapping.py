"""Reed Hard: bootstrapping with hard targets (Reed et al., "Training deep neural networks on noisy labels with
bootstrapping", ICLR 2015 workshop), the "Reed Hard" row of Ren et al. 2018 Table 2 copied into DP Table 2.

The training target is a convex mix of the given (possibly noisy) label and the network's own current prediction
(Reed et al., "hard bootstrapping"):

    L_hard(q, t) = - sum_k [beta t_k + (1 - beta) z_k] log q_k,   z_k = 1[k = argmax_i q_i]

with q the softmax of the logits and t the one-hot label; the argmax is a constant (no gradient flows through z).
``predict`` gives the raw logits (plain CE inference).
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError
from .base import METHODS, Batch, Method, StepResult


def hard_bootstrap_loss(logits: torch.Tensor, targets: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-sample L_hard (Reed et al., hard bootstrapping): - sum_k [beta t_k + (1 - beta) z_k] log q_k, z = one-hot argmax q."""
    log_q = F.log_softmax(logits.float(), dim=1)
    predicted = log_q.detach().argmax(dim=1)
    given = log_q.gather(1, targets[:, None]).squeeze(1)
    own = log_q.gather(1, predicted[:, None]).squeeze(1)
    return -(beta * given + (1.0 - beta) * own)


@METHODS.register("reed_hard")
class ReedHard(Method):
    """conf/method/reed_hard.yaml documents the key and its source."""

    task_kinds = (MULTICLASS,)

    def __init__(self, task: TaskInfo, *, beta: float):
        super().__init__(task, branch_dim=None)  # multi-class only: no attribute branches
        beta = float(beta)
        if not 0.0 <= beta <= 1.0:
            raise ConfigError(f"method.beta={beta}: expected a number in [0, 1] (1: plain cross-entropy)")
        self.beta = beta

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Batch, epoch: int) -> StepResult:
        logits = outputs["logits"]
        loss = hard_bootstrap_loss(logits, batch.y, self.beta).mean()
        agree = (logits.detach().argmax(1) == batch.y).float().mean()
        return StepResult(loss=loss, parts={"bootstrap_agreement": agree}, logits=logits)
