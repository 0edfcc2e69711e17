"""Fashion-MNIST: 70,000 28x28 grey images of 10 kinds of clothing (Zalando Research)."""

from __future__ import annotations

from zerograd.keras.datasets._idx import load_idx_dataset

BASE_URL = "https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def load_data(download: bool | None = None):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays of shapes (60000, 28, 28), (60000,),
    (10000, 28, 28), (10000,), as Keras returns them.

    Looks in $ZEROGRAD_DATA[/fashion-mnist], ~/.cache/zerograd/fashion-mnist, then the Debian package's
    /usr/share/datasets/fashion-mnist; downloads from the official source only when ``download=True``
    or ZEROGRAD_ALLOW_DOWNLOAD=1.
    """
    return load_idx_dataset("fashion-mnist", DEBIAN_DIR, BASE_URL, download)
