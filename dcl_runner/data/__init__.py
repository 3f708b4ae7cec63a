"""Data: dataset classes (``data/sets``), shared transforms, device-resident batching.

``build_data(cfg.dataset, seed)`` loads the named dataset and applies, in this order: the
long-tail profile (``imbalance_ratio``), label noise (``noise``), the clean-only oracle subset
(``subset: clean``), the smoke-budget caps (``max_train_samples`` / ``max_eval_samples``) and a
one-time resize of in-memory images to ``image_size``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, DatasetError
from .base import ATTRIBUTES, DATASETS, MULTICLASS, DataBundle, ImageDataset, Split, TaskInfo
from .longtail import longtail_indices, stratified_cap
from .noise import permute_noise, uniform_noise

__all__ = ["build_data", "DATASETS", "DataBundle", "ImageDataset", "Split", "TaskInfo", "MULTICLASS", "ATTRIBUTES"]


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
        if bundle.kind == MULTICLASS:
            if targets.ndim != 1 or targets.min() < 0 or targets.max() >= len(bundle.names):
                raise DatasetError(f"dataset {name}: {split_name} labels must be class ids in [0, {len(bundle.names)})")
        else:
            if targets.ndim != 2 or targets.shape[1] != len(bundle.names):
                raise DatasetError(
                    f"dataset {name}: {split_name} targets have shape {targets.shape}, expected [N, {len(bundle.names)}] attributes"
                )
            if not np.isin(targets, (0, 1)).all():
                raise DatasetError(f"dataset {name}: {split_name} attribute targets must be 0 or 1")


def build_data(cfg: Any, seed: int = 0) -> DataBundle:
    try:
        cls = DATASETS.get(cfg.name)
    except KeyError as exc:
        raise ConfigError(f"dataset.name: {exc.args[0]}") from None
    bundle: DataBundle = cls(cfg).load()
    _check_bundle(bundle, cfg.name)

    ratio = cfg.get("imbalance_ratio")
    if ratio:
        if bundle.kind != MULTICLASS:
            raise ConfigError(f"dataset.imbalance_ratio applies to multi-class datasets, not {cfg.name}")
        keep = longtail_indices(bundle.train.targets, len(bundle.names), float(ratio), int(cfg.get("lt_seed", 0)))
        bundle.train = bundle.train.subset(keep)
        bundle.meta["longtail_indices"] = keep

    noise = cfg.get("noise") or {}
    rate = float(noise.get("rate", 0.0) or 0.0)
    if rate > 0:
        if bundle.kind != MULTICLASS:
            raise ConfigError("dataset.noise applies to multi-class datasets")
        noise_seed = int(noise.get("seed", 0))
        mode = noise.get("mode", "uniform")
        if mode == "uniform":
            targets, noisy = uniform_noise(bundle.train.targets, len(bundle.names), rate, noise_seed)
        elif mode == "permute":
            targets, noisy = permute_noise(bundle.train.targets, rate, noise_seed)
        else:
            raise ConfigError(f"dataset.noise.mode={mode!r}: choose uniform or permute")
        bundle.meta["clean_targets"] = np.asarray(bundle.train.targets)
        bundle.train = Split(images=bundle.train.images, targets=targets)
        bundle.meta["noisy_mask"] = noisy

    subset = cfg.get("subset", "all")
    if subset == "clean":
        if "noisy_mask" not in bundle.meta:
            raise ConfigError("dataset.subset=clean needs label noise (dataset.noise.rate > 0)")
        clean = np.flatnonzero(~bundle.meta["noisy_mask"])
        bundle.train = bundle.train.subset(clean)
        bundle.meta["noisy_mask"] = bundle.meta["noisy_mask"][clean]
        bundle.meta["clean_targets"] = bundle.meta["clean_targets"][clean]
    elif subset != "all":
        raise ConfigError(f"dataset.subset={subset!r}: choose all or clean")

    cap = cfg.get("max_train_samples")
    if cap and cap < len(bundle.train):
        keep = stratified_cap(bundle.train.targets, int(cap), seed)
        bundle.train = bundle.train.subset(keep)
        for key in ("noisy_mask", "clean_targets"):
            if key in bundle.meta:
                bundle.meta[key] = bundle.meta[key][keep]
    eval_cap = cfg.get("max_eval_samples")
    for split_name in ("test", "val"):
        split = getattr(bundle, split_name)
        if split is not None and eval_cap and eval_cap < len(split):
            setattr(bundle, split_name, split.subset(stratified_cap(split.targets, int(eval_cap), seed)))

    size = int(cfg.image_size)
    for split_name in ("train", "test", "val"):
        split = getattr(bundle, split_name)
        if split is not None:
            setattr(bundle, split_name, _resize_split(split, size))
    return bundle
