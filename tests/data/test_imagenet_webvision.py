"""ImageNet (class folders) and WebVision 1.0 (file lists) on tiny fixtures in their real layouts."""
import numpy as np
import pytest

from dcl_runner.data import build_data
from dcl_runner.data.loader import choose_resident
from dcl_runner.errors import DatasetError
from helpers import TINY, compose, write_image
from dcl_runner.train import run_experiment

WNIDS = ["n01440764", "n01443537", "n01484850"]


def imagenet_fixture(root, per_class=(4, 2)):
    for c, wnid in enumerate(WNIDS):
        for split, n in zip(("train", "val"), per_class):
            for i in range(n):
                write_image(root / split / wnid / f"{wnid}_{i}.JPEG", (80 * c, 10 * i, 200), size=(20, 14))
    (root / "LOC_synset_mapping.txt").write_text("n01440764 tench, Tinca tinca\nn01443537 goldfish\nn01484850 great white shark\n")


def webvision_fixture(root, classes=4):
    lines = {"google": [], "flickr": [], "val": []}
    for c in range(classes):
        for i in range(3):
            for source in ("google", "flickr"):
                rel = f"{source}/q{c + 1:04d}/{i:08d}.jpg"
                write_image(root / rel, (60 * c, 20 * i, 90 if source == "google" else 10), size=(20, 14))
                lines[source].append(f"{rel} {c}")
        write_image(root / "val_images_256" / f"val{c:06d}.jpg", (60 * c, 5, 5), size=(20, 14))
        lines["val"].append(f"val{c:06d}.jpg {c}")
    (root / "info").mkdir(parents=True, exist_ok=True)
    for source in ("google", "flickr"):
        (root / "info" / f"train_filelist_{source}.txt").write_text("\n".join(lines[source]) + "\n")
    (root / "info" / "val_filelist.txt").write_text("\n".join(lines["val"]) + "\n")


def dataset_cfg(name, root, *extra):
    return compose([f"dataset={name}", f"dataset.root={root}", f"dataset.cache_dir={root}/cache", "dataset.image_size=16", "dataset.decode=cache",
                    "dataset.cache_size=16", "dataset.decode_workers=0", *extra]).dataset


def test_imagenet_class_folders_decode_into_a_cache(tmp_path):
    imagenet_fixture(tmp_path)
    bundle = build_data(dataset_cfg("imagenet", tmp_path))
    assert bundle.names == ["tench", "goldfish", "great white shark"]
    assert len(bundle.train) == 12 and len(bundle.test) == 6
    assert isinstance(bundle.train.images, np.memmap) and bundle.train.images.shape == (12, 3, 16, 16)
    assert bundle.train.targets.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert abs(int(bundle.train.images[4, 0].mean()) - 80) <= 2  # class 1's red channel, through JPEG
    assert len(list((tmp_path / "cache").glob("imagenet-*.npy"))) == 2
    again = build_data(dataset_cfg("imagenet", tmp_path))  # reopened from the cache
    assert np.array_equal(np.asarray(again.train.images), np.asarray(bundle.train.images))
    assert not choose_resident(bundle.train, __import__("torch").device("cpu"), "auto", 8.0)  # DataLoader path


def test_imagenet_smoke_cap_decodes_only_the_capped_files(tmp_path):
    imagenet_fixture(tmp_path)
    bundle = build_data(dataset_cfg("imagenet", tmp_path, "dataset.max_train_samples=6"))
    assert len(bundle.train) == 6 and sorted(set(bundle.train.targets.tolist())) == [0, 1, 2]
    assert [np.load(p, mmap_mode="r").shape[0] for p in sorted((tmp_path / "cache").glob("imagenet-train*.npy"))] == [6]


def test_imagenet_errors_name_the_problem(tmp_path):
    with pytest.raises(DatasetError, match="train"):
        build_data(dataset_cfg("imagenet", tmp_path))
    imagenet_fixture(tmp_path)
    write_image(tmp_path / "val" / "n99999999" / "x.JPEG", (1, 2, 3), size=(20, 14))
    with pytest.raises(DatasetError, match="n99999999"):
        build_data(dataset_cfg("imagenet", tmp_path))


def test_webvision_file_lists_sources_and_mini(tmp_path):
    webvision_fixture(tmp_path)
    both = build_data(dataset_cfg("webvision", tmp_path))
    assert len(both.train) == 24 and len(both.test) == 4 and len(both.names) == 1000
    google = build_data(dataset_cfg("webvision", tmp_path, "dataset.sources=[google]", "dataset.num_classes=2"))
    assert len(google.train) == 6 and google.names == ["0", "1"] and google.test.targets.tolist() == [0, 1]
    assert int(google.train.images[0, 2].mean()) == pytest.approx(90, abs=3)  # the google images' blue channel


def test_webvision_malformed_or_missing_inputs(tmp_path):
    with pytest.raises(DatasetError, match="info"):
        build_data(dataset_cfg("webvision", tmp_path))
    webvision_fixture(tmp_path)
    lst = tmp_path / "info" / "train_filelist_flickr.txt"
    lst.write_text(lst.read_text() + "flickr/q0001/broken-line-without-label\n")
    with pytest.raises(DatasetError, match=r"train_filelist_flickr.txt line 13"):
        build_data(dataset_cfg("webvision", tmp_path))
    lst.write_text("flickr/q0001/missing.jpg 0\n")
    with pytest.raises(DatasetError, match="missing.jpg"):
        build_data(dataset_cfg("webvision", tmp_path))
    lst.write_text("flickr/q0001/00000000.jpg 1000\n")
    with pytest.raises(DatasetError, match="label 1000"):
        build_data(dataset_cfg("webvision", tmp_path))


def test_a_data_params_run_on_the_imagenet_layout(tmp_path):
    imagenet_fixture(tmp_path / "imagenet")
    root = tmp_path / "imagenet"
    cfg = compose([*TINY, "dataset=imagenet", f"dataset.root={root}", f"dataset.cache_dir={root}/cache", "dataset.image_size=16",
                   "dataset.cache_size=20", "dataset.decode_workers=0", "backbone=resnet18", "method=data_params",
                   "trainer.batch_size=4", "trainer.eval_batch_size=4"])
    final = run_experiment(cfg, tmp_path / "run")
    assert 0 <= final["top1"] <= 100
