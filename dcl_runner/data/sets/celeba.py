"""``celeba``: CelebA (Liu et al. 2015) in torchvision's on-disk layout, 40 binary attributes.

    <dataset.root>/celeba/
        img_align_celeba/000001.jpg ...     the aligned and cropped 178x218 images
        list_attr_celeba.txt                line 1: image count; line 2: the 40 attribute names;
                                            then "<file> <40 values in {-1, 1}>" per image
        list_eval_partition.txt             "<file> <0 train | 1 val | 2 test>" per image
        identity_CelebA.txt, list_bbox_celeba.txt, list_landmarks_align_celeba.txt
                                            (fetched by torchvision's downloader; not needed here)

The official partition has 162,770 / 19,867 / 19,962 train / val / test images. Images are
decoded once into a uint8 cache at ``image_size`` (``data/cache.py``); later runs memory-map it.
With ``max_train_samples`` / ``max_eval_samples`` (budget=smoke) the stratified caps are applied
before decoding, so a smoke run decodes only the images it keeps.
``dataset.download=true`` calls torchvision's downloader (Google Drive) first.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...errors import DatasetError
from ..base import ATTRIBUTES, DATASETS, DataBundle, Split
from ..image_files import ImageFiles

OFFICIAL_SPLIT_SIZES = {"train": 162_770, "val": 19_867, "test": 19_962}
PARTITION_IDS = {"train": 0, "val": 1, "test": 2}
SOURCE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def read_attributes(path: Path) -> Tuple[List[str], List[str], np.ndarray]:
    """list_attr_celeba.txt -> (attribute names, file names, uint8 [N, A] in {0, 1})."""
    if not path.is_file():
        raise DatasetError(f"celeba: expected the attribute list at {path}, but it is not there. "
                           f"Set dataset.root (the folder holding celeba/), or dataset.download=true (source: {SOURCE}).")
    lines = path.read_text().splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise DatasetError(f"celeba: {path} must start with the image count, then the attribute names")
    count, names = int(lines[0].strip()), lines[1].split()
    rows = [line.split() for line in lines[2:] if line.strip()]
    if len(rows) != count:
        raise DatasetError(f"celeba: {path} declares {count} images but lists {len(rows)}")
    files, values = [], []
    for number, row in enumerate(rows, start=3):
        if len(row) != len(names) + 1:
            raise DatasetError(f"celeba: {path} line {number} has {len(row) - 1} attribute values, "
                               f"expected {len(names)} (one per name on line 2)")
        files.append(row[0])
        values.append(row[1:])
    try:
        labels = np.asarray(values, dtype=np.int64) if values else np.zeros((0, len(names)), np.int64)
    except ValueError:
        raise DatasetError(f"celeba: {path} holds non-integer attribute values") from None
    if not np.isin(labels, (-1, 1)).all():
        raise DatasetError(f"celeba: {path} attribute values must be -1 or 1")
    return names, files, (labels > 0).astype(np.uint8)


def read_partition(path: Path) -> Dict[str, int]:
    """list_eval_partition.txt -> {file: 0 train | 1 val | 2 test}."""
    if not path.is_file():
        raise DatasetError(f"celeba: expected the partition list at {path}, but it is not there "
                           f"(it comes with the dataset: {SOURCE})")
    partition = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise DatasetError(f"celeba: {path} line {number} must be '<file> <0|1|2>', got {line!r}")
        partition[parts[0]] = int(parts[1])
    return partition


@DATASETS.register("celeba")
class CelebA(ImageFiles):
    """conf/dataset/celeba.yaml documents the keys below; ``**files``: ImageFiles' (decoding and caps)."""

    kind = ATTRIBUTES

    def __init__(self, *, download: bool, attributes: Optional[Sequence[str]], **files):
        super().__init__(**files)
        self.download = bool(download)
        self.attributes = list(attributes or [])

    def base(self) -> Path:
        return self.root / "celeba"

    def fetch(self) -> None:  # pragma: no cover - needs the network
        from torchvision.datasets import CelebA as TV

        TV(str(self.base().parent), split="all", target_type="attr", download=True)

    def load(self) -> DataBundle:
        if self.download:
            try:
                self.fetch()
            except Exception as exc:  # noqa: BLE001 - any network failure becomes one message
                raise DatasetError(f"celeba: download into {self.base()} failed: {exc}. "
                                   f"Google Drive often refuses; fetch the files by hand from {SOURCE}.") from None
        base = self.base()
        names, files, labels = read_attributes(base / "list_attr_celeba.txt")
        expected = self.attributes
        if expected and names != expected:
            raise DatasetError(f"celeba: {base / 'list_attr_celeba.txt'} names {len(names)} attributes "
                               f"{names[:3]}..., expected the {len(expected)} of dataset.attributes")
        partition = read_partition(base / "list_eval_partition.txt")
        missing = [f for f in files if f not in partition]
        if missing:
            raise DatasetError(f"celeba: {len(missing)} image(s) of list_attr_celeba.txt have no entry in "
                               f"list_eval_partition.txt, e.g. {missing[0]}")
        split_of = np.array([partition[f] for f in files])
        self.check_official_sizes(split_of)
        splits = {name: self.split(base, files, labels, np.flatnonzero(split_of == pid), name)
                  for name, pid in PARTITION_IDS.items()}
        return DataBundle(kind=ATTRIBUTES, names=names, train=splits["train"], val=splits["val"], test=splits["test"])

    def check_official_sizes(self, split_of: np.ndarray) -> None:
        """The full list must carry the official partition (a partial copy is allowed, e.g. a fixture)."""
        if len(split_of) != sum(OFFICIAL_SPLIT_SIZES.values()):
            return
        sizes = {name: int((split_of == pid).sum()) for name, pid in PARTITION_IDS.items()}
        if sizes != OFFICIAL_SPLIT_SIZES:
            raise DatasetError(f"celeba: list_eval_partition.txt gives {sizes}, not the official {OFFICIAL_SPLIT_SIZES}")

    def split(self, base: Path, files: List[str], labels: np.ndarray, rows: np.ndarray, name: str) -> Split:
        if len(rows) == 0:
            raise DatasetError(f"celeba: list_eval_partition.txt puts no image in the {name} split")
        paths = [str(base / "img_align_celeba" / files[i]) for i in rows]
        # capped before decoding: a smoke run decodes only what it keeps (build_data's cap then keeps all)
        return self.decoded_split(f"celeba-{name}", paths, labels[rows], str(base / "list_attr_celeba.txt"),
                                  "train" if name == "train" else "eval")
