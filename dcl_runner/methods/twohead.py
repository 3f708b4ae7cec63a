"""The two-head model (Chen et al.; seed paper 004): ``method=twohead`` and ``method=twohead_full``.

- Feature-balancing head (FBH, eq. 1-2): a grouped convolution gives class c its own group of
  channels of the backbone's last feature map; GAP; softmax CE against the class is L1.
- Class-division head (CDH, eq. 3-4): class c is split into u_c clusters (eq. 3, u for the largest
  class), the main classifier is K-way (K = sum u_c) and trained with soft labels (alpha on the
  sample's own cluster, (1 - alpha)/(u_c - 1) on its siblings): L2.
- Loss L = L2 + lambda * L1 (lambda 1.5). ``fbh: false`` drops L1 and the auxiliary head;
  ``cdh: false`` makes every class one cluster (the main head is then a plain C-way CE classifier):
  the four rows of Table 4.
- Prediction uses the main (K-way) head only, mapped to classes by ``cluster_to_class``: ``argmax``
  (the class of the arg-max cluster, the paper's plain reading; default) or ``sum`` (summed cluster
  probabilities per class).

Clusters are assigned once in ``setup`` (``clustering``: random | kmeans | hierarchical, on
``cluster_features``: pixels | model) and saved with the method's state, so a resumed run keeps them.
``twohead_full`` is the same method with Mixup and deferred class re-weighting switched on
(inherited from the long-tail family, ``longtail.py``).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import TaskInfo
from ..errors import ConfigError, check_value
from .base import METHODS, TrainContext
from .longtail import LongTailLoss
from .losses_longtail import cross_entropy, soft_cross_entropy
from .twohead_parts import (
    CLUSTERINGS,
    MAPPINGS,
    FeatureBalancingHead,
    TwoHeads,
    assign_clusters,
    cluster_class_map,
    clusters_per_class,
    clusters_to_classes,
    soft_cluster_targets,
)


CLUSTER_FEATURES = {"pixels": "8x8-pooled images", "model": "the pooled features of the model at setup"}


class TwoHead(LongTailLoss):
    """conf/method/twohead.yaml documents the keys below; ``**longtail``: the long-tail family's (LongTailLoss)."""

    multi_process = True  # tested on 2 processes against 1 (docs/distributed.md)

    def __init__(self, task: TaskInfo, *, fbh: bool, cdh: bool, lambda_fbh: float, u: int, alpha: float,
                 clustering: str, cluster_features: str, cluster_to_class: str, fbh_channel_fit: str,
                 fbh_channels_per_class: Optional[int], fbh_kernel_size: int, **longtail):
        super().__init__(task, **longtail)
        if self.loss_name != "ce":
            raise ConfigError("method=twohead trains its heads with (soft) cross-entropy: keep method.loss=ce")
        self.use_fbh = bool(fbh)
        self.use_cdh = bool(cdh)
        self.lam = float(lambda_fbh)
        self.alpha = float(alpha)
        self.mapping = str(check_value("method.cluster_to_class", cluster_to_class, MAPPINGS))
        if not 0 < self.alpha <= 1:
            raise ConfigError(f"method.alpha={self.alpha}: the own-cluster soft label must be in (0, 1]")
        self.clustering = str(check_value("method.clustering", clustering, CLUSTERINGS))
        self.cluster_features = str(cluster_features)
        self.fbh_options = (fbh_channels_per_class, str(fbh_channel_fit), int(fbh_kernel_size))
        u_c = clusters_per_class(task.train_counts, int(u) if self.use_cdh else 1)
        self.register_buffer("clusters_per_class", torch.as_tensor(u_c, dtype=torch.long))
        self.register_buffer("cluster_class", cluster_class_map(u_c))
        self.register_buffer("sample_cluster", torch.zeros(task.num_train, dtype=torch.long))
        self.num_clusters = int(u_c.sum())

    # -- model ---------------------------------------------------------------------------------
    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        fbh = None
        if self.use_fbh:
            fbh = FeatureBalancingHead(in_channels, self.task.num_outputs, *self.fbh_options)
        return TwoHeads(in_features, self.num_clusters, fbh)

    # -- clusters (eq. 3), assigned once -------------------------------------------------------------
    def setup(self, ctx: TrainContext) -> None:
        super().setup(ctx)
        targets = ctx.train_targets.detach().cpu().numpy()
        features = None
        if self.clustering != "random" and self.use_cdh:
            features = self.clustering_features(ctx)
        assigned = assign_clusters(targets, self.clusters_per_class.cpu().numpy(), self.clustering, int(ctx.seed), features)
        self.sample_cluster.copy_(torch.as_tensor(assigned, device=self.sample_cluster.device))

    @torch.no_grad()
    def clustering_features(self, ctx: TrainContext) -> np.ndarray:
        """[N, F] what the clustering sees: ``pixels`` (8x8 average-pooled normalised images) or
        ``model`` (the pooled features of the model as it is at setup: random, or ``trainer.init_from``'s)."""
        source = str(check_value("method.cluster_features", self.cluster_features, CLUSTER_FEATURES))
        was_training = ctx.model.training
        ctx.model.eval()
        chunks = []
        for x, _, _ in ctx.iterate_train(256):
            if source == "pixels":
                chunks.append(F.adaptive_avg_pool2d(x.float(), 8).flatten(1).cpu())
            else:
                chunks.append(ctx.model(x)["features"].float().cpu())
        ctx.model.train(was_training)
        return torch.cat(chunks).numpy()

    # -- loss (eq. 2, eq. 4) ---------------------------------------------------------------------------
    def loss_terms(self, outputs: Dict[str, torch.Tensor], y: torch.Tensor, index: torch.Tensor) -> Dict[str, Tuple[float, torch.Tensor]]:
        q = soft_cluster_targets(self.sample_cluster[index], y, self.cluster_class, self.clusters_per_class, self.alpha)
        terms = {"loss_cdh": (1.0, soft_cross_entropy(outputs["logits"], q))}  # L2, eq. 4
        if self.use_fbh:
            terms["loss_fbh"] = (self.lam, cross_entropy(outputs["fbh_logits"], y))  # L1, eq. 2
        return terms

    # -- evaluation ----------------------------------------------------------------------------------
    def predict(self, outputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        return clusters_to_classes(outputs["logits"], self.cluster_class, self.task.num_outputs, self.mapping)

    def final_outputs(self, model: nn.Module) -> Dict[str, np.ndarray]:
        """Fig. 3: train counts, per-class weight norm of the main head (mean over the class's clusters), per cluster too."""
        norms = model.head.fc.weight.detach().float().norm(dim=1).cpu()
        classes = self.cluster_class.cpu()
        per_class = torch.zeros(self.task.num_outputs).index_add_(0, classes, norms) / self.clusters_per_class.cpu().float()
        return {
            "class_train_counts": np.asarray(self.task.train_counts, dtype=np.int64),
            "classifier_weight_norm": per_class.numpy(),
            "cluster_weight_norm": norms.numpy(),
            "cluster_class": classes.numpy(),
            "clusters_per_class": self.clusters_per_class.cpu().numpy(),
        }


METHODS.register("twohead")(TwoHead)
METHODS.register("twohead_full")(TwoHead)
