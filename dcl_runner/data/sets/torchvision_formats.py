"""CIFAR-10/100, MNIST, Fashion-MNIST and SVHN read from their original files under ``dataset.root``.

The layouts are torchvision's (what its downloaders produce), parsed here without torchvision's
checksum test so that tiny fixtures in the same format can stand in for them in tests:

- cifar10:       root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}  (pickles)
- cifar100:      root/cifar-100-python/{train, test, meta}                              (pickles)
- mnist:         root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]       (IDX)
- fashion_mnist: root/FashionMNIST/raw/ (same names as MNIST)
- svhn:          root/{train,test}_32x32.mat                                            (MATLAB, label 10 = digit 0)

``dataset.download=true`` calls torchvision's downloader for the set first.
"""
from __future__ import annotations

import gzip
import os
import pickle
import zlib
from pathlib import Path
from typing import List, Tuple

import numpy as np

from ...errors import DatasetError
from ..base import DATASETS, MULTICLASS, DataBundle, ImageDataset, Split

SOURCES = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar.html",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar.html",
    "mnist": "http://yann.lecun.com/exdb/mnist/",
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist",
    "svhn": "http://ufldl.stanford.edu/housenumbers/",
}


def _missing(name: str, expected: Path, what: str) -> DatasetError:
    return DatasetError(
        f"{name}: expected {what} at {expected}, but it is not there. "
        f"Set dataset.root to the folder holding it, or add dataset.download=true to fetch it "
        f"(source: {SOURCES[name]})."
    )


def _unpickle(path: Path, name: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DatasetError(f"{name}: {path} is not a readable CIFAR pickle ({exc}); re-download it") from None


def _cifar_arrays(files: List[Path], label_key: str, name: str) -> Tuple[np.ndarray, np.ndarray]:
    data, labels = [], []
    for f in files:
        if not f.is_file():
            raise _missing(name, f, "the batch file")
        entry = _unpickle(f, name)
        if "data" not in entry or label_key not in entry:
            raise DatasetError(f"{name}: {f} has no 'data'/'{label_key}' entries; it is not a CIFAR batch file")
        arr = np.asarray(entry["data"], dtype=np.uint8)
        if arr.ndim != 2 or arr.shape[1] != 3072:
            raise DatasetError(f"{name}: {f} holds data of shape {arr.shape}, expected [N, 3072]")
        data.append(arr.reshape(-1, 3, 32, 32))
        labels.extend(entry[label_key])
    return np.concatenate(data), np.asarray(labels, dtype=np.int64)


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
    kind = MULTICLASS
    key = ""

    def root(self) -> Path:
        return Path(os.path.expanduser(str(self.cfg.root)))

    def download(self) -> None:  # pragma: no cover - needs the network
        raise NotImplementedError

    def read(self) -> DataBundle:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self) -> DataBundle:
        if self.cfg.get("download", False):
            try:
                self.download()
            except Exception as exc:  # noqa: BLE001 - any network failure becomes one message
                raise DatasetError(f"{self.key}: download into {self.root()} failed: {exc}") from None
        return self.read()


@DATASETS.register("cifar10")
class CIFAR10(_TorchvisionFormat):
    key = "cifar10"

    def download(self) -> None:
        from torchvision.datasets import CIFAR10 as TV

        TV(str(self.root()), train=True, download=True)
        TV(str(self.root()), train=False, download=True)

    def read(self) -> DataBundle:
        base = self.root() / "cifar-10-batches-py"
        if not base.is_dir():
            raise _missing(self.key, base, "the folder cifar-10-batches-py")
        train = _cifar_arrays([base / f"data_batch_{i}" for i in range(1, 6)], "labels", self.key)
        test = _cifar_arrays([base / "test_batch"], "labels", self.key)
        meta = base / "batches.meta"
        names = _unpickle(meta, self.key)["label_names"] if meta.is_file() else [str(i) for i in range(10)]
        return DataBundle(kind=MULTICLASS, names=list(names), train=Split(*train), test=Split(*test))


@DATASETS.register("cifar100")
class CIFAR100(_TorchvisionFormat):
    key = "cifar100"

    def download(self) -> None:
        from torchvision.datasets import CIFAR100 as TV

        TV(str(self.root()), train=True, download=True)
        TV(str(self.root()), train=False, download=True)

    def read(self) -> DataBundle:
        base = self.root() / "cifar-100-python"
        if not base.is_dir():
            raise _missing(self.key, base, "the folder cifar-100-python")
        train = _cifar_arrays([base / "train"], "fine_labels", self.key)
        test = _cifar_arrays([base / "test"], "fine_labels", self.key)
        meta = base / "meta"
        names = _unpickle(meta, self.key)["fine_label_names"] if meta.is_file() else [str(i) for i in range(100)]
        return DataBundle(kind=MULTICLASS, names=list(names), train=Split(*train), test=Split(*test))


class _MNISTFormat(_TorchvisionFormat):
    folder = ""
    tv_class = ""
    class_names: List[str] = [str(i) for i in range(10)]

    def download(self) -> None:
        import torchvision.datasets as tvd

        getattr(tvd, self.tv_class)(str(self.root()), train=True, download=True)
        getattr(tvd, self.tv_class)(str(self.root()), train=False, download=True)

    def _file(self, stem: str) -> Path:
        raw = self.root() / self.folder / "raw"
        for candidate in (raw / stem, raw / (stem + ".gz")):
            if candidate.is_file():
                return candidate
        raise _missing(self.key, raw / stem, f"the IDX file {stem}")

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


@DATASETS.register("fashion_mnist")
class FashionMNIST(_MNISTFormat):
    key, folder, tv_class = "fashion_mnist", "FashionMNIST", "FashionMNIST"
    class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@DATASETS.register("svhn")
class SVHN(_TorchvisionFormat):
    key = "svhn"

    def download(self) -> None:
        from torchvision.datasets import SVHN as TV

        TV(str(self.root()), split="train", download=True)
        TV(str(self.root()), split="test", download=True)

    def _split(self, split: str) -> Split:
        from scipy.io import loadmat

        path = self.root() / f"{split}_32x32.mat"
        if not path.is_file():
            raise _missing(self.key, path, f"{split}_32x32.mat")
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
