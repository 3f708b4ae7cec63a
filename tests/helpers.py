"""Test helpers: tiny settings, the config a CLI call composes, the real CLI in a subprocess, a Ctrl-C at step N,
and the fixture files (one image writer, a CelebA folder) that several test folders use.

Tests import them as ``from helpers import ...`` from any folder under tests/ (conftest.py puts tests/ on the path).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence, Tuple, Union

import numpy as np
from omegaconf import DictConfig

from dcl_runner import config


def compose(overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """The config ``python -m dcl_runner <overrides>`` runs: the tests' one way to compose (conftest.py's
    package-scoped ``compose_cache`` composes each distinct override list once and hands out copies)."""
    return config.compose(overrides, return_hydra_config)


def compose_many(override_lists: Sequence[Sequence[str]], return_hydra_config: bool = False) -> List[DictConfig]:
    return config.compose_many(override_lists, return_hydra_config)


REPO_ROOT = Path(__file__).resolve().parents[1]

# settings that make any config run in seconds on a CPU, for tests
TINY = [
    "trainer.epochs=1",
    "trainer.batch_size=32",
    "trainer.eval_batch_size=128",
    "trainer.progress=false",
    "trainer.num_workers=0",
    "trainer.device=cpu",
    "dataset.max_train_samples=128",
    "dataset.max_eval_samples=64",
    "backbone.width=0.25",
]


def run_cli(args: Sequence[str], cwd: str | os.PathLike | None = None, timeout: float = 300, env=None) -> subprocess.CompletedProcess:
    """Run ``python -m dcl_runner <args>`` with this checkout's package first on the path."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full_env.setdefault("OMP_NUM_THREADS", "2")
    return subprocess.run(
        [sys.executable, "-m", "dcl_runner", *args],
        cwd=str(cwd or REPO_ROOT),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def signal_at_step(step: int, sig: int = signal.SIGINT, install=None) -> None:
    """Make runs built after this call send themselves ``sig`` at their ``step``-th training step (counted over
    every run built after it, whatever the method); later steps run normally, so a resumed run is not stopped
    again. ``install(module, name, value)`` puts the wrapper in place: a monkeypatch's ``setattr`` (undone after the
    test), or plain ``setattr`` in a forked process that exits after the test."""
    import dcl_runner.train as train_module

    build = train_module.build_method
    steps_taken = [0]

    def build_signalling(cfg, task):
        method = build(cfg, task)
        training_step = method.training_step

        def counted_step(model, batch, epoch):
            steps_taken[0] += 1
            if steps_taken[0] == step:
                os.kill(os.getpid(), sig)
            return training_step(model, batch, epoch)

        method.training_step = counted_step
        return method

    (install or setattr)(train_module, "build_method", build_signalling)


def interrupt_at_step(monkeypatch, step: int) -> None:
    """A user's Ctrl-C (SIGINT) at the ``step``-th training step of the runs built after this call."""
    signal_at_step(step, signal.SIGINT, monkeypatch.setattr)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process_main(rank: int, world: int, port: int, fn, args, results) -> None:
    """One forked process of ``run_in_processes``: join the gloo group through torchrun's variables, run ``fn``."""
    import traceback

    import torch

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    try:
        results.put((rank, "ok", fn(rank, *args)))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        results.put((rank, "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        from dcl_runner.distributed import shutdown

        shutdown()


def run_in_processes(world: int, fn, *args, timeout: float = 120):
    """``fn(rank, *args)`` in ``world`` forked processes joined as one gloo process group (what torchrun gives a
    run, without starting new interpreters: the forks inherit this one's imports, so a test takes seconds).
    Returns each rank's (status, value): ("ok", what fn returned, picklable) or ("error", traceback)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_process_main, args=(r, world, port, fn, args, results)) for r in range(world)]
    for p in procs:
        p.start()
    out = {}
    try:
        for _ in range(world):
            rank, status, value = results.get(timeout=timeout)
            out[rank] = (status, value)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    return [out.get(r, ("error", "no result (hung or killed)")) for r in range(world)]


# ---------------------------------------------------------------------------------------------
# fixture files in the datasets' real formats
# ---------------------------------------------------------------------------------------------
def write_image(path: Path, colour: Union[int, Tuple[int, int, int]], size: Tuple[int, int] = (20, 20),
                top_red: int | None = None) -> Path:
    """One fixture image, in the format its suffix names (.jpg / .JPEG: JPEG at quality 95; .png: lossless).

    ``colour``: a grey value (taken mod 256) or an (r, g, b) triple filling the image; ``size``: (width, height);
    ``top_red``: the top half's red channel set to it (a second colour, so that decoding a crop has something to
    tell apart). Parent folders are created."""
    from PIL import Image

    width, height = size
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[...] = np.asarray(colour, dtype=np.int64) % 256
    if top_red is not None:
        pixels[: height // 2, :, 0] = top_red
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=95)
    return path


def make_celeba(root: Path, n: int = 12, partition=None):
    """CelebA in torchvision's layout under ``root/celeba``: ``n`` 20x24 JPEGs (image i grey 10 i), their 40
    attributes (seeded, 30% positive) and the partition (half train, a quarter val, the rest test, unless given).
    Returns (labels in {-1, 1} [n, 40], partition)."""
    from dcl_runner.data.celeba_attributes import ATTRIBUTE_NAMES

    base = root / "celeba"
    rng = np.random.default_rng(0)
    labels = np.where(rng.random((n, 40)) < 0.3, 1, -1)
    files = [f"{i + 1:06d}.jpg" for i in range(n)]
    for i, f in enumerate(files):
        write_image(base / "img_align_celeba" / f, 10 * i, size=(20, 24))
    rows = [f"{f} " + " ".join(f"{v:2d}" for v in row) for f, row in zip(files, labels)]
    (base / "list_attr_celeba.txt").write_text(f"{n}\n" + " ".join(ATTRIBUTE_NAMES) + "\n" + "\n".join(rows) + "\n")
    partition = partition or [0] * (n // 2) + [1] * (n // 4) + [2] * (n - n // 2 - n // 4)
    (base / "list_eval_partition.txt").write_text("".join(f"{f} {p}\n" for f, p in zip(files, partition)))
    return labels, partition


# -- slow real-data check of a long-tail method against CE (tests/methods/test_<method>.py, ``-m slow``) ------------
# scikit-learn's digits at imbalance ratio 100 (150 .. 1 training images per digit, a balanced test set of 30 per
# digit); few-shot recall = digits with < 20 training images (6 of 10).
SLOW_DIGITS = [
    "dataset=digits_lt", "dataset.imbalance_ratio=100", "backbone=resnet32", "trainer.epochs=30",
    "trainer.batch_size=32", "trainer.num_threads=1", "trainer.progress=false", "trainer.device=cpu",
]
SLOW_SEEDS = (0, 1, 2)
_SLOW_RUNS: dict = {}  # (overrides..., seed) -> final metrics


def few_shot_against_ce(tmp_path: Path, method: Sequence[str], seeds: Sequence[int] = SLOW_SEEDS,
                        setting: Sequence[str] = ()) -> Tuple[float, float]:
    """(few-shot recall gain of ``method`` over CE averaged over ``seeds``, the seed spread: the larger of the two
    methods' standard deviations over the seeds); prints every number. ``setting``: overrides of ``SLOW_DIGITS`` for
    both methods (e.g. a milder ``dataset.imbalance_ratio``)."""
    import json

    import numpy as np

    from dcl_runner.train import run_experiment

    results = {"ce": {"few_shot": [], "top1": []}, "method": {"few_shot": [], "top1": []}}
    for seed in seeds:
        for label, overrides in (("ce", [*setting, "method=ce"]), ("method", [*setting, *method])):
            key = (*overrides, seed)
            if key not in _SLOW_RUNS:  # CE's runs are shared by the slow checks of one session
                _SLOW_RUNS[key] = run_experiment(compose([*SLOW_DIGITS, *overrides, f"seed={seed}"]), tmp_path / f"{label}-{seed}")
            results[label]["few_shot"].append(_SLOW_RUNS[key]["few_shot"])
            results[label]["top1"].append(_SLOW_RUNS[key]["top1"])
    print(f"\ndigits_lt {' '.join(setting) or 'ratio 100'}, {' '.join(method)} vs ce, seeds {tuple(seeds)}:",
          json.dumps(results))
    gain = float(np.mean(results["method"]["few_shot"]) - np.mean(results["ce"]["few_shot"]))
    spread = float(max(np.std(results["method"]["few_shot"]), np.std(results["ce"]["few_shot"])))
    print(f"few-shot gain {gain:.2f} vs seed spread {spread:.2f}; top-1 {np.mean(results['method']['top1']):.2f} "
          f"vs ce {np.mean(results['ce']['top1']):.2f}")
    return gain, spread


# KITTI label_2 lines of the fixture (type truncated occluded alpha left top right bottom h w l x y z rotation_y)
KITTI_LABELS = {
    "000000": ["Car 0.00 0 -1.57 100.00 120.00 300.00 220.00 1.5 1.6 3.9 1.0 1.7 10.0 -1.5",
               "Van 0.10 1 -1.20 600.00 150.00 700.00 230.00 2.0 1.9 4.5 3.0 1.7 20.0 -1.2",
               "DontCare -1 -1 -10 900.00 160.00 1000.00 190.00 -1 -1 -1 -1000 -1000 -1000 -10"],
    "000001": ["Car 0.40 2 1.00 10.00 150.00 200.00 300.00 1.5 1.6 3.9 -5.0 1.7 8.0 0.9",
               "Pedestrian 0.00 0 0.20 500.00 140.00 540.00 260.00 1.8 0.6 0.8 1.0 1.7 12.0 0.2",
               "Car 0.00 1 0.30 800.00 170.00 900.00 200.00 1.5 1.6 3.9 9.0 1.7 40.0 0.3"],
    "000002": ["Cyclist 0.00 0 0.10 300.00 150.00 360.00 260.00 1.7 0.6 1.8 0.5 1.7 15.0 0.1"],
    "000003": ["Car 0.00 0 -0.50 400.00 180.00 620.00 300.00 1.5 1.6 3.9 0.0 1.7 9.0 -0.5"],
}


def make_kitti(root: Path, train=("000000", "000001"), val=("000002", "000003"), size=(1242, 375)) -> Path:
    """A tiny KITTI object-detection tree: training/image_2/*.png (KITTI's 1242 x 375, one colour each with a red
    top half), training/label_2/*.txt (``KITTI_LABELS``) and ImageSets/train.txt, val.txt."""
    root = Path(root)
    for k, (image_id, lines) in enumerate(KITTI_LABELS.items()):
        write_image(root / "training" / "image_2" / f"{image_id}.png", 40 * k + 20, size=size, top_red=200)
        label = root / "training" / "label_2" / f"{image_id}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("\n".join(lines) + "\n")
    (root / "ImageSets").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "train.txt").write_text("\n".join(train) + "\n")
    (root / "ImageSets" / "val.txt").write_text("\n".join(val) + "\n")
    return root
