"""MNIST handwritten digits, in the same IDX format and search order as Fashion-MNIST."""

from __future__ import annotations

from zerograd.keras.datasets._idx import load_idx_dataset

BASE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
DEBIAN_DIR = "/usr/share/datasets/mnist"


def load_data(download: bool | None = None):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays of shapes (60000, 28, 28), (60000,),
    (10000, 28, 28), (10000,), as Keras returns them.

    Looks for the four IDX files (``train-images-idx3-ubyte.gz`` ...) in $ZEROGRAD_DATA[/mnist],
    ~/.cache/zerograd/mnist, then /usr/share/datasets/mnist; downloads them from the official
    mirror only when ``download=True`` or ZEROGRAD_ALLOW_DOWNLOAD=1.
    """
    return load_idx_dataset("mnist", DEBIAN_DIR, BASE_URL, download)
