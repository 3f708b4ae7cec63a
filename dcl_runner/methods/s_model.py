"""S-Model: a noise-adaptation layer on top of the softmax (Goldberger & Ben-Reuven, "Training deep neural-networks
using a noise adaptation layer", ICLR 2017), the "S-Model" row of Ren et al. 2018 Table 2 (copied into DP Table 2).

The base network gives p(y = i | x) (the true label); the noisy label z the data shows comes through a learnt
channel that does not depend on x, G&BR's "simple model" (S-model):

    theta(i, j) = p(z = j | y = i) = exp(b_ij) / sum_l exp(b_il)                       (G&BR, the S-model channel)
    p(z = j | x) = sum_i p(z = j | y = i) p(y = i | x)           (G&BR, the noisy-label likelihood)

and the training loss is -log p(z = label | x). At test time the channel is removed: ``predict`` gives the base
network's logits (G&BR predict the true label with the base network).

G&BR initialise the channel from a base network trained first on the noisy labels (their initialisation):

    theta(i, j) = sum_t 1[z_t = j] p(y = i | x_t) / sum_t p(y = i | x_t)          (G&BR's initialisation, over the training set)

Here that is one run: for ``warmup_epochs`` epochs the base network trains with plain cross-entropy (and the channel
with the same likelihood on the base network's detached predictions); at the start of the next epoch the channel is
set to that estimate from the base network's predictions on the (un-augmented) training images, and from then
on both train through the channel (docs/noisy_labels.md).
"""
from __future__ import annotations

import math
from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError
from .base import METHODS, Batch, Method, StepResult, TrainContext


def channel_log_probs(base_logits: torch.Tensor, channel_logits: torch.Tensor) -> torch.Tensor:
    """log p(z = j | x) = log sum_i softmax_j(b_i.) softmax_i(base) (the S-model likelihood), [B, C], in log space."""
    log_theta = F.log_softmax(channel_logits.float(), dim=1)         # [C (true i), C (noisy j)]
    log_p_true = F.log_softmax(base_logits.float(), dim=1)           # [B, C (true i)]
    return torch.logsumexp(log_p_true[:, :, None] + log_theta[None, :, :], dim=1)


def confusion_channel(base_probs: torch.Tensor, noisy_labels: torch.Tensor) -> torch.Tensor:
    """theta(i, j) = sum_t 1[z_t = j] p(i | x_t) / sum_t p(i | x_t) (G&BR's initialisation): [C, C], rows sum to 1."""
    onehot = F.one_hot(noisy_labels.long(), base_probs.shape[1]).to(base_probs.dtype)
    joint = base_probs.T @ onehot                                    # [C true, C noisy]
    return joint / joint.sum(dim=1, keepdim=True).clamp_min(1e-12)


def initial_channel(num_classes: int, keep: float) -> torch.Tensor:
    """b such that theta = keep on the diagonal and (1 - keep) / (C - 1) elsewhere."""
    off = (1.0 - keep) / (num_classes - 1)
    theta = torch.full((num_classes, num_classes), off).fill_diagonal_(keep)
    return theta.log()


class NoiseAdaptationHead(nn.Module):
    """The base classifier (``fc``) and the channel's logits b ([C, C], row i: the true class)."""

    def __init__(self, in_features: int, num_classes: int, keep: float):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)
        self.channel = nn.Parameter(initial_channel(num_classes, keep))

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"logits": self.fc(features), "channel_logits": self.channel}


@METHODS.register("s_model")
class SModel(Method):
    """conf/method/s_model.yaml documents every key and its source."""

    task_kinds = (MULTICLASS,)

    def __init__(self, task: TaskInfo, *, warmup_epochs: int, init_keep: float, channel_weight_decay: float):
        super().__init__(task, branch_dim=None)  # multi-class only: no attribute branches
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or warmup_epochs < 0:
            raise ConfigError(f"method.warmup_epochs={warmup_epochs!r}: expected an integer >= 0")
        if not 0.0 < float(init_keep) < 1.0:
            raise ConfigError(f"method.init_keep={init_keep!r}: expected a probability in (0, 1)")
        if float(channel_weight_decay) < 0:
            raise ConfigError(f"method.channel_weight_decay={channel_weight_decay!r}: expected a number >= 0")
        if task.num_outputs < 2:
            raise ConfigError("method=s_model needs at least 2 classes")
        self.warmup_epochs = warmup_epochs
        self.init_keep = float(init_keep)
        self.channel_weight_decay = float(channel_weight_decay)
        self.ctx: TrainContext | None = None
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))  # the confusion initialisation done (in the checkpoint)

    def setup(self, ctx: TrainContext) -> None:
        self.ctx = ctx

    def on_epoch_start(self, epoch: int) -> None:
        if epoch >= self.warmup_epochs and not bool(self.initialised) and self.ctx is not None:
            self.initialise_channel()

    @torch.no_grad()
    def initialise_channel(self) -> None:
        """The channel from the base network's confusion with the noisy training labels (G&BR's initialisation)."""
        model = self.ctx.model
        was_training = model.training
        model.eval()
        probs, labels = [], []
        for x, y, _ in self.ctx.iterate_train(256):
            probs.append(F.softmax(model(x)["logits"].float(), dim=1))
            labels.append(y)
        model.train(was_training)
        theta = confusion_channel(torch.cat(probs), torch.cat(labels))
        model.head.channel.copy_(theta.clamp_min(1e-6).log())
        self.initialised.fill_(True)

    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        return NoiseAdaptationHead(in_features, self.task.num_outputs, self.init_keep)

    def param_groups(self, model: nn.Module) -> List[dict]:
        """The channel trains with the model optimizer and schedule, with its own weight decay."""
        channel = model.head.channel
        rest = [p for p in model.parameters() if p is not channel]
        return [{"params": rest}, {"params": [channel], "weight_decay": self.channel_weight_decay}]

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Batch, epoch: int) -> StepResult:
        logits = outputs["logits"]
        channel = outputs["channel_logits"]
        if epoch < self.warmup_epochs:  # base: plain CE; channel: fitted to the detached base predictions
            base = F.cross_entropy(logits.float(), batch.y)
            fit = F.nll_loss(channel_log_probs(logits.detach(), channel), batch.y)
            loss, parts = base + fit, {"channel_nll": fit.detach()}
        else:                           # -log p(z = label | x) through the channel
            loss = F.nll_loss(channel_log_probs(logits, channel), batch.y)
            parts = {}
        with torch.no_grad():
            parts["channel_diagonal"] = F.softmax(channel.float(), dim=1).diagonal().mean()
        return StepResult(loss=loss, parts=parts, logits=logits)
