"""Dynamic Curriculum Learning (DCL, Wang et al. ICCV 2019), with its Table 1 special cases.

    L_DCL = L_DSL + f(l) * L_TEA                                         (DCL eq. 10)

- L_DSL, Dynamic Selective Learning (eq. 5-7): per batch and per attribute (or over the C classes
  of a multi-class task) the target distribution D_target(l) = D_train^g(l) (eq. 5) decides the
  sample weights: a class under its target share is re-weighted by target / current, a class over
  it keeps that fraction of its samples with weight 1 and the rest with 0 (eq. 7), and the
  weighted log-losses are divided by the batch size (eq. 6).
- L_TEA, the triplet loss with easy anchors (eq. 9), on each attribute's 64-d branch feature
  (multi-class: the backbone's pooled feature), or the CRL variant (eq. 8: every minority sample
  is an anchor).
- g(l) is the ``scheduler`` group (sampling scheduler), f(l) the ``method.loss_scheduler``
  (eq. 11: a scheduler function, an advanced self-learning point p and a self-learning ratio eps).

The special cases are configs of this class (conf/method/*.yaml): g = 1 uses the batch as drawn
(all weights 1, plain CE), g = 0 is a balanced target from the start (Selective Learning), f = 0
skips the triplet loss, a constant f = eps with CRL anchors is CRL-I.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..data.base import TaskInfo
from ..errors import ConfigError
from ..schedulers import build_loss_scheduler, build_scheduler, target_distribution, target_mode
from .base import METHODS, Batch, Method, StepResult, TrainContext


# ---------------------------------------------------------------------------------------------
# Dynamic Selective Learning (eq. 5-7)
# ---------------------------------------------------------------------------------------------
def class_counts(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Samples per class and task: ``labels`` int64 [B, T] -> float [T, K]."""
    counts = torch.zeros(labels.shape[1], num_classes, device=labels.device)
    return counts.scatter_add_(1, labels.t(), torch.ones_like(labels.t(), dtype=counts.dtype))


def rank_within_class(labels: torch.Tensor, counts: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """A uniformly random rank 0..n_j-1 of every sample among the batch samples of its class, per task.

    One random key per (sample, task) from ``generator``; sorting ``label + key`` groups the
    classes and shuffles within them, so ``rank < n`` selects n random samples of a class.
    """
    keys = torch.rand(labels.shape, generator=generator, device=labels.device)
    order = torch.argsort(labels.to(keys.dtype) + keys, dim=0)
    positions = torch.arange(labels.shape[0], device=labels.device).unsqueeze(1).expand_as(labels)
    rank = torch.empty_like(labels).scatter_(0, order, positions)
    class_start = (counts.cumsum(1) - counts).long()  # [T, K]: where each class starts in the sort
    return rank - class_start.gather(1, labels.t()).t()


def dsl_weights(labels: torch.Tensor, target: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """DCL eq. 7: the weight of every (sample, task) of a batch.

    labels [B, T] int64 class ids (T attributes with K = 2, or T = 1 task of C classes);
    target [T, K] the target class shares (eq. 5 as fractions). With D_current the class shares of
    the batch, r = D_target / D_current: r >= 1 -> weight r (minority: re-weighted); r < 1 ->
    exactly round(r * n_j) of the class's n_j samples, chosen uniformly at random with
    ``generator`` (seeded per step by the trainer, so a resumed run keeps the same subset), get
    weight 1, the rest 0. The weighted class sizes are then N * D_target. A class absent from the
    batch has no sample to weight: the present classes keep their own target shares (no
    renormalisation), so such a batch weighs less than N.
    """
    batch_size, num_classes = labels.shape[0], target.shape[1]
    counts = class_counts(labels, num_classes)
    ratio = torch.where(counts > 0, target * batch_size / counts.clamp_min(1), torch.zeros_like(target))
    keep = torch.round(ratio * counts)  # [T, K] samples kept where ratio < 1
    sample_ratio = ratio.gather(1, labels.t()).t()  # [B, T]
    kept = rank_within_class(labels, counts, generator) < keep.gather(1, labels.t()).t()
    return torch.where(sample_ratio >= 1, sample_ratio, kept.to(sample_ratio.dtype))


# ---------------------------------------------------------------------------------------------
# Triplet loss with easy anchors (eq. 9) and the CRL triplet loss (eq. 8)
# ---------------------------------------------------------------------------------------------
def _top(scores: torch.Tensor, mask: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per task (column): indices [k, T] of the k highest ``scores`` among ``mask``, and their validity."""
    k = min(k, scores.shape[0])
    masked = torch.where(mask, scores, torch.full_like(scores, -float("inf")))
    values, index = masked.topk(k, dim=0)
    return index, torch.isfinite(values)


def _gather_features(embedding: torch.Tensor, *indices: torch.Tensor) -> torch.Tensor:
    """embedding [B, T, D] and index sets [k_i, T] -> [T, sum k_i, D], the rows of each task.

    One ``index_select`` on the flattened [B*T, D] features for all sets at once: its backward
    is a single ``index_add_`` (cheaper than a gather per set)."""
    batch, tasks, dim = embedding.shape
    index = torch.cat(indices, 0)  # [K, T]
    flat = index * tasks + torch.arange(tasks, device=index.device)
    rows = embedding.reshape(batch * tasks, dim).index_select(0, flat.reshape(-1))
    return rows.view(index.shape[0], tasks, dim).transpose(0, 1)


def mine_triplets(scores: torch.Tensor, minority: torch.Tensor, correct: torch.Tensor, k: int, anchors: str = "easy") -> Dict[str, torch.Tensor]:
    """Pick anchors, hard positives and hard negatives per task (column), in the batch.

    scores [B, T]: the predicted probability of the task's minority class (detached);
    minority [B, T]: the sample belongs to that minority class; correct [B, T]: it is predicted correctly.

    - easy anchors (eq. 9): the k minority samples predicted correctly with the highest score
      ("high-confident correctly predicted minority samples"); ``anchors="all"`` (eq. 8, CRL):
      every minority sample of the batch is an anchor.
    - hard positives: the k minority samples with the lowest score (most wrongly predicted);
    - hard negatives: the k other samples with the highest minority-class score.
    Returns index/valid pairs ([k, T] each; ``anchor`` is [B, T] for ``anchors="all"``).
    """
    if anchors == "easy":
        anchor, anchor_ok = _top(scores, minority & correct, k)
    elif anchors == "all":
        anchor = torch.arange(scores.shape[0], device=scores.device).unsqueeze(1).expand_as(scores)
        anchor_ok = minority
    else:
        raise ConfigError(f"method.triplet.anchors={anchors!r}: choose easy (DCL eq. 9) or all (CRL, eq. 8)")
    positive, positive_ok = _top(-scores, minority, k)
    negative, negative_ok = _top(scores, ~minority, k)
    return {"anchor": anchor, "anchor_ok": anchor_ok, "positive": positive, "positive_ok": positive_ok,
            "negative": negative, "negative_ok": negative_ok}


def pairwise_distances(anchor: torch.Tensor, other: torch.Tensor, unit: bool) -> torch.Tensor:
    """Euclidean distances [T, ka, ko] between row sets [T, ka, D] and [T, ko, D] by one batched
    matmul (cheaper than ``torch.cdist`` backward on a CPU); ``unit``: rows have norm 1."""
    dot = torch.bmm(anchor, other.transpose(1, 2))
    if unit:
        squared = 2 - 2 * dot
    else:
        squared = anchor.pow(2).sum(-1, keepdim=True) + other.pow(2).sum(-1).unsqueeze(1) - 2 * dot
    return squared.clamp_min(1e-12).sqrt()  # a point and itself: distance 0, gradient 0


def hinge_sums(d_pos: torch.Tensor, d_neg: torch.Tensor, neg_ok: torch.Tensor, margin: float) -> torch.Tensor:
    """sum_n max(0, m + d(a, p) - d(a, n)) over the valid negatives n, for every (a, p): [T, ka, kp].

    Exact, without the [T, ka, kp, kn] tensor of all triplets: with the distances to the negatives
    sorted, the negatives inside the margin of (a, p) are the c = #{n : d(a, n) < m + d(a, p)}
    nearest, and their hinges sum to c * (m + d(a, p)) - (sum of those c distances).
    """
    far = torch.full_like(d_neg, float("inf"))
    sorted_neg = torch.where(neg_ok, d_neg, far).sort(dim=-1).values.contiguous()  # invalid ones last
    threshold = (margin + d_pos).contiguous()
    inside = torch.searchsorted(sorted_neg.detach(), threshold.detach())  # [T, ka, kp] counts c
    prefix = torch.cat([torch.zeros_like(sorted_neg[..., :1]), torch.where(torch.isfinite(sorted_neg), sorted_neg, torch.zeros_like(sorted_neg)).cumsum(-1)], -1)
    return inside.to(threshold.dtype) * threshold - prefix.gather(-1, inside)


def triplet_loss(embedding: torch.Tensor, triplets: Dict[str, torch.Tensor], margin: float, normalize: bool = True) -> torch.Tensor:
    """DCL eq. 9 (or 8): per task, the mean over all (anchor, hard positive, hard negative)
    combinations of max(0, m + d(a, p) - d(a, n)), summed over tasks (a task without a triplet adds 0).

    embedding [B, T, D]; d is the Euclidean distance, between L2-normalised features if ``normalize``.
    """
    sizes = [triplets[key].shape[0] for key in ("anchor", "positive", "negative")]
    rows = _gather_features(embedding, triplets["anchor"], triplets["positive"], triplets["negative"]).float()
    if normalize:
        rows = F.normalize(rows, dim=-1)
    anchor, positive, negative = rows.split(sizes, dim=1)
    d_pos = pairwise_distances(anchor, positive, normalize)  # [T, ka, kp]
    d_neg = pairwise_distances(anchor, negative, normalize)  # [T, ka, kn]
    a_ok, p_ok, n_ok = triplets["anchor_ok"].t(), triplets["positive_ok"].t(), triplets["negative_ok"].t()
    sums = hinge_sums(d_pos, d_neg, n_ok.unsqueeze(1).expand_as(d_neg), margin)
    pairs = (a_ok.unsqueeze(2) & p_ok.unsqueeze(1)).to(sums.dtype)  # valid (anchor, positive) pairs
    count = pairs.sum((1, 2)) * n_ok.sum(1).to(sums.dtype)  # |T| per task
    return ((sums * pairs).sum((1, 2)) / count.clamp_min(1)).sum()


# ---------------------------------------------------------------------------------------------
# the method
# ---------------------------------------------------------------------------------------------
@METHODS.register("dcl")
class DCL(Method):
    """DCL and its Table 1 special cases; see the module docstring and conf/method/dcl.yaml."""

    def __init__(self, cfg: Any, task: TaskInfo):
        super().__init__(cfg, task)
        self.k = int(cfg.triplet.k)
        self.margin = float(cfg.triplet.margin)
        self.anchors = str(cfg.triplet.anchors)
        self.normalize = bool(cfg.triplet.get("normalize", True))
        self.target_mode = target_mode(cfg.sampling_scheduler)
        if self.anchors not in ("easy", "all"):
            raise ConfigError(f"method.triplet.anchors={self.anchors!r}: choose easy (DCL eq. 9) or all (CRL, eq. 8)")
        if self.k < 1:
            raise ConfigError(f"method.triplet.k={self.k}: expected an integer >= 1")
        # training distribution per task: [A, 2] (negatives, positives) or [1, C]
        counts = task.attribute_counts() if not task.is_multiclass else task.train_counts[None, :]
        self.register_buffer("train_counts", torch.as_tensor(counts, dtype=torch.float64), persistent=False)
        self.register_buffer("minority", self._minority_classes(self.train_counts), persistent=False)
        self.set_schedules(int(cfg.get("total_epochs") or 1))

    @staticmethod
    def _minority_classes(counts: torch.Tensor) -> torch.Tensor:
        """[T, K] bool: the minority class of each attribute (the one with fewer training samples);
        multi-class: every class with at most the median count (all classes of a balanced set)."""
        if counts.shape[0] == 1 and counts.shape[1] > 2:
            return counts <= counts.median()
        return counts == counts.min(1, keepdim=True).values

    def set_schedules(self, total_epochs: int) -> None:
        """Build g (sampling scheduler) and f (loss scheduler, eq. 11) for a run of ``total_epochs``."""
        self.g = build_scheduler(self.cfg.sampling_scheduler, total_epochs)
        self.f = build_loss_scheduler(self.cfg.loss_scheduler, total_epochs)
        self.on_epoch_start(0)

    def setup(self, ctx: TrainContext) -> None:
        self.set_schedules(ctx.epochs)

    def on_epoch_start(self, epoch: int) -> None:
        self.g_l = float(self.g(float(epoch)))
        self.f_l = float(self.f(float(epoch)))
        target = target_distribution(self.train_counts, self.g_l, self.target_mode)
        self.target = target.to(torch.float32)  # [T, K] class shares of the batch target (eq. 5)

    def epoch_scalars(self) -> Dict[str, float]:
        return {"g_l": self.g_l, "f_l": self.f_l}

    # -- the loss (eq. 10) ------------------------------------------------------------------------
    def task_labels(self, y: torch.Tensor) -> torch.Tensor:
        """[B, T] int64 class ids per task: attributes [B, A] in {0, 1}, or [B, 1] class ids."""
        return y.long().unsqueeze(1) if self.task.is_multiclass else y.long()

    def dsl_loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        """DCL eq. 6: -1/N sum_j sum_i w_j log p(y_ij | x_ij), summed over attributes.

        g(l) = 1 (the training distribution) uses the batch as drawn, all weights 1: exactly the
        cross-entropy of ``method=ce`` (DCL Table 1, rows CE and CRL-I)."""
        if self.g_l >= 1.0:
            return Method.loss(self, {"logits": logits}, batch, 0).loss
        labels = self.task_labels(batch.y)
        weights = dsl_weights(labels, self.target.to(logits.device), batch.generator)
        if self.task.is_multiclass:
            per_sample = F.cross_entropy(logits.float(), batch.y, reduction="none").unsqueeze(1)
        else:
            per_sample = F.binary_cross_entropy_with_logits(logits.float(), batch.y, reduction="none")
        return (weights * per_sample).sum() / len(batch.y)

    def tea_loss(self, outputs: Dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        """DCL eq. 9 (or eq. 8 with ``triplet.anchors=all``) on each task's feature."""
        logits = outputs["logits"].detach().float()
        labels = self.task_labels(batch.y)
        minority_of = self.minority.to(labels.device)  # [T, K]
        if self.task.is_multiclass:
            tasks = torch.nonzero(minority_of[0]).squeeze(1)  # the minority classes are the tasks
            probs = logits.softmax(1)[:, tasks]
            minority = batch.y.unsqueeze(1) == tasks.unsqueeze(0)
            correct = (logits.argmax(1).unsqueeze(1) == tasks.unsqueeze(0)) & minority
            embedding = outputs["features"].unsqueeze(1).expand(-1, len(tasks), -1)
        else:
            positive_minority = minority_of[:, 1].unsqueeze(0)  # [1, A]: positives are the minority
            prob_pos = logits.sigmoid()
            probs = torch.where(positive_minority, prob_pos, 1 - prob_pos)
            minority = labels == positive_minority.long()
            correct = minority & (probs > 0.5)
            embedding = outputs["embedding"]
        triplets = mine_triplets(probs, minority, correct, self.k, self.anchors)
        return triplet_loss(embedding, triplets, self.margin, self.normalize)

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Batch, epoch: int) -> StepResult:
        logits = outputs["logits"]
        loss_dsl = self.dsl_loss(logits, batch)
        if self.f_l > 0:
            loss_triplet = self.tea_loss(outputs, batch)
            loss = loss_dsl + self.f_l * loss_triplet
        else:  # f = 0: no metric loss (DCL Table 1 rows CE and Selective Learning), nothing computed
            loss_triplet = torch.zeros((), device=logits.device)
            loss = loss_dsl
        parts = {"loss_dsl": loss_dsl.detach(), "loss_triplet": loss_triplet.detach()}
        return StepResult(loss=loss, parts=parts, logits=logits)


# DCL Table 1's special cases are configurations of the same class (conf/method/*.yaml); their
# own names keep their run folders apart.
METHODS.register("selective_learning")(DCL)
METHODS.register("crl_i")(DCL)
