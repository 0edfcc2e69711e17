"""The main job end to end on a small slice, and the examples."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zerograd.keras.datasets import fashion_mnist

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    not os.path.exists(fashion_mnist.DEBIAN_DIR),
    reason="Debian dataset-fashion-mnist not installed",
)
def test_train_fashion_mnist_small(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "zerograd.cli",
            "train",
            "fashion-mnist",
            "--limit",
            "600",
            "--epochs",
            "1",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["test_accuracy"] > 0.3  # 1 epoch on 540 images: well above chance (0.1)
    assert (out / "model.keras").stat().st_size > 1000
    assert (out / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    from zerograd import keras

    assert keras.models.load_model(out / "model.keras").count_params() == result.get(
        "params", 421642
    )


def test_cli_reports_missing_data(tmp_path):
    env = {**os.environ, "ZEROGRAD_DATA": str(tmp_path), "HOME": str(tmp_path)}
    code = "import zerograd.keras.datasets.fashion_mnist as f, zerograd.cli as c, sys; f.DEBIAN_DIR='/nonexistent'; sys.exit(c.main(['train','fashion-mnist','--quiet']))"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert r.returncode == 2 and "Looked in" in r.stderr


def test_regression_example_learns_the_line():
    sys.path.insert(0, str(ROOT / "examples"))
    import regression

    w, b, loss = regression.main(epochs=200, log_every=1000)
    assert abs(w - 2) < 0.05 and abs(b - 1) < 0.05 and loss < 0.01
