"""The demo's model and learning-rate schedule (zerograd.apps.train), without training."""

import math

import pytest

from zerograd import keras
from zerograd.apps.train import TrainConfig, _backup_dir, build_cnn, lr_schedule


@pytest.mark.parametrize("epochs", [1, 5, 15])
def test_schedule_warms_up_over_half_an_epoch_and_ends_at_zero_whatever_the_epochs(epochs):
    config = TrainConfig(epochs=epochs)
    s = lr_schedule(config, 54_000)
    steps_per_epoch = math.ceil(54_000 / config.batch_size)  # 844
    total = steps_per_epoch * epochs
    half = steps_per_epoch // 2
    assert s(0) == pytest.approx(config.lr / 10)
    assert s(half // 2) == pytest.approx((config.lr / 10 + config.lr) / 2)  # linear warm-up
    assert s(half) == pytest.approx(config.lr)  # the peak
    assert s(half) > s(total // 2 + half // 2) > s(total - 1) > 0  # cosine decay
    assert s(half + (total - half) // 2) == pytest.approx(config.lr / 2, rel=1e-3)
    assert s(total) == pytest.approx(0.0, abs=1e-12)
    assert s(total + 100) == pytest.approx(0.0, abs=1e-12)  # held after the last step


def test_schedule_of_a_few_steps_stays_valid():
    s = lr_schedule(TrainConfig(epochs=1, batch_size=16), 36)  # 3 steps in all
    assert [s(i) for i in range(4)] == pytest.approx([2e-4, 2e-3, 1e-3, 0.0])


def test_demo_cnn_has_batch_norm_and_the_plain_one_matches_the_benchmark_twin():
    demo, plain = build_cnn(), build_cnn(batch_norm=False)
    bn = [layer for layer in demo.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bn) == 3
    assert demo.count_params() == 422_410
    assert demo.output_shape == (None, 10)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in plain.layers)
    assert (
        plain.count_params() == 421_642
    )  # benchmarks/nn_cases.py's PyTorch net, weight for weight


def test_backup_folder_changes_with_every_option_that_changes_the_run(tmp_path):
    base = TrainConfig()
    folders = {_backup_dir(base, tmp_path)}
    for change in ({"epochs": 6}, {"batch_size": 32}, {"lr": 1e-3}, {"limit": 600}, {"seed": 1}):
        folders.add(_backup_dir(TrainConfig(**change), tmp_path))
    assert len(folders) == 6
    assert _backup_dir(TrainConfig(), tmp_path) == _backup_dir(base, tmp_path)
