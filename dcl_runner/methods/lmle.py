"""LMLE, Large Margin Local Embedding (Huang, Li, Loy & Tang, CVPR 2016 [21]; DCL Table 2 row "LMLE").

Quintuplet sampling (LMLE sec. 3.1): for an anchor x_i of class c, from the training set's embedding at the last
cluster refresh (``local_embedding.ClusterBank``):

- x^{p+}:  the most distant sample of the anchor's own cluster,
- x^{p-}:  the nearest sample of the anchor's class in another cluster,
- x^{p--}: the most distant sample of the anchor's class,
- x^{n}:   the nearest sample of another class.

Triple-header hinge loss (LMLE eq. 1, its slacks written as hinges), on the current embedding f (unit vectors)
with D(a, b) = ||f(a) - f(b)||^2::

    eps_i   = max(0, g1 + D(x_i, x^{p+}) - D(x_i, x^{p-}))      inter-cluster margin within the class
    tau_i   = max(0, g2 + D(x_i, x^{p-}) - D(x_i, x^{p--}))     intra-class order
    sigma_i = max(0, g3 + D(x_i, x^{p--}) - D(x_i, x^{n}))      inter-class margin
    L = mean_i (eps_i + tau_i + sigma_i)            (the weight decay of eq. 1 is the optimizer's)

A term whose partner does not exist (a one-sample cluster has no x^{p+}, a one-cluster class no x^{p-}) is left
out. All five images of every quintuplet go through the network (each distinct image once): the cost DCL
sec. 4.3.2 calls "computationally expensive". Clusters, anchors and the cluster-wise kNN classifier:
``local_embedding.py``.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch

from ..data.base import TaskInfo
from .base import METHODS
from .local_embedding import ClusterBank, LocalEmbedding

PARTNERS = ("p+", "p-", "p--", "n")


def quintuplet_partners(dist: torch.Tensor, anchor_class: torch.Tensor, anchor_cluster: torch.Tensor,
                        anchor_index: torch.Tensor, classes: torch.Tensor, clusters: torch.Tensor
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """LMLE sec. 3.1: the partners of m anchors, (indices [m, 4] in PARTNERS order, valid [m, 4]).

    ``dist`` [m, N]: anchor-to-sample distances in the bank; ``classes`` / ``clusters`` [N] of one task."""
    n = dist.shape[1]
    same_class = classes.unsqueeze(0) == anchor_class.unsqueeze(1)
    same_cluster = clusters.unsqueeze(0) == anchor_cluster.unsqueeze(1)
    not_self = torch.arange(n, device=dist.device).unsqueeze(0) != anchor_index.unsqueeze(1)
    masks_far = (same_cluster & not_self, same_class & not_self)
    masks_near = (same_class & ~same_cluster, ~same_class)
    far = [torch.where(m, dist, torch.full_like(dist, -float("inf"))).max(1) for m in masks_far]
    near = [torch.where(m, dist, torch.full_like(dist, float("inf"))).min(1) for m in masks_near]
    found = (far[0], near[0], far[1], near[1])  # p+, p-, p--, n
    index = torch.stack([f.indices for f in found], dim=1)
    valid = torch.stack([m.any(1) for m in (masks_far[0], masks_near[0], masks_far[1], masks_near[1])], dim=1)
    return index, valid


def triple_header_hinge(d: torch.Tensor, valid: torch.Tensor, margins) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """LMLE eq. 1: (mean over anchors of eps + tau + sigma, the three terms' means).

    ``d`` [m, 4]: D(anchor, partner) in PARTNERS order; ``valid`` [m, 4] whether each partner exists."""
    g1, g2, g3 = margins
    terms = {
        "eps": (torch.relu(g1 + d[:, 0] - d[:, 1]), valid[:, 0] & valid[:, 1]),
        "tau": (torch.relu(g2 + d[:, 1] - d[:, 2]), valid[:, 1] & valid[:, 2]),
        "sigma": (torch.relu(g3 + d[:, 2] - d[:, 3]), valid[:, 2] & valid[:, 3]),
    }
    m = max(1, d.shape[0])
    parts = {name: (value * ok).sum() / m for name, (value, ok) in terms.items()}
    return sum(parts.values()), parts


@METHODS.register("lmle")
class LMLE(LocalEmbedding):
    """conf/method/lmle.yaml: ``margins`` [g1, g2, g3] of eq. 1 and the shared keys of ``LocalEmbedding``."""

    name = "lmle"
    num_margins = 3

    def __init__(self, task: TaskInfo, **shared):
        super().__init__(task, **shared)

    def embedding_loss(self, model, bank: ClusterBank, anchors, tasks, generator):
        partners = torch.empty(len(anchors), 4, dtype=torch.long, device=anchors.device)
        valid = torch.empty(len(anchors), 4, dtype=torch.bool, device=anchors.device)
        for t in torch.unique(tasks).tolist():
            rows = (tasks == t).nonzero().squeeze(1)
            a = anchors[rows]
            dist = torch.cdist(bank.features[a], bank.features).pow(2)
            partners[rows], valid[rows] = quintuplet_partners(dist, bank.labels[a, t], bank.cluster[a, t], a,
                                                              bank.labels[:, t], bank.cluster[:, t])
        embedding, _ = self.embed(model, torch.cat([anchors, partners.reshape(-1)]), generator)
        anchor_f, partner_f = embedding[:len(anchors)], embedding[len(anchors):].view(len(anchors), 4, -1)
        d = (anchor_f.unsqueeze(1) - partner_f).pow(2).sum(-1)
        loss, parts = triple_header_hinge(d, valid, self.margins)
        return loss, {f"loss_{k}": v.detach() for k, v in parts.items()}
