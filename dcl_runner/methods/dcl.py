"""Dynamic Curriculum Learning (DCL, Wang et al. ICCV 2019), with its Table 1 special cases.

    L_DCL = L_DSL + f(l) * L_TEA                                         (DCL eq. 10)

- L_DSL, Dynamic Selective Learning (eq. 5-7): per attribute (or over the C classes of a
  multi-class task) the target distribution D_target(l) = D_train^g(l) (eq. 5) decides the sample
  weights: a class under its target share is re-weighted by r = D_target / D_current, a class over
  it keeps that fraction r of its batch samples with weight 1 and the rest with 0 (eq. 7), and the
  weighted log-losses are divided by the batch size (eq. 6). D_current is the batch's class
  distribution (eq. 7's wording, ``method.current=batch``, the default) or the training
  distribution the batch is drawn from (``method.current=train``). Either way a task whose target
  equals its training distribution (g = 1, or a balanced task: 1^g = 1) has nothing to re-balance
  and its batch is used as drawn, all weights 1: plain CE (Table 1 row CE, sec. 4.5).
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

import contextlib
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..data.base import TaskInfo
from ..errors import ConfigError, check_value
from ..schedulers import LossSchedule, Schedule, build_loss_scheduler, build_scheduler, target_distribution, target_mode
from .base import METHODS, Batch, Method, StepResult, TrainContext


# ---------------------------------------------------------------------------------------------
# Dynamic Selective Learning (eq. 5-7)
# ---------------------------------------------------------------------------------------------
# What D_current of eq. 7 is: the batch's own class distribution, or the training distribution it is drawn from.
CURRENT_DISTRIBUTIONS = {"batch": "D_current = the batch's class distribution, eq. 7",
                         "train": "the training distribution the batch is drawn from"}
# Which samples anchor the triplets: eq. 9's easy anchors, or every minority sample (CRL, eq. 8).
ANCHORS = {"easy": "DCL eq. 9", "all": "CRL, eq. 8"}


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


def _keep_or_reweight(labels: torch.Tensor, counts: torch.Tensor, ratio: torch.Tensor, keep: torch.Tensor,
                      generator: Optional[torch.Generator]) -> torch.Tensor:
    """DCL eq. 7 given, per (task, class), the ratio r = D_target / D_current [T, K] and how many batch
    samples to keep where r < 1 [T, K]: weight r where r >= 1; else ``keep`` of the class's batch
    samples, chosen uniformly at random with ``generator``, get weight 1 and the rest 0."""
    sample_ratio = ratio.gather(1, labels.t()).t()  # [B, T]
    kept = rank_within_class(labels, counts, generator) < keep.gather(1, labels.t()).t()
    return torch.where(sample_ratio >= 1, sample_ratio, kept.to(sample_ratio.dtype))


def dsl_weights(labels: torch.Tensor, target: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """DCL eq. 7 with D_current read off the batch (``method.current=batch``): the weight of every
    (sample, task) of a batch.

    labels [B, T] int64 class ids (T attributes with K = 2, or T = 1 task of C classes);
    target [T, K] the target class shares (eq. 5 as fractions). With D_current the class shares of
    the batch, r = D_target / D_current: r >= 1 -> weight r (minority: re-weighted); r < 1 ->
    exactly round(r * n_j) of the class's n_j samples, chosen uniformly at random with
    ``generator`` (seeded per step by the trainer, so a resumed run keeps the same subset), get
    weight 1, the rest 0. The weighted class sizes are then N * D_target. A class absent from the
    batch has no sample to weight: the present classes keep their own target shares (no
    renormalisation), so such a batch weighs less than N. Batch sampling noise moves these weights
    even where D_target = D_train: on a balanced 100-class set with batches of 128 they keep about
    57% of the samples (total weight about 0.64 N); the method therefore applies them only to tasks
    whose target differs from their training distribution (:meth:`DCL.dsl_loss`).
    """
    batch_size, num_classes = labels.shape[0], target.shape[1]
    counts = class_counts(labels, num_classes)
    ratio = torch.where(counts > 0, target * batch_size / counts.clamp_min(1), torch.zeros_like(target))
    return _keep_or_reweight(labels, counts, ratio, torch.round(ratio * counts), generator)


def dsl_ratios(train_counts: torch.Tensor, g: float, mode: str = "power") -> torch.Tensor:
    """DCL eq. 5-7 with D_current = D_train: r = D_target,j(l) / D_train,j per (task, class) [T, K].

    Both as class shares (fractions summing to 1): D_target = D_train^g normalised (eq. 5, or Table
    4's linear mode). r is exactly 1 for every class of a task whose target equals its training
    distribution: g = 1 (Table 1 row CE; sec. 3.2 "g(0) = 1 ... equals the train set distribution")
    or a balanced task (every class the same count: D_train = 1 : 1 : ... : 1, so 1^g = 1; sec. 4.5).
    The method reads r = 1 as "this task is at its target" under either reading of D_current.
    """
    counts = train_counts.to(torch.float64).clamp_min(1)
    target = target_distribution(counts, g, mode)
    ratio = target / (counts / counts.sum(1, keepdim=True))
    same = (counts == counts[:, :1]).all(1, keepdim=True) | (g == 1.0)
    return torch.where(same, torch.ones_like(ratio), ratio)


def dsl_weights_from_train(labels: torch.Tensor, ratio: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """DCL eq. 7 with D_current = D_train (``method.current=train``): the weight of every (sample,
    task) of a batch drawn uniformly from the training set.

    labels [B, T] int64 class ids; ratio [T, K] = D_target / D_train (:func:`dsl_ratios`). r >= 1 ->
    weight r; r < 1 -> r * n_j of the class's n_j batch samples are kept with weight 1, the rest 0:
    floor(r * n_j) samples, plus one more with probability frac(r * n_j), chosen uniformly at random
    with ``generator``. The expected weighted size of class j in a batch of N is then
    N * D_train,j * r_j = N * D_target,j (eq. 5) and the expected total N.
    """
    counts = class_counts(labels, ratio.shape[1])
    wanted = ratio.to(counts.dtype) * counts
    floor = wanted.floor()
    extra = torch.rand(wanted.shape, generator=generator, device=wanted.device) < (wanted - floor)
    return _keep_or_reweight(labels, counts, ratio.to(counts.dtype), floor + extra.to(floor.dtype), generator)


# ---------------------------------------------------------------------------------------------
# Triplet loss with easy anchors (eq. 9) and the CRL triplet loss (eq. 8)
# ---------------------------------------------------------------------------------------------
def _top(scores: torch.Tensor, mask: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per task (row): indices [T, k] of the k highest ``scores`` among ``mask``, and their validity."""
    values, index = torch.where(mask, scores, -float("inf")).topk(min(k, scores.shape[1]), dim=1)
    return index, values > -float("inf")


def _gather_features(embedding: torch.Tensor, *indices: torch.Tensor) -> torch.Tensor:
    """Rows [T, sum k_i, D] of each task for the index sets [T, k_i], from the per-task features
    ``embedding`` [B, T, D] or a feature shared by all tasks [B, D] (multi-class: one pooled feature).

    One ``index_select`` for all sets at once (its backward is a single ``index_add_``)."""
    index = torch.cat(indices, 1)  # [T, K]
    if embedding.dim() == 2:
        return embedding.index_select(0, index.view(-1)).view(*index.shape, -1)
    batch, tasks, dim = embedding.shape
    flat = index.mul(tasks).add_(torch.arange(tasks, device=index.device).unsqueeze(1))
    return embedding.reshape(batch * tasks, dim).index_select(0, flat.view(-1)).view(tasks, -1, dim)


def mine_triplets(scores: torch.Tensor, minority: torch.Tensor, correct: torch.Tensor, k: int, anchors: str = "easy") -> Dict[str, torch.Tensor]:
    """Pick anchors, hard positives and hard negatives per task, in the batch.

    scores [T, B] (task-major): the predicted probability of the task's minority class (detached);
    minority [T, B]: the sample belongs to that minority class; correct [T, B]: it is predicted correctly.

    - easy anchors (eq. 9): the k minority samples predicted correctly with the highest score
      ("high-confident correctly predicted minority samples"); ``anchors="all"`` (eq. 8, CRL):
      every minority sample of the batch is an anchor.
    - hard positives: the k minority samples with the lowest score (most wrongly predicted);
    - hard negatives: the k other samples with the highest minority-class score.
    Returns index/valid pairs ([T, k] each; ``anchor`` is [T, B] for ``anchors="all"``).
    """
    check_value("method.triplet.anchors", anchors, ANCHORS)
    if anchors == "easy":
        anchor, anchor_ok = _top(scores, minority & correct, k)
    else:
        anchor = torch.arange(scores.shape[1], device=scores.device).expand_as(scores)
        anchor_ok = minority
    positive, positive_ok = _top(-scores, minority, k)
    negative, negative_ok = _top(scores, ~minority, k)
    return {"anchor": anchor, "anchor_ok": anchor_ok, "positive": positive, "positive_ok": positive_ok,
            "negative": negative, "negative_ok": negative_ok}


def open_hinges(threshold: torch.Tensor, far: torch.Tensor, with_counts: bool) -> Tuple[torch.Tensor, ...]:
    """The hinges max(0, m + d(a, p) - d(a, n)) of all triplets of each task, reduced.

    threshold [T, kp, ka]: m + d(a, p), -inf for an invalid (anchor, positive) pair; far [T, kn, ka]:
    d(a, n), +inf for an invalid negative (so an invalid triplet's hinge is 0). Returns the hinge sum
    per task [T] and, ``with_counts``, the open hinges per (a, p) [T, kp, ka] and per (a, n)
    [T, kn, ka]: the derivatives of that sum by d(a, p) and by -d(a, n). The triplets are laid out
    [T, kp, kn, ka] so that every reduction runs over an outer dimension, vectorised over the anchors.
    """
    hinge = (threshold.unsqueeze(2) - far.unsqueeze(1)).clamp_min_(0)
    total = hinge.view(hinge.shape[0], -1).sum(1)
    if not with_counts:
        return (total,)
    open_ = hinge.sign_()  # 1 where the hinge is open (a float mask: cheaper than a bool one on a CPU)
    return total, open_.sum(2), open_.sum(1)


def _no_autocast(device: torch.device):
    """A region computed in fp32 even under autocast (the distances and hinges are small tensors)."""
    if torch.is_autocast_enabled(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


class TripletHinge(torch.autograd.Function):
    """DCL eq. 9 (or 8) from the gathered rows to the loss, its gradient written out.

    rows [T, ka + kp + kn, D]: each task's anchors, hard positives and hard negatives. Forward:
    all anchor-to-other distances from one batched matmul (``normalize``: of the L2-normalised
    rows, d = sqrt(2 - 2 cos), with the norms applied to the [T, kp + kn, ka] products rather than
    to the rows), every triplet's hinge (``open_hinges``), L_t = (sum of task t's hinges) /
    |triplets_t|, summed over tasks. Backward: dL/d d(a, p) = #{open n} / |T_t|,
    dL/d d(a, n) = -#{open p} / |T_t|, pushed through the distance (and the normalisation) by hand.
    Autograd over the same expression records some forty small kernels and keeps the tensor of all
    triplets alive until the backward; on a CPU that made a DCL step ~10% dearer than a CE step.
    Tested against the brute force over all triplets, value and gradient.
    """

    @staticmethod
    def forward(ctx, rows, sizes, anchor_ok, positive_ok, negative_ok, margin, normalize):
        with _no_autocast(rows.device):
            ka, kp, _ = sizes
            rows = rows.float()
            anchor, other = rows[:, :ka], rows[:, ka:]
            dot = torch.bmm(other, anchor.transpose(1, 2))  # [T, kp + kn, ka]
            # norms floored as F.normalize floors them; a zero feature has no direction and is
            # then orthogonal to every other (d = sqrt(2)); its gradient is ReLU's to stop
            norm_a = anchor.norm(dim=-1).clamp_min_(1e-12).unsqueeze(1)  # [T, 1, ka]
            norm_o = other.norm(dim=-1).clamp_min_(1e-12).unsqueeze(2)  # [T, kp + kn, 1]
            if normalize:  # |u - v|^2 = 2 - 2 cos for unit rows u = a / |a|, v = o / |o|
                inverse_norms = (norm_o * norm_a).reciprocal_()
                cosine = dot.mul_(inverse_norms)
                squared = cosine.mul(-2).add_(2)
            else:
                squared = (norm_o.square() + norm_a.square()).sub_(dot, alpha=2)
            live = squared > 1e-10  # a point and itself (an anchor that is also a positive): gradient 0
            dist = squared.clamp_min_(1e-12).sqrt_()
            pairs = positive_ok.unsqueeze(2) & anchor_ok.unsqueeze(1)  # [T, kp, ka]
            threshold = torch.where(pairs, dist[:, :kp] + margin, -float("inf"))
            far = torch.where(negative_ok.unsqueeze(2), dist[:, kp:], float("inf"))
            sums = open_hinges(threshold, far, ctx.needs_input_grad[0])
            triplets = anchor_ok.sum(1) * positive_ok.sum(1) * negative_ok.sum(1)  # |T_t|
            scale = 1 / triplets.clamp_min(1).to(dist.dtype)
            if ctx.needs_input_grad[0]:
                extra = (cosine, inverse_norms, norm_a, norm_o) if normalize else ()
                ctx.save_for_backward(rows, dist, live, sums[1], sums[2], scale, *extra)
                ctx.ka, ctx.normalize = ka, normalize
            return (sums[0] * scale).sum()

    @staticmethod
    def backward(ctx, grad_loss):
        rows, dist, live, open_per_pair, open_per_negative, scale, *extra = ctx.saved_tensors
        anchor, other = rows[:, :ctx.ka], rows[:, ctx.ka:]
        grad_dist = torch.cat([open_per_pair, open_per_negative], 1).mul_((scale * grad_loss).view(-1, 1, 1))
        grad_dist[:, open_per_pair.shape[1]:].neg_()  # a farther negative lowers the loss
        weight = torch.where(live, grad_dist.div_(dist), 0)  # [T, kp + kn, ka]: dL/d(squared) * 2
        if ctx.normalize:  # squared = 2 - 2 cos, cos = a.o / (|a| |o|)
            cosine, inverse_norms, norm_a, norm_o = extra
            by_norm = weight * cosine  # the radial part: d cos / d a = o / (|a||o|) - cos a / |a|^2
            by_dot = weight.mul_(inverse_norms)  # -dL/d(a.o)
            grad_anchor = torch.baddbmm(anchor * (by_norm.sum(1) / norm_a.squeeze(1).square()).unsqueeze(-1),
                                        by_dot.transpose(1, 2), other, alpha=-1)
            grad_other = torch.baddbmm(other * (by_norm.sum(2, keepdim=True) / norm_o.square()), by_dot, anchor, alpha=-1)
        else:  # squared = |a|^2 + |o|^2 - 2 a.o
            grad_anchor = torch.baddbmm(anchor * weight.sum(1).unsqueeze(-1), weight.transpose(1, 2), other, alpha=-1)
            grad_other = torch.baddbmm(other * weight.sum(2, keepdim=True), weight, anchor, alpha=-1)
        return torch.cat([grad_anchor, grad_other], 1), None, None, None, None, None, None


def triplet_loss(embedding: torch.Tensor, triplets: Dict[str, torch.Tensor], margin: float, normalize: bool = True) -> torch.Tensor:
    """DCL eq. 9 (or 8): per task, the mean over all (anchor, hard positive, hard negative)
    combinations of max(0, m + d(a, p) - d(a, n)), summed over tasks (a task without a triplet adds 0).

    embedding [B, T, D] (or [B, D] shared by the tasks); d is the Euclidean distance, between
    L2-normalised features if ``normalize``.
    """
    sizes = tuple(triplets[key].shape[1] for key in ("anchor", "positive", "negative"))
    rows = _gather_features(embedding, triplets["anchor"], triplets["positive"], triplets["negative"])
    valid = (triplets["anchor_ok"], triplets["positive_ok"], triplets["negative_ok"])
    return TripletHinge.apply(rows, sizes, *valid, float(margin), bool(normalize))


# ---------------------------------------------------------------------------------------------
# the method
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Triplet:
    """``method.triplet``: L_TEA (eq. 9), or CRL's triplet loss (eq. 8)."""

    anchors: str        # easy (eq. 9) | all (eq. 8)
    k: int              # at most k anchors, k hard positives and k hard negatives per task
    margin: float       # m_j of eq. 9
    normalize: bool     # distances between L2-normalised features


@METHODS.register("dcl")
class DCL(Method):
    """DCL and its Table 1 special cases; see the module docstring and conf/method/dcl.yaml (the keys below)."""

    multi_process = True  # tested on 2 processes against 1 (docs/distributed.md)

    def __init__(self, task: TaskInfo, *, branch_dim: int, total_epochs: Optional[int], sampling_scheduler: Schedule,
                 current: str, loss_scheduler: LossSchedule, triplet: Triplet):
        super().__init__(task, branch_dim=branch_dim)
        self.sampling_scheduler, self.loss_scheduler = sampling_scheduler, loss_scheduler
        self.k = int(triplet.k)
        self.margin = float(triplet.margin)
        self.anchors = str(check_value("method.triplet.anchors", triplet.anchors, ANCHORS))
        self.normalize = bool(triplet.normalize)
        self.target_mode = target_mode(sampling_scheduler, "method.sampling_scheduler")
        self.current = str(check_value("method.current", current, CURRENT_DISTRIBUTIONS))
        if self.k < 1:
            raise ConfigError(f"method.triplet.k={self.k}: expected an integer >= 1")
        # training distribution per task: [A, 2] (negatives, positives) or [1, C]
        counts = task.attribute_counts() if not task.is_multiclass else task.train_counts[None, :]
        self.register_buffer("train_counts", torch.as_tensor(counts, dtype=torch.float64), persistent=False)
        self.register_buffer("minority", self._minority_classes(self.train_counts), persistent=False)
        # the same, in the form the triplet mining reads it each step (built once: nonzero() would
        # make the host wait for the device at every step)
        if task.is_multiclass:  # the minority classes, each a task
            self.register_buffer("minority_tasks", torch.nonzero(self.minority[0]).squeeze(1), persistent=False)
        else:  # per attribute the minority label (1: the positives) and its sign (+1: the positives)
            positive_minority = self.minority[:, 1:2].to(torch.float32)  # [A, 1]
            self.register_buffer("minority_label", positive_minority, persistent=False)
            self.register_buffer("minority_sign", positive_minority * 2 - 1, persistent=False)
        self.set_schedules(int(total_epochs or 1))  # setup rebuilds them for the run's epochs

    @staticmethod
    def _minority_classes(counts: torch.Tensor) -> torch.Tensor:
        """[T, K] bool: the minority class of each attribute (the one with fewer training samples);
        multi-class: every class with at most the median count (all classes of a balanced set)."""
        if counts.shape[0] == 1 and counts.shape[1] > 2:
            return counts <= counts.median()
        return counts == counts.min(1, keepdim=True).values

    def set_schedules(self, total_epochs: int) -> None:
        """Build g (sampling scheduler) and f (loss scheduler, eq. 11) for a run of ``total_epochs``."""
        self.g = build_scheduler(self.sampling_scheduler, total_epochs, "method.sampling_scheduler")
        self.f = build_loss_scheduler(self.loss_scheduler, total_epochs, "method.loss_scheduler")
        self.on_epoch_start(0)

    def setup(self, ctx: TrainContext) -> None:
        self.set_schedules(ctx.epochs)

    def on_epoch_start(self, epoch: int) -> None:
        self.g_l = float(self.g(float(epoch)))
        self.f_l = float(self.f(float(epoch)))
        target = target_distribution(self.train_counts, self.g_l, self.target_mode)
        self.target = target.to(torch.float32)  # [T, K] class shares of the batch target (eq. 5)
        self.ratio = dsl_ratios(self.train_counts, self.g_l, self.target_mode).to(torch.float32)  # D_target / D_train
        self.as_drawn = (self.ratio == 1).all(1)  # [T]: target = training distribution, nothing to re-balance
        self.plain_ce = bool(self.as_drawn.all())

    def epoch_scalars(self) -> Dict[str, float]:
        return {"g_l": self.g_l, "f_l": self.f_l}

    # -- the loss (eq. 10) ------------------------------------------------------------------------
    def task_labels(self, y: torch.Tensor) -> torch.Tensor:
        """[B, T] int64 class ids per task: attributes [B, A] in {0, 1}, or [B, 1] class ids."""
        return y.long().unsqueeze(1) if self.task.is_multiclass else y.long()

    def dsl_loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        """DCL eq. 6: -1/N sum_j sum_i w_j log p(y_ij | x_ij), summed over attributes.

        A task whose target equals its training distribution (g = 1, or every class equally frequent)
        keeps its batch as drawn, all weights 1; where that holds for every task this is exactly the
        cross-entropy of ``method=ce`` (DCL Table 1 rows CE and CRL-I; sec. 4.5: on balanced CIFAR-100
        the re-balancing methods are the CE baseline). The other tasks get eq. 7's weights with
        D_current the batch's distribution (``current=batch``) or the training one (``train``). In a
        distributed run the batch is the global batch: the weights are computed from every process's labels
        (the same draws on each) and each process keeps its own rows."""
        if self.plain_ce:
            return Method.loss(self, {"logits": logits}, batch, 0).loss
        labels = batch.gather(self.task_labels(batch.y))  # the global batch's (distributed: every process's rows)
        if self.current == "train":
            weights = dsl_weights_from_train(labels, self.ratio.to(logits.device), batch.generator)
        else:
            weights = dsl_weights(labels, self.target.to(logits.device), batch.generator)
            weights = torch.where(self.as_drawn.to(logits.device), torch.ones_like(weights), weights)
        weights = batch.local(weights)
        if self.task.is_multiclass:
            per_sample = F.cross_entropy(logits.float(), batch.y, reduction="none")
            return (weights[:, 0] * per_sample).sum() / len(batch.y)
        return F.binary_cross_entropy_with_logits(logits.float(), batch.y, weight=weights, reduction="sum") / len(batch.y)

    def tea_loss(self, outputs: Dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        """DCL eq. 9 (or eq. 8 with ``triplet.anchors=all``) on each task's feature, mined over the global batch
        (distributed: the features of every process, gathered with their gradients)."""
        # task-major [T, B] and contiguous: every tensor built from these keeps their layout
        logits = batch.gather(outputs["logits"].detach().float())
        y = batch.gather(batch.y)
        if self.task.is_multiclass:
            tasks = self.minority_tasks.to(logits.device)  # the minority classes are the tasks
            probs = logits.softmax(1).t()[tasks].contiguous()
            minority = tasks.unsqueeze(1) == y.unsqueeze(0)
            correct = minority & (tasks.unsqueeze(1) == logits.argmax(1).unsqueeze(0))
            embedding = batch.gather(outputs["features"])  # [B, D], one feature shared by the class tasks
        else:
            sign = self.minority_sign.to(logits.device)  # [A, 1]: +1 where the positives are the minority
            minority_logit = logits.t().contiguous().mul_(sign)  # > 0: the minority class is predicted
            probs = minority_logit.sigmoid()
            minority = y.t().contiguous() == self.minority_label.to(logits.device)
            correct = minority & (minority_logit > 0)
            embedding = batch.gather(outputs["embedding"])
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
