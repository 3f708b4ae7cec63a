"""DCL scheduler functions (eq. 1-4), the target distribution (eq. 5, Table 4 *) and f (eq. 11)."""
import math

import numpy as np
import pytest
import torch

from dcl_runner.errors import ConfigError
from dcl_runner.schedulers import build_loss_scheduler, build_scheduler, figure1, main, target_distribution
from helpers import compose


@pytest.mark.parametrize("name,l,expected", [
    ("convex", 0, 1.0), ("convex", 50, math.cos(math.pi / 4)), ("convex", 100, 0.0),
    ("linear", 25, 0.75), ("linear", 100, 0.0),
    ("concave", 10, 0.99 ** 10), ("concave", 100, 0.99 ** 100),
    ("composite", 25, 0.5 * math.cos(math.pi / 4) + 0.5), ("composite", 50, 0.5), ("composite", 100, 0.0),
    ("linear_imbalance", 40, 0.6),
])
def test_scheduler_functions_follow_eq_1_to_4(name, l, expected):
    section = {"name": name, "L": 100, **({"lam": 0.99} if name == "concave" else {})}
    assert build_scheduler(section, 7)(l) == pytest.approx(expected, abs=1e-12)


def test_L_defaults_to_the_run_and_constants_hold():
    assert build_scheduler({"name": "linear", "L": None}, 10)(5) == pytest.approx(0.5)
    assert build_scheduler({"name": "constant", "L": None, "value": 0.0}, 10)(3) == 0.0
    assert build_scheduler({"name": "concave", "L": None, "lam": 0.9}, 10)(2) == pytest.approx(0.81)
    with pytest.raises(ConfigError, match="scheduler.name"):
        build_scheduler({"name": "cubic", "L": None}, 10)
    with pytest.raises(ConfigError, match="lambda"):
        build_scheduler({"name": "concave", "L": None, "lam": 1.5}, 10)
    with pytest.raises(ConfigError, match="scheduler.lam: the concave function needs it"):
        build_scheduler({"name": "concave", "L": None}, 10)
    with pytest.raises(ConfigError, match="scheduler.lamda: unknown key"):
        build_scheduler({"name": "concave", "L": None, "lamda": 0.9}, 10)


def test_target_distribution_eq_5_and_the_linear_variant():
    counts = np.array([[90.0, 10.0], [50.0, 50.0]])
    # D_train = 9 : 1; g = 0.5 -> 3 : 1
    np.testing.assert_allclose(target_distribution(counts, 0.5), [[0.75, 0.25], [0.5, 0.5]])
    np.testing.assert_allclose(target_distribution(counts, 1.0), [[0.9, 0.1], [0.5, 0.5]])
    np.testing.assert_allclose(target_distribution(counts, 0.0), [[0.5, 0.5], [0.5, 0.5]])
    # Table 4 (*): D = 1 + (9 - 1) * 0.5 = 5 : 1, no power
    np.testing.assert_allclose(target_distribution(counts, 0.5, "linear"), [[5 / 6, 1 / 6], [0.5, 0.5]])
    torch.testing.assert_close(target_distribution(torch.tensor([[30.0, 10.0, 0.0]]), 1.0), torch.tensor([[0.75, 0.25, 0.025]]) / 1.025)


def test_loss_scheduler_eq_11():
    keys = {"L": None, "lam": None, "value": None}
    f = build_loss_scheduler({"name": "composite", **keys, "p": 0.3, "eps": 0.1}, 100)
    assert f(0) == pytest.approx(1.1)
    assert f(29) == pytest.approx(0.5 * math.cos(0.29 * math.pi) + 0.5 + 0.1)
    assert f(30) == pytest.approx(0.1) and f(99) == pytest.approx(0.1)
    assert build_loss_scheduler({"name": "constant", **keys, "value": 0.25, "p": None, "eps": 0.0}, 100)(50) == 0.25
    with pytest.raises(ConfigError, match="p="):
        build_loss_scheduler({"name": "composite", **keys, "p": 1.5, "eps": 0}, 100)


@pytest.mark.parametrize("choice", ["convex", "linear", "concave", "composite", "linear_imbalance", "constant"])
def test_every_scheduler_yaml_carries_its_keys(choice):
    node = compose([f"scheduler={choice}"]).scheduler
    assert node.name == choice and "L" in node
    assert compose([f"scheduler={choice}", "method=dcl"]).method.sampling_scheduler.name == choice
    build_scheduler(node, 10)


def test_figure1_is_drawn(tmp_path, capsys):
    path = tmp_path / "fig1.png"
    main(["--plot", str(path)])
    assert path.stat().st_size > 1000 and str(path) in capsys.readouterr().out
    assert figure1(str(tmp_path / "fig1.svg"), L=50).endswith("fig1.svg")
