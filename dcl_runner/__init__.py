"""dcl_runner: a Hydra-configured runner for imbalanced-learning experiments."""
from pathlib import Path

__version__ = "0.1.0"

#: the top-level conf/ folder of this checkout (configs live beside the package, see DESIGN.md)
CONFIG_DIR = Path(__file__).resolve().parent.parent / "conf"


def _register_resolvers() -> None:
    """``${pid:}`` in run-folder names: two runs started in the same microsecond still differ."""
    import os

    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("pid"):
        OmegaConf.register_new_resolver("pid", os.getpid, use_cache=True)


_register_resolvers()
