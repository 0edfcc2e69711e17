"""Callbacks: hook order and logs against real Keras on the same tiny model, EarlyStopping and
ModelCheckpoint behaviour against real Keras, the shared monitor helper, progress output."""

import re

import numpy as np
import pytest

from zerograd import keras

RNG = np.random.default_rng(1)
X = RNG.random((8, 3), dtype=np.float32)
Y = RNG.random((8, 1), dtype=np.float32)

HOOKS_NO_INDEX = [
    "train_begin",
    "train_end",
    "test_begin",
    "test_end",
    "predict_begin",
    "predict_end",
]
HOOKS_INDEX = [
    "epoch_begin",
    "epoch_end",
    "train_batch_begin",
    "train_batch_end",
    "test_batch_begin",
    "test_batch_end",
    "predict_batch_begin",
    "predict_batch_end",
]


def recorder(k):
    """A callback class of library ``k`` recording (hook, index, logs) for every hook."""

    def no_index(name):
        return lambda self, logs=None: self.events.append((name, None, logs))

    def index(name):
        return lambda self, i, logs=None: self.events.append((name, i, logs))

    body = {f"on_{n}": no_index(n) for n in HOOKS_NO_INDEX}
    body.update({f"on_{n}": index(n) for n in HOOKS_INDEX})
    cls = type("Recorder", (k.callbacks.Callback,), body)

    def init(self):
        k.callbacks.Callback.__init__(self)
        self.events = []

    cls.__init__ = init
    return cls


def tiny(k, weights=None):
    m = k.Sequential([k.Input((3,)), k.layers.Dense(1)])
    if weights is not None:
        m.set_weights(weights)
    m.compile(k.optimizers.SGD(0.1), "mse", metrics=["mae"])
    return m


def run_all(k, weights):
    m, rec = tiny(k, weights), recorder(k)()
    m.fit(
        X,
        Y,
        batch_size=4,
        epochs=2,
        verbose=0,
        validation_split=0.5,
        shuffle=False,
        callbacks=[rec],
    )
    m.evaluate(X, Y, batch_size=4, verbose=0, callbacks=[rec])
    m.predict(X, batch_size=4, verbose=0, callbacks=[rec])
    return rec


def test_hook_order_logs_and_params_match_keras(real_keras):
    w = tiny(real_keras).get_weights()
    ref, ours = run_all(real_keras, w), run_all(keras, w)
    assert [e[:2] for e in ours.events] == [e[:2] for e in ref.events]
    for (name, i, got), (_, _, want) in zip(ours.events, ref.events):
        assert isinstance(got, dict), (name, i)
        assert sorted(got) == sorted(want), (name, i)
        for key, value in want.items():
            if key == "outputs":
                np.testing.assert_allclose(got[key], np.asarray(value), atol=1e-5)
            else:
                assert isinstance(got[key], float)
                assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (name, i, key)
    assert ours.params == ref.params


def test_batch_hook_aliases_lambda_callback_and_stop_training():
    m = tiny(keras)
    seen = []

    class OldStyle(keras.callbacks.Callback):
        def on_batch_end(self, batch, logs):
            seen.append(("batch_end", batch, sorted(logs)))

    def stop(batch, logs):
        m.stop_training = batch == 0

    lam = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch)),
        on_train_batch_end=stop,
        on_test_begin=lambda logs: seen.append(("test", logs)),
    )
    h = m.fit(X, Y, batch_size=2, epochs=3, verbose=0, callbacks=[OldStyle(), lam])
    assert seen == [("batch_end", 0, ["loss", "mae"]), ("epoch", 0)]
    assert h.epoch == [0]
    with pytest.raises(TypeError, match="unexpected keyword argument 'on_nothing'"):
        keras.callbacks.LambdaCallback(on_nothing=print)


def early_stopping_run(k, weights, **es_kwargs):
    m = k.Sequential([k.Input((3,)), k.layers.Dense(1)])
    m.set_weights(weights)
    m.compile(k.optimizers.SGD(0.9), "mse")  # a large step: the loss goes up and down
    es = k.callbacks.EarlyStopping(**es_kwargs)
    h = m.fit(X, 3 * Y, batch_size=2, epochs=8, verbose=0, shuffle=False, callbacks=[es])
    return h.history["loss"], m.get_weights(), es


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(monitor="loss", patience=1, restore_best_weights=True),
        dict(monitor="loss", patience=20, restore_best_weights=True),  # never stops: still restores
        dict(monitor="loss", patience=2, restore_best_weights=True, start_from_epoch=3),
        dict(monitor="loss", patience=1, min_delta=0.5, baseline=5.0),
    ],
)
def test_early_stopping_matches_keras(real_keras, kwargs):
    w = [RNG.normal(size=(3, 1)).astype(np.float32), np.zeros(1, np.float32)]
    ref_loss, ref_w, ref_es = early_stopping_run(real_keras, w, **kwargs)
    loss, got_w, es = early_stopping_run(keras, w, **kwargs)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-4)
    for a, b in zip(got_w, ref_w):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert (es.stopped_epoch, es.best_epoch, es.wait) == (
        ref_es.stopped_epoch,
        ref_es.best_epoch,
        ref_es.wait,
    )


def saved_names(k, tmp_path, filepath, weights, **kwargs):
    m = tiny(k, weights)
    ck = k.callbacks.ModelCheckpoint(str(tmp_path / filepath), **kwargs)
    m.fit(
        X,
        Y,
        batch_size=2,
        epochs=2,
        verbose=0,
        validation_split=0.25,
        shuffle=False,
        callbacks=[ck],
    )
    return sorted(p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    "filepath, kwargs",
    [
        ("m-{epoch:02d}-{batch}.keras", dict(save_freq=2)),
        ("m-{epoch:02d}-{loss:.1f}.keras", dict(save_freq=3)),
        ("best-{epoch}.keras", dict(monitor="val_loss", save_best_only=True)),
        ("every-{epoch:02d}.keras", dict()),
    ],
)
def test_model_checkpoint_file_names_match_keras(real_keras, tmp_path, filepath, kwargs):
    (tmp_path / "k").mkdir()
    (tmp_path / "z").mkdir()
    w = tiny(real_keras).get_weights()
    want = saved_names(real_keras, tmp_path / "k", filepath, w, **kwargs)
    got = saved_names(keras, tmp_path / "z", filepath, w, **kwargs)
    if "loss" in filepath:  # the values in the names depend on the weights: compare the pattern
        want, got = ([re.sub(r"\d+\.\d", "L", n) for n in names] for names in (want, got))
    assert got == want


def test_model_checkpoint_errors(tmp_path):
    m = tiny(keras)
    ck = keras.callbacks.ModelCheckpoint(str(tmp_path / "m-{val_acc:.2f}.keras"))
    with pytest.raises(KeyError, match=r"no value for 'val_acc'.*'epoch', 'loss', 'mae'"):
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[ck])
    with pytest.raises(ValueError, match="must end in '.weights.h5'"):
        keras.callbacks.ModelCheckpoint("w.keras", save_weights_only=True)
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive number"):
        keras.callbacks.ModelCheckpoint("m.keras", save_freq="batch")


def test_monitor_helper_modes():
    m = tiny(keras)
    m.compile("sgd", "mse", metrics=["mae", "accuracy"])
    for monitor, mode, direction in [
        ("val_loss", "auto", "min"),
        ("val_accuracy", "auto", "max"),
        ("mae", "auto", "min"),
        ("val_loss", "max", "max"),
    ]:
        cb = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode)
        cb.set_model(m)
        cb._set_monitor_op()
        assert cb.monitor_op == direction, monitor
    cb = keras.callbacks.ReduceLROnPlateau(monitor="custom_score")
    cb.set_model(m)
    with pytest.raises(ValueError, match="pass mode='max' or mode='min'"):
        cb._set_monitor_op()
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        keras.callbacks.ModelCheckpoint("m.keras", mode="up")
    es = keras.callbacks.EarlyStopping(monitor="loss", min_delta=0.1)
    es.set_model(m)
    assert es._is_improvement(1.0, None) and es._is_improvement(0.85, 1.0)
    assert not es._is_improvement(0.95, 1.0)


def masked(text: str) -> list:
    """Progress output with numbers and timings masked, bars reduced to their last state."""
    lines = [line.split("\r")[-1].replace("\b", "").rstrip() for line in text.split("\n")]
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines if line.strip()]
    lines = [re.sub(r"\d+(ms|us|s)/step", "T/step", line) for line in lines]
    lines = [re.sub(r"\b\d+s\b", "Ns", line) for line in lines]
    return [re.sub(r"-?\d+\.\d+(e[-+]\d+)?", "V", line) for line in lines]


@pytest.mark.parametrize("verbose", [1, 2])
def test_progress_output_has_keras_shape(real_keras, capsys, verbose):
    out = []
    for k in (real_keras, keras):
        m = tiny(k)
        m.fit(X, Y, batch_size=4, epochs=2, verbose=verbose, validation_split=0.5)
        m.evaluate(X, Y, batch_size=4, verbose=verbose)
        m.predict(X, batch_size=4, verbose=verbose)
        out.append(masked(capsys.readouterr().out))
    if verbose == 1:  # same lines; Keras's bar characters and spacing differ a little
        out = [[re.sub(r"[━\s]+", " ", line) for line in lines] for lines in out]
    assert out[1] == out[0]
    m = tiny(keras)
    m.fit(X, Y, epochs=1, verbose=0)
    m.evaluate(X, Y, verbose=0)
    assert capsys.readouterr().out == ""
