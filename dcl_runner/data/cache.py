"""Decode image files once into a uint8 array cache at training resolution.

Large datasets (CelebA, RAP, ImageNet, ...) list image files; ``decode_to_cache`` decodes them in
parallel into ``<cache_dir>/<name>-<hash>.npy`` ([N, 3, H, W] uint8), written to a temporary file
and renamed when complete, so an interrupted decode never leaves a half cache. Later runs open the
cache as a memmap and never touch a JPEG again. The file name's hash covers the file list, size and resize
mode; a sidecar ``<cache>.json`` holds a fingerprint of the source files (each one's size and modification
time), checked on every open: a changed, replaced or touched source file, a cache without its sidecar, or an
unreadable (truncated) cache is rebuilt, and the log says why.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from ..errors import DatasetError, check_value
from ..io import atomic_write_json, read_json

log = logging.getLogger(__name__)
RESIZE_MODES = ("stretch", "center_crop")


def load_image(path: str, size: Tuple[int, int], mode: str = "stretch") -> np.ndarray:
    """One image file -> uint8 [3, H, W]. ``center_crop``: resize the short side, crop the centre."""
    from PIL import Image

    h, w = size
    with Image.open(path) as img:
        img = img.convert("RGB")
        if mode == "center_crop":
            scale = max(h / img.height, w / img.width)
            new = (max(w, round(img.width * scale)), max(h, round(img.height * scale)))
            img = img.resize(new, Image.BILINEAR)
            left, top = (img.width - w) // 2, (img.height - h) // 2
            img = img.crop((left, top, left + w, top + h))
        else:
            img = img.resize((w, h), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()


def _decode_chunk(args) -> Tuple[int, np.ndarray]:
    start, paths, size, mode = args
    return start, np.stack([_load_or_explain(p, size, mode) for p in paths])


def _load_or_explain(path: str, size: Tuple[int, int], mode: str) -> np.ndarray:
    try:
        return load_image(path, size, mode)
    except (OSError, ValueError, SyntaxError) as exc:  # PIL: UnidentifiedImageError, truncated data, bad headers
        raise DatasetError(
            f"cannot decode the image {path} ({type(exc).__name__}: {exc}): the file is corrupt or not an image. "
            "Replace it from the dataset's original archive (re-extract it)."
        ) from None


def source_fingerprint(paths: Sequence[str]) -> str:
    """A hash of every source file's size and modification time (ns): any replaced or edited file changes it."""
    digest = hashlib.sha1()
    for p in paths:
        st = os.stat(p)
        digest.update(f"{st.st_size}:{st.st_mtime_ns};".encode())
    return digest.hexdigest()


def _open_if_current(target: Path, fingerprint: str, count: int) -> "np.ndarray | None":
    """The cache at ``target`` when it exists, matches the sources and reads whole; else None (logged)."""
    if not target.exists():
        return None
    sidecar = target.with_suffix(".json")
    try:
        recorded = read_json(sidecar).get("sources")
    except (OSError, ValueError):
        recorded = None
    if recorded != fingerprint:
        why = "has no record of its source files" if recorded is None else "was built from source files that have changed since"
        log.warning("the decode cache %s %s: rebuilding it", target, why)
        return None
    try:
        images = np.load(target, mmap_mode="r")
    except (OSError, ValueError) as exc:
        log.warning("the decode cache %s is unreadable (%s): rebuilding it", target, exc)
        return None
    if images.shape[0] != count:
        log.warning("the decode cache %s holds %d images, expected %d: rebuilding it", target, images.shape[0], count)
        return None
    return images


def check_files_exist(paths: Sequence[str], listed_in: str) -> None:
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise DatasetError(
            f"{len(missing)} image(s) listed in {listed_in} are missing, e.g. {missing[0]}. "
            "Check dataset.root, or re-extract the image archive there."
        )


def decode_to_cache(
    paths: List[str],
    size: Tuple[int, int],
    cache_dir: str | os.PathLike,
    name: str,
    mode: str = "stretch",
    workers: int = 0,
    chunk: int = 256,
) -> np.ndarray:
    """Return a read-only memmap [N, 3, H, W] of the decoded images, building it on first use."""
    check_value("dataset.resize", mode, RESIZE_MODES, error=DatasetError)
    cache_dir = Path(cache_dir)
    digest = hashlib.sha1(json.dumps([list(map(str, paths)), list(size), mode]).encode()).hexdigest()[:12]
    target = cache_dir / f"{name}-{size[0]}x{size[1]}-{mode}-{digest}.npy"
    fingerprint = source_fingerprint(paths)
    cached = _open_if_current(target, fingerprint, len(paths))
    if cached is not None:
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), 3, size[0], size[1]))
    jobs = [(s, paths[s : s + chunk], size, mode) for s in range(0, len(paths), chunk)]
    try:
        if workers > 0 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for start, arr in pool.map(_decode_chunk, jobs):
                    out[start : start + len(arr)] = arr
        else:
            for job in jobs:
                start, arr = _decode_chunk(job)
                out[start : start + len(arr)] = arr
        out.flush()
        del out
        os.replace(tmp, target)
        atomic_write_json(target.with_suffix(".json"), {"sources": fingerprint, "count": len(paths)})
    finally:
        if tmp.exists():
            tmp.unlink()
    return np.load(target, mmap_mode="r")
