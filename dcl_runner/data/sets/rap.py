"""``rap``: the Richly Annotated Pedestrian dataset v1 (RAP, Li et al. 2016) from its official files.

    <dataset.root>/RAP_annotation/RAP_annotation.mat   (also accepted: <root>/RAP_annotation.mat)
    <dataset.root>/RAP_dataset/<image name>            the 41,585 pedestrian crops

``RAP_annotation.mat`` holds one MATLAB struct ``RAP_annotation`` with (read by name):
    partion          5 x 1 cell; each a struct with train_index and test_index (1-based rows)
    label            41585 x 92 annotations (1 yes, 0 no, 2 uncertain)
    attribute_eng    92 x 1 cell of attribute names
    imagesname       41585 x 1 cell of file names in RAP_dataset/
    selected_attribute (optional, 1-based) the evaluated attributes; RAP v1 files do not carry it,
                     and the evaluated attributes are then the first ``num_attributes`` (51), as
                     in the RAP protocol and the DeepMAR / PAR code bases
``dataset.partition`` (0-4) picks one of the five official random partitions (default the first).
Uncertain labels (2) become ``dataset.uncertain_label`` (negative by default: the usual
reading, "the attribute is not visibly present"; ``positive`` is the alternative).
The three imbalance-ratio groups of DCL Table 6 (1:x with x = majority / minority count in the
training labels: 1~25, 25~50, >50) go into ``meta["attribute_groups"]``, so metrics.json reports
``group_mA`` per group. Images are decoded once into a uint8 cache at ``image_size``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from ...errors import DatasetError
from ..base import ATTRIBUTES, DATASETS, DataBundle, ImageDataset, Split
from ..image_files import decoded_split

REQUIRED_FIELDS = ("partion", "label", "attribute_eng", "imagesname")
SOURCE = "http://www.rapdataset.com (RAP v1; the annotation and images come by request to the authors)"
# DCL Table 6: imbalance ratio 1:x groups, x = n_majority / n_minority, upper bounds inclusive
GROUPS = (("1~25", 1.0, 25.0), ("25~50", 25.0, 50.0), (">50", 50.0, float("inf")))


def imbalance_groups(labels: np.ndarray, names: List[str]) -> Dict[str, List[str]]:
    """DCL Table 6 groups from training labels [N, A] in {0, 1}: name -> attributes in it."""
    positives = labels.sum(0).astype(np.float64)
    negatives = len(labels) - positives
    ratio = np.maximum(positives, negatives) / np.maximum(np.minimum(positives, negatives), 1)
    groups: Dict[str, List[str]] = {}
    for group, low, high in GROUPS:
        members = (ratio > low) & (ratio <= high) if low > 1 else ratio <= high
        groups[group] = [n for n, m in zip(names, members) if m]
    return groups


def _strings(cell: np.ndarray, field: str, path: Path) -> List[str]:
    """A MATLAB cell of strings (as scipy reads it) -> list of str."""
    out = []
    for item in np.asarray(cell, dtype=object).reshape(-1):
        value = np.asarray(item).reshape(-1)
        if value.size != 1 or not isinstance(value[0], str):
            raise DatasetError(f"rap: {path} field {field} must be a cell of strings")
        out.append(value[0].strip())
    return out


def _indices(partition: Any, key: str, path: Path, count: int) -> np.ndarray:
    try:
        rows = np.asarray(partition[key][0, 0]).reshape(-1).astype(np.int64) - 1
    except (ValueError, IndexError, KeyError, TypeError):
        raise DatasetError(f"rap: {path} partion entries must be structs with train_index and test_index") from None
    if rows.size == 0 or rows.min() < 0 or rows.max() >= count:
        raise DatasetError(f"rap: {path} partion {key} holds rows outside 1..{count}")
    return rows


def read_annotation(path: Path, partition: int, num_attributes: int, uncertain: str) -> Dict[str, Any]:
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a malformed file
        raise DatasetError(f"rap: {path} is not a readable MATLAB file ({exc})") from None
    if "RAP_annotation" not in mat:
        raise DatasetError(f"rap: {path} has no variable RAP_annotation (found {sorted(k for k in mat if not k.startswith('__'))})")
    ann = mat["RAP_annotation"]
    fields = ann.dtype.names or ()
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        raise DatasetError(f"rap: {path} RAP_annotation lacks the field(s) {', '.join(missing)} (has {', '.join(fields)})")
    ann = ann[0, 0]
    images = _strings(ann["imagesname"], "imagesname", path)
    names = _strings(ann["attribute_eng"], "attribute_eng", path)
    labels = np.asarray(ann["label"])
    if labels.ndim != 2 or labels.shape != (len(images), len(names)):
        raise DatasetError(f"rap: {path} label has shape {labels.shape}, expected ({len(images)} images, {len(names)} attributes)")
    if not np.isin(labels, (0, 1, 2)).all():
        raise DatasetError(f"rap: {path} label values must be 0, 1 or 2 (uncertain)")
    if "selected_attribute" in fields and np.asarray(ann["selected_attribute"]).size:
        selected = np.asarray(ann["selected_attribute"]).reshape(-1).astype(np.int64) - 1
    else:
        selected = np.arange(num_attributes)
    if selected.max() >= len(names):
        raise DatasetError(f"rap: {path} has {len(names)} attributes; the evaluated ones need {selected.max() + 1}")
    partitions = np.asarray(ann["partion"], dtype=object).reshape(-1)
    if not 0 <= partition < len(partitions):
        raise DatasetError(f"rap: dataset.partition={partition}, but {path} has {len(partitions)} partitions (0-{len(partitions) - 1})")
    labels = labels[:, selected]
    labels = np.where(labels == 2, 1 if uncertain == "positive" else 0, labels).astype(np.uint8)
    return {
        "images": images,
        "names": [names[i] for i in selected],
        "labels": labels,
        "train": _indices(partitions[partition], "train_index", path, len(images)),
        "test": _indices(partitions[partition], "test_index", path, len(images)),
    }


@DATASETS.register("rap")
class RAP(ImageDataset):
    kind = ATTRIBUTES

    def root(self) -> Path:
        return Path(os.path.expanduser(str(self.cfg.root)))

    def annotation_path(self) -> Path:
        for candidate in (self.root() / "RAP_annotation" / "RAP_annotation.mat", self.root() / "RAP_annotation.mat"):
            if candidate.is_file():
                return candidate
        raise DatasetError(f"rap: expected RAP_annotation/RAP_annotation.mat under {self.root()}, but it is not there. "
                           f"Set dataset.root to the folder holding RAP_annotation/ and RAP_dataset/ (source: {SOURCE}).")

    def load(self) -> DataBundle:
        if self.cfg.get("download", False):
            raise DatasetError(f"rap: there is no public downloader; request the files from {SOURCE}")
        uncertain = str(self.cfg.get("uncertain_label", "negative"))
        if uncertain not in ("negative", "positive"):
            raise DatasetError(f"rap: dataset.uncertain_label={uncertain!r}: choose negative or positive")
        path = self.annotation_path()
        ann = read_annotation(path, int(self.cfg.get("partition", 0)), int(self.cfg.get("num_attributes", 51)), uncertain)
        groups = imbalance_groups(ann["labels"][ann["train"]], ann["names"])
        train = self.split(ann, ann["train"], "train", path)
        test = self.split(ann, ann["test"], "test", path)
        return DataBundle(kind=ATTRIBUTES, names=ann["names"], train=train, test=test, meta={"attribute_groups": groups})

    def split(self, ann: Dict[str, Any], rows: np.ndarray, name: str, path: Path) -> Split:
        paths = [str(self.root() / "RAP_dataset" / ann["images"][i]) for i in rows]
        # capped before decoding: a smoke run decodes only what it keeps (build_data's cap then keeps all)
        return decoded_split(self.cfg, f"rap-p{int(self.cfg.get('partition', 0))}-{name}", paths, ann["labels"][rows],
                             str(path), "max_train_samples" if name == "train" else "max_eval_samples")
