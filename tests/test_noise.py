"""Label noise (DP sec. 3.4): both modes corrupt the requested fraction of the training set, never the test set."""
import numpy as np
import pytest

from dcl_runner.data import build_data
from dcl_runner.data.noise import permute_noise, uniform_noise
from dcl_runner.errors import ConfigError
from dcl_runner.testing import compose


@pytest.mark.parametrize("rate", [0.2, 0.4, 0.8, 1.0])
def test_uniform_noise_replaces_a_rate_fraction_by_uniform_classes(rate):
    rng = np.random.default_rng(0)
    classes, n = 10, 20000
    targets = rng.integers(0, classes, n)
    new, noisy = uniform_noise(targets, classes, rate, seed=1)
    # a replaced label differs from the true one with probability (C-1)/C
    assert noisy.mean() == pytest.approx(rate * (classes - 1) / classes, abs=0.015)
    assert np.array_equal(noisy, new != targets) and np.array_equal(new[~noisy], targets[~noisy])
    assert np.bincount(new[noisy], minlength=classes).min() > 0.7 * noisy.sum() / classes  # spread over classes
    if rate == 1.0:  # all labels random: independent of the true class
        agree = (new == targets).mean()
        assert agree == pytest.approx(1 / classes, abs=0.015)


@pytest.mark.parametrize("rate", [0.2, 0.4, 0.8])
def test_permute_noise_shuffles_the_labels_of_a_rate_fraction(rate):
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 10, 1000)
    new, noisy = permute_noise(targets, rate, seed=3)
    assert np.array_equal(np.sort(new), np.sort(targets))  # same labels, shuffled
    assert (new != targets).sum() == noisy.sum() <= int(rate * 1000)
    assert noisy.sum() > 0.85 * rate * 1000  # a shuffle keeps about 1/C of the chosen labels
    new2, _ = permute_noise(targets, rate, seed=3)
    assert np.array_equal(new, new2)


@pytest.mark.parametrize("mode", ["uniform", "permute"])
def test_build_data_corrupts_train_only_and_records_the_mask(mode):
    base = ["dataset=digits_lt", "dataset.imbalance_ratio=null"]
    clean = build_data(compose(base).dataset)
    noisy = build_data(compose([*base, "dataset.noise.rate=0.4", f"dataset.noise.mode={mode}"]).dataset)
    assert np.array_equal(noisy.test.targets, clean.test.targets)
    assert np.array_equal(noisy.test.images, clean.test.images)
    mask = noisy.meta["noisy_mask"]
    assert np.array_equal(mask, noisy.train.targets != clean.train.targets)
    assert np.array_equal(noisy.meta["clean_targets"], clean.train.targets)
    assert 0.3 < mask.mean() <= 0.4
    oracle = build_data(compose([*base, "dataset.noise.rate=0.4", f"dataset.noise.mode={mode}", "dataset.subset=clean"]).dataset)
    assert len(oracle.train) == (~mask).sum()
    assert not oracle.meta["noisy_mask"].any()
    assert np.array_equal(oracle.train.targets, clean.train.targets[~mask])


def test_noise_seed_is_independent_of_the_run_seed_and_bad_mode_is_an_error():
    cfg = compose(["dataset=digits_lt", "dataset.noise.rate=0.4"]).dataset
    assert np.array_equal(build_data(cfg, seed=0).meta["noisy_mask"], build_data(cfg, seed=7).meta["noisy_mask"])
    cfg.noise.mode = "pairflip"
    with pytest.raises(ConfigError, match="noise.mode"):
        build_data(cfg)
    with pytest.raises(ConfigError, match="subset=clean"):
        build_data(compose(["dataset=digits_lt", "dataset.subset=clean"]).dataset)
