"""Label noise (DP sec. 3.4): both modes corrupt the requested fraction of the training set, never the test set;
the draw follows the run seed unless fixed; the oracle trains on the samples not chosen for corruption."""
import numpy as np
import pytest

from dcl_runner.data import build_data
from dcl_runner.data.noise import permute_noise, uniform_noise
from dcl_runner.errors import ConfigError
from dcl_runner.config import cell_key, run_identity
from helpers import compose

DIGITS = ["dataset=digits_lt", "dataset.imbalance_ratio=null"]  # 1,497 training images


@pytest.mark.parametrize("rate", [0.2, 0.4, 0.8, 1.0])
def test_uniform_noise_replaces_a_rate_fraction_by_uniform_classes(rate):
    rng = np.random.default_rng(0)
    classes, n = 10, 20000
    targets = rng.integers(0, classes, n)
    new, noisy, chosen = uniform_noise(targets, classes, rate, seed=1)
    # each sample is chosen with probability rate (3 sigma of a binomial: 3 * sqrt(0.25 / 20000) < 0.011)
    assert chosen.mean() == pytest.approx(rate, abs=0.011)
    # a replaced label differs from the true one with probability (C-1)/C
    assert noisy.mean() == pytest.approx(rate * (classes - 1) / classes, abs=0.015)
    assert np.array_equal(noisy, new != targets) and not (noisy & ~chosen).any()
    assert np.array_equal(new[~chosen], targets[~chosen])
    assert np.bincount(new[noisy], minlength=classes).min() > 0.7 * noisy.sum() / classes  # spread over classes
    if rate == 1.0:  # all labels random: independent of the true class
        agree = (new == targets).mean()
        assert agree == pytest.approx(1 / classes, abs=0.015)


@pytest.mark.parametrize("rate, chosen_count", [(0.2, 200), (0.4, 400), (0.8, 800)])
def test_permute_noise_shuffles_the_labels_of_a_rate_fraction(rate, chosen_count):
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 10, 1000)
    new, noisy, chosen = permute_noise(targets, rate, seed=3)
    assert np.array_equal(np.sort(new), np.sort(targets))  # same labels, shuffled
    assert chosen.sum() == chosen_count  # floor(rate * 1000)
    assert (new != targets).sum() == noisy.sum() < chosen_count and not (noisy & ~chosen).any()
    assert noisy.sum() > 0.85 * chosen_count  # a shuffle keeps about 1/C of the chosen labels
    new2, _, _ = permute_noise(targets, rate, seed=3)
    assert np.array_equal(new, new2)


@pytest.mark.parametrize("mode", ["uniform", "permute"])
def test_build_data_corrupts_train_only_and_records_the_masks(mode):
    clean = build_data(compose(DIGITS).dataset)
    noisy = build_data(compose([*DIGITS, "dataset.noise.rate=0.4", f"dataset.noise.mode={mode}"]).dataset)
    assert np.array_equal(noisy.test.targets, clean.test.targets)
    assert np.array_equal(noisy.test.images, clean.test.images)
    mask, chosen = noisy.meta["noisy_mask"], noisy.meta["noise_chosen_mask"]
    assert np.array_equal(mask, noisy.train.targets != clean.train.targets) and not (mask & ~chosen).any()
    assert np.array_equal(noisy.meta["clean_targets"], clean.train.targets)
    assert 0.3 < mask.mean() <= 0.4


def test_the_oracle_keeps_the_samples_not_chosen_for_corruption():
    """DP sec. 3.4: "with 40% noise, we train only on 60% clean data". Permute mode chooses exactly
    floor(0.4 * 1497) = 598 samples, so the oracle keeps 1497 - 598 = 899, fewer than the samples whose label
    survived (a shuffled label can land on its old value)."""
    over = [*DIGITS, "dataset.noise.rate=0.4", "dataset.noise.mode=permute"]
    full = build_data(compose(over).dataset)
    oracle = build_data(compose([*over, "dataset.subset=clean"]).dataset)
    assert len(full.train) == 1497 and len(oracle.train) == 899
    assert (~full.meta["noisy_mask"]).sum() > 899  # the old rule (label unchanged) would keep more
    assert not oracle.meta["noisy_mask"].any() and not oracle.meta["noise_chosen_mask"].any()
    keep = ~full.meta["noise_chosen_mask"]
    assert np.array_equal(oracle.train.targets, full.meta["clean_targets"][keep])
    # uniform mode (the paper's text): the chosen set, not the unchanged labels (about 0.6 + 0.4/C of them)
    over = [*DIGITS, "dataset.noise.rate=0.4"]
    full, oracle = build_data(compose(over).dataset), build_data(compose([*over, "dataset.subset=clean"]).dataset)
    assert len(oracle.train) == (~full.meta["noise_chosen_mask"]).sum() < (~full.meta["noisy_mask"]).sum()


def test_the_noise_draw_follows_the_run_seed_unless_fixed():
    cfg = compose([*DIGITS, "dataset.noise.rate=0.4"]).dataset
    assert cfg.noise.seed is None
    seed0, seed1 = (np.flatnonzero(build_data(cfg, seed=s).meta["noise_chosen_mask"]) for s in (0, 1))
    assert not np.array_equal(seed0, seed1)
    cfg.noise.seed = 5
    fixed0, fixed1 = (np.flatnonzero(build_data(cfg, seed=s).meta["noise_chosen_mask"]) for s in (0, 1))
    assert np.array_equal(fixed0, fixed1) and not np.array_equal(fixed0, seed0)


def test_a_cells_seeds_still_group_into_one_cell():
    """noise.seed=null is part of the config, not the seed: the seeds of a table cell share its cell key."""
    runs = [compose([*DIGITS, "dataset.noise.rate=0.4", "method=ce", f"seed={s}"]) for s in (0, 1)]
    assert cell_key(runs[0]) == cell_key(runs[1]) and run_identity(runs[0]) != run_identity(runs[1])
    fixed = compose([*DIGITS, "dataset.noise.rate=0.4", "method=ce", "dataset.noise.seed=0"])
    assert cell_key(fixed) != cell_key(runs[0])  # a fixed draw is another protocol, another cell


def test_bad_noise_settings_are_config_errors():
    cfg = compose([*DIGITS, "dataset.noise.rate=0.4"]).dataset
    cfg.noise.mode = "pairflip"
    with pytest.raises(ConfigError, match="noise.mode"):
        build_data(cfg)
    cfg.noise.mode, cfg.noise.seed = "uniform", "abc"
    with pytest.raises(ConfigError, match="noise.seed"):
        build_data(cfg)
    with pytest.raises(ConfigError, match="subset=clean"):
        build_data(compose(["dataset=digits_lt", "dataset.subset=clean"]).dataset)


HOLDOUT = [*DIGITS, "dataset.noise.rate=0.4", "dataset.clean_holdout.size=100"]


def test_the_clean_holdout_keeps_true_labels_and_one_draw_for_every_run():
    """dataset.clean_holdout (data/holdout.py): 100 images drawn by clean_holdout.seed, with their true labels,
    no longer counted as chosen or noisy; the same images for every run seed (noise redraws per seed)."""
    full = build_data(compose(HOLDOUT).dataset, seed=0)
    mask = full.meta["clean_holdout_mask"]
    assert mask.sum() == 100 and len(full.train) == 1497
    assert np.array_equal(full.train.targets[mask], full.meta["clean_targets"][mask])
    assert not (full.meta["noisy_mask"] & mask).any() and not (full.meta["noise_chosen_mask"] & mask).any()
    # the other images carry the run's noise untouched
    plain = build_data(compose([*DIGITS, "dataset.noise.rate=0.4"]).dataset, seed=0)
    assert np.array_equal(full.train.targets[~mask], plain.train.targets[~mask])
    other_seed = build_data(compose(HOLDOUT).dataset, seed=1)
    assert np.array_equal(other_seed.meta["clean_holdout_mask"], mask)
    other_draw = build_data(compose([*HOLDOUT, "dataset.clean_holdout.seed=1"]).dataset, seed=0)
    assert not np.array_equal(other_draw.meta["clean_holdout_mask"], mask)


def test_the_smoke_cap_keeps_held_out_and_training_images_of_every_class():
    capped = build_data(compose([*HOLDOUT, "dataset.max_train_samples=100"]).dataset)
    mask, targets = capped.meta["clean_holdout_mask"], capped.train.targets
    assert set(targets[mask]) == set(range(10)) and set(targets[~mask]) == set(range(10))
    assert np.array_equal(targets[mask], capped.meta["clean_targets"][mask])


def test_a_holdout_goes_with_a_method_that_learns_from_it(tmp_path):
    """A hold-out with a method that would train on it is refused before any data is read; a method that learns from
    one and has none stops with one message before the first step (and the run records why)."""
    import json

    from dcl_runner.config_check import check_config
    from dcl_runner.train import run_experiment
    from helpers import TINY

    with pytest.raises(ConfigError, match="method=ce does not learn from a clean hold-out"):
        check_config(compose([*HOLDOUT, "method=ce"]))
    check_config(compose([*HOLDOUT, "method=l2rw"]))
    with pytest.raises(ConfigError, match="method=l2rw learns from a clean hold-out.*dataset.clean_holdout.size"):
        run_experiment(compose([*DIGITS, *TINY, "method=l2rw", "backbone=resnet32", "backbone.width=0.25"]), tmp_path / "r")
    assert "clean hold-out" in json.loads((tmp_path / "r" / "metrics.json").read_text())["reason"]
    with pytest.raises(ConfigError, match=r"clean_holdout.size=5000: expected an integer in \[0, 1497\)"):
        build_data(compose([*DIGITS, "dataset.clean_holdout.size=5000"]).dataset)
