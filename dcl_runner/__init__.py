"""dcl_runner: a Hydra-configured runner for imbalanced-learning experiments."""
from pathlib import Path

__version__ = "0.1.0"

#: the top-level conf/ folder of this checkout (configs live beside the package, see DESIGN.md)
CONFIG_DIR = Path(__file__).resolve().parent.parent / "conf"
