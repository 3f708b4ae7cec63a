"""Dataset classes, one module per dataset family; each registers itself in DATASETS."""
