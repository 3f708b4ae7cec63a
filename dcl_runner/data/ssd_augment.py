"""SSD's training augmentation, batched on the device, with the boxes following the pixels (Liu et al. 2016 sec. 2.2
"Data augmentation"): ``dataset.augment.photometric: ssd`` and ``geometric: ssd`` (``data/augment.py``).

The recipe is torchvision's ``ssd`` preset (pytorch/vision references/detection/presets.py: RandomPhotometricDistort,
RandomZoomOut(fill=mean), RandomIoUCrop, RandomHorizontalFlip(0.5); the ops in transforms.py), the recipe of the
``ssd300_vgg16`` training command the detection experiment follows. Per sample, in this order (values: ``SsdRecipe``,
given in conf/_base/ssd_augment.yaml ``ssd`` with their sources):

1. photometric distortion (:func:`photometric_distort`): brightness; contrast either before or after (prob 1/2)
   saturation and hue; each op with probability ``p``; then, with probability ``p``, a random channel permutation;
2. zoom-out with probability ``zoom_out_p``: the image at a uniform position on a canvas ``side`` times its size
   (side uniform in ``zoom_out_side``) filled with the mean colour;
3. IoU crop: a minimum IoU drawn from ``crop_min_ious`` (>= 1: keep the whole image; 0: any window), then windows
   of ``crop_scale`` times the canvas' width and height (each drawn apart), aspect in ``crop_aspect`` (in the
   original image's pixels), at a uniform position; a window is valid when some target box has its centre
   strictly inside it and the largest IoU of those boxes with the window is >= the minimum; boxes whose centre is
   outside are dropped, the others clipped to the window;
4. horizontal flip with probability ``flip_p``.

Steps 2-4 are one affine map per sample from the output image (``image_size`` square) to the stored one, so the
pixels move in one ``grid_sample`` (:func:`warp`) and the boxes through the same map in coordinates normalised to
the image (:func:`move_boxes`): a box row keeps the original image's pixel frame (``boxes.IMAGE_W`` / ``IMAGE_H``),
so ``x / IMAGE_W`` is where the network's input shows it.

A box dropped by the crop stays in its row for the step, marked absent (``boxes.mark_absent``: TYPE PAD, LABEL
IGNORE) with its ``BOX_ID`` kept: rows never move, so every present box still owns its instance data parameter.

Where this differs from torchvision (choices, docs/detection.md): positions are continuous (torchvision truncates
them to whole pixels); the ``crop_trials`` windows are drawn at once and the first valid one is taken, and if none
is valid the image is not cropped (torchvision draws a new minimum IoU and tries again, without bound; an image
without target boxes is never cropped there either); the crop is taken from the image as stored (warped to
``image_size`` once at load), and resampling is bilinear without antialiasing.

Random draws are made per sample for the global batch from the step's generator and sliced to this process's rows
(``distributed.per_sample``), as the other augmentation ops do: a sample is augmented alike whatever the process count,
and a resumed run alike an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from ..distributed import BatchPart, per_sample
from . import boxes as B
from .colour import TORCHVISION_LUMA, luma

@dataclass(frozen=True, kw_only=True)
class SsdRecipe:
    """``dataset.augment.ssd``: the values of SSD's augmentation (conf/_base/ssd_augment.yaml cites each)."""

    p: float                       # probability of each photometric op and of the channel permutation
    brightness: List[float]        # factor range
    contrast: List[float]
    saturation: List[float]
    hue: List[float]               # shift of the hue, in turns
    zoom_out_p: float
    zoom_out_side: List[float]     # canvas side / image side
    crop_min_ious: List[float]     # >= 1: no crop
    crop_scale: List[float]        # window side / canvas side, drawn for width and height apart
    crop_aspect: List[float]       # window width / height in the original image's pixels
    crop_trials: int
    flip_p: float

    def problems(self) -> List[str]:
        """What is wrong with the values, as 'key=value: expected ...' (empty: nothing)."""
        out = []
        for key in ("p", "zoom_out_p", "flip_p"):
            if not 0.0 <= float(getattr(self, key)) <= 1.0:
                out.append(f"{key}={getattr(self, key)}: expected a probability in [0, 1]")
        for key, low in (("brightness", 0.0), ("contrast", 0.0), ("saturation", 0.0), ("hue", -0.5),
                         ("zoom_out_side", 1.0), ("crop_scale", 1e-6), ("crop_aspect", 1e-6)):
            pair = list(getattr(self, key))
            if len(pair) != 2 or not low <= pair[0] <= pair[1]:
                out.append(f"{key}={pair}: expected [low, high] with {low} <= low <= high")
        if list(self.hue) and float(self.hue[-1]) > 0.5:
            out.append(f"hue={list(self.hue)}: a hue shift is at most half a turn (0.5)")
        if float(self.crop_scale[-1]) > 1.0:
            out.append(f"crop_scale={list(self.crop_scale)}: a window is at most the canvas (1.0)")
        if not list(self.crop_min_ious):
            out.append("crop_min_ious=[]: expected at least one option (1.0: no crop)")
        if int(self.crop_trials) < 1:
            out.append(f"crop_trials={self.crop_trials}: expected an integer >= 1")
        return out


def _draws(part: Optional[BatchPart], n: int, generator: Optional[torch.Generator], device: torch.device
           ) -> Callable[..., torch.Tensor]:
    """``rand(*shape)``: uniform [n, *shape] for the n samples of a local batch, drawn for its global batch."""
    def rand(*shape: int) -> torch.Tensor:
        return per_sample(lambda k: torch.rand(k, *shape, device=device, generator=generator), n, part)

    return rand


def _between(u: torch.Tensor, bounds: Sequence[float]) -> torch.Tensor:
    return float(bounds[0]) + u * (float(bounds[1]) - float(bounds[0]))


# -- photometric (step 1) ---------------------------------------------------------------------------------------
def grey(x: torch.Tensor) -> torch.Tensor:
    """[B, 1, H, W] luma of RGB [B, 3, H, W], torchvision's weights (its photometric ops use rgb_to_grayscale)."""
    return luma(x, TORCHVISION_LUMA)


def blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """factor * x + (1 - factor) * other per sample, kept in 0..255 (torchvision's _blend)."""
    f = factor.view(-1, 1, 1, 1)
    return (f * x + (1 - f) * other).clamp(0.0, 255.0)


def shift_hue(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """RGB 0..255 [B, 3, H, W] with every pixel's hue turned by ``turns`` [B] (HSV hexcone; saturation and value
    kept)."""
    rgb = x / 255.0
    value, _ = rgb.max(1)
    chroma = value - rgb.min(1)[0]
    r, g, b = rgb.unbind(1)
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    sector = torch.where(value == r, ((g - b) / safe) % 6,
                         torch.where(value == g, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = torch.where(chroma > 0, sector / 6, torch.zeros_like(sector))
    hue = (hue + turns.view(-1, 1, 1)) % 1.0
    saturation = torch.where(value > 0, chroma / torch.where(value > 0, value, torch.ones_like(value)), torch.zeros_like(value))
    channels = []
    for n in (5.0, 3.0, 1.0):  # R, G, B of (hue, saturation, value): v - v s clamp(min(k, 4 - k), 0, 1)
        k = (n + hue * 6) % 6
        channels.append(value - value * saturation * torch.minimum(k, 4 - k).clamp(0.0, 1.0))
    return (torch.stack(channels, 1) * 255.0).clamp(0.0, 255.0)


def _on(mask: torch.Tensor, op: Callable[..., torch.Tensor], x: torch.Tensor, *per_sample: torch.Tensor) -> torch.Tensor:
    """``op(x[k], per_sample[k] ...)`` written into x (in place) for the samples k where ``mask`` holds (only those
    computed)."""
    rows = torch.nonzero(mask).flatten()
    x[rows] = op(x[rows], *(v[rows] for v in per_sample))
    return x


def _contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return blend(x, grey(x).mean(dim=(1, 2, 3), keepdim=True), factor)


def _brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return blend(x, torch.zeros_like(x), factor)


def _saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return blend(x, grey(x), factor)


def _permute(x: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Channels in the order of ``keys`` [B, C] sorted: a uniform permutation per sample."""
    return torch.gather(x, 1, keys.argsort(1).view(len(x), keys.shape[1], 1, 1).expand_as(x))


def photometric_distort(x: torch.Tensor, recipe: SsdRecipe, generator: Optional[torch.Generator],
                        part: Optional[BatchPart] = None) -> torch.Tensor:
    """Step 1 on float RGB 0..255 [B, 3, H, W] (torchvision RandomPhotometricDistort, per sample)."""
    rand = _draws(part, len(x), generator, x.device)
    coin, factor, keys = rand(7), rand(4), rand(3)
    p = float(recipe.p)
    bright, contrast = _between(factor[:, 0], recipe.brightness), _between(factor[:, 1], recipe.contrast)
    saturation, hue = _between(factor[:, 2], recipe.saturation), _between(factor[:, 3], recipe.hue)
    before = coin[:, 1] < 0.5
    x = x.clone()  # the ops below write into it
    x = _on(coin[:, 0] < p, _brightness, x, bright)
    x = _on(before & (coin[:, 2] < p), _contrast, x, contrast)
    x = _on(coin[:, 3] < p, _saturation, x, saturation)
    x = _on(coin[:, 4] < p, shift_hue, x, hue)
    x = _on(~before & (coin[:, 5] < p), _contrast, x, contrast)
    return _on(coin[:, 6] < p, _permute, x, keys)


# -- geometric (steps 2-4) --------------------------------------------------------------------------------------
@dataclass
class Geometry:
    """Per sample: the zoom-out canvas (``side`` [B], ``offset`` [B, 2]: the image's top-left corner on the canvas,
    in image widths / heights), the crop ``window`` [B, 4] (x1 y1 x2 y2 on the canvas, normalised; 0 0 1 1: none,
    ``cropped`` False) and ``flip`` [B]. A point u of the image (normalised) is c = (u + offset) / side on the
    canvas, v = (c - window's corner) / window's size in the crop, and 1 - v along x when flipped."""

    side: torch.Tensor
    offset: torch.Tensor
    window: torch.Tensor
    cropped: torch.Tensor
    flip: torch.Tensor


def normalised_boxes(rows: torch.Tensor) -> torch.Tensor:
    """[B, M, 4] x1 y1 x2 y2 of box rows as fractions of their image's width / height."""
    size = rows[:, :, [B.IMAGE_W, B.IMAGE_H, B.IMAGE_W, B.IMAGE_H]]
    return rows[:, :, [B.X1, B.Y1, B.X2, B.Y2]] / size.clamp(min=1e-6)


def _on_canvas(boxes: torch.Tensor, side: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    return (boxes + offset.repeat(1, 2)[:, None, :]) / side[:, None, None]


def _centres_inside(boxes: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """[..., M] whether each box's centre is strictly inside the window ([..., 4] broadcast over M)."""
    cx, cy = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
    w = window.unsqueeze(-2)
    return (w[..., 0] < cx) & (cx < w[..., 2]) & (w[..., 1] < cy) & (cy < w[..., 3])


def _iou(boxes: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """[B, T, M] Jaccard overlap of boxes [B, 1, M, 4] with windows [B, T, 1, 4]."""
    inter_w = (torch.minimum(boxes[..., 2], window[..., 2]) - torch.maximum(boxes[..., 0], window[..., 0])).clamp(min=0)
    inter_h = (torch.minimum(boxes[..., 3], window[..., 3]) - torch.maximum(boxes[..., 1], window[..., 1])).clamp(min=0)
    inter = inter_w * inter_h
    area = lambda b: (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)  # noqa: E731
    return inter / (area(boxes) + area(window) - inter).clamp(min=1e-12)


def crop_windows(canvas_boxes: torch.Tensor, target: torch.Tensor, aspect_unit: torch.Tensor, recipe: SsdRecipe,
                 rand: Callable[..., torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Step 3: (window [B, 4], cropped [B]) for boxes on the canvas [B, M, 4], ``target`` [B, M] (the rows the
    constraints count: training boxes), ``aspect_unit`` [B] (image width / height in pixels)."""
    n, trials, device = len(canvas_boxes), int(recipe.crop_trials), canvas_boxes.device
    options = torch.tensor([float(v) for v in recipe.crop_min_ious], device=device)
    pick, scale_u, place = rand(), rand(trials, 2), rand(trials, 2)
    min_iou = options[(pick * len(options)).long().clamp(max=len(options) - 1)]
    scale = _between(scale_u, recipe.crop_scale)                               # [B, T, 2] window w, h
    aspect = scale[..., 0] / scale[..., 1] * aspect_unit[:, None]
    lo = (1 - scale) * place
    windows = torch.cat([lo, lo + scale], dim=-1)                              # [B, T, 4]
    inside = _centres_inside(canvas_boxes[:, None], windows) & target[:, None]  # [B, T, M]
    iou = torch.where(inside, _iou(canvas_boxes[:, None], windows[:, :, None]), torch.full_like(inside, -1.0, dtype=torch.float32))
    valid = ((aspect >= float(recipe.crop_aspect[0])) & (aspect <= float(recipe.crop_aspect[1])) & inside.any(-1)
             & (iou.max(-1)[0] >= min_iou[:, None]))
    cropped = valid.any(1) & (min_iou < 1.0)
    first = valid.int().argmax(1)
    chosen = windows[torch.arange(n, device=device), first]
    whole = torch.tensor([0.0, 0.0, 1.0, 1.0], device=device).expand(n, 4)
    return torch.where(cropped[:, None], chosen, whole), cropped


def draw_geometry(rows: torch.Tensor, recipe: SsdRecipe, generator: Optional[torch.Generator],
                  part: Optional[BatchPart] = None) -> Geometry:
    """Steps 2-4's random parameters for a batch of box rows [B, M, K] (``data/boxes.py``)."""
    rand = _draws(part, len(rows), generator, rows.device)
    zoom = rand(4)
    side = torch.where(zoom[:, 0] < float(recipe.zoom_out_p), _between(zoom[:, 1], recipe.zoom_out_side),
                       torch.ones_like(zoom[:, 1]))
    offset = (side[:, None] - 1) * zoom[:, 2:4]
    canvas = _on_canvas(normalised_boxes(rows), side, offset)
    aspect_unit = rows[:, 0, B.IMAGE_W] / rows[:, 0, B.IMAGE_H].clamp(min=1e-6)
    window, cropped = crop_windows(canvas, rows[:, :, B.LABEL] >= 0, aspect_unit, recipe, rand)
    flip = rand() < float(recipe.flip_p)
    return Geometry(side, offset, window, cropped, flip)


def move_boxes(rows: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Box rows after the geometry (a new tensor): boxes zoomed out, cropped (clipped to the window; a box whose
    centre leaves a crop marked absent, ``boxes.mark_absent``) and flipped, in the original image's pixel frame.
    Padding rows, and every row of a sample the geometry leaves in place, are left as they are (bit for bit); no row
    moves, so every box keeps its BOX_ID."""
    out = rows.clone()
    real = rows[:, :, B.TYPE] >= 0
    moving = geometry.cropped | geometry.flip | (geometry.side != 1)
    canvas = _on_canvas(normalised_boxes(rows), geometry.side, geometry.offset)
    window = geometry.window[:, None, :]
    kept = ~geometry.cropped[:, None] | _centres_inside(canvas, geometry.window)
    low, high = window[..., 0:2].repeat(1, 1, 2), window[..., 2:4].repeat(1, 1, 2)  # x1 y1 x1 y1, x2 y2 x2 y2
    moved = (torch.minimum(torch.maximum(canvas, low), high) - low) / (high - low)
    flipped = torch.stack([1 - moved[..., 2], moved[..., 1], 1 - moved[..., 0], moved[..., 3]], dim=-1)
    moved = torch.where(geometry.flip[:, None, None], flipped, moved)
    pixels = moved * rows[:, :, [B.IMAGE_W, B.IMAGE_H, B.IMAGE_W, B.IMAGE_H]]
    coords = out[:, :, [B.X1, B.Y1, B.X2, B.Y2]]
    out[:, :, [B.X1, B.Y1, B.X2, B.Y2]] = torch.where((real & moving[:, None])[..., None], pixels, coords)
    return B.mark_absent(out, real & ~kept)


def warp(x: torch.Tensor, geometry: Geometry, fill: torch.Tensor, out_size: int) -> torch.Tensor:
    """Float images [B, C, H, W] through the geometry onto out_size x out_size: bilinear, the canvas outside the
    image filled with ``fill`` [C] (the output pixel at v of the crop reads the image at u = (corner + v * size) *
    side - offset)."""
    side, offset, window = geometry.side, geometry.offset, geometry.window
    span = (window[:, 2:4] - window[:, 0:2]) * side[:, None]        # [B, 2] d u / d v
    start = window[:, 0:2] * side[:, None] - offset                  # [B, 2] u at v = 0
    sign = torch.where(geometry.flip, -1.0, 1.0)
    ax, ay = span[:, 0] * sign, span[:, 1]
    bx, by = start[:, 0] + torch.where(geometry.flip, span[:, 0], torch.zeros_like(span[:, 0])), start[:, 1]
    theta = torch.zeros(len(x), 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 2] = ax, ax + 2 * bx - 1  # grid coordinates are 2u - 1 (align_corners=False)
    theta[:, 1, 1], theta[:, 1, 2] = ay, ay + 2 * by - 1
    grid = F.affine_grid(theta, [len(x), x.shape[1], out_size, out_size], align_corners=False)
    fill = fill.to(x.device, x.dtype).view(1, -1, 1, 1)
    return F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill
