"""The seam's hooks for two-stage / two-branch methods: trainer.init_from, param_groups, train_mode,
TrainContext.fetch, and the default final outputs (classifier weight norms)."""
import numpy as np
import pytest
import torch

import dcl_runner.train as train_module
from dcl_runner.errors import ConfigError
from dcl_runner.methods.base import Method
from helpers import TINY, compose
from dcl_runner.train import Trainer, run_experiment

DIGITS = [*TINY, "dataset=digits_lt", "backbone=resnet32", "dataset.max_train_samples=64"]


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    """A finished CE run whose checkpoint later runs start from."""
    run_dir = tmp_path_factory.mktemp("source")
    run_experiment(compose(DIGITS), run_dir)
    return run_dir


def test_ce_run_saves_class_counts_and_weight_norms(source_run):
    norms = np.load(source_run / "curves" / "classifier_weight_norm.npy")
    counts = np.load(source_run / "curves" / "class_train_counts.npy")
    state = torch.load(source_run / "checkpoints" / "last.pt", weights_only=False)["model"]
    np.testing.assert_allclose(norms, state["head.fc.weight"].norm(dim=1).numpy(), rtol=1e-6)
    assert counts.shape == (10,) and counts[0] > counts[-1]


def test_init_from_copies_matching_weights_and_reinitialises_the_rest(source_run, tmp_path):
    source = torch.load(source_run / "checkpoints" / "last.pt", weights_only=False)["model"]
    # same model: every tensor comes over (run folder or the .pt file itself)
    for where in (source_run, source_run / "checkpoints" / "last.pt"):
        trainer = Trainer(compose([*DIGITS, f"trainer.init_from={where}"]), tmp_path / "a")
        own = trainer.model.state_dict()
        assert all(torch.equal(own[k], source[k]) for k in source)
    # two-head model: the backbone comes over, the K-way head (another shape) keeps its own init
    trainer = Trainer(compose([*DIGITS, "method=twohead", f"trainer.init_from={source_run}"]), tmp_path / "b")
    own = trainer.model.state_dict()
    assert torch.equal(own["backbone.conv1.weight"], source["backbone.conv1.weight"])
    assert own["head.fc.weight"].shape != source["head.fc.weight"].shape


def test_init_from_a_missing_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="init_from"):
        Trainer(compose([*DIGITS, f"trainer.init_from={tmp_path / 'nowhere'}"]), tmp_path / "a")


class ClassifierOnly(Method):
    """cRT-style stage 2: only the classifier trains (own lr), the backbone's BatchNorm stays in eval mode."""

    def param_groups(self, model):
        for p in model.backbone.parameters():
            p.requires_grad_(False)
        return [{"params": list(model.head.parameters()), "lr": 0.5}]

    def train_mode(self, model):
        model.backbone.eval()


def test_param_groups_and_train_mode_freeze_the_backbone(source_run, tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "build_method", lambda cfg, task: ClassifierOnly(task, branch_dim=cfg.branch_dim))
    source = torch.load(source_run / "checkpoints" / "last.pt", weights_only=False)["model"]
    cfg = compose([*DIGITS, f"trainer.init_from={source_run}", "trainer.lr_schedule.name=constant"])
    run_experiment(cfg, tmp_path)
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=False)
    after = state["model"]
    backbone = [k for k in source if k.startswith("backbone.")]
    assert all(torch.equal(after[k], source[k]) for k in backbone)  # weights and BatchNorm statistics
    assert not torch.equal(after["head.fc.weight"], source["head.fc.weight"])
    assert state["optimizer"]["param_groups"][0]["lr"] == 0.5


class FetchProbe(Method):
    """Checks TrainContext.fetch against the training targets and iterate_train."""

    seen = {}

    def setup(self, ctx):
        idx = torch.tensor([5, 0, 3])
        x, y, index = ctx.fetch(idx, torch.Generator().manual_seed(1))
        x2, _, _ = ctx.fetch(idx, torch.Generator().manual_seed(1))
        plain, _, _ = ctx.fetch(idx, augment=False)
        first, _, _ = next(ctx.iterate_train(8))
        FetchProbe.seen = dict(
            y_ok=torch.equal(y, ctx.train_targets[idx]), index_ok=torch.equal(index.cpu(), idx),
            reproducible=torch.equal(x, x2), plain_ok=torch.allclose(plain, first[idx]), shape=tuple(x.shape),
        )


@pytest.mark.parametrize("resident", ["true", "false"])
def test_fetch_returns_augmented_samples_by_index(tmp_path, monkeypatch, resident):
    monkeypatch.setattr(train_module, "build_method", lambda cfg, task: FetchProbe(task, branch_dim=cfg.branch_dim))
    trainer = Trainer(compose([*DIGITS, f"dataset.resident={resident}"]), tmp_path)
    assert trainer.train_loader.resident == (resident == "true")
    trainer.method.setup(trainer.train_context())
    seen = FetchProbe.seen
    assert seen["y_ok"] and seen["index_ok"] and seen["reproducible"] and seen["plain_ok"]
    assert seen["shape"] == (3, 1, 16, 16)
