"""Backbone modules, one per family; each registers its names in BACKBONES."""
