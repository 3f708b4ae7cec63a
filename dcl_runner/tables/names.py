"""The one place where the names other modules define are spelled: experiment files and method options the
table rows use (conf/experiment/<name>.yaml, method keys). Fix them here when a config is renamed."""
from __future__ import annotations

from typing import Any, Dict

NAMES: Dict[str, Any] = {
    # conf/experiment/<name>.yaml, each pinning one paper protocol (dataset, backbone, trainer)
    "experiment": {
        "dcl_celeba": "dcl_celeba",            # CelebA / DeepID2 (DCL sec. 4.3)
        "dcl_rap": "dcl_rap",                  # RAP / ResNet-50, the protocol's 51 attributes (DCL sec. 4.4, Table 5)
        "dcl_rap_all": "dcl_rap_all_attributes",  # the same on all of RAP's attributes (DCL Table 6)
        "dcl_cifar100": "dcl_cifar100",        # CIFAR-100 (DCL sec. 4.5)
        # the protocols that produced DCL's baseline numbers (docs/dcl.md "Where the paper's baseline numbers come from")
        "dcl_rap_deep_mar": "dcl_rap_deep_mar",  # RAP, DeepMAR's authors' code (DCL Table 5 "Deep-Mar")
        "dcl_rap_inception_v2": "dcl_rap_inception_v2",  # RAP, BN-Inception from ImageNet (DCL Table 5 "Inception-v2")
        "dp_cifar100": "dp_cifar100_wrn",      # CIFAR-100 / WRN-28-10 (DP Table 1)
        "dp_imagenet": "dp_imagenet_resnet18",          # ImageNet / ResNet-18 (DP Table 1)
        "dp_webvision": "dp_webvision_resnet18",        # WebVision / ResNet-18 (DP Table 1)
        "dp_noisy_cifar10": "dp_noisy_cifar10_wrn",    # 40% uniform noise, WRN-28-10, epoch 84 (DP Table 2)
        "dp_noisy_cifar100": "dp_noisy_cifar100_wrn",
        # Ren et al. 2018's WRN-28-10 protocol: dp.t2's rows copied from [26] (batch 100, wd 2e-4, dropout 0.3)
        "ren_noisy_cifar10": "ren_noisy_cifar10_wrn",
        "ren_noisy_cifar100": "ren_noisy_cifar100_wrn",
        "dp_random_labels": "dp_random_labels_vgg16",    # CIFAR-100 all labels random, VGG-16 (DP sec. 3.5)
        "dp_kitti": "dp_kitti_ssd",            # KITTI car detection, SSD300 (DP sec. 3.3, Figures 2 and 3)
        "th_cifar10_lt": "th_cifar10_lt",      # CIFAR-10-LT / ResNet-32 (two-head Table 1)
        "th_cifar100_lt": "th_cifar100_lt",
        "th_tiny_imagenet_lt": "th_tiny_imagenet_lt",  # Tiny-ImageNet-LT / ResNet-18 (Table 2)
        "th_imagenet_lt": "th_imagenet_lt",    # ImageNet-LT / ResNeXt-50 (Table 3)
        # the protocol of kaidic/LDAM-DRW cifar_train.py (= Cui et al.'s CIFAR schedule): th.t1 rows copied from them
        "th_cifar10_lt_ldam_drw": "th_cifar10_lt_ldam_drw",
        "th_cifar100_lt_ldam_drw": "th_cifar100_lt_ldam_drw",
        "th_cifar10_lt_cui": "th_cifar10_lt_cui",      # Cui et al.'s CIFAR protocol (per-step warm-up)
        "th_cifar100_lt_cui": "th_cifar100_lt_cui",
        "th_cifar10_lt_bbn": "th_cifar10_lt_bbn",      # Megvii-Nanjing/BBN configs/cifar10.yaml: th.t1's BBN row
        "th_cifar100_lt_bbn": "th_cifar100_lt_bbn",
        "th_cifar10_lt_hybrid_sc": "th_cifar10_lt_hybrid_sc",    # Hybrid-SC sec. 4.1 as restated: th.t1's Hybrid-SC row
        "th_cifar100_lt_hybrid_sc": "th_cifar100_lt_hybrid_sc",
        # two-stage rows (Row.stage1): decoupling's LWS on ImageNet-LT (Kang et al.), MiSLAS's stage 1 (mixup) and
        # stage 2 per dataset and ratio (dvlab-research/MiSLAS config/*); Tiny-ImageNet: a choice (docs/twohead.md)
        "th_imagenet_lt_lws": "th_imagenet_lt_lws",
        "th_cifar10_lt_mislas_stage1": "th_cifar10_lt_mislas_stage1",
        "th_cifar100_lt_mislas_stage1": "th_cifar100_lt_mislas_stage1",
        "th_imagenet_lt_mislas_stage1": "th_imagenet_lt_mislas_stage1",
        "th_imagenet_lt_mislas": "th_imagenet_lt_mislas",
        **{f"th_{d}_lt_mislas_r{r}": f"th_{d}_lt_mislas_r{r}" for d in ("cifar10", "cifar100", "tiny_imagenet")
           for r in (100, 50, 10)},
    },
    "ratio_key": "dataset.imbalance_ratio",    # conf/_base/dataset.yaml
    "noise_key": "dataset.noise.rate",
    # data parameters: which curriculum (method data_params)
    "dp_class": ["method.curriculum=class"],
    "dp_instance": ["method.curriculum=instance"],
    "dp_class_instance": ["method.curriculum=joint"],
    "dp_oracle": ["dataset.subset=clean"],
    # dp.t2's methods with "additional clean data": a clean hold-out of 1,000 training images (Ren et al. 2018 (CIFAR noisy-label experiments))
    "dp_clean_holdout": ["dataset.clean_holdout.size=1000"],
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
