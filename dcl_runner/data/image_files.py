"""Shared by the file-based datasets (CelebA, RAP, ImageNet, ImageNet-LT, Tiny-ImageNet, WebVision): list files,
cap them, and either decode them once into a cache or (``dataset.decode: standard``, data/encoded.py) keep them
encoded and decode each batch in DataLoader workers with the standard ImageNet transforms.

A file-based set hands ``decoded_split`` its (path, label) list; the images are decoded once, at
``dataset.cache_size`` (null: ``image_size``) with ``dataset.resize`` (center_crop | stretch), into a uint8
cache under ``dataset.cache_dir`` (see ``data/cache.py``) and read back as a memmap, so training goes through
the DataLoader path (``data/loader.py``) unless the split fits on the device. The smoke caps
(``max_train_samples`` / ``max_eval_samples``) are applied to the file list *before* decoding, so a smoke
run never decodes the full set (build_data's own cap then has nothing left to do).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional, Sequence

import numpy as np

from ..errors import DatasetError
from .base import Split
from .cache import check_files_exist, decode_to_cache
from .encoded import decode_mode, encoded_split_images
from .longtail import stratified_cap
from .packed import open_pack

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp")


def dataset_root(cfg: Any) -> Path:
    return Path(os.path.expanduser(str(cfg.root)))


def cap_files(paths: List[str], labels: np.ndarray, cap: Optional[int]) -> tuple:
    """Keep a stratified ``cap`` of the files (every class keeps at least one), seed 0."""
    if not cap or cap >= len(paths):
        return paths, labels
    keep = stratified_cap(labels, int(cap), 0)
    return [paths[i] for i in keep], labels[keep]


def decoded_split(cfg: Any, name: str, paths: List[str], labels: np.ndarray, listed_in: str,
                  cap_key: Optional[str] = None) -> Split:
    """Decode (or reopen the cache ``name`` of) the listed images; a missing file is a DatasetError naming
    ``listed_in``. ``cap_key`` (max_train_samples / max_eval_samples) caps the list before decoding; leave it
    None where build_data must see the whole split first (a long-tail profile applied on the fly)."""
    if cap_key:
        paths, labels = cap_files(paths, labels, cfg.get(cap_key))
    if decode_mode(cfg) == "standard":
        if cfg.get("packed_dir"):  # the images are records of one packed file (data/packed.py)
            return Split(images=encoded_split_images(cfg, open_pack(cfg, paths)), targets=labels)
        check_files_exist(paths, listed_in)
        return Split(images=encoded_split_images(cfg, list(paths)), targets=labels)
    check_files_exist(paths, listed_in)
    size = int(cfg.get("cache_size") or cfg.image_size)
    cache_dir = cfg.get("cache_dir") or (dataset_root(cfg) / "cache")
    images = decode_to_cache(paths, (size, size), cache_dir, name, str(cfg.get("resize", "center_crop")), int(cfg.get("decode_workers", 0)))
    return Split(images=images, targets=labels)


def list_class_folder(folder: Path, classes: Sequence[str], what: str) -> tuple:
    """(paths, labels) of the images in folder/<class>/ for each class, sorted by name."""
    paths: List[str] = []
    labels: List[int] = []
    for label, cls in enumerate(classes):
        sub = folder / cls
        if not sub.is_dir():
            continue
        files = sorted(f for f in os.listdir(sub) if f.lower().endswith(IMAGE_SUFFIXES))
        paths.extend(str(sub / f) for f in files)
        labels.extend([label] * len(files))
    if not paths:
        raise DatasetError(f"{what}: no images (.JPEG/.jpg/.png) found in the class folders under {folder}")
    return paths, np.asarray(labels, dtype=np.int64)


def read_file_list(path: Path, base: Path, num_classes: Optional[int], name: str) -> tuple:
    """A "relative/path label" list (one image per line) -> (absolute paths, labels)."""
    if not path.is_file():
        raise DatasetError(f"{name}: expected the file list {path}, but it is not there. Set dataset.root to the folder holding info/.")
    paths: List[str] = []
    labels: List[int] = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise DatasetError(f"{name}: {path} line {lineno}: expected 'relative/path.jpg label', got {line.strip()!r}")
            label = int(parts[1])
            if label < 0 or (num_classes is not None and label >= num_classes):
                raise DatasetError(f"{name}: {path} line {lineno}: label {label} is outside 0..{(num_classes or 1) - 1}")
            paths.append(str(base / parts[0]))
            labels.append(label)
    if not paths:
        raise DatasetError(f"{name}: the file list {path} is empty")
    return paths, np.asarray(labels, dtype=np.int64)
