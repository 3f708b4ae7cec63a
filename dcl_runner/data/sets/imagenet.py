"""``imagenet``: ILSVRC-2012 in the standard class-folder layout.

    root/train/<wnid>/*.JPEG    (1,000 folders, e.g. train/n01440764/n01440764_10026.JPEG)
    root/val/<wnid>/*.JPEG      (the validation images sorted into the same class folders)

Classes are the sorted ``train/`` sub-folders; the validation split is the test split. An optional
``root/LOC_synset_mapping.txt`` ("n01440764 tench, Tinca tinca" per line, the Kaggle layout) gives
readable class names. Images are decoded once into a cache (``data/image_files.py``).
"""
from __future__ import annotations

import os

from ...errors import DatasetError
from ..base import DATASETS, MULTICLASS, DataBundle
from ..image_files import ImageFiles, list_class_folder


@DATASETS.register("imagenet")
class ImageNet(ImageFiles):
    """conf/dataset/imagenet.yaml documents the keys (ImageFiles')."""

    kind = MULTICLASS
    num_classes = 1000

    def load(self) -> DataBundle:
        root = self.root
        train_dir, val_dir = root / "train", root / "val"
        for folder in (train_dir, val_dir):
            if not folder.is_dir():
                raise DatasetError(
                    f"imagenet: expected the folder {folder} (class folders <wnid>/*.JPEG), but it is not there. "
                    "Set dataset.root to the folder holding train/ and val/ (val images sorted into class folders)."
                )
        classes = sorted(d for d in os.listdir(train_dir) if (train_dir / d).is_dir())
        if not classes:
            raise DatasetError(f"imagenet: {train_dir} has no class folders")
        stray = sorted(set(d for d in os.listdir(val_dir) if (val_dir / d).is_dir()) - set(classes))
        if stray:
            raise DatasetError(f"imagenet: {val_dir} has class folders not in train/, e.g. {stray[0]}; the two splits must share classes")
        train_paths, train_labels = list_class_folder(train_dir, classes, "imagenet train")
        val_paths, val_labels = list_class_folder(val_dir, classes, "imagenet val")
        return DataBundle(
            kind=MULTICLASS,
            names=self.class_names(root, classes),
            train=self.decoded_split("imagenet-train", train_paths, train_labels, str(train_dir), "train"),
            test=self.decoded_split("imagenet-val", val_paths, val_labels, str(val_dir), "eval"),
        )

    @staticmethod
    def class_names(root, classes):
        mapping = root / "LOC_synset_mapping.txt"
        if not mapping.is_file():
            return list(classes)
        names = {}
        for line in mapping.read_text().splitlines():
            wnid, _, label = line.partition(" ")
            names[wnid] = label.split(",")[0].strip() or wnid
        return [names.get(c, c) for c in classes]
