"""CelebA and RAP loaders on tiny fixtures written in the real on-disk formats."""
import numpy as np
import pytest

from dcl_runner.data import build_data
from dcl_runner.data.celeba_attributes import ATTRIBUTE_NAMES
from dcl_runner.data.sets.rap import imbalance_groups
from dcl_runner.errors import DatasetError
from helpers import TINY, compose, make_celeba, write_image
from dcl_runner.train import run_experiment


def file_dataset_cfg(name, root, *extra):
    """The dataset config of ``name`` read from ``root``: 16 px, cache beside it, decoded in-process."""
    return compose([f"dataset={name}", f"dataset.root={root}", f"cache_root={root}/cache", "dataset.image_size=16",
                    "dataset.decode_workers=0", *extra]).dataset


def celeba_cfg(root, *extra):
    return file_dataset_cfg("celeba", root, *extra)


def test_celeba_reads_the_torchvision_layout_and_caches(tmp_path):
    labels, partition = make_celeba(tmp_path)
    data = build_data(celeba_cfg(tmp_path))
    assert data.names == ATTRIBUTE_NAMES and data.kind == "attributes"
    assert (len(data.train), len(data.val), len(data.test)) == (6, 3, 3)
    np.testing.assert_array_equal(data.train.targets, (labels[:6] > 0).astype(np.uint8))
    assert data.train.images.shape == (6, 3, 16, 16) and data.train.images.dtype == np.uint8
    assert data.train.images[1].mean() == pytest.approx(10, abs=1)  # the second image, decoded
    assert len(list((tmp_path / "cache" / "celeba").glob("celeba-train-16x16-*.npy"))) == 1
    (tmp_path / "celeba" / "img_align_celeba" / "000001.jpg").unlink()  # cached: no JPEG is read again
    with pytest.raises(DatasetError, match="missing"):  # ... but the listed files are still checked
        build_data(celeba_cfg(tmp_path))


@pytest.mark.parametrize("damage,message", [
    (lambda base: (base / "list_attr_celeba.txt").write_text("2\nA B\n000001.jpg 1 -1\n000002.jpg 1\n"), "line 4 has 1 attribute values"),
    (lambda base: (base / "list_attr_celeba.txt").write_text("3\nA\n000001.jpg 1\n"), "declares 3 images"),
    (lambda base: (base / "list_attr_celeba.txt").write_text("1\nA\n000001.jpg 0\n"), "-1 or 1"),
    (lambda base: (base / "list_eval_partition.txt").write_text("000001.jpg 7\n"), "0|1|2"),
    (lambda base: (base / "img_align_celeba" / "000003.jpg").unlink(), "000003.jpg"),
    (lambda base: (base / "list_eval_partition.txt").unlink(), "list_eval_partition.txt"),
])
def test_celeba_malformed_files_name_the_file_and_the_problem(tmp_path, damage, message):
    make_celeba(tmp_path)
    damage(tmp_path / "celeba")
    with pytest.raises(DatasetError, match=message):
        build_data(celeba_cfg(tmp_path))


def test_celeba_smoke_caps_decode_only_what_is_kept(tmp_path):
    make_celeba(tmp_path, n=40)
    data = build_data(celeba_cfg(tmp_path, "dataset.max_train_samples=5", "dataset.max_eval_samples=4"))
    assert len(data.train) == 5 and len(data.test) == 4 and len(data.val) == 4
    cached = np.load(next((tmp_path / "cache" / "celeba").glob("celeba-train-*.npy")))
    assert len(cached) == 5


# ------------------------------------------------------------------------------------------ RAP
# RAP v1's attribute_eng, in label's column order (the RAP v1 README's list; 92 columns): 51 attributes,
# 4 viewpoints, 8 occlusions, 29 colours. Written here by hand, not read from the code.
RAP_V1_NAMES = [
    "Female", "AgeLess16", "Age17-30", "Age31-45", "BodyFat", "BodyNormal", "BodyThin", "Customer", "Clerk",
    "hs-BaldHead", "hs-LongHair", "hs-BlackHair", "hs-Hat", "hs-Glasses", "hs-Muffler",
    "ub-Shirt", "ub-Sweater", "ub-Vest", "ub-TShirt", "ub-Cotton", "ub-Jacket", "ub-SuitUp", "ub-Tight", "ub-ShortSleeve",
    "lb-LongTrousers", "lb-Skirt", "lb-ShortSkirt", "lb-Dress", "lb-Jeans", "lb-TightTrousers",
    "shoes-Leather", "shoes-Sport", "shoes-Boots", "shoes-Cloth", "shoes-Casual",
    "attach-Backpack", "attach-SingleShoulderBag", "attach-HandBag", "attach-Box", "attach-PlasticBag",
    "attach-PaperBag", "attach-HandTrunk", "attach-Other",
    "action-Calling", "action-Talking", "action-Gathering", "action-Holding", "action-Pusing", "action-Pulling",
    "action-CarrybyArm", "action-CarrybyHand",
    "faceFront", "faceBack", "faceLeft", "faceRight",
    "occlusionLeft", "occlusionRight", "occlusionUp", "occlusionDown", "occlusion-Environment",
    "occlusion-Attachment", "occlusion-Person", "occlusion-Other",
    "up-Black", "up-White", "up-Gray", "up-Red", "up-Green", "up-Blue", "up-Yellow", "up-Brown", "up-Purple",
    "up-Pink", "up-Orange", "up-Mixture",
    "low-Black", "low-White", "low-Gray", "low-Red", "low-Green", "low-Blue", "low-Yellow", "low-Mixture",
    "shoes-Black", "shoes-White", "shoes-Gray", "shoes-Red", "shoes-Green", "shoes-Blue", "shoes-Yellow",
    "shoes-Brown", "shoes-Mixture",
]
assert len(RAP_V1_NAMES) == 92 and len(set(RAP_V1_NAMES)) == 92


def make_rap(root, n=30, names=RAP_V1_NAMES, fields=None, label=None, selected=None):
    """RAP_annotation/RAP_annotation.mat as RAP v1 ships it (struct RAP_annotation: partion, label,
    attribute_chinese, attribute_eng, position, imagesname; v2-style selected_attribute optional) + RAP_dataset/."""
    from scipy.io import savemat

    rng = np.random.default_rng(1)
    num_attr = len(names)
    images = [f"CAM01_{i:04d}.png" for i in range(n)]
    for i, f in enumerate(images):
        write_image(root / "RAP_dataset" / f, 5 * i, size=(12, 30))
    if label is None:
        label = (rng.random((n, num_attr)) < 0.3).astype(np.uint8)
        label[:, 0] = 0
        label[:2, 0] = 1  # attribute 0: 2 positives in 30 -> heavily imbalanced
        label[0, 1] = 2   # an uncertain label
    partitions = np.empty((5, 1), dtype=object)
    for p in range(5):
        perm = rng.permutation(n) + 1
        partitions[p, 0] = {"train_index": perm[: 2 * n // 3].reshape(1, -1).astype(np.float64),
                            "test_index": perm[2 * n // 3:].reshape(1, -1).astype(np.float64)}
    ann = {
        "partion": partitions,
        "label": label.astype(np.float64),
        "attribute_chinese": np.array(names, dtype=object).reshape(-1, 1),
        "attribute_eng": np.array(names, dtype=object).reshape(-1, 1),
        "position": np.zeros((n, 16)),  # full body, head-shoulder, upper and lower body boxes (x, y, w, h)
        "imagesname": np.array(images, dtype=object).reshape(-1, 1),
    }
    if selected is not None:
        ann["selected_attribute"] = np.asarray(selected, dtype=np.float64).reshape(1, -1)
    for key in fields or ():
        ann.pop(key)
    (root / "RAP_annotation").mkdir(parents=True, exist_ok=True)
    savemat(str(root / "RAP_annotation" / "RAP_annotation.mat"), {"RAP_annotation": ann})
    return label, partitions


def rap_cfg(root, *extra):
    return file_dataset_cfg("rap", root, *extra)


def test_rap_reads_the_official_mat_partitions_and_groups(tmp_path):
    label, partitions = make_rap(tmp_path)
    data = build_data(rap_cfg(tmp_path))
    assert data.names == RAP_V1_NAMES[:51] and data.names[-1] == "action-CarrybyHand"
    train_rows = partitions[0, 0]["train_index"].reshape(-1).astype(int) - 1
    expected = np.where(label == 2, 0, label)[train_rows][:, :51]
    np.testing.assert_array_equal(data.train.targets, expected)
    assert len(data.train) == 20 and len(data.test) == 10 and data.train.images.shape[1:] == (3, 16, 16)
    groups = data.meta["attribute_groups"]
    assert set(groups) == {"1~25", "25~50", ">50"} and sum(map(len, groups.values())) == 51
    other = build_data(rap_cfg(tmp_path, "dataset.partition=3", "dataset.uncertain_label=positive"))
    rows3 = partitions[3, 0]["train_index"].reshape(-1).astype(int) - 1
    np.testing.assert_array_equal(other.train.targets, np.where(label == 2, 1, label)[rows3][:, :51])


def test_rap_attribute_sets_51_all_and_names(tmp_path):
    label, partitions = make_rap(tmp_path)
    train_rows = partitions[0, 0]["train_index"].reshape(-1).astype(int) - 1
    clean = np.where(label == 2, 0, label)[train_rows]
    # all: the 51 attributes and the 29 colours; not the 4 viewpoints (columns 52-55) or 8 occlusions (56-63)
    everything = build_data(rap_cfg(tmp_path, "dataset.attributes=all"))
    assert len(everything.names) == 80 and everything.names == RAP_V1_NAMES[:51] + RAP_V1_NAMES[63:]
    assert everything.names[51] == "up-Black" and not {"faceFront", "occlusion-Other"} & set(everything.names)
    np.testing.assert_array_equal(everything.train.targets, clean[:, list(range(51)) + list(range(63, 92))])
    assert sum(map(len, everything.meta["attribute_groups"].values())) == 80
    picked = build_data(rap_cfg(tmp_path, "dataset.attributes=[hs-BaldHead,up-Red]"))
    assert picked.names == ["hs-BaldHead", "up-Red"]
    np.testing.assert_array_equal(picked.train.targets, clean[:, [9, 66]])


@pytest.mark.parametrize("setting,message", [("70", "valid values are 51"), ("[hs-BaldHead,Bald]", "'Bald'")])
def test_rap_unknown_attribute_set_is_one_message(tmp_path, setting, message):
    make_rap(tmp_path)
    with pytest.raises(DatasetError, match=message):
        build_data(rap_cfg(tmp_path, f"dataset.attributes={setting}"))


def test_rap_selected_attribute_field_decides_the_51_setting(tmp_path):
    label, partitions = make_rap(tmp_path, selected=[2, 1, 12])  # 1-based, as RAP v2 files carry it
    data = build_data(rap_cfg(tmp_path))
    assert data.names == ["AgeLess16", "Female", "hs-BlackHair"]
    rows = partitions[0, 0]["train_index"].reshape(-1).astype(int) - 1
    np.testing.assert_array_equal(data.train.targets, np.where(label == 2, 0, label)[rows][:, [1, 0, 11]])


def test_imbalance_groups_follow_table_6():
    labels = np.zeros((100, 4), dtype=np.uint8)
    labels[:50, 0] = 1   # 1:1
    labels[:3, 1] = 1    # 97/3 = 32
    labels[:1, 2] = 1    # 99
    labels[:96, 3] = 1   # majority positive: 96/4 = 24
    assert imbalance_groups(labels, list("abcd")) == {"1~25": ["a", "d"], "25~50": ["b"], ">50": ["c"]}


@pytest.mark.parametrize("drop,message", [(["imagesname"], "lacks the field"), (["partion", "label"], "partion, label")])
def test_rap_mat_without_expected_fields_is_rejected(tmp_path, drop, message):
    make_rap(tmp_path, fields=drop)
    with pytest.raises(DatasetError, match=message):
        build_data(rap_cfg(tmp_path))


def test_rap_bad_shapes_partition_and_missing_images(tmp_path):
    make_rap(tmp_path, names=RAP_V1_NAMES[:40])
    with pytest.raises(DatasetError, match="need 51"):
        build_data(rap_cfg(tmp_path))
    make_rap(tmp_path)
    with pytest.raises(DatasetError, match="5 partitions"):
        build_data(rap_cfg(tmp_path, "dataset.partition=5"))
    (tmp_path / "RAP_dataset" / "CAM01_0007.png").unlink()
    with pytest.raises(DatasetError, match="missing"):
        build_data(rap_cfg(tmp_path, "dataset.max_train_samples=null"))
    with pytest.raises(DatasetError, match="RAP_annotation.mat"):
        build_data(rap_cfg(tmp_path / "nowhere"))


def test_rap_run_reports_group_mA(tmp_path):
    make_rap(tmp_path / "data")
    final = run_experiment(compose([*TINY, "dataset=rap", f"dataset.root={tmp_path}/data", f"cache_root={tmp_path}/cache",
                                    "dataset.image_size=16", "dataset.decode_workers=0", "method=dcl"]), tmp_path / "run")
    assert set(final["group_mA"]) <= {"1~25", "25~50", ">50"} and final["group_mA"]
