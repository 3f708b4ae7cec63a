"""The classic re-balancing baselines of DCL Table 2, per attribute: over-sampling, down-sampling
(Drummond & Holte [10]) and cost-sensitive learning [18].

Multi-label data has one image sequence for all attributes, so re-sampling an image for one
attribute would re-sample it for all 40. Each baseline is therefore defined per (sample,
attribute) as a loss weight, fixed for an epoch, which is exactly re-sampling that attribute's
(image, label) pairs while the images stay shared (multi-class tasks: one task over C classes):

- ``oversample``:    each minority-class pair counts as n_major / n_minor copies (the integer part,
                     plus one more copy with probability equal to the fractional part, drawn per
                     epoch); majority pairs count once. Every class then has n_major pairs.
- ``undersample``:   per attribute, all minority pairs and n_minor randomly chosen pairs of each
                     other class (drawn anew every epoch) count once, the remaining pairs 0.
- ``cost_sensitive``: class weights inversely proportional to the class size, scaled so that the
                     training set's total weight is unchanged: w_j = N / (K * n_j).

Per-epoch draws use a generator seeded by (seed, epoch), so a resumed run draws the same pairs.
The loss is sum_i sum_a w_ia * CE_ia / N, as the plain cross-entropy of ``method=ce``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.base import TaskInfo
from .base import METHODS, Batch, Method, StepResult, TrainContext
from .dcl import class_counts, rank_within_class

MODES = ("oversample", "undersample", "cost_sensitive")


class Rebalance(Method):
    """The three baselines; a subclass names its ``mode`` (one of MODES). conf/method/<mode>.yaml: ``branch_dim``."""

    multi_process = True  # tested on 2 processes against 1 (docs/distributed.md)

    mode = ""

    def __init__(self, task: TaskInfo, *, branch_dim: int):
        super().__init__(task, branch_dim=branch_dim)
        assert self.mode in MODES, f"{type(self).__name__}.mode must be one of {MODES}"
        self.seed = 0

    def setup(self, ctx: TrainContext) -> None:
        targets = ctx.train_targets
        self.labels = (targets.long().unsqueeze(1) if self.task.is_multiclass else targets.long()).contiguous()  # [N, T]
        self.seed = ctx.seed
        self.on_epoch_start(0)

    def on_epoch_start(self, epoch: int) -> None:
        labels = getattr(self, "labels", None)
        if labels is None:
            return
        gen = torch.Generator(device=labels.device)
        gen.manual_seed((self.seed * 1_000_003 + epoch) % (2**63 - 1))
        self.weights = epoch_weights(self.mode, labels, self.task.num_outputs if self.task.is_multiclass else 2, gen)

    def loss(self, outputs, batch: Batch, epoch: int) -> StepResult:
        logits = outputs["logits"]
        weights = self.weights[batch.index.to(self.weights.device)]  # [B, T]
        if self.task.is_multiclass:
            per_sample = F.cross_entropy(logits.float(), batch.y, reduction="none").unsqueeze(1)
        else:
            per_sample = F.binary_cross_entropy_with_logits(logits.float(), batch.y, reduction="none")
        return StepResult(loss=(weights * per_sample).sum() / len(batch.y), parts={}, logits=logits)


def epoch_weights(mode: str, labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """Per (sample, task) loss weights [N, T] of one epoch for ``mode`` (see the module docstring)."""
    counts = class_counts(labels, num_classes)  # [T, K]
    present = counts > 0
    n_major = counts.max(1, keepdim=True).values
    n_minor = torch.where(present, counts, torch.full_like(counts, float("inf"))).min(1, keepdim=True).values
    own = counts.gather(1, labels.t()).t()  # [N, T] size of each sample's class
    if mode == "cost_sensitive":
        k_present = present.sum(1, keepdim=True).t()  # classes present, per task
        return labels.shape[0] / (k_present * own)
    if mode == "oversample":
        copies = n_major.t() / own
        whole = copies.floor()
        extra = torch.rand(own.shape, generator=generator, device=own.device) < (copies - whole)
        return whole + extra.to(whole.dtype)
    rank = rank_within_class(labels, counts, generator)
    return (rank < n_minor.t()).to(torch.float32)


@METHODS.register("oversample")
class OverSample(Rebalance):
    mode = "oversample"
    multi_process = True  # tested on 2 processes against 1 (docs/distributed.md)


@METHODS.register("undersample")
class UnderSample(Rebalance):
    mode = "undersample"
    multi_process = True  # tested on 2 processes against 1 (docs/distributed.md)


@METHODS.register("cost_sensitive")
class CostSensitive(Rebalance):
    mode = "cost_sensitive"
    multi_process = True  # tested on 2 processes against 1 (docs/distributed.md)
