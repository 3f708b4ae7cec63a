from .base import BACKBONES, Backbone, Classifier, build_backbone, scaled
from .heads import AttributeBranches, LinearHead

__all__ = ["BACKBONES", "Backbone", "Classifier", "build_backbone", "scaled", "AttributeBranches", "LinearHead"]
