"""Errors that stop a run with one clear message (no traceback soup), and the exit codes they give.

Exit codes of ``python -m dcl_runner`` (one run):
  0    completed (or, for ``resume=<run>``, already complete: nothing changed)
  1    failed during training (diverged: a non-finite loss, parameter or prediction; or a crash)
  2    refused before training (a bad value, a missing or malformed dataset, a refused resume)
  130  interrupted (Ctrl-C / SIGTERM): a checkpoint was saved; ``resume=<run folder>`` continues it
A sweep (``-m``) exits 0 when every job completed, 1 when any job failed or was refused (a summary line names
them), 130 when interrupted (the sweep stops; the interrupted job is resumable).
"""

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
