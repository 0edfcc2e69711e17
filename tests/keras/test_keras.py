"""Keras facade behaviour: definitions, defaults, compile/fit/evaluate/predict, callbacks, saving."""

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import keras
from zerograd.keras import layers as L


def blobs(n=200, d=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, d)).astype("float32") + (y[:, None] * 2.5)
    return x, y


def test_three_ways_to_define_give_the_same_parameter_count():
    seq = keras.Sequential([L.Dense(128, activation="relu", input_shape=(784,)), L.Dense(10)])
    inputs = keras.Input(shape=(784,))
    func = keras.Model(inputs=inputs, outputs=L.Dense(10)(L.Dense(128, activation="relu")(inputs)))

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = L.Dense(128, activation="relu"), L.Dense(10)

        def call(self, x, training=None):
            return self.b(self.a(x))

    sub = Sub()
    sub(np.zeros((1, 784), "float32"))
    assert seq.count_params() == func.count_params() == sub.count_params() == 784 * 128 + 128 + 1290
    assert sub.name.startswith("sub")


def test_dense_defaults_glorot_uniform_kernel_zero_bias():
    zg.manual_seed(0)
    d = L.Dense(200)
    d(np.zeros((1, 300), "float32"))
    limit = np.sqrt(6 / (300 + 200))
    k = d.get_weights()[0]
    assert k.shape == (300, 200) and np.abs(k).max() <= limit and np.abs(k).max() > 0.95 * limit
    assert not d.get_weights()[1].any()


def test_summary_lists_layers_shapes_and_counts():
    model = keras.Sequential(
        [
            L.Conv2D(8, 3, activation="relu", input_shape=(28, 28, 1)),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(10),
        ]
    )
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, 26, 26, 8)" in text and "(None, 13, 13, 8)" in text and "(None, 1352)" in text
    assert "Total params: 13,610" in text  # 8*9+8 + 1352*10+10


def test_fit_learns_a_separable_problem_and_history_keys():
    zg.manual_seed(0)
    x, y = blobs()
    model = keras.Sequential(
        [L.Dense(8, activation="relu", input_shape=(4,)), L.Dense(1, activation="sigmoid")]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    h = model.fit(x, y, epochs=15, batch_size=16, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert h.history["loss"][-1] < h.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.9
    assert model.predict(x[:5]).shape == (5, 1)
    assert isinstance(model.metrics_objs[0], keras.metrics.BinaryAccuracy)


def test_accuracy_resolution_follows_the_loss():
    x, y = blobs(40)
    for loss, cls, target in [
        ("sparse_categorical_crossentropy", keras.metrics.SparseCategoricalAccuracy, y),
        ("categorical_crossentropy", keras.metrics.CategoricalAccuracy, np.eye(2)[y]),
    ]:
        m = keras.Sequential([L.Dense(2, activation="softmax", input_shape=(4,))])
        m.compile("sgd", loss, ["accuracy"])
        m.fit(x, target, epochs=1, verbose=0)
        assert isinstance(m.metrics_objs[0], cls)


def test_validation_split_takes_the_last_fraction():
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["ok"] = True

    x = np.arange(100, dtype="float32").reshape(100, 1)
    y = x.copy()
    m = keras.Sequential([L.Dense(1, input_shape=(1,))])
    m.compile("sgd", "mse")
    m.fit(x, y, epochs=1, validation_split=0.2, verbose=0, callbacks=[Probe()])
    val = m.evaluate(x[80:], y[80:], verbose=0)
    assert m.history.history["val_loss"][0] == pytest.approx(val, rel=1e-5)


def test_second_fit_continues_training():
    x, y = blobs()
    m = keras.Sequential([L.Dense(1, activation="sigmoid", input_shape=(4,))])
    m.compile("adam", "binary_crossentropy")
    m.fit(x, y, epochs=2, verbose=0)
    w = m.get_weights()[0].copy()
    m.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(w, m.get_weights()[0]) and m.optimizer.iterations > 2 * 7


def test_early_stopping_restores_best_weights():
    x, y = blobs()
    m = keras.Sequential([L.Dense(1, activation="sigmoid", input_shape=(4,))])
    m.compile(keras.optimizers.SGD(5.0), "binary_crossentropy")
    es = keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    snapshots = []

    class Keep(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append((logs["loss"], self.model.get_weights()))

    m.fit(x, y, epochs=30, verbose=0, callbacks=[Keep(), es])
    best = min(snapshots, key=lambda s: s[0])
    for a, b in zip(m.get_weights(), best[1]):
        np.testing.assert_allclose(a, b)


def test_save_and_load_round_trip(tmp_path):
    x, y = blobs()
    inputs = keras.Input(shape=(4,))
    h = L.Dense(8, activation="relu")(inputs)
    out = L.Dense(2, activation="softmax")(L.Dropout(0.1)(h))
    m = keras.Model(inputs, out)
    m.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    m.fit(x, y, epochs=2, verbose=0)
    m.save(tmp_path / "m.keras")
    m2 = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(m2.predict(x), m.predict(x), atol=1e-6)
    assert m2.evaluate(x, y, verbose=0)[1] == pytest.approx(m.evaluate(x, y, verbose=0)[1])
    seq = keras.Sequential(
        [L.Conv2D(4, 3, input_shape=(8, 8, 1)), L.BatchNormalization(), L.Flatten(), L.Dense(3)]
    )
    seq.save(tmp_path / "s.keras")
    xi = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "s.keras").predict(xi), seq.predict(xi), atol=1e-6
    )


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    m = keras.Sequential([L.Dense(2, input_shape=(3,))])
    path = tmp_path / "m.keras"
    m.save(path)
    before = path.read_bytes()
    import zerograd.keras.saving as saving

    monkeypatch.setattr(
        saving, "_weights_bytes", lambda model: (_ for _ in ()).throw(OSError("disk full"))
    )
    with pytest.raises(OSError):
        m.save(path)
    assert path.read_bytes() == before
    monkeypatch.undo()
    import zipfile

    calls = []

    def failing_writestr(self, name, data, *a, **k):  # fails half-way through the zip
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_writestr(self, name, data, *a, **k)

    real_writestr = zipfile.ZipFile.writestr
    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]  # no temporary file left


def test_subclassed_model_save_weights(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(3)

        def call(self, x):
            return self.d(x)

    a, b = Net(), Net()
    x = np.ones((2, 4), "float32")
    a(x)
    b(x)
    a.save_weights(tmp_path / "w.safetensors")
    b.load_weights(tmp_path / "w.safetensors")
    np.testing.assert_allclose(a.predict(x), b.predict(x))


def test_dense_and_conv2d_match_torch_with_copied_weights():
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype("float32")
    conv = L.Conv2D(4, 3, padding="same", strides=2)
    y = conv(x).numpy()
    k, b = conv.get_weights()
    ref = torch.nn.functional.conv2d(
        torch.from_numpy(x).permute(0, 3, 1, 2),
        torch.from_numpy(k).permute(3, 2, 0, 1),
        torch.from_numpy(b),
        stride=2,
        padding=1,
    )
    # TensorFlow 'same' with stride 2 on 6 pixels pads (0, 1); PyTorch's padding=1 pads (1, 1): compare the shared part
    ref_tf = torch.nn.functional.conv2d(
        torch.nn.functional.pad(torch.from_numpy(x).permute(0, 3, 1, 2), (0, 1, 0, 1)),
        torch.from_numpy(k).permute(3, 2, 0, 1),
        torch.from_numpy(b),
        stride=2,
    )
    np.testing.assert_allclose(y, ref_tf.permute(0, 2, 3, 1).numpy(), atol=1e-5)
    assert y.shape == (2, 3, 3, 4) and ref.shape[2:] == (3, 3)


def test_lstm_gru_shapes_and_torch_equivalence():
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    lstm = L.LSTM(4, return_sequences=True, return_state=True)
    seq, h, c = lstm(x)
    assert seq.shape == (2, 5, 4) and h.shape == (2, 4) and c.shape == (2, 4)
    k, rk, b = lstm.get_weights()
    t = torch.nn.LSTM(3, 4, batch_first=True)
    with torch.no_grad():
        t.weight_ih_l0.copy_(torch.from_numpy(k.T))
        t.weight_hh_l0.copy_(torch.from_numpy(rk.T))
        t.bias_ih_l0.copy_(torch.from_numpy(b))
        t.bias_hh_l0.zero_()
    ref, _ = t(torch.from_numpy(x))
    np.testing.assert_allclose(seq.numpy(), ref.detach().numpy(), atol=1e-5)
    assert b[4:8].tolist() == [1, 1, 1, 1]  # unit_forget_bias
    gru = L.GRU(4)
    assert gru(x).shape == (2, 4) and gru.get_weights()[2].shape == (2, 12)
    bi = L.Bidirectional(L.LSTM(4, return_sequences=True))
    assert bi(x).shape == (2, 5, 8)


def test_other_layers_run():
    x = np.random.default_rng(0).random((2, 6, 6, 3)).astype("float32")
    assert L.AveragePooling2D(2, padding="same")(x).shape == (2, 3, 3, 3)
    assert L.GlobalAveragePooling2D()(x).shape == (2, 3)
    assert L.Reshape((36, 3))(x).shape == (2, 36, 3)
    assert L.Conv1D(5, 3, padding="same")(x[:, 0]).shape == (2, 6, 5)
    assert L.Embedding(10, 4)(np.array([[1, 2, 3]])).shape == (1, 3, 4)
    assert L.LayerNormalization()(x).shape == x.shape
    mha = L.MultiHeadAttention(num_heads=2, key_dim=4)
    out, scores = mha(x[:, 0], x[:, 1], return_attention_scores=True)
    assert out.shape == (2, 6, 3) and scores.shape == (2, 2, 6, 6)
    a, b = keras.Input((3,)), keras.Input((3,))
    m = keras.Model([a, b], [L.Add()([a, b]), L.Concatenate()([a, b])])
    s, c = m([np.ones((2, 3), "float32"), np.ones((2, 3), "float32")])
    assert s.shape == (2, 3) and c.shape == (2, 6)


def test_regularizer_adds_to_the_loss():
    d = L.Dense(2, kernel_regularizer=keras.regularizers.l2(0.5), input_shape=(3,))
    m = keras.Sequential([d])
    k = d.get_weights()[0]
    assert m.losses[0].item() == pytest.approx(0.5 * (k**2).sum(), rel=1e-5)


def test_metrics_precision_recall_auc_topk():
    y = np.array([1, 0, 1, 1, 0])
    p = np.array([0.9, 0.2, 0.4, 0.8, 0.6])
    assert keras.metrics.Precision()(y, p) == pytest.approx(2 / 3)
    assert keras.metrics.Recall()(y, p) == pytest.approx(2 / 3)
    assert keras.metrics.AUC()(y, p) == pytest.approx(5 / 6, abs=0.01)
    assert (
        keras.metrics.TopKCategoricalAccuracy(k=2)(
            np.eye(3)[[0, 1]], np.array([[0.5, 0.3, 0.2], [0.6, 0.1, 0.3]])
        )
        == 0.5
    )


def test_bad_input_names_the_layer():
    d = L.Dense(10, name="dense_2")
    d(np.zeros((1, 784), "float32"))
    with pytest.raises(
        ValueError,
        match=r"Dense 'dense_2' expected input with last axis 784, received shape \(32, 28, 28\)",
    ):
        d(np.zeros((32, 28, 28), "float32"))
    with pytest.raises(ValueError, match="unknown loss"):
        keras.Sequential([L.Dense(1, input_shape=(2,))]).compile("adam", "not_a_loss")
    with pytest.raises(ValueError, match="call compile"):
        keras.Sequential([L.Dense(1, input_shape=(2,))]).fit(np.ones((2, 2)), np.ones(2))


def test_fit_accepts_a_dataloader():
    from zerograd.data import DataLoader, TensorDataset

    x, y = blobs()
    m = keras.Sequential([L.Dense(1, activation="sigmoid", input_shape=(4,))])
    m.compile("adam", "binary_crossentropy", ["accuracy"])
    h = m.fit(
        DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=0),
        epochs=2,
        verbose=0,
    )
    assert len(h.history["loss"]) == 2


def test_csv_logger_and_plot_history(tmp_path):
    from zerograd.keras.utils import plot_history

    x, y = blobs(50)
    m = keras.Sequential([L.Dense(1, activation="sigmoid", input_shape=(4,))])
    m.compile("adam", "binary_crossentropy", ["accuracy"])
    h = m.fit(
        x,
        y,
        epochs=2,
        verbose=0,
        validation_split=0.2,
        callbacks=[keras.callbacks.CSVLogger(tmp_path / "log.csv")],
    )
    rows = (tmp_path / "log.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,") and len(rows) == 3
    png = plot_history(h, tmp_path / "curves.png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_checkpoint_scheduler_plateau_nan_and_weights(tmp_path):
    x, y = blobs(64)
    m = keras.Sequential([L.Dense(1, activation="sigmoid", input_shape=(4,))])
    m.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    lrs = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            lrs.append(self.model.optimizer.learning_rate)

    ckpt = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "best-{epoch:02d}.keras"), monitor="loss", save_best_only=True
    )
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch)
    m.fit(x, y, epochs=3, verbose=0, callbacks=[sched, Watch(), ckpt])
    assert lrs == pytest.approx([0.1, 0.05, 0.025])
    assert sorted(p.name for p in tmp_path.glob("best-*.keras"))[0] == "best-01.keras"
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0, min_delta=10.0
    )
    m.fit(x, y, epochs=2, verbose=0, callbacks=[plateau])
    assert m.optimizer.learning_rate == pytest.approx(
        0.025 * 0.5
    )  # epoch 1 improves on inf, epoch 2 does not
    bad = x.copy()
    bad[0, 0] = np.nan
    h = m.fit(
        bad,
        y,
        epochs=5,
        batch_size=8,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.TerminateOnNaN()],
    )
    assert len(h.history["loss"]) == 1 and np.isnan(h.history["loss"][0])


def test_class_weight_sample_weight_and_initial_epoch():
    x, y = blobs(64)
    m = keras.Sequential([L.Dense(1, activation="sigmoid", input_shape=(4,))])
    m.compile("sgd", "binary_crossentropy")
    w = m.get_weights()
    plain = m.train_on_batch(x, y)
    m.set_weights(w)
    weighted = m.train_on_batch(x, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    m.set_weights(w)
    by_class = m.train_on_batch(x, y, class_weight={0: 1.0, 1: 3.0})
    assert weighted == pytest.approx(by_class) and weighted != pytest.approx(plain)
    h = m.fit(x, y, epochs=4, initial_epoch=2, verbose=0)
    assert h.epoch == [2, 3]


@pytest.mark.parametrize("units", [0, -1, 2.5, "3"])
def test_dense_rejects_units_that_are_not_positive_integers_as_keras(units, real_keras):
    with pytest.raises(ValueError, match="units"):
        real_keras.layers.Dense(units)
    with pytest.raises(
        ValueError, match=f"Dense 'dense.*': units must be a positive integer, received {units!r}"
    ):
        L.Dense(units)
