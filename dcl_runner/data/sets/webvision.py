"""``webvision``: WebVision 1.0 (Li et al. 2017), 2.4M web images of the 1,000 ILSVRC-2012 classes.

The release's layout under ``dataset.root``:

    info/train_filelist_google.txt    "google/q0001/00000001.jpg 0"  (path relative to root, label 0..999)
    info/train_filelist_flickr.txt    "flickr/q0001/00000001.jpg 0"
    info/val_filelist.txt             "val000001.jpg 0"              (relative to root/<val_dir>/)
    info/synsets.txt                  optional: "n01440764 tench, Tinca tinca", one line per class
    google/ flickr/ val_images_256/   the images (the resized release; the full one has val_images/)

``dataset.sources`` picks the training lists (google, flickr; the DP paper trains on both), and
``dataset.num_classes=50`` keeps the first 50 classes of every list ("mini WebVision", Jiang et al. 2018).
The validation list is the test split. Labels are the ILSVRC-2012 class ids.
"""
from __future__ import annotations

import logging
from typing import List, Optional, Sequence

import numpy as np

from ...errors import ConfigError, DatasetError
from ..base import DATASETS, MULTICLASS, DataBundle
from ..image_files import ImageFiles, read_file_list

log = logging.getLogger(__name__)
SOURCES = ("google", "flickr")


@DATASETS.register("webvision")
class WebVision(ImageFiles):
    """conf/dataset/webvision.yaml documents the keys below; ``**files``: ImageFiles' (decoding and caps)."""

    kind = MULTICLASS
    num_classes = 1000  # the full release; dataset.num_classes keeps the first ones

    def __init__(self, *, sources: Sequence[str], num_classes: Optional[int], val_dir: str, **files):
        super().__init__(**files)
        self.sources = list(sources)
        bad = [s for s in self.sources if s not in SOURCES]
        if bad or not self.sources:
            raise ConfigError(f"dataset.sources={self.sources}: expected a non-empty subset of {list(SOURCES)}")
        self.classes = int(num_classes or WebVision.num_classes)
        if not 1 <= self.classes <= WebVision.num_classes:
            raise ConfigError(f"dataset.num_classes={self.classes}: expected 1..{WebVision.num_classes} (50 = mini WebVision)")
        self.val_dir = str(val_dir)

    def load(self) -> DataBundle:
        root = self.root
        info = root / "info"
        if not info.is_dir():
            raise DatasetError(f"webvision: expected the folder {info} with the file lists, but it is not there. Set dataset.root to the WebVision 1.0 folder.")
        sources, classes = self.sources, self.classes
        paths: List[str] = []
        labels = []
        for source in sources:
            p, y = read_file_list(info / f"train_filelist_{source}.txt", root, WebVision.num_classes, "webvision")
            paths += p
            labels.append(y)
        train_paths, train_labels = self._first_classes(paths, np.concatenate(labels), classes)
        val_dir = root / self.val_dir
        val_paths, val_labels = read_file_list(info / "val_filelist.txt", val_dir, WebVision.num_classes, "webvision")
        val_paths, val_labels = self._first_classes(val_paths, val_labels, classes)
        missing = sorted(set(range(classes)) - set(np.unique(train_labels).tolist()))
        if missing:
            log.warning("webvision: the training lists %s have no image of %d of the %d classes (e.g. %d)", sources, len(missing), classes, missing[0])
        return DataBundle(
            kind=MULTICLASS,
            names=self.class_names(info, classes),
            train=self.decoded_split(f"webvision{classes}-train", train_paths, train_labels, f"{info}/train_filelist_*.txt", "train"),
            test=self.decoded_split(f"webvision{classes}-val", val_paths, val_labels, str(info / "val_filelist.txt"), "eval"),
        )

    @staticmethod
    def _first_classes(paths: List[str], labels: np.ndarray, classes: int):
        keep = np.flatnonzero(labels < classes)
        return [paths[i] for i in keep], labels[keep]

    @staticmethod
    def class_names(info, classes: int) -> List[str]:
        synsets = info / "synsets.txt"
        if not synsets.is_file():
            return [str(c) for c in range(classes)]
        lines = [ln for ln in synsets.read_text().splitlines() if ln.strip()]
        if len(lines) < classes:
            raise DatasetError(f"webvision: {synsets} lists {len(lines)} classes, expected at least {classes}")
        return [ln.split(" ", 1)[-1].split(",")[0].strip() for ln in lines[:classes]]
