"""SSD's augmentation with the boxes following (data/ssd_augment.py): each geometric op on a known box worked out by
hand in the original image's pixels, the crop's window rule (Liu et al. sec. 2.2 / torchvision RandomIoUCrop), the
photometric ops by hand, the pixels and the boxes moving together, the draws per (seed, step, global position), and
a dropped box keeping its identity so the instance data parameters update the right boxes (DP sec. 3.3)."""
import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from dcl_runner.data import boxes as B
from dcl_runner.data.augment import Augment
from dcl_runner.data.ssd_augment import (Geometry, SsdRecipe, crop_windows, move_boxes, photometric_distort, shift_hue,
                                         warp)
from dcl_runner.distributed import BatchPart, Processes
from dcl_runner.errors import ConfigError
from helpers import compose

TV = dict(p=0.5, brightness=[0.875, 1.125], contrast=[0.5, 1.5], saturation=[0.5, 1.5], hue=[-0.05, 0.05],
          zoom_out_p=0.5, zoom_out_side=[1.0, 4.0], crop_min_ious=[0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0],
          crop_scale=[0.3, 1.0], crop_aspect=[0.5, 2.0], crop_trials=40, flip_p=0.5)


def recipe(**changes):
    return SsdRecipe(**{**TV, **changes})


def rows_of(boxes, size, ids=None, labels=None, types=None):
    """One image's box rows [1, M, K]: boxes (x1, y1, x2, y2) in pixels of an image of ``size`` (w, h)."""
    table = []
    for k, box in enumerate(boxes):
        row = np.zeros(len(B.COLUMNS), dtype=np.float32)
        row[[B.X1, B.Y1, B.X2, B.Y2]] = box
        row[B.TYPE] = 0 if types is None else types[k]
        row[B.LABEL] = 0 if labels is None else labels[k]
        row[B.BOX_ID] = k if ids is None else ids[k]
        table.append(row)
    return torch.from_numpy(B.with_image_size(B.box_table([np.stack(table)]), np.array([size], dtype=np.float32)))


def geometry(side=1.0, offset=(0.0, 0.0), window=(0.0, 0.0, 1.0, 1.0), flip=False):
    cropped = tuple(window) != (0.0, 0.0, 1.0, 1.0)
    return Geometry(torch.tensor([side]), torch.tensor([offset]), torch.tensor([window]), torch.tensor([cropped]),
                    torch.tensor([flip]))


def coords(rows):
    return rows[0, :, [B.X1, B.Y1, B.X2, B.Y2]].numpy()


def test_a_flip_mirrors_the_box_and_the_pixels():
    """KITTI's 1242 px wide frame: x -> 1242 - x, the corners swapped; y kept. Pixels: column j -> 7 - j."""
    rows = rows_of([(100, 50, 300, 150)], (1242, 375))
    assert coords(move_boxes(rows, geometry(flip=True))) == pytest.approx(np.array([[942, 50, 1142, 150]]))
    image = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8)
    assert warp(image, geometry(flip=True), torch.zeros(1), 8)[0, 0, 0].tolist() == pytest.approx(list(range(7, -1, -1)))


def test_a_zoom_out_shrinks_the_box_onto_the_canvas_and_fills_with_the_mean():
    """Canvas side 2, the image's corner at (1, 0.5) image sizes: x' = (x + 1 * 1242) / 2, y' = (y + 0.5 * 375) / 2;
    pixels: an 8 px image at the top right of a 16 px canvas seen at 8 px: its top-right quarter is the image, the
    rest the fill."""
    rows = rows_of([(100, 50, 300, 150)], (1242, 375))
    moved = coords(move_boxes(rows, geometry(side=2.0, offset=(1.0, 0.5))))
    assert moved == pytest.approx(np.array([[671.0, 118.75, 771.0, 168.75]]))
    out = warp(torch.full((1, 3, 8, 8), 200.0), geometry(side=2.0, offset=(1.0, 0.0)), torch.tensor([123.0, 117.0, 104.0]), 8)
    fill = torch.tensor([123.0, 117.0, 104.0]).view(3, 1, 1)
    assert out[0, :, :4, 4:].eq(200.0).all() and out[0, :, :, :4].eq(fill).all() and out[0, :, 4:, :].eq(fill).all()


def test_a_crop_clips_kept_boxes_marks_dropped_ones_absent_and_keeps_every_identity():
    """Window x in [0.25, 0.75] of a 1000 x 400 frame: box 7 (centre x 0.2) is dropped, box 8 [0.2, 0.4] clipped to
    [0.25, 0.4] -> [0, 0.3] of the window = 0 ... 300 px, box 9 [0.5, 0.8] -> [0.5, 0.75] -> 500 ... 1000 px; a
    DontCare region (label IGNORE) with its centre inside keeps its type; y unchanged. Pixels: columns 2 ... 5 of 8."""
    rows = rows_of([(100, 50, 300, 150), (200, 10, 400, 390), (500, 0, 800, 100), (400, 0, 600, 100)], (1000, 400),
                   ids=[7, 8, 9, -1], labels=[0, 0, 0, -1], types=[0, 0, 0, 8])
    moved = move_boxes(rows, geometry(window=(0.25, 0.0, 0.75, 1.0)))
    assert moved[0, :, B.BOX_ID].tolist() == [7, 8, 9, -1]  # every row where it was, with its box id
    assert moved[0, :, B.LABEL].tolist() == [-1, 0, 0, -1] and moved[0, :, B.TYPE].tolist() == [-1, 0, 0, 8]
    assert coords(moved)[1:3] == pytest.approx(np.array([[0, 10, 300, 390], [500, 0, 1000, 100]]))
    assert moved[0, :, B.IMAGE_W].tolist() == [1000] * 4
    image = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8) * 10
    out = warp(image, geometry(window=(0.25, 0.0, 0.75, 1.0)), torch.zeros(1), 4)
    assert out[0, 0, 0].tolist() == pytest.approx([20, 30, 40, 50])


class Scripted:
    """A ``rand`` that hands out given values in order (crop_windows draws: pick [B], scale [B, T, 2], place [B, T, 2])."""

    def __init__(self, *values):
        self.values = [torch.tensor(v, dtype=torch.float32) for v in values]

    def __call__(self, *shape):
        return self.values.pop(0)


def test_the_crop_takes_the_first_window_meeting_the_constraints():
    """A square image, one box (0.4, 0.4, 0.6, 0.6), options {0.5, 1.0}. Sample 0 (min IoU 0.5): trial 0 has aspect
    0.9 / 0.3 = 3 > 2; trial 1's window (0, 0, 0.5, 0.5) does not hold the centre (0.5, 0.5) strictly; trial 2's
    (0.375, 0.375, 0.625, 0.625) does, with IoU 0.04 / 0.0625 = 0.64 >= 0.5: chosen. Sample 1 draws 1.0: no crop.
    Sample 2 (min IoU 0.5) only has windows of IoU 0.04 / 0.25 = 0.16 (or holding no centre): no crop."""
    boxes = torch.tensor([[0.4, 0.4, 0.6, 0.6]]).expand(3, 1, 4)
    trials = [[0.9, 0.3], [0.5, 0.5], [0.25, 0.25]]
    places = [[0.5, 0.5], [0.0, 0.0], [0.5, 0.5]]
    rand = Scripted([0.0, 0.99, 0.2], [trials, trials, [[0.5, 0.5]] * 3], [places, places, [[0.5, 0.5], [0, 0], [1, 1]]])
    window, cropped = crop_windows(boxes, torch.ones(3, 1, dtype=torch.bool), torch.ones(3),
                                   recipe(crop_min_ious=[0.5, 1.0], crop_scale=[0.0, 1.0], crop_trials=3), rand)
    assert cropped.tolist() == [True, False, False]
    assert window.numpy() == pytest.approx(np.array([[0.375, 0.375, 0.625, 0.625], [0, 0, 1, 1], [0, 0, 1, 1]]))
    # an image without training boxes (a DontCare region only) is never cropped
    rand = Scripted([0.0], [trials[2:]], [places[2:]])
    _, cropped = crop_windows(boxes[:1], torch.zeros(1, 1, dtype=torch.bool), torch.ones(1),
                              recipe(crop_min_ious=[0.0], crop_scale=[0.0, 1.0], crop_trials=1), rand)
    assert cropped.tolist() == [False]


def test_photometric_ops_by_hand_and_boxes_untouched():
    """Hue turned by 1/3: red -> green, grey stays grey; brightness 2: (10, 20, 30) -> (20, 40, 60) in some channel
    order (the permutation is on with p = 1); p = 0 changes nothing; and train_batch with every geometric op off leaves the rows alone."""
    pixels = torch.tensor([[255.0, 0.0, 0.0], [90.0, 90.0, 90.0]]).T.reshape(1, 3, 1, 2)
    assert shift_hue(pixels, torch.tensor([1 / 3]))[0, :, 0].T.numpy() == pytest.approx(np.array([[0, 255, 0], [90, 90, 90]]), abs=1e-3)
    bright = recipe(p=1.0, brightness=[2.0, 2.0], contrast=[1.0, 1.0], saturation=[1.0, 1.0], hue=[0.0, 0.0])
    out = photometric_distort(torch.tensor([10.0, 20.0, 30.0]).view(1, 3, 1, 1), bright, torch.Generator().manual_seed(0))
    assert sorted(out.flatten().tolist()) == pytest.approx([20, 40, 60], abs=1e-3)
    still = torch.rand(2, 3, 4, 4) * 255  # p = 0: no op on any sample
    assert torch.equal(photometric_distort(still, recipe(p=0.0), torch.Generator().manual_seed(0)), still)
    augment = ssd_augment(photometric="ssd", ssd=recipe(p=1.0, zoom_out_p=0.0, crop_min_ious=[1.0], flip_p=0.0))
    rows = rows_of([(100, 50, 300, 150)], (1242, 375))
    images = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8)
    x, moved = augment.train_batch(images, rows, torch.Generator().manual_seed(1))
    assert torch.equal(moved, rows) and not torch.allclose(x, augment.eval(images))


def ssd_augment(size=16, mean=(0.0, 0.0, 0.0), photometric="none", ssd=None):
    return Augment(size, list(mean), [1 / 255] * 3, crop="none", padding=0, scale=[0.08, 1.0], ratio=[0.75, 4 / 3],
                   flip=False, geometric="ssd", photometric=photometric, ssd=ssd or recipe())


def bright_box_batch(n):
    """n stored 64 x 64 images, black but for a white box; the frame is 128 x 64, the box (32, 16, 96, 48) there."""
    images = torch.zeros(n, 3, 64, 64, dtype=torch.uint8)
    images[:, :, 16:48, 16:48] = 255
    rows = rows_of([(32, 16, 96, 48)], (128, 64)).expand(n, -1, -1).contiguous()
    return images, rows


def test_pixels_and_boxes_move_together():
    """Random draws (TV's values): wherever a present box says the white square is, the output is white inside
    (2 px in) and black outside (2 px out)."""
    images, rows = bright_box_batch(24)
    augment = ssd_augment(size=64)
    x, moved = augment.train_batch(images, rows, torch.Generator().manual_seed(5))
    checked = 0
    for k in range(len(x)):
        if moved[k, 0, B.LABEL] < 0:
            continue
        x1, y1, x2, y2 = (moved[k, 0, [B.X1, B.Y1, B.X2, B.Y2]] / torch.tensor([2.0, 1.0, 2.0, 1.0])).tolist()
        if min(x2 - x1, y2 - y1) < 6:
            continue
        white = x[k, 0, math.ceil(y1) + 2:math.floor(y2) - 2, math.ceil(x1) + 2:math.floor(x2) - 2]
        outside = torch.ones(64, 64, dtype=torch.bool)
        outside[max(0, math.floor(y1) - 2):math.ceil(y2) + 2, max(0, math.floor(x1) - 2):math.ceil(x2) + 2] = False
        assert white.min() > 250 and x[k, 0][outside].max() < 5, k
        checked += 1
    assert checked >= 12


def fake_procs(rank, world):
    procs = Processes.__new__(Processes)
    procs.distributed, procs.world, procs.rank, procs.local_rank, procs.is_main = world > 1, world, rank, rank, rank == 0
    return procs


def test_draws_follow_the_seed_and_the_global_position_not_the_process_count():
    images, rows = bright_box_batch(6)
    augment = ssd_augment(size=32, photometric="ssd")
    whole = augment.train_batch(images, rows, torch.Generator().manual_seed(3))
    again = augment.train_batch(images, rows, torch.Generator().manual_seed(3))
    other = augment.train_batch(images, rows, torch.Generator().manual_seed(4))
    assert torch.equal(whole[0], again[0]) and torch.equal(whole[1], again[1])
    assert not torch.equal(whole[1], other[1])
    parts = [BatchPart.of(torch.arange(6), fake_procs(r, 2)) for r in range(2)]
    halves = [augment.train_batch(images[p.start:p.stop], rows[p.start:p.stop], torch.Generator().manual_seed(3), p)
              for p in parts]
    assert torch.allclose(torch.cat([h[0] for h in halves]), whole[0], atol=1e-4)
    assert torch.equal(torch.cat([h[1] for h in halves]), whole[1])


def test_a_dropped_box_keeps_its_identity_and_its_instance_parameter():
    """Boxes 0, 1, 2 with sigma 2, 4, 8 in one 32 px image; a crop (window x 0.25 ... 1) drops box 1 (centre x 0.125).
    Matching sees boxes 0 and 2 under their own ids; an anchor on box 2 takes sigma 8, background anchors the mean
    of the present boxes, (2 + 8) / 2 = 5; after a step box 1's parameter has no gradient and stays put."""
    from dcl_runner.data.base import DETECTION, TaskInfo
    from dcl_runner.methods import Batch, TrainContext, build_method
    from dcl_runner.methods.base import anchor_temperature
    from dcl_runner.models import ssd

    rows = rows_of([(12, 0, 20, 8), (0, 24, 8, 32), (24, 24, 32, 32)], (32, 32))
    moved = move_boxes(rows, geometry(window=(0.25, 0.0, 1.0, 1.0)))
    assert moved[0, :, B.BOX_ID].tolist() == [0, 1, 2] and moved[0, :, B.LABEL].tolist() == [0, -1, 0]
    # box 0 (12..20 of 32) -> (12 - 8) / 24 * 32 = 16/3 ... (20 - 8) / 24 * 32 = 16; box 2 -> 64/3 ... 32
    assert coords(moved)[0] == pytest.approx(np.array([16 / 3, 0, 16, 8]), rel=1e-5)
    assert coords(moved)[2] == pytest.approx(np.array([64 / 3, 24, 32, 32]), rel=1e-5)
    task = TaskInfo(DETECTION, ["Car"], np.asarray([3]), 1, (3, 32, 32))
    method = build_method(compose(["experiment=dp_kitti_ssd"]).method, task)
    method.setup(TrainContext(task=task, train_targets=rows, device=torch.device("cpu"), epochs=1, steps_per_epoch=1,
                              seed=0, meta={}, model=None, iterate_train=None, fetch=None))
    with torch.no_grad():
        method.inst_log_sigma.copy_(torch.tensor([2.0, 4.0, 8.0]).log())
    anchors = torch.tensor([[16 / 3, 0, 16, 8], [64 / 3, 24, 32, 32], [0, 24, 8, 32]])
    matches = ssd.match(anchors, moved, 32)
    assert matches[0][2].tolist() == [0, 2] and matches[0][3].tolist() == [0, 1, -1]
    sigma = method.box_sigma(Batch(x=None, y=moved, index=torch.tensor([0])))
    assert anchor_temperature(matches, sigma).flatten().tolist() == pytest.approx([2, 8, 5])
    outputs = {"cls_logits": torch.tensor([[[0.3, 0.1], [1.0, 0.0], [0.2, 0.4]]], requires_grad=True),
               "bbox_regression": torch.zeros(1, 3, 4), "anchors": anchors}
    method.loss(outputs, Batch(x=None, y=moved, index=torch.tensor([0])), 0).loss.backward()
    grad, before = method.inst_log_sigma.grad.clone(), method.inst_log_sigma.detach().clone()
    method.optimizers()[0].step()
    assert grad[1] == 0 and method.inst_log_sigma[1] == before[1]
    assert grad[0] != 0 and grad[2] != 0


@pytest.mark.parametrize("overrides, message", [
    (["dataset=synthetic_boxes", "backbone=ssd_vgg16", "dataset.augment.geometric=mirror"], "geometric"),
    (["dataset=synthetic_classes", "+dataset.augment.geometric=ssd"], "has no boxes"),
    (["dataset=synthetic_classes", "+dataset.augment.photometric=ssd"], "needs its values in dataset.augment.ssd"),
    (["dataset=synthetic_boxes", "backbone=ssd_vgg16", "dataset.augment.ssd.flip_p=2"], "flip_p=2"),
    (["dataset=synthetic_boxes", "backbone=ssd_vgg16", "+dataset.augment.ssd.flip=0.5"], "unknown key"),
])
def test_bad_augmentation_settings_are_one_message(overrides, message):
    from dcl_runner.config_check import check_config
    from dcl_runner.data.augment import build_augment

    with pytest.raises(ConfigError, match=message):
        cfg = compose(overrides)
        check_config(cfg)
        build_augment(cfg.dataset)


def test_detection_configs_run_the_cited_recipe():
    for overrides in (["experiment=dp_kitti_ssd"], ["dataset=synthetic_boxes", "backbone=ssd_vgg16"]):
        augment = compose(overrides).dataset.augment
        assert (augment.geometric, augment.photometric, augment.crop, augment.flip) == ("ssd", "ssd", "none", False)
        assert OmegaConf.to_container(augment.ssd) == TV
    assert "geometric" not in compose([]).dataset.augment  # other datasets: Augment's none (their identities unchanged)
