"""The standard ImageNet input pipeline (``dataset.decode: standard``, data/encoded.py) on tiny fixtures in the real
ImageNet / ImageNet-LT / WebVision layouts. The transforms are checked against torchvision's own (the reference
implementation pytorch/examples imagenet/main.py runs), given the same random parameters."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import functional as TF
from torchvision import transforms as T

from dcl_runner.data import build_data
from dcl_runner.data.encoded import (EncodedImages, TrainCrop, color_jitter, decode_rows, eval_transform,
                                     resized_crop_box, sample_rng, train_transform)
from dcl_runner.data.loader import SplitLoader, choose_resident
from dcl_runner.distributed import BatchPart
from dcl_runner.errors import ConfigError
from helpers import TINY, compose, write_image
from test_distributed import fake
from test_imagenet_webvision import imagenet_fixture, webvision_fixture


def picture(width, height, seed=0):
    """An RGB image with structure at every scale (a gradient plus noise), as a PIL image."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], axis=-1)
    return Image.fromarray(np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8))


@pytest.mark.parametrize("size", [(300, 200), (200, 300), (256, 256), (500, 375)])
def test_evaluation_is_torchvisions_resize_256_and_center_crop_224(size):
    img = picture(*size)
    ours = np.asarray(eval_transform(img, 224, 256))
    reference = np.asarray(T.Compose([T.Resize(256), T.CenterCrop(224)])(img))
    assert ours.shape == (224, 224, 3)
    np.testing.assert_array_equal(ours, reference)


def test_a_training_crop_is_torchvisions_resized_crop_of_the_drawn_box():
    img = picture(400, 300)
    crop = TrainCrop({"scale": [0.08, 1.0], "flip": False})
    for position in range(5):
        top, left, h, w = resized_crop_box(400, 300, crop.scale, crop.ratio, sample_rng(7, position))
        assert 0 <= top and top + h <= 300 and 0 <= left and left + w <= 400
        assert 0.08 * 120000 * 0.98 <= h * w <= 120000 and 3 / 4 * 0.95 <= w / h <= 4 / 3 * 1.05
        ours = np.asarray(train_transform(img, 224, crop, sample_rng(7, position)))
        np.testing.assert_array_equal(ours, np.asarray(TF.resized_crop(img, top, left, h, w, [224, 224])))


def test_the_crop_falls_back_to_the_centre_as_torchvision_does():
    # a 1000 x 10 strip cannot hold a crop of aspect <= 4/3 and area >= 8%: 10 tries fail, then the centre crop of
    # the full height, width cut to 4/3 of it: round(10 * 4/3) = 13 wide, left (1000 - 13) // 2 = 493
    assert resized_crop_box(1000, 10, (0.08, 1.0), (3 / 4, 4 / 3), np.random.default_rng(0)) == (0, 493, 10, 13)
    assert resized_crop_box(10, 1000, (0.08, 1.0), (3 / 4, 4 / 3), np.random.default_rng(0)) == (493, 0, 13, 10)


def test_color_jitter_is_torchvisions_adjustments_in_the_drawn_order():
    img = picture(64, 48)
    ours = color_jitter(img, [1.3, 0.7, 1.2], [2, 0, 1])
    reference = TF.adjust_contrast(TF.adjust_brightness(TF.adjust_saturation(img, 1.2), 1.3), 0.7)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(reference))
    with pytest.raises(ConfigError, match="color_jitter"):
        TrainCrop({"color_jitter": [0.4, 0.4]})


def standard_cfg(name, root, *extra):
    return compose([f"dataset={name}", f"dataset.root={root}", "dataset.image_size=16", *extra]).dataset


def test_imagenet_standard_keeps_the_files_and_decodes_per_batch(tmp_path):
    imagenet_fixture(tmp_path, per_class=(4, 2))
    bundle = build_data(standard_cfg("imagenet", tmp_path))
    images = bundle.train.images
    assert isinstance(images, EncodedImages) and images.shape == (12, 3, 16, 16) and images.eval_resize == 18  # 16 / 0.875
    assert not (tmp_path / "cache").exists() and not choose_resident(bundle.train, torch.device("cpu"), "auto", 8.0)
    assert bundle.train.targets.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    loader = SplitLoader(bundle.test, torch.device("cpu"), resident=False, num_workers=0)
    [(batch, y, index)] = list(loader.batches(torch.arange(6), 6))
    assert batch.dtype == torch.uint8 and batch.shape == (6, 3, 16, 16) and y.tolist() == [0, 0, 1, 1, 2, 2]
    first = Image.open(tmp_path / "val" / "n01440764" / "n01440764_0.JPEG").convert("RGB")
    expected = np.asarray(T.Compose([T.Resize(18), T.CenterCrop(16)])(first)).transpose(2, 0, 1)
    np.testing.assert_array_equal(batch[0].numpy(), expected)
    with pytest.raises(ConfigError, match="decode=cache"):
        SplitLoader(bundle.train, torch.device("cpu"), resident=True)


def test_crops_follow_the_sample_not_the_worker_or_the_process(tmp_path):
    """Each training crop is seeded by (step seed, position in the global batch): 0 or 2 workers, 1 process or the
    two halves of 2 processes give the same batch, and a second pass (a resumed run) gives it again."""
    imagenet_fixture(tmp_path, per_class=(4, 2))
    bundle = build_data(standard_cfg("imagenet", tmp_path))
    order = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    whole = list(SplitLoader(bundle.train, torch.device("cpu"), False, 0).load([order[:8], order[8:]], [(11, 0), (12, 0)]))
    again = list(SplitLoader(bundle.train, torch.device("cpu"), False, 2).load([order[:8], order[8:]], [(11, 0), (12, 0)]))
    for (a, _, ia), (b, _, ib) in zip(whole, again):
        assert torch.equal(a, b) and torch.equal(ia, ib)
    halves = []
    for rank in range(2):
        part = BatchPart.of(order[:8], fake(rank, 2))
        [(images, _, index)] = list(SplitLoader(bundle.train, torch.device("cpu"), False, 0).load([part.index], [(11, part.start)]))
        halves.append(images)
    assert torch.equal(torch.cat(halves), whole[0][0])
    assert not torch.equal(whole[0][0][:4], whole[1][0][:4])  # another step: other crops


def test_imagenet_lt_and_webvision_read_their_layouts_with_the_standard_transforms(tmp_path):
    from test_lt_datasets import WNIDS

    root = tmp_path / "imagenet"
    lines = []
    for c, wnid in enumerate(WNIDS):
        for i in range(3):
            write_image(root / f"train/{wnid}/{wnid}_{i}.JPEG", 50 * c, size=(40, 40), top_red=255 - 50 * c)
            lines.append(f"train/{wnid}/{wnid}_{i}.JPEG {c}")
    for split in ("train", "val", "test"):
        (root / f"ImageNet_LT_{split}.txt").write_text("\n".join(lines) + "\n")
    lt = build_data(standard_cfg("imagenet_lt", root))
    assert isinstance(lt.val.images, EncodedImages) and len(lt.train) == 9 and lt.test.images.eval_resize == 18
    webvision_fixture(tmp_path / "webvision")
    wv = build_data(standard_cfg("webvision", tmp_path / "webvision", "dataset.sources=[flickr]"))
    rows = decode_rows(wv.train.images, np.arange(3), (5, 0))
    assert rows.shape == (3, 3, 16, 16) and rows.dtype == np.uint8
    blue = rows[:, 2].mean()
    assert abs(blue - 10) <= 4  # the flickr fixtures' blue channel, through JPEG, crop and resize


def test_a_run_on_the_imagenet_layout_with_workers_decoding(tmp_path):
    """The trainer's standard path: DataLoader workers decode and crop, the device only normalises; the
    experiments' ColorJitter applies in the workers."""
    imagenet_fixture(tmp_path / "imagenet")
    cfg = compose([*TINY, "dataset=imagenet", f"dataset.root={tmp_path / 'imagenet'}", "dataset.image_size=16",
                   "backbone=deepid2", "method=ce", "trainer.batch_size=4", "trainer.eval_batch_size=4",
                   "trainer.num_workers=1", "dataset.augment.color_jitter=[0.4,0.4,0.4]"])
    from dcl_runner.train import Trainer

    trainer = Trainer(cfg, tmp_path / "run")
    assert trainer.train_loader.crops_in_workers and trainer.augment.crop == "none" and not trainer.augment.flip
    final = trainer.run()
    assert 0 <= final["top1"] <= 100


def test_a_packed_set_decodes_to_the_same_pixels_without_its_files(tmp_path):
    """ImageNet-LT (list files) packed into one file + index: the same batches with the image files deleted."""
    import shutil

    from dcl_runner.data.packed import main as pack
    from dcl_runner.errors import DatasetError
    from test_lt_datasets import WNIDS

    root = tmp_path / "imagenet"
    lines = []
    for c, wnid in enumerate(WNIDS):
        for i in range(3):
            write_image(root / f"train/{wnid}/{wnid}_{i}.JPEG", 50 * c + 7 * i, size=(40 + 4 * i,) * 2,
                        top_red=255 - (50 * c + 7 * i))
            lines.append(f"train/{wnid}/{wnid}_{i}.JPEG {c}")
    for split in ("train", "val", "test"):
        (root / f"ImageNet_LT_{split}.txt").write_text("\n".join(lines) + "\n")
    files = build_data(standard_cfg("imagenet_lt", root)).train.images
    expected = [decode_rows(files, np.arange(9), (3, 0)), decode_rows(files, np.arange(9))]
    assert pack([f"dataset=imagenet_lt", f"dataset.root={root}", "--out", str(tmp_path / "packs")]) == 0
    shutil.rmtree(root / "train")  # the lists stay, the images go
    packed = build_data(standard_cfg("imagenet_lt", root, f"dataset.packed_dir={tmp_path / 'packs'}")).train.images
    np.testing.assert_array_equal(decode_rows(packed, np.arange(9), (3, 0)), expected[0])
    np.testing.assert_array_equal(decode_rows(packed[np.array([4, 0])], np.arange(2)), expected[1][[4, 0]])
    import pickle

    in_a_worker = pickle.loads(pickle.dumps(packed))  # what a DataLoader worker gets: the map is reopened there
    assert in_a_worker.sources._data is None
    np.testing.assert_array_equal(decode_rows(in_a_worker, np.arange(9)), expected[1])
    (root / "ImageNet_LT_val.txt").write_text(f"train/{WNIDS[0]}/other.JPEG 0\n")
    with pytest.raises(DatasetError, match="other.JPEG is listed by the dataset but not in the pack"):
        build_data(standard_cfg("imagenet_lt", root, f"dataset.packed_dir={tmp_path / 'packs'}"))


def test_colour_jitter_on_the_cache_path_is_said_not_to_apply(caplog):
    """decode=cache crops on the device, which has no colour jitter: a run that asks for it is told, not silently
    trained without it; the standard path's device half only normalises (crop and flip were done in the workers)."""
    import logging

    from dcl_runner.data.augment import build_augment

    d = compose(["dataset=imagenet", "dataset.decode=cache", "dataset.augment.color_jitter=[0.4,0.4,0.4]"]).dataset
    with caplog.at_level(logging.WARNING, logger="dcl_runner.data.augment"):
        cached = build_augment(d)
    assert cached.crop == "resized" and cached.flip
    assert "color_jitter=[0.4, 0.4, 0.4] is not applied" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dcl_runner.data.augment"):
        in_workers = build_augment(d, crops_in_workers=True)
    assert in_workers.crop == "none" and not in_workers.flip and caplog.text == ""


def test_the_config_check_does_not_claim_the_standard_pipelines_jitter_is_dropped(caplog):
    """experiment=th_imagenet_lt (decode standard, colour jitter 0.4 in the workers): checking its config says nothing
    about colour jitter; the same jitter with decode=cache is still warned about when the run builds its augmentation."""
    import logging

    from dcl_runner.config_check import check_config

    with caplog.at_level(logging.WARNING, logger="dcl_runner.data.augment"):
        check_config(compose(["experiment=th_imagenet_lt"]))
    assert "color_jitter" not in caplog.text
