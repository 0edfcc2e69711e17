"""Every code example of the seed articles runs with only its import line changed."""

import re
from pathlib import Path

import numpy as np
import pytest

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
IMPORTS = [
    ("import tensorflow as tf", "import zerograd as tf"),
    ("from keras.models import", "from zerograd.keras.models import"),
    ("from keras.layers import", "from zerograd.keras.layers import"),
    ("import keras", "from zerograd import keras"),
]


def seed_examples():
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        for i, block in enumerate(
            re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
        ):
            out.append(pytest.param(block, id=f"{path.name[:3]}-{i}"))
    return out


def _data_for(code: str) -> dict:
    """Small random data of the shapes each example implies (the articles leave x_train undefined)."""
    rng = np.random.default_rng(0)
    if "input_dim=1" in code:  # a 1-D regression
        x = rng.uniform(-1, 1, (64, 1)).astype("float32")
        return {"x_train": x, "y_train": 2 * x + 1}
    n_in = 784 if "784" in code else 20
    n_cls = 2 if "Dense(2," in code else 10
    x = rng.random((96, n_in)).astype("float32")
    y = rng.integers(0, n_cls, 96)
    return {"x_train": x, "y_train": y, "x_val": x[:32], "y_val": y[:32]}


@pytest.mark.skipif(not SEEDS.exists(), reason="the seed articles are not beside the repository")
@pytest.mark.parametrize("code", seed_examples())
def test_seed_example_runs(code):
    for old, new in IMPORTS:
        code = code.replace(old, new)
    assert "tensorflow" not in code and "\nimport keras" not in code
    namespace = _data_for(code)
    code = re.sub(r"epochs=(\d+)", lambda m: f"epochs={min(int(m.group(1)), 2)}, verbose=0", code)
    exec(compile(code, "<seed>", "exec"), namespace)  # noqa: S102 - the test runs the articles' code
    from zerograd import keras

    model = namespace.get("model")
    if model is None:  # an article that only defines a Model subclass: build it and run it
        cls = next(
            v
            for v in namespace.values()
            if isinstance(v, type) and issubclass(v, keras.Model) and v is not keras.Model
        )
        model = cls()
        out = model(namespace["x_train"][:4])
        assert out.shape == (4, 10)
    assert model.count_params() > 0
    if "fit(" in code:
        assert model.history.history["loss"], "fit recorded a loss"


def test_seed_examples_found():
    if SEEDS.exists():
        assert len(seed_examples()) == 5
