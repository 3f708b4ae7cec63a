"""Learning to re-weight examples (Ren et al., ICML 2018): the "Robust Weighting" row of DP Table 2.

Every training step weighs the examples of the (noisy) mini-batch by how much a step on each would lower the loss
on a mini-batch of a small clean set (Ren et al. Algorithm 1), with torch.func:

    theta_hat(eps) = theta - alpha grad_theta sum_i eps_i f_i(theta),   eps = 0      (Alg. 1: the look-ahead step)
    g_i = d/d eps_i  (1/M) sum_j f^v_j(theta_hat(eps))  at eps = 0                   (Alg. 1: the meta-gradient)
    w~_i = max(-g_i, 0);   w_i = w~_i / sum_j w~_j  (w = w~ when the sum is 0)       (Alg. 1: rectify, normalise)

and the model takes its optimizer step on sum_i w_i f_i(theta) (Alg. 1). At eps = 0, theta_hat = theta and
g_i = -alpha grad f_i . grad f^v (Ren et al.'s analysis of the weights): alpha only scales w~, which the normalisation removes, so alpha = 1.

The clean set is ``dataset.clean_holdout`` (Ren et al. 2018 (CIFAR noisy-label experiments): 1,000 clean images for UNIFORMFLIP): those images
keep their true labels and never enter the noisy batches (``epoch_order``); ``clean_batch_size`` of them, drawn
with replacement, make each step's clean mini-batch. In the meta passes BatchNorm normalises with the batch's own
statistics (as in training) and leaves its running statistics alone: only the real training forward moves them.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Dict, Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError
from .base import METHODS, Batch, Method, StepResult, TrainContext
from .clean_holdout import CleanHoldout


@contextlib.contextmanager
def batch_statistics_only(model: nn.Module) -> Iterator[None]:
    """BatchNorm layers normalise with batch statistics and update nothing (torch.func may not mutate buffers)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    for m in norms:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in norms:
            m.track_running_stats = True


def l2rw_weights(model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_clean: torch.Tensor, y_clean: torch.Tensor,
                 logits_of: Callable = lambda out: out["logits"]) -> torch.Tensor:
    """The example weights w [B] of Ren et al. Algorithm 1 for the batch (x, y) against (x_clean, y_clean)."""
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}

    def forward(weights: Dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        return logits_of(functional_call(model, weights, (inputs,), strict=False)).float()

    def clean_loss(eps: torch.Tensor) -> torch.Tensor:
        def weighted_noisy_loss(weights):
            return (eps * F.cross_entropy(forward(weights, x), y, reduction="none")).sum()

        step = grad(weighted_noisy_loss)(params)                              # the look-ahead step (alpha = 1)
        stepped = {name: params[name] - step[name] for name in params}
        return F.cross_entropy(forward(stepped, x_clean), y_clean)           # the clean loss after it

    eps = torch.zeros(len(y), device=x.device)
    with batch_statistics_only(model):
        g = grad(clean_loss)(eps)
    return normalised_weights(-g)


def normalised_weights(negative_grad: torch.Tensor) -> torch.Tensor:
    """w = max(-g, 0) / sum max(-g, 0), or max(-g, 0) itself when that sum is 0 (Ren et al. Algorithm 1)."""
    w = negative_grad.clamp(min=0.0)
    total = w.sum()
    return w / total if float(total) > 0 else w


@METHODS.register("l2rw")
class LearningToReweight(Method):
    """conf/method/l2rw.yaml documents every key and its source."""

    task_kinds = (MULTICLASS,)
    uses_clean_holdout = True

    def __init__(self, task: TaskInfo, *, clean_batch_size: int):
        super().__init__(task, branch_dim=None)  # multi-class only: no attribute branches
        if isinstance(clean_batch_size, bool) or not isinstance(clean_batch_size, int) or clean_batch_size < 1:
            raise ConfigError(f"method.clean_batch_size={clean_batch_size!r}: expected an integer >= 1")
        self.clean_batch_size = clean_batch_size
        self.holdout: Optional[CleanHoldout] = None

    def setup(self, ctx: TrainContext) -> None:
        self.holdout = CleanHoldout(ctx, "l2rw")

    def epoch_order(self, epoch: int, generator: torch.Generator) -> Optional[torch.Tensor]:
        return self.holdout.training_order(generator)

    def training_step(self, model: nn.Module, batch: Batch, epoch: int) -> StepResult:
        x_clean, y_clean = self.holdout.batch(self.clean_batch_size, batch.generator)
        weights = l2rw_weights(model, batch.x, batch.y, x_clean, y_clean).detach()
        logits = model(batch.x)["logits"]
        loss = (weights * F.cross_entropy(logits.float(), batch.y, reduction="none")).sum()   # Alg. 1: the weighted loss
        parts = {"l2rw_weight_zero_fraction": (weights == 0).float().mean()}
        return StepResult(loss=loss, parts=parts, logits=logits)
