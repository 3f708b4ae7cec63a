"""A built wheel carries the configs: installed outside the checkout, the CLI runs from another folder (issue 18.1)."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _pyproject():
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_package_and_config_folder_is_listed_in_pyproject():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    code = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "dcl_runner").rglob("__init__.py")}
    configs = {".".join(("dcl_runner", "_conf", *p.relative_to(REPO / "conf").parts)).rstrip(".")
               for p in [REPO / "conf", *(d for d in (REPO / "conf").rglob("*") if d.is_dir())] if any(p.glob("*.yaml"))}
    configs |= {"dcl_runner._conf.hydra"}  # holds only the help/ folder
    assert listed == code | configs


def test_the_wheel_installed_elsewhere_runs_from_another_folder(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing (build/, *.egg-info) in the checkout
    source.mkdir()
    for part in ("pyproject.toml", "README.md", "conf", "dcl_runner"):
        copy = shutil.copytree if (REPO / part).is_dir() else shutil.copy
        copy(REPO / part, source / part, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)]
    if importlib.util.find_spec("setuptools") is not None:
        build.insert(4, "--no-build-isolation")  # no download needed when setuptools is here
    subprocess.run(build, check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("dcl_runner-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    assert len(list((site / "dcl_runner" / "_conf").rglob("*.yaml"))) == len(list((REPO / "conf").rglob("*.yaml")))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "2"}
    where = subprocess.run([sys.executable, "-c", "from dcl_runner.config import CONFIG_DIR; print(CONFIG_DIR)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()) == site / "dcl_runner" / "_conf"
    run = subprocess.run([sys.executable, "-m", "dcl_runner", "budget=smoke", "trainer.progress=false",
                          "dataset.num_train=128", "dataset.num_test=64", "output_root=out"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "mA " in run.stdout and list((elsewhere / "out").rglob("metrics.json"))
