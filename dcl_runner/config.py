"""The configuration in one place: where the config groups live, their names, composing a config as the CLI
would, and a run's identity (its resolved config without the keys that do not change what is computed).

- ``CONFIG_DIR``: ``dcl_runner/_conf`` in an installed wheel, else the checkout's top-level ``conf/``
  (pyproject.toml maps one onto the other);
- ``GROUPS``: the config groups a run chooses from (``dataset=...``, ``method=...``, ...);
- ``compose`` / ``compose_many``: the config ``python -m dcl_runner <overrides>`` runs, in-process;
- ``by_budget``: the ``${by_budget:PAPER,SMOKE}`` resolver, a value that depends on the budget group;
- ``run_identity`` / ``cell_key`` / ``identity_differences``: the same experiment run on another machine,
  into another folder or with other run-time switches has the same identity (resume, the tables script and
  the sweep summary rely on it); ``VOLATILE_KEYS`` lists the keys it ignores.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Sequence

from omegaconf import DictConfig, OmegaConf


def _config_dir() -> Path:
    here = Path(__file__).resolve().parent
    packaged = here / "_conf"
    return packaged if (packaged / "config.yaml").is_file() else here.parent / "conf"


#: the run folder's stamp when the processes of a distributed run agreed on one (process 0's; see stamp())
AGREED_STAMP: Dict[str, str] = {}


def new_stamp() -> str:
    """Time to the microsecond and the process id: two runs started in the same microsecond still differ."""
    import datetime
    import os

    return f"{datetime.datetime.now():%Y-%m-%d_%H-%M-%S-%f}-{os.getpid()}"


def stamp() -> str:
    """``${stamp:}``, the last part of a run folder's name: this process's (cached per process, as Hydra's
    ``${now:}``), or the one a distributed run's processes agreed on (``__main__``), so they share one folder."""
    return AGREED_STAMP.get("stamp") or new_stamp()


def _register_resolvers() -> None:
    import os

    if not OmegaConf.has_resolver("pid"):
        OmegaConf.register_new_resolver("pid", os.getpid, use_cache=True)
    if not OmegaConf.has_resolver("stamp"):
        OmegaConf.register_new_resolver("stamp", stamp, use_cache=True)
    if not OmegaConf.has_resolver("by_budget"):
        OmegaConf.register_new_resolver("by_budget", by_budget)


def by_budget(paper: Any, smoke: Any, *, _root_: DictConfig) -> Any:
    """``${by_budget:PAPER,SMOKE}``: a value a budget cannot shrink through epochs or images (e.g. MentorNet DD's
    30,000 mentor steps), PAPER unless the run's ``budget_name`` (set by conf/budget/*.yaml) is ``smoke``."""
    return smoke if _root_.get("budget_name") == "smoke" else paper


_register_resolvers()
#: the config groups' folder: conf/ of the checkout, or its copy inside the installed wheel
CONFIG_DIR = _config_dir()
#: the config groups of conf/ a run chooses an option of (metrics.json records the choices)
GROUPS = ("dataset", "backbone", "method", "scheduler", "experiment", "budget", "logger")


def compose(overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """The config ``python -m dcl_runner <overrides>`` would run (without Hydra's run-time keys)."""
    return compose_many([overrides], return_hydra_config)[0]


def compose_many(override_lists: Sequence[Sequence[str]], return_hydra_config: bool = False) -> List[DictConfig]:
    """Several configs in one Hydra context (setting the context up is most of a compose's cost)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return [hydra_compose("config", overrides=list(o), return_hydra_config=return_hydra_config) for o in override_lists]


# ---------------------------------------------------------------------------------------------
# a run's identity
# ---------------------------------------------------------------------------------------------
# keys that name where things are or how fast they run, not what is computed
VOLATILE_KEYS = (
    "resume", "hydra", "logger", "output_root", "data_root", "cache_root", "budget_name",
    "dataset.root", "dataset.download", "dataset.resident", "dataset.resident_max_gb",
    "trainer.device", "trainer.num_threads", "trainer.num_workers", "trainer.progress", "trainer.log_every",
    "trainer.checkpoint_every", "trainer.compile", "trainer.channels_last", "trainer.eval_batch_size",
    "trainer.distributed.find_unused_parameters", "dataset.packed_dir",
)


def _plain(cfg: Any) -> Dict[str, Any]:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return json.loads(json.dumps(cfg))


def _drop(plain: Dict[str, Any], dotted: str) -> None:
    node = plain
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(leaf, None)


def _digest(plain: Dict[str, Any]) -> str:
    text = json.dumps(plain, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def canonical(cfg: Any, with_seed: bool = True) -> Dict[str, Any]:
    plain = _plain(cfg)
    for key in VOLATILE_KEYS:
        _drop(plain, key)
    if not with_seed:
        plain.pop("seed", None)
    return plain


def run_identity(cfg: Any) -> str:
    """Hash of the resolved config (seed included) without output paths and run-time switches."""
    return _digest(canonical(cfg, with_seed=True))


def cell_key(cfg: Any) -> str:
    """Hash of the resolved config without the seed: the runs that average into one table cell."""
    return _digest(canonical(cfg, with_seed=False))


def _flatten(node: Any, prefix: str = "") -> Dict[str, Any]:
    if isinstance(node, dict):
        out: Dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: node}


def identity_differences(a: Any, b: Any) -> List[str]:
    """The dotted keys whose values differ between two configs, run-time switches ignored:
    ``["trainer.optimizer.lr: 0.05 -> 0.01", ...]`` (what a refused resume names)."""
    fa, fb = _flatten(canonical(a)), _flatten(canonical(b))
    missing = object()
    return [f"{key}: {fa.get(key, '<absent>')!r} -> {fb.get(key, '<absent>')!r}" for key in sorted(set(fa) | set(fb))
            if fa.get(key, missing) != fb.get(key, missing)]


