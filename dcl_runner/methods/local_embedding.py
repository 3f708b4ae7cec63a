"""What LMLE (Huang et al., CVPR 2016) and CLMLE (Huang et al., TPAMI 2019) share: one L2-normalised embedding,
per-class k-means clusters of it refreshed during training, class-balanced anchors, and the cluster-wise kNN
classifier both use at test time. ``lmle.py`` and ``clmle.py`` add their losses.

- Tasks. A multi-class dataset is one task over its C classes; a multi-attribute dataset is A binary tasks
  (attribute value 0 / 1) sharing the one embedding (DCL sec. 4.3.2 on LMLE/CLMLE: "one sample is usually bundled
  with multiple different attributes"): every (task, class) has its own clusters, every anchor is drawn for one
  task and only that task's constraints use it.
- Clusters (LMLE sec. 3.2: k-means per class on the current features, redone as training goes on): every
  ``refresh_every`` epochs, the whole training set is embedded (un-augmented, model in eval mode) and each
  (task, class) is split into ``clusters`` k-means clusters (k-means++ seeding, Lloyd's iterations, on the device;
  a class with fewer samples than ``clusters`` gets one cluster per sample). The embedding, labels, cluster ids
  and centroids are a :class:`ClusterBank`.
- Anchors: per step, ``anchors_per_class`` training samples drawn uniformly from each class of each task (null:
  the batch size spread over all (task, class) pairs, rounded up), LMLE's class-balanced mini-batches; fetched
  and augmented through ``TrainContext.fetch`` (the trainer's own batch only sets the step count and size).
- Classification (LMLE sec. 3.3, cluster-wise kNN; CLMLE's k-nearest cluster): the query's ``knn_k`` nearest
  centroids of the task's clusters; if they all belong to one class, that class; otherwise each class c among
  them scores ``min_{j: class != c} d(q, m_j) - max_{i: class = c} d(q, m_i)`` and the highest wins. Scores
  are returned as class scores (multi-class) or one logit per attribute (score of 1 minus score of 0). The
  centroids are those of the current model: a bank is recomputed before evaluating when training moved on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import TaskInfo
from ..errors import ConfigError
from .base import Batch, Method, StepResult, TrainContext

#: score of a class all of the k nearest clusters belong to / of a class none of them belongs to; every
#: distance here is at most 4 (unit vectors), so these sort above / below every margin score
UNANIMOUS, ABSENT = 10.0, -10.0
EMBED_BATCH = 512  # images per forward pass when the training set is embedded for clustering


def kmeans(x: torch.Tensor, k: int, generator: torch.Generator, iters: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """k-means (k-means++ seeding, then Lloyd's iterations) of ``x`` [n, D]: (assignment [n], centroids [k', D]).

    ``k' = min(k, n)``; with n <= k every point is its own cluster. Seeding draws with ``generator`` (CPU)."""
    n = x.shape[0]
    if n <= k:
        return torch.arange(n, device=x.device), x.clone()
    first = int(torch.randint(n, (1,), generator=generator))
    centres = [x[first]]
    closest = ((x - x[first]) ** 2).sum(1)
    for _ in range(1, k):
        weights = closest.double().cpu()
        pick = int(torch.multinomial(weights, 1, generator=generator)) if weights.sum() > 0 else int(
            torch.randint(n, (1,), generator=generator))
        centres.append(x[pick])
        closest = torch.minimum(closest, ((x - x[pick]) ** 2).sum(1))
    centroids = torch.stack(centres)
    assign = torch.cdist(x, centroids).argmin(1)
    for _ in range(iters):
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype).unsqueeze(1)
        centroids = torch.where(counts > 0, sums / counts.clamp_min(1), centroids)  # an emptied cluster keeps its centre
        new = torch.cdist(x, centroids).argmin(1)
        if torch.equal(new, assign):
            break
        assign = new
    return assign, centroids


@dataclass
class ClusterBank:
    """The training set's embedding and its clusters at one moment of training.

    features [N, D] (unit vectors), labels [N, T] (class per task), cluster [N, T] (cluster id within the task,
    unique over its classes), centroids[t] [M_t, D] (mean embedding of each cluster), centroid_class[t] [M_t]."""

    features: torch.Tensor
    labels: torch.Tensor
    cluster: torch.Tensor
    centroids: List[torch.Tensor]
    centroid_class: List[torch.Tensor]
    step: int

    def cluster_sizes(self, t: int) -> torch.Tensor:
        """Samples per cluster of task ``t`` [M_t]."""
        return torch.bincount(self.cluster[:, t], minlength=len(self.centroids[t]))

    @torch.no_grad()
    def move(self, indices: torch.Tensor, features: torch.Tensor) -> None:
        """Write newer embeddings of the samples ``indices`` (distinct) into the bank and move every cluster mean
        they belong to by their change (memberships stay until the next refresh)."""
        delta = features.to(self.features.dtype) - self.features[indices]
        self.features[indices] = features.to(self.features.dtype)
        for t, centroids in enumerate(self.centroids):
            clusters = self.cluster[indices, t]
            sizes = self.cluster_sizes(t).clamp_min(1).to(centroids.dtype)
            centroids.index_add_(0, clusters, delta / sizes[clusters].unsqueeze(1))


def cluster_tasks(features: torch.Tensor, labels: torch.Tensor, clusters: int, generator: torch.Generator,
                  iters: int, step: int) -> ClusterBank:
    """k-means of every (task, class) of ``labels`` [N, T] on ``features`` [N, D] (LMLE sec. 3.2)."""
    cluster = torch.zeros_like(labels)
    centroids, centroid_class = [], []
    for t in range(labels.shape[1]):
        means, owners, next_id = [], [], 0
        for c in torch.unique(labels[:, t]).tolist():
            members = (labels[:, t] == c).nonzero().squeeze(1)
            assign, centres = kmeans(features[members], clusters, generator, iters)
            cluster[members, t] = assign + next_id
            means.append(centres)
            owners.append(torch.full((len(centres),), int(c), dtype=torch.long, device=features.device))
            next_id += len(centres)
        centroids.append(torch.cat(means))
        centroid_class.append(torch.cat(owners))
    return ClusterBank(features, labels, cluster, centroids, centroid_class, step)


def cluster_knn_scores(distances: torch.Tensor, centroid_class: torch.Tensor, num_classes: int, k: int) -> torch.Tensor:
    """LMLE sec. 3.3, cluster-wise kNN: class scores [B, C] from query-to-centroid ``distances`` [B, M].

    Among the k nearest centroids: a class owning all k scores UNANIMOUS, one owning none ABSENT, any other
    ``min_{j not c} d_j - max_{i in c} d_i`` (its farthest near cluster against the nearest of the others)."""
    k = min(int(k), distances.shape[1])
    near_d, near_at = distances.topk(k, dim=1, largest=False)
    near_class = centroid_class[near_at]                                       # [B, k]
    classes = torch.arange(num_classes, device=distances.device).view(1, -1, 1)
    own = near_class.unsqueeze(1) == classes                                   # [B, C, k]
    d = near_d.unsqueeze(1).expand_as(own)
    farthest_own = torch.where(own, d, torch.full_like(d, -math.inf)).amax(2)
    nearest_other = torch.where(~own, d, torch.full_like(d, math.inf)).amin(2)
    scores = nearest_other - farthest_own
    n_own = own.sum(2)
    scores = torch.where(n_own == k, torch.full_like(scores, UNANIMOUS), scores)
    return torch.where(n_own == 0, torch.full_like(scores, ABSENT), scores)


class EmbeddingHead(nn.Module):
    """The embedding both methods learn: one linear layer from the pooled feature, L2-normalised (LMLE sec. 3.2:
    features on the unit hypersphere)."""

    def __init__(self, in_features: int, dim: int):
        super().__init__()
        self.embed = nn.Linear(in_features, dim)

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"embedding": F.normalize(self.embed(features).float(), dim=1)}


class LocalEmbedding(Method):
    """Clusters, anchors and kNN of LMLE / CLMLE (module docstring); subclasses define ``embedding_loss`` and the
    distance their kNN uses (``centroid_distances``)."""

    def __init__(self, task: TaskInfo, *, embedding_dim: int, clusters: int, refresh_every: int, kmeans_iters: int,
                 anchors_per_class: Optional[int], knn_k: int, margins):
        super().__init__(task, branch_dim=None)
        if int(clusters) < 1 or int(refresh_every) < 1 or int(knn_k) < 1:
            raise ConfigError(f"method={self.name}: clusters, refresh_every and knn_k must be at least 1 "
                              f"(got {clusters}, {refresh_every}, {knn_k})")
        self.embedding_dim, self.clusters = int(embedding_dim), int(clusters)
        self.refresh_every, self.kmeans_iters, self.knn_k = int(refresh_every), int(kmeans_iters), int(knn_k)
        self.anchors_per_class = None if anchors_per_class is None else int(anchors_per_class)
        self.margins = tuple(float(m) for m in margins)
        if len(self.margins) != self.num_margins:
            raise ConfigError(f"method.margins: method={self.name} takes {self.num_margins} margins, got "
                              f"{list(self.margins)}")
        self.bank: Optional[ClusterBank] = None       # the clusters training uses (refreshed every refresh_every epochs)
        self.eval_bank: Optional[ClusterBank] = None  # the clusters of the model last evaluated
        self.steps_done = 0
        self._ctx: Optional[TrainContext] = None

    name = ""
    num_margins = 0

    # -- model and data ---------------------------------------------------------------------------------------
    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        return EmbeddingHead(in_features, self.embedding_dim)

    @property
    def num_classes(self) -> int:
        return self.task.num_outputs if self.task.is_multiclass else 2

    def setup(self, ctx: TrainContext) -> None:
        self._ctx = ctx
        targets = ctx.train_targets
        self.labels = (targets.long().unsqueeze(1) if self.task.is_multiclass else targets.long()).contiguous()  # [N, T]
        self.members = [[(self.labels[:, t] == c).nonzero().squeeze(1) for c in range(self.num_classes)]
                        for t in range(self.labels.shape[1])]
        self.seed = ctx.seed

    # -- clusters -----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def embed_training_set(self) -> torch.Tensor:
        model = self._ctx.model
        was_training = model.training
        model.eval()
        try:
            features = [model(x)["embedding"].float() for x, _, _ in self._ctx.iterate_train(EMBED_BATCH)]
        finally:
            model.train(was_training)
        return torch.cat(features)

    def bank_now(self) -> ClusterBank:
        """A bank of the model as it is now: the training bank if no step was taken since, else a new one."""
        for bank in (self.bank, self.eval_bank):
            if bank is not None and bank.step == self.steps_done:
                return bank
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.steps_done)
        return cluster_tasks(self.embed_training_set(), self.labels, self.clusters, generator, self.kmeans_iters,
                             self.steps_done)

    def on_epoch_start(self, epoch: int) -> None:
        """Refresh the training bank every ``refresh_every`` epochs (and when there is none, e.g. after a resume).

        The step count is the epoch's first step, so a resumed run seeds its clustering as the uninterrupted one."""
        if self._ctx is None:
            return
        self.steps_done = epoch * self._ctx.steps_per_epoch
        if self.bank is None or epoch % self.refresh_every == 0:
            self.bank = self.bank_now()

    # -- training -----------------------------------------------------------------------------------------------
    def draw_anchors(self, batch_size: int, generator: Optional[torch.Generator]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Class-balanced anchors: (sample indices [m], task of each [m]), ``anchors_per_class`` per (task, class)."""
        pairs = [(t, idx) for t, per_class in enumerate(self.members) for idx in per_class if len(idx)]
        per = self.anchors_per_class or max(1, math.ceil(batch_size / len(pairs)))
        device = self.labels.device
        gen = generator if generator is not None and generator.device == device else None
        picks, tasks = [], []
        for t, idx in pairs:
            at = torch.randint(len(idx), (per,), generator=gen, device=device)
            picks.append(idx[at])
            tasks.append(torch.full((per,), t, dtype=torch.long, device=device))
        return torch.cat(picks), torch.cat(tasks)

    def embed(self, model: nn.Module, indices: torch.Tensor, generator) -> Tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of the training samples ``indices`` [m] (each distinct image fetched and augmented once):
        (embedding of each index [m, D], the inverse map)."""
        unique, inverse = torch.unique(indices, return_inverse=True)
        x, _, _ = self._ctx.fetch(unique, generator=generator, augment=True)
        return model(x)["embedding"].float()[inverse], inverse

    def training_step(self, model: nn.Module, batch: Batch, epoch: int) -> StepResult:
        if self.bank is None:
            self.bank = self.bank_now()
        bank = self.bank
        anchors, tasks = self.draw_anchors(len(batch.index), batch.generator)
        loss, parts = self.embedding_loss(model, bank, anchors, tasks, batch.generator)
        self.steps_done += 1
        return StepResult(loss=loss, parts=parts, logits=None)

    def embedding_loss(self, model, bank: ClusterBank, anchors, tasks, generator):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- evaluation ---------------------------------------------------------------------------------------------
    def centroid_distances(self, queries: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
        """Squared Euclidean distances [B, M] (LMLE's D); CLMLE overrides it with its angular distance."""
        return torch.cdist(queries, centroids).pow(2)

    def predict(self, outputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        self.eval_bank = bank = self.bank_now()  # the kNN reads the clusters of the model being evaluated
        query = outputs["embedding"].float()
        scores = [cluster_knn_scores(self.centroid_distances(query, bank.centroids[t]), bank.centroid_class[t],
                                     self.num_classes, self.knn_k) for t in range(len(bank.centroids))]
        if self.task.is_multiclass:
            return scores[0]
        return torch.stack([s[:, 1] - s[:, 0] for s in scores], dim=1)
