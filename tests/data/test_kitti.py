"""The KITTI dataset (dcl_runner/data/sets/kitti.py) on a tiny fixture in KITTI's own layout (helpers.make_kitti):
box rows as data/boxes.py lays them out, the 3DOP split files read from disk, Car by default, and one clear
message for each missing or malformed file."""
import numpy as np
import pytest

from dcl_runner.data import boxes as B
from dcl_runner.data import build_data
from dcl_runner.errors import DatasetError
from helpers import compose, make_kitti


def kitti(root, *extra):
    return compose(["dataset=kitti", f"dataset.root={root}", "dataset.image_size=32", *extra]).dataset


def test_reads_images_labels_and_the_split(tmp_path):
    bundle = build_data(kitti(make_kitti(tmp_path)))
    assert bundle.kind == "detection" and bundle.names == ["Car"]
    assert bundle.train.images.shape == (2, 3, 32, 32) and bundle.test.images.shape == (2, 3, 32, 32)
    train = bundle.train.targets
    assert train.shape == (2, 3, len(B.COLUMNS))  # 3 objects in each training image
    first = train[0]
    assert first[0, B.TYPE] == B.type_position("Car") and first[0, B.LABEL] == 0
    assert list(first[0, [B.X1, B.Y1, B.X2, B.Y2]]) == [100, 120, 300, 220]  # pixels of the label file
    assert (first[0, B.TRUNCATION], first[0, B.OCCLUSION]) == (0.0, 0.0)
    assert first[1, B.TYPE] == B.type_position("Van") and first[1, B.LABEL] == B.IGNORE  # not a training class
    assert first[2, B.TYPE] == B.type_position("DontCare")
    assert (train[:, :, B.IMAGE_W] == 1242).all() and (train[:, :, B.IMAGE_H] == 375).all()  # the png's size
    # the training cars are numbered for their instance parameters, in image-then-row order
    assert list(train[:, :, B.BOX_ID].reshape(-1)) == [0, -1, -1, 1, -1, 2]
    assert list(bundle.task().train_counts) == [3]
    val = bundle.test.targets  # 000002 (a cyclist only) padded to 000003's single row
    assert val.shape == (2, 1, len(B.COLUMNS)) and val[0, 0, B.LABEL] == B.IGNORE and val[1, 0, B.LABEL] == 0


def test_other_classes_are_selectable(tmp_path):
    bundle = build_data(kitti(make_kitti(tmp_path), "dataset.classes=[Car,Pedestrian]"))
    assert bundle.names == ["Car", "Pedestrian"] and list(bundle.task().train_counts) == [3, 1]
    with pytest.raises(DatasetError, match=r"dataset.classes=\['Truck', 'Bus'\].*KITTI types among Car, Van"):
        build_data(kitti(make_kitti(tmp_path), "dataset.classes=[Truck,Bus]"))


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "training" / "label_2" / "000001.txt").unlink(),
     r"label_2/000001.txt \(image 000001 of .*train.txt\) does not exist; download KITTI"),
    (lambda root: (root / "ImageSets" / "val.txt").unlink(),
     r"the val split file .*val.txt does not exist. Expected one 6-digit KITTI image id per line \(3DOP"),
    (lambda root: (root / "ImageSets" / "train.txt").write_text("000000\nimage_1\n"),
     r"train.txt line 2: 'image_1' is not an image id"),
    (lambda root: (root / "training" / "label_2" / "000000.txt").write_text("Car 0.0 0 -1.5 1 2 3\n"),
     r"000000.txt line 1: 7 values, expected 15 \(type truncated occluded"),
    (lambda root: (root / "training" / "label_2" / "000000.txt").write_text("Car 0.0 x -1.5 1 2 3 4 1 1 1 1 1 1 1\n"),
     r"000000.txt line 1: truncated, occluded, alpha and the bbox must be numbers"),
    (lambda root: (root / "training" / "label_2" / "000000.txt").write_text("Bus 0 0 0 1 2 3 4 1 1 1 1 1 1 1\n"),
     r"000000.txt line 1: unknown object type 'Bus'; KITTI's types are Car, Van"),
    (lambda root: (root / "training" / "image_2" / "000003.png").write_bytes(b"not a png"),
     r"000003.png could not be read as an image"),
])
def test_missing_or_malformed_files_say_what_and_where(tmp_path, damage, message):
    root = make_kitti(tmp_path)
    damage(root)
    with pytest.raises(DatasetError, match=message):
        build_data(kitti(root))


def test_missing_layout_names_the_folder_and_the_download(tmp_path):
    with pytest.raises(DatasetError, match=r"training/image_2 does not exist; expected KITTI's object detection layout"):
        build_data(kitti(tmp_path / "nowhere"))


def test_synthetic_stand_in_holds_every_regime():
    bundle = build_data(compose(["dataset=synthetic_boxes"]).dataset)
    rows = bundle.test.targets.reshape(-1, len(B.COLUMNS))
    cars = rows[rows[:, B.LABEL] == 0]
    height = cars[:, B.Y2] - cars[:, B.Y1]
    assert ((height > 40) & (cars[:, B.OCCLUSION] == 0) & (cars[:, B.TRUNCATION] <= 0.15)).any()  # easy
    assert (cars[:, B.OCCLUSION] == 2).any() and (height <= 25).any()                             # hard / too small
    assert (rows[:, B.TYPE] == B.type_position("Van")).any() and (rows[:, B.TYPE] == B.type_position("DontCare")).any()
    assert np.isin(rows[:, B.LABEL], (B.IGNORE, 0)).all()
