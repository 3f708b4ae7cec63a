"""Datasets in their real on-disk formats (tiny fixtures), long-tail profile, caps, augmentation."""
import gzip
import pickle

import numpy as np
import pytest
import torch

from dcl_runner.data import build_data
from dcl_runner.data.augment import Augment, pad_crop
from dcl_runner.data.longtail import longtail_counts, longtail_indices, stratified_cap
from dcl_runner.errors import DatasetError
from helpers import compose


def test_longtail_counts_match_the_literature():
    assert sum(longtail_counts(5000, 10, 100)) == 12406
    assert sum(longtail_counts(500, 100, 100)) == 10847
    counts = longtail_counts(5000, 10, 100)
    assert counts[0] == 5000 and counts[-1] == 50


def test_longtail_indices_follow_the_profile_and_are_seeded():
    targets = np.repeat(np.arange(4), 100)
    idx = longtail_indices(targets, 4, 10.0, seed=3)
    assert np.bincount(targets[idx]).tolist() == longtail_counts(100, 4, 10.0)
    assert np.array_equal(idx, longtail_indices(targets, 4, 10.0, seed=3))
    assert not np.array_equal(idx, longtail_indices(targets, 4, 10.0, seed=4))


def test_stratified_cap_keeps_every_class():
    targets = np.array([0] * 1000 + [1] * 10 + [2] * 1)
    keep = stratified_cap(targets, 100)
    assert set(targets[keep]) == {0, 1, 2} and len(keep) <= 102


def write_cifar10(root, n_train=20, n_test=10, rng=np.random.default_rng(0)):
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    for i in range(1, 6):
        batch = {"data": rng.integers(0, 256, (n_train, 3072), dtype=np.uint8), "labels": list(rng.integers(0, 10, n_train))}
        (base / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    test = {"data": rng.integers(0, 256, (n_test, 3072), dtype=np.uint8), "labels": list(np.arange(n_test) % 10)}
    (base / "test_batch").write_bytes(pickle.dumps(test))
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))


def test_cifar10_from_its_pickles(tmp_path):
    write_cifar10(tmp_path)
    data = build_data(compose(["dataset=cifar10", f"dataset.root={tmp_path}"]).dataset)
    assert len(data.train) == 100 and len(data.test) == 10
    assert data.train.images.shape[1:] == (3, 32, 32) and data.names[3] == "c3"


def test_cifar100_lt_from_its_pickles(tmp_path):
    base = tmp_path / "cifar-100-python"
    base.mkdir()
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(100), 5)
    train = {"data": rng.integers(0, 256, (500, 3072), dtype=np.uint8), "fine_labels": list(labels)}
    (base / "train").write_bytes(pickle.dumps(train))
    (base / "test").write_bytes(pickle.dumps({"data": train["data"][:100], "fine_labels": list(range(100))}))
    data = build_data(compose(["dataset=cifar100_lt", f"dataset.root={tmp_path}"]).dataset)
    assert np.bincount(data.train.targets, minlength=100).tolist() == longtail_counts(5, 100, 100)
    assert len(data.test) == 100  # the test set stays balanced


def test_mnist_from_idx_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 12), ("t10k", 6)):
        images = np.arange(n * 28 * 28, dtype=np.uint64).astype(np.uint8).reshape(n, 28, 28)
        header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in (n, 28, 28))
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        labels = (np.arange(n) % 10).astype(np.uint8)
        with gzip.open(raw / f"{prefix}-labels-idx1-ubyte.gz", "wb") as fh:
            fh.write(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.tobytes())
    data = build_data(compose(["dataset=mnist", f"dataset.root={tmp_path}"]).dataset)
    assert data.train.images.shape == (12, 1, 28, 28) and data.test.targets.tolist() == [0, 1, 2, 3, 4, 5]


def test_svhn_from_mat_files(tmp_path):
    from scipy.io import savemat

    for split in ("train", "test"):
        savemat(tmp_path / f"{split}_32x32.mat", {"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.array([[10], [1], [2], [3]])})
    data = build_data(compose(["dataset=svhn", f"dataset.root={tmp_path}"]).dataset)
    assert data.train.targets.tolist() == [0, 1, 2, 3]


def test_missing_dataset_says_what_where_and_how(tmp_path):
    with pytest.raises(DatasetError) as err:
        build_data(compose(["dataset=cifar10", f"dataset.root={tmp_path}"]).dataset)
    message = str(err.value)
    assert "cifar-10-batches-py" in message and str(tmp_path) in message and "dataset.download=true" in message


def test_malformed_cifar_batch_names_the_file(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="data_batch_3"):
        build_data(compose(["dataset=cifar10", f"dataset.root={tmp_path}"]).dataset)


def test_digits_lt_is_real_long_tailed_and_balanced_at_test():
    data = build_data(compose(["dataset=digits_lt"]).dataset)
    counts = np.bincount(data.train.targets, minlength=10)
    assert counts[0] > counts[-1] and counts[0] / counts[-1] == pytest.approx(10, rel=0.1)
    assert np.bincount(data.test.targets).tolist() == [30] * 10
    assert data.train.images.shape[1:] == (1, 16, 16)


def test_synthetic_attributes_are_deterministic_with_celeba_rates():
    cfg = compose(["dataset.num_train=3000", "dataset.num_test=10"]).dataset
    a, b = build_data(cfg), build_data(cfg)
    assert np.array_equal(a.train.images, b.train.images) and a.train.targets.shape == (3000, 40)
    rates = a.train.targets.mean(0)
    assert rates[a.names.index("Bald")] == pytest.approx(0.02, abs=0.01)
    assert rates[a.names.index("No_Beard")] == pytest.approx(0.83, abs=0.03)


def test_pad_crop_matches_a_per_sample_reference():
    x = torch.arange(2 * 1 * 5 * 5, dtype=torch.uint8).view(2, 1, 5, 5)
    gen = torch.Generator().manual_seed(0)
    out = pad_crop(x, 2, gen)
    gen = torch.Generator().manual_seed(0)
    oy, ox = torch.randint(0, 5, (2,), generator=gen), torch.randint(0, 5, (2,), generator=gen)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        assert torch.equal(out[i], padded[i, :, oy[i] : oy[i] + 5, ox[i] : ox[i] + 5])


def test_augment_is_reproducible_and_normalised():
    aug = Augment(16, [0.5] * 3, [0.25] * 3, crop="resized", padding=4, scale=[0.08, 1.0], ratio=[0.75, 4 / 3], flip=True)
    x = torch.randint(0, 256, (4, 3, 24, 24), dtype=torch.uint8)
    a = aug.train(x, torch.Generator().manual_seed(1))
    b = aug.train(x, torch.Generator().manual_seed(1))
    assert a.shape == (4, 3, 16, 16) and torch.equal(a, b) and a.is_contiguous()
    assert aug.eval(torch.full((1, 3, 16, 16), 128, dtype=torch.uint8)).abs().max() < 0.02
