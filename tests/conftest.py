import os

import pytest
import torch

# two cores on CI: keep torch from oversubscribing them, and make CPU runs reproducible
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def out_root(tmp_path):
    """A fresh output_root for runs made by a test."""
    return tmp_path / "outputs"
