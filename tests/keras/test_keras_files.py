"""Real Keras 3 files both ways: .keras archives and .weights.h5, written by Keras (torch backend)
and read by zerograd, and written by zerograd and read by Keras; predictions agree."""

import json
import zipfile

import numpy as np
import pytest

from zerograd import keras as zk

TOL = dict(rtol=1e-5, atol=1e-5)


def _rng():
    return np.random.default_rng(0)


def _keras_sequential(keras):
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            L.Conv2D(3, 3, padding="same", activation="relu"),
            L.MaxPooling2D(),
            L.AveragePooling2D(pool_size=1),
            L.BatchNormalization(),
            L.Flatten(),
            L.Dropout(0.2),
            L.Dense(4),
        ]
    )


def _keras_recurrent(keras):
    L = keras.layers
    inp = keras.Input((5,), dtype="int32")
    x = L.Embedding(10, 4)(inp)
    x = L.LSTM(3, return_sequences=True)(x)
    x = L.GRU(3, return_sequences=True)(x)
    x = L.SimpleRNN(3, return_sequences=True)(x)
    x = L.LayerNormalization()(x)
    x = L.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
    out = L.Dense(2)(L.Flatten()(x))
    return keras.Model(inp, out)


def _keras_two_inputs(keras):
    L = keras.layers
    a, b = keras.Input((3,), name="a"), keras.Input((4,), name="b")
    h = L.Concatenate()([L.Dense(2, activation="tanh")(a), L.Dense(2)(b)])
    return keras.Model([a, b], [L.Dense(1)(h), L.Dense(2)(h)])


def _data(kind):
    rng = _rng()
    if kind == "seq":
        return rng.standard_normal((4, 6, 6, 2)).astype("float32"), rng.standard_normal((4, 4))
    if kind == "rnn":
        return rng.integers(0, 10, (4, 5)).astype("int32"), rng.standard_normal((4, 2))
    x = [
        rng.standard_normal((4, 3)).astype("float32"),
        rng.standard_normal((4, 4)).astype("float32"),
    ]
    return x, [rng.standard_normal((4, 1)), rng.standard_normal((4, 2))]


BUILDERS = {"seq": _keras_sequential, "rnn": _keras_recurrent, "two": _keras_two_inputs}


def _outputs(y):
    return [np.asarray(a) for a in (y if isinstance(y, list) else [y])]


@pytest.mark.parametrize("kind", ["seq", "rnn", "two"])
def test_keras_file_loads_in_zerograd_with_same_predictions(real_keras, tmp_path, kind):
    keras = real_keras
    km = BUILDERS[kind](keras)
    km.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    x, y = _data(kind)
    km.fit(x, y, epochs=2, verbose=0)
    km.save(tmp_path / "k.keras")
    zm = zk.models.load_model(tmp_path / "k.keras")
    for a, b in zip(_outputs(km.predict(x, verbose=0)), _outputs(zm.predict(x, verbose=0))):
        np.testing.assert_allclose(b, a, **TOL)
    assert type(zm.optimizer).__name__ == "SGD"
    assert zm.optimizer.learning_rate == pytest.approx(0.05)
    assert zm.optimizer.momentum == pytest.approx(0.9)
    assert zm.optimizer.iterations == int(km.optimizer.iterations)


@pytest.mark.parametrize("kind", ["seq", "rnn", "two"])
def test_zerograd_file_loads_in_keras_with_same_predictions(real_keras, tmp_path, kind):
    keras = real_keras
    # the same architecture built in zerograd: Keras's config read by zerograd, fresh weights
    km = BUILDERS[kind](keras)
    zm = zk.Model.from_config(km.get_config()) if kind != "seq" else None
    if zm is None:
        zm = zk.Sequential.from_config(km.get_config())
    zm.compile(zk.optimizers.Adam(0.01), "mse")
    x, y = _data(kind)
    zm.fit(x, y, epochs=2, verbose=0)
    zm.save(tmp_path / "z.keras")
    names = zipfile.ZipFile(tmp_path / "z.keras").namelist()
    assert sorted(names) == ["config.json", "metadata.json", "model.weights.h5"]
    loaded = keras.models.load_model(tmp_path / "z.keras")
    for a, b in zip(_outputs(zm.predict(x, verbose=0)), _outputs(loaded.predict(x, verbose=0))):
        np.testing.assert_allclose(b, a, **TOL)
    assert type(loaded.optimizer).__name__ == "Adam"
    assert int(loaded.optimizer.iterations) == zm.optimizer.iterations


def test_training_continues_the_same_after_loading_a_keras_file(real_keras, tmp_path):
    keras = real_keras
    rng = _rng()
    x, y = rng.standard_normal((8, 4)).astype("float32"), rng.standard_normal((8, 2))
    for opt in (keras.optimizers.SGD(0.1, momentum=0.9), keras.optimizers.Adam(0.01)):
        km = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
        km.compile(opt, "mse")
        km.fit(x, y, epochs=3, batch_size=8, verbose=0)
        km.save(tmp_path / "c.keras")
        zm = zk.models.load_model(tmp_path / "c.keras")
        km.fit(x, y, epochs=1, batch_size=8, verbose=0)  # slot variables matter from here on
        zm.fit(x, y, epochs=1, batch_size=8, verbose=0)
        for a, b in zip(km.get_weights(), zm.get_weights()):
            np.testing.assert_allclose(b, a, **TOL)


def test_weights_h5_both_ways(real_keras, tmp_path):
    keras = real_keras
    x, _ = _data("rnn")
    km = _keras_recurrent(keras)
    zm = zk.Model.from_config(km.get_config())
    km.save_weights(tmp_path / "k.weights.h5")
    zm.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(zm.predict(x, verbose=0), km.predict(x, verbose=0), **TOL)
    zm2 = zk.Model.from_config(km.get_config())  # new random weights
    zm2.save_weights(tmp_path / "z.weights.h5")
    km.load_weights(tmp_path / "z.weights.h5")
    np.testing.assert_allclose(km.predict(x, verbose=0), zm2.predict(x, verbose=0), **TOL)


def test_keras_config_of_a_zerograd_model_matches_keras_layout(real_keras):
    keras = real_keras
    km = _keras_two_inputs(keras)
    zcfg = zk.Model.from_config(km.get_config()).get_config()
    kcfg = km.get_config()
    assert zcfg["input_layers"] == kcfg["input_layers"]
    assert zcfg["output_layers"] == kcfg["output_layers"]
    assert [entry["class_name"] for entry in zcfg["layers"]] == [
        entry["class_name"] for entry in kcfg["layers"]
    ]


def test_unsupported_layer_and_option_are_named(real_keras, tmp_path):
    keras = real_keras
    km = keras.Sequential([keras.Input((4, 5, 3)), keras.layers.ConvLSTM1D(2, 2)])
    km.save(tmp_path / "e.keras")
    with pytest.raises(ValueError, match="ConvLSTM1D"):
        zk.models.load_model(tmp_path / "e.keras")
    km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, lora_rank=2)])
    km.save(tmp_path / "c.keras")
    with pytest.raises(ValueError, match="lora_rank"):
        zk.models.load_model(tmp_path / "c.keras")


def _small_file(tmp_path):
    m = zk.Sequential([zk.Input((3,)), zk.layers.Dense(2)])
    path = tmp_path / "m.keras"
    m.save(path)
    return path


def test_truncated_or_corrupt_files_give_a_clear_error(tmp_path):
    path = _small_file(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.keras"):
        zk.models.load_model(cut)
    junk = tmp_path / "junk.weights.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(ValueError, match="junk.weights.h5"):
        zk.Sequential([zk.Input((3,)), zk.layers.Dense(2)]).load_weights(junk)
    bad = tmp_path / "bad.keras"  # a valid zip whose weights member is not HDF5
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            body = b"not hdf5" if name == "model.weights.h5" else src.read(name)
            dst.writestr(name, body)
    with pytest.raises(ValueError, match="bad.keras"):
        zk.models.load_model(bad)


def test_absurd_member_size_is_refused(tmp_path):
    path = _small_file(tmp_path)
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02")
    while True:  # the central-directory entry of config.json
        name_len = int.from_bytes(data[entry + 28 : entry + 30], "little")
        if bytes(data[entry + 46 : entry + 46 + name_len]) == b"config.json":
            break
        entry = data.find(b"PK\x01\x02", entry + 4)
    data[entry + 24 : entry + 28] = (2**31 - 1).to_bytes(4, "little")  # declared size: 2 GiB
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="refusing"):
        zk.models.load_model(path)


def test_metadata_and_config_are_keras_json(tmp_path):
    path = _small_file(tmp_path)
    with zipfile.ZipFile(path) as z:
        meta = json.loads(z.read("metadata.json"))
        config = json.loads(z.read("config.json"))
    assert meta["keras_version"].startswith("3.")
    assert (config["module"], config["class_name"]) == ("keras", "Sequential")
    assert config["config"]["layers"][0]["class_name"] == "InputLayer"


def test_native_zerograd_models_load_in_keras(real_keras, tmp_path):
    Z = zk.layers
    rng = _rng()
    x = rng.standard_normal((2, 6, 6, 2)).astype("float32")
    seq = zk.Sequential(
        [
            zk.Input((6, 6, 2)),
            Z.Conv2D(3, 3, activation="relu"),
            Z.MaxPooling2D(),
            Z.BatchNormalization(),
            Z.Flatten(),
            Z.Dense(2, activation="softmax"),
        ]
    )
    inner = zk.Sequential([zk.Input((4,)), Z.Dense(3, activation="tanh"), Z.Dense(3)])
    inputs = zk.Input((4,))
    nested = zk.Model(inputs, Z.Dense(2)(Z.LayerNormalization()(inner(inputs))))
    xn = rng.standard_normal((2, 4)).astype("float32")
    for model, data in ((seq, x), (nested, xn)):
        model.save(tmp_path / "n.keras")
        loaded = real_keras.models.load_model(tmp_path / "n.keras")
        np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data), **TOL)
        loaded.save(tmp_path / "back.keras")  # and back again
        again = zk.models.load_model(tmp_path / "back.keras")
        np.testing.assert_allclose(again.predict(data), model.predict(data), **TOL)


def test_keras_bidirectional_and_registered_subclass_load(real_keras, tmp_path):
    keras = real_keras
    L = keras.layers
    x = _rng().standard_normal((2, 5, 3)).astype("float32")
    km = keras.Sequential([keras.Input((5, 3)), L.Bidirectional(L.LSTM(2)), L.Dense(1)])
    km.save(tmp_path / "bi.keras")
    zm = zk.models.load_model(tmp_path / "bi.keras")
    np.testing.assert_allclose(zm.predict(x), km.predict(x, verbose=0), **TOL)

    def net(K):
        class Net(K.Model):
            def __init__(self, units=2, **kwargs):
                super().__init__(**kwargs)
                self.units, self.hidden = units, K.layers.Dense(3)
                self.head = K.layers.Dense(units)

            def call(self, inputs):
                return self.head(self.hidden(inputs))

            def get_config(self):
                return {"units": self.units, "name": self.name}

        return K.saving.register_keras_serializable(package="FileTests")(Net)

    keras_net, _ = net(keras), net(zk)
    xs = x[:, 0]
    km = keras_net(2)
    km(xs)
    km.save(tmp_path / "sub.keras")
    zm = zk.models.load_model(tmp_path / "sub.keras")  # built from the file's build_config
    np.testing.assert_allclose(zm.predict(xs), km.predict(xs, verbose=0), **TOL)


def test_keras_schedule_and_iterations_carry_over(real_keras, tmp_path):
    keras = real_keras
    km = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    decay = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    km.compile(keras.optimizers.SGD(decay), "mse")
    km.fit(np.ones((4, 2)), np.ones((4, 1)), batch_size=2, verbose=0)
    km.save(tmp_path / "s.keras")
    zm = zk.models.load_model(tmp_path / "s.keras")
    assert zm.optimizer.iterations == 2
    assert zm.optimizer.learning_rate == pytest.approx(float(km.optimizer.learning_rate))
    zm.save(tmp_path / "z.keras")
    assert int(keras.models.load_model(tmp_path / "z.keras").optimizer.iterations) == 2


def test_keras_weights_file_with_optimizer_state(real_keras, tmp_path):
    keras = real_keras
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    km = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    km.compile(keras.optimizers.Adam(0.01), "mse")
    km.fit(x, y, batch_size=2, verbose=0)
    km.save_weights(tmp_path / "k.weights.h5")  # Keras includes the optimizer's variables
    zm = zk.Sequential([zk.Input((2,)), zk.layers.Dense(1)])
    zm.compile(zk.optimizers.Adam(0.01), "mse")
    zm.load_weights(tmp_path / "k.weights.h5")
    assert zm.optimizer.iterations == 2
    km.fit(x, y, batch_size=4, verbose=0)
    zm.fit(x, y, batch_size=4, verbose=0)
    for a, b in zip(km.get_weights(), zm.get_weights()):
        np.testing.assert_allclose(b, a, **TOL)
