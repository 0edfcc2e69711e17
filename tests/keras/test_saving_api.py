"""keras.saving's API: registry, serialize/deserialize, to_json, clone_model, structure-keyed
weights, the compiled state in a saved model, optimizer configs; compared with real Keras."""

import json
import zipfile

import numpy as np
import pytest

from zerograd import keras
from zerograd.keras import layers as L
from zerograd.keras import saving

X = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")


@saving.register_keras_serializable(package="Tests")
class Scale(L.Layer):
    """A custom layer whose constructor takes a plain number."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@saving.register_keras_serializable(package="Tests", name="square")
def square(x):
    return x * x


class Unregistered(Scale):
    pass


def _functional(layer=None):
    inputs = keras.Input((3,))
    h = (layer or Scale(0.5))(inputs)
    return keras.Model(inputs, L.Dense(2, activation=square)(h))


def test_registry_names_and_lookup():
    assert saving.get_registered_name(Scale) == "Tests>Scale"
    assert saving.get_registered_name(square) == "Tests>square"
    assert saving.get_registered_name(Unregistered) == "Unregistered"
    assert saving.get_registered_object("Tests>Scale") is Scale
    assert saving.get_custom_objects()["Tests>square"] is square
    assert saving.get_registered_object("Nope>Nothing") is None
    with saving.custom_object_scope({"Unregistered": Unregistered}):
        assert saving.get_registered_object("Unregistered") is Unregistered
    assert saving.get_registered_object("Unregistered") is None
    assert keras.utils.custom_object_scope is saving.custom_object_scope
    with pytest.raises(ValueError, match="get_config"):
        saving.register_keras_serializable()(type("NoConfig", (), {}))


def test_serialized_dicts_have_keras_format(real_keras):
    for make in (
        lambda k: k.regularizers.L1(0.005),
        lambda k: k.regularizers.L1L2(l1=1e-5, l2=1e-4),
        lambda k: k.initializers.RandomNormal(stddev=0.5),
        lambda k: k.optimizers.SGD(0.3, momentum=0.9),
        lambda k: k.optimizers.Adam(0.01, beta_1=0.8),
        lambda k: k.losses.MeanSquaredError(),
        lambda k: k.metrics.MeanAbsoluteError(),
        lambda k: k.layers.Dense(3, activation="relu"),
    ):
        ours = saving.serialize_keras_object(make(keras))
        theirs = real_keras.saving.serialize_keras_object(make(real_keras))
        assert {k: ours[k] for k in ("class_name", "registered_name")} == {
            k: theirs[k] for k in ("class_name", "registered_name")
        }
        assert ours["module"].split(".")[1] in theirs["module"].split(".")  # 'layers', ...
        again = saving.deserialize_keras_object(json.loads(json.dumps(ours)))
        assert type(again) is type(make(keras))
        assert saving.serialize_keras_object(again) == ours
        # a dict written by real Keras reads into zerograd's class
        from_keras = saving.deserialize_keras_object(json.loads(json.dumps(theirs)))
        assert type(from_keras) is type(make(keras))
    pairs = (
        (keras.activations.relu, real_keras.activations.relu),
        (keras.losses.mean_squared_error, real_keras.losses.mean_squared_error),
    )
    for fn, real_fn in pairs:
        ours = saving.serialize_keras_object(fn)
        assert ours == real_keras.saving.serialize_keras_object(real_fn)
        assert saving.deserialize_keras_object(ours) is fn


def test_custom_objects_resolve_only_when_known():
    layer = Unregistered(2.0)
    config = saving.serialize_keras_object(layer)
    assert config["registered_name"] == "Unregistered"
    with pytest.raises(ValueError, match="custom_objects=.*register_keras_serializable"):
        saving.deserialize_keras_object(config)
    got = saving.deserialize_keras_object(config, custom_objects={"Unregistered": Unregistered})
    assert type(got) is Unregistered and got.factor == 2.0
    with keras.utils.custom_object_scope({"Unregistered": Unregistered}):
        assert type(L.deserialize(config)) is Unregistered
    with pytest.raises(ValueError, match="never runs code"):
        saving.deserialize_keras_object({"class_name": "__lambda__", "config": {"value": "x"}})


def test_registered_custom_layer_and_function_round_trip(tmp_path):
    model = _functional()
    model.compile("rmsprop", "mse")
    model.fit(X, np.ones((4, 2)), epochs=1, verbose=0)
    model.save(tmp_path / "custom.keras")
    again = keras.models.load_model(tmp_path / "custom.keras")
    np.testing.assert_allclose(again.predict(X), model.predict(X), rtol=1e-6)
    assert isinstance(again.layers[1], Scale)
    with pytest.raises(ValueError, match="Unregistered"):
        _functional(Unregistered(3.0)).save(tmp_path / "u.keras")
        keras.models.load_model(tmp_path / "u.keras")
    loaded = keras.models.load_model(
        tmp_path / "u.keras", custom_objects={"Unregistered": Unregistered}
    )
    assert loaded.layers[1].factor == 3.0


def test_to_json_and_model_from_json():
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu"), L.Dense(1)])
    text = model.to_json()
    assert json.loads(text)["class_name"] == "Sequential"
    new = keras.models.model_from_json(text)
    assert [type(la) for la in new.layers] == [type(la) for la in model.layers]
    new.set_weights(model.get_weights())
    np.testing.assert_allclose(new.predict(X), model.predict(X))
    custom = _functional(Unregistered(1.5))
    back = keras.models.model_from_json(
        custom.to_json(), custom_objects={"Unregistered": Unregistered}
    )
    assert back.layers[1].factor == 1.5


def test_layer_and_model_configs_round_trip():
    dense = L.Dense(3, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.1))
    again = L.Dense.from_config(dense.get_config())
    assert again.get_config() == dense.get_config()
    seq = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    assert (
        keras.Sequential.from_config(seq.get_config()).get_config()["layers"][1]["config"]["units"]
        == 2
    )
    model = _functional()
    rebuilt = keras.Model.from_config(model.get_config())
    assert [type(la).__name__ for la in rebuilt.layers] == [
        type(la).__name__ for la in model.layers
    ]


class Sub(keras.Model):
    def __init__(self, units, name=None):
        super().__init__(name=name)
        self.units = units
        self.dense = L.Dense(units)

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        return {"units": self.units, "name": self.name}


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
def test_clone_model_same_architecture_new_weights(kind):
    if kind == "sequential":
        model = keras.Sequential([keras.Input((3,)), L.Dense(4), L.Dense(2)])
    elif kind == "functional":
        model = _functional()
    else:
        model = Sub(2)
        model(X)
    clone = keras.models.clone_model(model)
    if kind == "subclassed":
        clone(X)
    assert type(clone) is type(model) and clone is not model
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert not any(a is b for a, b in zip(clone.weights, model.weights))
    assert any(
        not np.allclose(a, b)
        for a, b in zip(clone.get_weights(), model.get_weights())
        if a.ndim == 2
    )
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(X), model.predict(X))


@pytest.mark.parametrize("name", ["w.weights.h5", "w.safetensors"])
def test_weights_are_keyed_by_structure(tmp_path, name):
    def make():
        return keras.Sequential([keras.Input((3,)), L.Dense(4), L.BatchNormalization(), L.Dense(2)])

    a, b = make(), make()  # same structure, different global layer names
    assert a.layers[0].name != b.layers[0].name
    a.save_weights(tmp_path / name)
    b.load_weights(tmp_path / name)
    np.testing.assert_allclose(b.predict(X), a.predict(X))
    other = keras.Sequential([keras.Input((3,)), L.Dense(5), L.Dense(2), L.Dense(1)])
    with pytest.raises(ValueError) as err:
        other.load_weights(tmp_path / name)
    text = str(err.value)
    assert "missing from the file" in text and "layers/dense_2/vars/0" in text
    assert "not in the model" in text and "batch_normalization" in text
    assert "shape mismatches" in text and "(3, 5)" in text


def test_compiled_state_is_restored(tmp_path):
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="tanh"), L.Dense(2)])
    model.compile(keras.optimizers.SGD(0.3, momentum=0.9), "mse", metrics=["mae"])
    y = np.ones((4, 2), "float32")
    model.fit(X, y, epochs=2, verbose=0)
    for path in (tmp_path / "m.keras", tmp_path / "m.zg"):
        model.save(path)
        again = keras.models.load_model(path)
        opt = again.optimizer
        assert type(opt) is keras.optimizers.SGD
        assert (opt.learning_rate, opt.momentum) == (pytest.approx(0.3), 0.9)
        assert opt.iterations == model.optimizer.iterations == 2
        assert again.evaluate(X, y, verbose=0) == pytest.approx(model.evaluate(X, y, verbose=0))
    with zipfile.ZipFile(tmp_path / "m.zg") as z:
        assert "model.weights.safetensors" in z.namelist()
    again = keras.models.load_model(tmp_path / "m.keras")
    model.fit(X, y, epochs=1, verbose=0)  # the momentum buffers carry over
    again.fit(X, y, epochs=1, verbose=0)
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_config_is_complete(real_keras, name):
    ours = getattr(keras.optimizers, name)(learning_rate=0.25)
    config = ours.get_config()
    again = type(ours).from_config(config)
    assert again.get_config() == config
    theirs = getattr(real_keras.optimizers, name)(learning_rate=0.25).get_config()
    assert set(theirs) <= set(config) | {"decay"}, set(theirs) - set(config)
    from_keras = type(ours).from_config(theirs).get_config()
    assert {**from_keras, "name": None} == {**config, "name": None}
    with_ema = {**config, "use_ema": True, "gradient_accumulation_steps": 2}
    assert type(ours).from_config(with_ema).get_config() == with_ema


def test_legacy_zerograd_files_still_load(tmp_path):
    from safetensors.numpy import save

    model = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    config = {
        "class_name": "Sequential",
        "format": "zerograd-keras-1",
        "config": {
            "name": "old",
            "layers": [{"class_name": "Dense", "config": {"name": "dense_old", "units": 2}}],
            "input_shape": [3],
        },
    }
    state = {f"dense_old.{k.split('.')[-1]}": v.numpy() for k, v in model.state_dict().items()}
    with zipfile.ZipFile(tmp_path / "old.keras", "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.safetensors", save(state))
    old = keras.models.load_model(tmp_path / "old.keras")
    np.testing.assert_allclose(old.predict(X), model.predict(X))
    (tmp_path / "old.safetensors").write_bytes(save(state))  # state_dict-keyed weights
    fresh = keras.Sequential([keras.Input((3,)), L.Dense(2, name="dense_old")])
    fresh.load_weights(tmp_path / "old.safetensors")
    np.testing.assert_allclose(fresh.predict(X), model.predict(X))


def test_learning_rate_schedule_round_trips(tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    opt = keras.optimizers.Adam(schedule)
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "ExponentialDecay"
    again = keras.optimizers.Adam.from_config(config)
    assert again.get_config() == config
    model = keras.Sequential([keras.Input((3,)), L.Dense(1)])
    model.compile(opt, "mse")
    model.fit(X, np.ones((4, 1)), epochs=2, verbose=0)
    model.save(tmp_path / "s.keras")
    loaded = keras.models.load_model(tmp_path / "s.keras")
    assert loaded.optimizer.iterations == 2
    assert loaded.optimizer.learning_rate == pytest.approx(model.optimizer.learning_rate)


def test_clone_model_with_clone_function():
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, name="keep"), L.Dense(2, name="new")])
    keep = model.get_layer("keep")

    def reuse_first(layer):
        return layer if layer is keep else type(layer).from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=reuse_first)
    assert clone.layers[0] is keep and clone.layers[1] is not model.layers[1]
    functional = _functional()
    copy = keras.models.clone_model(functional, clone_function=lambda la: la)
    assert all(a is b for a, b in zip(copy.layers[1:], functional.layers[1:]))
    with pytest.raises(ValueError, match="input_tensors"):
        keras.models.clone_model(model, input_tensors=[keras.Input((3,))])


def test_weights_of_an_unbuilt_model_are_refused_not_written_empty(tmp_path, real_keras):
    ref = real_keras.Sequential([real_keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not yet been built"):
        ref.save_weights(tmp_path / "k.weights.h5")
    model = keras.Sequential([keras.layers.Dense(2)])
    for name in ("z.weights.h5", "z.safetensors"):
        with pytest.raises(ValueError, match="save_weights: model 'sequential.*' is not built"):
            model.save_weights(tmp_path / name)
        assert not (tmp_path / name).exists()
    built = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    built.save_weights(tmp_path / "b.weights.h5")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        built.save_weights(tmp_path / "b.weights.h5", overwrite=False)
    with pytest.raises(ValueError, match="not built"):
        model.load_weights(tmp_path / "b.weights.h5")
