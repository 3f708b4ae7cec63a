"""``rap``: the Richly Annotated Pedestrian dataset v1 (RAP, Li et al. 2016) from its official files.

    <dataset.root>/RAP_annotation/RAP_annotation.mat   (also accepted: <root>/RAP_annotation.mat)
    <dataset.root>/RAP_dataset/<image name>            the 41,585 pedestrian crops

``RAP_annotation.mat`` holds one MATLAB struct ``RAP_annotation`` with (read by name):
    partion          5 x 1 cell; each a struct with train_index and test_index (1-based rows)
    label            41585 x 92 annotations (1 yes, 0 no, 2 uncertain)
    attribute_eng    92 x 1 cell of attribute names, in label's column order: 51 attributes
                     (Female ... action-CarrybyHand), 4 viewpoints (faceFront, faceBack, faceLeft,
                     faceRight), 8 occlusions (occlusionLeft ... occlusion-Other), 29 colours
                     (up-Black ... shoes-Mixture)
    imagesname       41585 x 1 cell of file names in RAP_dataset/
    selected_attribute (optional, 1-based) the evaluated attributes; RAP v1 files do not carry it
                     (RAP v2's do), and the evaluated attributes are then the first 51 columns, as in
                     the RAP protocol and the DeepMAR / PAR code bases (dangweili/pedestrian-attribute-
                     recognition-pytorch, script/dataset/transform_rap.py: ``range(51)``)
``dataset.attributes`` picks the label columns (see :func:`select_attributes`): ``51``, the RAP
protocol's evaluated attributes (DCL Table 5); ``all``, every attribute column less the viewpoint and
occlusion annotations (80 in RAP v1; DCL Table 6 speaks of the dataset's "70 attributes"); or a list
of attribute names. ``dataset.partition`` (0-4) picks one of the five official random partitions.
Uncertain labels (2) become ``dataset.uncertain_label`` (negative by default: the usual
reading, "the attribute is not visibly present"; ``positive`` is the alternative).
The three imbalance-ratio groups of DCL Table 6 (1:x with x = majority / minority count in the
training labels: 1~25, 25~50, >50) go into ``meta["attribute_groups"]``, so metrics.json reports
``group_mA`` per group. Images are decoded once into a uint8 cache at ``image_size``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from ...errors import DatasetError, check_value, unknown_value
from ..base import ATTRIBUTES, DATASETS, DataBundle, Split
from ..image_files import ImageFiles

REQUIRED_FIELDS = ("partion", "label", "attribute_eng", "imagesname")
SOURCE = "http://www.rapdataset.com (RAP v1; the annotation and images come by request to the authors)"
PROTOCOL_ATTRIBUTES = 51  # the RAP protocol's evaluated attributes: the first 51 columns of RAP v1
# annotations of the picture, not of the pedestrian: the RAP paper counts them apart from its attributes
# ("72 attributes as well as viewpoints, occlusions, body parts"); ``all`` leaves them out
CONTEXT_PREFIXES = ("face", "occlusion")
ATTRIBUTE_SETS = {PROTOCOL_ATTRIBUTES: "the RAP protocol's evaluated attributes, DCL Table 5",
                  "all": "every attribute column less viewpoint and occlusion, DCL Table 6",
                  "[name, ...]": "a list of attribute names"}
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


def select_attributes(names: List[str], setting: Any, selected: np.ndarray | None, path: Path) -> np.ndarray:
    """The label columns (0-based) that ``dataset.attributes`` = ``setting`` names.

    ``51``: the file's ``selected_attribute`` where it has one, else its first 51 columns (the RAP
    protocol, DCL Table 5). ``all``: every column whose name is not a viewpoint (``face*``) or
    occlusion (``occlusion*``) annotation (DCL Table 6). A list: those names, in that order.
    """
    if isinstance(setting, (list, tuple)) or (hasattr(setting, "__iter__") and not isinstance(setting, str)):
        wanted = [str(n) for n in setting]
        missing = [n for n in wanted if n not in names]
        if missing or not wanted:
            raise DatasetError(f"rap: dataset.attributes names {missing or 'no attribute'} that {path} does not have "
                               f"(it has {len(names)}: {', '.join(names[:4])}, ...)")
        return np.array([names.index(n) for n in wanted], dtype=np.int64)
    if str(setting) == str(PROTOCOL_ATTRIBUTES):
        if selected is not None:
            return selected
        if len(names) < PROTOCOL_ATTRIBUTES:
            raise DatasetError(f"rap: {path} has {len(names)} attributes; the evaluated ones need {PROTOCOL_ATTRIBUTES}")
        return np.arange(PROTOCOL_ATTRIBUTES)
    if str(setting) == "all":
        return np.array([i for i, n in enumerate(names) if not n.startswith(CONTEXT_PREFIXES)], dtype=np.int64)
    raise unknown_value("dataset.attributes", setting, ATTRIBUTE_SETS, error=DatasetError)


def read_annotation(path: Path, partition: int, attributes: Any, uncertain: str) -> Dict[str, Any]:
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
    selected = None
    if "selected_attribute" in fields and np.asarray(ann["selected_attribute"]).size:
        selected = np.asarray(ann["selected_attribute"]).reshape(-1).astype(np.int64) - 1
        if selected.min() < 0 or selected.max() >= len(names):
            raise DatasetError(f"rap: {path} selected_attribute holds columns outside 1..{len(names)}")
    columns = select_attributes(names, attributes, selected, path)
    partitions = np.asarray(ann["partion"], dtype=object).reshape(-1)
    if not 0 <= partition < len(partitions):
        raise DatasetError(f"rap: dataset.partition={partition}, but {path} has {len(partitions)} partitions (0-{len(partitions) - 1})")
    labels = labels[:, columns]
    labels = np.where(labels == 2, 1 if uncertain == "positive" else 0, labels).astype(np.uint8)
    return {
        "images": images,
        "names": [names[i] for i in columns],
        "labels": labels,
        "train": _indices(partitions[partition], "train_index", path, len(images)),
        "test": _indices(partitions[partition], "test_index", path, len(images)),
    }


UNCERTAIN_LABELS = {"negative": "label 2 -> 0", "positive": "label 2 -> 1"}


@DATASETS.register("rap")
class RAP(ImageFiles):
    """conf/dataset/rap.yaml documents the keys below; ``**files``: ImageFiles' (decoding and caps)."""

    kind = ATTRIBUTES

    def __init__(self, *, download: bool, partition: int, attributes: Any, uncertain_label: str, **files):
        super().__init__(**files)
        self.download, self.partition, self.attributes = bool(download), int(partition), attributes
        self.uncertain = str(check_value("dataset.uncertain_label", uncertain_label, UNCERTAIN_LABELS, error=DatasetError))

    def annotation_path(self) -> Path:
        for candidate in (self.root / "RAP_annotation" / "RAP_annotation.mat", self.root / "RAP_annotation.mat"):
            if candidate.is_file():
                return candidate
        raise DatasetError(f"rap: expected RAP_annotation/RAP_annotation.mat under {self.root}, but it is not there. "
                           f"Set dataset.root to the folder holding RAP_annotation/ and RAP_dataset/ (source: {SOURCE}).")

    def load(self) -> DataBundle:
        if self.download:
            raise DatasetError(f"rap: there is no public downloader; request the files from {SOURCE}")
        path = self.annotation_path()
        ann = read_annotation(path, self.partition, self.attributes, self.uncertain)
        groups = imbalance_groups(ann["labels"][ann["train"]], ann["names"])
        train = self.split(ann, ann["train"], "train", path)
        test = self.split(ann, ann["test"], "test", path)
        return DataBundle(kind=ATTRIBUTES, names=ann["names"], train=train, test=test, meta={"attribute_groups": groups})

    def split(self, ann: Dict[str, Any], rows: np.ndarray, name: str, path: Path) -> Split:
        paths = [str(self.root / "RAP_dataset" / ann["images"][i]) for i in rows]
        # capped before decoding: a smoke run decodes only what it keeps (build_data's cap then keeps all)
        return self.decoded_split(f"rap-p{self.partition}-{name}", paths, ann["labels"][rows], str(path),
                                  "train" if name == "train" else "eval")
