"""Training methods, one module per method family; each registers itself in METHODS."""
from .base import METHODS, Batch, Method, StepResult, TrainContext, build_method

__all__ = ["METHODS", "Batch", "Method", "StepResult", "TrainContext", "build_method"]
