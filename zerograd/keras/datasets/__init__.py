"""Public datasets in Keras's format: ``(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()``."""

from zerograd.keras.datasets import fashion_mnist, mnist
