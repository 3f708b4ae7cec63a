"""Wide residual networks (Zagoruyko & Komodakis, BMVC 2016), the CIFAR backbone of the data-parameters paper.

``wrn28_10``: depth 28 (n = (28 - 4) / 6 = 4 pre-activation basic blocks per stage), widening factor 10:
a 3x3 stem of 16 channels, then three stages of 160 / 320 / 640 channels (strides 1, 2, 2), a final
BN-ReLU and global average pooling. Dropout between the two convolutions of each block
(``backbone.dropout``; DP sec. 3.1 uses 0). 1x1 projection shortcuts where the shape changes. ``depth`` and
``widen`` are configurable; ``width`` scales every stage's channels (quarter width for smoke runs).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError
from ..base import BACKBONES, Backbone, kaiming_init, scaled


class WideBlock(nn.Module):
    """Pre-activation block: BN-ReLU-conv3x3(stride)-dropout-BN-ReLU-conv3x3, plus the (projected) input."""

    def __init__(self, cin: int, cout: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.dropout = dropout
        self.projection = nn.Conv2d(cin, cout, 1, stride, 0, bias=False) if (stride != 1 or cin != cout) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = F.relu(self.bn2(out))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        out = self.conv2(out)
        shortcut = x if self.projection is None else self.projection(pre)
        return out + shortcut


class WideResNet(Backbone):
    def __init__(self, depth: int = 28, widen: int = 10, dropout: float = 0.0, in_channels: int = 3, width: float = 1.0):
        super().__init__()
        if (depth - 4) % 6 or depth < 10:
            raise ConfigError(f"backbone.depth={depth}: a wide ResNet has depth 6n + 4 (e.g. 16, 22, 28, 40)")
        if not 0 <= dropout < 1:
            raise ConfigError(f"backbone.dropout={dropout}: expected a probability in [0, 1)")
        n = (depth - 4) // 6
        channels = [scaled(16, width)] + [scaled(c * widen, width) for c in (16, 32, 64)]
        self.stem = nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=False)
        blocks, cin = [], channels[0]
        for stage, stride in zip(channels[1:], (1, 2, 2)):
            for i in range(n):
                blocks.append(WideBlock(cin, stage, stride if i == 0 else 1, dropout))
                cin = stage
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(cin)
        self.out_channels = self.feature_dim = cin
        kaiming_init(self)

    def forward(self, x: torch.Tensor):
        fmap = F.relu(self.bn(self.blocks(self.stem(x))))
        return fmap, fmap.mean(dim=(2, 3))


@BACKBONES.register("wrn28_10")
def wrn28_10(in_channels: int, image_size: int, *, depth: int, widen: int, dropout: float, width: float) -> WideResNet:
    return WideResNet(depth=int(depth), widen=int(widen), dropout=float(dropout), in_channels=in_channels, width=float(width))
