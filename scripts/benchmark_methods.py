"""Step cost of methods against plain cross-entropy on the same backbone and batch, in one process.

    python scripts/benchmark_methods.py --methods dcl crl_i --backbone deepid2 --batch-size 128 --device cpu
    python scripts/benchmark_methods.py --methods data_params --dataset digits_lt --backbone resnet32 --control
    python scripts/benchmark_methods.py --methods twohead --dataset synthetic_classes --backbone resnet32 --flops
    python scripts/benchmark_methods.py --methods reed_hard s_model l2rw mentornet_pd mentornet_dd \
        --dataset digits_lt --backbone resnet32 -o dataset.noise.rate=0.4 dataset.imbalance_ratio=null

For every method (``ce`` is always included as the reference) the config is composed like
``python -m dcl_runner method=<m> <overrides>`` and the trainer builds the run as it would (so precision,
channels-last and ``trainer.compile`` apply on a GPU); the method is set up on the training data, and then
one fixed batch (augmented once) goes through the trainer's own training step (forward + loss + backward +
optimizer step(s)) ``--steps`` times after ``--warmup`` untimed steps.

Methods run interleaved, one step each per round, so that a load change on a shared machine hits them
alike. Printed: the median wall and CPU milliseconds per step, and each method's cost relative to CE as
the median over rounds of (its step / CE's step in the same round) with the interquartile range of those
per-round ratios. On a machine whose speed drifts that is steadier than a ratio of two medians, and the
range says how far to trust it (more ``--steps`` narrow the error of the median).

A method that learns from a clean hold-out (``l2rw``, ``mentornet_dd``: ``uses_clean_holdout``) gets
``dataset.clean_holdout.size=<--clean-holdout>`` on top of the common overrides (the others refuse one). Its
step includes what it does per step (L2RW: the meta-gradient passes on a clean batch); MentorNet DD's one-time
mentor fit at the end of its burn-in is not a step (``--epoch`` past the burn-in times the fitted mentor's step).

``--control`` adds a second, independent CE trainer ("ce-control"): its ratio to CE is the noise floor.
``--flops`` adds each method's parameter count and forward FLOPs of the batch (torch's FlopCounterMode:
matmuls and convolutions). ``--epoch`` sets the epoch the schedulers are at (DCL: g(l) < 1 and f(l) > 0 at
the default, so both DSL and the triplet loss are computed).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcl_runner.methods.base import METHODS, Batch  # noqa: E402
from dcl_runner.config import compose  # noqa: E402
from dcl_runner.runtime import make_generator  # noqa: E402
from dcl_runner.train import Trainer  # noqa: E402

CONTROL = "ce-control"


class Runner:
    """One method's trainer (model, optimizers, method state as ``python -m dcl_runner`` builds them),
    ready to take the trainer's own training step on one fixed batch."""

    def __init__(self, label: str, method_name: str, overrides: List[str], epoch: int, seed: int, run_dir: Path):
        cfg = compose([f"method={method_name}", f"seed={seed}", "trainer.progress=false", *overrides])
        self.name = label
        self.trainer = Trainer(cfg, run_dir / label)
        trainer = self.trainer
        trainer.method.setup(trainer.train_context())
        trainer.method.on_epoch_start(min(epoch, int(cfg.trainer.epochs) - 1))
        trainer.model.train()
        trainer.method.train_mode(trainer.model)
        order = torch.randperm(len(trainer.data.train), generator=torch.Generator().manual_seed(seed))
        images, y, idx = next(iter(trainer.train_loader.batches(order, int(cfg.trainer.batch_size), True)))
        gen = make_generator(trainer.device, seed)
        self.batch = Batch(x=trainer.augment.train(images, gen), y=y, index=idx, generator=gen)

    def step(self) -> tuple:
        """One training step of the trainer; returns (wall seconds, CPU seconds of this process)."""
        device = self.trainer.device
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        sync()
        start, start_cpu = time.perf_counter(), time.process_time()
        self.trainer.train_step(self.batch, 0, 0, {})
        sync()
        return time.perf_counter() - start, time.process_time() - start_cpu

    def size(self) -> Tuple[int, int]:
        """(trainable parameters of the model and the method, forward FLOPs of the batch in training mode)."""
        from torch.utils.flop_counter import FlopCounterMode

        trainer = self.trainer
        params = sum(p.numel() for module in (trainer.model, trainer.method) for p in module.parameters() if p.requires_grad)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            trainer.method.training_step(trainer.forward_model, self.batch, 0)
        return params, counter.get_total_flops()


def build_runners(methods: List[str], overrides: List[str], epoch: int, seed: int, run_dir: Path, control: bool,
                  clean_holdout: int = 100) -> List[Runner]:
    """CE first (the reference), then the control CE if asked, then the methods (a clean hold-out for those that
    learn from one)."""
    labels = ["ce", *([CONTROL] if control else []), *[m for m in methods if m != "ce"]]
    runners = []
    for label in labels:
        method = "ce" if label == CONTROL else label
        holdout = [f"dataset.clean_holdout.size={clean_holdout}"] if METHODS.get(method).uses_clean_holdout else []
        runners.append(Runner(label, method, [*overrides, *holdout], epoch, seed, run_dir))
    return runners


def time_steps(runners: List[Runner], steps: int, warmup: int) -> Dict[str, List[tuple]]:
    """(wall, CPU) seconds of every timed step of each runner; step i of all runners ran in round i."""
    for _ in range(warmup):
        for r in runners:
            r.step()
    times: Dict[str, List[tuple]] = {r.name: [] for r in runners}
    for _ in range(steps):
        for r in runners:
            times[r.name].append(r.step())
    return times


def quartiles(values: List[float]) -> Tuple[float, float, float]:
    """(25th, 50th, 75th) percentiles."""
    q1, q2, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return q1, q2, q3


def summarize(times: Dict[str, List[tuple]]) -> List[Dict[str, float]]:
    """Per method: median wall / CPU ms per step and the quartiles of its per-round ratios to CE."""
    rows = []
    for name, values in times.items():
        row: Dict[str, float] = {"method": name}
        for column, kind in enumerate(("wall", "cpu")):
            row[f"{kind}_ms"] = 1000 * statistics.median(v[column] for v in values)
            ratios = [v[column] / ce[column] for v, ce in zip(values, times["ce"])]
            row[f"{kind}_q1"], row[f"{kind}_ratio"], row[f"{kind}_q3"] = quartiles(ratios)
        rows.append(row)
    return rows


def print_times(rows: List[Dict[str, float]]) -> None:
    print("ms: median per step; ratio: median over rounds of (method step / CE step), [25th, 75th percentile]")
    print("wall: elapsed time; cpu: this process's CPU time (less sensitive to other load on a shared machine)")
    print(f"{'method':<20} {'wall ms':>9} {'ratio':>7} {'IQR':>15} {'cpu ms':>9} {'ratio':>7} {'IQR':>15}")
    for r in rows:
        print(f"{r['method']:<20} {r['wall_ms']:>9.2f} {r['wall_ratio']:>7.3f} [{r['wall_q1']:.3f}, {r['wall_q3']:.3f}] "
              f"{r['cpu_ms']:>9.2f} {r['cpu_ratio']:>7.3f} [{r['cpu_q1']:.3f}, {r['cpu_q3']:.3f}]")


def print_sizes(runners: List[Runner]) -> None:
    sizes = {r.name: r.size() for r in runners}
    ce_params, ce_flops = sizes["ce"]
    print(f"{'method':<20} {'params':>11} {'vs CE':>8} {'fwd GFLOPs':>11} {'vs CE':>8}")
    for name, (params, flops) in sizes.items():
        print(f"{name:<20} {params:>11d} {100 * (params / ce_params - 1):>+7.2f}% {flops / 1e9:>11.3f} "
              f"{100 * (flops / max(ce_flops, 1) - 1):>+7.2f}%")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=["dcl"], help="method names (conf/method/*.yaml); ce is always the reference")
    parser.add_argument("--backbone", default="deepid2")
    parser.add_argument("--dataset", default="synthetic_attributes")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per method (median reported)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--epoch", type=int, default=2, help="the epoch the method's schedulers are at")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--control", action="store_true", help=f"also time a second CE trainer ({CONTROL}): the noise floor")
    parser.add_argument("--flops", action="store_true", help="also print parameters and forward FLOPs per method")
    parser.add_argument("--clean-holdout", type=int, default=100,
                        help="dataset.clean_holdout.size for the methods that learn from a clean hold-out (l2rw, mentornet_dd)")
    parser.add_argument("-o", "--overrides", nargs="*", default=[], help="extra config overrides for every method")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = [f"dataset={args.dataset}", f"backbone={args.backbone}", f"trainer.batch_size={args.batch_size}",
                 f"trainer.device={args.device}", *args.overrides]
    with tempfile.TemporaryDirectory() as run_dir:  # the trainers' run folders (nothing is kept)
        runners = build_runners(args.methods, overrides, args.epoch, args.seed, Path(run_dir), args.control,
                                args.clean_holdout)
        rows = summarize(time_steps(runners, args.steps, args.warmup))
        print(f"backbone={args.backbone} dataset={args.dataset} batch={args.batch_size} device={args.device} "
              f"steps={args.steps} (after {args.warmup} warm-up) threads={torch.get_num_threads()}")
        print_times(rows)
        if args.flops:
            print_sizes(runners)


if __name__ == "__main__":
    main()
