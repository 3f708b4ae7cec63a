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


def loss_and_update_time(trainer, logits, batch, reps):
    """Median time of the method's loss, its backward to the logits, and the method's optimizer steps."""
    out = []
    for _ in range(reps):
        x = logits.detach().clone().requires_grad_(True)
        sync(trainer.device)
        start = time.perf_counter()
        result = trainer.method.loss({"logits": x}, batch, 0)
        for opt in trainer.method.optimizers():
            opt.zero_grad(set_to_none=True)
        result.loss.backward()
        for opt in trainer.method.optimizers():
            opt.step()
        sync(trainer.device)
        out.append(time.perf_counter() - start)
    return statistics.median(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--curriculum", default="joint", choices=["class", "instance", "joint"])
    parser.add_argument("--control", action="store_true", help="time CE against CE: the noise floor of the ratio")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (default: noisy digits, resnet32, batch 128)")
    args = parser.parse_args()
    overrides = args.overrides or DEFAULT
    with tempfile.TemporaryDirectory() as tmp:
        ce = build([*overrides, "method=ce"], f"{tmp}/ce")
        dp_method = ["method=ce"] if args.control else ["method=data_params", f"method.curriculum={args.curriculum}"]
        dp = build([*overrides, *dp_method], f"{tmp}/dp")
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
        # the part that differs, isolated (less noisy than whole steps on a busy machine)
        images, y, idx = next(iter(ce.train_loader.batches(torch.arange(len(ce.data.train)), bs)))
        batch = Batch(x=images, y=y, index=idx)
        logits = torch.randn(len(y), ce.task.num_outputs, device=ce.device)
        iso = {"ce": [], "dp": []}
        for _ in range(5):
            iso["ce"].append(loss_and_update_time(ce, logits, batch, 40))
            iso["dp"].append(loss_and_update_time(dp, logits, batch, 40))
    med = {k: statistics.median(v[args.warmup:]) for k, v in times.items()}
    extra = statistics.median(iso["dp"]) - statistics.median(iso["ce"])
    what = "control: CE vs CE" if args.control else f"curriculum {args.curriculum}"
    print(f"device {ce.device}, batch {bs}, {args.steps} timed steps each (after {args.warmup} warm-up), {what}")
    print(f"median step: ce {1000 * med['ce']:.2f} ms   data_params {1000 * med['dp']:.2f} ms   ratio {med['dp'] / med['ce']:.4f}")
    print(f"loss + data-parameter update alone: ce {1000 * statistics.median(iso['ce']):.3f} ms   data_params "
          f"{1000 * statistics.median(iso['dp']):.3f} ms   extra {1000 * extra:.3f} ms = {100 * extra / med['ce']:.2f}% of a CE step")


if __name__ == "__main__":
    main()
