"""The data-parameters paper's protocols (seed 003, Saxena et al., NeurIPS 2019), per table (see protocols.py).

Written by hand from the paper and the authors' code (apple/ml-data-parameters: main_cifar.py, main_imagenet.py,
utils.py, models/wide_resnet.py, README.md); never read back from conf/. Baseline (method=ce) rows run under the
same protocol as the data-parameter rows of their table: the paper trains its baselines identically (DP sec. 3.2
"We first reproduce the results for WideResNet by setting the minibatch size, optimizer and learning rate schedule
identical to the original paper"; the authors' README: the same script without the data-parameter flags "can be
used to obtain baseline performance"). CHOICE marks a value the paper and the authors' code leave open.
"""
from protocols import Cite, TableProtocol

# -- sources ----------------------------------------------------------------------------------------
AUTH = "apple/ml-data-parameters"
WRN = "DP sec. 3.2 -> [38] WRN paper (Zagoruyko & Komodakis 2016) sec. 3"
IMNET = "DP sec. 3.2"
IMNET_CODE = f"{AUTH} main_imagenet.py defaults (= pytorch/examples imagenet, DP sec. 3.2 footnote 2)"
CIFAR_CODE = f"{AUTH} main_cifar.py defaults (the README's noisy CIFAR-100 runs)"
README_NOISY = f"{AUTH} README.md noisy CIFAR-100 command (--init_inst_param 1.0 --lr_inst_param 0.2 --wd_inst_param 0.0)"
CLAMP = f"{AUTH} main_*.py config clamp_*_sigma = [log 1/20, log 20], utils.clamp_data_parameters after every step"
FROM_SCRATCH = f"DP sec. 3.2 / 3.4 (trained from scratch; {AUTH} builds every model without pretrained weights)"
ZHANG = "CHOICE: DP sec. 3.5 replicates Zhang et al. 2017's random-label setup without numbers"


def keys(**values):
    """``a__b=Cite`` -> {"a.b": Cite} (Python names cannot hold dots)."""
    return {name.replace("__", "."): cite for name, cite in values.items()}


# -- trainer / dataset protocols --------------------------------------------------------------------
def wrn_cifar100():
    """DP Table 1, CIFAR-100 / WRN-28-10: the WRN paper's own protocol."""
    return keys(
        dataset__name=Cite("cifar100", "DP sec. 3.2"),
        dataset__imbalance_ratio=Cite(None, "DP sec. 3.2 (the full balanced CIFAR-100)"),
        dataset__noise__rate=Cite(0.0, "DP sec. 3.2 (clean labels)"),
        backbone__name=Cite("wrn28_10", "DP sec. 3.2 WideResNet depth 28, widening factor 10"),
        backbone__dropout=Cite(0.0, "DP sec. 3.2 'dropout:0'"),
        backbone__pretrained=Cite(None, FROM_SCRATCH),
        trainer__epochs=Cite(200, WRN),
        trainer__batch_size=Cite(128, WRN),
        trainer__optimizer__name=Cite("sgd", WRN),
        trainer__optimizer__lr=Cite(0.1, WRN),
        trainer__optimizer__momentum=Cite(0.9, WRN),
        trainer__optimizer__nesterov=Cite(True, WRN + " (Nesterov momentum)"),
        trainer__optimizer__weight_decay=Cite(5e-4, WRN),
        trainer__lr_schedule__name=Cite("multistep", WRN),
        trainer__lr_schedule__milestones=Cite([60, 120, 160], WRN),
        trainer__lr_schedule__gamma=Cite(0.2, WRN),
        trainer__lr_schedule__warmup_epochs=Cite(0, WRN + " (no warm-up)"),
    )


def resnet18_imagenet(dataset: str):
    """DP Table 1, ImageNet (and WebVision: "the same hyper-parameters as we have used for ImageNet", sec. 3.4)."""
    where = "DP sec. 3.2" if dataset == "imagenet" else "DP sec. 3.4 (WebVision: the ImageNet hyper-parameters, sec. 3.2)"
    return keys(
        dataset__name=Cite(dataset, where),
        dataset__imbalance_ratio=Cite(None, f"{where} (the full training set)"),
        dataset__noise__rate=Cite(0.0, f"{where} (no synthetic noise)"),
        backbone__name=Cite("resnet18", f"{where} ResNet18"),
        backbone__pretrained=Cite(None, FROM_SCRATCH),
        trainer__epochs=Cite(100, f"{where}: 'a total of 100 epochs'"),
        trainer__batch_size=Cite(256, IMNET_CODE + " -b 256 (the paper is silent)"),
        trainer__optimizer__name=Cite("sgd", IMNET_CODE),
        trainer__optimizer__lr=Cite(0.1, IMNET_CODE),
        trainer__optimizer__momentum=Cite(0.9, IMNET_CODE),
        trainer__optimizer__weight_decay=Cite(1e-4, f"{where}: weight decay 1e-4 of the model parameters; {IMNET_CODE}"),
        trainer__lr_schedule__name=Cite("multistep", f"{where}: decay 0.1 every 30 epochs"),
        trainer__lr_schedule__milestones=Cite([30, 60, 90], f"{where}: 'at 30, 60, and 90 epochs'"),
        trainer__lr_schedule__gamma=Cite(0.1, f"{where}: 'learning rate decay of 0.1'"),
        trainer__lr_schedule__warmup_epochs=Cite(0, IMNET_CODE + " (no warm-up)"),
        dataset__decode=Cite("standard", "apple/ml-data-parameters main_imagenet.py: transforms of each decoded image"),
        dataset__image_size=Cite(224, "main_imagenet.py lines 112, 126: RandomResizedCrop(224), CenterCrop(224)"),
        dataset__eval_crop_fraction=Cite(0.875, "main_imagenet.py lines 125-126: Resize(256) + CenterCrop(224)"),
        dataset__augment__flip=Cite(True, "main_imagenet.py line 113: RandomHorizontalFlip()"),
        dataset__augment__color_jitter=Cite(None, "main_imagenet.py: no colour jitter"),
    )


def noisy_wrn(dataset: str, rate: float):
    """DP Table 2 / supplementary / Fig. 4: WRN-28-10 under uniform noise, the authors' main_cifar.py protocol."""
    return keys(
        dataset__name=Cite(dataset, "DP sec. 3.4 / Table 2"),
        dataset__imbalance_ratio=Cite(None, "DP sec. 3.4 (the full training set)"),
        dataset__noise__rate=Cite(rate, "DP sec. 3.4 (p = 0.2, 0.4, 0.8; Table 2: 40%)"),
        dataset__noise__mode=Cite("uniform", "DP sec. 3.4 'independently changed to a uniform random class with probability p'"),
        dataset__noise__seed=Cite(None, f"{AUTH} main_cifar.py set_seed(args.seed) before cifar_dataset.py draws: a new draw per run"),
        dataset__std=Cite([0.2023, 0.1994, 0.2010], f"{AUTH} main_cifar.py transforms.Normalize"),
        backbone__name=Cite("wrn28_10", "DP sec. 3.4 WideResNet-28-10"),
        backbone__dropout=Cite(0.0, f"{AUTH} models/wide_resnet.py WideResNet28_10 (dropout asserted 0)"),
        backbone__pretrained=Cite(None, FROM_SCRATCH),
        trainer__epochs=Cite(120, CIFAR_CODE + " --epochs 120"),
        trainer__batch_size=Cite(128, CIFAR_CODE + " -b 128"),
        trainer__eval_epochs=Cite([84], "DP sec. 3.4 'accuracy is reported at 84 epochs'"),
        trainer__optimizer__name=Cite("sgd", CIFAR_CODE + " torch.optim.SGD"),
        trainer__optimizer__lr=Cite(0.1, CIFAR_CODE + " --lr 0.1"),
        trainer__optimizer__momentum=Cite(0.9, CIFAR_CODE + " --momentum 0.9"),
        trainer__optimizer__nesterov=Cite(False, CIFAR_CODE + " (SGD without Nesterov)"),
        trainer__optimizer__weight_decay=Cite(5e-4, CIFAR_CODE + " --wd 5e-4"),
        trainer__lr_schedule__name=Cite("multistep", CIFAR_CODE + " learning_rate_schedule"),
        trainer__lr_schedule__milestones=Cite([80, 100], CIFAR_CODE + " learning_rate_schedule [80, 100, 160] (160 > 120 epochs)"),
        trainer__lr_schedule__gamma=Cite(0.1, CIFAR_CODE + " adjust_learning_rate gamma=0.1"),
        trainer__lr_schedule__warmup_epochs=Cite(0, CIFAR_CODE + " (no warm-up)"),
    )


def random_labels_vgg16():
    """DP sec. 3.5 figure: CIFAR-100, every label random, VGG-16 (the paper gives no trainer numbers)."""
    return keys(
        dataset__name=Cite("cifar100", "DP sec. 3.5 'using VGG16 (baseline) on CIFAR100'"),
        dataset__imbalance_ratio=Cite(None, "DP sec. 3.5 (the full training set)"),
        dataset__noise__rate=Cite(1.0, "DP sec. 3.5 'all random labels'"),
        dataset__noise__mode=Cite("uniform", "DP sec. 3.5 / Zhang et al. 2017: labels drawn uniformly at random"),
        dataset__noise__seed=Cite(None, "a new random labelling per run (as the noise of DP sec. 3.4 in the authors' code)"),
        dataset__augment__crop=Cite("none", ZHANG + " (no augmentation)"),
        backbone__name=Cite("vgg16", "DP sec. 3.5 VGG16"),
        backbone__pretrained=Cite(None, FROM_SCRATCH),
        trainer__epochs=Cite(150, ZHANG + " (150 epochs, long enough to memorise)"),
        trainer__batch_size=Cite(128, ZHANG + " (main_cifar.py's batch 128)"),
        trainer__optimizer__name=Cite("sgd", ZHANG + " (SGD)"),
        trainer__optimizer__lr=Cite(0.01, ZHANG + " (lr 0.01)"),
        trainer__optimizer__momentum=Cite(0.9, ZHANG + " (momentum 0.9)"),
        trainer__optimizer__weight_decay=Cite(5e-4, "CHOICE: DP sec. 3.1's CIFAR model weight decay 5e-4"),
        trainer__lr_schedule__name=Cite("step", ZHANG + " (decay x0.95 per epoch)"),
        trainer__lr_schedule__step_size=Cite(1, ZHANG + " (every epoch)"),
        trainer__lr_schedule__gamma=Cite(0.95, ZHANG + " (x0.95)"),
        trainer__lr_schedule__warmup_epochs=Cite(0, ZHANG + " (no warm-up)"),
    )


TV_SSD = "pytorch/vision references/detection/README.md SSD300 VGG16 command (torchvision's ssd300_vgg16 recipe)"
TV_TRAIN = "pytorch/vision references/detection/train.py"
SSD = "Liu et al. 2016 (SSD, DP sec. 3.3 ref. [24]) sec. 3"
SSD_AUG = "Liu et al. 2016 sec. 2.2 'Data augmentation'"
TV_PRESET = "pytorch/vision references/detection/presets.py DetectionPresetTrain('ssd')"
TV_T = "pytorch/vision references/detection/transforms.py"
NO_DETECTOR_PROTOCOL = "DP sec. 3.3 gives no detector protocol ('we have not tuned hyperparameters on this dataset')"


def ssd_kitti():
    """dp.fig2 / dp.fig3, KITTI car detection with SSD300: the paper fixes the data and the method only, the detector
    trains as torchvision's reference recipe for ssd300_vgg16 (itself SSD's, Liu et al. sec. 3)."""
    return keys(
        dataset__name=Cite("kitti", "DP sec. 3.3 'challenging KITTI dataset [9] for the task of 2D detection'"),
        dataset__classes=Cite(["Car"], "DP sec. 3.3 'detecting car instances'"),
        dataset__imbalance_ratio=Cite(None, "DP sec. 3.3 (3DOP's train split as it is)"),
        dataset__noise__rate=Cite(0.0, "DP sec. 3.3 (KITTI's labels)"),
        dataset__image_size=Cite(300, "DP sec. 3.3 SSDNet [24] -> SSD300 (Liu et al. sec. 3: 300 x 300 input)"),
        dataset__ap_points=Cite(11, "CHOICE: KITTI's devkit computed 11-point AP until 8 Oct 2019; the paper was "
                                    "submitted to NeurIPS in May 2019"),
        dataset__augment__crop=Cite("none", "geometric: ssd crops (with the boxes)"),
        dataset__augment__flip=Cite(False, "geometric: ssd flips (with the boxes)"),
        dataset__augment__geometric=Cite("ssd", f"{TV_SSD} --data-augmentation ssd: {TV_PRESET} RandomZoomOut, "
                                                f"RandomIoUCrop, RandomHorizontalFlip; {SSD_AUG}"),
        dataset__augment__photometric=Cite("ssd", f"{TV_PRESET} RandomPhotometricDistort; {SSD_AUG}"),
        dataset__augment__ssd__p=Cite(0.5, f"{TV_T} RandomPhotometricDistort p=0.5"),
        dataset__augment__ssd__brightness=Cite([0.875, 1.125], f"{TV_T} RandomPhotometricDistort brightness"),
        dataset__augment__ssd__contrast=Cite([0.5, 1.5], f"{TV_T} RandomPhotometricDistort contrast"),
        dataset__augment__ssd__saturation=Cite([0.5, 1.5], f"{TV_T} RandomPhotometricDistort saturation"),
        dataset__augment__ssd__hue=Cite([-0.05, 0.05], f"{TV_T} RandomPhotometricDistort hue"),
        dataset__augment__ssd__zoom_out_p=Cite(0.5, f"{TV_T} RandomZoomOut p=0.5"),
        dataset__augment__ssd__zoom_out_side=Cite([1.0, 4.0], f"{TV_T} RandomZoomOut side_range; Liu et al. sec. 3.6 "
                                                              "'a canvas of 16x of the original image size'"),
        dataset__augment__ssd__crop_min_ious=Cite([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0],
                                                  f"{TV_T} RandomIoUCrop sampler_options; {SSD_AUG}"),
        dataset__augment__ssd__crop_scale=Cite([0.3, 1.0], f"{TV_T} RandomIoUCrop min_scale, max_scale"),
        dataset__augment__ssd__crop_aspect=Cite([0.5, 2.0], f"{TV_T} RandomIoUCrop aspect ratios; {SSD_AUG} "
                                                            "'between 1/2 and 2'"),
        dataset__augment__ssd__crop_trials=Cite(40, f"{TV_T} RandomIoUCrop trials=40"),
        dataset__augment__ssd__flip_p=Cite(0.5, f"{TV_PRESET} hflip_prob=0.5; {SSD_AUG} 'probability of 0.5'"),
        backbone__name=Cite("ssd_vgg16", f"{SSD}: VGG-16 base (Fig. 2)"),
        backbone__width=Cite(1.0, f"{SSD}: VGG-16 as it is"),
        backbone__pretrained=Cite("imagenet", f"{SSD} 'VGG16 pre-trained on the ILSVRC CLS-LOC dataset'"),
        backbone__trainable_layers=Cite(4, "torchvision ssd300_vgg16 trainable_backbone_layers default with weights"),
        trainer__epochs=Cite(120, f"{NO_DETECTOR_PROTOCOL}; {TV_SSD} --epochs 120"),
        trainer__batch_size=Cite(32, f"{TV_SSD} --batch-size 4 x 8 GPUs; {SSD} batch 32"),
        trainer__optimizer__name=Cite("sgd", f"{TV_TRAIN} torch.optim.SGD"),
        trainer__optimizer__lr=Cite(0.002, f"{TV_SSD} --lr 0.002"),
        trainer__optimizer__momentum=Cite(0.9, f"{TV_TRAIN} --momentum 0.9; {SSD}"),
        trainer__optimizer__weight_decay=Cite(5e-4, f"{TV_SSD} --weight-decay 0.0005; {SSD}"),
        trainer__lr_schedule__name=Cite("multistep", f"{TV_SSD} --lr-steps"),
        trainer__lr_schedule__milestones=Cite([80, 110], f"{TV_SSD} --lr-steps 80 110"),
        trainer__lr_schedule__gamma=Cite(0.1, f"{TV_TRAIN} --lr-gamma 0.1"),
        trainer__lr_schedule__warmup_epochs=Cite(1, f"{TV_TRAIN} warm-up over epoch 0 (min(1000, len(loader) - 1) "
                                                    "iterations: all of a KITTI epoch)"),
        trainer__lr_schedule__warmup_start_factor=Cite(0.001, f"{TV_TRAIN} warmup_factor 1.0 / 1000"),
        trainer__lr_schedule__granularity=Cite("step", f"{TV_TRAIN} LinearLR warm-up stepped every iteration"),
    )


# -- method protocols (METHOD_KEYS of every data_params cell) ---------------------------------------


REN = "Ren et al. 2018 ([26]), CIFAR noisy-label experiments"
REN_CODE = "uber-research/learning-to-reweight-examples cifar/configs/cifar-wide-resnet-28-10.prototxt"


def ren_wrn():
    """DP Table 2's rows copied from [26] (Ren et al. 2018 Table 2): their WRN-28-10 protocol, over the column's
    dataset / noise / augmentation (conf/experiment/ren_noisy_*_wrn.yaml)."""
    return keys(
        backbone__dropout=Cite(0.3, REN_CODE + " dropout 0.3"),
        trainer__epochs=Cite(120, f"{REN_CODE} max_train_iter 60000 x batch 100 / 50,000 images (DP sec. 3.4: 'settings "
                                  "identical to ones reported in [26]')"),
        trainer__batch_size=Cite(100, f"{REN} 'mini-batch size 100'; {REN_CODE} batch_size 100"),
        trainer__optimizer__name=Cite("sgd", f"{REN} 'SGD with momentum'"),
        trainer__optimizer__lr=Cite(0.1, f"{REN} 'initial learning rate 0.1'"),
        trainer__optimizer__momentum=Cite(0.9, f"{REN} 'a momentum 0.9'"),
        trainer__optimizer__nesterov=Cite(False, REN_CODE + " type momentum (tf MomentumOptimizer, no Nesterov)"),
        trainer__optimizer__weight_decay=Cite(2e-4, REN_CODE + " weight_decay 2e-4"),
        trainer__lr_schedule__name=Cite("multistep", REN_CODE + " learn_rate_decay_steps"),
        trainer__lr_schedule__milestones=Cite([80, 100], REN_CODE + " decay steps 40000, 50000 of 500 steps per epoch"),
        trainer__lr_schedule__gamma=Cite(0.1, REN_CODE + " learn_rate_list 1e-2, 1e-3 after 1e-1"),
        trainer__lr_schedule__warmup_epochs=Cite(0, REN_CODE + " (no warm-up)"),
    )


MENTORNET = "google/mentornet"
MENTORNET_CMD = f"{MENTORNET} commands/train_studentnet_resnet.sh (40% noise, CIFAR-10 and CIFAR-100)"
NO_HOLDOUT = keys(dataset__clean_holdout__size=Cite(0, "no additional clean data (DP Table 2 'Clean data: No')"))
CLEAN_HOLDOUT = keys(dataset__clean_holdout__size=Cite(1000, f"{REN} 'For UNIFORMFLIP, we use 1,000 clean images'"),
                     dataset__clean_holdout__seed=Cite(0, "Ren et al.'s split: cifar_train.py --seed default 0 "
                                                       "(generate_noisy_cifar_data._split)"))
REED_HARD = keys(
    method__name=Cite("reed_hard", "DP Table 2 'Reed Hard [26]'"),
    method__beta=Cite(0.8, "Reed et al. 2015 sec. 4 'beta = 0.8' for hard bootstrapping (CHOICE: Ren et al. do not "
                           "state the beta they ran)"),
)
S_MODEL = keys(
    method__name=Cite("s_model", "DP Table 2 'S Model [26]' (Goldberger & Ben-Reuven 2017)"),
    method__warmup_epochs=Cite(20, "CHOICE: G&BR train the base network first; no CIFAR length given"),
    method__init_keep=Cite(0.9, "CHOICE: the channel starts near the identity (refitted in the warm-up)"),
    method__channel_weight_decay=Cite(0.0, "CHOICE: no decay on the channel"),
)
L2RW = keys(
    method__name=Cite("l2rw", "DP Table 2 'Robust Weighting [26]' (Ren et al. Algorithm 1)"),
    method__clean_batch_size=Cite(100, "uber-research/learning-to-reweight-examples cifar_train.py --bsize_b 100"),
)
MENTORNET_PD = keys(
    method__name=Cite("mentornet_pd", "DP Table 2 'MentorNet PD [17]'"),
    method__loss_percentile=Cite(0.75, MENTORNET_CMD + " mentornet_pd --loss_p_precentile=0.75"),
    method__moving_average_decay=Cite(0.5, f"{MENTORNET} cifar_train_mentornet.py --loss_moving_average_decay 0.5"),
    method__gamma=Cite(1.0, f"{MENTORNET} mentor model mentornet_pd1_g_1 (vstar_spcl_linear gamma 1)"),
    method__burn_in_percent=Cite(18, f"{MENTORNET} training_mentornet/models.py vstar_mentornet_pd (epoch <= 18)"),
    method__switch_percent=Cite(90, f"{MENTORNET} training_mentornet/models.py vstar_mentornet_pd (epoch >= 90)"),
    method__example_dropout_rates=Cite([0.5, 17, 0.05, 83], MENTORNET_CMD + ' --example_dropout_rates="0.5,17,0.05,83"'),
)
MENTORNET_DD = keys(
    method__name=Cite("mentornet_dd", "DP Table 2 'MentorNet DD [17]' (additional clean data)"),
    method__loss_percentile=Cite(0.6, MENTORNET_CMD + " mentornet_dd1 --loss_p_precentile=0.6"),
    method__moving_average_decay=Cite(0.5, f"{MENTORNET} cifar_train_mentornet.py --loss_moving_average_decay 0.5"),
    method__burn_in_percent=Cite(18, MENTORNET_CMD + " mentornet_dd1 --burn_in_epoch=18 --fixed_epoch_after_burn_in"),
    method__example_dropout_rates=Cite([0.5, 17, 0.05, 78, 0.9, 5],
                                       MENTORNET_CMD + ' mentornet_dd1 --example_dropout_rates="0.5,17,0.05,78,0.9,5"'),
    method__mentor_noise_rate=Cite(0.2, f"{MENTORNET} mentor nl_0.2_percentile_90 (training_mentornet_command.sh: "
                                        "student dump nl_0.2_datapara_0.75_7k.csv)"),
    method__mentor_percentile=Cite(0.9, f"{MENTORNET} mentor nl_0.2_percentile_90 (data_generator.py percentile 90)"),
    method__mentor_steps=Cite(30000, f"{MENTORNET} training_mentornet_command.sh --max_step_train=3e4"),
    method__mentor_lr=Cite(0.1, f"{MENTORNET} training_mentornet_command.sh --learning_rate=0.1"),
    method__mentor_batch_size=Cite(32, f"{MENTORNET} training_mentornet/train.py --mini_batch_size default 32"),
    method__mentor_max_grad_norm=Cite(5.0, f"{MENTORNET} training_mentornet/train.py create_train_op max_grad_norm=5"),
    method__mentor_data=Cite("trained_student", f"{MENTORNET} TRAINING.md 'Dump the StudentNet feature' (sample, epoch, "
                                                "noisy label, clean label, loss) of a student on the small corrupted "
                                                "set (CHOICE where silent: the dumping script is not in the repo)"),
    method__student_data=Cite("training_set", f"{MENTORNET} TRAINING.md's dump: sample ids up to 47108 (CIFAR-10's "
                                              "training images), 'nl_0.2' / '0.75' = train_studentnet_resnet.sh's PD "
                                              "student --data_dir=data/cifar10/0.2 --loss_p_precentile=0.75 (CHOICE)"),
    method__student_lr=Cite(0.1, f"{MENTORNET} cifar_train_mentornet.py --learning_rate 0.1 (first decay after 18%)"),
    method__student_momentum=Cite(0.9, f"{MENTORNET} cifar_train_mentornet.py MomentumOptimizer(momentum=0.9)"),
    method__student_weight_decay=Cite(0.0002, f"{MENTORNET} cifar_train_mentornet.py weight_decay_rate=0.0002"),
    method__student_batch_size=Cite(128, f"{MENTORNET} cifar_train_mentornet.py --batch_size default 128"),
)

# -- method protocols (METHOD_KEYS: what every cell of the method must pin) ------------------------
METHOD_KEYS = {
    "data_params": (
        "method.curriculum", "method.class_lr", "method.inst_lr", "method.class_weight_decay",
        "method.inst_weight_decay", "method.init_class_sigma", "method.init_inst_sigma", "method.clamp_sigma",
        "method.momentum",
    ),
    "reed_hard": ("method.beta", "backbone.dropout", "dataset.clean_holdout.size"),
    "s_model": ("method.warmup_epochs", "method.init_keep", "method.channel_weight_decay", "backbone.dropout",
                "dataset.clean_holdout.size"),
    "l2rw": ("method.clean_batch_size", "backbone.dropout", "dataset.clean_holdout.size", "dataset.clean_holdout.seed"),
    "mentornet_pd": ("method.loss_percentile", "method.moving_average_decay", "method.gamma", "method.burn_in_percent",
                     "method.switch_percent", "method.example_dropout_rates", "backbone.dropout",
                     "dataset.clean_holdout.size"),
    "mentornet_dd": ("method.loss_percentile", "method.moving_average_decay", "method.burn_in_percent",
                     "method.example_dropout_rates", "method.mentor_noise_rate", "method.mentor_percentile",
                     "method.mentor_steps", "method.mentor_lr", "method.mentor_batch_size", "method.mentor_max_grad_norm",
                     "method.mentor_data", "method.student_data", "method.student_lr", "method.student_momentum",
                     "method.student_weight_decay", "method.student_batch_size", "backbone.dropout",
                     "dataset.clean_holdout.size", "dataset.clean_holdout.seed"),
}
CE = keys(method__name=Cite("ce", "the baseline: the same protocol without data parameters (DP sec. 3.2; authors' README)"))


def data_params(curriculum: str, curriculum_source: str, class_lr, class_wd, inst_lr, inst_wd, init_inst):
    """A data-parameters cell: each argument a Cite; the optimizer momentum and clamp are common to all."""
    return keys(
        method__name=Cite("data_params", curriculum_source),
        method__curriculum=Cite(curriculum, curriculum_source),
        method__class_lr=class_lr,
        method__class_weight_decay=class_wd,
        method__inst_lr=inst_lr,
        method__inst_weight_decay=inst_wd,
        method__init_class_sigma=Cite(1.0, "DP sec. 3.1 'Class and instance parameters are initialized with sigma = 1'"),
        method__init_inst_sigma=init_inst,
        method__clamp_sigma=Cite([0.05, 20.0], CLAMP),
        method__momentum=Cite(0.9, "DP sec. 3.1 'gradient descent with momentum 0.9'; utils.py SparseSGD momentum=0.9"),
    )


# null: the method starts joint instance sigmas at 0.001 and instance-only ones at 1 (DP sec. 3.1 "class parameters are
# initialized as 1 and instance parameters are initialized as 0.001"; "initialized with sigma = 1"); one file serves
# a table's joint and instance-only rows. test_data_params' hand-worked joint test pins the 0.001.
NULL_INIT = Cite(None, "DP sec. 3.1: 0.001 for joint, 1 for instance (null, resolved in methods/data_params.py)")
UNUSED = "unused by this curriculum"


def cifar100_dp(curriculum: str, source: str, init_inst: Cite = NULL_INIT):
    """DP Table 1 CIFAR-100 data parameters (class / joint)."""
    return data_params(
        curriculum, source,
        class_lr=Cite(0.1, "DP sec. 3.1 class lr 0.1"),
        class_wd=Cite(5e-4, "DP sec. 3.1 class wd 5e-4 ('same as model parameters')"),
        inst_lr=Cite(0.2, "CHOICE (DP sec. 3.1: set on a validation set, not given for CIFAR-100): the authors' CIFAR "
                     "instance lr, DP sec. 3.4 / README"),
        inst_wd=Cite(5e-4, "CHOICE: the model's wd, as DP sec. 3.2 sets it on ImageNet ('same as model parameters')"),
        init_inst=init_inst,
    )


def imagenet_dp(curriculum: str, source: str, init_inst: Cite = NULL_INIT):
    """DP Table 1 ImageNet / WebVision data parameters (joint, class only, instance only)."""
    return data_params(
        curriculum, source,
        class_lr=Cite(0.1, "DP sec. 3.2 'learning rate for class and instance ... 0.1 and 0.8'"),
        class_wd=Cite(1e-4, "DP sec. 3.2 'Weight decay for class and instance ... 1e-4 (same as model parameters)'"),
        inst_lr=Cite(0.8, "DP sec. 3.2 'learning rate for class and instance ... 0.1 and 0.8'"),
        inst_wd=Cite(1e-4, "DP sec. 3.2 (the README's joint command's 1e-8 loses to the paper's text)"),
        init_inst=init_inst,
    )


NOISY_DP = data_params(
    "instance", "DP sec. 3.4 / Fig. 4 instance-level curriculum; README --learn_inst_parameters only",
    class_lr=Cite(0.1, f"{UNUSED}: main_cifar.py --lr_class_param default"),
    class_wd=Cite(0.0, f"{UNUSED}: main_cifar.py --wd_class_param default"),
    inst_lr=Cite(0.2, "DP sec. 3.4 'the learning rate for instance parameters is set to 0.2'; " + README_NOISY),
    inst_wd=Cite(0.0, README_NOISY),
    init_inst=Cite(1.0, README_NOISY + "; DP sec. 3.1"),
)
CLASS_PARAMS_RANDOM = data_params(
    "class", "DP sec. 3.5 class parameters ('the class parameter for all the classes keeps increasing')",
    class_lr=Cite(0.1, "DP sec. 3.1 class lr 0.1"),
    class_wd=Cite(5e-4, "DP sec. 3.1 class wd 5e-4"),
    inst_lr=Cite(0.8, f"{UNUSED}: conf/method default"),
    inst_wd=Cite(5e-4, f"{UNUSED}: conf/method default"),
    init_inst=Cite(None, UNUSED),
)

DETECTION_DP = data_params(
    "instance", "DP sec. 3.3 'we associate a learnable parameter to each bounding box annotation'",
    class_lr=Cite(0.1, f"{UNUSED}: conf/method default"),
    class_wd=Cite(5e-4, f"{UNUSED}: conf/method default"),
    inst_lr=Cite(0.1, "DP sec. 3.3 'set learning rate for instance level parameters as 0.1'"),
    inst_wd=Cite(0.0, "DP sec. 3.3 'did not use weight decay or momentum'"),
    init_inst=Cite(1.0, "DP sec. 3.1 'Class and instance parameters are initialized with sigma = 1'"),
)
DETECTION_DP = {**DETECTION_DP, **keys(
    method__momentum=Cite(0.0, "DP sec. 3.3 'did not use weight decay or momentum'"),
    method__clamp_sigma=Cite([0.05, 20.0], f"CHOICE: the authors' detection code is not public; {CLAMP}"))}

# -- the tables -------------------------------------------------------------------------------------
T1_JOINT = "DP Table 1 (DCL: Class ✓ Instance ✓)"
T1_DP_ROWS = {  # row label -> column -> method keys
    "Data params: class + instance": {
        "cifar100": cifar100_dp("joint", T1_JOINT),
        "imagenet": imagenet_dp("joint", T1_JOINT),
        "webvision": imagenet_dp("joint", T1_JOINT),
    },
    "Data params: class only": {
        "cifar100": cifar100_dp("class", "DP Table 1 (Class ✓ Instance ✗)"),
        "imagenet": imagenet_dp("class", "DP Table 1 (Class ✓ Instance ✗)"),
        "webvision": imagenet_dp("class", "DP Table 1 (Class ✓ Instance ✗)"),
    },
    "Data params: instance only": {
        "cifar100": cifar100_dp("instance", "DP Table 1 (Class ✗ Instance ✓)"),
        "imagenet": imagenet_dp("instance", "DP Table 1 (Class ✗ Instance ✓)"),
        "webvision": imagenet_dp("instance", "DP Table 1 (Class ✗ Instance ✓)"),
    },
}
ORACLE = keys(dataset__subset=Cite("clean", "DP sec. 3.4 'we train only on 60% clean data' (the samples not chosen)"))
ALL_DATA = keys(dataset__subset=Cite("all", "DP sec. 3.4 (the whole noisy training set)"))

PROTOCOLS = {
    "dp.t1": TableProtocol(
        columns={"cifar100": wrn_cifar100(), "imagenet": resnet18_imagenet("imagenet"),
                 "webvision": resnet18_imagenet("webvision")},
        rows={"Baseline": CE},
        cells={(row, column): method for row, by_column in T1_DP_ROWS.items() for column, method in by_column.items()},
    ),
    "dp.t2": TableProtocol(
        every_cell=ALL_DATA,
        columns={"cifar10": noisy_wrn("cifar10", 0.4), "cifar100": noisy_wrn("cifar100", 0.4)},
        rows={"Baseline": CE, "Data params (instance)": NOISY_DP, "Baseline on clean 60% (oracle)": {**CE, **ORACLE},
              "Reed Hard": {**ren_wrn(), **NO_HOLDOUT, **REED_HARD},
              "S-Model": {**ren_wrn(), **NO_HOLDOUT, **S_MODEL},
              "Robust Weighting (extra clean data)": {**ren_wrn(), **CLEAN_HOLDOUT, **L2RW},
              "MentorNet PD": {**ren_wrn(), **NO_HOLDOUT, **MENTORNET_PD},
              "MentorNet DD (extra clean data)": {**ren_wrn(), **CLEAN_HOLDOUT, **MENTORNET_DD}},
    ),
    "dp.t2s": TableProtocol(
        every_cell=ALL_DATA,
        columns={"noise20": noisy_wrn("cifar100", 0.2), "noise80": noisy_wrn("cifar100", 0.8)},
        rows={"Baseline": CE, "Data params (instance)": NOISY_DP},
    ),
    "dp.fig1": TableProtocol(
        rows={
            "Class params, CIFAR-100 (left)": {**wrn_cifar100(), **cifar100_dp(
                "class", "DP Fig. 1 left 'Class level dynamic curriculum on CIFAR100'")},
            "Class + instance params, ImageNet (right)": {**resnet18_imagenet("imagenet"), **imagenet_dp(
                "joint", "DP Fig. 1 right 'Instance level dynamic curriculum on ImageNet' (the Table 1 joint run)")},
            "Class + instance params, CIFAR-100 (right-panel stand-in)": {**wrn_cifar100(), **cifar100_dp(
                "joint", "stand-in for Fig. 1 right: the Table 1 CIFAR-100 joint run")},
        },
    ),
    "dp.fig4": TableProtocol(
        every_cell={**noisy_wrn("cifar100", 0.4), **ALL_DATA,
                    **keys(method__top_fraction=Cite(0.4, "DP Fig. 4 right 'top 40% data points'"))},
        rows={"Data params (instance)": NOISY_DP},
    ),
    "dp.fig2": TableProtocol(
        every_cell=ssd_kitti(),
        rows={"Baseline (SSD)": CE, "Instance params": DETECTION_DP},
    ),
    "dp.fig3": TableProtocol(
        every_cell=ssd_kitti(),
        rows={"Instance params": DETECTION_DP},
    ),
    "dp.fig5": TableProtocol(
        every_cell={**random_labels_vgg16(), **ALL_DATA},
        rows={"Baseline": CE, "Class params": CLASS_PARAMS_RANDOM},
    ),
}
