"""What every dataset hands the trainer: uint8 image arrays, targets, and the task they pose.

A dataset class (one per dataset, registered by name in ``DATASETS``) parses its on-disk format in
one place and returns a :class:`DataBundle`. Everything after that (long-tail profile, label noise,
smoke-budget caps, device placement, batched augmentation) is shared and lives in ``data/``.

A dataset's section is split in two (``dcl_runner/sections.py``): the keys every dataset has
(conf/_base/dataset.yaml) are :class:`DatasetKeys`' fields, read by ``build_data`` and the trainer; the keys of
its own YAML are its class's keyword-only ``__init__`` arguments, which may also take any of the former
(``root``, ``image_size`` ...). Facts about a dataset (its task kind, its class count, whether it is generated
in code) are class attributes, which the table planner reads without loading anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..registry import Registry

MULTICLASS = "multiclass"
ATTRIBUTES = "attributes"
DETECTION = "detection"
TASK_KINDS = (MULTICLASS, ATTRIBUTES, DETECTION)


@dataclass
class Split:
    """One split of a dataset.

    images:  uint8 array [N, C, H, W] (numpy, possibly a memmap of a decode cache, or a torch tensor).
    targets: int64 [N] class ids (multiclass), uint8 [N, A] in {0, 1} (attributes), or float32 [N, M, K] box
             rows padded to M per image (detection; the layout is ``data.boxes``'s).
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

    kind:         "multiclass" (softmax over C classes), "attributes" (A independent binary attributes) or
                  "detection" (boxes of C object classes per image).
    names:        class names (multiclass, detection) or attribute names (attributes), in output order.
    train_counts: multiclass: int [C] images per class; attributes: int [A] positives per attribute;
                  detection: int [C] training boxes per class.
    num_train:    number of training samples (images; attributes: negatives = num_train - train_counts).
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

    @property
    def is_detection(self) -> bool:
        return self.kind == DETECTION

    @property
    def num_instances(self) -> int:
        """What carries an instance data parameter: a training image, or a training box (detection, DP sec. 3.3)."""
        return int(np.sum(self.train_counts)) if self.is_detection else int(self.num_train)

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
        elif self.kind == DETECTION:
            from .boxes import boxes_per_class

            counts = boxes_per_class(targets, len(self.names))
        else:
            counts = targets.astype(np.int64).sum(axis=0)
        return TaskInfo(
            kind=self.kind,
            names=list(self.names),
            train_counts=counts,
            num_train=len(targets),
            image_shape=self.train.image_shape,
        )


@dataclass(frozen=True, kw_only=True)
class Noise:
    """``dataset.noise``: label noise on the training set of a multi-class dataset (DP sec. 3.4)."""

    rate: float
    mode: str                # uniform (the paper's text) | permute (the authors' code)
    seed: Optional[int]      # null: the run's seed draws the noise


@dataclass(frozen=True, kw_only=True)
class CleanHoldout:
    """``dataset.clean_holdout``: training images held out with their true labels for methods that learn from a
    small clean set (learning to re-weight, MentorNet DD; ``data/holdout.py``)."""

    size: int                # 0: none
    seed: int                # which images (a fixed draw, independent of the run seed)


@dataclass(frozen=True, kw_only=True)
class DatasetKeys:
    """The keys every dataset has (conf/_base/dataset.yaml, documented there): ``build_data`` reads the long-tail
    profile, the label noise, the subset, the caps and the training resolution; the trainer the device residency,
    the normalisation and ``augment`` (``data.augment.Augment``'s keyword arguments, checked there)."""

    name: str
    root: str
    download: bool
    image_size: int
    imbalance_ratio: Optional[float]
    lt_seed: int
    noise: Noise
    subset: str
    clean_holdout: CleanHoldout
    max_train_samples: Optional[int]
    max_eval_samples: Optional[int]
    resident: Any
    resident_max_gb: float
    mean: List[float]
    std: List[float]
    augment: Dict[str, Any]


class ImageDataset:
    """Base class of a dataset: its own YAML keys are ``__init__``'s keyword-only arguments (no defaults where the
    YAML gives them); ``load`` parses the on-disk format and returns a DataBundle. Raise ``DatasetError`` with
    what was expected, where, and how to get it when files are missing or malformed.

    The facts the table planner reads without loading anything are class attributes: ``kind`` (the task type),
    ``num_classes`` (classes of the full dataset where the dataset fixes them; None where its config says) and
    ``embedded`` (generated or bundled in code: always available, nothing to find on disk).
    """

    kind: ClassVar[str] = MULTICLASS
    num_classes: ClassVar[Optional[int]] = None
    embedded: ClassVar[bool] = False

    def load(self) -> DataBundle:  # pragma: no cover - abstract
        raise NotImplementedError


DATASETS: Registry[type] = Registry("dataset", "dcl_runner.data.sets")
