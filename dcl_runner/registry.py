"""A name -> constructor registry (the timm pattern): a backbone, dataset or method is a name.

Registries fill themselves by importing every module of their package the first time they are
asked for a name, so a new method is one new file (plus one YAML) and touches no list anywhere.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Dict, Generic, Iterable, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str):
        self.kind = kind
        self.package = package
        self._entries: Dict[str, T] = {}
        self._discovered = False

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        pkg = importlib.import_module(self.package)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=self.package + "."):
            if info.name.rsplit(".", 1)[-1].startswith("_"):
                continue
            importlib.import_module(info.name)

    def get(self, name: str) -> T:
        self._discover()
        if name not in self._entries:
            from .errors import unknown_value

            raise unknown_value(f"the {self.kind} name", name, sorted(self._entries), error=KeyError)
        return self._entries[name]

    def lookup(self, name: str, key: str) -> T:
        """``get`` for a config value: an unknown ``name`` is one ConfigError naming ``key`` (``method.name``)."""
        self._discover()
        if name not in self._entries:
            from .errors import unknown_value

            raise unknown_value(key, name, sorted(self._entries))
        return self._entries[name]

    def entries(self) -> Iterable[T]:
        """Every registered constructor once (several names may share one)."""
        self._discover()
        return list(dict.fromkeys(self._entries.values()))

    def names(self) -> Iterable[str]:
        self._discover()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._discover()
        return name in self._entries
