"""Two-head model vs CE: FLOPs and time of one training step (forward + backward + SGD), in one process.

    PYTHONPATH=. OMP_NUM_THREADS=1 python scripts/twohead_overhead.py [--backbone resnet32] [--classes 100]
        [--ratio 100] [--batch 128] [--size 32] [--steps 20] [--device cpu]

Builds the model each method would train on a long-tailed profile (n_max 500, CIFAR-100-LT by default),
counts the forward FLOPs of a training batch with torch's FlopCounterMode, then times interleaved steps (CE, two-head,
CE, ...) on random data and reports medians, so both see the same machine load.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from dcl_runner.data.base import MULTICLASS, TaskInfo
from dcl_runner.data.longtail import longtail_counts
from dcl_runner.methods.base import Batch, build_method
from dcl_runner.models import Classifier, build_backbone
from dcl_runner.testing import compose


def build(method: str, args, task: TaskInfo):
    cfg = compose([f"method={method}", f"backbone={args.backbone}"])
    m = build_method(cfg.method, task)
    backbone = build_backbone(cfg.backbone, in_channels=3, image_size=args.size)
    model = Classifier(backbone, m.build_head(backbone.feature_dim, backbone.out_channels)).to(args.device)
    m.to(args.device)
    return m, model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def step(m, model, opt, batch) -> None:
    result = m.training_step(model, batch, 0)
    opt.zero_grad(set_to_none=True)
    result.loss.backward()
    opt.step()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--backbone", default="resnet32")
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--ratio", type=float, default=100)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    counts = np.asarray(longtail_counts(500, args.classes, args.ratio))
    task = TaskInfo(MULTICLASS, [str(i) for i in range(args.classes)], counts, int(counts.sum()), (3, args.size, args.size))
    runs = {name: build(name, args, task) for name in ("ce", "twohead")}
    gen = torch.Generator(device=args.device).manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    y = torch.as_tensor(np.random.default_rng(0).integers(0, args.classes, args.batch), device=args.device)
    batch = Batch(x=x, y=y, index=torch.randint(0, task.num_train, (args.batch,), device=args.device), generator=gen)
    th = runs["twohead"][0]  # each batch sample in the first cluster of its class (timing only)
    first_cluster = torch.cumsum(th.clusters_per_class, 0) - th.clusters_per_class
    th.sample_cluster[batch.index] = first_cluster[y]
    for name, (m, model, opt) in runs.items():
        # forward FLOPs (training mode: both heads). The step's backward is about twice that; torch's
        # counter is not used on it because it counts a grouped convolution's backward as a dense one.
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            m.training_step(model, batch, 0)
        runs[name] = (m, model, opt, fc.get_total_flops())
    times = {name: [] for name in runs}
    for _ in range(3):  # warm-up
        for name, (m, model, opt, _) in runs.items():
            step(m, model, opt, batch)
    for _ in range(args.steps):
        for name, (m, model, opt, _) in runs.items():
            if args.device != "cpu":
                torch.cuda.synchronize()
            t = time.perf_counter()
            step(m, model, opt, batch)
            if args.device != "cpu":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t)
    ce_flops, ce_time = runs["ce"][3], statistics.median(times["ce"])
    print(f"{args.backbone}, {args.classes} classes at ratio {args.ratio:g}, batch {args.batch}, {args.size} px, "
          f"{args.device}, {torch.get_num_threads()} thread(s); K = {int(runs['twohead'][0].num_clusters)} clusters")
    for name, (_, model, _, flops) in runs.items():
        med = statistics.median(times[name])
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:8s} params {params / 1e6:7.3f} M  forward GFLOPs/batch {flops / 1e9:8.3f} ({100 * (flops / ce_flops - 1):+.2f}%)  "
              f"median step {1000 * med:8.1f} ms ({100 * (med / ce_time - 1):+.1f}%)")


if __name__ == "__main__":
    main()
