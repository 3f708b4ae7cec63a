"""Errors that stop a run before training with one clear message (no traceback soup)."""


class RunnerError(Exception):
    """Base for errors the CLI reports as a plain message."""


class ConfigError(RunnerError):
    """A configuration value is invalid; the message names the key."""


class DatasetError(RunnerError):
    """A dataset is missing or malformed; the message says what was expected, where, and how to fix it."""
