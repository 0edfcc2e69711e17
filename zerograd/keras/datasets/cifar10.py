"""CIFAR-10: 60,000 32x32 colour images in 10 classes (Krizhevsky, 2009), read from the official
binary version (no pickle)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from zerograd.keras.datasets._idx import find_or_download, search_dirs

BASE_URL = "https://www.cs.toronto.edu/~kriz/"
ARCHIVE = "cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
DEBIAN_DIR = "/usr/share/datasets/cifar10"
TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST = ["test_batch.bin"]
RECORD = 1 + 3 * 32 * 32  # a label byte, then the red, green and blue planes
CLASS_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def parse_batches(blobs: list) -> tuple:
    """(x (N, 32, 32, 3) uint8, y (N, 1) uint8) from the bytes of CIFAR-10 binary batch files."""
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    if data.size % RECORD:
        raise ValueError(
            f"cifar10: a batch file holds {data.size} bytes, not a multiple of the "
            f"{RECORD}-byte record"
        )
    records = data.reshape(-1, RECORD)
    x = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return x, records[:, :1].copy()


def _from_folder(folder: Path) -> tuple:
    train = parse_batches([(folder / f).read_bytes() for f in TRAIN])
    test = parse_batches([(folder / f).read_bytes() for f in TEST])
    return train, test


def _from_archive(path: Path) -> tuple:
    with tarfile.open(path, "r:gz") as tar:

        def read(name: str) -> bytes:
            member = tar.extractfile(f"{FOLDER}/{name}")
            if member is None:
                raise ValueError(f"cifar10: {path} has no file {FOLDER}/{name}")
            return member.read()

        return parse_batches([read(f) for f in TRAIN]), parse_batches([read(f) for f in TEST])


def load_data(download: bool | None = None):
    """((x_train, y_train), (x_test, y_test)): uint8 arrays of shapes (50000, 32, 32, 3),
    (50000, 1), (10000, 32, 32, 3), (10000, 1), channels last, as Keras returns them.

    Looks for the extracted folder ``cifar-10-batches-bin`` or the archive
    ``cifar-10-binary.tar.gz`` in $ZEROGRAD_DATA[/cifar10], ~/.cache/zerograd/cifar10 and
    /usr/share/datasets/cifar10; downloads the archive from the official site only when
    ``download=True`` or ZEROGRAD_ALLOW_DOWNLOAD=1.
    """
    for d in search_dirs("cifar10", DEBIAN_DIR):
        if all((d / FOLDER / f).exists() for f in TRAIN + TEST):
            return _from_folder(d / FOLDER)
    path = find_or_download("cifar10", {"archive": ARCHIVE}, DEBIAN_DIR, BASE_URL, download)
    return _from_archive(path["archive"])
