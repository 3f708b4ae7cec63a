"""CIFAR ResNets of He et al. (2016) sec. 4.2, as the long-tail literature uses them (``resnet32``, ``resnet110``).

Three stages of 16/32/64 channels, n basic blocks each (depth = 6n + 2), option-A shortcuts
(stride-2 subsampling and zero-padded channels). ``width`` scales the channels.

Initialisation as kaidic/LDAM-DRW models/resnet_cifar.py (and Megvii-Nanjing/BBN lib/backbone/resnet_cifar.py):
``model.apply(_weights_init)`` draws every Conv2d and Linear weight from Kaiming normal (fan-in, gain sqrt 2),
the classifier included. The head is built by the method, so ``init_head`` applies the same rule to its
Conv2d / Linear layers (``backbone.head_init: kaiming_normal``; ``torch_default`` keeps PyTorch's own
initialisation). Biases, BatchNorm and LDAM's cosine classifier keep their own initialisation, as there.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import check_value
from ..base import BACKBONES, Backbone, scaled

HEAD_INITS = {"kaiming_normal": "as kaidic/LDAM-DRW", "torch_default": "PyTorch's own initialisation"}


def kaiming_normal_weights(module: nn.Module) -> None:
    """LDAM-DRW's ``_weights_init``: Kaiming normal on every Conv2d and Linear weight of ``module``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)


class _Shortcut(nn.Module):
    """Option A: subsample by 2 and zero-pad the new channels (no parameters)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride, self.extra = stride, cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return x


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = _Shortcut(cin, cout, stride) if (stride != 1 or cin != cout) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(Backbone):
    def __init__(self, depth: int, in_channels: int = 3, width: float = 1.0, head_init: str = "kaiming_normal"):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        check_value("backbone.head_init", head_init, HEAD_INITS)
        self.head_init = head_init
        n = (depth - 2) // 6
        widths = [scaled(c, width) for c in (16, 32, 64)]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        blocks, cin = [], widths[0]
        for stage, cout in enumerate(widths):
            for i in range(n):
                blocks.append(BasicBlock(cin, cout, 2 if (stage > 0 and i == 0) else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = self.feature_dim = cin
        kaiming_normal_weights(self)

    def init_head(self, head: nn.Module) -> None:
        if self.head_init == "kaiming_normal":
            kaiming_normal_weights(head)

    def split_last_block(self):
        """BBN's layout (Megvii-Nanjing/BBN lib/backbone/resnet_cifar.py BBN_ResNet_Cifar: layer3 has n - 1 blocks,
        then ``cb_block`` and ``rb_block``, each a 64 -> 64 stride-1 BasicBlock, all Kaiming normal)."""
        last = self.blocks[-1]
        self.blocks = self.blocks[:-1]
        twin = copy.deepcopy(last)
        kaiming_normal_weights(twin)  # an independent draw, as BBN's rb_block
        return last, twin

    def forward(self, x: torch.Tensor):
        fmap = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return fmap, fmap.mean(dim=(2, 3))


@BACKBONES.register("resnet32")
def resnet32(in_channels: int, image_size: int, *, width: float, head_init: str) -> CifarResNet:
    return CifarResNet(32, in_channels, float(width), str(head_init))


@BACKBONES.register("resnet110")
def resnet110(in_channels: int, image_size: int, *, width: float, head_init: str) -> CifarResNet:
    return CifarResNet(110, in_channels, float(width), str(head_init))
