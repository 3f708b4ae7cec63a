"""Backbones are names in a registry; a model is a backbone plus a head the method chooses.

A backbone is an ``nn.Module`` whose ``forward(x)`` returns ``(feature_map, features)``:
``feature_map`` [B, out_channels, h, w] is the last convolutional map (the two-head model's
feature-balancing head reads it), ``features`` [B, feature_dim] is the pooled vector the
classifier head reads. Constructors are registered with ``@BACKBONES.register(name)`` and take
``(in_channels, image_size, *, <the keys of conf/backbone/<name>.yaml>)``: the section's keys are keyword-only
arguments without defaults (``dcl_runner/sections.py``), so a misspelt key is one ConfigError naming it.
``name`` and ``pretrained`` are every backbone's keys (``models/pretrained.check`` reads ``pretrained``; the
backbones with ImageNet weights take it too).
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import torch
from torch import nn

from .. import sections
from ..errors import ConfigError
from ..registry import Registry

BACKBONES: Registry = Registry("backbone", "dcl_runner.models.backbones")
#: keys of every backbone section, read by the framework (the name picks the constructor)
SHARED_KEYS = ("name", "pretrained")


def kaiming_init(module: nn.Module) -> None:
    """torchvision's ResNet / VGG initialisation of every layer in ``module``: convolutions Kaiming normal (fan-out,
    ReLU gain), BatchNorm weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class Backbone(nn.Module):
    out_channels: int
    feature_dim: int

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def init_head(self, head: nn.Module) -> None:
        """Initialise the head the method built, where the backbone's reference code initialises its
        classifier itself (the CIFAR ResNets: Kaiming normal). Default: leave the head as built."""

    def split_last_block(self) -> Tuple[nn.Module, nn.Module]:
        """Take the last residual block out of ``forward`` and return it with a freshly initialised twin (BBN's
        two branches share every block but the last, Zhou et al. 2020 sec. 3.1). Afterwards ``forward`` returns
        the map entering that block (same channels: a stage's last block keeps its shape) and its pooled vector.
        A backbone without residual blocks says so."""
        raise ConfigError(f"backbone {type(self).__name__} has no last residual block to split into two branches "
                          "(BBN): choose a ResNet backbone (resnet32, resnet110, resnet18, resnet50, resnext50)")


def scaled(channels: int, width: float) -> int:
    """Channel count times the width multiplier (``backbone.width``), at least 1."""
    return max(1, int(round(channels * width)))


class Classifier(nn.Module):
    """Backbone + head. ``forward`` returns a dict: the head's outputs plus ``features``/``feature_map``."""

    def __init__(self, backbone: Backbone, head: nn.Module):
        super().__init__()
        backbone.init_head(head)
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        feature_map, features = self.backbone(x)
        out = self.head(features, feature_map)
        out.setdefault("features", features)
        return out


def backbone_builder(section: Any):
    """The registered constructor of ``backbone.name``; an unknown name is one ConfigError listing the names."""
    return BACKBONES.lookup(section["name"], "backbone.name")


def check_backbone(section: Any) -> None:
    """``backbone``'s keys against its constructor's (before any data is read; see ``sections``)."""
    sections.check(backbone_builder(section), section, "backbone", f"backbone {section['name']}", shared=SHARED_KEYS,
                   tolerated=sections.group_keys(BACKBONES.entries()))


def build_backbone(cfg: Any, in_channels: int, image_size: int) -> Backbone:
    """``BACKBONES[cfg.name](in_channels, image_size, **cfg's keys)``; an unknown or missing key is one ConfigError."""
    return sections.build(backbone_builder(cfg), cfg, "backbone", f"backbone {cfg['name']}", in_channels, image_size,
                          shared=SHARED_KEYS, tolerated=sections.group_keys(BACKBONES.entries()))
