"""VGG-16 for 32x32 inputs (Simonyan & Zisserman 2015, configuration D, with BatchNorm), the CIFAR variant.

Thirteen 3x3 convolutions in five stages (64, 128, 256, 512, 512 channels) each followed by 2x2 max-pooling,
as used on CIFAR by the data-parameters paper (random-label run, dp.fig5) and the long-tail tables. The
classifier of the CIFAR variant is a single linear layer on the pooled 512-d feature, which the method's head
provides. For inputs smaller than 32 px the late pools are skipped so the map never shrinks below 1x1.
``width`` scales every stage.
"""
from __future__ import annotations

import torch
from torch import nn

from ..base import BACKBONES, Backbone, kaiming_init, scaled

VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class VGG(Backbone):
    def __init__(self, stages=VGG16_STAGES, in_channels: int = 3, image_size: int = 32, width: float = 1.0):
        super().__init__()
        layers, cin, size = [], in_channels, image_size
        for stage in stages:
            for channels in stage:
                cout = scaled(channels, width)
                layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
                cin = cout
            if size >= 2:  # pool while the map is at least 2x2
                layers.append(nn.MaxPool2d(2))
                size //= 2
        self.features = nn.Sequential(*layers)
        self.out_channels = self.feature_dim = cin
        kaiming_init(self)

    def forward(self, x: torch.Tensor):
        fmap = self.features(x)
        return fmap, fmap.mean(dim=(2, 3))


@BACKBONES.register("vgg16")
def vgg16(in_channels: int, image_size: int, *, width: float) -> VGG:
    return VGG(VGG16_STAGES, in_channels, image_size, float(width))
