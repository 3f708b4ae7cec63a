"""Batches by index, from images resident on the device or through a DataLoader.

``SplitLoader.batches(order, batch_size)`` yields ``(uint8 images, targets, index)`` on the device
for the given index order; augmentation happens afterwards, batched, on the device.

- resident: the whole split is a uint8 tensor on the device; a batch is one gather. Used for
  small datasets (CIFAR-size, the synthetic default) and whenever the split fits under
  ``dataset.resident_max_gb``.
- DataLoader: for splits that do not fit (e.g. a memmapped decode cache of ImageNet), worker
  processes read index batches from the array and the main process moves them pinned to the device.
- encoded (``dataset.decode: standard``, data/encoded.py): the workers decode each image of a batch and crop
  it (training: RandomResizedCrop + flip, seeded per sample; evaluation: Resize + CenterCrop); the device
  augmentation then only normalises (``crops_in_workers``).
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ConfigError
from .base import Split
from .encoded import decode_rows, is_encoded


class _IndexBatches(Dataset):
    """A map-style dataset whose items are whole batches: item k = the k-th index array (and, for encoded
    images, the k-th training crop's (step seed, offset in the global batch), or None: evaluation view)."""

    def __init__(self, split: Split, batches: List[np.ndarray], crops: Optional[Sequence[Optional[Tuple[int, int]]]] = None):
        self.split = split
        self.index_batches = batches
        self.crops = list(crops) if crops is not None else [None] * len(batches)

    def __len__(self) -> int:
        return len(self.index_batches)

    def __getitem__(self, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
        idx = self.index_batches[k]
        if is_encoded(self.split.images):
            return torch.from_numpy(decode_rows(self.split.images, idx, self.crops[k])), torch.from_numpy(idx)
        order = np.argsort(idx)  # sorted reads are kinder to memmaps; undo the sort after
        images = np.asarray(self.split.images[idx[order]])
        images = images[np.argsort(order)]
        return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(idx)


class SplitLoader:
    def __init__(self, split: Split, device: torch.device, resident: bool, num_workers: int = 0):
        self.split = split
        self.device = device
        self.resident = resident
        self.num_workers = num_workers
        self.crops_in_workers = is_encoded(split.images)  # the standard pipeline: crop and flip are done on load
        if resident and self.crops_in_workers:
            raise ConfigError("dataset.resident=true keeps decoded images on the device; with dataset.decode=standard "
                              "images are decoded per batch. Use dataset.decode=cache to keep them resident.")
        targets = torch.as_tensor(np.asarray(split.targets))
        self.targets = (targets.long() if targets.ndim == 1 else targets.float()).to(device)
        if resident:
            images = split.images if torch.is_tensor(split.images) else torch.from_numpy(np.ascontiguousarray(split.images))
            self.images = images.to(device)

    def __len__(self) -> int:
        return len(self.split)

    @staticmethod
    def num_batches(n: int, batch_size: int, drop_last: bool) -> int:
        return n // batch_size if (drop_last and n >= batch_size) else -(-n // batch_size)

    def _chunks(self, order: torch.Tensor, batch_size: int, drop_last: bool) -> List[torch.Tensor]:
        chunks = list(torch.split(order, batch_size))
        if drop_last and len(order) >= batch_size and len(chunks[-1]) < batch_size:
            chunks = chunks[:-1]
        return chunks

    def take(self, indices: torch.Tensor, crop: Optional[Tuple[int, int]] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(uint8 images, targets, index) of the given positions, on the device, read in this process (``crop``:
        encoded images' training crop (step seed, offset); None: their evaluation view)."""
        idx = torch.as_tensor(indices).long().reshape(-1).cpu()
        if self.resident:
            idx = idx.to(self.device)
            return self.images[idx], self.targets[idx], idx
        images, _ = _IndexBatches(self.split, [idx.numpy()], [crop])[0]
        idx = idx.to(self.device)
        return images.to(self.device), self.targets[idx], idx

    def batches(
        self, order: torch.Tensor, batch_size: int, drop_last: bool = False, start: int = 0
    ) -> Iterator[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Yield (uint8 images, targets, index) on the device, skipping the first ``start`` batches."""
        return self.load(self._chunks(order.cpu(), batch_size, drop_last)[start:])

    def load(self, chunks: Sequence[torch.Tensor], crops: Optional[Sequence[Tuple[int, int]]] = None
             ) -> Iterator[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Yield (uint8 images, targets, index) on the device for each index tensor of ``chunks`` (a distributed
        run passes each process's part of the global batches: it reads only those samples). ``crops``: per chunk
        the (step seed, offset in the global batch) of encoded images' training crops (None: evaluation view)."""
        if self.resident:
            for idx in chunks:
                idx = idx.to(self.device, non_blocking=True)
                yield self.images[idx], self.targets[idx], idx
            return
        dataset = _IndexBatches(self.split, [c.cpu().numpy() for c in chunks], crops)
        loader = DataLoader(
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )
        for images, idx in loader:
            images = images.to(self.device, non_blocking=True)
            idx = idx.to(self.device, non_blocking=True)
            yield images, self.targets[idx], idx


def choose_resident(split: Split, device: torch.device, setting, max_gb: float) -> bool:
    """``dataset.resident``: true / false, or auto = in memory already (not a memmap, not encoded files) and small
    enough."""
    if is_encoded(split.images) and setting is not True:
        return False
    if setting in (True, False):
        return bool(setting)
    nbytes = int(np.prod(split.images.shape)) * split.images.dtype.itemsize if hasattr(split.images, "dtype") else 0
    if isinstance(split.images, np.memmap):
        return device.type == "cuda" and nbytes <= max_gb * 2**30
    return nbytes <= max_gb * 2**30
