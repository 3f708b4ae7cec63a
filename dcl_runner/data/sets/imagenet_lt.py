"""``imagenet_lt``: ImageNet-LT (Liu et al., CVPR 2019) from its split files over an ImageNet root.

    split_dir/ImageNet_LT_train.txt   "relative/path.JPEG label" per line (115,846 images, 1000 classes)
    split_dir/ImageNet_LT_val.txt     20 images per class (the ``val`` split)
    split_dir/ImageNet_LT_test.txt    50 images per class from ILSVRC-2012 val (the balanced ``test`` split)
    root/<relative path>              the images (root = an ImageNet folder holding train/ and val/)

Labels are integers 0..C-1; class names are the WordNet folder of the first training image of each
class. Images are decoded once, resized on the short side and centre-cropped to ``image_size``, into
a uint8 cache under ``dataset.cache_dir``. Many / medium / few-shot accuracy (> 100, 20-100, < 20
training images) comes with every multi-class evaluation.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from ...errors import DatasetError
from ..base import DATASETS, MULTICLASS, DataBundle
from ..image_files import ImageFiles

SOURCE = "https://github.com/zhmiao/OpenLongTailRecognition-OLTR (ImageNet_LT_*.txt)"


def read_split_file(path: Path) -> Tuple[List[str], np.ndarray]:
    """(relative paths, int64 labels) of a "path label" list; DatasetError naming the file and line otherwise."""
    if not path.is_file():
        raise DatasetError(f"imagenet_lt: expected the split file {path}. Set dataset.split_dir to the folder "
                           f"holding ImageNet_LT_train/val/test.txt ({SOURCE}).")
    paths, labels = [], []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or not fields[1].lstrip("-").isdigit() or int(fields[1]) < 0:
            raise DatasetError(f"imagenet_lt: {path} line {number} is {line!r}; expected 'relative/path.JPEG label' "
                               "with a non-negative integer label")
        paths.append(fields[0])
        labels.append(int(fields[1]))
    if not paths:
        raise DatasetError(f"imagenet_lt: {path} lists no images")
    return paths, np.asarray(labels, dtype=np.int64)


def class_names(paths: List[str], labels: np.ndarray, num_classes: int) -> List[str]:
    names = [str(c) for c in range(num_classes)]
    for path, label in zip(paths, labels):
        if names[label] == str(label):
            parent = Path(path).parent.name
            names[label] = parent or names[label]
    return names


@DATASETS.register("imagenet_lt")
class ImageNetLT(ImageFiles):
    """conf/dataset/imagenet_lt.yaml documents the keys below; ``**files``: ImageFiles' (decoding and caps)."""

    kind = MULTICLASS
    num_classes = 1000

    def __init__(self, *, split_dir: Optional[str], **files):
        super().__init__(**files)
        self.split_dir = Path(os.path.expanduser(str(split_dir))) if split_dir else self.root  # null: the root

    def load(self) -> DataBundle:
        root, split_dir = self.root, self.split_dir
        lists = {name: read_split_file(split_dir / f"ImageNet_LT_{name}.txt") for name in ("train", "val", "test")}
        num_classes = int(lists["train"][1].max()) + 1
        for name, (_, labels) in lists.items():
            if labels.max() >= num_classes:
                raise DatasetError(f"imagenet_lt: ImageNet_LT_{name}.txt has label {labels.max()}, but the training "
                                   f"list only has classes 0..{num_classes - 1}")
        splits = {name: self.decoded_split(f"imagenet_lt-{name}", [str(root / p) for p in rel], labels,
                                      str(split_dir / f"ImageNet_LT_{name}.txt"))
                  for name, (rel, labels) in lists.items()}
        names = class_names(lists["train"][0], lists["train"][1], num_classes)
        return DataBundle(kind=MULTICLASS, names=names, train=splits["train"], val=splits["val"], test=splits["test"])
