"""``deepid2``: the 4-convolution DeepID2 network (Sun et al. 2014) the DCL paper uses on CelebA.

conv1 4x4x20 - max-pool - conv2 3x3x40 - max-pool - conv3 3x3x60 - max-pool - conv4 2x2x80, then
the 160-d DeepID layer, fully connected to both the pooled conv3 map and the conv4 map.
Choices where the DCL paper is silent (both in conf/backbone/deepid2.yaml):
- conv4 is an ordinary convolution (the original is locally connected), so any input size works;
- ``batch_norm: true`` adds BatchNorm after each convolution, which lets the net train from scratch
  at the paper's small learning rate (0.003); set it false for the 2014 layout.
"""
from __future__ import annotations

import torch
from torch import nn

from ..base import BACKBONES, Backbone, scaled


def _conv(cin: int, cout: int, k: int, bn: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


@BACKBONES.register("deepid2")
class DeepID2(Backbone):
    def __init__(self, in_channels: int, image_size: int, *, width: float, feature_dim: int, batch_norm: bool):
        super().__init__()
        c1, c2, c3, c4 = (scaled(c, width) for c in (20, 40, 60, 80))
        self.block1 = nn.Sequential(_conv(in_channels, c1, 4, batch_norm), nn.MaxPool2d(2, ceil_mode=True))
        self.block2 = nn.Sequential(_conv(c1, c2, 3, batch_norm), nn.MaxPool2d(2, ceil_mode=True))
        self.block3 = nn.Sequential(_conv(c2, c3, 3, batch_norm), nn.MaxPool2d(2, ceil_mode=True))
        with torch.no_grad():
            pool2 = self.block2(self.block1(torch.zeros(2, in_channels, image_size, image_size)))
            if pool2.shape[-1] < 3:
                from ...errors import ConfigError

                raise ConfigError(f"backbone=deepid2 needs dataset.image_size >= 16, got {image_size}")
            pool3 = self.block3(pool2)
            # conv4 is 2x2; on maps smaller than that (inputs under ~24 px) it pads by one pixel
            self.conv4 = _conv(c3, c4, 2, batch_norm)
            if pool3.shape[-1] < 2:
                self.conv4[0].padding = (1, 1)
            conv4 = self.conv4(pool3)
        self.deepid = nn.Linear(pool3[0].numel() + conv4[0].numel(), int(feature_dim))
        self.out_channels = c4
        self.feature_dim = int(feature_dim)

    def forward(self, x: torch.Tensor):
        pool3 = self.block3(self.block2(self.block1(x)))
        conv4 = self.conv4(pool3)
        features = torch.relu(self.deepid(torch.cat([pool3.flatten(1), conv4.flatten(1)], dim=1)))
        return conv4, features
