"""A packed image set: one file of encoded images and an index, instead of a million small files.

    python -m dcl_runner.data.packed dataset=imagenet dataset.root=/data/imagenet --out /fast/packs

reads every image a dataset lists (all its splits, as ``dataset.decode: standard`` lists them) and writes

    <out>/<dataset.name>.pack         the files' bytes, one after another, as they are (no re-encoding)
    <out>/<dataset.name>.index.npz    offsets (int64 [N + 1]) and each record's path relative to dataset.root

A run with ``dataset.packed_dir=<out>`` then reads each image as a slice of the pack (a memory map opened once per
DataLoader worker) instead of opening its file: on a network file system that is one open per worker instead of
one per image. The decoded pixels are the same (the bytes are the file's). The file lists still come from the
dataset's layout (ImageNet-LT's and WebVision's list files; ImageNet's class folders are still listed), and a
listed image missing from the pack is an error naming it and the pack.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

from ..errors import DatasetError


def pack_paths(name: str, out: Path) -> tuple:
    return Path(out) / f"{name}.pack", Path(out) / f"{name}.index.npz"


class PackedImages:
    """Records of a pack, selected by ``rows``; ``self[i]`` is the encoded bytes of record rows[i]. Pickles
    without its memory map (each DataLoader worker opens its own)."""

    def __init__(self, pack: Path, offsets: np.ndarray, names: np.ndarray, rows: np.ndarray) -> None:
        self.pack, self.offsets, self.names, self.rows = Path(pack), offsets, names, np.asarray(rows, dtype=np.int64)
        self._data = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> memoryview:
        if self._data is None:
            self._data = np.memmap(self.pack, dtype=np.uint8, mode="r")
        row = self.rows[i]
        return memoryview(self._data[self.offsets[row]:self.offsets[row + 1]])

    def name(self, i: int) -> str:
        return f"{self.names[self.rows[i]]} (in {self.pack})"

    def subset(self, index: np.ndarray) -> "PackedImages":
        return PackedImages(self.pack, self.offsets, self.names, self.rows[np.asarray(index, dtype=np.int64)])

    def __getstate__(self) -> Dict[str, Any]:
        return {**self.__dict__, "_data": None}


def open_pack(name: str, packed_dir: str, root: Path, paths: Sequence[str]) -> PackedImages:
    """The records of ``paths`` (files under ``root``, dataset.root) in dataset ``name``'s pack in ``packed_dir``."""
    pack, index = pack_paths(name, Path(os.path.expanduser(str(packed_dir))))
    if not (pack.is_file() and index.is_file()):
        raise DatasetError(f"dataset.packed_dir={packed_dir}: expected {pack} and {index}. Write them with "
                           f"python -m dcl_runner.data.packed dataset={name} dataset.root=<root> --out {packed_dir}")
    stored = np.load(index, allow_pickle=False)
    names, offsets = stored["names"], stored["offsets"]
    row_of = {str(n): r for r, n in enumerate(names)}
    rows: List[int] = []
    for path in paths:
        rel = os.path.relpath(path, root)
        if rel not in row_of:
            raise DatasetError(f"the image {rel} is listed by the dataset but not in the pack {pack}: the pack was "
                               "written from another file list. Write it again (python -m dcl_runner.data.packed).")
        rows.append(row_of[rel])
    if offsets[-1] != pack.stat().st_size:
        raise DatasetError(f"the pack {pack} holds {pack.stat().st_size} bytes, its index {offsets[-1]}: it is truncated "
                           "or was replaced. Write it again (python -m dcl_runner.data.packed).")
    return PackedImages(pack, offsets, names, np.asarray(rows))


def write_pack(name: str, root: Path, paths: Sequence[str], out: Path) -> tuple:
    """Pack ``paths`` (each once, in order) into out/<name>.pack with its index; returns (pack, index)."""
    pack, index = pack_paths(name, out)
    out.mkdir(parents=True, exist_ok=True)
    unique = list(dict.fromkeys(paths))
    offsets = np.zeros(len(unique) + 1, dtype=np.int64)
    tmp = pack.with_suffix(f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            for k, path in enumerate(unique):
                with open(path, "rb") as src:
                    data = src.read()
                fh.write(data)
                offsets[k + 1] = offsets[k] + len(data)
        names = np.asarray([os.path.relpath(p, root) for p in unique])
        tmp_index = index.with_name(index.name + f".tmp{os.getpid()}.npz")
        np.savez(tmp_index, offsets=offsets, names=names)
        os.replace(tmp, pack)
        os.replace(tmp_index, index)
    finally:
        if tmp.exists():
            tmp.unlink()
    return pack, index


def main(argv: Sequence[str] | None = None) -> int:
    from ..config import compose
    from . import build_data
    from .encoded import is_encoded

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="config overrides naming the dataset, e.g. dataset=imagenet dataset.root=...")
    parser.add_argument("--out", required=True, help="the folder to write <dataset>.pack and <dataset>.index.npz into")
    args = parser.parse_args(argv)
    cfg = compose([*args.overrides, "dataset.decode=standard", "dataset.packed_dir=null"]).dataset
    bundle = build_data(cfg)
    splits = [s for s in (bundle.train, bundle.val, bundle.test) if s is not None and is_encoded(s.images)]
    paths = [p for s in splits for p in s.images.sources]
    pack, index = write_pack(str(cfg.name), Path(os.path.expanduser(str(cfg.root))), paths, Path(args.out))
    print(f"packed {len(set(paths))} images of {cfg.name} into {pack} ({pack.stat().st_size / 1e9:.2f} GB) and {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
