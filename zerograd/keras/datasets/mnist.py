"""MNIST handwritten digits, in the same IDX format and search order as Fashion-MNIST."""

from __future__ import annotations

from zerograd.keras.datasets._idx import load_idx_dataset

BASE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
DEBIAN_DIR = "/usr/share/datasets/mnist"


def load_data(download: bool | None = None):
    return load_idx_dataset("mnist", DEBIAN_DIR, BASE_URL, download)
