"""``tiny_imagenet`` / ``tiny_imagenet_lt``: Tiny-ImageNet (200 classes, 64x64) in its distributed folder layout.

    root/wnids.txt                       one WordNet id per line: the 200 classes, in label order
    root/words.txt                       optional: "wnid<TAB>names" (class names; wnids otherwise)
    root/train/<wnid>/images/*.JPEG      500 training images per class
    root/val/images/*.JPEG               10,000 validation images
    root/val/val_annotations.txt         "file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1" per validation image

The official validation set (50 per class, balanced) is the test split; the unlabelled test/ folder is
not read. ``tiny_imagenet_lt`` is the same data with the long-tail profile (``dataset.imbalance_ratio``)
applied to the training set by ``build_data``. Images are decoded once into a uint8 cache under
``dataset.cache_dir`` at ``image_size``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from ...errors import DatasetError
from ..base import DATASETS, MULTICLASS, DataBundle
from ..image_files import ImageFiles

SOURCE = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def read_wnids(path: Path) -> List[str]:
    if not path.is_file():
        raise DatasetError(f"tiny_imagenet: expected the class list wnids.txt at {path}. Set dataset.root to the "
                           f"extracted tiny-imagenet-200 folder ({SOURCE}).")
    wnids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not wnids or len(set(wnids)) != len(wnids):
        raise DatasetError(f"tiny_imagenet: {path} must list distinct WordNet ids, one per line")
    return wnids


def read_words(path: Path, wnids: List[str]) -> List[str]:
    """Class names from words.txt (first name of each wnid), the wnid where absent."""
    if not path.is_file():
        return list(wnids)
    names: Dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "\t" in line:
            wnid, words = line.split("\t", 1)
            names[wnid.strip()] = words.split(",")[0].strip()
    return [names.get(w, w) for w in wnids]


def list_train(root: Path, wnids: List[str]) -> Tuple[List[str], np.ndarray]:
    paths, labels = [], []
    for label, wnid in enumerate(wnids):
        folder = root / "train" / wnid / "images"
        if not folder.is_dir():
            raise DatasetError(f"tiny_imagenet: class {wnid} of wnids.txt has no folder {folder}")
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_SUFFIXES))
        if not files:
            raise DatasetError(f"tiny_imagenet: {folder} holds no images")
        paths += [str(folder / f) for f in files]
        labels += [label] * len(files)
    return paths, np.asarray(labels, dtype=np.int64)


def list_val(root: Path, wnids: List[str]) -> Tuple[List[str], np.ndarray]:
    annotations = root / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise DatasetError(f"tiny_imagenet: expected the validation labels at {annotations}")
    label_of = {w: i for i, w in enumerate(wnids)}
    paths, labels = [], []
    for number, line in enumerate(annotations.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1].strip() not in label_of:
            raise DatasetError(
                f"tiny_imagenet: {annotations} line {number} is {line!r}; expected "
                "'file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1' with a wnid listed in wnids.txt"
            )
        paths.append(str(root / "val" / "images" / fields[0].strip()))
        labels.append(label_of[fields[1].strip()])
    if not paths:
        raise DatasetError(f"tiny_imagenet: {annotations} lists no images")
    return paths, np.asarray(labels, dtype=np.int64)


@DATASETS.register("tiny_imagenet")
class TinyImageNet(ImageFiles):
    """conf/dataset/tiny_imagenet.yaml documents the keys (ImageFiles')."""

    kind = MULTICLASS
    num_classes = 200

    def load(self) -> DataBundle:
        root = self.root
        wnids = read_wnids(root / "wnids.txt")
        # not capped before decoding: tiny_imagenet_lt's long-tail profile needs the whole train split
        splits = {name: self.decoded_split(f"tiny_imagenet-{name}", paths, labels, str(root / name))
                  for name, (paths, labels) in (("train", list_train(root, wnids)), ("test", list_val(root, wnids)))}
        return DataBundle(kind=MULTICLASS, names=read_words(root / "words.txt", wnids), **splits)


DATASETS.register("tiny_imagenet_lt")(TinyImageNet)
