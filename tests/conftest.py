"""Shared by every test folder: tests/ on the import path (``from helpers import ...``, ``import protocols``),
two torch threads, a package-scoped compose cache, and an output folder per test."""
import copy
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

# two cores on CI: keep torch from oversubscribing them, and make CPU runs reproducible
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="package", autouse=True)
def compose_cache():
    """Compose each distinct override list once for the whole test package (composing is the slow part of many
    tests: ~0.1 s each, several hundred of them). Every in-process composition goes through
    ``dcl_runner.config.compose_many`` (helpers.compose, the table planner, the trainer's callers), which this
    fixture wraps; each caller gets a deep copy, so a test may change its config freely. conf/ does not change
    during a test session; a composition that fails is not cached (it fails again)."""
    from dcl_runner import config

    compose_many = config.compose_many
    cache = {}

    def cached(override_lists, return_hydra_config=False):
        keys = [(tuple(overrides), bool(return_hydra_config)) for overrides in override_lists]
        new = [key for key in dict.fromkeys(keys) if key not in cache]
        if new:
            cache.update(zip(new, compose_many([list(key[0]) for key in new], return_hydra_config)))
        return [copy.deepcopy(cache[key]) for key in keys]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config, "compose_many", cached)
        yield cache


@pytest.fixture
def out_root(tmp_path):
    """A fresh output_root for runs made by a test."""
    return tmp_path / "outputs"
