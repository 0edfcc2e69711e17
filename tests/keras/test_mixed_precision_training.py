"""Keras mixed-precision training against real Keras 3 (torch backend, CPU): the
LossScaleOptimizer's dynamic loss scaling, compile's automatic wrapping, fit (losses and the
scale sequence), saving and resuming, and the "Mixed precision" guide's example."""

import warnings

import numpy as np
import pytest

from tests.keras.mixed_helpers import RNG, X, Y, np_, restore_policies, scalar  # noqa: F401
from tests.keras.mixed_helpers import both as _both
from zerograd import keras


# --- 1. LossScaleOptimizer -----------------------------------------------------------------------
def _lso(k, **kw):
    return k.mixed_precision.LossScaleOptimizer(k.optimizers.SGD(0.1, momentum=0.5), **kw)


def test_loss_scale_optimizer_steps_as_keras(real_keras):
    """Finite steps unscale and step; a non-finite one is skipped and halves the scale; the
    scale doubles after dynamic_growth_steps finite steps."""
    import torch

    grads = [RNG.standard_normal((3, 2)).astype("float32") for _ in range(9)]
    grads[2][0, 0] = np.inf
    grads[6][1, 1] = np.nan
    trace = []
    for k in (keras, real_keras):
        opt = _lso(k, initial_scale=8.0, dynamic_growth_steps=2)
        v = k.Variable(np.ones((3, 2), "float32"))
        assert scalar(opt.scale_loss(k.ops.convert_to_tensor(np.float32(2.0)))) == 16.0
        steps = []
        for g in grads:
            opt.apply([g if k is keras else torch.tensor(g)], [v])
            steps.append(
                (scalar(opt.dynamic_scale), scalar(opt.step_counter), scalar(opt.iterations))
            )
        trace.append((steps, np_(v)))
    assert trace[0][0] == trace[1][0]
    assert trace[0][0][1:3] == [(16.0, 0, 2), (8.0, 0, 2)]  # doubled, then the inf step skipped
    np.testing.assert_allclose(trace[0][1], trace[1][1], rtol=1e-6, atol=1e-6)


def test_loss_scale_optimizer_config_matches_keras(real_keras):
    from zerograd.keras.saving import deserialize_keras_object, serialize_keras_object

    ours, theirs = (
        _lso(keras, initial_scale=64.0, dynamic_growth_steps=7),
        _lso(real_keras, initial_scale=64.0, dynamic_growth_steps=7),
    )
    a, b = ours.get_config(), theirs.get_config()
    assert a.keys() == b.keys()
    assert (
        (a["initial_scale"], a["dynamic_growth_steps"])
        == (64.0, 7)
        == (
            b["initial_scale"],
            b["dynamic_growth_steps"],
        )
    )
    assert a["inner_optimizer"]["class_name"] == b["inner_optimizer"]["class_name"] == "SGD"
    assert ours.learning_rate == pytest.approx(0.1) and ours.name == "loss_scale_optimizer"
    data = serialize_keras_object(ours)
    assert (data["module"], data["class_name"]) == ("keras.optimizers", "LossScaleOptimizer")
    back = deserialize_keras_object(data)
    assert isinstance(back, keras.optimizers.LossScaleOptimizer)
    assert (back.initial_scale, back.dynamic_growth_steps) == (64.0, 7)
    assert back.inner_optimizer.momentum == 0.5
    revived = real_keras.optimizers.LossScaleOptimizer.from_config(
        real_keras.saving.serialize_keras_object(ours)["config"]
    )
    assert revived.dynamic_growth_steps == 7


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(dynamic=False), ValueError, "dynamic=False"),
        (dict(clipnorm=1.0), ValueError, "does not support `clipnorm`.*inner_optimizer"),
        (dict(foo=1), ValueError, "does not support arguments.*foo"),
        (dict(initial_scale=0.0), ValueError, "initial_scale must be a positive.*0.0"),
        (dict(initial_scale="big"), TypeError, "initial_scale must be a number.*'big'"),
        (dict(dynamic_growth_steps=0), ValueError, "dynamic_growth_steps must be an integer >= 1"),
    ],
)
def test_loss_scale_optimizer_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"LossScaleOptimizer.*{match}"):
        _lso(keras, **kwargs)


def test_loss_scale_optimizer_needs_an_optimizer():
    with pytest.raises(TypeError, match="LossScaleOptimizer: inner_optimizer must be.*str 'adam'"):
        keras.mixed_precision.LossScaleOptimizer("adam")


def test_loss_scale_optimizer_clears_inner_loss_scale_factor():
    inner = keras.optimizers.SGD(0.1, loss_scale_factor=4.0)
    opt = keras.mixed_precision.LossScaleOptimizer(inner, initial_scale=2.0)
    assert inner.loss_scale_factor is None
    assert opt.scale_loss(3.0) == 6.0


# --- 2. compile and fit --------------------------------------------------------------------------
def _classifier(k, opt=None, **compile_kw):
    model = k.Sequential(
        [
            k.Input((8,)),
            k.layers.Dense(16, activation="relu"),
            k.layers.Dense(3),
            k.layers.Activation("softmax", dtype="float32"),
        ]
    )
    model.compile(opt or k.optimizers.SGD(0.1), "sparse_categorical_crossentropy", **compile_kw)
    return model


@pytest.mark.parametrize("policy, auto, wrapped", [
    ("mixed_float16", True, True),
    ("mixed_float16", False, False),
    ("float32", True, False),
    ("float16", True, False),
])  # fmt: skip
def test_compile_wraps_the_optimizer_as_keras(real_keras, policy, auto, wrapped):
    for k in _both(real_keras, policy):
        model = _classifier(k, auto_scale_loss=auto)
        is_lso = isinstance(model.optimizer, k.mixed_precision.LossScaleOptimizer)
        assert is_lso == wrapped
        if wrapped:
            assert model.optimizer.name == "loss_scale_optimizer"
            assert type(model.optimizer.inner_optimizer).__name__ == "SGD"
    lso = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(), initial_scale=4.0)
    keras.mixed_precision.set_global_policy("mixed_float16")
    assert _classifier(keras, lso).optimizer is lso  # never wrapped twice


def _fit_pair(real_keras, epochs=4, batch_size=16, x=X, **lso_kw):
    histories, scales, models = [], [], []
    for k in _both(real_keras):
        opt = k.optimizers.SGD(0.1)
        if lso_kw:
            opt = k.mixed_precision.LossScaleOptimizer(opt, **lso_kw)
        models.append(_classifier(k, opt))
    models[0].set_weights(models[1].get_weights())  # the same start
    for k, model in zip((keras, real_keras), models):
        seen = []
        record = k.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs, m=model, s=seen: s.append(
                (scalar(m.optimizer.dynamic_scale), scalar(m.optimizer.iterations))
            )
        )
        with warnings.catch_warnings():  # an overflow the optimizer skips is silent
            warnings.simplefilter("error", RuntimeWarning)
            h = model.fit(
                x, Y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0,
                callbacks=[record],
            )  # fmt: skip
        histories.append(h.history["loss"])
        scales.append(seen)
    return histories, scales, models


def test_fit_mixed_float16_matches_keras(real_keras):
    (ours, theirs), (s_ours, s_theirs), models = _fit_pair(real_keras)
    assert ours[-1] < ours[0]  # it trains
    np.testing.assert_allclose(ours, theirs, rtol=2e-3, atol=2e-3)
    assert s_ours == s_theirs and s_ours[-1] == (2.0**15, 16.0)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-3)


def test_subclassed_mixed_model_fits_as_keras(real_keras):
    y = RNG.standard_normal((64, 2)).astype("float32")
    models = []
    for k in _both(real_keras):

        class Net(k.Model):
            def __init__(self, hidden, head):
                super().__init__()
                self.hidden, self.head = hidden, head

            def call(self, x):
                return self.head(self.hidden(x))

        model = Net(k.layers.Dense(8, activation="relu"), k.layers.Dense(2, dtype="float32"))
        model(X[:1])
        models.append(model)
    models[0].set_weights(models[1].get_weights())
    losses = []
    for k, model in zip((keras, real_keras), models):
        model.compile(k.optimizers.Adam(0.01), "mse")
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"
        h = model.fit(X, y, epochs=3, batch_size=16, verbose=0, shuffle=False)
        losses.append(h.history["loss"] + [model.evaluate(X, y, verbose=0)])
    assert str(models[0].hidden(X[:2]).dtype) == "float16"
    np.testing.assert_allclose(losses[0], losses[1], rtol=2e-3, atol=2e-3)


def test_fit_with_non_finite_gradients_matches_keras_scale_sequence(real_keras):
    """A scale of 2**24 overflows float16 gradients until it has been halved enough; a NaN
    sample makes one batch's gradients NaN; growth every 3 finite steps."""
    x = X.copy()
    x[37, 2] = np.nan  # batch 9 of 8
    (ours, theirs), (s_ours, s_theirs), _ = _fit_pair(
        real_keras, epochs=2, batch_size=4, x=x, initial_scale=2.0**24, dynamic_growth_steps=3
    )
    assert s_ours == s_theirs
    scale_steps = [s for s, _ in s_ours]
    assert min(scale_steps) < 2.0**24 and any(b > a for a, b in zip(scale_steps, scale_steps[1:]))
    assert s_ours[-1][1] < len(s_ours)  # skipped steps are not iterations


def test_mixed_model_with_loss_scale_state_saved_and_loaded(real_keras, tmp_path):
    _, _, (ours, theirs) = _fit_pair(real_keras, epochs=1, initial_scale=2.0**10,
                                     dynamic_growth_steps=3)  # fmt: skip
    path = str(tmp_path / "lso.keras")
    ours.save(path)
    back = keras.saving.load_model(path)
    assert isinstance(back.optimizer, keras.mixed_precision.LossScaleOptimizer)
    assert (back.optimizer.dynamic_scale, back.optimizer.step_counter) == (
        ours.optimizer.dynamic_scale,
        ours.optimizer.step_counter,
    )
    assert back.optimizer.iterations == ours.optimizer.iterations == 4
    read = real_keras.saving.load_model(path)  # Keras reads the inner optimizer's state too
    assert scalar(read.optimizer.dynamic_scale) == ours.optimizer.dynamic_scale
    assert scalar(read.optimizer.inner_optimizer.iterations) == 4


# --- 3. the guide --------------------------------------------------------------------------------
def _guide(k):
    """Keras's "Mixed precision" guide, on synthetic digits and 64 units (its CPU setting)."""
    policy = k.mixed_precision.Policy("mixed_float16")
    k.mixed_precision.set_global_policy(policy)
    inputs = k.Input(shape=(784,), name="digits")
    dense1 = k.layers.Dense(64, activation="relu", name="dense_1")
    x = dense1(inputs)
    dense2 = k.layers.Dense(64, activation="relu", name="dense_2")
    x = dense2(x)
    printed = [policy.compute_dtype, policy.variable_dtype, str(dense1.dtype_policy), str(x.dtype)]
    printed.append(str(dense1.kernel.dtype).replace("torch.", ""))
    x = k.layers.Dense(10, name="dense_logits")(x)
    wrong = k.layers.Activation("softmax", name="predictions_f16")(x)
    outputs = k.layers.Activation("softmax", dtype="float32", name="predictions")(x)
    printed += [str(wrong.dtype), str(outputs.dtype)]
    model = k.Model(inputs=inputs, outputs=outputs)
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=k.optimizers.RMSprop(),
        metrics=["accuracy"],
    )
    printed.append(type(model.optimizer).__name__)
    return model, printed


def test_guide_example_prints_the_same_dtypes(real_keras):
    ours, printed = _guide(keras)
    theirs, want = _guide(real_keras)
    assert printed == want
    assert want[:2] + want[3:] == ["float16", "float32", "float16", "float32", "float16",
                                   "float32", "LossScaleOptimizer"]  # fmt: skip
    rng = np.random.default_rng(0)
    x = rng.random((256, 784)).astype("float32")
    y = (x[:, :10].argmax(axis=1)).astype("int64")
    ours.set_weights(theirs.get_weights())
    h = ours.fit(x, y, batch_size=64, epochs=3, verbose=0, shuffle=False)
    ref = theirs.fit(x, y, batch_size=64, epochs=3, verbose=0, shuffle=False)
    assert h.history["loss"][-1] < h.history["loss"][0]
    np.testing.assert_allclose(h.history["loss"], ref.history["loss"], rtol=1e-2, atol=1e-2)
    assert ours.optimizer.initial_scale == 2.0**15
    assert ours.predict(x[:3], verbose=0).dtype == np.float32


class CrashError(Exception):
    pass


def test_interrupted_mixed_fit_resumes_with_its_loss_scale(tmp_path):
    """BackupAndRestore keeps the LossScaleOptimizer's scale and its inner optimizer's state:
    a fit interrupted and resumed ends as the uninterrupted one, bit for bit."""

    class CrashAt(keras.callbacks.Callback):
        def __init__(self, at):
            super().__init__()
            self.at, self.n = at, 0

        def on_train_batch_end(self, batch, logs=None):
            self.n += 1
            if self.n == self.at:
                raise CrashError

    def run(backup, extra=()):
        keras.utils.set_random_seed(3)
        keras.mixed_precision.set_global_policy("mixed_float16")
        model = _classifier(
            keras,
            keras.mixed_precision.LossScaleOptimizer(
                keras.optimizers.Adam(0.01), initial_scale=2.0**20, dynamic_growth_steps=2
            ),
        )
        cb = keras.callbacks.BackupAndRestore(str(backup))
        model.fit(X, Y, batch_size=8, epochs=3, verbose=0, callbacks=[cb, *extra])
        return model

    ref = run(tmp_path / "ref")
    with pytest.raises(CrashError):
        run(tmp_path / "b", [CrashAt(13)])
    model = run(tmp_path / "b")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), ref.get_weights()))
    got, want = model.optimizer, ref.optimizer
    assert (got.dynamic_scale, got.step_counter, got.iterations) == (
        want.dynamic_scale,
        want.step_counter,
        want.iterations,
    )
    assert want.dynamic_scale != 2.0**20  # the scale moved during the run
    assert all(
        np.array_equal(a, b)
        for (_, a), (_, b) in zip(got.slot_arrays(), want.slot_arrays(), strict=True)
    )
