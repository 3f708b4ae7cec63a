"""Data: dataset classes (``data/sets``), shared transforms, device-resident batching.

``check_dataset(cfg.dataset)`` checks the section's keys before anything is read: the keys every dataset has
(``base.DatasetKeys``), the dataset class's own (its ``__init__``'s keyword-only arguments) and ``augment``'s
(``augment.Augment``'s). ``build_data(cfg.dataset, seed)`` loads the named dataset and applies, in this order: the
long-tail profile (``imbalance_ratio``), label noise (``noise``; its draw follows ``seed``, the run's,
unless ``noise.seed`` fixes it), the oracle subset (``subset: clean``: the samples not chosen for
corruption), the clean hold-out (``clean_holdout``, ``holdout.py``), the smoke-budget caps (``max_train_samples`` / ``max_eval_samples``), a one-time resize
of in-memory images to ``image_size`` and, for detection, the numbering of the training boxes (one instance
parameter each: ``boxes.number_boxes``).
"""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import sections
from ..errors import ConfigError, DatasetError, check_value
from .augment import Augment
from . import boxes
from .base import ATTRIBUTES, DATASETS, DETECTION, MULTICLASS, DataBundle, DatasetKeys, ImageDataset, Noise, Split, TaskInfo
from .holdout import holdout_mask, restore_true_labels
from .longtail import longtail_indices, stratified_cap
from .noise import LabelNoise, permute_noise, uniform_noise

__all__ = ["build_data", "check_dataset", "dataset_class", "DATASETS", "DataBundle", "ImageDataset", "Split",
           "TaskInfo", "MULTICLASS", "ATTRIBUTES", "DETECTION"]

NOISE_MODES = {"uniform": "DP sec. 3.4's text", "permute": "the authors' code"}
SUBSETS = {"all": "", "clean": "the samples not chosen for corruption: the noisy-label oracle"}


def _resize_split(split: Split, size: int) -> Split:
    images = split.images
    if isinstance(images, np.memmap) or images.shape[-1] == size and images.shape[-2] == size:
        return split
    out = []
    for start in range(0, len(images), 4096):
        chunk = torch.as_tensor(np.asarray(images[start : start + 4096])).float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(chunk.round().clamp(0, 255).to(torch.uint8).numpy())
    return Split(images=np.concatenate(out), targets=split.targets)


def _check_bundle(bundle: DataBundle, name: str) -> None:
    for split_name in ("train", "test", "val"):
        split = getattr(bundle, split_name)
        if split is None:
            continue
        images, targets = split.images, np.asarray(split.targets)
        if images.ndim != 4 or str(images.dtype) not in ("uint8", "torch.uint8"):
            raise DatasetError(f"dataset {name}: {split_name} images must be uint8 [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        if len(targets) == 0:
            raise DatasetError(f"dataset {name}: the {split_name} split is empty")
        if bundle.kind == DETECTION:
            if targets.ndim != 3 or targets.shape[2] != len(boxes.COLUMNS):
                raise DatasetError(f"dataset {name}: {split_name} targets have shape {targets.shape}, expected box rows "
                                   f"[N, M, {len(boxes.COLUMNS)}] (dcl_runner/data/boxes.py)")
            labels = targets[:, :, boxes.LABEL]
            if labels.max() >= len(bundle.names):
                raise DatasetError(f"dataset {name}: {split_name} box labels must be class ids in [0, {len(bundle.names)})")
        elif bundle.kind == MULTICLASS:
            if targets.ndim != 1 or targets.min() < 0 or targets.max() >= len(bundle.names):
                raise DatasetError(f"dataset {name}: {split_name} labels must be class ids in [0, {len(bundle.names)})")
        else:
            if targets.ndim != 2 or targets.shape[1] != len(bundle.names):
                raise DatasetError(
                    f"dataset {name}: {split_name} targets have shape {targets.shape}, expected [N, {len(bundle.names)}] attributes"
                )
            if not np.isin(targets, (0, 1)).all():
                raise DatasetError(f"dataset {name}: {split_name} attribute targets must be 0 or 1")


# per-training-sample arrays that label noise and the clean hold-out add to DataBundle.meta (subset / cap select their
# rows too)
NOISE_META = ("noisy_mask", "noise_chosen_mask", "clean_targets", "clean_holdout_mask")


def _label_noise(targets: np.ndarray, num_classes: int, noise: Noise, run_seed: int) -> LabelNoise:
    """The noise draw of ``dataset.noise``: seed null (default) follows the run seed, so each seed of a table
    cell sees its own corrupted set as in the authors' code (main_cifar.py seeds numpy, then
    cifar_dataset.py shuffles); an int fixes one draw for every run."""
    seed = noise.seed
    if seed is None:
        seed = run_seed
    elif isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"dataset.noise.seed={seed!r}: expected an integer, or null to follow the run's seed")
    check_value("dataset.noise.mode", noise.mode, NOISE_MODES)
    if noise.mode == "uniform":
        return uniform_noise(targets, num_classes, float(noise.rate), int(seed))
    return permute_noise(targets, float(noise.rate), int(seed))


def dataset_class(section: Any) -> type:
    """The registered class of ``dataset.name``; an unknown name is one ConfigError listing the names."""
    return DATASETS.lookup(section["name"], "dataset.name")


def check_dataset(section: Any) -> None:
    """``dataset``'s keys (the shared ones, its class's, ``augment``'s) before any data is read (see ``sections``)."""
    owner = f"dataset {section['name']}"
    sections.check(DatasetKeys, section, "dataset", owner, also=(dataset_class(section),), shared=(),
                   tolerated=sections.group_keys(DATASETS.entries()))
    sections.check(Augment, section["augment"], "dataset.augment", f"the augmentation of {owner}", shared=())


def load_dataset(cfg: Any) -> Tuple[DataBundle, DatasetKeys]:
    """The named dataset loaded from its section, and the keys every dataset has (build_data's)."""
    cls = dataset_class(cfg)
    owner = f"dataset {cfg['name']}"
    other_datasets = sections.group_keys(DATASETS.entries())  # keys an experiment set for the dataset a stand-in replaced
    keys: DatasetKeys = sections.build(DatasetKeys, cfg, "dataset", owner, also=(cls,), shared=(), tolerated=other_datasets,
                                       log_ignored=False)  # the dataset's build below logs them
    dataset: ImageDataset = sections.build(cls, cfg, "dataset", owner, also=(DatasetKeys,), shared=(), tolerated=other_datasets)
    bundle: DataBundle = dataset.load()
    _check_bundle(bundle, keys.name)
    return bundle, keys


def build_data(cfg: Any, seed: int = 0) -> DataBundle:
    """The dataset of ``cfg`` (the ``dataset`` section) with the shared steps of the module docstring applied."""
    bundle, keys = load_dataset(cfg)
    _apply_longtail(bundle, keys)
    _apply_noise(bundle, keys, seed)
    _apply_subset(bundle, keys)
    _apply_holdout(bundle, keys)
    _apply_caps(bundle, keys, seed)
    for split_name in ("train", "test", "val"):
        split = getattr(bundle, split_name)
        if split is not None:
            setattr(bundle, split_name, _resize_split(split, int(keys.image_size)))
    if bundle.kind == DETECTION:  # after the caps: the kept training boxes are numbered 0..K-1
        bundle.train = Split(images=bundle.train.images, targets=boxes.number_boxes(bundle.train.targets))
    return bundle


def _apply_longtail(bundle: DataBundle, keys: DatasetKeys) -> None:
    if not keys.imbalance_ratio:
        return
    if bundle.kind != MULTICLASS:
        raise ConfigError(f"dataset.imbalance_ratio applies to multi-class datasets, not {keys.name}")
    keep = longtail_indices(bundle.train.targets, len(bundle.names), float(keys.imbalance_ratio), int(keys.lt_seed))
    bundle.train = bundle.train.subset(keep)
    bundle.meta["longtail_indices"] = keep


def _apply_noise(bundle: DataBundle, keys: DatasetKeys, seed: int) -> None:
    if not float(keys.noise.rate or 0.0) > 0:
        return
    if bundle.kind != MULTICLASS:
        raise ConfigError("dataset.noise applies to multi-class datasets")
    draw = _label_noise(bundle.train.targets, len(bundle.names), keys.noise, seed)
    bundle.meta["clean_targets"] = np.asarray(bundle.train.targets)
    bundle.train = Split(images=bundle.train.images, targets=draw.targets)
    bundle.meta["noisy_mask"] = draw.noisy
    bundle.meta["noise_chosen_mask"] = draw.chosen


def _apply_subset(bundle: DataBundle, keys: DatasetKeys) -> None:
    check_value("dataset.subset", keys.subset, SUBSETS)
    if keys.subset != "clean":
        return
    # the oracle of DP Table 2: the samples not chosen for corruption ("60% clean data")
    if "noise_chosen_mask" not in bundle.meta:
        raise ConfigError("dataset.subset=clean needs label noise (dataset.noise.rate > 0)")
    clean = np.flatnonzero(~bundle.meta["noise_chosen_mask"])
    bundle.train = bundle.train.subset(clean)
    for key in NOISE_META:
        if key in bundle.meta:
            bundle.meta[key] = bundle.meta[key][clean]


def _apply_holdout(bundle: DataBundle, keys: DatasetKeys) -> None:
    size = keys.clean_holdout.size
    if not size:
        return
    if bundle.kind != MULTICLASS:
        raise ConfigError(f"dataset.clean_holdout applies to multi-class datasets, not {keys.name}")
    mask = holdout_mask(len(bundle.train), size, keys.clean_holdout.seed)
    bundle.train = Split(images=bundle.train.images, targets=restore_true_labels(bundle.train.targets, bundle.meta, mask))
    bundle.meta["clean_holdout_mask"] = mask


def _apply_caps(bundle: DataBundle, keys: DatasetKeys, seed: int) -> None:
    """The smoke budget's stratified caps (every class keeps a sample, and, with a clean hold-out, every class
    keeps a held-out and a training sample where it has both); noise facts follow the kept samples."""
    cap = keys.max_train_samples
    if cap and cap < len(bundle.train):
        strata = np.asarray(bundle.train.targets)
        if "clean_holdout_mask" in bundle.meta:
            strata = strata + len(bundle.names) * bundle.meta["clean_holdout_mask"]
        keep = stratified_cap(strata, int(cap), seed)
        bundle.train = bundle.train.subset(keep)
        for key in NOISE_META:
            if key in bundle.meta:
                bundle.meta[key] = bundle.meta[key][keep]
    eval_cap = keys.max_eval_samples
    for split_name in ("test", "val"):
        split = getattr(bundle, split_name)
        if split is not None and eval_cap and eval_cap < len(split):
            setattr(bundle, split_name, split.subset(stratified_cap(split.targets, int(eval_cap), seed)))
