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

``--per-epoch`` adds the work a method does once per epoch (``on_epoch_start`` after a training step, e.g.
LMLE / CLMLE embedding the training set and re-clustering it) and an epoch estimate: steps per epoch x the
median step + the median epoch hook, and its ratio to CE's (the DCL paper's sec. 4.3.2 point that LMLE / CLMLE
are "computationally expensive").
A stage-2 method (its class names a ``stage1_method``: ``crt``, ``lws``, ``mislas``) is timed as it runs, from a
stage-1 checkpoint: CE's freshly built model is saved and given to it as ``trainer.init_from`` (a CE and a mixup
stage 1 have the same weights' shapes, and a step's cost does not depend on their values).
A method that learns from a clean hold-out (``l2rw``, ``mentornet_dd``: ``uses_clean_holdout``) gets
``dataset.clean_holdout.size=<--clean-holdout>`` on top of the common overrides (the others refuse one). Its
step includes what it does per step (L2RW: the meta-gradient passes on a clean batch); MentorNet DD's one-time
mentor fit at the end of its burn-in is not a step (``--epoch`` past the burn-in times the fitted mentor's step).

``--control`` adds a second, independent CE trainer ("ce-control"): its ratio to CE is the noise floor.
``--bare`` adds the runner's overhead against a bare PyTorch loop over the same model, batch and data: a copy
of CE's model trained by a plain ``zero_grad / forward / cross_entropy / backward / SGD step`` ("bare", whose
ratio to CE shows what the trainer's step adds), and the evaluation of the whole eval split by the trainer's
``predict()`` against a plain ``no_grad`` loop at the same batch size (interleaved ``--eval-rounds`` times).
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
        x, y = trainer.augment.train_batch(images, y, gen)  # detection: the boxes follow the pixels
        self.batch = Batch(x=x, y=y, index=idx, generator=gen)

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


class BareRunner:
    """A bare PyTorch loop on a copy of the reference (CE) trainer's model: model, SGD, cross-entropy, nothing else."""

    def __init__(self, reference: Runner):
        import copy

        ref = reference.trainer
        self.name = "bare"
        self.model = copy.deepcopy(ref.model).train()
        opt = ref.cfg.trainer.optimizer
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay)
        self.x, self.y = reference.batch.x, reference.batch.y
        self.device = ref.device

    def step(self) -> tuple:
        sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        sync()
        start, start_cpu = time.perf_counter(), time.process_time()
        self.optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(self.model(self.x)["logits"], self.y)
        loss.backward()
        self.optimizer.step()
        sync()
        return time.perf_counter() - start, time.process_time() - start_cpu


def time_evaluation(reference: Runner, rounds: int) -> Dict[str, List[float]]:
    """Seconds to score the whole eval split: the trainer's predict() vs a bare no_grad loop, interleaved."""
    trainer = reference.trainer
    loader, batch = trainer.eval_loader, int(trainer.cfg.trainer.eval_batch_size)
    d = trainer.cfg.dataset
    mean = torch.tensor(d.mean, device=trainer.device).view(1, -1, 1, 1) * 255
    std = torch.tensor(d.std, device=trainer.device).view(1, -1, 1, 1) * 255
    model = trainer.model
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)

    @torch.no_grad()
    def bare() -> None:
        model.eval()
        for images, _, _ in loader.batches(torch.arange(len(loader)), batch):
            model(((images.float() - mean) / std))["logits"].cpu()
        model.train()

    out: Dict[str, List[float]] = {"runner predict": [], "bare eval loop": []}
    for _ in range(rounds):
        for name, fn in (("runner predict", trainer.predict), ("bare eval loop", bare)):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            out[name].append(time.perf_counter() - start)
    return out


def build_runners(methods: List[str], overrides: List[str], epoch: int, seed: int, run_dir: Path, control: bool,
                  clean_holdout: int = 100) -> List[Runner]:
    """CE first (the reference), then the control CE if asked, then the methods; stage-2 methods start from a
    checkpoint of CE's model (``trainer.init_from``), as they would from their stage-1 run; a method that learns
    from a clean hold-out gets one of ``clean_holdout`` images."""
    labels = ["ce", *([CONTROL] if control else []), *[m for m in methods if m != "ce"]]
    runners = [Runner("ce", "ce", overrides, epoch, seed, run_dir)]
    stage1 = run_dir / "stage1.pt"
    for label in labels[1:]:
        extra = [f"dataset.clean_holdout.size={clean_holdout}"] if label != CONTROL and METHODS.get(label).uses_clean_holdout else []
        if getattr(METHODS.get(label), "stage1_method", None) if label != CONTROL else None:
            if not stage1.exists():
                torch.save({"model": runners[0].trainer.model.state_dict()}, stage1)
            extra += [f"trainer.init_from={stage1}"]
        runners.append(Runner(label, "ce" if label == CONTROL else label, [*overrides, *extra], epoch, seed, run_dir))
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


def time_epoch_hooks(runners: List[Runner], rounds: int, epoch: int) -> Dict[str, List[float]]:
    """Wall seconds of each runner's ``on_epoch_start`` right after one training step (so a method that re-clusters
    the model it trains does so), ``rounds`` times, interleaved as the steps are."""
    sync = torch.cuda.synchronize if runners[0].trainer.device.type == "cuda" else (lambda: None)
    times: Dict[str, List[float]] = {r.name: [] for r in runners}
    for _ in range(rounds):
        for r in runners:
            r.step()
            sync()
            start = time.perf_counter()
            r.trainer.method.on_epoch_start(epoch)
            sync()
            times[r.name].append(time.perf_counter() - start)
    return times


def print_epochs(runners: List[Runner], rows: List[Dict[str, float]], hooks: Dict[str, List[float]]) -> None:
    step_ms = {r["method"]: r["wall_ms"] for r in rows}
    print("per epoch: steps x median step + median epoch hook (wall); ratio: to CE's epoch")
    print(f"{'method':<20} {'steps':>6} {'hook ms':>10} {'epoch s':>9} {'ratio':>7}")
    epochs = {}
    for r in runners:
        steps = r.trainer.steps_per_epoch
        hook = 1000 * statistics.median(hooks[r.name])
        epochs[r.name] = (steps * step_ms[r.name] + hook) / 1000
        print(f"{r.name:<20} {steps:>6d} {hook:>10.1f} {epochs[r.name]:>9.2f} {epochs[r.name] / epochs['ce']:>7.3f}")


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
    parser.add_argument("--bare", action="store_true", help="also time a bare PyTorch loop on CE's model (step and evaluation)")
    parser.add_argument("--eval-rounds", type=int, default=3, help="--bare: interleaved evaluations of the eval split")
    parser.add_argument("--per-epoch", type=int, default=0, metavar="ROUNDS",
                        help="also time each method's once-per-epoch work (ROUNDS times) and estimate an epoch")
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
        timed = runners + ([BareRunner(runners[0])] if args.bare else [])
        rows = summarize(time_steps(timed, args.steps, args.warmup))
        print(f"backbone={args.backbone} dataset={args.dataset} batch={args.batch_size} device={args.device} "
              f"steps={args.steps} (after {args.warmup} warm-up) threads={torch.get_num_threads()}")
        print_times(rows)
        if args.flops:
            print_sizes(runners)
        if args.bare:
            evals = time_evaluation(runners[0], args.eval_rounds)
            runner_s, bare_s = (statistics.median(v) for v in evals.values())
            print(f"evaluation of {len(runners[0].trainer.eval_loader)} images at batch "
                  f"{runners[0].trainer.cfg.trainer.eval_batch_size}: runner predict {runner_s:.3f} s, bare loop "
                  f"{bare_s:.3f} s, ratio {runner_s / bare_s:.3f} (median of {args.eval_rounds} interleaved rounds)")
        if args.per_epoch:
            print_epochs(runners, rows, time_epoch_hooks(runners, args.per_epoch, args.epoch))


if __name__ == "__main__":
    main()
