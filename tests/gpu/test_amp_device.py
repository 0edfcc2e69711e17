"""Mixed precision on the device: autocast('cuda') runs the matmuls and attention in float16 and
the losses and norms in float32, GradScaler scales and skips on the device's gradients, and the
training equals the same program under autocast('cpu', float16) within half precision."""

from __future__ import annotations

import numpy as np

import zerograd as zg
from zerograd import nn, optim


def _train(device, steps=6, poison_step=None):
    zg.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.LayerNorm(64), nn.Linear(64, 4))
    model.to(device)
    opt = optim.AdamW(model.parameters(), lr=1e-2)
    scaler = zg.amp.GradScaler(device.split(":")[0], init_scale=2.0**10, growth_interval=3)
    rng = np.random.default_rng(0)
    x = zg.tensor(rng.standard_normal((16, 32)).astype("float32"), device=device)
    t = zg.tensor(np.arange(16) % 4, device=device)
    losses, scales = [], []
    for step in range(steps):
        opt.zero_grad()
        with zg.autocast(device.split(":")[0], dtype="float16"):
            hidden = model[0](x)
            loss = nn.functional.cross_entropy(model(x), t)
        assert hidden.dtype == np.float16 and loss.dtype == np.float32
        scaler.scale(loss).backward()
        if step == poison_step:
            model[0].weight.grad.data[0, 0] = np.inf
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
        scales.append(scaler.get_scale())
    assert all(p.grad.dtype == np.float32 and p.device == device for p in model.parameters())
    return losses, scales


def test_autocast_training_on_the_device_equals_the_cpu():
    dev_losses, dev_scales = _train("cuda:0", poison_step=2)
    cpu_losses, cpu_scales = _train("cpu", poison_step=2)
    assert dev_scales == cpu_scales == [1024.0, 1024.0, 512.0, 512.0, 512.0, 1024.0]
    np.testing.assert_allclose(dev_losses, cpu_losses, rtol=2e-3)
    assert dev_losses[-1] < dev_losses[0]


def test_attention_under_autocast_on_the_device():
    q = zg.randn(2, 4, 64, 16, device="cuda", requires_grad=True)
    with zg.autocast("cuda", dtype="float16"):
        y = nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    assert y.dtype == np.float16 and y.device == "cuda:0"
    y.float().sum().backward()
    assert q.grad.dtype == np.float32 and q.grad.device == "cuda:0"
    ref = nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    np.testing.assert_allclose(y.float().numpy(), ref.numpy(), atol=5e-3)


def test_keras_mixed_float16_fit_on_the_device_equals_the_cpu():
    from zerograd import keras

    x = np.random.default_rng(0).standard_normal((64, 20)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, 64)

    def run(device):
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            with keras.device(device):
                keras.utils.set_random_seed(0)
                model = keras.Sequential(
                    [
                        keras.Input((20,)),
                        keras.layers.Dense(32, activation="relu"),
                        keras.layers.BatchNormalization(),
                        keras.layers.Dense(3),
                        keras.layers.Activation("softmax", dtype="float32"),
                    ]
                )
                model.compile("adam", "sparse_categorical_crossentropy")
                hist = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        return model, hist.history["loss"]

    model, losses = run("gpu")
    _, cpu_losses = run("cpu")
    assert model.weights[0].device == "cuda:0" and model.weights[0].dtype == "float32"
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    np.testing.assert_allclose(losses, cpu_losses, rtol=2e-3)
