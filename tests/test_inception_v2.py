"""BN-Inception (Inception-v2, Ioffe & Szegedy 2015, Figure 5) against the paper's table: each module's output
channels and the map sizes at 224 px, worked out by hand from the table; ImageNet weights are refused."""
import pytest
import torch

from dcl_runner.errors import ConfigError
from dcl_runner.models import build_backbone
from dcl_runner.models.pretrained import check
from helpers import compose

# Figure 5's output sizes: 3a 28x28x256, 3b 28x28x320, 3c 14x14x576, 4a-4b 576, 4c-4d 608 (4c: 160 + 160 + 160 +
# 128; 4d: 96 + 192 + 192 + 128), 4e 7x7x1056 (192 + 256 + 608 passed through), 5a-5b 1024
PAPER_CHANNELS = [256, 320, 576, 576, 576, 608, 608, 1056, 1024, 1024]


def test_module_outputs_and_map_sizes_follow_figure_5():
    net = build_backbone(compose(["backbone=inception_v2"]).backbone, 3, 224)
    assert [b.out_channels for b in net.blocks] == PAPER_CHANNELS
    assert net.feature_dim == 1024
    net.eval()
    x = net.stem(torch.zeros(1, 3, 224, 224))
    assert x.shape[1:] == (192, 28, 28)  # conv 7x7/2 -> 112, pool -> 56, conv 3x3 -> 56, pool -> 28
    sizes = []
    for block in net.blocks:
        x = block(x)
        sizes.append(x.shape[-1])
    assert sizes == [28, 28, 14, 14, 14, 14, 14, 7, 7, 7]
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(10.2e6, rel=0.1)  # BN-Inception: ~10-11 M


def test_imagenet_weights_are_refused_before_any_data_is_read():
    with pytest.raises(ConfigError, match="backbone 'inception_v2' has no ImageNet weights in torchvision"):
        check(compose(["backbone=inception_v2", "backbone.pretrained=imagenet"]).backbone)
