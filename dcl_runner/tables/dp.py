"""The data-parameters paper's tables and figures (seed 003): dp.t1, dp.t2, dp.t2s, dp.fig1-fig5."""
from __future__ import annotations

from dataclasses import dataclass, field, replace  # noqa: F401
from typing import Any, Dict, List, Optional, Sequence, Tuple  # noqa: F401

from .model import Column, Row, SourcedRow, Table  # noqa: F401
from .names import NAMES, experiment

_TOP1 = lambda key: (Column("top1", "top-1", (experiment(key),), metric="top1"),)  # noqa: E731
_NOISY = (
    Column("cifar10", "CIFAR-10", (experiment("dp_noisy_cifar10"),), metric="top1", at_epoch=84),
    Column("cifar100", "CIFAR-100", (experiment("dp_noisy_cifar100"),), metric="top1", at_epoch=84),
)


# DP Figure 1's rows: the left panel's runs, the right panel's, and the right panel's stand-in (table_figures.py)
DP_FIG1_ROWS = ("Class params, CIFAR-100 (left)", "Class + instance params, ImageNet (right)",
                "Class + instance params, CIFAR-100 (right-panel stand-in)")


def _dp_row(label, method, extra, values, stds=None, note=""):
    return Row(label, method, tuple(extra), paper=values, paper_std=stds or {}, note=note)


# dp.t2's rows whose numbers DP copies from Ren et al. 2018 ([26]) run under [26]'s WRN-28-10 protocol
# (conf/experiment/ren_noisy_*_wrn.yaml); docs/noisy_labels.md
_REN_PROTOCOLS = {"dp_noisy_cifar10": "ren_noisy_cifar10", "dp_noisy_cifar100": "ren_noisy_cifar100"}


def _ren_row(label, method, extra, values, stds, source, withheld=""):
    return SourcedRow(label, method, tuple(extra), paper=values, paper_std=stds, source=source, protocols=_REN_PROTOCOLS,
                      note=f"source: {source}; runs Ren et al.'s protocol (batch 100, wd 2e-4, dropout 0.3)",
                      withheld=withheld)


DP_TABLES = (
    Table(
        "dp.t1", "Top-1 accuracy (%), mean ± std over 3 runs (DP Table 1)",
        "CIFAR-100 / WRN-28-10; ImageNet / ResNet-18; WebVision / ResNet-18",
        (
            Column("cifar100", "CIFAR-100", (experiment("dp_cifar100"),), metric="top1"),
            Column("imagenet", "ImageNet", (experiment("dp_imagenet"),), metric="top1"),
            Column("webvision", "WebVision", (experiment("dp_webvision"),), metric="top1"),
        ),
        (
            _dp_row("Baseline", "ce", (), {"cifar100": 80.1, "imagenet": 70.3, "webvision": 66.3},
                    {"cifar100": 0.2, "imagenet": 0.1, "webvision": 0.1}),
            _dp_row("Data params: class + instance", "data_params", NAMES["dp_class_instance"],
                    {"cifar100": 80.8, "imagenet": 71.0, "webvision": 67.5}, {"cifar100": 0.1, "imagenet": 0.1, "webvision": 0.1}),
            _dp_row("Data params: class only", "data_params", NAMES["dp_class"], {"imagenet": 70.8}, {"imagenet": 0.1}),
            _dp_row("Data params: instance only", "data_params", NAMES["dp_instance"], {"webvision": 67.1}, {"webvision": 0.1}),
        ),
        paper_precision=1,
    ),
    Table(
        "dp.t2", "Top-1 accuracy (%) under 40% uniform label noise, at epoch 84 (DP Table 2)", "CIFAR-10 / CIFAR-100, WRN-28-10",
        _NOISY,
        (
            _ren_row("MentorNet DD (extra clean data)", "mentornet_dd", NAMES["dp_clean_holdout"],
                     {"cifar10": 88.7, "cifar100": 67.5}, {}, "Jiang et al. 2018, as Ren et al. Table 2 quotes it"),
            _ren_row("Robust Weighting (extra clean data)", "l2rw", NAMES["dp_clean_holdout"],
                     {"cifar10": 86.92, "cifar100": 61.34}, {"cifar10": 0.19, "cifar100": 2.06}, "Ren et al. 2018 Table 2"),
            _dp_row("Baseline", "ce", (), {"cifar10": 67.97, "cifar100": 50.66}, {"cifar10": 0.62, "cifar100": 0.24}),
            _ren_row("Reed Hard", "reed_hard", (), {"cifar10": 69.66, "cifar100": 51.34}, {"cifar10": 1.21, "cifar100": 0.17},
                     "Ren et al. 2018 Table 2"),
            _ren_row("S-Model", "s_model", (), {"cifar10": 70.64, "cifar100": 49.10}, {"cifar10": 3.09, "cifar100": 0.58},
                     "Ren et al. 2018 Table 2"),
            _ren_row("MentorNet PD", "mentornet_pd", (), {"cifar10": 76.6, "cifar100": 56.9}, {},
                     "Jiang et al. 2018, as Ren et al. Table 2 quotes it"),
            _dp_row("Data params (instance)", "data_params", NAMES["dp_instance"], {"cifar10": 91.10, "cifar100": 70.93},
                    {"cifar10": 0.70, "cifar100": 0.15}, note="instance-level curriculum (DP sec. 3.4; the authors' README)"),
            _dp_row("Baseline on clean 60% (oracle)", "ce", NAMES["dp_oracle"], {"cifar10": 94.24, "cifar100": 74.18},
                    {"cifar10": 0.15, "cifar100": 0.19}),
        ),
    ),
    Table(
        "dp.t2s", "Top-1 accuracy (%) under 20% and 80% uniform noise (DP supplementary)", "CIFAR-100 / WRN-28-10",
        (
            Column("noise20", "20% noise", (experiment("dp_noisy_cifar100"), f"{NAMES['noise_key']}=0.2"), metric="top1", at_epoch=84),
            Column("noise80", "80% noise", (experiment("dp_noisy_cifar100"), f"{NAMES['noise_key']}=0.8"), metric="top1", at_epoch=84),
        ),
        (
            _dp_row("Baseline", "ce", (), {}),
            _dp_row("Data params (instance)", "data_params", NAMES["dp_instance"], {"noise20": 75.0, "noise80": 35.0},
                    note="approximate: the paper's supplementary is not in the seed; TABLES.md quotes the authors' README"),
        ),
        note="The main text only says data params beat MentorNet PD by 3% (20%) and 22% (80%).",
        paper_precision=0,
    ),
    Table(
        "dp.fig2", "Car detection AP on KITTI (11-point, IoU 0.7), easy / moderate / hard (DP Figure 2)",
        "KITTI 3DOP train / val, SSD300 VGG-16, SSD's training augmentation (torchvision's 'ssd' preset)",
        tuple(Column(s, s, (experiment("dp_kitti"),), metric=f"ap_{s}") for s in ("easy", "moderate", "hard")),
        (
            _dp_row("Baseline (SSD)", "ce", (), {"easy": 92.1, "moderate": 87.3, "hard": 78.0},
                    {"easy": 0.16, "moderate": 0.26, "hard": 0.6}),
            _dp_row("Instance params", "data_params", NAMES["dp_instance"], {"easy": 92.8, "moderate": 87.9, "hard": 79.3},
                    note="one parameter per box; background anchors use the batch's mean (DP sec. 3.3)"),
        ),
        note="Printed as a table: the paper gives these numbers in its Figure 2 ('medium' there is KITTI's moderate).",
        paper_precision=1,
    ),
)

TABLES = DP_TABLES
FIGURES: Tuple[Table, ...] = (
    Table("dp.fig1", "Left: class parameters of 4 random classes, class-level curriculum, mean ± std over runs; right: "
          "two instances of one class on ImageNet (DP Figure 1)", "CIFAR-100 / WRN-28-10; ImageNet / ResNet-18",
          (Column("runs", "runs", (), metric="top1"),),
          (
              Row(DP_FIG1_ROWS[0], "data_params", (experiment("dp_cifar100"), *NAMES["dp_class"])),
              Row(DP_FIG1_ROWS[1], "data_params", (experiment("dp_imagenet"), *NAMES["dp_class_instance"])),
              Row(DP_FIG1_ROWS[2], "data_params", (experiment("dp_cifar100"), *NAMES["dp_class_instance"]),
                  note="draws the right panel only when there is no ImageNet run (the same runs as dp.t1's)"),
          ),
          kind="figure",
          note="Right panel: the ImageNet joint run of dp.t1; without one, the CIFAR-100 joint run stands in and the "
               "panel's title says so."),
    Table("dp.fig3", "The detection curriculum drawn on images: box thickness by its instance parameter, over training "
          "(DP Figure 3)", "KITTI / SSD300", (Column("ap", "AP", (experiment("dp_kitti"),), metric="ap_moderate"),),
          (Row("Instance params", "data_params", tuple(NAMES["dp_instance"])),), kind="figure",
          note="The same runs as dp.fig2's instance-parameter row."),
    Table("dp.fig4", "Instance parameters of clean vs noisy samples; % corrupt in the top 40% (DP Figure 4)",
          "CIFAR-100, 40% uniform noise", (_NOISY[1],),
          (Row("Data params (instance)", "data_params", tuple(NAMES["dp_instance"])),), kind="figure"),
    Table("dp.fig5", "Training accuracy with all labels random (DP sec. 3.5 figure)", "CIFAR-100 / VGG-16",
          _TOP1("dp_random_labels"),
          (Row("Baseline", "ce"), Row("Class params", "data_params", tuple(NAMES["dp_class"]))), kind="figure"),
)
