"""dcl_runner: a Hydra-configured runner for imbalanced-learning experiments."""
from pathlib import Path

__version__ = "0.1.0"



def _config_dir() -> Path:
    """The Hydra config folder: ``dcl_runner/_conf`` in an installed wheel, else the checkout's top-level ``conf/``
    (a source checkout or an editable install; pyproject.toml maps one onto the other)."""
    here = Path(__file__).resolve().parent
    packaged = here / "_conf"
    return packaged if (packaged / "config.yaml").is_file() else here.parent / "conf"


#: the config groups' folder (see DESIGN.md): conf/ of the checkout, or its copy inside the installed wheel
CONFIG_DIR = _config_dir()


def _register_resolvers() -> None:
    """``${pid:}`` in run-folder names: two runs started in the same microsecond still differ."""
    import os

    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("pid"):
        OmegaConf.register_new_resolver("pid", os.getpid, use_cache=True)


_register_resolvers()
