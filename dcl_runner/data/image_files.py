"""Shared by the file-based datasets (CelebA, RAP, ImageNet, ImageNet-LT, Tiny-ImageNet, WebVision): list files,
cap them, and either decode them once into a cache or (``dataset.decode: standard``, data/encoded.py) keep them
encoded and decode each batch in DataLoader workers with the standard ImageNet transforms.

A file-based set (an :class:`ImageFiles`) hands ``decoded_split`` its (path, label) list; the images are decoded once, at
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

from ..errors import DatasetError, check_value
from .base import ImageDataset, Split
from .cache import RESIZE_MODES, check_files_exist, decode_to_cache
from .encoded import DECODE_MODES, encoded_split_images
from .longtail import stratified_cap
from .packed import open_pack

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp")


def cap_files(paths: List[str], labels: np.ndarray, cap: Optional[int]) -> tuple:
    """Keep a stratified ``cap`` of the files (every class keeps at least one), seed 0."""
    if not cap or cap >= len(paths):
        return paths, labels
    keep = stratified_cap(labels, int(cap), 0)
    return [paths[i] for i in keep], labels[keep]


class ImageFiles(ImageDataset):
    """Base of the file-based datasets: the keys they all take (documented in their YAMLs). ``cache_size`` is
    optional across them: only imagenet.yaml and webvision.yaml set it (decode at 256, train at 224); null, or
    absent, decodes at ``image_size``. ``cache_dir`` null: ``<root>/cache``. ``decode``, ``eval_crop_fraction`` and
    ``packed_dir`` are optional across them too: only the ImageNet family's YAMLs (imagenet, imagenet_lt,
    webvision) set them (``decode: standard``, data/encoded.py); absent, a set is decoded once into the cache."""

    def __init__(self, *, name: str, root: str, image_size: int, resize: str, cache_dir: Optional[str],
                 decode_workers: int, max_train_samples: Optional[int], max_eval_samples: Optional[int],
                 augment: Any, cache_size: Optional[int] = None, decode: str = "cache",
                 eval_crop_fraction: float = 0.875, packed_dir: Optional[str] = None):
        self.name = str(name)
        self.root = Path(os.path.expanduser(str(root)))
        self.image_size = int(image_size)
        self.decode_size = int(cache_size or image_size)
        self.resize = str(check_value("dataset.resize", resize, RESIZE_MODES))
        self.cache_dir = cache_dir or (self.root / "cache")
        self.decode_workers = int(decode_workers)
        self.caps = {"train": max_train_samples, "eval": max_eval_samples}
        self.augment = augment
        self.decode = str(check_value("dataset.decode", decode, DECODE_MODES))
        self.eval_crop_fraction = float(eval_crop_fraction)
        self.packed_dir = packed_dir

    def decoded_split(self, name: str, paths: List[str], labels: np.ndarray, listed_in: str,
                      cap: Optional[str] = None) -> Split:
        """The listed images: kept encoded and decoded per batch (``decode: standard``; from the pack when
        ``packed_dir`` is set), or decoded once into (or reopened from) the cache ``name``. A missing file is a
        DatasetError naming ``listed_in``. ``cap`` (train / eval: dataset.max_train_samples / max_eval_samples)
        caps the list before decoding; leave it None where build_data must see the whole split first (a long-tail
        profile applied on the fly)."""
        if cap:
            paths, labels = cap_files(paths, labels, self.caps[cap])
        if self.decode == "standard":
            if self.packed_dir:  # the images are records of one packed file (data/packed.py)
                sources = open_pack(self.name, self.packed_dir, self.root, paths)
            else:
                check_files_exist(paths, listed_in)
                sources = list(paths)
            return Split(images=encoded_split_images(sources, self.image_size, self.eval_crop_fraction, self.augment),
                         targets=labels)
        check_files_exist(paths, listed_in)
        images = decode_to_cache(paths, (self.decode_size, self.decode_size), self.cache_dir, name, self.resize,
                                 self.decode_workers)
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
