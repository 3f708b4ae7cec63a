"""dcl_runner: a Hydra-configured runner for imbalanced-learning experiments (configuration: dcl_runner.config)."""

__version__ = "0.1.0"
