"""Real Keras 3 is the oracle of the facade, as PyTorch is of the core: it runs on its torch backend."""

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(scope="session")
def real_keras():
    """The real Keras 3 package (torch backend), imported once per test process."""
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"real Keras runs on the {keras.backend.backend()!r} backend, not torch")
    return keras
