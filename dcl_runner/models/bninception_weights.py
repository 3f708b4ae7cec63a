"""ImageNet weights for BN-Inception (``backbone=inception_v2 backbone.pretrained=imagenet``): Cadene's PyTorch
conversion of the Caffe BN-Inception ImageNet model, ``bn_inception-52deb4733.pth``.

Source: github Cadene/pretrained-models.pytorch, ``pretrainedmodels/models/bninception.py`` (``pretrained_settings``
and the ``BNInception`` module): the file is a plain state dict whose keys are that module's attribute names
(``conv1_7x7_s2.weight``, ``inception_3a_double_3x3_2_bn.running_mean``, ``last_linear.weight`` ...). Its input:
``input_space: BGR``, ``input_range: [0, 255]``, ``mean: [104, 117, 128]``, ``std: [1, 1, 1]``.

Three things differ from our module (models/backbones/inception_v2.py), each converted exactly:

- names: ``CADENE_NAMES`` maps each of our convolution + BatchNorm pairs to its Cadene name;
- Cadene's convolutions carry a bias (Caffe's default); ours have none, as each is followed by BatchNorm. A bias b
  before BatchNorm is the running mean moved by -b: in evaluation BN((x + b) - mu) = BN(x - (mu - b)); in training
  the batch mean absorbs b (its gradient is zero). So ``running_mean`` here = Cadene's running_mean - bias;
- the weights read BGR images; ours are fed RGB (every dataset decodes RGB). Reversing the input-channel axis of
  the first convolution makes it read RGB exactly as Cadene's reads BGR; the datasets then normalise with the RGB
  order of Cadene's mean, (128, 117, 104) / 255, and std 1 / 255 (``INPUT_MEAN`` / ``INPUT_STD``: 0..255 minus the mean).

Every file key must be known and every one of our tensors must be in the file with its exact shape; anything else is
one ConfigError naming the key and the file. ``last_linear`` (the 1000-class ImageNet classifier) is read past, and
``num_batches_tracked`` (absent from files saved before PyTorch 0.4.1) is not required.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import torch
from torch import nn

from ..errors import ConfigError

FILE = "bn_inception-52deb4733.pth"
URL = "http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth"  # bninception.py pretrained_settings
SOURCE = "Cadene/pretrained-models.pytorch pretrainedmodels/models/bninception.py"
# bninception.py pretrained_settings: BGR mean (104, 117, 128), std 1, range 0..255 -> our RGB order, as fractions of
# 255 (the datasets' mean / std, data/augment.py: (x - 255 mean) / (255 std))
INPUT_MEAN = (128 / 255, 117 / 255, 104 / 255)
INPUT_STD = (1 / 255, 1 / 255, 1 / 255)
CLASSIFIER = ("last_linear.weight", "last_linear.bias")
# our branch (InceptionModule attribute + index in it) -> Cadene's layer name inside ``inception_<module>_``
BRANCHES = (("branch1", "1x1"), ("branch3.0", "3x3_reduce"), ("branch3.1", "3x3"),
            ("branch33.0", "double_3x3_reduce"), ("branch33.1", "double_3x3_1"), ("branch33.2", "double_3x3_2"),
            ("proj", "pool_proj"))
STEM = (("stem.0", "conv1_7x7_s2"), ("stem.2", "conv2_3x3_reduce"), ("stem.3", "conv2_3x3"))


def cadene_names(model: nn.Module, module_names: List[str]) -> Dict[str, str]:
    """Our conv_bn prefix (``blocks.0.branch33.2``) -> Cadene's layer name (``inception_3a_double_3x3_2``), for the
    branches ``model`` has (the stride-2 modules 3c and 4e have no 1x1 branch and no pool projection)."""
    names = dict(STEM)
    ours = model.state_dict()
    for index, module in enumerate(module_names):
        for branch, theirs in BRANCHES:
            if f"blocks.{index}.{branch}.0.weight" in ours:
                names[f"blocks.{index}.{branch}"] = f"inception_{module}_{theirs}"
    return names


def read_state(path: Path) -> Dict[str, torch.Tensor]:
    """The file as a state dict, or one ConfigError saying why it cannot be read."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling failures of every kind end in one message
        raise ConfigError(f"backbone.pretrained=imagenet: {path} could not be read as Cadene's BN-Inception state dict "
                          f"({type(exc).__name__}: {exc}). Delete it and download {URL} again.") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"backbone.pretrained=imagenet: {path} is not a plain state dict (name -> tensor) as "
                          f"{SOURCE} saves it; download {URL} again")
    return state


def convert(state: Dict[str, torch.Tensor], model: nn.Module, names: Dict[str, str], path: Path) -> Dict[str, torch.Tensor]:
    """Cadene's ``state`` as our ``model``'s state dict (names, bias folding, BGR -> RGB), every key and shape checked."""
    ours = model.state_dict()
    out: Dict[str, torch.Tensor] = {}
    used = set(CLASSIFIER)
    for prefix, theirs in names.items():
        pairs = [(f"{prefix}.0.weight", f"{theirs}.weight")]
        pairs += [(f"{prefix}.1.{p}", f"{theirs}_bn.{p}") for p in ("weight", "bias", "running_mean", "running_var")]
        for key, their_key in [*pairs, (None, f"{theirs}.bias")]:
            if their_key not in state:
                raise ConfigError(f"backbone.pretrained=imagenet: {path} has no {their_key!r} (BN-Inception as {SOURCE} "
                                  f"names it): not Cadene's {FILE}? Download {URL} again")
            used.add(their_key)
            if key is not None:
                expect(state[their_key], tuple(ours[key].shape), their_key, path)
                out[key] = state[their_key].to(ours[key].dtype)
        expect(state[f"{theirs}.bias"], tuple(ours[f"{prefix}.1.running_mean"].shape), f"{theirs}.bias", path)
        out[f"{prefix}.1.running_mean"] = out[f"{prefix}.1.running_mean"] - state[f"{theirs}.bias"].to(torch.float32)
        out[f"{prefix}.1.num_batches_tracked"] = ours[f"{prefix}.1.num_batches_tracked"]
        used.add(f"{theirs}_bn.num_batches_tracked")
    unknown = sorted(set(state) - used)
    if unknown:
        raise ConfigError(f"backbone.pretrained=imagenet: {path} has a key BN-Inception does not ({unknown[0]!r}"
                          f"{f' and {len(unknown) - 1} more' if len(unknown) > 1 else ''}): not Cadene's {FILE}?")
    first = f"{STEM[0][0]}.0.weight"
    out[first] = out[first].flip(1)  # BGR -> RGB input channels
    return out


def expect(tensor: torch.Tensor, shape: Tuple[int, ...], key: str, path: Path) -> None:
    if tuple(tensor.shape) != shape:
        raise ConfigError(f"backbone.pretrained=imagenet: {key!r} in {path} has shape {list(tensor.shape)}, "
                          f"BN-Inception needs {list(shape)}: not Cadene's {FILE}? Download {URL} again")


def load(model: nn.Module, module_names: List[str], path: Path) -> None:
    """Cadene's BN-Inception weights from ``path`` into ``model`` (models.backbones.inception_v2.BNInception)."""
    model.load_state_dict(convert(read_state(path), model, cadene_names(model, module_names), path))
