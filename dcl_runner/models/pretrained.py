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
BN-Inception (``inception_v2``) has no torchvision weights: its ``imagenet`` is Cadene's conversion of the Caffe
BN-Inception ImageNet model, ``bn_inception-52deb4733.pth`` (models/bninception_weights.py), read from the same
checkpoint dir, where Cadene's ``pretrainedmodels`` (``model_zoo.load_url``) keeps it. It is never downloaded here
(its host is not torchvision's): a missing file is one message naming the file, its URL and the folder, and the
tables script lists the row as ref only until it is there (``missing_file``).
``backbone.weights`` (a local state-dict file) stays a separate option; set one or the other.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict
from urllib.parse import urlparse

from ..errors import ConfigError, check_value

CHOICES = {None: "random initialisation", "imagenet": "ImageNet weights (torchvision's; BN-Inception: Cadene's file)"}
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
# backbone name -> the module of its ImageNet weights file, for a backbone torchvision has none for (FILE, URL, load)
FILE_WEIGHTS = {"inception_v2": "bninception_weights"}


def check(backbone: Any) -> None:
    """Validate ``backbone.pretrained`` against the backbone config, without touching disk or network."""
    value = backbone["pretrained"]
    check_value("backbone.pretrained", value, CHOICES)
    if value is None:
        return
    name = str(backbone["name"])
    if name not in IMAGENET_WEIGHTS and name not in FILE_WEIGHTS:
        raise ConfigError(f"backbone.pretrained=imagenet: backbone {name!r} has no ImageNet weights in torchvision "
                          f"(available for {', '.join([*IMAGENET_WEIGHTS, *FILE_WEIGHTS])}); set backbone.pretrained=null")
    # the backbones with ImageNet weights (torchvision's ResNets, VGG-16, BN-Inception) all have width
    if float(backbone["width"]) != 1.0:
        raise ConfigError(f"backbone.pretrained=imagenet needs {name} as its weights are (backbone.width=1.0, "
                          f"got {backbone['width']}); set backbone.pretrained=null for a scaled backbone")
    if backbone.get("stem", "imagenet") != "imagenet":  # a backbone without a stem key has one stem
        raise ConfigError(f"backbone.pretrained=imagenet needs backbone.stem=imagenet (got {backbone['stem']!r}): "
                          "the ImageNet weights are for the 7x7/2 stem")
    if backbone.get("weights"):
        raise ConfigError(f"backbone.pretrained=imagenet and backbone.weights={backbone['weights']!r} both set: "
                          "choose one (imagenet: torchvision's weights; weights: your own state-dict file)")


def check_input(backbone: Any, dataset: Any) -> None:
    """A weights file that reads its images in its own range (BN-Inception's: 0..255 minus a mean) needs the dataset
    normalised so (``dataset.mean`` / ``std``, the module's INPUT_MEAN / INPUT_STD); else one ConfigError."""
    name = str(backbone.get("name"))
    if backbone.get("pretrained") != "imagenet" or name not in FILE_WEIGHTS:
        return
    source = weights_module(name)
    want = (list(source.INPUT_MEAN), list(source.INPUT_STD))
    have = (list(dataset["mean"]), list(dataset["std"]))
    if any(abs(float(a) - b) > 1e-4 for got, exp in zip(have, want) for a, b in zip(got, exp)) or \
            [len(x) for x in have] != [len(x) for x in want]:
        rounded = [[round(v, 5) for v in x] for x in want]
        raise ConfigError(f"backbone.pretrained=imagenet: {name}'s weights ({source.FILE}) read RGB images in 0..255 "
                          f"minus their mean, i.e. dataset.mean={rounded[0]} dataset.std={rounded[1]} ({source.SOURCE}); "
                          f"this dataset has mean={have[0]} std={have[1]}: set those two (as experiment="
                          "dcl_rap_inception_v2 does)")


def weights_module(arch: str):
    """The module of ``arch``'s ImageNet weights file (FILE_WEIGHTS), e.g. models.bninception_weights."""
    import importlib

    return importlib.import_module(f"{__package__}.{FILE_WEIGHTS[arch]}")


def hub_checkpoint(file_name: str) -> Path:
    """``file_name`` in torch hub's checkpoint dir (``$TORCH_HOME/hub/checkpoints``), where weights files live."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def weights_file(arch: str) -> Path:
    """Where ``arch``'s ImageNet weights file (a FILE_WEIGHTS backbone) is read from: torch hub's checkpoint dir."""
    return hub_checkpoint(weights_module(arch).FILE)


def missing_file(backbone: Any) -> str:
    """Why ``backbone`` cannot start (its ImageNet weights file is not on disk and is not downloaded), or ""."""
    name = str(backbone.get("name"))
    if backbone.get("pretrained") != "imagenet" or name not in FILE_WEIGHTS:
        return ""
    path, source = weights_file(name), weights_module(name)
    if path.is_file():
        return ""
    return (f"backbone.pretrained=imagenet: {name}'s ImageNet weights {source.FILE} ({source.SOURCE}) are not in "
            f"{path.parent}. Download {source.URL} and place it as {path} (torch hub's checkpoint dir; TORCH_HOME "
            "moves it), or set backbone.pretrained=null to train from random weights.")


def require_weights_file(backbone: Any) -> None:
    """One ConfigError when ``backbone`` needs an ImageNet weights file that is not on disk (``missing_file``)."""
    message = missing_file(backbone)
    if message:
        raise ConfigError(message)


def load_weights_file(arch: str, model: Any, *args: Any) -> None:
    """Load ``arch``'s ImageNet weights file into ``model`` (one ConfigError when it is missing or not the file)."""
    require_weights_file({"name": arch, "pretrained": "imagenet"})
    weights_module(arch).load(model, *args, weights_file(arch))


def weights_enum(arch: str):
    """torchvision's weights entry for ``arch`` (e.g. ``ResNet50_Weights.IMAGENET1K_V1``)."""
    import torchvision.models as tv

    return getattr(getattr(tv, IMAGENET_WEIGHTS[arch]), VERSIONS.get(arch, VERSION))


def checkpoint_path(arch: str) -> Path:
    """Where torch hub keeps (and torchvision looks for) the ImageNet weights file of ``arch``."""
    return hub_checkpoint(os.path.basename(urlparse(weights_enum(arch).url).path))


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
