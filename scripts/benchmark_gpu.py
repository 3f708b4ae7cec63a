"""GPU speed (issue 16, item 3) as one prepared script for a session that has a GPU, writing its table into
docs/performance.md ("GPU speed" section, between the benchmark_gpu markers) and the raw numbers into a JSON.

    python scripts/benchmark_gpu.py --json $OUT/gpu.json                    # on a GPU machine: all four parts
    python scripts/benchmark_gpu.py --device cpu --scale tiny --doc /tmp/perf.md --json /tmp/gpu.json
                                                                           # dry run: checks the script, not speed

Parts (``--parts`` picks some):
- ``twohead``: the two-head paper's CIFAR-100-LT protocol (experiment=th_cifar100_lt: ResNet-32, 200 epochs,
  batch 128, ratio 100) run by the CLI as a user runs it, with bf16, channels-last and torch.compile, the data
  resident on the device. CIFAR-100's pickles are written in torchvision's layout with random pixels (timing does
  not depend on pixel values). Reported: the run's wall time (metrics.json) and its epochs after the first.
- ``celeba``: DCL's CelebA protocol (experiment=dcl_celeba: DeepID2, batch 512) for ``--celeba-epochs`` epochs
  on a synthetic 40-attribute set at CelebA's 64-pixel training size, ``--celeba-images`` training images;
  the median epoch after the first (compile) is scaled to CelebA's 162,770 training and 19,962 test images and
  projected to the protocol's 300 epochs. A projection, said so in the table.
- ``ratios``: the training step of DCL (CelebA setting), data parameters and the two-head model (CIFAR-100-LT
  setting) against CE on the same backbone and batch, interleaved, with a second CE trainer as the noise floor
  (scripts/benchmark_methods.py's timing).
- ``pipeline``: images/s of the ImageNet input pipeline per process (scripts/benchmark_pipeline.py).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from dcl_runner.io import atomic_write_text  # noqa: E402

CONTROL = "ce-control"  # benchmark_methods.CONTROL: the second CE trainer, the noise floor
BEGIN, END = "<!-- benchmark_gpu: begin -->", "<!-- benchmark_gpu: end -->"
CELEBA_TRAIN, CELEBA_TEST, CELEBA_EPOCHS = 162_770, 19_962, 300   # CelebA's official partition; DCL sec. 4.3.1
PARTS = ("twohead", "celeba", "ratios", "pipeline")

# What each scale runs: "full" is the measurement, "tiny" only exercises the code paths on a CPU.
SCALES = {
    "full": dict(cli=[], cifar_per_class=500, cifar_test_per_class=100, celeba_images=32_768,
                 celeba_epochs=3, ratio_steps=50, ratio_warmup=10, pipeline_images=512),
    "tiny": dict(cli=["budget=smoke"], cifar_per_class=5, cifar_test_per_class=1, celeba_images=256,
                 celeba_epochs=2, ratio_steps=2, ratio_warmup=1, pipeline_images=8),
}


def write_cifar100(root: Path, per_class: int, test_per_class: int, seed: int = 0) -> Path:
    """CIFAR-100's python pickles (cifar-100-python/{train,test,meta}) with random pixels."""
    base = root / "cifar-100-python"
    base.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, count in (("train", per_class), ("test", test_per_class)):
        labels = np.repeat(np.arange(100), count)
        data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
        (base / name).write_bytes(pickle.dumps({"data": data, "fine_labels": labels.tolist()}))
    (base / "meta").write_bytes(pickle.dumps({"fine_label_names": [f"class{i}" for i in range(100)]}))
    return root


def run_cli(overrides: List[str], output_root: Path) -> Dict:
    """``python -m dcl_runner <overrides>`` in a child process; its metrics.json and epoch times (history.csv)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "dcl_runner", *overrides, f"output_root={output_root}", "trainer.progress=false"]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    metrics = sorted(output_root.rglob("metrics.json"), key=lambda p: p.stat().st_mtime)
    if done.returncode != 0 or not metrics:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    record = json.loads(metrics[-1].read_text())
    if record["status"] != "completed":
        raise RuntimeError(f"{metrics[-1]}: status {record['status']} ({record.get('reason')})")
    with open(metrics[-1].parent / "history.csv", newline="") as history:
        times = [float(row["time_s"]) for row in csv.DictReader(history)]
    return {"process_wall_s": wall, "run_wall_s": record["wall_time_s"], "epoch_end_s": times,
            "epochs": record["epochs_completed"], "command": " ".join(["python -m dcl_runner", *overrides])}


def fast_overrides(device: str) -> List[str]:
    """What makes a GPU run fast (bf16, channels-last, compile); fp32 and eager on a CPU."""
    if device.startswith("cuda"):
        return [f"trainer.device={device}", "trainer.precision=bf16", "trainer.channels_last=true",
                "trainer.compile=true", "trainer.deterministic=false"]
    return [f"trainer.device={device}"]


def epoch_seconds(epoch_end_s: List[float]) -> float:
    """Median epoch after the first (the first pays compilation and warm-up)."""
    steps = np.diff(epoch_end_s).tolist()
    return statistics.median(steps) if steps else epoch_end_s[0]


def celeba_projection(epoch_s: float, images: int) -> tuple:
    """(seconds per CelebA epoch, hours for the protocol's 300 epochs) from an epoch over ``images`` images."""
    per_epoch = epoch_s * CELEBA_TRAIN / images
    return per_epoch, per_epoch * CELEBA_EPOCHS / 3600


def part_twohead(args, scale: Dict, work: Path) -> Dict:
    root = write_cifar100(work / "cifar", scale["cifar_per_class"], scale["cifar_test_per_class"])
    overrides = ["experiment=th_cifar100_lt", f"dataset.root={root}", *scale["cli"], *fast_overrides(args.device)]
    result = run_cli(overrides, work / "runs_twohead")
    result["command"] = result["command"].replace(str(root), "<folder with cifar-100-python/>")
    result["epoch_s"] = epoch_seconds(result["epoch_end_s"])
    return result


def part_celeba(args, scale: Dict, work: Path) -> Dict:
    images = scale["celeba_images"]
    test_images = max(1, round(images * CELEBA_TEST / CELEBA_TRAIN))
    overrides = ["experiment=dcl_celeba", "dataset=synthetic_attributes", "dataset.image_size=64",
                 f"dataset.num_train={images}", f"dataset.num_test={test_images}",
                 *scale["cli"], f"trainer.epochs={scale['celeba_epochs']}", *fast_overrides(args.device)]
    result = run_cli(overrides, work / "runs_celeba")
    measured = epoch_seconds(result["epoch_end_s"])
    celeba_epoch_s, projected_h = celeba_projection(measured, images)
    result.update(images=images, test_images=test_images, epoch_s=measured, celeba_epoch_s=celeba_epoch_s,
                  projected_300_h=projected_h)
    return result


def part_ratios(args, scale: Dict, work: Path) -> Dict:
    import benchmark_methods as bm

    settings = {
        "dcl": dict(methods=["dcl"], overrides=["dataset=synthetic_attributes", "dataset.image_size=64",
                                                 "backbone=deepid2", "trainer.batch_size=512"]),
        "cifar": dict(methods=["data_params", "twohead"],
                      overrides=["dataset=synthetic_classes", "dataset.num_classes=100", "dataset.train_per_class=20",
                                 "dataset.test_per_class=1", "dataset.imbalance_ratio=null", "backbone=resnet32",
                                 "trainer.batch_size=128"]),
    }
    results = {}
    for name, setting in settings.items():
        overrides = [*setting["overrides"], *fast_overrides(args.device)]
        with tempfile.TemporaryDirectory(dir=work) as run_dir:
            runners = bm.build_runners(setting["methods"], overrides, 2, 0, Path(run_dir), True, 100)
            rows = bm.summarize(bm.time_steps(runners, scale["ratio_steps"], scale["ratio_warmup"]))
        results[name] = {"overrides": overrides, "rows": rows}
    return results


def part_pipeline(args, scale: Dict, work: Path) -> Dict:
    import benchmark_pipeline as bp

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        bp.main(["--images", str(scale["pipeline_images"])])
    return {"table": printed.getvalue().strip()}


def hardware(device: str) -> str:
    gpu = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "no GPU"
    return (f"{gpu}; {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}); "
            f"torch {torch.__version__}, CUDA {torch.version.cuda}")


def markdown(results: Dict, args) -> str:
    """The GPU section of docs/performance.md."""
    lines = [BEGIN, "", f"Measured with `python scripts/benchmark_gpu.py --device {args.device} --scale {args.scale}` "
             f"on {results['hardware']} ({results['date']}).", ""]
    if args.scale != "full":
        lines += ["**Dry run (`--scale tiny`): these numbers exercise the script; they are not speed measurements.**", ""]
    lines += ["| what | measured | target (issue 16) |", "|---|---|---|"]
    if "twohead" in results:
        r = results["twohead"]
        lines.append(f"| two-head CIFAR-100-LT protocol, {r['epochs']} epochs, wall (`{r['command']}`) | "
                     f"{r['run_wall_s']:.1f} s ({r['epoch_s']:.2f} s per epoch after the first) | <= 60 s |")
    if "celeba" in results:
        r = results["celeba"]
        lines.append(f"| DCL CelebA / DeepID2 epoch ({r['images']} synthetic 64-px images measured, scaled to "
                     f"{CELEBA_TRAIN:,}) projected to {CELEBA_EPOCHS} epochs | {r['celeba_epoch_s']:.1f} s per epoch, "
                     f"{r['projected_300_h']:.2f} h | <= 1 h (paper: 20 h on a TITAN Xp) |")
    for setting in results.get("ratios", {}).values():
        floor = next(row for row in setting["rows"] if row["method"] == CONTROL)
        for row in setting["rows"]:
            if row["method"] == "ce" or row is floor:
                continue
            lines.append(f"| step of {row['method']} / CE ({' '.join(setting['overrides'][:4])} ...) | "
                         f"{row['wall_ratio']:.3f} (IQR {row['wall_q1']:.3f}-{row['wall_q3']:.3f}; noise floor "
                         f"{floor['wall_ratio']:.3f}) | <= 1.01 |")
    lines.append("")
    if "pipeline" in results:
        lines += ["ImageNet input pipeline per process (`scripts/benchmark_pipeline.py`):", "", "```",
                  results["pipeline"]["table"], "```", ""]
    return "\n".join([*lines, END])


def write_doc(doc: Path, section: str) -> None:
    """Replace the section between the markers (or append it under a "GPU speed" heading)."""
    text = doc.read_text() if doc.is_file() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## GPU speed\n\n" + section + "\n"
    atomic_write_text(doc, text)  # a crash mid-write leaves the old docs/performance.md


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no GPU is visible to torch here; use --device cpu --scale tiny for a dry run")
    scale = SCALES[args.scale]
    parts = {"twohead": part_twohead, "celeba": part_celeba, "ratios": part_ratios, "pipeline": part_pipeline}
    results: Dict = {"hardware": hardware(args.device), "date": time.strftime("%Y-%m-%d"), "scale": args.scale}
    with tempfile.TemporaryDirectory() as work:
        for name in args.parts:
            start = time.perf_counter()
            results[name] = parts[name](args, scale, Path(work))
            print(f"{name}: done in {time.perf_counter() - start:.1f} s", flush=True)
    section = markdown(results, args)
    write_doc(args.doc, section)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(results, indent=2, default=str))
    print(section)
    return results


if __name__ == "__main__":
    main()
