"""The cost of SSD's training augmentation (data/ssd_augment.py) per training batch at SSD300's input, against the
augmentation it replaced (normalisation only): 32 KITTI-shaped images (300 x 300 uint8 on a 1242 x 375 frame, 1 to
10 boxes each), the experiment's dataset section, median of 20 batches after 3 warm-ups.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python scripts/benchmark_ssd_augment.py [--device cuda]
"""
import argparse
import statistics
import time

import numpy as np
import torch

from dcl_runner.data import boxes as B
from dcl_runner.data.augment import build_augment
from dcl_runner.config import compose


def batch(n: int, device: torch.device):
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (n, 3, 300, 300), dtype=np.uint8))
    tables = []
    for _ in range(n):
        k = int(rng.integers(1, 11))
        rows = np.zeros((k, len(B.COLUMNS)), np.float32)
        rows[:, B.X1], rows[:, B.Y1] = rng.uniform(0, 1000, k), rng.uniform(100, 300, k)
        rows[:, B.X2], rows[:, B.Y2] = rows[:, B.X1] + rng.uniform(20, 240, k), rows[:, B.Y1] + rng.uniform(20, 75, k)
        tables.append(rows)
    targets = B.number_boxes(B.with_image_size(B.box_table(tables), np.tile([1242.0, 375.0], (n, 1))))
    return images.to(device), torch.from_numpy(targets).to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    images, targets = batch(args.batch, device)
    section = compose(["experiment=dp_kitti_ssd"]).dataset
    for mode in ("none", "ssd"):
        section.augment.geometric = section.augment.photometric = mode
        augment = build_augment(section)
        times = []
        for step in range(23):
            generator = torch.Generator(device=device).manual_seed(step)
            sync()
            start = time.perf_counter()
            augment.train_batch(images, targets, generator)
            sync()
            times.append(time.perf_counter() - start)
        print(f"geometric / photometric = {mode}: {1000 * statistics.median(times[3:]):.1f} ms per batch of "
              f"{args.batch} ({device}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
