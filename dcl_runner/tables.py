"""The registry of every table and figure of the three seed papers (``../shared/TABLES.md``).

A table has columns and rows. A row is (label, method name, Hydra overrides, paper values); a
column adds its own overrides (dataset, imbalance ratio, backbone...) and names the metric it
reads. The cell (row x column) is one run per seed, composed as
``python -m dcl_runner <column overrides> method=<method> <row overrides>``; cells with the same
overrides are the same runs (dcl.t6's three group columns, th.t3's many/medium/few/all come
from one run each). Every paper value is copied from the seed text
(``002_*`` DCL, ``003_*`` data parameters, ``004_*`` two-head), per-attribute values of dcl.t2 included.

A row is *runnable* when its method is registered (``dcl_runner.methods.METHODS``) and its
overrides compose; otherwise it is printed as "ref only" with the paper's number. Methods and
experiments that other issues add therefore switch rows on without touching this file, except for
the names in :data:`NAMES`, the single place where experiment files and method options are spelled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

# ---------------------------------------------------------------------------------------------
# The one place where the names other modules define are spelled (fix them here at merge time).
# ---------------------------------------------------------------------------------------------
NAMES: Dict[str, Any] = {
    # conf/experiment/<name>.yaml, each pinning one paper protocol (dataset, backbone, trainer)
    "experiment": {
        "dcl_celeba": "dcl_celeba",            # CelebA / DeepID2 (DCL sec. 4.3)
        "dcl_rap": "dcl_rap",                  # RAP / ResNet-50, the protocol's 51 attributes (DCL sec. 4.4, Table 5)
        "dcl_rap_all": "dcl_rap_all_attributes",  # the same on all of RAP's attributes (DCL Table 6)
        "dcl_cifar100": "dcl_cifar100",        # CIFAR-100 (DCL sec. 4.5)
        "dp_cifar100": "dp_cifar100_wrn",      # CIFAR-100 / WRN-28-10 (DP Table 1)
        "dp_imagenet": "dp_imagenet_resnet18",          # ImageNet / ResNet-18 (DP Table 1)
        "dp_webvision": "dp_webvision_resnet18",        # WebVision / ResNet-18 (DP Table 1)
        "dp_noisy_cifar10": "dp_noisy_cifar10_wrn",    # 40% uniform noise, WRN-28-10, epoch 84 (DP Table 2)
        "dp_noisy_cifar100": "dp_noisy_cifar100_wrn",
        "dp_random_labels": "dp_random_labels_vgg16",    # CIFAR-100 all labels random, VGG-16 (DP sec. 3.5)
        "th_cifar10_lt": "th_cifar10_lt",      # CIFAR-10-LT / ResNet-32 (two-head Table 1)
        "th_cifar100_lt": "th_cifar100_lt",
        "th_tiny_imagenet_lt": "th_tiny_imagenet_lt",  # Tiny-ImageNet-LT / ResNet-18 (Table 2)
        "th_imagenet_lt": "th_imagenet_lt",    # ImageNet-LT / ResNeXt-50 (Table 3)
        # the protocol of kaidic/LDAM-DRW cifar_train.py (= Cui et al.'s CIFAR schedule): th.t1 rows copied from them
        "th_cifar10_lt_ldam_drw": "th_cifar10_lt_ldam_drw",
        "th_cifar100_lt_ldam_drw": "th_cifar100_lt_ldam_drw",
        "th_cifar10_lt_cui": "th_cifar10_lt_cui",      # Cui et al.'s CIFAR protocol (per-step warm-up)
        "th_cifar100_lt_cui": "th_cifar100_lt_cui",
    },
    "ratio_key": "dataset.imbalance_ratio",    # conf/_base/dataset.yaml
    "noise_key": "dataset.noise.rate",
    # data parameters: which curriculum (method data_params)
    "dp_class": ["method.curriculum=class"],
    "dp_instance": ["method.curriculum=instance"],
    "dp_class_instance": ["method.curriculum=joint"],
    "dp_oracle": ["dataset.subset=clean"],
    # DCL ablation switches (method dcl): sampling scheduler only / + triplet / + loss scheduler
    # (the same settings as conf/experiment/dcl_celeba_sampling_only.yaml / _sampling_tea.yaml)
    "dcl_ss_only": ["method.loss_scheduler.name=constant", "method.loss_scheduler.value=0.0", "method.loss_scheduler.p=null"],
    "dcl_ss_tl": ["method.loss_scheduler.name=constant", "method.loss_scheduler.value=1.0", "method.loss_scheduler.p=null"],
    "dcl_linear_imbalance": ["scheduler=linear_imbalance"],  # DCL Table 4 (*): D decreases linearly to 1, no power
    # two-head: the heads of the ablation, the number of clusters u and the clustering strategy
    "th_fbh_only": ["method.cdh=false"],
    "th_cdh_only": ["method.fbh=false"],
    "th_clusters_key": "method.u",
    "th_clustering_key": "method.clustering",
    "th_sum_prediction": ["method.cluster_to_class=sum"],  # the other reading of the cluster -> class prediction
    "th_mixup_alpha_key": "method.mixup_alpha",
}


def experiment(key: str) -> str:
    return f"experiment={NAMES['experiment'][key]}"


# ---------------------------------------------------------------------------------------------
# data model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One column of a table: its overrides and the metric it reads from a run.

    ``metric`` is a key of metrics.json's ``metrics`` (dots walk into nested dicts, e.g.
    ``group_mA.1~25``); ``at_epoch`` prefers ``metrics_at_epoch[<at_epoch>]`` when the run recorded it.
    """

    id: str
    label: str
    overrides: Tuple[str, ...] = ()
    metric: str = "top1"
    at_epoch: Optional[int] = None


@dataclass(frozen=True)
class Row:
    """One row: label, method name, overrides added to every column's, and the paper's values.

    ``paper`` maps column id -> value (a number, or text for dcl.t1); ``paper_std`` the paper's std
    over runs where given; ``ref`` names the source of a number copied from other work.
    """

    label: str
    method: str
    overrides: Tuple[str, ...] = ()
    paper: Dict[str, Any] = field(default_factory=dict)
    paper_std: Dict[str, float] = field(default_factory=dict)
    note: str = ""
    per_attribute: Optional[Tuple[int, ...]] = None  # dcl.t2: values in PAPER_ATTRIBUTES order

    def cell_overrides(self, column: Column) -> Tuple[str, ...]:
        return (*column.overrides, f"method={self.method}", *self.overrides)


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    setting: str
    columns: Tuple[Column, ...]
    rows: Tuple[Row, ...]
    kind: str = "table"          # table | figure
    note: str = ""
    paper_precision: int = 2     # decimals the paper prints
    # runs behind each paper number: DP sec. 4 "we report the mean and standard deviation over 3 runs"; the DCL
    # and two-head papers print single numbers without saying how many runs: 3 there too (docs/tables.md)
    paper_seeds: int = 3

    def row(self, label: str) -> Row:
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(f"{self.id} has no row {label!r}")


# ---------------------------------------------------------------------------------------------
# DCL paper (002)
# ---------------------------------------------------------------------------------------------
# DCL Table 2, attribute columns in the paper's order, with "Imbalance level" (majority rate - 50%).
PAPER_ATTRIBUTES: Tuple[str, ...] = (
    "Attractive", "Mouth Open", "Smiling", "Wear Lipstick", "High Cheekbones", "Male", "Heavy Makeup",
    "Wavy Hair", "Oval Face", "Pointy Nose", "Arched Eyebrows", "Black Hair", "Big Lips", "Big Nose", "Young",
    "Straight Hair", "Brown Hair", "Bags Under Eyes", "Wear Earrings", "No Beard", "Bangs", "Blond Hair",
    "Bushy Eyebrows", "Wear Necklace", "Narrow Eyes", "5 o'clock Shadow", "Receding Hairline", "Wear Necktie",
    "Eyeglasses", "Rosy Cheeks", "Goatee", "Chubby", "Sideburns", "Blurry", "Wear Hat", "Double Chin",
    "Pale Skin", "Gray Hair", "Mustache", "Bald",
)
PAPER_LEVELS: Tuple[int, ...] = (
    1, 2, 2, 3, 5, 8, 11, 18, 22, 22, 23, 26, 26, 27, 28, 29, 30, 30, 31, 33,
    35, 35, 36, 38, 38, 39, 42, 43, 44, 44, 44, 44, 44, 45, 45, 45, 46, 46, 46, 48,
)
_T2 = {  # label -> (method, per-attribute values, average), DCL Table 2
    "DeepID2 (CE)": ("ce", (78, 89, 89, 92, 84, 94, 88, 73, 63, 66, 77, 83, 62, 73, 76, 65, 79, 74, 75, 88, 91, 90, 78, 70, 64, 85, 81, 83, 92, 86, 90, 81, 89, 74, 90, 83, 81, 90, 88, 93), 81.17),
    "Over-Sampling": ("oversample", (77, 89, 90, 92, 84, 95, 87, 70, 63, 67, 79, 84, 61, 73, 75, 66, 82, 73, 76, 88, 90, 90, 80, 71, 65, 85, 82, 79, 91, 90, 89, 83, 90, 76, 89, 84, 82, 90, 90, 92), 81.48),
    "Down-Sampling": ("undersample", (78, 87, 90, 91, 80, 90, 89, 70, 58, 63, 70, 80, 61, 76, 80, 61, 76, 71, 70, 88, 88, 85, 75, 66, 61, 82, 79, 80, 85, 82, 85, 78, 80, 68, 90, 80, 78, 88, 60, 79), 77.45),
    "Cost-Sensitive": ("cost_sensitive", (78, 89, 90, 91, 85, 93, 89, 75, 64, 65, 78, 85, 61, 74, 75, 67, 84, 74, 76, 88, 90, 89, 79, 71, 65, 84, 81, 82, 91, 92, 86, 82, 90, 76, 90, 84, 80, 90, 88, 93), 81.60),
    "Selective-Learning": ("selective_learning", (81, 91, 92, 93, 86, 97, 90, 78, 66, 70, 79, 87, 66, 77, 83, 72, 84, 79, 80, 93, 94, 93, 85, 73, 74, 89, 87, 92, 97, 90, 94, 87, 94, 86, 96, 89, 92, 94, 92, 95), 85.93),
    "CRL-I": ("crl_i", (83, 95, 93, 94, 89, 96, 84, 79, 66, 73, 80, 90, 68, 80, 84, 73, 86, 80, 83, 94, 95, 95, 84, 74, 72, 90, 87, 88, 96, 88, 96, 87, 92, 85, 98, 89, 92, 95, 94, 97), 86.60),
    "LMLE": ("lmle", (88, 96, 99, 99, 92, 99, 98, 83, 68, 72, 79, 92, 60, 80, 87, 73, 87, 73, 83, 96, 98, 99, 82, 59, 59, 82, 76, 90, 98, 78, 95, 79, 88, 59, 99, 74, 80, 91, 73, 90), 83.83),
    "CLMLE": ("clmle", (90, 97, 99, 98, 94, 99, 98, 87, 72, 78, 86, 95, 66, 85, 90, 80, 89, 82, 86, 98, 99, 99, 88, 69, 71, 91, 82, 96, 99, 86, 98, 85, 94, 72, 99, 87, 94, 96, 82, 95), 88.78),
    "DCL": ("dcl", (83, 93, 93, 95, 88, 98, 92, 81, 70, 73, 82, 89, 69, 80, 86, 76, 86, 82, 85, 95, 96, 95, 87, 76, 79, 93, 90, 95, 99, 92, 97, 93, 97, 93, 99, 94, 96, 99, 97, 99), 89.05),
}


def celeba_name(paper_name: str) -> str:
    """A Table 2 attribute name -> its list_attr_celeba.txt name (``Wear Hat`` -> ``Wearing_Hat``)."""
    special = {"Mouth Open": "Mouth_Slightly_Open", "5 o'clock Shadow": "5_o_Clock_Shadow"}
    if paper_name in special:
        return special[paper_name]
    return paper_name.replace("Wear ", "Wearing ").replace(" ", "_")


# Where each Table 2 baseline number comes from (DCL sec. 4.3.2 cites the method, not the number's
# source). Every runnable row runs under the DCL CelebA protocol (experiment=dcl_celeba): no row's
# source states its own, and sec. 4.3.1 trains "all the models", the DeepID2 baseline included, for 300 epochs.
_T2_SOURCE = {
    "DeepID2 (CE)": "DeepID2 [48] with CE; 81.17 is the number LMLE [21] (CVPR 2016, Table 1) publishes; sec. 4.3.1 "
                    "says the baseline was trained for the same 300 epochs as DCL",
    "Over-Sampling": "[10] on DeepID2, as LMLE [21] Table 1 publishes it (81.48)",
    "Down-Sampling": "[10] on DeepID2, as LMLE [21] Table 1 publishes it (77.45)",
    "Cost-Sensitive": "[18] on DeepID2, as LMLE [21] Table 1 publishes it (81.60)",
    "Selective-Learning": "Hand et al. [16] (AAAI 2018); DCL does not say whether it re-ran it",
    "CRL-I": "Dong et al. [8] (CRL, ICCV 2017); DCL does not say whether it re-ran it",
    "LMLE": "ref: LMLE [21] (CVPR 2016) Table 1; sample-clustering method, not in this runner",
    "CLMLE": "ref: CLMLE [22] (TPAMI 2019); sample-clustering method, not in this runner",
    "DCL": "DCL sec. 4.3",
}

_MA = (Column("mA", "mA", (experiment("dcl_celeba"),), metric="mA"),)
_RAP = (Column("mA", "mA", (experiment("dcl_rap"),), metric="mA"),)

DCL_TABLES = (
    Table(
        "dcl.t1", "The framework's special cases (DCL Table 1): g = sampling scheduler, f = loss scheduler",
        "CelebA / DeepID2 (the configs; their mA is dcl.t2)",
        (Column("gf", "g / f", (experiment("dcl_celeba"),), metric="mA"),),
        (
            Row("Cross Entropy", "ce", paper={"gf": "g=1, f=0"}),
            Row("Selective Learning", "selective_learning", paper={"gf": "g=0/1, f=0"}),
            Row("CRL-I", "crl_i", paper={"gf": "g=1, f=eps"}),
            Row("DCL", "dcl", paper={"gf": "g=sampling scheduler, f=loss scheduler"}),
        ),
        note="The paper column is the scheduler setting of DCL Table 1; 'Ours' is the mA of that config.",
    ),
    Table(
        "dcl.t2", "Class-balanced mean accuracy mA (%), 40 attributes and average (DCL Table 2)", "CelebA / DeepID2",
        _MA,
        tuple(
            Row(label, method, paper={"mA": avg}, per_attribute=values, note=_T2_SOURCE[label])
            for label, (method, values, avg) in _T2.items()
        ),
        note="Paper numbers: DeepID2 (CE), Over-/Down-Sampling and Cost-Sensitive equal LMLE's (CVPR 2016) Table 1; "
             "Selective-Learning [16], CRL-I [8], LMLE [21], CLMLE [22] are cited to their papers. Ours: every row "
             "under the DCL CelebA protocol (sec. 4.3.1), no source stating another.",
    ),
    Table(
        "dcl.t3", "Ablation (DCL Table 3): SS sampling scheduler, TL triplet loss with easy anchors, LS loss scheduler",
        "CelebA / DeepID2", _MA,
        (
            Row("1: Baseline (DeepID2)", "ce", paper={"mA": 81.17}, note=_T2_SOURCE["DeepID2 (CE)"]),
            Row("2: 1 + SS", "dcl", tuple(NAMES["dcl_ss_only"]), paper={"mA": 86.58}),
            Row("3: 2 + TL", "dcl", tuple(NAMES["dcl_ss_tl"]), paper={"mA": 87.55}),
            Row("4: 3 + LS", "dcl", paper={"mA": 89.05}),
        ),
    ),
    Table(
        "dcl.t4", "Sampling-scheduler function, no triplet loss and no loss scheduler (DCL Table 4)",
        "CelebA / DeepID2", _MA,
        (
            Row("1: DeepID2", "ce", paper={"mA": 81.17}, note=_T2_SOURCE["DeepID2 (CE)"]),
            Row("2: DeepID2 + Convex", "dcl", (*NAMES["dcl_ss_only"], "scheduler=convex"), paper={"mA": 86.58}),
            Row("3: DeepID2 + Linear", "dcl", (*NAMES["dcl_ss_only"], "scheduler=linear"), paper={"mA": 86.36}),
            Row("4: DeepID2 + Concave (lambda=0.99)", "dcl", (*NAMES["dcl_ss_only"], "scheduler=concave", "scheduler.lam=0.99"),
                paper={"mA": 85.90}),
            Row("5: DeepID2 + Composite", "dcl", (*NAMES["dcl_ss_only"], "scheduler=composite"), paper={"mA": 86.07}),
            Row("*: DeepID2 + Linear Decreasing Imbalance", "dcl", (*NAMES["dcl_ss_only"], *NAMES["dcl_linear_imbalance"]),
                paper={"mA": 85.11}),
        ),
    ),
    Table(
        "dcl.t5", "mA (%) against published pedestrian-attribute methods (DCL Table 5)", "RAP / ResNet-50", _RAP,
        (
            *(Row(label, method, paper={"mA": value}, note="ref: the number its paper publishes on RAP's 51 attributes")
              for label, method, value in (
                  ("Deep-Mar", "deep_mar", 73.8), ("Inception-v2", "inception_v2", 75.4), ("HP-net", "hp_net", 76.1),
                  ("JRL", "jrl", 77.8), ("VeSPA", "vespa", 77.7), ("LG-Net", "lg_net", 78.7))),
            Row("DCL", "dcl", paper={"mA": 83.7}),
        ),
        note="RAP protocol's 51 attributes (dataset.attributes=51), ResNet-50 from ImageNet weights.",
        paper_precision=1,
    ),
    Table(
        "dcl.t6", "Average mA (%) by imbalance-ratio group 1:x (DCL Table 6)", "RAP / ResNet-50",
        tuple(Column(g, f"1:{g}", (experiment("dcl_rap_all"),), metric=f"group_mA.{g}") for g in ("1~25", "25~50", ">50")),
        (
            Row("Baseline (CE)", "ce", paper={"1~25": 79.3, "25~50": 68.9, ">50": 68.0},
                note="the DCL authors' ResNet-50 + CE baseline (sec. 4.4.1), same protocol"),
            Row("DCL", "dcl", paper={"1~25": 83.1, "25~50": 83.9, ">50": 85.5}),
        ),
        note="All of RAP's attributes (dataset.attributes=all: 80 columns; the paper says 70), grouped by each "
             "attribute's ratio of majority to minority samples in the training set.",
        paper_precision=1,
    ),
    Table(
        "dcl.t7", "Top-1 accuracy (%) on a balanced set (DCL Table 7)", "CIFAR-100 (backbone not stated in the paper)",
        (Column("top1", "top-1", (experiment("dcl_cifar100"),), metric="top1"),),
        (
            Row("Cross Entropy", "ce", paper={"top1": 68.1}, note="source not stated (sec. 4.5)"),
            Row("CRL", "crl_i", paper={"top1": 69.3}, note="CRL [8] (Dong et al.); source of the number not stated (sec. 4.5)"),
            Row("DCL", "dcl", paper={"top1": 71.5}),
        ),
        note="The paper gives no CIFAR-100 protocol: every row runs under our choice (experiment=dcl_cifar100).",
        paper_precision=1,
    ),
)

# ---------------------------------------------------------------------------------------------
# Data-parameters paper (003)
# ---------------------------------------------------------------------------------------------
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
            _dp_row("MentorNet DD (extra clean data)", "mentornet_dd", (), {"cifar10": 88.7, "cifar100": 67.5}, note="ref: published number"),
            _dp_row("Robust Weighting (extra clean data)", "robust_weighting", (), {"cifar10": 86.92, "cifar100": 61.34},
                    {"cifar10": 0.19, "cifar100": 2.06}, note="ref: published number"),
            _dp_row("Baseline", "ce", (), {"cifar10": 67.97, "cifar100": 50.66}, {"cifar10": 0.62, "cifar100": 0.24}),
            _dp_row("Reed Hard", "reed_hard", (), {"cifar10": 69.66, "cifar100": 51.34}, {"cifar10": 1.21, "cifar100": 0.17},
                    note="ref: published number"),
            _dp_row("S-Model", "s_model", (), {"cifar10": 70.64, "cifar100": 49.10}, {"cifar10": 3.09, "cifar100": 0.58},
                    note="ref: published number"),
            _dp_row("MentorNet PD", "mentornet_pd", (), {"cifar10": 76.6, "cifar100": 56.9}, note="ref: published number"),
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
        "dp.fig2", "Car detection AP on KITTI, easy / medium / hard (DP Figure 2)", "KITTI / SSD",
        tuple(Column(s, s, ("task=detection",), metric=f"ap_{s}") for s in ("easy", "medium", "hard")),
        (
            _dp_row("Baseline (SSD)", "ssd", (), {"easy": 92.1, "medium": 87.3, "hard": 78.0},
                    {"easy": 0.16, "medium": 0.26, "hard": 0.6}, note="detection is outside this runner"),
            _dp_row("Instance params", "ssd_data_params", (), {"easy": 92.8, "medium": 87.9, "hard": 79.3},
                    note="detection is outside this runner"),
        ),
        note="Printed as a table: the paper gives these numbers in its Figure 2.",
        paper_precision=1,
    ),
)

# ---------------------------------------------------------------------------------------------
# Two-head paper (004)
# ---------------------------------------------------------------------------------------------
RATIOS = (100, 50, 10)


def _ratio_columns(key: str, prefix: str, label: str) -> Tuple[Column, ...]:
    return tuple(
        Column(f"{prefix}{r}", f"{label} β={r}", (experiment(key), f"{NAMES['ratio_key']}={r}"), metric="top1") for r in RATIOS
    )


_TH_METHODS = {  # label -> method name
    "CE": "ce", "Focal": "focal", "Mixup": "mixup", "CB": "cb", "LDAM": "ldam", "Ours": "twohead",
    "CB+Focal": "cb_focal", "DRS": "drs", "LDAM+DRW": "ldam_drw", "BBN": "bbn", "MiSLAS": "mislas",
    "Hybrid-SC": "hybrid_sc", "OLTR": "oltr", "LWS": "lws", "Ours-Full": "twohead_full",
}
_TH1 = {  # Table 1: CIFAR-10 β=100/50/10, CIFAR-100 β=100/50/10
    "CE": (70.36, 74.81, 86.39, 38.32, 43.85, 55.71),
    "Focal": (70.38, 76.72, 86.66, 38.41, 44.32, 55.78),
    "Mixup": (73.06, 77.82, 87.10, 39.54, 44.99, 58.02),
    "CB": (72.37, 78.96, 86.54, 33.99, 45.41, 57.12),
    "LDAM": (73.35, 78.40, 86.54, 39.42, 44.75, 56.27),
    "Ours": (78.79, 82.12, 88.58, 44.92, 50.31, 62.85),
    "CB+Focal": (74.57, 79.27, 87.49, 39.60, 45.32, 57.99),
    "DRS": (75.61, 79.81, 87.38, 41.61, 45.48, 58.11),
    "LDAM+DRW": (77.03, 81.03, 88.16, 42.04, 46.62, 58.71),
    "BBN": (79.82, 82.18, 88.32, 42.56, 47.02, 59.12),
    "MiSLAS": (82.10, 85.70, 90.00, 47.00, 52.30, 63.20),
    "Hybrid-SC": (81.40, 85.36, 91.12, 46.72, 51.87, 63.05),
    "Ours-Full": (82.46, 84.85, 88.97, 50.08, 55.70, 66.60),
}
_TH2 = {  # Table 2: Tiny-ImageNet β=100/50/10
    "CE": (27.35, 31.03, 43.71), "Focal": (27.80, 31.25, 43.33), "Mixup": (29.30, 33.61, 46.42),
    "LDAM": (27.87, 31.44, 46.10), "Ours": (36.28, 40.62, 52.98), "DRS": (28.59, 33.39, 45.83),
    "LDAM+DRW": (33.57, 37.30, 49.81), "BBN": (34.47, 38.49, 47.16), "MiSLAS": (37.72, 42.75, 53.47),
    "Ours-Full": (41.16, 45.86, 56.71),
}
_TH3 = {  # Table 3: ImageNet-LT majority / medium / minority / all
    "CE": (65.9, 37.5, 7.7, 44.4), "Focal": (64.3, 37.1, 8.2, 43.7), "Mixup": (68.3, 39.4, 8.8, 45.6),
    "LDAM": (65.0, 42.2, 15.7, 46.7), "OLTR": (59.9, 45.8, 27.6, 48.7), "Ours": (64.1, 47.8, 24.0, 50.3),
    "DRS": (57.5, 44.6, 27.5, 46.8), "LDAM+DRW": (60.4, 46.8, 28.8, 49.1), "LWS": (60.2, 47.2, 30.3, 49.9),
    "MiSLAS": (65.1, 50.4, 32.9, 53.2), "Ours-Full": (66.4, 50.6, 31.0, 53.5),
}
_TH4 = {  # Table 4: CIFAR-100 β=100/50/10, Tiny-ImageNet β=100/50/10 (the paper prints them as "c100/tiny")
    "none (CE)": ("ce", (), (38.32, 43.85, 55.71, 27.35, 31.03, 43.71)),
    "FBH": ("twohead", tuple(NAMES["th_fbh_only"]), (43.07, 48.49, 61.61, 33.01, 36.62, 49.12)),
    "CDH": ("twohead", tuple(NAMES["th_cdh_only"]), (43.63, 49.55, 62.57, 30.45, 34.76, 47.37)),
    "FBH + CDH": ("twohead", (), (44.92, 50.31, 62.85, 36.28, 40.62, 52.98)),
}
_TH5 = {  # Table 5: CIFAR-100-LT β=100 with ResNet-110 / VGG-16 / MobileNet-v2
    "CE": (42.47, 40.25, 37.11), "Mixup": (44.78, 40.60, 37.57), "DRS": (44.18, 42.14, 42.03),
    "LDAM+DRW": (43.38, 40.22, 43.55), "MiSLAS": (47.55, 46.27, 44.17), "Ours-Full": (50.45, 47.85, 44.66),
}
_REF_TH = {"bbn", "mislas", "hybrid_sc", "oltr", "lws"}


# -- where each baseline number comes from, and the protocol that produced it ---------------------------------
# The two-head paper copies most baseline numbers from other work (its sec. 3.1 says it ran the rest "with the
# suggested hyper-parameter settings from the original studies"). A copied number was produced under its source's
# protocol, so its row runs that protocol: an experiment file per dataset that pins it with citations
# (conf/experiment/th_*_ldam_drw.yaml). Rows whose source is the two-head paper itself, uses the two-head
# paper's own protocol, or could not be traced run the two-head experiment (th_*.yaml) and say so.
# ``scripts/reproduce_tables.py --protocol own`` runs every row under the two-head protocol (``under_protocol``).
@dataclass(frozen=True)
class SourcedRow(Row):
    """A baseline row with the ``source`` of its printed numbers; ``protocols`` maps a column's experiment
    (a NAMES["experiment"] key) to the experiment of the protocol that produced the number there. Columns whose
    experiment is not in it run the column's own (two-head) protocol."""

    source: str = ""
    protocols: Dict[str, str] = field(default_factory=dict)

    def cell_overrides(self, column: Column) -> Tuple[str, ...]:
        swap = {experiment(own): experiment(theirs) for own, theirs in self.protocols.items()}
        return tuple(swap.get(item, item) for item in super().cell_overrides(column))


_CUI = "Cui et al., CVPR 2019 (class-balanced loss), Table 2"
_CAO = "Cao et al., NeurIPS 2019 (LDAM-DRW), Table 2"
_BBN = "Zhou et al., CVPR 2020 (BBN), Table 2"
_KANG = "Kang et al., ICLR 2020 (decoupling), ImageNet-LT / ResNeXt-50 (facebookresearch/classifier-balancing README)"
_UNTRACED = "source not traced (the two-head authors' own runs, or a paper not found)"
_LDAM_DRW_CIFAR = {"th_cifar10_lt": "th_cifar10_lt_ldam_drw", "th_cifar100_lt": "th_cifar100_lt_ldam_drw"}
_CUI_CIFAR = {"th_cifar10_lt": "th_cifar10_lt_cui", "th_cifar100_lt": "th_cifar100_lt_cui"}
_OWN = "the two-head protocol"
_LDAM_PROTOCOL = "the LDAM-DRW CIFAR protocol (lr x0.01 at 160 and 180, warm-up per epoch)"
_CUI_PROTOCOL = "Cui et al.'s CIFAR protocol (lr x0.01 at 160 and 180, warm-up per step)"

# label -> (source of the printed numbers, protocols of its columns, what runs), per table
_TH1_SOURCES = {
    "CE": (f"{_CUI} 'Softmax' (reprinted by Cao et al. and BBN)", _CUI_CIFAR, _CUI_PROTOCOL),
    "Focal": (f"{_CUI} 'Focal (gamma 1)' (reprinted by Cao et al.)", _CUI_CIFAR, _CUI_PROTOCOL),
    "Mixup": (f"{_BBN} (BBN's runs; BBN's config is the two-head protocol)", {}, _OWN),
    "CB": (_UNTRACED, {}, f"{_OWN} (untraced)"),
    "LDAM": (f"{_CAO} for CIFAR-10 β=100 (73.35); the other five not traced", _LDAM_DRW_CIFAR, _LDAM_PROTOCOL),
    "CB+Focal": (f"{_CUI} 'Class-Balanced' (best loss / beta per column), run as kaidic/LDAM-DRW's CB Focal",
                 _CUI_CIFAR, _CUI_PROTOCOL),
    "DRS": (f"{_BBN} 'CE-DRS' (BBN's runs)", {}, _OWN),
    "LDAM+DRW": (f"{_CAO} (β=100, 10) and {_BBN} (β=50)", _LDAM_DRW_CIFAR, _LDAM_PROTOCOL),
    "BBN": (_BBN, {}, "ref only"),
    "MiSLAS": ("Zhong et al., CVPR 2021 (MiSLAS), CIFAR-LT table", {}, "ref only"),
    "Hybrid-SC": ("Wang et al., CVPR 2021 (Hybrid-SC), CIFAR-LT table", {}, "ref only"),
}
_TH2_SOURCES = {label: (_UNTRACED, {}, f"{_OWN} (untraced)") for label in ("CE", "Focal", "Mixup", "LDAM", "DRS", "LDAM+DRW")}
_TH2_SOURCES.update({"BBN": (_UNTRACED, {}, "ref only"), "MiSLAS": (_UNTRACED, {}, "ref only")})
_TH3_SOURCES = {label: (_UNTRACED, {}, f"{_OWN} (untraced)") for label in ("Focal", "Mixup", "LDAM", "DRS", "LDAM+DRW")}
_TH3_SOURCES.update({
    "CE": (f"{_KANG}, 'Joint' (its protocol is the two-head ImageNet-LT protocol)", {}, _OWN),
    "LWS": (f"{_KANG}, 'LWS'", {}, "ref only"),
    "OLTR": ("not traced (Liu et al. 2019 report OLTR with ResNet-10)", {}, "ref only"),
    "MiSLAS": ("not traced (MiSLAS reports ImageNet-LT with ResNet-50 and others)", {}, "ref only"),
})
_TH5_SOURCES = {label: (_UNTRACED, {}, f"{_OWN} (untraced)") for label in ("CE", "Mixup", "DRS", "LDAM+DRW")}
_TH5_SOURCES["MiSLAS"] = (_UNTRACED, {}, "ref only")
# Mixup on ImageNet-LT: alpha 0.2 (Zhang et al. 2018's ImageNet setting; MiSLAS config/imagenet/*_stage1_mixup.yaml
# alpha 0.2, which Ours-Full follows "as used in MiSLAS"); CIFAR / Tiny keep method=mixup's alpha 1.
_TH3_OVERRIDES = {"Mixup": (f"{NAMES['th_mixup_alpha_key']}=0.2",), "Ours-Full": (f"{NAMES['th_mixup_alpha_key']}=0.2",)}


def _th_rows(values: Dict[str, Sequence[float]], columns: Sequence[Column], sources: Dict[str, tuple],
             overrides: Optional[Dict[str, Tuple[str, ...]]] = None) -> Tuple[Row, ...]:
    rows = []
    for label, numbers in values.items():
        method = _TH_METHODS[label]
        paper = dict(zip((c.id for c in columns), numbers))
        extra = (overrides or {}).get(label, ())
        if label not in sources:  # the two-head paper's own rows (Ours, Ours-Full)
            rows.append(Row(label, method, extra, paper=paper, note=f"the two-head paper; runs {_OWN}"))
            continue
        source, protocols, runs = sources[label]
        note = f"source: {source}; runs {runs}"
        if method in _REF_TH:
            note = f"source: {source}; ref until the method is added to the runner"
        rows.append(SourcedRow(label, method, extra, paper=paper, note=note, source=source, protocols=dict(protocols)))
    return tuple(rows)


def _sources_note(rows: Sequence[Row]) -> str:
    """The table's header note: every baseline row's source and what it runs (docs/twohead.md, Protocols)."""
    parts = [f"{r.label}: {r.note}" for r in rows if r.note]
    return "Row sources and protocols — " + "; ".join(parts) + "."


_TH1_COLS = _ratio_columns("th_cifar10_lt", "c10_", "CIFAR-10") + _ratio_columns("th_cifar100_lt", "c100_", "CIFAR-100")
_TH2_COLS = _ratio_columns("th_tiny_imagenet_lt", "tiny_", "Tiny")
_TH3_COLS = (
    Column("many", "Many (>100)", (experiment("th_imagenet_lt"),), metric="many_shot"),
    Column("medium", "Medium (20-100)", (experiment("th_imagenet_lt"),), metric="medium_shot"),
    Column("few", "Few (<20)", (experiment("th_imagenet_lt"),), metric="few_shot"),
    Column("all", "All", (experiment("th_imagenet_lt"),), metric="top1"),
)
_TH4_COLS = _ratio_columns("th_cifar100_lt", "c100_", "CIFAR-100") + _TH2_COLS
_TH5_COLS = tuple(
    Column(b, label, (experiment("th_cifar100_lt"), f"{NAMES['ratio_key']}=100", f"backbone={b}"), metric="top1")
    for b, label in (("resnet110", "ResNet-110"), ("vgg16", "VGG-16"), ("mobilenetv2", "MobileNet-v2"))
)


def _th4_rows() -> Tuple[Row, ...]:
    """Table 4, plus the rows with a class-division head once more with the summed-probability prediction
    (the paper's prediction rule is read as arg-max cluster, the default; docs/twohead.md)."""
    paper = {label: dict(zip((c.id for c in _TH4_COLS), v)) for label, (_, _, v) in _TH4.items()}
    ce_source = f"CIFAR-100: {_TH1_SOURCES['CE'][0]}, runs {_CUI_PROTOCOL}; Tiny-ImageNet: {_UNTRACED}, runs {_OWN}"
    rows: List[Row] = [SourcedRow("none (CE)", "ce", paper=paper["none (CE)"], note=f"source: {ce_source}", source=ce_source,
                                  protocols={"th_cifar100_lt": _CUI_CIFAR["th_cifar100_lt"]})]
    for label in ("FBH", "CDH", "FBH + CDH"):
        method, overrides, _ = _TH4[label]
        rows.append(Row(label, method, overrides, paper=paper[label], note=f"the two-head paper; runs {_OWN}"))
    for label in ("CDH", "FBH + CDH"):
        method, overrides, _ = _TH4[label]
        rows.append(Row(f"{label} (sum prediction)", method, (*overrides, *NAMES["th_sum_prediction"]), paper=paper[label],
                        note="the paper's row, predicted with summed cluster probabilities per class"))
    return tuple(rows)


def _th_table(table_id: str, title: str, setting: str, columns, rows, **kw) -> Table:
    return Table(table_id, title, setting, columns, rows, note=_sources_note(rows), **kw)


TH_TABLES = (
    _th_table("th.t1", "Top-1 accuracy (%) at imbalance ratio β (two-head Table 1)", "CIFAR-10-LT / CIFAR-100-LT, ResNet-32",
              _TH1_COLS, _th_rows(_TH1, _TH1_COLS, _TH1_SOURCES)),
    _th_table("th.t2", "Top-1 accuracy (%) at imbalance ratio β (two-head Table 2)", "Tiny-ImageNet-LT (200 classes) / ResNet-18",
              _TH2_COLS, _th_rows(_TH2, _TH2_COLS, _TH2_SOURCES)),
    _th_table("th.t3", "Accuracy (%) on many / medium / few-shot classes and all (two-head Table 3)", "ImageNet-LT / ResNeXt-50",
              _TH3_COLS, _th_rows(_TH3, _TH3_COLS, _TH3_SOURCES, _TH3_OVERRIDES), paper_precision=1),
    _th_table("th.t4", "Ablation: feature-balancing head (FBH) and class-division head (CDH) (two-head Table 4)",
              "CIFAR-100-LT / ResNet-32 and Tiny-ImageNet-LT / ResNet-18", _TH4_COLS, _th4_rows()),
    _th_table("th.t5", "Top-1 accuracy (%) with other backbones, β=100 (two-head Table 5)", "CIFAR-100-LT", _TH5_COLS,
              _th_rows(_TH5, _TH5_COLS, _TH5_SOURCES)),
)

TH_PROTOCOLS = ("paper", "own")


def under_protocol(tables: Sequence[Table], protocol: str) -> List[Table]:
    """``paper`` (the default): every baseline row runs the protocol that produced its number. ``own``: every
    row of a two-head table runs the two-head paper's own protocol, for an apples-to-apples comparison; the
    tables that change get the id ``<id>-own`` (their own output files) and say so in the title."""
    if protocol not in TH_PROTOCOLS:
        raise KeyError(f"unknown protocol {protocol!r}; choose one of {', '.join(TH_PROTOCOLS)}")
    if protocol == "paper":
        return list(tables)
    return [_own_protocol(t) if any(isinstance(r, SourcedRow) and r.protocols for r in t.rows) else t for t in tables]


def _own_protocol(table: Table) -> Table:
    from dataclasses import replace

    rows = tuple(replace(r, protocols={}, note=f"source: {r.source}; runs {_OWN} (--protocol own)")
                 if isinstance(r, SourcedRow) else r for r in table.rows)
    return replace(table, id=f"{table.id}-own", title=f"{table.title}, every row under the two-head protocol",
                   rows=rows, note=_sources_note(rows))


# ---------------------------------------------------------------------------------------------
# Figures: their runs are rows too (no paper numbers); table_figures.py draws them.
# ---------------------------------------------------------------------------------------------
_FIG_C100 = (experiment("th_cifar100_lt"), f"{NAMES['ratio_key']}=100")
_TH_PREDICTIONS = (("", ()), (" (sum prediction)", tuple(NAMES["th_sum_prediction"])))  # th.fig4: both readings
FIGURES = (
    Table("dcl.fig1", "The four scheduler functions over training (DCL Figure 1)", "—", (), (), kind="figure"),
    Table("dcl.fig4", "Per-attribute mA gain over CE vs imbalance level (DCL Figure 4)", "CelebA / DeepID2",
          _MA, tuple(Row(label, _T2[label][0]) for label in ("DeepID2 (CE)", "DCL", "CRL-I")), kind="figure",
          note="Paper curves come from dcl.t2's per-attribute values (CLMLE included); ours from the runs."),
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
          "(DP Figure 3)", "KITTI / SSD", (Column("ap", "AP", ("task=detection",), metric="ap_medium"),),
          (Row("Instance params", "ssd_data_params", note="detection is outside this runner"),), kind="figure"),
    Table("dp.fig4", "Instance parameters of clean vs noisy samples; % corrupt in the top 40% (DP Figure 4)",
          "CIFAR-100, 40% uniform noise", (_NOISY[1],),
          (Row("Data params (instance)", "data_params", tuple(NAMES["dp_instance"])),), kind="figure"),
    Table("dp.fig5", "Training accuracy with all labels random (DP sec. 3.5 figure)", "CIFAR-100 / VGG-16",
          _TOP1("dp_random_labels"),
          (Row("Baseline", "ce"), Row("Class params", "data_params", tuple(NAMES["dp_class"]))), kind="figure"),
    Table("th.fig3", "Per-class train counts, recall and classifier weight norm, CE vs ours (two-head Figure 3)",
          "CIFAR-100-LT β=100 / ResNet-32", (Column("top1", "top-1", _FIG_C100),),
          (Row("CE", "ce"), Row("Ours", "twohead")), kind="figure"),
    Table("th.fig4", "Accuracy vs cluster number u (CDH only) and by clustering strategy (two-head Figure 4)",
          "CIFAR-100-LT β=100 / ResNet-32", (Column("top1", "top-1", _FIG_C100),),
          (
              *(Row(f"u={u}{tag}", "twohead", (*NAMES["th_cdh_only"], f"{NAMES['th_clusters_key']}={u}", *extra))
                for tag, extra in _TH_PREDICTIONS for u in (2, 5, 10, 15, 20)),
              *(Row(f"clustering={s}{tag}", "twohead", (f"{NAMES['th_clustering_key']}={s}", *extra))
                for tag, extra in _TH_PREDICTIONS for s in ("random", "kmeans", "hierarchical")),
          ),
          kind="figure", note="Each point twice: arg-max-cluster prediction (the default) and ' (sum prediction)'."),
)

ALL: Tuple[Table, ...] = (*DCL_TABLES, *DP_TABLES, *TH_TABLES, *FIGURES)
REGISTRY: Dict[str, Table] = {t.id: t for t in ALL}


def get(table_id: str) -> Table:
    if table_id not in REGISTRY:
        raise KeyError(f"unknown table id {table_id!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[table_id]


def select(spec: str) -> List[Table]:
    """``all``, one id, or a comma-separated list of ids."""
    if spec == "all":
        return list(ALL)
    return [get(part.strip()) for part in spec.split(",") if part.strip()]
