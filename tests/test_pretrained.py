"""backbone.pretrained (issue 11 item 14): torchvision's ImageNet weights from torch hub's checkpoint dir,
one clear message when they are missing offline, a ConfigError for a backbone without them.

No test touches the network: TORCH_HOME points at a temporary folder and torch hub's downloader is
replaced by one that fails the test if it is ever called with a file present, or that plays "offline".
"""
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
import torch.hub

from dcl_runner.config_check import check_config
from dcl_runner.errors import ConfigError
from dcl_runner.models import build_backbone
from helpers import TINY, compose
from dcl_runner.train import run_experiment

# torchvision's IMAGENET1K_V1 files (torchvision.models ResNet18_Weights / ResNet50_Weights), by hand
RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET50_URL = "https://download.pytorch.org/models/resnet50-0676ba61.pth"


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def no_download(url, *args, **kwargs):
    raise AssertionError(f"a test tried to download {url}")


def offline(url, *args, **kwargs):
    raise URLError("[Errno -3] Temporary failure in name resolution")


def test_imagenet_weights_are_read_from_torch_hubs_checkpoint_dir(torch_home, monkeypatch):
    import torchvision.models as tv

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    torch.manual_seed(3)
    state = {k: torch.randn_like(v.float()).to(v.dtype) if v.is_floating_point() else v
             for k, v in tv.resnet18(weights=None).state_dict().items()}
    (torch_home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, torch_home / "hub" / "checkpoints" / RESNET18_FILE)

    backbone = build_backbone(compose(["backbone=resnet18", "backbone.pretrained=imagenet"]).backbone, 3, 32)
    ours = backbone.state_dict()
    rename = {"stem.0": "conv1", "stem.1": "bn1", **{f"stages.{i}": f"layer{i + 1}" for i in range(4)}}
    loaded = 0
    for key, value in ours.items():
        prefix = next(p for p in rename if key.startswith(p + "."))
        torch.testing.assert_close(value, state[rename[prefix] + key[len(prefix):]], rtol=0, atol=0)
        loaded += 1
    assert loaded == len([k for k in state if not k.startswith("fc.")])  # every tensor but the ImageNet classifier


def test_missing_weights_offline_stop_the_run_with_one_message(torch_home, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    cfg = compose([*TINY, "backbone=resnet50", "backbone.width=1.0", "backbone.pretrained=imagenet",
                   "dataset.num_train=64", "dataset.num_test=32"])
    with pytest.raises(ConfigError) as info:
        run_experiment(cfg, torch_home.parent / "run")
    message = str(info.value)
    expected_file = torch_home / "hub" / "checkpoints" / "resnet50-0676ba61.pth"
    assert f"place it as {expected_file}" in message and RESNET50_URL in message
    assert "ResNet50_Weights.IMAGENET1K_V1" in message and "backbone.pretrained=null" in message
    assert not (torch_home.parent / "run" / "history.csv").exists()  # stopped before training


def test_an_unreadable_weights_file_is_one_message(torch_home, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    (torch_home / "hub" / "checkpoints").mkdir(parents=True)
    (torch_home / "hub" / "checkpoints" / RESNET18_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="could not be read.*Delete it"):
        build_backbone(compose(["backbone=resnet18", "backbone.pretrained=imagenet"]).backbone, 3, 32)


@pytest.mark.parametrize("overrides,message", [
    (["backbone=deepid2"], "backbone 'deepid2' has no ImageNet weights"),
    (["backbone=resnet32"], "backbone 'resnet32' has no ImageNet weights"),
    (["backbone=resnet50", "backbone.width=0.25"], "backbone.width=1.0"),
    (["backbone=resnet18_cifar"], "backbone.stem=imagenet"),
    (["backbone=resnet50", "backbone.weights=/tmp/mine.pt"], "choose one"),
])
def test_pretrained_imagenet_only_for_torchvision_shaped_backbones(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_config(compose([*overrides, "backbone.pretrained=imagenet"]))


def test_pretrained_takes_null_or_imagenet():
    with pytest.raises(ConfigError, match="unknown value 'yes' for backbone.pretrained; valid values are null"):
        check_config(compose(["backbone=resnet50", "backbone.pretrained=yes"]))


def test_every_backbone_has_the_key_and_starts_random():
    names = sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "backbone").glob("*.yaml"))
    for name in names:
        backbone = compose([f"backbone={name}"]).backbone
        assert "pretrained" in backbone and backbone.pretrained is None, name


def test_rap_protocol_starts_from_imagenet_and_its_smoke_budget_from_random_weights():
    assert compose(["experiment=dcl_rap"]).backbone.pretrained == "imagenet"
    cfg = compose(["experiment=dcl_rap", "budget=smoke"])
    assert cfg.backbone.pretrained is None and cfg.backbone.width == 0.25
    check_config(cfg)
