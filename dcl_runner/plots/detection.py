"""DP Figure 3: the detection curriculum drawn on training images, each box's line as thick as its instance
parameter, at a few epochs over training (seed 003 sec. 3.3: "Thickness of a bounding box instance is
proportional to the value of parameter associated with it").

A data-parameters detection run (``method=data_params`` on a detection dataset) writes what it needs to
``curves/``: ``dp_inst_sigma_tracked.npy`` [epochs, K] (the tracked boxes' sigma after every epoch),
``dp_det_tracked_boxes.npy`` [images, M, 5] (each image's boxes, normalised x1 y1 x2 y2, and the position of the
box in the tracked list; -1 for a box that is no training target) and ``dp_det_tracked_images.npy`` [images, 3,
S, S] (uint8, min-max scaled for display).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import RunnerError
from .data_params import _pyplot, _save

MAX_WIDTH = 6.0   # line width (points) of the largest sigma drawn
MIN_WIDTH = 0.3


def snapshot_epochs(epochs: int, count: int = 4) -> List[int]:
    """``count`` epochs spread over training, first and last included (0-based rows of the sigma curve)."""
    return sorted({int(round(e)) for e in np.linspace(0, epochs - 1, min(count, epochs))})


def line_widths(sigma: np.ndarray, largest: float) -> np.ndarray:
    """Widths proportional to sigma: the largest sigma of the figure draws MAX_WIDTH points (MIN_WIDTH at least)."""
    return np.maximum(MIN_WIDTH, MAX_WIDTH * np.asarray(sigma, dtype=float) / max(largest, 1e-12))


def plot_dp_fig3(run_dir: Path, out_png: str | Path, banner: Optional[str] = None, images: int = 3) -> Path:
    run_dir = Path(run_dir)
    curves = {name: run_dir / "curves" / f"{name}.npy" for name in
              ("dp_inst_sigma_tracked", "dp_det_tracked_boxes", "dp_det_tracked_images")}
    missing = [name for name, path in curves.items() if not path.is_file()]
    if missing:
        raise RunnerError(f"{run_dir}: no curves/{missing[0]}.npy (a data_params run on a detection dataset writes it)")
    sigma, boxes, pixels = (np.load(path) for path in curves.values())
    shown = min(images, len(pixels))
    epochs = snapshot_epochs(len(sigma))
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(shown, len(epochs), figsize=(3.2 * len(epochs), 2.6 * shown), squeeze=False)
    largest = float(sigma.max())
    for row in range(shown):
        image = pixels[row].transpose(1, 2, 0)
        size = image.shape[0]
        for col, epoch in enumerate(epochs):
            ax = axes[row][col]
            ax.imshow(image)
            for x1, y1, x2, y2, position in boxes[row]:
                if position < 0:
                    continue
                width = float(line_widths([sigma[epoch, int(position)]], largest)[0])
                # imshow centres pixel i on i: the image's edge is at -0.5
                ax.add_patch(Rectangle((x1 * size - 0.5, y1 * size - 0.5), (x2 - x1) * size, (y2 - y1) * size, fill=False,
                                       edgecolor="yellow", linewidth=width))
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"epoch {epoch + 1}", fontsize=9)
    fig.text(0.01, 0.01, f"line width ∝ instance parameter sigma (largest drawn: {largest:.2f}); {run_dir.name}",
             fontsize=7)
    return _save(fig, out_png, banner)
