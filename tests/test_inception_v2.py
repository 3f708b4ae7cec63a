"""BN-Inception (Inception-v2, Ioffe & Szegedy 2015, Figure 5) against the paper's table: each module's output
channels and the map sizes at 224 px, worked out by hand from the table; the Caffe pooling; and the ImageNet weights
of Cadene's bn_inception-52deb4733.pth, from a file this test writes in that file's key names and shapes.

No test touches the network: TORCH_HOME points at a temporary folder.
"""
import pytest
import torch
import torch.nn.functional as F

from dcl_runner.config_check import check_config
from dcl_runner.errors import ConfigError
from dcl_runner.models import build_backbone
from dcl_runner.models.backbones.inception_v2 import MODULES, InceptionModule
from helpers import compose

# Cadene/pretrained-models.pytorch pretrainedmodels/models/bninception.py, as read there: each nn.Conv2d
# (name, in, out, kernel); every one has a bias and a BatchNorm2d "<name>_bn" of its out channels; last_linear 1024->1000
CADENE_CONVS = """conv1_7x7_s2 3 64 7;conv2_3x3_reduce 64 64 1;conv2_3x3 64 192 3;inception_3a_1x1 192 64 1;
inception_3a_3x3_reduce 192 64 1;inception_3a_3x3 64 64 3;inception_3a_double_3x3_reduce 192 64 1;
inception_3a_double_3x3_1 64 96 3;inception_3a_double_3x3_2 96 96 3;inception_3a_pool_proj 192 32 1;
inception_3b_1x1 256 64 1;inception_3b_3x3_reduce 256 64 1;inception_3b_3x3 64 96 3;
inception_3b_double_3x3_reduce 256 64 1;inception_3b_double_3x3_1 64 96 3;inception_3b_double_3x3_2 96 96 3;
inception_3b_pool_proj 256 64 1;inception_3c_3x3_reduce 320 128 1;inception_3c_3x3 128 160 3;
inception_3c_double_3x3_reduce 320 64 1;inception_3c_double_3x3_1 64 96 3;inception_3c_double_3x3_2 96 96 3;
inception_4a_1x1 576 224 1;inception_4a_3x3_reduce 576 64 1;inception_4a_3x3 64 96 3;
inception_4a_double_3x3_reduce 576 96 1;inception_4a_double_3x3_1 96 128 3;inception_4a_double_3x3_2 128 128 3;
inception_4a_pool_proj 576 128 1;inception_4b_1x1 576 192 1;inception_4b_3x3_reduce 576 96 1;
inception_4b_3x3 96 128 3;inception_4b_double_3x3_reduce 576 96 1;inception_4b_double_3x3_1 96 128 3;
inception_4b_double_3x3_2 128 128 3;inception_4b_pool_proj 576 128 1;inception_4c_1x1 576 160 1;
inception_4c_3x3_reduce 576 128 1;inception_4c_3x3 128 160 3;inception_4c_double_3x3_reduce 576 128 1;
inception_4c_double_3x3_1 128 160 3;inception_4c_double_3x3_2 160 160 3;inception_4c_pool_proj 576 128 1;
inception_4d_1x1 608 96 1;inception_4d_3x3_reduce 608 128 1;inception_4d_3x3 128 192 3;
inception_4d_double_3x3_reduce 608 160 1;inception_4d_double_3x3_1 160 192 3;inception_4d_double_3x3_2 192 192 3;
inception_4d_pool_proj 608 128 1;inception_4e_3x3_reduce 608 128 1;inception_4e_3x3 128 192 3;
inception_4e_double_3x3_reduce 608 192 1;inception_4e_double_3x3_1 192 256 3;inception_4e_double_3x3_2 256 256 3;
inception_5a_1x1 1056 352 1;inception_5a_3x3_reduce 1056 192 1;inception_5a_3x3 192 320 3;
inception_5a_double_3x3_reduce 1056 160 1;inception_5a_double_3x3_1 160 224 3;inception_5a_double_3x3_2 224 224 3;
inception_5a_pool_proj 1056 128 1;inception_5b_1x1 1024 352 1;inception_5b_3x3_reduce 1024 192 1;
inception_5b_3x3 192 320 3;inception_5b_double_3x3_reduce 1024 192 1;inception_5b_double_3x3_1 192 224 3;
inception_5b_double_3x3_2 224 224 3;inception_5b_pool_proj 1024 128 1"""
FILE = "bn_inception-52deb4733.pth"  # bninception.py pretrained_settings url


def cadene_state():
    """A state dict with bninception.py's keys and shapes, filled with distinct (random normal) values, variances > 0."""
    state, generator = {}, torch.Generator().manual_seed(0)

    def distinct(*shape):
        return torch.randn(shape, generator=generator)

    for item in CADENE_CONVS.replace("\n", "").split(";"):
        name, cin, cout, k = item.split()
        cin, cout, k = int(cin), int(cout), int(k)
        state[f"{name}.weight"], state[f"{name}.bias"] = distinct(cout, cin, k, k), distinct(cout)
        for key in ("weight", "bias", "running_mean"):
            state[f"{name}_bn.{key}"] = distinct(cout)
        state[f"{name}_bn.running_var"] = distinct(cout).abs() + 0.5
    state["last_linear.weight"], state["last_linear.bias"] = distinct(1000, 1024), distinct(1000)
    return state


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    return tmp_path / "torch"


@pytest.fixture(scope="module")
def state():
    return cadene_state()


@pytest.fixture(scope="module")
def saved(state, tmp_path_factory):
    """The state written once as the file, in a torch hub checkpoint dir of its own."""
    home = tmp_path_factory.mktemp("cadene") / "torch"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, home / "hub" / "checkpoints" / FILE)
    return home


def pretrained(width=1.0):
    return build_backbone(compose(["backbone=inception_v2", "backbone.pretrained=imagenet",
                                   f"backbone.width={width}"]).backbone, 3, 224)

# Figure 5's output sizes: 3a 28x28x256, 3b 28x28x320, 3c 14x14x576, 4a-4b 576, 4c-4d 608 (4c: 160 + 160 + 160 +
# 128; 4d: 96 + 192 + 192 + 128), 4e 7x7x1056 (192 + 256 + 608 passed through), 5a-5b 1024
PAPER_CHANNELS = [256, 320, 576, 576, 576, 608, 608, 1056, 1024, 1024]


def test_module_outputs_and_map_sizes_follow_figure_5():
    net = build_backbone(compose(["backbone=inception_v2"]).backbone, 3, 224)
    assert [b.out_channels for b in net.blocks] == PAPER_CHANNELS
    assert net.feature_dim == 1024
    net.eval()
    x = net.stem(torch.zeros(1, 3, 224, 224))
    assert x.shape[1:] == (192, 28, 28)  # conv 7x7/2 -> 112, pool -> 56, conv 3x3 -> 56, pool -> 28
    sizes = []
    for block in net.blocks:
        x = block(x)
        sizes.append(x.shape[-1])
    assert sizes == [28, 28, 14, 14, 14, 14, 14, 7, 7, 7]
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(10.2e6, rel=0.1)  # BN-Inception: ~10-11 M


def test_stride_2_modules_pass_the_input_through_an_unpadded_ceil_max_pool():
    """3c's last 320 channels: max over 3x3 windows starting at 0, 2, ..., 26 (Caffe MAX 3x3/2, no pad, ceil)."""
    module = InceptionModule(320, *MODULES[2][1:]).eval()  # 3c, Figure 5's row
    x = torch.randn(1, 320, 28, 28)
    with torch.no_grad():
        passed = module(x)[:, -320:]
    assert passed.shape[-1] == 14
    torch.testing.assert_close(passed[..., 0, 0], x[..., 0:3, 0:3].amax(dim=(-1, -2)))
    torch.testing.assert_close(passed[..., 5, 13], x[..., 10:13, 26:28].amax(dim=(-1, -2)))  # the last, clipped window


@pytest.mark.parametrize("size", [24, 48, 200])
def test_an_image_size_whose_maps_are_odd_at_3c_or_4e_is_one_message(size):
    # 48: 24 -> 12 -> 6 at 3c -> 3 at 4e, where the 3x3/2 convolution gives 2 and the unpadded pool 1
    with pytest.raises(ConfigError, match=f"multiple of 32 .*got {size}"):
        build_backbone(compose(["backbone=inception_v2", "backbone.width=0.25"]).backbone, 3, size)


def test_cadene_weights_land_in_the_right_layers(saved, state, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(saved))
    net = pretrained()
    # by hand: our module path -> Cadene's name
    torch.testing.assert_close(net.stem[0][0].weight, state["conv1_7x7_s2.weight"][:, [2, 1, 0]], rtol=0, atol=0)
    torch.testing.assert_close(net.stem[3][0].weight, state["conv2_3x3.weight"], rtol=0, atol=0)
    torch.testing.assert_close(net.blocks[0].branch33[2][0].weight, state["inception_3a_double_3x3_2.weight"], rtol=0, atol=0)
    torch.testing.assert_close(net.blocks[2].branch3[1][0].weight, state["inception_3c_3x3.weight"], rtol=0, atol=0)
    torch.testing.assert_close(net.blocks[5].branch1[0].weight, state["inception_4c_1x1.weight"], rtol=0, atol=0)
    bn = net.blocks[9].proj[1]  # 5b's pool projection's BatchNorm
    torch.testing.assert_close(bn.weight, state["inception_5b_pool_proj_bn.weight"], rtol=0, atol=0)
    torch.testing.assert_close(bn.bias, state["inception_5b_pool_proj_bn.bias"], rtol=0, atol=0)
    torch.testing.assert_close(bn.running_var, state["inception_5b_pool_proj_bn.running_var"], rtol=0, atol=0)
    # the convolution's bias folded into the running mean: BN(x + b - mu) = BN(x - (mu - b))
    torch.testing.assert_close(bn.running_mean, state["inception_5b_pool_proj_bn.running_mean"]
                               - state["inception_5b_pool_proj.bias"])
    # every convolution of ours holds one of the file's 69, each used once
    convs = [m.weight for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 69 == CADENE_CONVS.count(";") + 1
    file_convs = {tuple(v.flatten()[:2].tolist()) for k, v in state.items() if v.dim() == 4}
    ours = {tuple(w.flatten()[:2].tolist()) for w in convs[1:]}  # the first is channel-flipped (above)
    assert len(ours) == 68 and ours <= file_convs


def test_the_first_layer_reads_rgb_as_the_cadene_layer_reads_bgr(saved, state, monkeypatch):
    """bninception.py's conv1_7x7_s2 (bias) -> conv1_7x7_s2_bn -> ReLU on BGR, computed here with F, equals ours on RGB."""
    monkeypatch.setenv("TORCH_HOME", str(saved))
    net = pretrained().eval()
    rgb = torch.randn(2, 3, 32, 32)
    bgr = rgb[:, [2, 1, 0]]
    theirs = F.conv2d(bgr, state["conv1_7x7_s2.weight"], state["conv1_7x7_s2.bias"], stride=2, padding=3)
    theirs = F.relu(F.batch_norm(theirs, state["conv1_7x7_s2_bn.running_mean"], state["conv1_7x7_s2_bn.running_var"],
                                 state["conv1_7x7_s2_bn.weight"], state["conv1_7x7_s2_bn.bias"], eps=1e-5))
    with torch.no_grad():
        torch.testing.assert_close(net.stem[0](rgb), theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("change,message", [
    (lambda s: s.pop("inception_4d_double_3x3_1_bn.running_var"), "has no 'inception_4d_double_3x3_1_bn.running_var'"),
    (lambda s: s.pop("inception_3a_pool_proj.bias"), "has no 'inception_3a_pool_proj.bias'"),
    (lambda s: s.update({"inception_4a_3x3.weight": torch.zeros(96, 64, 1, 1)}),
     r"'inception_4a_3x3.weight' in .*bn_inception-52deb4733.pth has shape \[96, 64, 1, 1\], BN-Inception needs \[96, 64, 3, 3\]"),
    (lambda s: s.update({"aux_classifier.weight": torch.zeros(3)}), "has a key BN-Inception does not \\('aux_classifier.weight'"),
])
def test_a_missing_mismatched_or_unknown_key_is_one_message(torch_home, state, change, message):
    broken = dict(state)
    change(broken)
    torch.save(broken, torch_home / "hub" / "checkpoints" / FILE)
    with pytest.raises(ConfigError, match=message):
        pretrained()


def test_a_missing_file_names_the_file_its_url_and_the_folder(torch_home):
    with pytest.raises(ConfigError) as info:
        pretrained()
    text = str(info.value)
    assert f"place it as {torch_home / 'hub' / 'checkpoints' / FILE}" in text
    assert "http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth" in text
    assert "backbone.pretrained=null" in text


def test_the_weights_need_their_input_normalisation_and_full_width():
    # bninception.py pretrained_settings: BGR 0..255 minus [104, 117, 128], std 1 -> RGB: (x - (128, 117, 104)) / 1
    with pytest.raises(ConfigError, match=r"dataset.mean=\[0.50196, 0.45882, 0.40784\] dataset.std=\[0.00392"):
        check_config(compose(["backbone=inception_v2", "backbone.pretrained=imagenet", "dataset=rap"]))
    cfg = compose(["experiment=dcl_rap_inception_v2"])
    assert [round(255 * m, 4) for m in cfg.dataset.mean] == [128, 117, 104]
    assert [round(255 * s, 4) for s in cfg.dataset.std] == [1, 1, 1]
    check_config(cfg)
    with pytest.raises(ConfigError, match="backbone.width=1.0"):
        check_config(compose(["experiment=dcl_rap_inception_v2", "backbone.width=0.5"]))


def test_a_run_without_the_weights_file_is_refused_before_any_data_is_read(torch_home, tmp_path, monkeypatch):
    """experiment=dcl_rap_inception_v2 with no bn_inception-52deb4733.pth on disk: the Trainer stops with the missing
    file's message before it reads RAP (which is not on disk here either: its message would be another)."""
    import dcl_runner.train as train_module

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read before the weights file was checked")

    monkeypatch.setattr(train_module, "build_data", no_data)
    with pytest.raises(ConfigError, match=f"{FILE}.*are not in"):
        train_module.Trainer(compose(["experiment=dcl_rap_inception_v2", "trainer.device=cpu"]), tmp_path / "run")
