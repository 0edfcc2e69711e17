"""Public datasets in Keras's format: ``(x_train, y_train), (x_test, y_test) = mnist.load_data()``.

Each loader looks for local files first ($ZEROGRAD_DATA, ~/.cache/zerograd, /usr/share/datasets)
and downloads from the official source only when allowed (``download=True`` or
ZEROGRAD_ALLOW_DOWNLOAD=1); otherwise it raises FileNotFoundError saying where it looked.
"""

from zerograd.keras.datasets import cifar10, fashion_mnist, imdb, mnist
