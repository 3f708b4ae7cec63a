"""Slow real-data check (``pytest -m slow -s``): on scikit-learn's digits at imbalance ratio 100
(150 .. 1 training images per digit, balanced test set of 30 per digit), the two-head model's
few-shot recall (digits with < 20 training images: 6 of 10) beats plain CE, averaged over 3 seeds, by more
than the seed spread (the larger of the two methods' standard deviations over the seeds)."""
import json

import numpy as np
import pytest

from helpers import compose
from dcl_runner.train import run_experiment

COMMON = [
    "dataset=digits_lt", "dataset.imbalance_ratio=100", "backbone=resnet32", "trainer.epochs=30",
    "trainer.batch_size=32", "trainer.num_threads=1", "trainer.progress=false", "trainer.device=cpu",
]
SEEDS = (0, 1, 2)


@pytest.mark.slow
def test_twohead_improves_tail_recall_over_ce_on_digits_lt(tmp_path):
    results = {m: {"few_shot": [], "top1": []} for m in ("ce", "twohead")}
    for seed in SEEDS:
        for m, scores in results.items():
            final = run_experiment(compose([*COMMON, f"method={m}", f"seed={seed}"]), tmp_path / f"{m}-{seed}")
            scores["few_shot"].append(final["few_shot"])
            scores["top1"].append(final["top1"])
    print("\ndigits_lt ratio 100, seeds", SEEDS, json.dumps(results))
    for m, scores in results.items():
        print(f"{m:8s} few-shot recall {np.mean(scores['few_shot']):.2f}  top-1 {np.mean(scores['top1']):.2f}")
    gain = np.mean(results["twohead"]["few_shot"]) - np.mean(results["ce"]["few_shot"])
    spread = max(np.std(results["twohead"]["few_shot"]), np.std(results["ce"]["few_shot"]))
    print(f"few-shot gain {gain:.2f} vs seed spread {spread:.2f} (std over seeds, the larger of the two)")
    assert gain > spread
