"""Errors that stop a run with one clear message (no traceback soup), and the exit codes they give.

Exit codes of ``python -m dcl_runner`` (one run):
  0    completed (or, for ``resume=<run>``, already complete: nothing changed)
  1    failed during training (diverged: a non-finite loss, parameter or prediction; or a crash)
  2    refused before training (a bad value, a missing or malformed dataset, a refused resume)
  130  interrupted (Ctrl-C / SIGTERM): a checkpoint was saved; ``resume=<run folder>`` continues it
A sweep (``-m``) exits 0 when every job completed, 1 when any job failed or was refused (a summary line names
them), 130 when interrupted (the sweep stops; the interrupted job is resumable).

``unknown_value`` / ``check_value`` write the one message for a value outside its choices.
"""
from __future__ import annotations

from typing import Iterable, Mapping

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130


class RunnerError(Exception):
    """Base for errors the CLI reports as a plain message."""

    exit_code = EXIT_REFUSED


class ConfigError(RunnerError):
    """A configuration value is invalid; the message names the key."""


class DatasetError(RunnerError):
    """A dataset is missing or malformed; the message says what was expected, where, and how to fix it."""


class RunFailed(RunnerError):
    """Training started and could not go on (e.g. it diverged); the run folder's status says why."""

    exit_code = EXIT_FAILED


def unknown_value(key: str, value: object, valid: Iterable[object] | Mapping[object, str], hint: str = "",
                  error: type = ConfigError) -> RunnerError:
    """The one message for a value outside its choices: ``unknown value 'x' for method.loss; valid values are
    ce, focal, ldam``. ``valid`` may map each value to what it means (``{"easy": "DCL eq. 9", ...}``), shown in
    brackets; a mapping to anything else (a name -> builder map) lists its keys. ``hint`` adds how to fix it;
    ``error`` is the class raised (a DatasetError for a dataset's file)."""
    if isinstance(valid, Mapping) and all(isinstance(meaning, str) for meaning in valid.values()):
        listed = ", ".join(f"{_show(v)} ({meaning})" if meaning else _show(v) for v, meaning in valid.items())
    else:
        listed = ", ".join(_show(v) for v in valid)
    return error(f"unknown value {value!r} for {key}; valid values are {listed}{f'. {hint}' if hint else ''}")


def check_value(key: str, value: object, valid: Iterable[object] | Mapping[object, str], hint: str = "",
                error: type = ConfigError) -> object:
    """``value`` when it is one of ``valid``; else :func:`unknown_value`'s error."""
    try:
        known = value in (valid if isinstance(valid, Mapping) else tuple(valid))
    except TypeError:  # an unhashable value (a list where a name was expected) is no known value
        known = False
    if not known:
        raise unknown_value(key, value, valid, hint, error)
    return value


def _show(value: object) -> str:
    return "null" if value is None else "true" if value is True else "false" if value is False else str(value)
