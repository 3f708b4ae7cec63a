"""Images per second of the ImageNet input pipeline, per process, on this machine (docs/performance.md).

    python scripts/benchmark_pipeline.py                      # 256 images, every mode, 1 and 2 workers
    python scripts/benchmark_pipeline.py --images 512 --workers 0 2 4 --batch-size 64

The images are real photographs (scikit-learn's two sample JPEGs, china.jpg and flower.jpg, 640 x 427), cut into
ImageNet-like pictures (random crops of 55-100% of the side, resized to a short side of 333-500 px and saved as
JPEG quality 90: the ILSVRC-2012 training images average about 400 x 350 px and 110 kB) in a temporary folder
laid out as ImageNet (train/<wnid>/*.JPEG). Timed, each after one untimed pass:

- ``standard train``: decode + RandomResizedCrop(224) + flip (dataset.decode=standard), in this process;
- ``standard train + jitter``: the same with ColorJitter(0.4, 0.4, 0.4) (the ImageNet-LT protocol of th.t3);
- ``standard eval``: decode + Resize(256) + CenterCrop(224);
- ``standard train from a pack``: the same training transform, the JPEGs read from one packed file
  (``dataset.packed_dir``, data/packed.py) instead of one file each;
- ``cache read``: batches read from the decoded uint8 cache (dataset.decode=cache, 256 x 256) plus the device
  augmentation (random resized crop + flip, here on the CPU);
- ``loader train, W workers``: the trainer's own SplitLoader over the standard split with W DataLoader workers
  (images/s of the whole process, i.e. what one training process receives).
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcl_runner.config import compose  # noqa: E402
from dcl_runner.data import build_data  # noqa: E402
from dcl_runner.data.augment import build_augment  # noqa: E402
from dcl_runner.data.encoded import decode_rows  # noqa: E402
from dcl_runner.data.loader import SplitLoader  # noqa: E402
from dcl_runner.data.packed import main as write_pack  # noqa: E402


def make_images(root: Path, count: int, seed: int = 0) -> None:
    """``count`` ImageNet-like JPEGs from the two sample photographs, in 4 class folders under root/train and root/val."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(p) for p in load_sample_images().images]
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo = photos[i % len(photos)]
        side = rng.uniform(0.55, 1.0)
        w, h = int(photo.width * side), int(photo.height * side * rng.uniform(0.8, 1.0))
        left, top = int(rng.integers(0, photo.width - w + 1)), int(rng.integers(0, photo.height - h + 1))
        short = int(rng.integers(333, 501))
        scale = short / min(w, h)
        img = photo.crop((left, top, left + w, top + h)).resize((round(w * scale), round(h * scale)), Image.BILINEAR)
        for split in ("train", "val"):
            path = root / split / f"n{i % 4:08d}" / f"img_{i:05d}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            if split == "train" or i < 8:
                img.save(path, "JPEG", quality=90)


def rate(fn, images: int, repeats: int = 1) -> float:
    fn()  # untimed: page cache, imports, worker start-up paths
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return images * repeats / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_images(root, args.images)
        sizes = [p.stat().st_size for p in (root / "train").rglob("*.JPEG")]
        base = ["dataset=imagenet", f"dataset.root={root}", f"dataset.cache_dir={root / 'cache'}", "dataset.decode_workers=0"]
        standard = build_data(compose(base).dataset).train
        jitter = build_data(compose([*base, "dataset.augment.color_jitter=[0.4,0.4,0.4]"]).dataset).train
        cached = build_data(compose([*base, "dataset.decode=cache"]).dataset).train
        write_pack([*base, "--out", str(root / "packs")])
        packed = build_data(compose([*base, f"dataset.packed_dir={root / 'packs'}"]).dataset).train
        n, batch = len(standard), args.batch_size
        chunks = [np.arange(s, min(n, s + batch)) for s in range(0, n, batch)]
        d = compose(base).dataset
        augment = build_augment(d)  # the device half of the cache path (image_size 224): crop, flip, normalise
        generator = torch.Generator().manual_seed(0)

        def cache_read():
            for c in chunks:
                augment.train(torch.from_numpy(np.ascontiguousarray(cached.images[c])), generator)

        rows = [
            ("standard train (decode + RandomResizedCrop + flip)", rate(lambda: [decode_rows(standard.images, c, (1, 0)) for c in chunks], n)),
            ("standard train + ColorJitter(0.4, 0.4, 0.4)", rate(lambda: [decode_rows(jitter.images, c, (1, 0)) for c in chunks], n)),
            ("standard eval (decode + Resize(256) + CenterCrop(224))", rate(lambda: [decode_rows(standard.images, c) for c in chunks], n)),
            ("standard train from a pack (dataset.packed_dir)", rate(lambda: [decode_rows(packed.images, c, (1, 0)) for c in chunks], n)),
            ("cache read + device augmentation on the CPU (decode=cache)", rate(cache_read, n)),
        ]
        for workers in args.workers:
            loader = SplitLoader(standard, torch.device("cpu"), False, workers)
            tensors = [torch.from_numpy(c) for c in chunks]
            crops = [(k, 0) for k in range(len(chunks))]
            rows.append((f"loader train, {workers} DataLoader worker(s) (one process receives)",
                         rate(lambda: [None for _ in loader.load(tensors, crops)], n)))
    print(f"{n} JPEGs, mean {np.mean(sizes) / 1e3:.0f} kB; batch {batch}; torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s) in the main process\n")
    print("| mode | images/s |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.0f} |")


if __name__ == "__main__":
    main()
