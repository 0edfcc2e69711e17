"""Custom train_step / test_step (the pattern of Keras's "customizing fit() with PyTorch" guide)
and a GAN-style model with two optimizers, each run on zerograd and on real Keras with the same
weights and data."""

import contextlib

import numpy as np
import pytest

from zerograd import keras

RNG = np.random.default_rng(2)
X = RNG.random((12, 4), dtype=np.float32)
Y = RNG.random((12, 1), dtype=np.float32)
SW = RNG.random((12, 1), dtype=np.float32)


def no_grad_for(k):
    if k is keras:
        return contextlib.nullcontext
    import torch

    return torch.no_grad


def guide_model(k):
    """The guide's first CustomModel: compiled loss and metrics, self.metrics with a loss tracker."""
    no_grad = no_grad_for(k)

    class CustomModel(k.Model):
        def train_step(self, data):
            if len(data) == 3:
                x, y, sample_weight = data
            else:
                (x, y), sample_weight = data, None
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = k.Input(shape=(4,))
    return CustomModel(inputs, k.layers.Dense(1)(inputs))


def low_level_model(k):
    """The guide's second CustomModel: compile(optimizer=...) only, its own trackers and loss_fn."""
    no_grad = no_grad_for(k)

    class CustomModel(k.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = k.metrics.Mean(name="loss")
            self.mae_metric = k.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = k.losses.MeanSquaredError()

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
            loss.backward()
            weights = self.trainable_weights
            with no_grad():
                self.optimizer.apply_gradients(zip([v.value.grad for v in weights], weights))
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    inputs = k.Input(shape=(4,))
    return CustomModel(inputs, k.layers.Dense(1)(inputs))


def twins(real_keras, build):
    ref, ours = build(real_keras), build(keras)
    ours.set_weights(ref.get_weights())
    return ref, ours


def assert_logs(got: dict, want: dict):
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("weighted", [False, True])
def test_guide_train_step_with_compiled_loss_and_metrics(real_keras, weighted):
    ref, ours = twins(real_keras, guide_model)
    hist = []
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(optimizer=k.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
        h = m.fit(
            X,
            Y,
            sample_weight=SW if weighted else None,
            batch_size=4,
            epochs=2,
            shuffle=False,
            verbose=0,
        )
        hist.append(h.history)
    assert_logs(hist[1], hist[0])
    assert [m.name for m in ours.metrics] == [m.name for m in ref.metrics]
    assert_logs(
        ours.evaluate(X, Y, batch_size=5, verbose=0, return_dict=True),
        ref.evaluate(X, Y, batch_size=5, verbose=0, return_dict=True),
    )


def test_compile_with_only_an_optimizer(real_keras):
    ref, ours = twins(real_keras, low_level_model)
    hist = []
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(optimizer=k.optimizers.SGD(0.1))
        hist.append(m.fit(X, Y, batch_size=4, epochs=3, shuffle=False, verbose=0).history)
    assert_logs(hist[1], hist[0])
    # the trackers listed in `metrics` are reset at each epoch: the last value is the last epoch's
    assert ours.loss_tracker.result() == pytest.approx(hist[1]["loss"][-1])


def test_without_loss_fit_says_what_is_missing():
    inputs = keras.Input(shape=(4,))
    m = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    m.compile(optimizer="adam")
    with pytest.raises(ValueError, match="no loss to compute"):
        m.fit(X, Y, verbose=0)


def gan_parts(k):
    gen = k.Sequential([k.Input((2,)), k.layers.Dense(4, activation="sigmoid")], name="gen")
    disc = k.Sequential([k.Input((4,)), k.layers.Dense(1)], name="disc")
    return gen, disc


def gan_model(k, gen, disc):
    """Two optimizers given to an overridden compile; fixed latent vectors come with the data."""
    no_grad = no_grad_for(k)

    class GAN(k.Model):
        def __init__(self, discriminator, generator):
            super().__init__()
            self.discriminator, self.generator = discriminator, generator
            self.d_loss_tracker = k.metrics.Mean(name="d_loss")
            self.g_loss_tracker = k.metrics.Mean(name="g_loss")
            self.built = True

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        def train_step(self, data):
            real, latent = data
            n = real.shape[0]
            ones, zeros = np.ones((n, 1), np.float32), np.zeros((n, 1), np.float32)
            self.zero_grad()
            fake = self.generator(latent)
            d_loss = self.loss_fn(ones, self.discriminator(real)) + self.loss_fn(
                zeros, self.discriminator(fake)
            )
            d_loss.backward()
            weights = self.discriminator.trainable_weights
            with no_grad():
                self.d_optimizer.apply([v.value.grad for v in weights], weights)
            self.zero_grad()
            g_loss = self.loss_fn(ones, self.discriminator(self.generator(latent)))
            g_loss.backward()
            weights = self.generator.trainable_weights
            with no_grad():
                self.g_optimizer.apply([v.value.grad for v in weights], weights)
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    gan = GAN(disc, gen)
    gan.compile(
        d_optimizer=k.optimizers.Adam(learning_rate=0.01),
        g_optimizer=k.optimizers.SGD(learning_rate=0.1),
        loss_fn=k.losses.BinaryCrossentropy(from_logits=True),
    )
    return gan


def test_gan_with_two_optimizers_matches_keras(real_keras):
    (rg, rd), (g, d) = gan_parts(real_keras), gan_parts(keras)
    g.set_weights(rg.get_weights())
    d.set_weights(rd.get_weights())
    latent = RNG.normal(size=(12, 2)).astype(np.float32)
    hist, weights = [], []
    for k, parts in ((real_keras, (rg, rd)), (keras, (g, d))):
        gan = gan_model(k, *parts)
        hist.append(gan.fit(X, latent, batch_size=4, epochs=2, shuffle=False, verbose=0).history)
        weights.append([w for p in parts for w in p.get_weights()])
    assert_logs(hist[1], hist[0])
    for a, b in zip(weights[1], weights[0]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def compute_metrics_model(k):
    """A train_step built from compute_loss and compute_metrics (the loss tracked by hand)."""
    no_grad = no_grad_for(k)

    class CustomModel(k.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.tracker = k.metrics.Mean(name="tracked_loss")

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
            loss.backward()
            weights = self.trainable_weights
            with no_grad():
                self.optimizer.apply([v.value.grad for v in weights], weights)
            self.tracker.update_state(loss)
            return self.compute_metrics(x, y, y_pred)

    inputs = k.Input(shape=(4,))
    return CustomModel(inputs, k.layers.Dense(1)(inputs))


def test_compute_loss_and_compute_metrics_blocks(real_keras):
    ref, ours = twins(real_keras, compute_metrics_model)
    hist = []
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(optimizer=k.optimizers.SGD(0.1), loss="mse", metrics=["mae", "mse"])
        hist.append(m.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0).history)
    assert "tracked_loss" in hist[1]
    assert_logs(hist[1], hist[0])
