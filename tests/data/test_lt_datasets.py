"""Tiny-ImageNet(-LT) and ImageNet-LT loaders on tiny fixtures written in the real layouts."""
import numpy as np
import pytest

from dcl_runner.data import build_data
from dcl_runner.errors import DatasetError
from helpers import compose, write_image

WNIDS = ["n01443537", "n01629819", "n01641577"]


@pytest.fixture
def tiny_root(tmp_path):
    """tiny-imagenet-200 layout: 3 classes, 8 training images each, 2 validation images each."""
    root = tmp_path / "tiny-imagenet-200"
    root.mkdir()
    (root / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    (root / "words.txt").write_text("n01443537\tgoldfish, Carassius auratus\nn01629819\tEuropean fire salamander\n")
    for c, wnid in enumerate(WNIDS):
        for i in range(8):
            write_image(root / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", 40 * c + i, size=(64, 64), top_red=255 - (40 * c + i))
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
    lines = []
    for c, wnid in enumerate(WNIDS):
        for i in range(2):
            name = f"val_{2 * c + i}.JPEG"
            write_image(root / "val" / "images" / name, 40 * c + 100, size=(64, 64), top_red=255 - (40 * c + 100))
            lines.append(f"{name}\t{wnid}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


def tiny_cfg(root, tmp_path, *extra):
    return compose(["dataset=tiny_imagenet_lt", f"dataset.root={root}", f"cache_root={tmp_path / 'cache'}", *extra]).dataset


def test_tiny_imagenet_lt_reads_the_layout_and_applies_the_profile(tiny_root, tmp_path):
    bundle = build_data(tiny_cfg(tiny_root, tmp_path, "dataset.imbalance_ratio=4"))
    assert bundle.names == ["goldfish", "European fire salamander", "n01641577"]
    assert np.bincount(bundle.train.targets).tolist() == [8, 4, 2]  # 8 * 4^(-i/2)
    assert np.bincount(bundle.test.targets).tolist() == [2, 2, 2]  # the official val set, balanced
    assert bundle.train.images.shape[1:] == (3, 64, 64) and bundle.train.images.dtype == np.uint8
    # decoded pixels belong to the right class: the lower half's red channel is 40 c + i (JPEG: approximately)
    first_of_class_1 = bundle.train.images[np.flatnonzero(bundle.train.targets == 1)[0]]
    assert abs(int(first_of_class_1[0, 48, 32]) - 40) <= 8
    again = build_data(tiny_cfg(tiny_root, tmp_path, "dataset.imbalance_ratio=4"))  # from the cache
    assert np.array_equal(np.asarray(again.train.images), np.asarray(bundle.train.images))


def test_tiny_imagenet_malformed_inputs_name_the_file(tiny_root, tmp_path):
    annotations = tiny_root / "val" / "val_annotations.txt"
    annotations.write_text("val_0.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(DatasetError, match="val_annotations.txt line 1"):
        build_data(tiny_cfg(tiny_root, tmp_path))
    (tiny_root / "wnids.txt").unlink()
    with pytest.raises(DatasetError, match="wnids.txt"):
        build_data(tiny_cfg(tiny_root, tmp_path))


@pytest.fixture
def imagenet_root(tmp_path):
    """An ImageNet root with train/ and val/ folders and the three ImageNet_LT split files (3 classes)."""
    root = tmp_path / "imagenet"
    counts = [6, 3, 1]
    train, val, test = [], [], []
    for c, (wnid, n) in enumerate(zip(WNIDS, counts)):
        for i in range(n + 1):
            rel = f"train/{wnid}/{wnid}_{i}.JPEG"
            write_image(root / rel, 50 * c, size=(40, 40), top_red=255 - (50 * c))
            (train if i < n else val).append(f"{rel} {c}")
        rel = f"val/{wnid}/ILSVRC2012_val_{c:08d}.JPEG"
        write_image(root / rel, 50 * c + 10, size=(40, 40), top_red=255 - (50 * c + 10))
        test.append(f"{rel} {c}")
    for name, lines in (("train", train), ("val", val), ("test", test)):
        (root / f"ImageNet_LT_{name}.txt").write_text("\n".join(lines) + "\n")
    return root


def imagenet_cfg(root, tmp_path, *extra):
    return compose(["dataset=imagenet_lt", f"dataset.root={root}", f"cache_root={tmp_path / 'cache'}",
                    "dataset.image_size=32", *extra]).dataset


def test_imagenet_lt_reads_the_split_files(imagenet_root, tmp_path):
    bundle = build_data(imagenet_cfg(imagenet_root, tmp_path))
    assert bundle.names == WNIDS
    assert np.bincount(bundle.train.targets).tolist() == [6, 3, 1]
    assert bundle.val.targets.tolist() == [0, 1, 2] and bundle.test.targets.tolist() == [0, 1, 2]
    assert bundle.train.images.shape[1:] == (3, 32, 32)  # short side resized, centre crop
    assert bundle.task().train_counts.tolist() == [6, 3, 1]


def test_imagenet_lt_bad_split_files_name_file_and_line(imagenet_root, tmp_path):
    (imagenet_root / "ImageNet_LT_test.txt").write_text("val/x.JPEG 0\nval/y.JPEG zero\n")
    with pytest.raises(DatasetError, match="ImageNet_LT_test.txt line 2"):
        build_data(imagenet_cfg(imagenet_root, tmp_path))
    (imagenet_root / "ImageNet_LT_test.txt").write_text("val/x.JPEG 7\n")
    with pytest.raises(DatasetError, match="label 7"):
        build_data(imagenet_cfg(imagenet_root, tmp_path))
    (imagenet_root / "ImageNet_LT_val.txt").unlink()
    with pytest.raises(DatasetError, match="ImageNet_LT_val.txt"):
        build_data(imagenet_cfg(imagenet_root, tmp_path))


def test_imagenet_lt_missing_images_are_reported(imagenet_root, tmp_path):
    (imagenet_root / "ImageNet_LT_train.txt").write_text(f"train/{WNIDS[0]}/gone.JPEG 0\n" + (imagenet_root / "ImageNet_LT_train.txt").read_text())
    with pytest.raises(DatasetError, match="missing"):
        build_data(imagenet_cfg(imagenet_root, tmp_path))


@pytest.mark.slow
def test_th_tiny_imagenet_experiment_runs_on_the_fixture(tiny_root, tmp_path):
    from dcl_runner.train import run_experiment

    cfg = compose(["experiment=th_tiny_imagenet_lt", "budget=smoke", f"dataset.root={tiny_root}",
                   f"cache_root={tmp_path / 'cache'}", "dataset.imbalance_ratio=4", "trainer.epochs=1",
                   "trainer.device=cpu", "trainer.batch_size=8"])
    final = run_experiment(cfg, tmp_path / "run")
    assert final["few_classes"] == 3 and 0 <= final["top1"] <= 100  # all three classes have < 20 images
