"""MobileNet-v2 (Sandler et al., CVPR 2018), the CIFAR variant used for 32x32 inputs (two-head Table 5).

Inverted residual blocks (expansion t, output channels c, repeats n, first stride s) as in the paper's
Table 2, with the CIFAR changes of the common CIFAR implementations: a stride-1 3x3 stem and stride 1
in the second stage (24 channels), so a 32 px image ends in a 4x4 map; then the 1x1 convolution to
1280 channels. ``width`` scales every layer (the paper's width multiplier).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..base import BACKBONES, Backbone, scaled

# (expansion t, channels c, repeats n, stride s); CIFAR: the (6, 24, 2, 2) stage has stride 1
CIFAR_STAGES = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> list:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        layers = []
        if expansion != 1:
            layers += [*_conv_bn(cin, hidden, 1), nn.ReLU6(inplace=True)]
        layers += [*_conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(inplace=True)]
        layers += _conv_bn(hidden, cout, 1)  # linear bottleneck
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class MobileNetV2(Backbone):
    def __init__(self, in_channels: int = 3, width: float = 1.0, stages=CIFAR_STAGES, last_channels: int = 1280):
        super().__init__()
        cin = scaled(32, width)
        layers = [*_conv_bn(in_channels, cin, 3, 1), nn.ReLU6(inplace=True)]
        for t, c, n, s in stages:
            cout = scaled(c, width)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        last = scaled(last_channels, width)
        layers += [*_conv_bn(cin, last, 1), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.out_channels = self.feature_dim = last
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor):
        fmap = self.features(x)
        return fmap, F.adaptive_avg_pool2d(fmap, 1).flatten(1)


@BACKBONES.register("mobilenetv2")
def mobilenetv2(in_channels: int, image_size: int, *, width: float) -> MobileNetV2:
    return MobileNetV2(in_channels, float(width))
