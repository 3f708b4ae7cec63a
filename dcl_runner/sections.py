"""A config section is the keyword arguments of what it builds (timm's explicit entry points, the
lightning-hydra-template's ``_target_``).

``method:``, ``backbone:``, ``dataset:`` (with its ``augment:`` and ``noise:``), the DCL schedulers, the
optimizer, the lr schedule, the trainer and the trackers are each built by (or checked against) a class or
function whose *keyword-only* parameters are the section's keys, named as the YAML names them and without a
default where the YAML gives one. Positional parameters (the task, the input channels ...) come from the
framework, never from the YAML. So, before anything is built and before any data is read
(``config_check.check_config``):

- a key nothing takes is one ConfigError naming it, the likely key and the builder's keys
  (``method.curiculum: unknown key for method data_params (did you mean curriculum?); its keys: branch_dim, ...``),
  where a misspelt key in an experiment file used to fall back silently to a default in code;
- a key the builder needs and the section lacks is one ConfigError too; a default lives in one place, the YAML
  (``conf/<group>/<option>.yaml``, ``conf/_base/*.yaml``). A parameter keeps a default in code only where the
  key is optional across the options it builds (tests/test_configs.py checks that), and says why beside it.

A parameter annotated with an options dataclass (``triplet: Triplet``, ``kw_only``; or ``Optional`` of one, for a
section only some options have) is a nested section, checked and built the same way. A class whose ``__init__`` ends in ``**kwargs`` hands them to its parent: the
keys of the whole chain count (``TwoHead``'s own keys and ``LongTailLoss``'s). Where several builders read one
section (a dataset class and ``DatasetKeys``, build_data's keys), ``also`` names the others. ``shared`` names keys
every option of a group has and the framework reads (``name`` picks the builder; a backbone's ``pretrained``).
``tolerated`` names the keys of the group's other options: an experiment pins ``method.curriculum`` for data
parameters and a table row runs it with ``method=ce``, which ignores the key and logs that it does.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import logging
import typing
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

from omegaconf import DictConfig, OmegaConf

from .errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Keys:
    """The keys a builder takes: ``required`` (no default in code), ``optional`` (a default in code: only where a
    key is optional across the options, said next to the parameter), ``nested`` (key -> options dataclass)."""

    required: Tuple[str, ...]
    optional: Tuple[str, ...]
    nested: Dict[str, type]

    @property
    def names(self) -> Tuple[str, ...]:
        return (*self.required, *self.optional)


def init_chain(builder: Any) -> Iterable[Callable]:
    """The callables whose keyword-only parameters make up ``builder``'s keys (a class: its ``__init__`` and, while
    one ends in ``**kwargs``, its parents'; a dataclass or a function: itself)."""
    if not inspect.isclass(builder) or dataclasses.is_dataclass(builder):
        yield builder
        return
    for klass in builder.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        yield init
        if not any(p.kind is p.VAR_KEYWORD for p in inspect.signature(init).parameters.values()):
            return


def _unwrap_optional(hint: Any) -> Any:
    """``Optional[X]`` -> X (an optional nested section is checked and built like a required one when present)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) is typing.Union and len(args) == 1 else hint


@functools.lru_cache(maxsize=None)
def keys_of(*builders: Any) -> Keys:
    """The section keys the ``builders`` take together (see the module docstring)."""
    required, optional, nested = [], [], {}
    for builder in builders:
        for fn in init_chain(builder):
            hints = typing.get_type_hints(fn)  # a dataclass: its fields' types; a function: its parameters'
            for name, param in inspect.signature(fn).parameters.items():
                if param.kind is not param.KEYWORD_ONLY or name in required or name in optional:
                    continue
                (required if param.default is param.empty else optional).append(name)
                hint = _unwrap_optional(hints.get(name))
                if inspect.isclass(hint) and dataclasses.is_dataclass(hint):
                    nested[name] = hint
    return Keys(tuple(required), tuple(optional), nested)


def plain(section: Any) -> Dict[str, Any]:
    """A section as a plain dict, interpolations resolved (``total_epochs: ${trainer.epochs}``)."""
    if isinstance(section, DictConfig):
        return OmegaConf.to_container(section, resolve=True)  # type: ignore[return-value]
    return dict(section or {})


def group_keys(builders: Iterable[Any]) -> Tuple[str, ...]:
    """Every key some builder of a group takes (a registry's entries): what ``tolerated`` is given."""
    return tuple(sorted({key for builder in builders for key in keys_of(builder).names}))


def check(builder: Any, section: Any, where: str, owner: str, also: Tuple[Any, ...] = (),
          shared: Iterable[str] = ("name",), tolerated: Iterable[str] = ()) -> None:
    """Raise one ConfigError for the first key of ``section`` that neither ``builder`` nor ``also`` (other builders
    reading the same section) take, nor ``shared``, nor ``tolerated``; or the first key one of them needs (or
    ``shared``) that is missing; nested sections likewise. ``where``: the section's dotted path (``method``);
    ``owner``: what builds it, for the message (``method data_params``). ``tolerated``: keys of the group's other
    options (:func:`group_keys`): an experiment pins ``method.curriculum`` for data parameters and a table row runs
    it with ``method=ce``, which ignores the key (``build`` logs it); a key no option takes is an error."""
    _checked((builder, *also), plain(section), where, owner, tuple(shared), tuple(tolerated))


def _checked(builders: Tuple[Any, ...], values: Mapping[str, Any], where: str, owner: str,
             shared: Tuple[str, ...], tolerated: Tuple[str, ...] = ()) -> Keys:
    keys = keys_of(*builders)
    listing = ", ".join(sorted({*keys.names, *shared}))
    for key in values:
        if key not in keys.names and key not in shared and key not in tolerated:
            close = difflib.get_close_matches(str(key), [*keys.names, *shared], n=1)
            guess = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{where}.{key}: unknown key for {owner}{guess}; its keys: {listing}")
    for key in (*shared, *keys.required):
        if key not in values:
            raise ConfigError(f"{where}.{key}: missing; {owner} has no default for it (defaults live in the YAML); "
                              f"its keys: {listing}")
    for key, options in keys.nested.items():
        if key in values:
            value = values[key]
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{key}={value!r}: expected a section with the keys of {key} "
                                  f"({', '.join(sorted(keys_of(options).names))})")
            _checked((options,), value, f"{where}.{key}", f"{key} of {owner}", ())
    return keys


def build(builder: Any, section: Any, where: str, owner: str, *args: Any, also: Tuple[Any, ...] = (),
          shared: Iterable[str] = ("name",), tolerated: Iterable[str] = (), log_ignored: bool = True,
          **framework: Any) -> Any:
    """``builder(*args, **framework, **keys)`` with the keys of ``section`` it takes (nested sections built into
    their options dataclasses), after :func:`check`. Keys of ``also`` and ``shared`` are valid, not passed; the
    ``tolerated`` ones present are logged as ignored (``log_ignored``)."""
    values = plain(section)
    keys = _checked((builder, *also), values, where, owner, tuple(shared), tuple(tolerated))
    ignored = [key for key in values if key not in keys.names and key not in shared]
    if ignored and log_ignored:
        log.info("%s ignores %s (keys of the group's other options)", owner, ", ".join(f"{where}.{k}" for k in ignored))
    own = keys_of(builder)
    kwargs = {key: _options(own.nested[key], value) if key in own.nested else value
              for key, value in values.items() if key in own.names}
    return builder(*args, **framework, **kwargs)


def _options(options: type, values: Mapping[str, Any]) -> Any:
    keys = keys_of(options)
    return options(**{key: _options(keys.nested[key], value) if key in keys.nested else value
                      for key, value in values.items()})


def options_of(options: type, section: Any, where: str, owner: Optional[str] = None) -> Any:
    """An options dataclass from a section (e.g. ``trainer.optimizer``), checked as :func:`build` checks."""
    return build(options, section, where, owner or where, shared=())
