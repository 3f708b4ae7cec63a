"""``kitti``: KITTI's 2D object detection benchmark in its original layout (Geiger et al. 2012).

    <root>/training/image_2/000000.png ... 007480.png
    <root>/training/label_2/000000.txt ... 007480.txt   one object per line (the devkit's readme.txt):
        type truncated occluded alpha left top right bottom height width length x y z rotation_y
    <root>/ImageSets/train.txt, val.txt                 one 6-digit image id per line

The train / val split is Chen et al.'s (3DOP, NIPS 2015: 3,712 / 3,769 images of KITTI's 7,481 training
images), the one DP sec. 3.3 uses; its files are read from disk (``train_split`` / ``val_split``), since they are
not part of KITTI's download (they come with 3DOP / MV3D / most KITTI detection code bases as ImageSets/).
KITTI's test images have no public labels, so the val split is this dataset's ``test`` split (what the trainer
evaluates). Images are decoded once and resized to ``image_size`` x ``image_size`` (SSD300 warps the whole image
to 300 x 300, Liu et al. 2016 sec. 3); boxes stay in the original image's pixels (see ``data.boxes``).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from ...errors import DatasetError
from ..base import DATASETS, DETECTION, DataBundle, ImageDataset, Split
from .. import boxes as B

log = logging.getLogger(__name__)

LABEL_FIELDS = 15  # the devkit's readme.txt: 15 values per object (a 16th, the score, in result files only)
GET_IT = ("download KITTI's 'left color images of object data set' and 'training labels of object data set' from "
          "https://www.cvlibs.net/datasets/kitti/eval_object.php and unpack both into {root}")
SPLIT_SIZES = {"train": 3712, "val": 3769}  # Chen et al. 2015 (3DOP), quoted in DP sec. 3.3's reference [3]


def read_split_file(path: Path, name: str) -> List[str]:
    """The image ids of a split file (one per line); DatasetError for a missing file or a line that is no id."""
    if not path.is_file():
        raise DatasetError(f"dataset kitti: the {name} split file {path} does not exist. Expected one 6-digit KITTI "
                           f"image id per line (3DOP's ImageSets/{name}.txt of Chen et al. 2015); put it there or set "
                           f"dataset.{name}_split to its path")
    ids = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text:
            continue
        if not text.isdigit():
            raise DatasetError(f"dataset kitti: {path} line {number}: {text!r} is not an image id (expected digits "
                               "such as 000123, one per line)")
        ids.append(text.zfill(6))
    if not ids:
        raise DatasetError(f"dataset kitti: the {name} split file {path} lists no image")
    return ids


def parse_label_file(path: Path, type_to_label: dict) -> np.ndarray:
    """One label_2 file as box rows ``[k, len(B.COLUMNS)]`` (image size columns left 0); DatasetError naming the
    file and line when a line is malformed."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"dataset kitti: {path} line {number}"
        if len(fields) not in (LABEL_FIELDS, LABEL_FIELDS + 1):
            raise DatasetError(f"{where}: {len(fields)} values, expected {LABEL_FIELDS} (type truncated occluded "
                               "alpha left top right bottom h w l x y z rotation_y; KITTI devkit readme.txt)")
        if fields[0] not in B.KITTI_TYPES:
            raise DatasetError(f"{where}: unknown object type {fields[0]!r}; KITTI's types are {', '.join(B.KITTI_TYPES)}")
        try:
            truncation, occlusion, _alpha, x1, y1, x2, y2 = (float(v) for v in fields[1:8])
        except ValueError:
            raise DatasetError(f"{where}: truncated, occluded, alpha and the bbox must be numbers, got {fields[1:8]}") from None
        row = np.zeros(len(B.COLUMNS), dtype=np.float32)
        kind = B.type_position(fields[0])
        row[[B.TYPE, B.LABEL, B.X1, B.Y1, B.X2, B.Y2, B.TRUNCATION, B.OCCLUSION, B.BOX_ID]] = (
            kind, type_to_label.get(kind, B.IGNORE), x1, y1, x2, y2, truncation, occlusion, B.IGNORE)
        rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, len(B.COLUMNS)), dtype=np.float32)


def read_image(path: Path, size: int) -> Tuple[np.ndarray, Tuple[int, int]]:
    """(uint8 [3, size, size] of the image warped to size x size, its original (width, height))."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            original = image.size
            pixels = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR))
    except Exception as exc:  # noqa: BLE001 - truncated / not an image: one message
        raise DatasetError(f"dataset kitti: {path} could not be read as an image ({type(exc).__name__}: {exc}); "
                           "re-extract KITTI's image_2 folder") from None
    return pixels.transpose(2, 0, 1).copy(), original


@DATASETS.register("kitti")
class Kitti(ImageDataset):
    """conf/dataset/kitti.yaml documents the keys below."""

    kind = DETECTION

    def __init__(self, *, root: str, image_size: int, classes: Sequence[str], train_split: str, val_split: str,
                 ap_points: int):
        self.root = Path(root).expanduser()
        self.size = int(image_size)
        try:
            self.classes = B.check_classes(list(classes))
        except ValueError as exc:
            raise DatasetError(f"dataset.classes={list(classes)}: {exc}") from None
        self.split_files = {"train": Path(train_split).expanduser(), "val": Path(val_split).expanduser()}
        self.ap_points = int(ap_points)

    def folders(self) -> Tuple[Path, Path]:
        images, labels = self.root / "training" / "image_2", self.root / "training" / "label_2"
        for folder in (images, labels):
            if not folder.is_dir():
                raise DatasetError(f"dataset kitti: {folder} does not exist; expected KITTI's object detection layout "
                                   f"training/image_2/*.png and training/label_2/*.txt under {self.root}: "
                                   + GET_IT.format(root=self.root))
        return images, labels

    def read_split(self, name: str) -> Split:
        images_dir, labels_dir = self.folders()
        ids = read_split_file(self.split_files[name], name)
        if len(ids) != SPLIT_SIZES[name]:
            log.warning("kitti: %s lists %d images; 3DOP's %s split has %d", self.split_files[name], len(ids), name,
                        SPLIT_SIZES[name])
        type_to_label = B.labels_for(B.KITTI_TYPES, self.classes)
        pixels, sizes, tables = [], [], []
        for image_id in ids:
            image_path, label_path = images_dir / f"{image_id}.png", labels_dir / f"{image_id}.txt"
            for path in (image_path, label_path):
                if not path.is_file():
                    raise DatasetError(f"dataset kitti: {path} (image {image_id} of {self.split_files[name]}) does not "
                                       "exist; " + GET_IT.format(root=self.root))
            rows = parse_label_file(label_path, type_to_label)
            image, size = read_image(image_path, self.size)
            pixels.append(image)
            sizes.append(size)
            tables.append(rows)
        table = B.with_image_size(B.box_table(tables), np.asarray(sizes))
        return Split(images=np.stack(pixels), targets=table)

    def load(self) -> DataBundle:
        train = self.read_split("train")
        val = self.read_split("val")
        return DataBundle(kind=DETECTION, names=list(self.classes), train=train, test=val,
                          meta={"ap_points": self.ap_points})
