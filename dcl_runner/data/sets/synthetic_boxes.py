"""``synthetic_boxes``: an embedded KITTI-shaped detection set (no download, deterministic by ``data_seed``).

Each image is a smooth noisy background on a virtual KITTI frame (1242 x 375 pixels, drawn at ``image_size`` x
``image_size``) with up to ``max_objects`` filled rectangles: cars (a bright body with a dark window band), vans
(KITTI's neighbouring class of Car: another colour) and DontCare regions (pixel noise). Objects are drawn in
order, so a later one occludes an earlier one: occlusion 0 / 1 / 2 when less than 10% / 40% / more of a box is
covered; a box leaving the frame is clipped and its truncation is the share cut off. Box heights span KITTI's
(15 to 160 frame pixels), so the easy / moderate / hard regimes of ``kitti_ap`` all hold boxes. It stands in
for KITTI in ``python -m dcl_runner.tables --budget smoke`` when KITTI is not on disk.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from ..base import DATASETS, DETECTION, DataBundle, ImageDataset, Split
from .. import boxes as B
from .synthetic import _smooth_field

FRAME = (1242.0, 375.0)  # KITTI's usual image size (width, height)
KINDS = ("Car", "Van", "DontCare")
COLOURS = {"Car": (220.0, 60.0, 40.0), "Van": (40.0, 90.0, 220.0)}


def _draw(canvas: np.ndarray, box: Sequence[float], kind: str, rng: np.random.Generator) -> None:
    size = canvas.shape[-1]
    sx, sy = size / FRAME[0], size / FRAME[1]
    x1, y1, x2, y2 = int(box[0] * sx), int(box[1] * sy), max(int(box[0] * sx) + 1, int(np.ceil(box[2] * sx))), \
        max(int(box[1] * sy) + 1, int(np.ceil(box[3] * sy)))
    if kind == "DontCare":
        canvas[:, y1:y2, x1:x2] = rng.uniform(0, 255, size=canvas[:, y1:y2, x1:x2].shape)
        return
    canvas[:, y1:y2, x1:x2] = np.asarray(COLOURS[kind])[:, None, None]
    band = y1 + max(1, (y2 - y1) // 4)
    canvas[:, y1:band, x1 + (x2 - x1) // 5: x2 - (x2 - x1) // 5] = 30.0  # the window band


def generate_boxes(n: int, size: int, seed: int, max_objects: int, classes: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """(uint8 images [n, 3, size, size], box rows [n, M, len(boxes.COLUMNS)] in frame pixels)."""
    rng = np.random.default_rng(seed)
    background = _smooth_field(rng, n, 3, size, 4)
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    labels = B.labels_for(B.KITTI_TYPES, list(classes))
    tables: List[np.ndarray] = []
    for i in range(n):
        canvas = 110 + 30 * background[i] + 8 * rng.standard_normal((3, size, size))
        count = int(rng.integers(0, max_objects + 1))
        drawn: List[Tuple[str, np.ndarray, np.ndarray]] = []  # kind, box (clipped), coverage mask on a coarse grid
        rows = []
        for _ in range(count):
            kind = str(rng.choice(KINDS, p=(0.7, 0.2, 0.1)))
            height = float(rng.uniform(15, 160))
            width = height * float(rng.uniform(1.2, 2.2))
            cx, cy = float(rng.uniform(-0.05, 1.05)) * FRAME[0], float(rng.uniform(0.35, 0.8)) * FRAME[1]
            raw = np.array([cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2])
            box = np.clip(raw, 0, [FRAME[0], FRAME[1], FRAME[0], FRAME[1]])
            if box[2] - box[0] < 4 or box[3] - box[1] < 4:
                continue
            truncation = 1.0 - (box[2] - box[0]) * (box[3] - box[1]) / (width * height)
            _draw(canvas, box, kind, rng)
            drawn.append((kind, box, np.zeros(0)))
            rows.append([B.type_position(kind), labels.get(B.type_position(kind), B.IGNORE), *box, round(truncation, 2),
                         0.0, B.IGNORE, 0.0, 0.0])
        for k, row in enumerate(rows):  # occlusion: the share of box k covered by later objects
            box = np.asarray(row[2:6])
            covered = _covered_share(box, [np.asarray(r[2:6]) for r in rows[k + 1:]])
            row[B.OCCLUSION] = 0.0 if covered < 0.1 else (1.0 if covered < 0.4 else 2.0)
        images[i] = np.clip(canvas, 0, 255).astype(np.uint8)
        tables.append(np.asarray(rows, dtype=np.float32).reshape(-1, len(B.COLUMNS)))
    table = B.box_table(tables)
    return images, B.with_image_size(table, np.tile(np.asarray(FRAME), (n, 1)))


def _covered_share(box: np.ndarray, others: List[np.ndarray], grid: int = 16) -> float:
    """The share of ``box`` under the union of ``others`` (sampled on a grid x grid lattice)."""
    if not others:
        return 0.0
    xs = np.linspace(box[0], box[2], grid)
    ys = np.linspace(box[1], box[3], grid)
    gx, gy = np.meshgrid(xs, ys)
    hidden = np.zeros_like(gx, dtype=bool)
    for o in others:
        hidden |= (gx >= o[0]) & (gx <= o[2]) & (gy >= o[1]) & (gy <= o[3])
    return float(hidden.mean())


@DATASETS.register("synthetic_boxes")
class SyntheticBoxes(ImageDataset):
    """conf/dataset/synthetic_boxes.yaml documents the keys below."""

    kind = DETECTION
    embedded = True

    def __init__(self, *, image_size: int, num_train: int, num_test: int, data_seed: int, max_objects: int,
                 classes: Sequence[str], ap_points: int):
        self.size, self.counts, self.seed = int(image_size), (int(num_train), int(num_test)), int(data_seed)
        self.max_objects, self.classes, self.ap_points = int(max_objects), B.check_classes(list(classes)), int(ap_points)

    def load(self) -> DataBundle:
        train = generate_boxes(self.counts[0], self.size, self.seed, self.max_objects, self.classes)
        test = generate_boxes(self.counts[1], self.size, self.seed + 1, self.max_objects, self.classes)
        return DataBundle(kind=DETECTION, names=list(self.classes), train=Split(*train), test=Split(*test),
                          meta={"ap_points": self.ap_points})
