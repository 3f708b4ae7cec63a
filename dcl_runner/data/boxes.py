"""Detection targets as one array: every image's boxes as rows of a fixed-size, padded table.

A detection split's ``targets`` is float32 ``[N, M, len(COLUMNS)]``: image n's boxes are the rows of
``targets[n]`` whose ``TYPE`` is >= 0, in any order; the other rows are padding (``TYPE`` = ``PAD``). M is the
largest box count of any image of the dataset. One array per split keeps every seam of the other task types
(``Split``, the loader's one-gather batches, the smoke caps, ``predictions.npz``) as it is: no collate.

Columns (``COLUMNS``):

- ``TYPE``: the KITTI object type's position in ``KITTI_TYPES`` (Car, Van, ..., DontCare); PAD for padding.
- ``LABEL``: the training class (position in the dataset's ``names``) or ``IGNORE`` for a box that is no
  training target (another type, DontCare).
- ``X1 Y1 X2 Y2``: the box in pixels of the original image (KITTI's label_2 ``bbox``: left, top, right, bottom).
- ``TRUNCATION`` (0..1), ``OCCLUSION`` (0 visible, 1 partly, 2 largely occluded, 3 unknown): KITTI's.
- ``BOX_ID``: the box's position among the training split's target boxes (one instance data parameter each,
  DP sec. 3.3), numbered by :func:`number_boxes`; ``IGNORE`` for other rows and for evaluation splits.
- ``IMAGE_W IMAGE_H``: the original image's size (every row of the image, padding included), so boxes can be
  mapped to the network's input (normalised coordinates) and back, and KITTI's pixel-height rules applied.

A training batch's rows are augmented with its pixels (``data/ssd_augment.py``): rows never move, and a box the
step's crop leaves out is *absent* for that step (:func:`mark_absent`: TYPE PAD, LABEL IGNORE) with its BOX_ID
kept, so every present box still owns its instance data parameter and an absent one trains nothing that step.

A detection's prediction row is ``PRED_COLUMNS``: x1, y1, x2, y2 normalised to [0, 1] of the image, score, label
(the class position; -1 pads the fixed number of detections per image).
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

COLUMNS = ("type", "label", "x1", "y1", "x2", "y2", "truncation", "occlusion", "box_id", "image_w", "image_h")
TYPE, LABEL, X1, Y1, X2, Y2, TRUNCATION, OCCLUSION, BOX_ID, IMAGE_W, IMAGE_H = range(len(COLUMNS))
PAD = -1.0
IGNORE = -1.0

# KITTI object types (the devkit's readme.txt, label_2 'type'); the position is the TYPE column's value
KITTI_TYPES = ("Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc", "DontCare")
# the devkit's neighbouring classes: ignored ground truth for the class they neighbour (evaluate_object.cpp cleanData)
NEIGHBOURS = {"Car": "Van", "Pedestrian": "Person_sitting"}

PRED_COLUMNS = ("x1", "y1", "x2", "y2", "score", "label")


def box_table(images_boxes: Sequence[np.ndarray], rows: int = 0) -> np.ndarray:
    """Stack per-image box arrays ``[k_i, len(COLUMNS)]`` into ``[N, M, len(COLUMNS)]``, padding with PAD rows that
    keep their image's size (M: the largest k_i, at least ``rows`` and 1)."""
    width = max([rows, 1, *(len(b) for b in images_boxes)])
    table = np.full((len(images_boxes), width, len(COLUMNS)), PAD, dtype=np.float32)
    table[:, :, BOX_ID] = IGNORE
    for n, boxes in enumerate(images_boxes):
        table[n, : len(boxes)] = boxes
    return table


def with_image_size(table: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Write each image's (width, height) ``sizes`` [N, 2] into every row of its table (padding included)."""
    table[:, :, IMAGE_W] = np.asarray(sizes, dtype=np.float32)[:, 0:1]
    table[:, :, IMAGE_H] = np.asarray(sizes, dtype=np.float32)[:, 1:2]
    return table


def number_boxes(table: np.ndarray) -> np.ndarray:
    """A copy whose training-target boxes (LABEL >= 0) carry BOX_ID 0..K-1 in image-then-row order; others IGNORE."""
    out = np.array(table, copy=True)
    target = out[:, :, LABEL] >= 0
    out[:, :, BOX_ID] = IGNORE
    out[:, :, BOX_ID][target] = np.arange(int(target.sum()), dtype=np.float32)
    return out


def mark_absent(rows, absent):
    """Box rows (a torch tensor [..., M, K]) with the rows where ``absent`` [..., M] marked absent for this step:
    TYPE PAD and LABEL IGNORE (no training target, no ignore region), BOX_ID and the coordinates kept (a new
    tensor)."""
    out = rows.clone()
    out[..., TYPE] = out[..., TYPE].masked_fill(absent, PAD)
    out[..., LABEL] = out[..., LABEL].masked_fill(absent, IGNORE)
    return out


def boxes_per_class(table: np.ndarray, num_classes: int) -> np.ndarray:
    """Training-target boxes per class, int [C]."""
    labels = np.asarray(table)[:, :, LABEL].reshape(-1)
    return np.bincount(labels[labels >= 0].astype(np.int64), minlength=num_classes)


def labels_for(type_names: Sequence[str], classes: Sequence[str]) -> Dict[int, int]:
    """KITTI type position -> training class position, for the chosen ``classes``."""
    return {KITTI_TYPES.index(t): classes.index(t) for t in type_names if t in classes}


def type_position(name: str) -> int:
    return KITTI_TYPES.index(name)


def check_classes(classes: Sequence[str]) -> List[str]:
    """The chosen class names, each a KITTI type other than DontCare (ValueError naming the valid ones)."""
    valid = [t for t in KITTI_TYPES if t != "DontCare"]
    bad = [c for c in classes if c not in valid]
    if bad or not classes:
        raise ValueError(f"{bad or 'no class'}: expected KITTI types among {', '.join(valid)}")
    return list(classes)
