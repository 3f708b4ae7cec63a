"""What every dataset hands the trainer: uint8 image arrays, targets, and the task they pose.

A dataset class (one per dataset, registered by name in ``DATASETS``) parses its on-disk format in
one place and returns a :class:`DataBundle`. Everything after that (long-tail profile, label noise,
smoke-budget caps, device placement, batched augmentation) is shared and lives in ``data/``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..registry import Registry

MULTICLASS = "multiclass"
ATTRIBUTES = "attributes"
TASK_KINDS = (MULTICLASS, ATTRIBUTES)


@dataclass
class Split:
    """One split of a dataset.

    images:  uint8 array [N, C, H, W] (numpy, possibly a memmap of a decode cache, or a torch tensor).
    targets: int64 [N] class ids (multiclass) or uint8 [N, A] in {0, 1} (attributes).
    The position of a sample in these arrays is its ``index`` for per-sample state.
    """

    images: Any
    targets: np.ndarray

    def __post_init__(self) -> None:
        if len(self.images) != len(self.targets):
            raise ValueError(f"split has {len(self.images)} images but {len(self.targets)} targets")

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, indices: np.ndarray) -> "Split":
        indices = np.asarray(indices, dtype=np.int64)
        images = self.images[torch.as_tensor(indices)] if torch.is_tensor(self.images) else self.images[indices]
        return Split(images=images, targets=self.targets[indices])


@dataclass
class TaskInfo:
    """The prediction task and the training-set statistics methods need.

    kind:         "multiclass" (softmax over C classes) or "attributes" (A independent binary attributes).
    names:        class names (multiclass) or attribute names (attributes), in output order.
    train_counts: multiclass: int [C] images per class; attributes: int [A] positives per attribute.
    num_train:    number of training samples (attributes: negatives = num_train - train_counts).
    """

    kind: str
    names: List[str]
    train_counts: np.ndarray
    num_train: int
    image_shape: Tuple[int, int, int]

    @property
    def num_outputs(self) -> int:
        return len(self.names)

    @property
    def is_multiclass(self) -> bool:
        return self.kind == MULTICLASS

    def attribute_counts(self) -> np.ndarray:
        """[A, 2] (negatives, positives) per attribute; attributes only."""
        pos = np.asarray(self.train_counts, dtype=np.int64)
        return np.stack([self.num_train - pos, pos], axis=1)


@dataclass
class DataBundle:
    """A loaded dataset: task, splits, and extra per-run facts (noisy indices, attribute groups...)."""

    kind: str
    names: List[str]
    train: Split
    test: Split
    val: Optional[Split] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> Split:
        value = getattr(self, name, None)
        if value is None:
            from ..errors import ConfigError

            raise ConfigError(f"trainer.eval_split={name!r}: this dataset has no '{name}' split")
        return value

    def task(self) -> TaskInfo:
        targets = self.train.targets
        if self.kind == MULTICLASS:
            counts = np.bincount(targets.astype(np.int64), minlength=len(self.names))
        else:
            counts = targets.astype(np.int64).sum(axis=0)
        return TaskInfo(
            kind=self.kind,
            names=list(self.names),
            train_counts=counts,
            num_train=len(targets),
            image_shape=self.train.image_shape,
        )


class ImageDataset:
    """Base class of a dataset: parse the on-disk format in ``load`` and return a DataBundle.

    ``cfg`` is the ``dataset`` config node. Raise ``DatasetError`` with what was expected, where,
    and how to get it when files are missing or malformed.
    """

    kind: str = MULTICLASS

    def __init__(self, cfg: Any):
        self.cfg = cfg

    def load(self) -> DataBundle:  # pragma: no cover - abstract
        raise NotImplementedError


DATASETS: Registry[type] = Registry("dataset", "dcl_runner.data.sets")
