"""CIFAR-10/100, MNIST, Fashion-MNIST and SVHN read from their original files under ``dataset.root``.

The layouts are torchvision's (what its downloaders produce), parsed here without torchvision's
checksum test so that tiny fixtures in the same format can stand in for them in tests:

- cifar10:       root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}  (pickles)
- cifar100:      root/cifar-100-python/{train, test, meta}                              (pickles)
- mnist:         root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]       (IDX)
- fashion_mnist: root/FashionMNIST/raw/ (same names as MNIST)
- svhn:          root/{train,test}_32x32.mat                                            (MATLAB, label 10 = digit 0)

``dataset.download=true`` calls torchvision's downloader for the set first. CIFAR-10 and CIFAR-100 share one
reader (``_CIFAR``); what differs between them (folder, batch files, label keys) are class attributes.
"""
from __future__ import annotations

import gzip
import os
import pickle
import zlib
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np

from ...errors import DatasetError
from ..base import DATASETS, MULTICLASS, DataBundle, ImageDataset, Split

def _missing(dataset: "_TorchvisionFormat", expected: Path, what: str) -> DatasetError:
    return DatasetError(
        f"{dataset.key}: expected {what} at {expected}, but it is not there. "
        f"Set dataset.root to the folder holding it, or add dataset.download=true to fetch it "
        f"(source: {dataset.source})."
    )


def _unpickle(path: Path, name: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DatasetError(f"{name}: {path} is not a readable CIFAR pickle ({exc}); re-download it") from None


def _read_idx(path: Path, name: str) -> np.ndarray:
    """An IDX file (MNIST format): magic (2 zero bytes, dtype code, ndim), big-endian dims, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError; a cut .gz ends in EOFError
        raise DatasetError(
            f"{name}: {path} cannot be read ({type(exc).__name__}: {exc}); the file is truncated or corrupt. "
            "Delete it and download it again (dataset.download=true fetches it)."
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{name}: {path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DatasetError(f"{name}: {path} declares shape {dims} but holds {data.size} bytes")
    return data.reshape(dims)


class _TorchvisionFormat(ImageDataset):
    """A set in torchvision's on-disk layout under ``dataset.root``. Class attributes: ``key`` (its name in
    messages), ``source`` (where it comes from), ``tv_class`` (the torchvision.datasets class that downloads it),
    ``num_classes``."""

    kind = MULTICLASS
    key = ""
    source = ""
    tv_class = ""

    def __init__(self, *, root: str, download: bool):
        self.root = Path(os.path.expanduser(str(root)))
        self.download = bool(download)

    def fetch(self) -> None:  # pragma: no cover - needs the network
        """torchvision's downloader, both splits."""
        import torchvision.datasets as tvd

        for train in (True, False):
            getattr(tvd, self.tv_class)(str(self.root), train=train, download=True)

    def read(self) -> DataBundle:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self) -> DataBundle:
        if self.download:
            try:
                self.fetch()
            except Exception as exc:  # noqa: BLE001 - any network failure becomes one message
                raise DatasetError(f"{self.key}: download into {self.root} failed: {exc}") from None
        return self.read()


class _CIFAR(_TorchvisionFormat):
    """CIFAR-10 and CIFAR-100 (python pickles of [N, 3072] uint8 rows and their labels). The layout facts:
    ``folder`` under the root, the ``train_files`` / ``test_files`` batches, the ``meta_file`` with the class
    names under ``names_key``, the labels under ``label_key``."""

    source = "https://www.cs.toronto.edu/~kriz/cifar.html"
    folder = ""
    train_files: Tuple[str, ...] = ()
    test_files: Tuple[str, ...] = ()
    meta_file = ""
    label_key = ""
    names_key = ""

    def arrays(self, files: Sequence[str]) -> Split:
        data, labels = [], []
        for f in (self.root / self.folder / name for name in files):
            if not f.is_file():
                raise _missing(self, f, "the batch file")
            entry = _unpickle(f, self.key)
            if "data" not in entry or self.label_key not in entry:
                raise DatasetError(f"{self.key}: {f} has no 'data'/'{self.label_key}' entries; it is not a CIFAR batch file")
            arr = np.asarray(entry["data"], dtype=np.uint8)
            if arr.ndim != 2 or arr.shape[1] != 3072:
                raise DatasetError(f"{self.key}: {f} holds data of shape {arr.shape}, expected [N, 3072]")
            data.append(arr.reshape(-1, 3, 32, 32))
            labels.extend(entry[self.label_key])
        return Split(np.concatenate(data), np.asarray(labels, dtype=np.int64))

    def read(self) -> DataBundle:
        base = self.root / self.folder
        if not base.is_dir():
            raise _missing(self, base, f"the folder {self.folder}")
        train, test = self.arrays(self.train_files), self.arrays(self.test_files)
        meta = base / self.meta_file
        names = _unpickle(meta, self.key)[self.names_key] if meta.is_file() else [str(i) for i in range(self.num_classes)]
        return DataBundle(kind=MULTICLASS, names=list(names), train=train, test=test)


@DATASETS.register("cifar10")
class CIFAR10(_CIFAR):
    key, tv_class, num_classes = "cifar10", "CIFAR10", 10
    folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    meta_file, label_key, names_key = "batches.meta", "labels", "label_names"


@DATASETS.register("cifar100")
class CIFAR100(_CIFAR):
    key, tv_class, num_classes = "cifar100", "CIFAR100", 100
    folder = "cifar-100-python"
    train_files, test_files = ("train",), ("test",)
    meta_file, label_key, names_key = "meta", "fine_labels", "fine_label_names"


class _MNISTFormat(_TorchvisionFormat):
    """IDX files under ``root/<folder>/raw/``; ``class_names`` in label order."""

    num_classes = 10
    folder = ""
    class_names: Tuple[str, ...] = tuple(str(i) for i in range(10))

    def _file(self, stem: str) -> Path:
        raw = self.root / self.folder / "raw"
        for candidate in (raw / stem, raw / (stem + ".gz")):
            if candidate.is_file():
                return candidate
        raise _missing(self, raw / stem, f"the IDX file {stem}")

    def _split(self, prefix: str) -> Split:
        images = _read_idx(self._file(f"{prefix}-images-idx3-ubyte"), self.key)
        labels = _read_idx(self._file(f"{prefix}-labels-idx1-ubyte"), self.key).astype(np.int64)
        if images.ndim != 3 or len(images) != len(labels):
            raise DatasetError(f"{self.key}: {prefix} images {images.shape} and labels {labels.shape} do not match")
        return Split(images[:, None, :, :].copy(), labels)

    def read(self) -> DataBundle:
        return DataBundle(kind=MULTICLASS, names=list(self.class_names), train=self._split("train"), test=self._split("t10k"))


@DATASETS.register("mnist")
class MNIST(_MNISTFormat):
    key, folder, tv_class = "mnist", "MNIST", "MNIST"
    source = "http://yann.lecun.com/exdb/mnist/"


@DATASETS.register("fashion_mnist")
class FashionMNIST(_MNISTFormat):
    key, folder, tv_class = "fashion_mnist", "FashionMNIST", "FashionMNIST"
    source = "https://github.com/zalandoresearch/fashion-mnist"
    class_names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@DATASETS.register("svhn")
class SVHN(_TorchvisionFormat):
    key, tv_class, num_classes = "svhn", "SVHN", 10
    source = "http://ufldl.stanford.edu/housenumbers/"

    def fetch(self) -> None:  # pragma: no cover - needs the network
        import torchvision.datasets as tvd

        for split in ("train", "test"):
            tvd.SVHN(str(self.root), split=split, download=True)

    def _split(self, split: str) -> Split:
        from scipy.io import loadmat

        path = self.root / f"{split}_32x32.mat"
        if not path.is_file():
            raise _missing(self, path, f"{split}_32x32.mat")
        try:
            mat = loadmat(str(path))
        except Exception as exc:  # noqa: BLE001 - scipy raises several types for a cut or foreign file
            raise DatasetError(f"svhn: {path} is not a readable MATLAB file ({exc}); delete it and download it again") from None
        if "X" not in mat or "y" not in mat:
            raise DatasetError(f"svhn: {path} has no 'X'/'y' variables; it is not an SVHN cropped-digits file")
        images = np.ascontiguousarray(mat["X"].transpose(3, 2, 0, 1)).astype(np.uint8)
        labels = mat["y"].astype(np.int64).reshape(-1) % 10
        return Split(images, labels)

    def read(self) -> DataBundle:
        return DataBundle(kind=MULTICLASS, names=[str(i) for i in range(10)], train=self._split("train"), test=self._split("test"))


# The long-tailed variants read the same files; the profile comes from dataset.imbalance_ratio.
DATASETS.register("cifar10_lt")(CIFAR10)
DATASETS.register("cifar100_lt")(CIFAR100)
