"""The two-head paper's protocols (seed 004), per table (see protocols.py), written by hand from the paper and the
code bases it copies its setting and baseline numbers from. Nothing here is read from conf/.

Sources (quoted next to every value):
- TH: the two-head paper, sec. 2 (method) and 3.1 (implementation details);
- BBN: Megvii-Nanjing/BBN configs/cifar10.yaml, configs/cifar100.yaml and lib/utils/lr_scheduler.py (the paper's
  CIFAR / Tiny-ImageNet schedule sentence is BBN's; BBN multiplies the lr by LR_FACTOR 0.01 at each LR_STEP);
- LDAM: kaidic/LDAM-DRW cifar_train.py, losses.py, utils.py, models/resnet_cifar.py (Cao et al. 2019), whose CIFAR
  schedule is Cui et al.'s (richardaecn/class-balanced-loss src/cifar_main.py, cifar_im_trainval*.sh): the protocol of
  th.t1's CE, Focal, CB+Focal, LDAM and LDAM+DRW numbers;
- KANG: facebookresearch/classifier-balancing config/ImageNet_LT/feat_uniform.yaml (Kang et al. 2020; the paper's
  ImageNet-LT setting and th.t3's CE number);
- BBN_CFG: the same BBN configs, as the protocol of th.t1's BBN row (its own numbers);
- MISLAS: dvlab-research/MiSLAS config/*/..._stage1_mixup.yaml (Ours-Full's Mixup, "as used in MiSLAS"), and for the
  MiSLAS rows config/*/*_stage2_mislas.yaml, train_stage1.py, train_stage2.py, methods.py, datasets/sampler.py;
- KANG's cls_lws.yaml and run_networks.py (th.t3's LWS row, stage 2);
- HSC: Hybrid-SC (Wang et al. 2021) sec. 4.1 as restated by a reproduction report (the paper's own text was not
  available; no official code exists), with SupCon's authors' code (HobbitLong/SupContrast) for the projection head.
Two-stage rows (MiSLAS, LWS) are checked twice: the stage-2 run (rows / cells) and its stage-1 run (``stage1``).
Milestones are 0-based epochs (the trainer's ``t >= m``): BBN's "120th epoch" is index 119, LDAM-DRW's
``epoch + 1 > 160`` is index 160.
"""
from dataclasses import replace
from typing import Dict, Tuple

from protocols import Cite, TableProtocol

TH = "two-head paper sec. 3.1"
BBN = "Megvii-Nanjing/BBN configs/cifar100.yaml"
LDAM = "kaidic/LDAM-DRW cifar_train.py"
KANG = "facebookresearch/classifier-balancing config/ImageNet_LT/feat_uniform.yaml"
CHOICE = "paper silent: choice documented in conf/method/twohead.yaml and docs/twohead.md"

Keys = Dict[str, Cite]


def _schedule_two_head() -> Keys:
    """CIFAR and Tiny-ImageNet, the two-head paper's own protocol (= BBN's CIFAR config)."""
    return {
        "trainer.epochs": Cite(200, f"{TH} 'training over 200, 200, and 90 epochs'; {BBN} MAX_EPOCH 200"),
        "trainer.batch_size": Cite(128, f"{TH} 'batch size 128, 128, and 512'; {BBN} BATCH_SIZE 128"),
        "trainer.optimizer.name": Cite("sgd", f"{TH} 'The SGD optimizer with momentum 0.9'"),
        "trainer.optimizer.lr": Cite(0.1, f"{TH} 'the initial learning rate was 0.1'; {BBN} BASE_LR 0.1"),
        "trainer.optimizer.momentum": Cite(0.9, f"{TH} 'momentum 0.9'; {BBN} MOMENTUM 0.9"),
        "trainer.optimizer.nesterov": Cite(True, "paper silent; BBN lib/utils/utils.py get_optimizer SGD(..., nesterov=True)"),
        "trainer.optimizer.weight_decay": Cite(2e-4, f"paper silent; {BBN} WEIGHT_DECAY 2e-4"),
        "trainer.lr_schedule.name": Cite("multistep", f"{TH} 'decayed ... at the 120th and 160th epoch'"),
        "trainer.lr_schedule.milestones": Cite([119, 159], f"{TH} 'at the 120th and 160th epoch' (1-based); {BBN} LR_STEP "
                                                          "[120, 160], bisect_right on the 1-based epoch"),
        "trainer.lr_schedule.gamma": Cite(0.01, f"{TH} 'decayed by 0.01'; {BBN} LR_FACTOR 0.01 at each step"),
        "trainer.lr_schedule.warmup_epochs": Cite(5, f"paper silent; {BBN} WARM_EPOCH 5"),
        "trainer.lr_schedule.warmup_start_factor": Cite(1 / 3, "BBN lib/utils/lr_scheduler.py WarmupMultiStepLR warmup_factor=1/3"),
        "trainer.lr_schedule.granularity": Cite("epoch", "BBN main/train.py: scheduler.step() once per epoch"),
    }


def _schedule_ldam_drw() -> Keys:
    """The protocol of the numbers th.t1 copies from Cui et al. 2019 / Cao et al. 2019."""
    return {
        "trainer.epochs": Cite(200, f"{LDAM} --epochs 200; Cui et al. cifar_main.py --train-epochs 200"),
        "trainer.batch_size": Cite(128, f"{LDAM} -b 128; cifar_main.py --train-batch-size 128"),
        "trainer.optimizer.name": Cite("sgd", f"{LDAM} torch.optim.SGD"),
        "trainer.optimizer.lr": Cite(0.1, f"{LDAM} --lr 0.1; cifar_main.py --learning-rate 0.1"),
        "trainer.optimizer.momentum": Cite(0.9, f"{LDAM} --momentum 0.9"),
        "trainer.optimizer.nesterov": Cite(False, f"{LDAM}:116 torch.optim.SGD without nesterov"),
        "trainer.optimizer.weight_decay": Cite(2e-4, f"{LDAM} --wd 2e-4; cifar_main.py --weight-decay 2e-4"),
        "trainer.lr_schedule.name": Cite("multistep", f"{LDAM} adjust_learning_rate"),
        "trainer.lr_schedule.milestones": Cite([160, 180], f"{LDAM} adjust_learning_rate: epoch + 1 > 160, > 180"),
        "trainer.lr_schedule.gamma": Cite(0.01, f"{LDAM} lr x0.01 then x0.0001; cifar_im_trainval.sh multipliers 1 0.01 0.0001"),
        "trainer.lr_schedule.warmup_epochs": Cite(5, f"{LDAM} epoch + 1 <= 5: lr * (epoch + 1) / 5; cifar_main.py 5-epoch warm-up"),
        "trainer.lr_schedule.warmup_start_factor": Cite(0.0, f"{LDAM} (epoch + 1) / 5: 0.2 ... 1.0 over epochs 0-4"),
        "trainer.lr_schedule.granularity": Cite("epoch", f"{LDAM} adjust_learning_rate once per epoch"),
    }


CUI = "richardaecn/class-balanced-loss src/cifar_main.py"


def _schedule_cui() -> Keys:
    """Cui et al.'s own runs (th.t1 CE / Focal / CB+Focal, th.t4 CE on CIFAR-100): LDAM-DRW copied their schedule,
    but they warm up per step."""
    return {
        **_schedule_ldam_drw(),
        "trainer.lr_schedule.milestones": Cite([160, 180], f"{CUI} --learning-rate-schedule 5 160 180 (lr x0.01 from epoch 160)"),
        "trainer.lr_schedule.warmup_start_factor": Cite(0.0, f"{CUI} learning_rate_schedule 'starts at 0, then increases linearly'"),
        "trainer.lr_schedule.granularity": Cite("step", f"{CUI} current_epoch = global_step * batch / examples (fractional)"),
        "trainer.optimizer.nesterov": Cite(False, f"{CUI}:174 tf.train.MomentumOptimizer (use_nesterov default False)"),
    }


BBN_CFG = "Megvii-Nanjing/BBN configs/cifar10.yaml, configs/cifar100.yaml"


def _schedule_bbn() -> Keys:
    """The protocol of th.t1's BBN numbers: BBN's own CIFAR configs (the same values as the two-head protocol,
    which copies them, but cited to BBN's code)."""
    return {
        "trainer.epochs": Cite(200, f"{BBN_CFG} TRAIN.MAX_EPOCH 200"),
        "trainer.batch_size": Cite(128, f"{BBN_CFG} TRAIN.BATCH_SIZE 128"),
        "trainer.optimizer.name": Cite("sgd", f"{BBN_CFG} OPTIMIZER.TYPE SGD"),
        "trainer.optimizer.lr": Cite(0.1, f"{BBN_CFG} OPTIMIZER.BASE_LR 0.1"),
        "trainer.optimizer.momentum": Cite(0.9, f"{BBN_CFG} OPTIMIZER.MOMENTUM 0.9"),
        "trainer.optimizer.nesterov": Cite(True, "BBN lib/utils/utils.py get_optimizer: torch.optim.SGD(..., nesterov=True)"),
        "trainer.optimizer.weight_decay": Cite(2e-4, f"{BBN_CFG} OPTIMIZER.WEIGHT_DECAY 2e-4"),
        "trainer.lr_schedule.name": Cite("multistep", f"{BBN_CFG} LR_SCHEDULER.TYPE warmup (WarmupMultiStepLR)"),
        "trainer.lr_schedule.milestones": Cite([119, 159], f"{BBN_CFG} LR_STEP [120, 160], bisect_right on the 1-based epoch"),
        "trainer.lr_schedule.gamma": Cite(0.01, f"{BBN_CFG} LR_FACTOR 0.01"),
        "trainer.lr_schedule.warmup_epochs": Cite(5, f"{BBN_CFG} WARM_EPOCH 5"),
        "trainer.lr_schedule.warmup_start_factor": Cite(1 / 3, "BBN lib/utils/lr_scheduler.py WarmupMultiStepLR warmup_factor=1/3"),
        "trainer.lr_schedule.granularity": Cite("epoch", "BBN main/train.py: scheduler.step() once per epoch"),
    }


def _imagenet_lt() -> Keys:
    return {
        "dataset.name": Cite("imagenet_lt", f"{TH} 'ImageNet-LT [4]'"),
        "dataset.imbalance_ratio": Cite(None, "ImageNet-LT: the long tail is defined by its file lists (Liu et al. 2019)"),
        "backbone.name": Cite("resnext50", f"{TH} 'ResNeXt-50 ... for ImageNet-LT'; {KANG} backbone resnext50"),
        "trainer.epochs": Cite(90, f"{TH} '90 epochs'; {KANG} num_epochs 90"),
        "trainer.batch_size": Cite(512, f"{TH} 'batch size ... 512'; {KANG} batch_size 512"),
        "trainer.optimizer.name": Cite("sgd", f"{TH} 'SGD optimizer'"),
        "trainer.optimizer.lr": Cite(0.2, f"{TH} 'the initial learning rate was 0.2'; {KANG} lr 0.2"),
        "trainer.optimizer.momentum": Cite(0.9, f"{TH} 'momentum 0.9'; {KANG} momentum 0.9"),
        "trainer.optimizer.weight_decay": Cite(5e-4, f"paper silent; {KANG} weight_decay 0.0005"),
        "trainer.lr_schedule.name": Cite("cosine", f"{TH} 'decayed by a cosine schedule [22]'; {KANG} coslr true"),
        "trainer.lr_schedule.min_lr_factor": Cite(0.0, f"{KANG} endlr 0.0"),
        "trainer.lr_schedule.granularity": Cite("epoch", "classifier-balancing run_networks.py: CosineAnnealingLR stepped once per epoch"),
        "trainer.lr_schedule.warmup_epochs": Cite(0, "classifier-balancing run_networks.py: no warm-up"),
        "dataset.decode": Cite("standard", "classifier-balancing data/dataloader.py: transforms of each decoded image"),
        "dataset.image_size": Cite(224, "classifier-balancing data/dataloader.py RandomResizedCrop(224), CenterCrop(224)"),
        "dataset.eval_crop_fraction": Cite(0.875, "classifier-balancing data/dataloader.py Resize(256) + CenterCrop(224)"),
        "dataset.augment.flip": Cite(True, "classifier-balancing data/dataloader.py RandomHorizontalFlip()"),
        "dataset.augment.color_jitter": Cite([0.4, 0.4, 0.4], "classifier-balancing data/dataloader.py "
                                             "ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0)"),
    }


def _common(pretrained_source: str = f"{TH}: no pre-training named; random init") -> Keys:
    return {
        "backbone.pretrained": Cite(None, pretrained_source),
        "dataset.noise.rate": Cite(0.0, "the two-head paper uses clean labels"),
    }


def _cifar_columns(prefix: str, dataset: str) -> Dict[str, Keys]:
    return {
        f"{prefix}{r}": {
            "dataset.name": Cite(dataset, f"{TH} 'CIFAR-10, the CIFAR-100' long-tailed as LDAM [20]"),
            "dataset.imbalance_ratio": Cite(r, f"{TH} 'beta was respectively set to 10, 50 and 100'"),
            "backbone.name": Cite("resnet32", f"{TH} 'ResNet-32 ... for CIFAR'"),
            "backbone.head_init": Cite("kaiming_normal", "kaidic/LDAM-DRW models/resnet_cifar.py _weights_init"),
        }
        for r in (100, 50, 10)
    }


def _tiny_columns() -> Dict[str, Keys]:
    return {
        f"tiny_{r}": {
            "dataset.name": Cite("tiny_imagenet_lt", f"{TH} 'the 200-class Tiny-ImageNet [21]' long-tailed as LDAM"),
            "dataset.imbalance_ratio": Cite(r, f"{TH} 'beta was respectively set to 10, 50 and 100'"),
            "backbone.name": Cite("resnet18", f"{TH} 'ResNet-18 ... for Tiny-ImageNet'"),
        }
        for r in (100, 50, 10)
    }


def _method(name: str) -> Keys:
    return {"method.name": Cite(name, "the row's method (two-head paper's table)")}


# -- method keys ------------------------------------------------------------------------------------------------
TWO_HEAD: Keys = {
    "method.fbh": Cite(True, "two-head paper sec. 2.1 (feature-balancing head; off only in Table 4 / Fig. 4 left)"),
    "method.cdh": Cite(True, "two-head paper sec. 2.2 (class-division head; off only in Table 4's FBH row)"),
    "method.lambda_fbh": Cite(1.5, f"{TH} 'The coefficient lambda was set 1.5 for all experiments'"),
    "method.u": Cite(10, f"{TH} 'The cluster number u was set to 10 by default'"),
    "method.alpha": Cite(0.5, "two-head paper sec. 2.2 'a predefined higher soft ground-truth value alpha (e.g., 0.5)'"),
    "method.clustering": Cite("random", f"{TH} 'random splitting was used to divide a larger class'"),
    "method.cluster_to_class": Cite("argmax", "two-head paper sec. 2.2 'predict the class ... with the help of the "
                                              "correspondence between the K clusters and the original C classes': arg-max cluster, its class"),
    "method.fbh_channel_fit": Cite("project", "two-head paper sec. 2.1 'each group ... corresponding to a unique class': "
                                              f"own projected channels per class; {CHOICE}"),
    "method.fbh_kernel_size": Cite(3, CHOICE),
}
CB_WEIGHTS = "kaidic/LDAM-DRW cifar_train.py: beta = 0.9999 effective-number weights (Cui et al.)"
DEFERRED = "kaidic/LDAM-DRW cifar_train.py 'DRW': idx = epoch // 160 of 200 epochs (0.8 of training)"
METHOD_KEYS: Dict[str, Tuple[str, ...]] = {
    "twohead": tuple(TWO_HEAD),
    "twohead_full": (*TWO_HEAD, "method.mixup_alpha", "method.reweight.type", "method.reweight.beta",
                     "method.reweight.start_epoch", "method.reweight.start_fraction"),
    "focal": ("method.loss", "method.focal_gamma"),
    "cb": ("method.reweight.type", "method.reweight.beta", "method.reweight.start_epoch", "method.reweight.start_fraction"),
    "cb_focal": ("method.loss", "method.focal_gamma", "method.focal_class_weight", "method.reweight.type",
                 "method.reweight.beta", "method.reweight.start_epoch", "method.reweight.start_fraction"),
    "ldam": ("method.loss", "method.classifier", "method.ldam_max_margin", "method.ldam_scale"),
    "ldam_drw": ("method.loss", "method.classifier", "method.ldam_max_margin", "method.ldam_scale", "method.reweight.type",
                 "method.reweight.beta", "method.reweight.start_epoch", "method.reweight.start_fraction"),
    "drw": ("method.reweight.type", "method.reweight.beta", "method.reweight.start_epoch", "method.reweight.start_fraction"),
    "drs": ("method.resample.type", "method.resample.beta", "method.resample.start_epoch", "method.resample.start_fraction"),
    "mixup": ("method.mixup_alpha",),
    "bbn": ("method.alpha_epochs", "method.classifier_init"),
    "oltr": ("method.feature_dim", "method.attention_size", "method.reachability_scale", "method.cosine_scale",
             "method.centroid_loss_weight", "method.repel_weight", "method.repel_margin", "method.centroid_lr",
             "method.centroid_momentum", "method.centroid_weight_decay", "method.classifier_lr", "method.samples_per_class"),
}
OLTR = "zhmiao/OpenLongTailRecognition-OLTR"
OLTR_CFG = f"{OLTR} config/ImageNet_LT/stage_2_meta_embedding.py"
OLTR_KEYS: Keys = {
    "method.feature_dim": Cite(512, f"{OLTR_CFG} feature_dim 512 (models/ResNetFeature.py fc_add -> 512)"),
    "method.attention_size": Cite(7, f"{OLTR} layers/ModulatedAttLayer.py fc_spatial on 7 x 7 maps"),
    "method.reachability_scale": Cite(10.0, f"{OLTR} models/MetaEmbeddingClassifier.py scale = 10.0"),
    "method.cosine_scale": Cite(16.0, f"{OLTR} models/CosNormClassifier.py scale=16"),
    "method.centroid_loss_weight": Cite(0.01, f"{OLTR_CFG} FeatureLoss weight 0.01"),
    "method.repel_weight": Cite(0.01, f"{OLTR} loss/DiscCentroidsLoss.py loss_attract + 0.01 * loss_repel"),
    "method.repel_margin": Cite(10.0, f"{OLTR} loss/DiscCentroidsLoss.py margin = 10.0"),
    "method.centroid_lr": Cite(0.01, f"{OLTR_CFG} feat_loss_optim_param lr 0.01"),
    "method.centroid_momentum": Cite(0.9, f"{OLTR_CFG} feat_loss_optim_param momentum 0.9"),
    "method.centroid_weight_decay": Cite(5e-4, f"{OLTR_CFG} feat_loss_optim_param weight_decay 0.0005"),
    "method.classifier_lr": Cite(None, "th.t3 runs the two-head ImageNet-LT protocol (untraced number): one lr for all"),
    "method.samples_per_class": Cite(4, f"{OLTR_CFG} ClassAwareSampler num_samples_cls 4"),
}
LDAM_KEYS: Keys = {
    "method.loss": Cite("ldam", "kaidic/LDAM-DRW losses.py LDAMLoss"),
    "method.classifier": Cite("cosine", "kaidic/LDAM-DRW models/resnet_cifar.py NormedLinear when loss_type == 'LDAM'"),
    "method.ldam_max_margin": Cite(0.5, f"{LDAM} LDAMLoss(max_m=0.5)"),
    "method.ldam_scale": Cite(30.0, f"{LDAM} LDAMLoss(s=30)"),
}
DRW_KEYS: Keys = {
    "method.reweight.type": Cite("cb", CB_WEIGHTS),
    "method.reweight.beta": Cite(0.9999, CB_WEIGHTS),
    "method.reweight.start_epoch": Cite(None, f"{DEFERRED}: given as a fraction so it scales with the epochs"),
    "method.reweight.start_fraction": Cite(0.8, DEFERRED),
}
HSC = ("Hybrid-SC paper sec. 4.1 as restated in CENG502-Projects/CENG502-Spring2022 Project_Durmus-Yavuz/Readme.md "
       "(the paper's text not available)")
SUPCON = "HobbitLong/SupContrast networks/resnet_big.py SupConResNet head='mlp'"
HSC_CHOICE = "sources silent: choice documented in conf/method/hybrid_sc.yaml and docs/longtail_one_stage.md"
HYBRID_SC_KEYS: Keys = {
    "method.loss": Cite("sc", "two-head Table 1 row 'Hybrid-SC' (the SC loss; Hybrid-PSC is the paper's other row)"),
    "method.sc_temperature": Cite(0.1, f"{HSC} 'In SC Loss, temperature is set to 0.1'"),
    "method.projection_hidden": Cite(None, f"{HSC} 'MLP with one hidden layer' (width not given); {SUPCON} "
                                           "Linear(dim_in, dim_in): null = the feature width"),
    "method.projection_dim": Cite(128, f"{HSC}: not given; {SUPCON} feat_dim=128"),
    "method.alpha_epochs": Cite(None, f"{HSC} alpha = 1 - (T/T_max)^2, T_max 'maximum epoch number': trainer.epochs"),
    "method.ce_sampler": Cite("class_balanced", f"{HSC} 'different data sampling strategies'; two-head Table 1 types "
                                                f"Hybrid-SC 'ES+RB' (re-balancing); {HSC_CHOICE}"),
}
METHOD_KEYS["hybrid_sc"] = (*HYBRID_SC_KEYS, "method.psc_temperature")


def _schedule_hybrid_sc() -> Keys:
    """The protocol of th.t1's Hybrid-SC numbers (sec. 4.1 as restated)."""
    return {
        "trainer.epochs": Cite(200, f"{HSC} 'trained for 200 epochs'"),
        "trainer.batch_size": Cite(512, f"{HSC} 'Batch size is set to 512'"),
        "trainer.optimizer.name": Cite("sgd", f"{HSC} 'They use SGD'"),
        "trainer.optimizer.lr": Cite(0.5, f"{HSC} 'The initial learning rate is 0.5'"),
        "trainer.optimizer.momentum": Cite(0.9, f"{HSC} 'momentum of 0.9'"),
        "trainer.optimizer.nesterov": Cite(False, "not restated; choice: HobbitLong/SupContrast util.py set_optimizer plain SGD"),
        "trainer.optimizer.weight_decay": Cite(1e-4, f"{HSC} 'weight decay of 1x10-4'"),
        "trainer.lr_schedule.name": Cite("multistep", f"{HSC} 'decayed by a factor of 10 at the 120th epoch and 160th epoch'"),
        "trainer.lr_schedule.milestones": Cite([119, 159], f"{HSC} 'at the 120th epoch and 160th epoch' (1-based, read as "
                                                          f"{TH}'s same sentence)"),
        "trainer.lr_schedule.gamma": Cite(0.1, f"{HSC} 'by a factor of 10'"),
        "trainer.lr_schedule.warmup_epochs": Cite(0, f"{HSC}: no warm-up named"),
        "trainer.lr_schedule.warmup_start_factor": Cite(0.0, f"{HSC}: no warm-up (not the two-head protocol's 1/3)"),
        "trainer.lr_schedule.granularity": Cite("epoch", f"{HSC}: a multi-step decay at epochs (the same lr either way)"),
    }


def _hybrid_sc_cells(prefix: str, psc_temperature: float, which: str) -> Dict[Tuple[str, str], Keys]:
    """Per column: the PSC temperature (per dataset) and the augmentation of both branches."""
    return {("Hybrid-SC", f"{prefix}{r}"): {
        "method.psc_temperature": Cite(psc_temperature, f"{HSC} 'in PSC Loss, tau is set to 0.1 for CIFAR-100 and 1 for "
                                                        f"CIFAR10' ({which})"),
        "dataset.augment.crop": Cite("pad", f"{HSC} 'random cropping with size 32 x 32' for both branches"),
        "dataset.augment.padding": Cite(4, f"{HSC}: padding not given; LDAM's CIFAR crop ({HSC_CHOICE})"),
        "dataset.augment.flip": Cite(True, f"{HSC} 'horizontal flip'"),
        "dataset.augment.grayscale": Cite(0.2, f"{HSC} 'random grayscale with probability of 0.2'"),
    } for r in (100, 50, 10)}


ROW_KEYS: Dict[str, Keys] = {  # th.t1-t5 row label -> method keys (the row's method and its paper's defaults)
    "CE": _method("ce"),
    "Focal": {**_method("focal"), "method.loss": Cite("focal", "Lin et al. 2020"),
              "method.focal_gamma": Cite(1.0, f"{LDAM} FocalLoss(gamma=1); Cui et al. 'Focal (gamma = 1.0)', GAMMA=1.0")},
    "Mixup": {**_method("mixup"), "method.mixup_alpha": Cite(1.0, "Zhang et al. 2018 CIFAR alpha 1; MiSLAS cifar*_stage1_mixup.yaml alpha 1.0")},
    "CB": {**_method("cb"), "method.reweight.type": Cite("cb", "Cui et al. 2019 effective number"),
           "method.reweight.beta": Cite(0.9999, f"{LDAM} 'Reweight': beta = 0.9999"),
           "method.reweight.start_epoch": Cite(None, f"{LDAM} 'Reweight': from the first epoch"),
           "method.reweight.start_fraction": Cite(0.0, f"{LDAM} 'Reweight': from the first epoch")},
    "LDAM": {**_method("ldam"), **LDAM_KEYS},
    "CB+Focal": {**_method("cb_focal"), "method.loss": Cite("focal", "kaidic/LDAM-DRW losses.py FocalLoss"),
                 "method.focal_gamma": Cite(1.0, f"{LDAM} FocalLoss(weight=per_cls_weights, gamma=1)"),
                 "method.focal_class_weight": Cite("inside", "kaidic/LDAM-DRW losses.py: focal of F.cross_entropy(weight=w)"),
                 "method.reweight.type": Cite("cb", CB_WEIGHTS), "method.reweight.beta": Cite(0.9999, CB_WEIGHTS),
                 "method.reweight.start_epoch": Cite(None, f"{LDAM} 'Reweight': from the first epoch"),
                 "method.reweight.start_fraction": Cite(0.0, f"{LDAM} 'Reweight': from the first epoch")},
    "DRS": {**_method("drs"), "method.resample.type": Cite("cb", "kaidic/LDAM-DRW utils.py ImbalancedDatasetSampler (effective number)"),
            "method.resample.beta": Cite(0.9999, "kaidic/LDAM-DRW utils.py ImbalancedDatasetSampler beta = 0.9999"),
            "method.resample.start_epoch": Cite(None, "deferred as DRW: given as a fraction"),
            "method.resample.start_fraction": Cite(0.8, "Cao et al. 2019 DRS deferred as DRW (epoch 160 of 200); BBN DRW_EPOCH 160")},
    "LDAM+DRW": {**_method("ldam_drw"), **LDAM_KEYS, **DRW_KEYS},
    "Ours": {**_method("twohead"), **TWO_HEAD},
    "OLTR": {**_method("oltr"), **OLTR_KEYS},
    "BBN": {**_method("bbn"), "method.alpha_epochs": Cite(None, "BBN lib/core/combiner.py div_epoch = MAX_EPOCH (200; "
                                                                 "100 (MAX_EPOCH // 100 + 1) only for 90 / 180): trainer.epochs"),
            "method.classifier_init": Cite("torch_default", "BBN lib/net/network.py _get_classifer: nn.Linear built outside "
                                                            "the backbone's apply(_weights_init)")},
    "Hybrid-SC": {**_method("hybrid_sc"), **HYBRID_SC_KEYS,
                  "method.psc_temperature": Cite(0.1, "loss sc: unused; conf/method/hybrid_sc.yaml default (restated "
                                                      "CIFAR-100 value; the experiment files pin each dataset's)")},
    "Ours-Full": {**_method("twohead_full"), **TWO_HEAD,
                  "method.mixup_alpha": Cite(1.0, "sec. 3.2 Mixup 'as used in MiSLAS': MiSLAS config/cifar100/*_stage1_mixup.yaml alpha 1.0"),
                  "method.reweight.type": Cite("cb", "sec. 3.2 'class re-weighting [11]' (Cui et al.)"),
                  "method.reweight.beta": Cite(0.9999, f"paper silent; {CB_WEIGHTS}"),
                  "method.reweight.start_epoch": Cite(None, f"paper silent; deferred as DRW ({DEFERRED})"),
                  "method.reweight.start_fraction": Cite(0.8, f"paper silent; deferred as DRW ({DEFERRED})")},
}
# rows whose printed number comes from Cao et al. (LDAM-DRW's code) or Cui et al. (their code): their protocol
LDAM_DRW_ROWS = ("LDAM", "LDAM+DRW")
CUI_ROWS = ("CE", "Focal", "CB+Focal")
BBN_ROWS = ("BBN",)  # th.t1: BBN's own CIFAR configs
HYBRID_SC_ROWS = ("Hybrid-SC",)  # th.t1: Hybrid-SC sec. 4.1 as restated
IMAGENET_MIXUP = Cite(0.2, "Zhang et al. 2018 ImageNet alpha 0.2; MiSLAS config/imagenet/imagenet_resnet50_stage1_mixup.yaml alpha 0.2")


def _rows(labels, sourced: bool) -> Dict[str, Keys]:
    """Method keys per row; with ``sourced``, the rows copied from Cui / Cao et al. also get their schedule."""
    def schedule(label: str) -> Keys:
        if not sourced:
            return {}
        if label in BBN_ROWS:
            return _schedule_bbn()
        if label in HYBRID_SC_ROWS:
            return _schedule_hybrid_sc()
        return _schedule_ldam_drw() if label in LDAM_DRW_ROWS else _schedule_cui() if label in CUI_ROWS else {}

    return {label: {**ROW_KEYS[label], **schedule(label)} for label in labels}


def _th1(sourced: bool) -> TableProtocol:
    labels = ("CE", "Focal", "Mixup", "CB", "LDAM", "Ours", "CB+Focal", "DRS", "LDAM+DRW", "BBN", "Hybrid-SC", "Ours-Full")
    cells = {**_hybrid_sc_cells("c10_", 1.0, "CIFAR-10"), **_hybrid_sc_cells("c100_", 0.1, "CIFAR-100")} if sourced else {}
    return TableProtocol(every_cell={**_common(), **_schedule_two_head()},
                         columns={**_cifar_columns("c10_", "cifar10_lt"), **_cifar_columns("c100_", "cifar100_lt")},
                         rows=_rows(labels, sourced), cells=cells)


def _th2() -> TableProtocol:
    labels = ("CE", "Focal", "Mixup", "LDAM", "Ours", "DRS", "LDAM+DRW", "BBN", "Ours-Full")
    return TableProtocol(every_cell={**_common(), **_schedule_two_head()}, columns=_tiny_columns(), rows=_rows(labels, False))


def _th3() -> TableProtocol:
    rows = _rows(("CE", "Focal", "Mixup", "LDAM", "OLTR", "Ours", "DRS", "LDAM+DRW", "Ours-Full"), False)
    rows["Mixup"]["method.mixup_alpha"] = IMAGENET_MIXUP
    rows["Ours-Full"]["method.mixup_alpha"] = Cite(0.2, f"sec. 3.2 'as used in MiSLAS': {IMAGENET_MIXUP.source}")
    return TableProtocol(every_cell={**_common(), **_imagenet_lt()}, rows=rows)


def _th4(sourced: bool) -> TableProtocol:
    ours = {**_method("twohead"), **TWO_HEAD}
    fbh_off = Cite(False, "Table 4 'CDH' row: FBH off")
    cdh_off = Cite(False, "Table 4 'FBH' row: CDH off (one cluster per class)")
    summed = Cite("sum", "the other reading of sec. 2.2's prediction (summed cluster probabilities), shown beside it")
    rows = {
        "none (CE)": _method("ce"),
        "FBH": {**ours, "method.cdh": cdh_off},
        "CDH": {**ours, "method.fbh": fbh_off},
        "FBH + CDH": ours,
        "CDH (sum prediction)": {**ours, "method.fbh": fbh_off, "method.cluster_to_class": summed},
        "FBH + CDH (sum prediction)": {**ours, "method.cluster_to_class": summed},
    }
    cells = {("none (CE)", f"c100_{r}"): _schedule_cui() for r in (100, 50, 10)} if sourced else {}
    return TableProtocol(every_cell={**_common(), **_schedule_two_head()},
                         columns={**_cifar_columns("c100_", "cifar100_lt"), **_tiny_columns()}, rows=rows, cells=cells)


def _th5() -> TableProtocol:
    columns = {
        b: {"dataset.name": Cite("cifar100_lt", "two-head Table 5 'CIFAR-100'"),
            "dataset.imbalance_ratio": Cite(100, "two-head Table 5 'Imbalance ratio is 100'"),
            "backbone.name": Cite(b, "two-head Table 5 column"),
            "backbone.head_init": Cite("kaiming_normal" if b == "resnet110" else None,
                                       "kaidic/LDAM-DRW models/resnet_cifar.py _weights_init (CIFAR ResNets only)")}
        for b in ("resnet110", "vgg16", "mobilenetv2")
    }
    return TableProtocol(every_cell={**_common(), **_schedule_two_head()}, columns=columns,
                         rows=_rows(("CE", "Mixup", "DRS", "LDAM+DRW", "Ours-Full"), False))


def _fig_c100() -> Keys:
    return {**_common(), **_schedule_two_head(), **_cifar_columns("c100_", "cifar100_lt")["c100_100"]}


def _fig3() -> TableProtocol:
    return TableProtocol(every_cell=_fig_c100(), rows={"CE": _method("ce"), "Ours": {**_method("twohead"), **TWO_HEAD}})


def _fig4() -> TableProtocol:
    ours = {**_method("twohead"), **TWO_HEAD}
    summed = Cite("sum", "Fig. 4 drawn with both readings of sec. 2.2's prediction")
    rows: Dict[str, Keys] = {}
    for tag, mode in (("", None), (" (sum prediction)", summed)):
        extra = {"method.cluster_to_class": mode} if mode else {}
        for u in (2, 5, 10, 15, 20):
            rows[f"u={u}{tag}"] = {**ours, **extra, "method.fbh": Cite(False, "Fig. 4 left: 'the class-division head itself'"),
                                   "method.u": Cite(u, "Fig. 4 left: u in [5, 20] and around")}
        for s in ("random", "kmeans", "hierarchical"):
            rows[f"clustering={s}{tag}"] = {**ours, **extra, "method.clustering": Cite(s, "Fig. 4 right: 'Random splitting, K-means, Hierarchical'")}
    return TableProtocol(every_cell=_fig_c100(), rows=rows)


# -- two-stage rows: MiSLAS (Zhong et al. 2021) and decoupling's LWS (Kang et al. 2020) ---------------------------
MS = "dvlab-research/MiSLAS"
MS1 = f"{MS} config/cifar100/cifar100_imb001_stage1_mixup.yaml (the same for cifar10 and every imb_factor)"
MS_IMB = {100: "001", 50: "002", 10: "01"}
# (dataset, ratio): smooth_head, smooth_tail, shift_bn, lr_factor of MiSLAS config/<d>/<d>_imb<f>_stage2_mislas.yaml
MS_STAGE2 = {("cifar10", 100): (0.3, 0.0, False, 0.5), ("cifar10", 50): (0.2, 0.0, False, 0.2), ("cifar10", 10): (0.1, 0.0, False, 0.2),
             ("cifar100", 100): (0.4, 0.1, True, 0.2), ("cifar100", 50): (0.3, 0.0, True, 0.1), ("cifar100", 10): (0.2, 0.0, True, 0.1)}


def _mislas_stage1_cifar() -> Keys:
    return {
        "method.name": Cite("mixup", "MiSLAS sec. 3.1: stage 1 trained with mixup"),
        "method.mixup_alpha": Cite(1.0, f"{MS1} alpha 1.0"),
        "trainer.epochs": Cite(200, f"{MS1} num_epochs 200"),
        "trainer.batch_size": Cite(128, f"{MS1} batch_size 128"),
        "trainer.optimizer.name": Cite("sgd", f"{MS} train_stage1.py torch.optim.SGD"),
        "trainer.optimizer.lr": Cite(0.1, f"{MS1} lr 0.1"),
        "trainer.optimizer.momentum": Cite(0.9, f"{MS1} momentum 0.9"),
        "trainer.optimizer.nesterov": Cite(False, "dvlab-research/MiSLAS train_stage1.py:228 torch.optim.SGD without nesterov"),
        "trainer.optimizer.weight_decay": Cite(2e-4, f"{MS1} weight_decay 2e-4"),
        "trainer.lr_schedule.name": Cite("multistep", f"{MS1} cos False: train_stage1.py adjust_learning_rate step branch"),
        "trainer.lr_schedule.milestones": Cite([160, 180], f"{MS} train_stage1.py: epoch + 1 > 160 -> x0.1, > 180 -> x0.01"),
        "trainer.lr_schedule.gamma": Cite(0.1, f"{MS} train_stage1.py: lr x0.1 then x0.01"),
        "trainer.lr_schedule.warmup_epochs": Cite(5, f"{MS} train_stage1.py: epoch + 1 <= 5 -> lr * (epoch + 1) / 5"),
        "trainer.lr_schedule.warmup_start_factor": Cite(0.0, f"{MS} train_stage1.py: (epoch + 1) / 5 from 0.2"),
        "trainer.lr_schedule.granularity": Cite("epoch", f"{MS} train_stage1.py: adjust_learning_rate once per epoch"),
    }


def _mislas_stage2(src: str, head: float, tail: float, shift: bool, factor: float, batch: int = 128, wd: float = 2e-4) -> Keys:
    cfg = f"{MS} {src}"
    return {
        "method.name": Cite("mislas", "MiSLAS stage 2 (the row's method)"),
        "method.eps_head": Cite(head, f"{cfg} smooth_head {head}"),
        "method.eps_tail": Cite(tail, f"{cfg} smooth_tail {tail}"),
        "method.shape": Cite("concave", f"{MS} methods.py LabelAwareSmoothing shape='concave' (train_stage2.py passes none)"),
        "method.power": Cite(None, "shape concave: no power"),
        "method.spread": Cite("all", f"{MS} methods.py: eps * mean_k(-log p_k); the paper's eps/(K-1) differs ({CHOICE})"),
        "method.shift_bn": Cite(shift, f"{cfg} shift_bn {shift}"),
        "method.classifier_lr": Cite(round(0.1 * factor, 6), f"{cfg} lr_factor {factor} x lr 0.1 (train_stage2.py group 0)"),
        "method.samples_per_class": Cite(4, f"{MS} datasets/sampler.py ClassAwareSampler(num_samples_cls=4)"),
        "trainer.epochs": Cite(10, f"{cfg} num_epochs 10"),
        "trainer.batch_size": Cite(batch, f"{cfg} batch_size {batch}"),
        "trainer.optimizer.name": Cite("sgd", f"{MS} train_stage2.py torch.optim.SGD"),
        "trainer.optimizer.lr": Cite(0.1, f"{cfg} lr 0.1"),
        "trainer.optimizer.momentum": Cite(0.9, f"{cfg} momentum 0.9"),
        "trainer.optimizer.nesterov": Cite(False, "dvlab-research/MiSLAS train_stage2.py:241 torch.optim.SGD without nesterov"),
        "trainer.optimizer.weight_decay": Cite(wd, f"{cfg} weight_decay {wd}"),
        "trainer.lr_schedule.name": Cite("cosine", f"{MS} train_stage2.py adjust_learning_rate: cosine over num_epochs"),
        "trainer.lr_schedule.min_lr_factor": Cite(0.0, f"{MS} train_stage2.py lr_min 0"),
        "trainer.lr_schedule.granularity": Cite("epoch", f"{MS} train_stage2.py: once per epoch, cos(pi epoch / num_epochs)"),
        "trainer.lr_schedule.warmup_epochs": Cite(0, f"{MS} train_stage2.py: no warm-up"),
        "trainer.lr_schedule.milestones": Cite([], "cosine: no milestones"),
    }


def _mislas_cifar_cells(prefix: str, dataset: str, ratios=(100, 50, 10), column=None) -> Dict[Tuple[str, str], Keys]:
    out = {}
    for r in ratios:
        head, tail, shift, factor = MS_STAGE2[(dataset, r)]
        out[("MiSLAS", column or f"{prefix}{r}")] = _mislas_stage2(f"config/{dataset}/{dataset}_imb{MS_IMB[r]}_stage2_mislas.yaml",
                                                                   head, tail, shift, factor)
    return out


MS_IMAGENET = "config/imagenet/imagenet_resnet50_stage2_mislas.yaml"
MS_IMAGENET1 = f"{MS} config/imagenet/imagenet_resnet50_stage1_mixup.yaml"
MISLAS_RESNET50 = Cite("resnet50", f"{MS_IMAGENET1} backbone resnet50_fe (th.t3's MiSLAS number is untraced; {CHOICE})")
MISLAS_IMAGENET_STAGE1: Keys = {
    "method.name": Cite("mixup", "MiSLAS sec. 3.1: stage 1 trained with mixup"),
    "method.mixup_alpha": Cite(0.2, f"{MS_IMAGENET1} alpha 0.2"),
    "backbone.name": MISLAS_RESNET50,
    "trainer.epochs": Cite(180, f"{MS_IMAGENET1} num_epochs 180"),
    "trainer.batch_size": Cite(256, f"{MS_IMAGENET1} batch_size 256"),
    "trainer.optimizer.lr": Cite(0.1, f"{MS_IMAGENET1} lr 0.1"),
    "trainer.optimizer.momentum": Cite(0.9, f"{MS_IMAGENET1} momentum 0.9"),
    "trainer.optimizer.weight_decay": Cite(5e-4, f"{MS_IMAGENET1} weight_decay 5e-4"),
    "trainer.lr_schedule.name": Cite("cosine", f"{MS_IMAGENET1} cos True"),
    "trainer.lr_schedule.min_lr_factor": Cite(0.0, f"{MS} train_stage1.py lr_min 0"),
    "trainer.lr_schedule.granularity": Cite("epoch", f"{MS} train_stage1.py adjust_learning_rate once per epoch"),
    "trainer.lr_schedule.warmup_epochs": Cite(0, f"{MS} train_stage1.py: the cos branch has no warm-up"),
}
KANG_LWS = "facebookresearch/classifier-balancing config/ImageNet_LT/cls_lws.yaml"
LWS_STAGE2: Keys = {
    "method.name": Cite("lws", "Kang et al. sec. 4.1 LWS (the row's method)"),
    "method.samples_per_class": Cite(4, f"{KANG_LWS} sampler ClassAwareSampler num_samples_cls 4"),
    "method.backbone_bn": Cite("train", f"classifier-balancing run_networks.py train(): model.train() on every network ({CHOICE})"),
    "trainer.epochs": Cite(5, f"{KANG_LWS} num_epochs 5"),
    "trainer.batch_size": Cite(512, f"{KANG_LWS} batch_size 512"),
    "trainer.optimizer.lr": Cite(0.2, f"{KANG_LWS} optim_params lr 0.2"),
    "trainer.optimizer.momentum": Cite(0.9, f"{KANG_LWS} momentum 0.9"),
    "trainer.optimizer.weight_decay": Cite(5e-4, f"{KANG_LWS} weight_decay 0.0005"),
    "trainer.lr_schedule.name": Cite("cosine", f"{KANG_LWS} coslr true"),
    "trainer.lr_schedule.min_lr_factor": Cite(0.0, f"{KANG_LWS} endlr 0.0"),
    "trainer.lr_schedule.granularity": Cite("epoch", "classifier-balancing run_networks.py: CosineAnnealingLR stepped once per epoch"),
    "trainer.lr_schedule.warmup_epochs": Cite(0, "classifier-balancing run_networks.py: no warm-up"),
}
METHOD_KEYS.update({
    "mislas": ("method.eps_head", "method.eps_tail", "method.shape", "method.power", "method.spread", "method.shift_bn",
               "method.classifier_lr", "method.samples_per_class"),
    "lws": ("method.samples_per_class", "method.backbone_bn"),
    "crt": ("method.samples_per_class", "method.backbone_bn"),
    "tau_norm": ("method.tau",),
})


def _with_mislas_t1(spec: TableProtocol) -> TableProtocol:
    cells = {**spec.cells, **_mislas_cifar_cells("c10_", "cifar10"), **_mislas_cifar_cells("c100_", "cifar100")}
    return replace(spec, cells=cells, stage1={"MiSLAS": _mislas_stage1_cifar()})


def _with_mislas_t2(spec: TableProtocol) -> TableProtocol:
    cells = {("MiSLAS", f"tiny_{r}"): _mislas_stage2(f"config/cifar100/cifar100_imb{MS_IMB[r]}_stage2_mislas.yaml "
                                                      f"(no Tiny-ImageNet config: {CHOICE})", *MS_STAGE2[("cifar100", r)])
             for r in (100, 50, 10)}
    return replace(spec, cells={**spec.cells, **cells}, stage1={"MiSLAS": ROW_KEYS["Mixup"]})  # the two-head protocol's Mixup


def _with_two_stage_t3(spec: TableProtocol) -> TableProtocol:
    rows = {**spec.rows, "LWS": LWS_STAGE2,
            "MiSLAS": {**_mislas_stage2(MS_IMAGENET, 0.3, 0.0, True, 0.05, batch=256, wd=5e-4), "backbone.name": MISLAS_RESNET50}}
    rows["MiSLAS"].pop("trainer.lr_schedule.milestones")
    return replace(spec, rows=rows, stage1={"LWS": _method("ce"), "MiSLAS": MISLAS_IMAGENET_STAGE1})


def _with_mislas_t5(spec: TableProtocol) -> TableProtocol:
    cells = {k: v for b in ("resnet110", "vgg16", "mobilenetv2") for k, v in _mislas_cifar_cells("", "cifar100", (100,), b).items()}
    return replace(spec, cells={**spec.cells, **cells}, stage1={"MiSLAS": _mislas_stage1_cifar()})


PROTOCOLS = {
    "th.t1": _with_mislas_t1(_th1(sourced=True)),
    "th.t2": _with_mislas_t2(_th2()),
    "th.t3": _with_two_stage_t3(_th3()),
    "th.t4": _th4(sourced=True),
    "th.t5": _with_mislas_t5(_th5()),
    "th.fig3": _fig3(),
    "th.fig4": _fig4(),
    # scripts/reproduce_tables.py --protocol own: every row under the two-head protocol (tables.under_protocol)
    "th.t1-own": _with_mislas_t1(_th1(sourced=False)),  # two-stage rows keep their sources' protocols under own
    "th.t4-own": _th4(sourced=False),
}
