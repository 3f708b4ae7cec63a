"""The two-head model's pieces (Chen et al., "Improving class balancing at both feature extractor and
classifier head"): the feature-balancing head (eq. 1-2), the class division (eq. 3), the soft cluster
labels (eq. 4) and the cluster -> class mapping used at prediction.

Cluster ids are contiguous per class: class c owns clusters offset_c .. offset_c + u_c - 1, so
``cluster_class = repeat_interleave(arange(C), u)`` maps a cluster to its class.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, check_value, unknown_value

CLUSTERINGS = ("random", "kmeans", "hierarchical")
CHANNEL_FITS = ("project", "repeat", "exact")  # project: the default (every class its own channels)
MAPPINGS = ("argmax", "sum")


# -- class division ---------------------------------------------------------------------------------
def clusters_per_class(counts: Sequence[int], u: int) -> np.ndarray:
    """Two-head eq. 3: u_c = 1 + round((n_c - n_1) / (n_C - n_1) * (u - 1)), n_1 / n_C the smallest / largest class.

    Rounding is half-up. When every class has the same size (n_C = n_1, also a single class) the set
    is balanced and every class keeps one cluster. u_c never exceeds n_c (a cluster holds at least
    one training image), which only matters for tiny classes in smoke runs.
    """
    n = np.asarray(counts, dtype=np.float64)
    if u < 1:
        raise ConfigError(f"method.u={u}: the largest class needs at least 1 cluster")
    lo, hi = n.min(), n.max()
    if hi == lo:
        u_c = np.ones(len(n), dtype=np.int64)
    else:
        u_c = 1 + np.floor((n - lo) / (hi - lo) * (u - 1) + 0.5).astype(np.int64)
    return np.maximum(1, np.minimum(u_c, n.astype(np.int64)))


def cluster_class_map(u_c: Sequence[int]) -> torch.Tensor:
    """[K] the original class of each cluster (clusters contiguous per class)."""
    u_c = torch.as_tensor(np.asarray(u_c), dtype=torch.long)
    return torch.repeat_interleave(torch.arange(len(u_c)), u_c)


def _split_members(members: np.ndarray, k: int, labels: Optional[np.ndarray]) -> np.ndarray:
    """Local cluster (0..k-1) of each member: given ``labels``, or near-equal parts of the given order."""
    if labels is not None:
        return labels
    return (np.arange(len(members), dtype=np.int64) * k) // max(1, len(members))


def cluster_labels(features: np.ndarray, k: int, strategy: str, seed: int) -> np.ndarray:
    """k clusters of one class's samples: k-means (scikit-learn, 10 restarts) or Ward hierarchical clustering."""
    if strategy == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(features).astype(np.int64)
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(features).astype(np.int64)


def assign_clusters(targets: np.ndarray, u_c: Sequence[int], strategy: str, seed: int, features: Optional[np.ndarray] = None) -> np.ndarray:
    """Global cluster id of every training sample.

    ``random`` (the paper's default): a seeded permutation of each class cut into u_c near-equal
    parts. ``kmeans`` / ``hierarchical``: clustering of ``features`` [N, F] within each class.
    """
    check_value("method.clustering", strategy, CLUSTERINGS)
    targets = np.asarray(targets, dtype=np.int64)
    u_c = np.asarray(u_c, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(u_c)[:-1]])
    rng = np.random.default_rng(seed)
    out = np.empty(len(targets), dtype=np.int64)
    for c in range(len(u_c)):
        members = np.flatnonzero(targets == c)
        if len(members) == 0:
            continue
        k = int(min(u_c[c], len(members)))
        labels = None
        if strategy == "random" or k == 1:
            members = rng.permutation(members)
        else:
            labels = cluster_labels(features[members], k, strategy, seed)
        out[members] = offsets[c] + _split_members(members, k, labels)
    return out


# -- soft labels and the mapping back ------------------------------------------------------------------
def soft_cluster_targets(cluster: torch.Tensor, y: torch.Tensor, cluster_class: torch.Tensor, u_c: torch.Tensor, alpha: float) -> torch.Tensor:
    """Two-head eq. 4's q [B, K]: alpha on the sample's own cluster, (1 - alpha)/(u_c - 1) on each sibling.

    A class with a single cluster gets the one-hot target (q = 1 on its cluster).
    """
    siblings = (cluster_class[None, :] == y[:, None]).float()  # [B, K] clusters of the sample's class
    u = u_c[y].float()
    share = torch.where(u > 1, (1.0 - alpha) / (u - 1).clamp_min(1.0), torch.zeros_like(u))
    q = siblings * share[:, None]
    own = torch.where(u > 1, torch.full_like(u, alpha), torch.ones_like(u))
    return q.scatter(1, cluster[:, None], own[:, None])


def clusters_to_classes(logits: torch.Tensor, cluster_class: torch.Tensor, num_classes: int, mode: str = "argmax") -> torch.Tensor:
    """Class scores [B, C] from cluster logits [B, K] (two-head sec. 2.2: the K-class classifier "is employed
    to predict the class ... with the help of the correspondence between the K clusters and the original C classes").

    ``argmax`` (the plain reading, the default): each class scores its best cluster's logit, so the
    predicted class is the class of the arg-max cluster. ``sum``: log of the summed softmax probability
    of each class's clusters (a class is as likely as all its clusters together).
    """
    if mode == "sum":
        probs = F.softmax(logits.float(), dim=1)
        summed = torch.zeros(logits.shape[0], num_classes, device=logits.device).index_add_(1, cluster_class, probs)
        return torch.log(summed.clamp_min(1e-30))
    if mode == "argmax":
        index = cluster_class[None, :].expand_as(logits)
        out = torch.full((logits.shape[0], num_classes), -float("inf"), device=logits.device)
        return out.scatter_reduce(1, index, logits.float(), reduce="amax", include_self=True)
    raise unknown_value("method.cluster_to_class", mode, MAPPINGS)


# -- the two heads -------------------------------------------------------------------------------------
class FeatureBalancingHead(nn.Module):
    """Two-head eq. 1: z_c = GAP(F_c * K_c), one grouped convolution over C channel groups.

    Sec. 2.1 gives every class "a unique" group of k = D/C channels of the last feature map (D channels).
    When D = C*k the map is split as is. Otherwise (ResNet-32: 64 channels for 100 CIFAR-100 classes;
    ResNeXt-50: 2048 for 1000 ImageNet-LT classes) ``fit`` decides, with k = ceil(D/C) unless
    ``channels_per_class`` is given:

    - ``project`` (default): a learned 1x1 convolution D -> C*k channels, BatchNorm and ReLU (one more
      conv-BN-ReLU layer of the extractor, as wide as the groups need) before the split, so every class
      owns its k channels and no two classes share one; the BatchNorm keeps the projected map's scale
      fixed, which the bare projection did not (it destabilised training, docs/twohead.md);
    - ``repeat``: tile the D channels cyclically to C*k slots (no new weights), so classes share a
      channel where the tiling wraps (ResNet-32 / CIFAR-100: classes 64..99 reuse channels 0..35);
    - ``exact``: refuse (ConfigError).
    """

    def __init__(self, in_channels: int, num_classes: int, channels_per_class: Optional[int] = None,
                 fit: str = "project", kernel_size: int = 3):
        super().__init__()
        check_value("method.fbh_channel_fit", fit, CHANNEL_FITS)
        k = int(channels_per_class) if channels_per_class else max(1, math.ceil(in_channels / num_classes))
        width = k * num_classes
        self.fit = "none" if width == in_channels else fit
        if self.fit == "exact":
            raise ConfigError(
                f"method.fbh_channel_fit=exact: the feature map has {in_channels} channels, not "
                f"{num_classes} classes x {k}; use project or repeat"
            )
        self.project = None
        if self.fit == "project":
            self.project = nn.Sequential(nn.Conv2d(in_channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.register_buffer("channel_index", torch.arange(width) % in_channels, persistent=False)
        self.channels_per_class = k
        self.conv = nn.Conv2d(width, num_classes, kernel_size, padding=kernel_size // 2, groups=num_classes)

    def grouped_input(self, feature_map: torch.Tensor) -> torch.Tensor:
        """The C*k-channel map the grouped convolution splits (class c reads channels c*k .. c*k + k - 1)."""
        if self.fit == "project":
            return self.project(feature_map)
        if self.fit == "repeat":
            return feature_map.index_select(1, self.channel_index)
        return feature_map

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.conv(self.grouped_input(feature_map)).mean(dim=(2, 3))


class TwoHeads(nn.Module):
    """The class-division head (a K-way linear classifier on pooled features, ``fc``) and, when enabled,
    the feature-balancing head on the last feature map. Returns ``logits`` [B, K] and ``fbh_logits`` [B, C]."""

    def __init__(self, in_features: int, num_clusters: int, fbh: Optional[FeatureBalancingHead]):
        super().__init__()
        self.fc = nn.Linear(in_features, num_clusters)
        self.fbh = fbh

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        out = {"logits": self.fc(features)}
        if self.fbh is not None and self.training:
            out["fbh_logits"] = self.fbh(feature_map)
        return out
