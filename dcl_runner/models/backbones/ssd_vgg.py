"""SSD300's VGG-16 feature extractor (Liu et al., ECCV 2016, Fig. 2), as torchvision's ``ssd300_vgg16`` builds it.

VGG-16's convolutions up to conv4_3 (pool3 with ceil mode, so 300 px gives a 38 x 38 map), conv4_3 L2-normalised
and rescaled by a learnt per-channel factor initialised to 20 (Liu et al. sec. 3.1 / ParseNet); then pool4,
conv5_1-3, pool5 as 3x3 stride 1, fc6 as a 3x3 convolution dilated by 6 and fc7 as 1x1 (1024 channels), and the
four extra blocks conv8_2 ... conv11_2. The six maps (38, 19, 10, 5, 3, 1 at 300 px) are what the SSD head reads.
``forward`` returns ``(maps, None)``: a detection backbone's ``feature_map`` is the tuple of its maps and it has
no pooled feature vector (``models.base``).

Beyond torchvision's fixed SSD300: ``width`` scales every channel count (a smoke run or a test at width 1/16),
and below 300 px conv10_2 / conv11_2 pad by 1 where their input map is smaller than 3 x 3 (at 300 px they do
not, as in SSD300), so any ``image_size`` >= 8 trains. ``pretrained: imagenet`` loads torchvision's
``VGG16_Weights.IMAGENET1K_FEATURES`` (``models/pretrained.py``; width 1.0 only); then, as torchvision's
``ssd300_vgg16`` does (``trainable_backbone_layers`` default 4) and the original SSD code froze conv1_1 / conv1_2,
only the last ``trainable_layers`` of VGG's five stages train.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError
from ..base import BACKBONES, Backbone, kaiming_init, scaled
from ..pretrained import imagenet_state_dict

# VGG-16 configuration D: channels, "M" a 2x2 max-pool (torchvision.models.vgg cfgs["D"])
VGG16_D = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
# the extra blocks after fc7: (1x1 channels, 3x3 channels, stride of the 3x3) for conv8_2 ... conv11_2
EXTRA_BLOCKS = ((256, 512, 2), (128, 256, 2), (128, 256, 1), (128, 256, 1))


def vgg_layers(width: float) -> nn.Sequential:
    """VGG-16's ``features`` (torchvision's layer order, so its state dict loads by position)."""
    layers: List[nn.Module] = []
    cin = 3
    for item in VGG16_D:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        cout = scaled(int(item), width)
        layers += [nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        cin = cout
    return nn.Sequential(*layers)


def _xavier(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
            nn.init.constant_(m.bias, 0.0)


class SSDVGG16(Backbone):
    def __init__(self, in_channels: int, image_size: int, width: float, pretrained: str | None, trainable_layers: int):
        super().__init__()
        if in_channels != 3:
            raise ConfigError(f"backbone ssd_vgg16 takes RGB images (3 channels); this dataset has {in_channels}")
        if not 0 <= int(trainable_layers) <= 5:
            raise ConfigError(f"backbone.trainable_layers={trainable_layers}: expected 0..5 of VGG's five stages")
        vgg = vgg_layers(width)
        kaiming_init(vgg)  # torchvision's VGG initialisation, which also zeroes the convolutions' biases
        for m in vgg.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.zeros_(m.bias)
        if pretrained == "imagenet":  # shape checked by models.pretrained.check (config_check)
            state = imagenet_state_dict("ssd_vgg16")
            vgg.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})
            self._freeze(vgg, int(trainable_layers))
        pools = [i for i, layer in enumerate(vgg) if isinstance(layer, nn.MaxPool2d)]
        vgg[pools[2]].ceil_mode = True  # pool3: 75 -> 38 at 300 px (torchvision's SSDFeatureExtractorVGG)
        conv4 = scaled(512, width)
        fc = scaled(1024, width)
        self.features = nn.Sequential(*vgg[: pools[3]])  # until conv4_3 (+ ReLU)
        self.scale_weight = nn.Parameter(torch.full((conv4,), 20.0))
        fc_layers = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),                   # pool5, 3x3 stride 1
            nn.Conv2d(scaled(512, width), fc, kernel_size=3, padding=6, dilation=6), nn.ReLU(inplace=True),  # fc6
            nn.Conv2d(fc, fc, kernel_size=1), nn.ReLU(inplace=True),          # fc7
        )
        _xavier(fc_layers)
        blocks = [nn.Sequential(*vgg[pools[3]: pools[4]], fc_layers)]     # pool4, conv5_1-3, fc6, fc7
        size = self._map_sizes(int(image_size))
        cin, channels = fc, [conv4, fc]
        for k, (mid, out, stride) in enumerate(EXTRA_BLOCKS):
            mid, out = scaled(mid, width), scaled(out, width)
            padding = 1 if stride == 2 or size[k + 1] < 3 else 0
            block = nn.Sequential(nn.Conv2d(cin, mid, kernel_size=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(mid, out, kernel_size=3, padding=padding, stride=stride), nn.ReLU(inplace=True))
            _xavier(block)
            blocks.append(block)
            cin = out
            channels.append(out)
        self.extra = nn.ModuleList(blocks)
        self.out_channels = channels  # type: ignore[assignment] - one per map
        self.feature_dim = 0

    @staticmethod
    def _map_sizes(image_size: int) -> List[int]:
        """Map sizes of conv4_3, fc7, conv8_2 ... conv11_2 (to choose conv10_2 / conv11_2's padding)."""
        size = -(-(image_size // 2 // 2) // 2)  # pool1, pool2, pool3 (ceil)
        sizes = [size, size // 2]
        if min(sizes) < 1:
            raise ConfigError(f"backbone ssd_vgg16: image_size={image_size} is too small (at least 8 px; SSD300: 300)")
        size = sizes[-1]
        for _, _, stride in EXTRA_BLOCKS:
            size = (size - 1) // 2 + 1 if stride == 2 else (size - 2 if size >= 3 else size)
            sizes.append(size)
        return sizes

    @staticmethod
    def _freeze(vgg: nn.Sequential, trainable: int) -> None:
        """torchvision's _vgg_extractor: stages start at 0 and after each of the first four pools."""
        starts = [0] + [i + 1 for i, layer in enumerate(vgg) if isinstance(layer, nn.MaxPool2d)][:4]
        frozen_until = len(vgg) if trainable == 0 else starts[5 - trainable]
        for layer in list(vgg)[:frozen_until]:
            for p in layer.parameters():
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> Tuple[Tuple[torch.Tensor, ...], None]:
        x = self.features(x)
        maps = [self.scale_weight.view(1, -1, 1, 1) * F.normalize(x)]
        for block in self.extra:
            x = block(x)
            maps.append(x)
        return tuple(maps), None


@BACKBONES.register("ssd_vgg16")
def ssd_vgg16(in_channels: int, image_size: int, *, width: float, pretrained: str | None, trainable_layers: int) -> Backbone:
    return SSDVGG16(in_channels, image_size, width, pretrained, trainable_layers)


ssd_vgg16.detection = True  # a detection backbone (config_check.check_task_fit)
