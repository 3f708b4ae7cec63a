"""Detection through the seams: SSD300's maps and default boxes, the data-parameter rescaling of DP sec. 3.3
(matched anchors divide their class logits by their box's sigma, background anchors by the batch's mean), the
instance-parameter update (lr 0.1, no momentum, no weight decay), decoding, and a smoke run of the KITTI
experiment on a KITTI-format fixture whose run folder draws dp.fig3 and recomputes its AP from predictions.npz."""
import json
import math

import numpy as np
import pytest
import torch

from dcl_runner.data import boxes as B
from dcl_runner.data.base import DETECTION, TaskInfo
from dcl_runner.methods import Batch, build_method
from dcl_runner.methods.base import anchor_temperature
from dcl_runner.models import ssd
from dcl_runner.models.backbones.ssd_vgg import SSDVGG16
from helpers import compose, make_kitti, run_cli


def test_ssd300_maps_and_default_boxes():
    """Liu et al. Fig. 2: conv4_3, fc7, conv8_2 ... conv11_2 are 38, 19, 10, 5, 3, 1 at 300 px; 4 or 6 default boxes
    per cell: 38^2*4 + 19^2*6 + 10^2*6 + 5^2*6 + 3^2*4 + 1*4 = 8732."""
    assert SSDVGG16._map_sizes(300) == [38, 19, 10, 5, 3, 1]
    backbone = SSDVGG16(3, 300, 0.03125, None, 4)
    maps, features = backbone(torch.zeros(1, 3, 300, 300))
    assert [m.shape[-1] for m in maps] == [38, 19, 10, 5, 3, 1] and features is None
    head = ssd.SSDHead(backbone.out_channels, 1, 300)
    out = head(None, maps)
    assert out["anchors"].shape == (8732, 4) and out["cls_logits"].shape == (1, 8732, 2)
    # the first default box: centre (0.5 * 8 / 300) of the image, side 0.07 * 300 = 21 px
    assert out["anchors"][0].tolist() == pytest.approx([4 - 10.5, 4 - 10.5, 4 + 10.5, 4 + 10.5], abs=1e-4)
    assert SSDVGG16._map_sizes(32) == [4, 2, 1, 1, 1, 1]  # below 300 px the last blocks pad: no map vanishes


def matches_of(box_ids_per_image, matched_per_image):
    return [(None, None, torch.tensor(ids), torch.tensor(m)) for ids, m in zip(box_ids_per_image, matched_per_image)]


def test_anchor_temperature_is_the_boxs_sigma_or_the_batch_mean():
    """Boxes 0, 1 (image 0) and 2 (image 1) with sigma 2, 4, 8: matched anchors take their box's, background anchors
    the mean over the batch's boxes, (2 + 4 + 8) / 3 = 14 / 3; box 3 (sigma 100) is not in the batch."""
    sigma = torch.tensor([2.0, 4.0, 8.0, 100.0])
    matches = matches_of([[0, 1], [2]], [[-1, 0, 1, -1], [0, -1, -1, -1]])
    mean = 14 / 3
    assert anchor_temperature(matches, sigma).flatten().tolist() == pytest.approx([mean, 2, 4, mean, 8, mean, mean, mean])


def test_scaled_multibox_classification_loss_by_hand():
    """One image, 4 anchors, anchor 1 matched to a car (class 1) with temperature 2, the 3 others background with
    temperature 3 (3 negatives per positive: all kept). L_conf = sum_a -log softmax(z_a / t_a)[target_a] / 1."""
    logits = torch.tensor([[[1.0, 2.0], [0.5, 3.0], [2.0, -1.0], [0.0, 0.0]]])
    outputs = {"cls_logits": logits, "bbox_regression": torch.zeros(1, 4, 4),
               "anchors": torch.tensor([[0, 0, 10, 10], [10, 10, 20, 20], [20, 20, 30, 30], [0, 20, 10, 30]]).float()}
    matches = [(torch.tensor([[10.0, 10.0, 20.0, 20.0]]), torch.tensor([1]), torch.tensor([0]), torch.tensor([-1, 0, -1, -1]))]
    temperature = torch.tensor([[3.0, 2.0, 3.0, 3.0]])

    def nll(z, t, target):
        scaled = [v / t for v in z]
        return math.log(sum(math.exp(v) for v in scaled)) - scaled[target]

    expected = nll([1, 2], 3, 0) + nll([0.5, 3], 2, 1) + nll([2, -1], 3, 0) + nll([0, 0], 3, 0)
    loss, parts = ssd.multibox_loss(outputs, matches, temperature)
    assert float(parts["loss_conf"]) == pytest.approx(expected, rel=1e-6)
    assert float(parts["loss_loc"]) == pytest.approx(0.0, abs=1e-6)  # the box is its anchor: zero offsets
    plain, _ = ssd.multibox_loss(outputs, matches, None)
    assert float(plain) == pytest.approx(nll([1, 2], 1, 0) + nll([0.5, 3], 1, 1) + nll([2, -1], 1, 0) + nll([0, 0], 1, 0))


def detection_task(boxes):
    return TaskInfo(DETECTION, ["Car"], np.asarray([boxes]), 2, (3, 32, 32))


def test_instance_parameters_step_only_the_batchs_boxes_without_momentum():
    """DP sec. 3.3: lr 0.1, no momentum, no weight decay; log sigma of a box absent from the batch stays put."""
    cfg = compose(["experiment=dp_kitti_ssd"]).method
    targets = B.number_boxes(B.with_image_size(B.box_table([
        np.array([[0, 0, 2, 2, 12, 12, 0, 0, 0, 0, 0]], dtype=np.float32),
        np.array([[0, 0, 20, 20, 30, 30, 0, 0, 0, 0, 0]], dtype=np.float32)]), np.full((2, 2), 32.0)))
    y = torch.from_numpy(targets)
    method = build_method(cfg, detection_task(2))
    from dcl_runner.methods import TrainContext

    method.setup(TrainContext(task=detection_task(2), train_targets=y, device=torch.device("cpu"), epochs=1,
                              steps_per_epoch=1, seed=0, meta={}, model=None, iterate_train=None, fetch=None))
    (optimizer,) = method.optimizers()
    assert optimizer.param_groups[0]["momentum"] == 0.0 and optimizer.param_groups[0]["weight_decay"] == 0.0
    assert optimizer.param_groups[0]["lr"] == 0.1
    anchors = torch.tensor([[0, 0, 12, 12], [0, 0, 32, 32], [20, 20, 30, 30]]).float()
    outputs = {"cls_logits": torch.tensor([[[0.3, 0.1], [1.0, 0.0], [0.2, 0.4]]], requires_grad=True),
               "bbox_regression": torch.zeros(1, 3, 4), "anchors": anchors}
    result = method.loss(outputs, Batch(x=None, y=y[:1], index=torch.tensor([0])), 0)
    result.loss.backward()
    grad = method.inst_log_sigma.grad.clone()
    before = method.inst_log_sigma.detach().clone()
    optimizer.step()
    after = method.inst_log_sigma.detach()
    assert after[1] == before[1] and grad[1] == 0  # box 1 is in the other image
    assert after[0] == pytest.approx(float(before[0] - 0.1 * grad[0]))
    assert float(grad[0]) != 0


def test_decode_returns_normalised_boxes_scores_and_classes():
    anchors = torch.tensor([[0.0, 0.0, 16.0, 16.0], [16.0, 16.0, 32.0, 32.0]])
    logits = torch.tensor([[[0.0, 5.0], [1.0, 0.0]]])
    out = ssd.decode({"cls_logits": logits, "bbox_regression": torch.zeros(1, 2, 4), "anchors": anchors}, 32)
    assert out.shape == (1, ssd.SSD300.detections, 6)
    score = math.exp(5) / (1 + math.exp(5))
    assert out[0, 0].tolist() == pytest.approx([0, 0, 0.5, 0.5, score, 0], rel=1e-5)
    assert out[0, 1].tolist() == pytest.approx([0.5, 0.5, 1, 1, 1 / (1 + math.e), 0], rel=1e-5)  # above 0.01
    assert (out[0, 2:, 5] == -1).all()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("kitti_smoke")
    data = make_kitti(root / "kitti")
    result = run_cli(["experiment=dp_kitti_ssd", "budget=smoke", f"dataset.root={data}", "trainer.epochs=3",
                      f"hydra.run.dir={root / 'run'}"])
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run"


def test_smoke_run_writes_ap_per_regime_and_recomputable_predictions(smoke_run):
    record = json.loads((smoke_run / "metrics.json").read_text())
    assert record["status"] == "completed" and record["task"] == "detection" and record["headline"] == "ap_moderate"
    metrics = record["metrics"]
    assert metrics["ap_points"] == 11 and metrics["ap_class"] == "Car" and set(metrics["ap"]["Car"]) == {"easy", "moderate", "hard"}
    from dcl_runner.kitti_ap import detection_metrics

    saved = np.load(smoke_run / "predictions.npz")
    assert saved["scores"].shape[1:] == (ssd.SSD300.detections, 6) and saved["targets"].shape[2] == len(B.COLUMNS)
    assert detection_metrics(saved["scores"], saved["targets"], ["Car"], 11) == metrics
    sigma = np.load(smoke_run / "curves" / "dp_inst_sigma_tracked.npy")
    assert sigma.shape == (3, 3)  # 3 epochs x the fixture's 3 training cars


def test_dp_fig3_draws_boxes_as_thick_as_their_parameter(smoke_run, tmp_path):
    from dcl_runner.plots.detection import line_widths, plot_dp_fig3, snapshot_epochs

    assert snapshot_epochs(120) == [0, 40, 79, 119] and snapshot_epochs(2) == [0, 1]
    assert line_widths([1.0, 2.0, 4.0], 4.0).tolist() == [1.5, 3.0, 6.0]
    png = plot_dp_fig3(smoke_run, tmp_path / "dp.fig3.png")
    import matplotlib.image as mpimg

    height, width, _ = mpimg.imread(png).shape
    assert height > 200 and width > 400


def test_oracle_outputs_round_trip_to_ap_100():
    """Match, encode, decode and score, with no learning: 41 images of KITTI's size with one visible 100 px car each;
    the head's outputs made to say "car" on every matched default box with the box's encoded offsets. Decoding
    recovers each car (NMS folds the duplicates), every detection is a TP at the same score, so each of the 41
    thresholds has precision 1: AP = 100 at 11 and at 40 points, in every regime."""
    from torchvision.models.detection._utils import BoxCoder

    images = []
    for i in range(41):
        x = 100.0 + 20 * i
        images.append(np.array([[0, 0, x, 150, x + 200, 250, 0, 0, 0, 0, 0]], dtype=np.float32))
    targets = torch.from_numpy(B.with_image_size(B.box_table(images), np.tile([1242.0, 375.0], (41, 1))))
    head = ssd.SSDHead([1] * 6, 1, 300)
    anchors = head.anchors([torch.zeros(1, 1, s, s) for s in (38, 19, 10, 5, 3, 1)])
    matches = ssd.match(anchors, targets, 300)
    logits, regression = torch.zeros(41, len(anchors), 2), torch.zeros(41, len(anchors), 4)
    coder = BoxCoder(weights=ssd.SSD300.box_weights)
    for b, (boxes, _, _, matched) in enumerate(matches):
        fg = matched >= 0
        logits[b, fg, 1] = 10.0
        regression[b, fg] = coder.encode_single(boxes[matched[fg]], anchors[fg])
    detections = ssd.decode({"cls_logits": logits, "bbox_regression": regression, "anchors": anchors}, 300)
    from dcl_runner.kitti_ap import kitti_ap

    for points in (11, 40):
        assert kitti_ap(detections.numpy(), targets.numpy(), ["Car"], points)["Car"] == pytest.approx(
            {"easy": 100.0, "moderate": 100.0, "hard": 100.0})


def test_smoke_tables_stand_in_a_synthetic_detection_set():
    from dcl_runner.tables import REGISTRY
    from dcl_runner.tables.runs import plan_cells, smoke_stand_in

    assert smoke_stand_in({"name": "kitti"}) == ("synthetic_boxes", ("dataset=synthetic_boxes",))
    cells = plan_cells([REGISTRY["dp.fig2"]], "smoke", [0], extra=["dataset.root=/nonexistent/kitti"])
    assert all(c.runnable and c.substituted == "synthetic_boxes" for c in cells)
    assert {c.row.method for c in cells} == {"ce", "data_params"}


@pytest.mark.parametrize("overrides, message", [
    (["dataset=synthetic_boxes", "backbone=resnet32"], "a detection dataset needs a detection backbone"),
    (["dataset=synthetic_classes", "backbone=ssd_vgg16"], "a detection dataset needs a detection backbone"),
    (["dataset=synthetic_boxes", "backbone=ssd_vgg16", "dataset.augment.flip=true"], "the boxes of a detection dataset"),
])
def test_a_detection_run_that_cannot_work_stops_before_any_data(overrides, message):
    from dcl_runner.config_check import check_config
    from dcl_runner.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        check_config(compose(overrides))


def test_vgg_layers_load_torchvisions_vgg16_features_by_position():
    """Our VGG-16 layers have torchvision's features' names and shapes, so IMAGENET1K_FEATURES loads into them."""
    from torchvision.models import vgg

    from dcl_runner.models.backbones.ssd_vgg import vgg_layers

    theirs = {k: tuple(v.shape) for k, v in vgg.make_layers(vgg.cfgs["D"]).state_dict().items()}
    ours = {k: tuple(v.shape) for k, v in vgg_layers(1.0).state_dict().items()}
    assert ours == theirs and len(ours) == 26  # 13 convolutions, weight and bias


def test_missing_vgg_weights_offline_are_one_message(tmp_path, monkeypatch):
    """The ResNets' pattern (models/pretrained.py): the file, its URL, the folder, and the way out."""
    from urllib.error import URLError

    import torch.hub

    from dcl_runner.errors import ConfigError
    from dcl_runner.models import build_backbone

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(url, *args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    section = compose(["backbone=ssd_vgg16", "backbone.pretrained=imagenet"]).backbone
    with pytest.raises(ConfigError) as info:
        build_backbone(section, 3, 300)
    message = str(info.value)
    assert "VGG16_Weights.IMAGENET1K_FEATURES" in message and "backbone.pretrained=null" in message
    assert "https://download.pytorch.org/models/vgg16_features-amdegroot-88682ab5.pth" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "vgg16_features-amdegroot-88682ab5.pth") in message
