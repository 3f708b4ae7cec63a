"""Every YAML in conf/ composes, and every backbone builds and runs a forward pass."""

import pytest
import torch

from dcl_runner.config import CONFIG_DIR
from dcl_runner.config_check import check_config
from dcl_runner.models import BACKBONES, build_backbone
from helpers import compose

GROUPS = ["dataset", "backbone", "method", "scheduler", "budget", "experiment"]


def options(group):
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes_and_passes_checks(group, option):
    cfg = compose([f"{group}={option}"])
    check_config(cfg)
    assert cfg.dataset.name and cfg.backbone.name and cfg.method.name


def test_smoke_budget_shrinks_the_run():
    cfg = compose(["budget=smoke"])
    assert cfg.trainer.epochs == 2 and cfg.dataset.max_train_samples == 512 and cfg.backbone.width == 0.25


@pytest.mark.parametrize("name", sorted(BACKBONES.names()))
def test_every_backbone_builds_and_runs(name):
    cfg = compose([f"backbone={name}"] if (CONFIG_DIR / "backbone" / f"{name}.yaml").exists() else []).backbone
    cfg.name, cfg.width = name, 0.25
    net = build_backbone(cfg, in_channels=3, image_size=16)
    fmap, feats = net(torch.randn(2, 3, 16, 16))
    assert fmap.shape[:2] == (2, net.out_channels)
    assert feats.shape == (2, net.feature_dim)


def test_every_registered_backbone_has_a_yaml():
    yamls = set(options("backbone"))
    configured = {compose([f"backbone={o}"]).backbone.name for o in yamls}
    assert set(BACKBONES.names()) <= configured
