"""Inception-v2, i.e. BN-Inception (Ioffe & Szegedy, "Batch normalization", ICML 2015 [23]; DCL Table 5 row
"Inception-v2"): GoogLeNet with batch normalisation after every convolution, its 5x5 convolutions replaced by two
3x3 ones, and the stride-2 modules 3c and 4e. Layer sizes are the paper's Figure 5 table (below, ``MODULES``):

    conv 7x7/2, 64 -> max-pool 3x3/2 -> conv 1x1, 64 -> conv 3x3, 192 -> max-pool 3x3/2
    -> 3a 3b 3c(/2) -> 4a 4b 4c 4d 4e(/2) -> 5a 5b -> global average pool (1024-d)

Each module concatenates a 1x1 branch, a 1x1 -> 3x3 branch, a 1x1 -> 3x3 -> 3x3 branch and a pooling branch
(average or max pooling, then a 1x1 projection; the stride-2 modules have no 1x1 branch and pass the max-pooled
input through). ``width`` scales every layer (budget=smoke).

The pooling follows the Caffe BN-Inception definition, which the paper's table leaves open: the 3x3/1 average
pools count the zero padding (Caffe's AVE pooling divides by the full 3x3 window, PyTorch's count_include_pad=True)
and the stride-2 max pools of 3c / 4e are unpadded with ceil rounding (14 -> 7 as the padded 3x3/2 convolutions
beside them). Sources: Cadene/pretrained-models.pytorch pretrainedmodels/models/bninception.py (the PyTorch
conversion of the Caffe ImageNet model) and the HP-net authors' xh-liu/HydraPlus-Net
prototxt_example/main_net.prototxt ("half_InceptionNetwork_v2": ``pool: AVE`` pad 1; ``pool: MAX`` stride 2 no pad).
``pretrained: imagenet`` loads Cadene's ``bn_inception-52deb4733.pth`` (models/bninception_weights.py: names,
conv biases folded into BatchNorm, BGR -> RGB); torchvision has no BN-Inception weights.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError
from ..base import BACKBONES, Backbone, kaiming_init, scaled
from ..pretrained import load_weights_file

# BN-Inception paper, Figure 5: (name, #1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3, pool, pool proj,
# stride); #1x1 0 and pool "pass" (proj None) in the stride-2 modules 3c and 4e
MODULES = (
    ("3a", 64, 64, 64, 64, 96, "avg", 32, 1),
    ("3b", 64, 64, 96, 64, 96, "avg", 64, 1),
    ("3c", 0, 128, 160, 64, 96, "max", None, 2),
    ("4a", 224, 64, 96, 96, 128, "avg", 128, 1),
    ("4b", 192, 96, 128, 96, 128, "avg", 128, 1),
    ("4c", 160, 128, 160, 128, 160, "avg", 128, 1),
    ("4d", 96, 128, 192, 160, 192, "avg", 128, 1),
    ("4e", 0, 128, 192, 192, 256, "max", None, 2),
    ("5a", 352, 192, 320, 160, 224, "avg", 128, 1),
    ("5b", 352, 192, 320, 192, 224, "max", 128, 1),
)


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """Convolution, batch normalisation, ReLU (the paper's BN before every non-linearity)."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class InceptionModule(nn.Module):
    """One BN-Inception module (a row of ``MODULES``, channel counts already scaled)."""

    def __init__(self, cin: int, n1x1: int, n3x3red: int, n3x3: int, ndred: int, nd: int, pool: str,
                 proj: Optional[int], stride: int):
        super().__init__()
        self.branch1 = conv_bn(cin, n1x1, 1) if n1x1 else None
        self.branch3 = nn.Sequential(conv_bn(cin, n3x3red, 1), conv_bn(n3x3red, n3x3, 3, stride))
        self.branch33 = nn.Sequential(conv_bn(cin, ndred, 1), conv_bn(ndred, nd, 3), conv_bn(nd, nd, 3, stride))
        self.pool = pool
        self.stride = stride
        self.proj = conv_bn(cin, proj, 1) if proj else None
        self.out_channels = n1x1 + n3x3 + nd + (proj if proj else cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool == "avg":  # Caffe AVE pad 1: the window's 9 cells, padding included
            pooled = F.avg_pool2d(x, 3, self.stride, 1, count_include_pad=True)
        elif self.stride == 1:  # 5b: MAX 3x3/1 pad 1
            pooled = F.max_pool2d(x, 3, 1, 1)
        else:  # 3c, 4e: MAX 3x3/2, no padding, ceil rounding (Caffe's)
            pooled = F.max_pool2d(x, 3, 2, 0, ceil_mode=True)
        outs = [self.branch1(x)] if self.branch1 is not None else []
        outs += [self.branch3(x), self.branch33(x), self.proj(pooled) if self.proj is not None else pooled]
        return torch.cat(outs, 1)


class BNInception(Backbone):
    def __init__(self, in_channels: int = 3, width: float = 1.0, pretrained: Optional[str] = None):
        super().__init__()
        c = lambda n: scaled(n, width)  # noqa: E731
        self.stem = nn.Sequential(
            conv_bn(in_channels, c(64), 7, 2), nn.MaxPool2d(3, 2, ceil_mode=True),
            conv_bn(c(64), c(64), 1), conv_bn(c(64), c(192), 3), nn.MaxPool2d(3, 2, ceil_mode=True),
        )
        cin, blocks = c(192), []
        for _, n1, n3r, n3, ndr, nd, pool, proj, stride in MODULES:
            block = InceptionModule(cin, c(n1) if n1 else 0, c(n3r), c(n3), c(ndr), c(nd), pool,
                                    c(proj) if proj else None, stride)
            blocks.append(block)
            cin = block.out_channels
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = self.feature_dim = cin
        kaiming_init(self)  # BatchNorm's 1 / 0 is also its default
        if pretrained == "imagenet":  # width checked by models.pretrained.check (config_check)
            if in_channels != 3:
                raise ConfigError(f"backbone.pretrained=imagenet: the ImageNet weights take 3 input channels, "
                                  f"this dataset has {in_channels}; set backbone.pretrained=null")
            load_weights_file("inception_v2", self, [row[0] for row in MODULES])

    def forward(self, x: torch.Tensor):
        fmap = self.blocks(self.stem(x))
        return fmap, F.adaptive_avg_pool2d(fmap, 1).flatten(1)


@BACKBONES.register("inception_v2")
def inception_v2(in_channels: int, image_size: int, *, width: float, pretrained: Optional[str]) -> BNInception:
    if image_size < 32 or image_size % 32:
        # 3c and 4e concatenate a padded 3x3/2 convolution (floor) with an unpadded 3x3/2 max pool (ceil): their
        # outputs agree on an even input only, i.e. image sizes 32 k (224 = 32 x 7: 28 and 14 px at 3c and 4e)
        raise ConfigError(f"backbone=inception_v2 needs dataset.image_size a multiple of 32 (32, 64, ..., 224), got "
                          f"{image_size}: its stride-2 modules 3c and 4e need even maps (Caffe BN-Inception's pooling)")
    return BNInception(in_channels, float(width), pretrained)
