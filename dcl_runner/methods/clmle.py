"""CLMLE, Cluster-based Large Margin Local Embedding (Huang, Li, Loy & Tang, TPAMI 2019 / arXiv 1806.00194 [22];
DCL Table 2 row "CLMLE", Fig. 4's CLMLE curve).

CLMLE keeps LMLE's per-class clusters and kNN classifier and moves the margins from sample quintuplets to the
clusters: "inter-cluster margins both within and between classes", "angular margins between the cluster
distributions on a hypersphere manifold" (CLMLE abstract). Here a sample is held against the centroids of its
task's clusters (refreshed with the clusters, ``local_embedding.ClusterBank``, unit-normalised), in a softmax over
the clusters with additive cosine margins: with cos_j = cos(f_i, mu_j) for the anchor's embedding f_i::

    L_i = -log( e^{s cos_own} / (e^{s cos_own} + sum_{j sibling} e^{s (cos_j + m_w)} + sum_{j other class} e^{s (cos_j + m_b)}) )
    L = mean_i L_i

so the own cluster must beat each sibling cluster of its class by the within-class margin m_w and each cluster
of another class by the between-class margin m_b. A one-sample cluster (its centroid is the sample) has no
siblings in the sum, as LMLE's eps needs an x^{p+}: holding a rare class's lone samples nearer to their own old
positions than to their class's other clusters would push them apart. Only the anchors go through the network;
the centroids are constants in the loss, but follow the embedding between refreshes: every step writes the
anchors' new embeddings into the bank and moves their clusters' means by the change (the memberships stay until
the next refresh). The kNN classifier uses d = 1 - cos.

Read docs/dcl.md "LMLE / CLMLE": CLMLE's own text was not at hand when this was written; the loss above is built
from the CLMLE abstract's words (angular margins between clusters, within and between classes, on the
hypersphere) in the additive-cosine-margin softmax form of its time, and its form is a choice. A cluster-level
hinge (LMLE's constraints on centroids) was tried first and lost to CE on the slow check (docs/dcl.md).
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F

from ..data.base import TaskInfo
from .base import METHODS
from .local_embedding import ClusterBank, LocalEmbedding


def angular_distances(f: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """1 - cos between the unit vectors ``f`` [B, D] and the directions of ``centroids`` [M, D]: [B, M]."""
    return 1.0 - f @ F.normalize(centroids, dim=1).t()


def cluster_margin_softmax(cos: torch.Tensor, own: torch.Tensor, own_class: torch.Tensor, centroid_class: torch.Tensor,
                           cluster_size: torch.Tensor, margins, scale: float) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The cluster-level angular margins (module docstring): (mean loss over the anchors, parts).

    ``cos`` [m, M] anchor-to-centroid cosines of one task, ``own`` [m] the anchor's cluster, ``own_class`` [m] its
    class, ``centroid_class`` [M], ``cluster_size`` [M] samples per cluster. Parts: the mean loss, and the shares of
    anchors whose own cluster beats every sibling / every other class's cluster by its margin."""
    m_within, m_between = margins
    m, n_clusters = cos.shape
    same_class = centroid_class.unsqueeze(0) == own_class.unsqueeze(1)
    is_own = torch.arange(n_clusters, device=cos.device).unsqueeze(0) == own.unsqueeze(1)
    sibling = same_class & ~is_own & (cluster_size[own] > 1).unsqueeze(1)
    competitor = torch.where(sibling, cos + m_within, cos + m_between)
    logits = torch.where(is_own, cos, competitor)
    logits = torch.where(same_class & ~is_own & ~sibling, torch.full_like(cos, -float("inf")), logits)
    loss = F.cross_entropy(scale * logits, own, reduction="sum") / max(1, m)
    cos_own = cos.gather(1, own.unsqueeze(1))
    inf = torch.full_like(cos, -float("inf"))
    within_met = (cos_own.squeeze(1) >= torch.where(sibling, cos + m_within, inf).amax(1)).float().mean()
    between_met = (cos_own.squeeze(1) >= torch.where(~same_class, cos + m_between, inf).amax(1)).float().mean()
    return loss, {"margin_softmax": loss, "within_met": within_met, "between_met": between_met}


def first_occurrence(indices: torch.Tensor):
    """(the distinct values of ``indices``, the position of each one's first occurrence)."""
    unique, inverse = torch.unique(indices, return_inverse=True)
    positions = torch.arange(len(indices), device=indices.device)
    first = torch.full((len(unique),), len(indices), dtype=torch.long, device=indices.device)
    return unique, first.scatter_reduce(0, inverse, positions, reduce="amin")


@METHODS.register("clmle")
class CLMLE(LocalEmbedding):
    """conf/method/clmle.yaml: ``margins`` [within-class, between-class] (cosine margins), ``scale`` s, and
    ``LocalEmbedding``'s keys."""

    name = "clmle"
    num_margins = 2

    def __init__(self, task: TaskInfo, *, scale: float, **shared):
        super().__init__(task, **shared)
        self.scale = float(scale)

    def centroid_distances(self, queries: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
        return angular_distances(queries, centroids)

    def embedding_loss(self, model, bank: ClusterBank, anchors, tasks, generator):
        embedding, _ = self.embed(model, anchors, generator)
        unique, first = first_occurrence(anchors)
        bank.move(unique, embedding[first].detach())  # the centroids follow the embedding between refreshes
        total, parts = 0.0, {}
        for t in torch.unique(tasks).tolist():
            rows = (tasks == t).nonzero().squeeze(1)
            a = anchors[rows]
            cos = 1.0 - angular_distances(embedding[rows], bank.centroids[t])
            loss, task_parts = cluster_margin_softmax(cos, bank.cluster[a, t], bank.labels[a, t], bank.centroid_class[t],
                                                      bank.cluster_sizes(t), self.margins, self.scale)
            share = len(rows) / len(anchors)  # every anchor weighs the same: the mean over all anchors
            total = total + share * loss
            for key, value in task_parts.items():
                parts[key] = parts.get(key, 0.0) + share * value.detach()
        return total, parts
