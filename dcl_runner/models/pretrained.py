"""``backbone.pretrained``: ImageNet weights for the torchvision backbones, through torchvision's weights API.

- ``null``: random initialisation.
- ``imagenet``: torchvision's ``IMAGENET1K_V1`` weights (``ResNet50_Weights.IMAGENET1K_V1`` ...): the
  original ImageNet release (2017), the only ImageNet weights torchvision offered when the DCL paper
  (ICCV 2019) was written; ``IMAGENET1K_V2`` (torchvision 0.13, 2022, a newer training recipe) postdates it.

The weights file lives where torch hub keeps checkpoints: ``<torch.hub.get_dir()>/checkpoints/<file>``
(``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``). When it is not
there torchvision downloads it; without network the run stops before training with one message
naming the file, its URL and the folder to put it in. Only the torchvision ResNets have ImageNet
weights, and only in torchvision's own shape (``width: 1.0``, ``stem: imagenet``, 3 input channels); so has
SSD's VGG-16 (``ssd_vgg16``): torchvision's ``VGG16_Weights.IMAGENET1K_FEATURES``, the VGG-16 of the original
SSD code base (caffe weights, inputs in 0..255 minus the ImageNet mean), which torchvision's ``ssd300_vgg16``
loads as ``weights_backbone``.
``backbone.weights`` (a local state-dict file) stays a separate option; set one or the other.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict
from urllib.parse import urlparse

from ..errors import ConfigError, check_value

CHOICES = {None: "random initialisation", "imagenet": "torchvision's ImageNet weights"}
VERSION = "IMAGENET1K_V1"
# backbone name -> torchvision's weights enum (torchvision.models)
IMAGENET_WEIGHTS = {
    "resnet18": "ResNet18_Weights",
    "resnet50": "ResNet50_Weights",
    "resnext50": "ResNeXt50_32X4D_Weights",
    "ssd_vgg16": "VGG16_Weights",
}
# backbone name -> the version of its enum, where it is not VERSION (torchvision's ssd300_vgg16 weights_backbone)
VERSIONS = {"ssd_vgg16": "IMAGENET1K_FEATURES"}


def check(backbone: Any) -> None:
    """Validate ``backbone.pretrained`` against the backbone config, without touching disk or network."""
    value = backbone["pretrained"]
    check_value("backbone.pretrained", value, CHOICES)
    if value is None:
        return
    name = str(backbone["name"])
    if name not in IMAGENET_WEIGHTS:
        raise ConfigError(f"backbone.pretrained=imagenet: backbone {name!r} has no ImageNet weights in torchvision "
                          f"(available for {', '.join(IMAGENET_WEIGHTS)}); set backbone.pretrained=null")
    # the backbones with ImageNet weights (torchvision's ResNets) all have width, stem and weights
    if float(backbone["width"]) != 1.0:
        raise ConfigError(f"backbone.pretrained=imagenet needs torchvision's {name} as it is (backbone.width=1.0, "
                          f"got {backbone['width']}); set backbone.pretrained=null for a scaled backbone")
    if backbone.get("stem", "imagenet") != "imagenet":  # a backbone without a stem key has one stem
        raise ConfigError(f"backbone.pretrained=imagenet needs backbone.stem=imagenet (got {backbone['stem']!r}): "
                          "the ImageNet weights are for the 7x7/2 stem")
    if backbone.get("weights"):
        raise ConfigError(f"backbone.pretrained=imagenet and backbone.weights={backbone['weights']!r} both set: "
                          "choose one (imagenet: torchvision's weights; weights: your own state-dict file)")


def weights_enum(arch: str):
    """torchvision's weights entry for ``arch`` (e.g. ``ResNet50_Weights.IMAGENET1K_V1``)."""
    import torchvision.models as tv

    return getattr(getattr(tv, IMAGENET_WEIGHTS[arch]), VERSIONS.get(arch, VERSION))


def checkpoint_path(arch: str) -> Path:
    """Where torch hub keeps (and torchvision looks for) the ImageNet weights file of ``arch``."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights_enum(arch).url).path)


def imagenet_state_dict(arch: str) -> Dict[str, Any]:
    """The ImageNet state dict of ``arch``: read from torch hub's checkpoint dir, downloaded there first
    if missing. A missing file that cannot be downloaded, or a file that cannot be read, is one ConfigError."""
    weights = weights_enum(arch)
    path = checkpoint_path(arch)
    present = path.is_file()
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # noqa: BLE001 - download / unpickling failures of every kind end in one message
        reason = f"{type(exc).__name__}: {exc}".strip()
        if present:
            raise ConfigError(f"backbone.pretrained=imagenet: {path} could not be read as {weights} ({reason}). "
                              f"Delete it and download {weights.url} again.") from None
        raise ConfigError(
            f"backbone.pretrained=imagenet: torchvision's ImageNet weights for {arch} ({weights}) are not in "
            f"{path.parent} and could not be downloaded ({reason}). Download {weights.url} on a machine with "
            f"network and place it as {path} (torch hub's checkpoint dir; TORCH_HOME moves it), "
            "or set backbone.pretrained=null to train from random weights.") from None
