"""Training-step cost of data parameters vs plain CE, same backbone, batch and data, in one process.

    PYTHONPATH=. python scripts/benchmark_data_params.py [--steps 30] [--curriculum joint] [overrides ...]

Builds two trainers from the same overrides (method=ce and method=data_params), then alternates their
training steps (CE, DP, CE, DP, ...) on the same batches so that machine load affects both alike, and
prints the median step time of each and their ratio. The paper claims no extra training time; the
issue's target is a ratio within 1.02. A benchmark, not a test: numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from dcl_runner.methods.base import Batch
from dcl_runner.testing import compose
from dcl_runner.train import Trainer, make_generator, step_seed

DEFAULT = ["dataset=digits_lt", "dataset.imbalance_ratio=null", "backbone=resnet32", "trainer.batch_size=128",
           "trainer.progress=false", "trainer.num_workers=0", "dataset.noise.rate=0.4"]


def build(overrides, run_dir):
    trainer = Trainer(compose(overrides), run_dir)
    trainer.build()
    trainer.method.setup(trainer.train_context())
    trainer.model.train()
    return trainer


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_step(trainer, images, y, idx, step):
    gen = make_generator(trainer.device, step_seed(0, 0, step))
    batch = Batch(x=trainer.augment.train(images, gen), y=y, index=idx, generator=gen)
    sync(trainer.device)
    start = time.perf_counter()
    trainer.train_step(batch, 0, {})
    sync(trainer.device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--curriculum", default="joint", choices=["class", "instance", "joint"])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (default: noisy digits, resnet32, batch 128)")
    args = parser.parse_args()
    overrides = args.overrides or DEFAULT
    with tempfile.TemporaryDirectory() as tmp:
        ce = build([*overrides, "method=ce"], f"{tmp}/ce")
        dp = build([*overrides, "method=data_params", f"method.curriculum={args.curriculum}"], f"{tmp}/dp")
        bs = int(ce.cfg.trainer.batch_size)
        times = {"ce": [], "dp": []}
        step = 0
        while len(times["ce"]) < args.warmup + args.steps:
            order = torch.randperm(len(ce.data.train), generator=torch.Generator().manual_seed(step))
            for images, y, idx in ce.train_loader.batches(order, bs, drop_last=True):
                for name, trainer in (("ce", ce), ("dp", dp)) if step % 2 == 0 else (("dp", dp), ("ce", ce)):
                    times[name].append(timed_step(trainer, images, y, idx, step))
                step += 1
                if len(times["ce"]) >= args.warmup + args.steps:
                    break
    med = {k: statistics.median(v[args.warmup:]) for k, v in times.items()}
    print(f"device {ce.device}, batch {bs}, {args.steps} timed steps each (after {args.warmup} warm-up), curriculum {args.curriculum}")
    print(f"median step: ce {1000 * med['ce']:.2f} ms   data_params {1000 * med['dp']:.2f} ms   ratio {med['dp'] / med['ce']:.4f}")


if __name__ == "__main__":
    main()
