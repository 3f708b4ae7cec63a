"""ImageNet-style ResNets from torchvision (``resnet10``, ``resnet18``, ``resnet50``, ``resnext50``).

``stem: imagenet`` keeps the 7x7/2 convolution and max-pool; ``stem: cifar`` swaps them for a 3x3/1
convolution without pooling (the usual CIFAR-style ResNet-18). ``width`` scales every stage
(via torchvision's ``width_per_group`` for bottleneck nets and a rebuilt stem/stages otherwise is
avoided: width != 1 is applied by scaling the base width of all layers). Initialisation:
random; ``pretrained: imagenet`` (torchvision's ImageNet weights, see ``models/pretrained.py``); or
``weights``, a local state-dict file.
"""
from __future__ import annotations

import copy

from typing import Optional

import torch
from torch import nn

from ...errors import ConfigError, check_value
from ..base import BACKBONES, Backbone, kaiming_init, scaled
from ..pretrained import imagenet_state_dict


STEMS = {"imagenet": "7x7/2 convolution + max-pool", "cifar": "3x3/1 convolution, no pool"}
ARCHITECTURES = {  # name -> (block, blocks per stage, extra ResNet kwargs)
    "resnet10": ("BasicBlock", [1, 1, 1, 1], {}),  # OLTR's ImageNet-LT backbone (zhmiao/OLTR models/ResNet10Feature.py)
    "resnet18": ("BasicBlock", [2, 2, 2, 2], {}),
    "resnet50": ("Bottleneck", [3, 4, 6, 3], {}),
    "resnext50": ("Bottleneck", [3, 4, 6, 3], {"groups": 32, "width_per_group": 4}),  # ResNeXt-50 32x4d
}


def scaled_resnet(arch: str, width: float) -> nn.Module:
    """torchvision's ResNet with every stage's width multiplied by ``width``."""
    # imported here, not at module level: torchvision.models costs seconds to import and the
    # backbone registry imports every backbone module to discover the names
    from torchvision.models import resnet as tv

    block_name, layers, kwargs = ARCHITECTURES[arch]
    block = getattr(tv, block_name)
    net = tv.ResNet(block, layers, **kwargs)
    if width != 1.0:
        net.inplanes = scaled(64, width)
        net.conv1 = nn.Conv2d(3, net.inplanes, 7, 2, 3, bias=False)
        net.bn1 = net._norm_layer(net.inplanes)
        net.layer1 = net._make_layer(block, scaled(64, width), layers[0])
        net.layer2 = net._make_layer(block, scaled(128, width), layers[1], stride=2)
        net.layer3 = net._make_layer(block, scaled(256, width), layers[2], stride=2)
        net.layer4 = net._make_layer(block, scaled(512, width), layers[3], stride=2)
    return net


class TorchvisionResNet(Backbone):
    def __init__(self, arch: str, in_channels: int, width: float, stem: str, weights: str | None, pretrained: str | None = None):
        super().__init__()
        check_value("backbone.stem", stem, STEMS)
        net = scaled_resnet(arch, width)
        if pretrained == "imagenet":  # shape checked by models.pretrained.check (config_check)
            if in_channels != 3:
                raise ConfigError(f"backbone.pretrained=imagenet: the ImageNet weights take 3 input channels, "
                                  f"this dataset has {in_channels}; set backbone.pretrained=null")
            net.load_state_dict(imagenet_state_dict(arch))
        elif weights:
            net.load_state_dict(torch.load(weights, map_location="cpu"), strict=False)
        first = net.conv1.out_channels
        if stem == "cifar":
            net.conv1 = nn.Conv2d(in_channels, first, 3, 1, 1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:  # the imagenet stem for a grey-scale or other input
            net.conv1 = nn.Conv2d(in_channels, first, 7, 2, 3, bias=False)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.stages = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        self.out_channels = self.feature_dim = net.fc.in_features if width == 1.0 else self._last_channels()

    def _last_channels(self) -> int:
        last = self.stages[-1][-1]
        return (last.bn3 if hasattr(last, "bn3") else last.bn2).num_features

    def split_last_block(self):
        """BBN's layout (Megvii-Nanjing/BBN lib/backbone/resnet.py BBN_ResNet: layer4 has n - 1 bottlenecks, then
        ``cb_block`` and ``rb_block``). The twin is initialised as torchvision initialises a ResNet (convolutions
        Kaiming normal fan-out, BatchNorm 1 / 0); the original keeps its weights (ImageNet ones when pretrained)."""
        last = self.stages[-1][-1]
        self.stages[-1] = self.stages[-1][:-1]
        twin = copy.deepcopy(last)
        kaiming_init(twin)
        return last, twin

    def forward(self, x: torch.Tensor):
        fmap = self.stages(self.stem(x))
        return fmap, fmap.mean(dim=(2, 3))


def _factory(arch: str):
    def build(in_channels: int, image_size: int, *, width: float, stem: str, weights: Optional[str],
              pretrained: Optional[str]) -> TorchvisionResNet:
        return TorchvisionResNet(arch, in_channels, float(width), stem, weights, pretrained)

    build.__name__ = arch
    return build


for _arch in ARCHITECTURES:
    BACKBONES.register(_arch)(_factory(_arch))
