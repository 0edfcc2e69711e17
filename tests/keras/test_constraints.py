"""keras.constraints against real Keras 3 (torch backend): each constraint projects the same arrays
to the same values; configs and names round-trip; the optimizers apply a variable's constraint after
each update, so `fit` of constrained Dense, Conv2D and LSTM layers gives Keras's weights; every layer
that takes a ``*_constraint`` argument writes it in its config; .keras files carry it both ways."""

import numpy as np
import pytest

import zerograd as zg
from zerograd import keras as zk

TOL = dict(rtol=1e-5, atol=1e-6)
C = zk.constraints


def _np(k, x):
    return np.asarray(k.ops.convert_to_numpy(x))


CASES = [
    ("MaxNorm", dict(max_value=1.5, axis=0), (4, 3)),
    ("MaxNorm", dict(max_value=0.8, axis=[0, 1, 2]), (2, 2, 3, 4)),
    ("MaxNorm", dict(), (5, 2)),
    ("MinMaxNorm", dict(min_value=0.5, max_value=1.0, rate=0.7, axis=1), (4, 3)),
    ("MinMaxNorm", dict(min_value=2.0, max_value=3.0), (4, 3)),
    ("NonNeg", dict(), (3, 4)),
    ("UnitNorm", dict(axis=0), (4, 3)),
    ("UnitNorm", dict(axis=-1), (2, 3, 5)),
]


@pytest.mark.parametrize(("name", "kw", "shape"), CASES)
def test_projection_matches_keras(real_keras, name, kw, shape):
    w = np.random.default_rng(0).standard_normal(shape).astype("float32")
    ours = getattr(C, name)(**kw)
    theirs = getattr(real_keras.constraints, name)(**kw)
    for given in (w, zk.Variable(w), zg.Tensor(w)):
        out = ours(given)
        assert str(out.dtype) == "float32"
        np.testing.assert_allclose(out.numpy(), _np(real_keras, theirs(w)), **TOL)
    assert ours.get_config() == theirs.get_config()


@pytest.mark.parametrize(("name", "kw", "shape"), CASES)
def test_configs_serialize_as_keras_and_round_trip(real_keras, name, kw, shape):
    ours = getattr(C, name)(**kw)
    theirs = getattr(real_keras.constraints, name)(**kw)
    assert C.serialize(ours) == real_keras.constraints.serialize(theirs)
    back = C.get(real_keras.constraints.serialize(theirs))  # Keras's dict -> zerograd
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()
    theirs_back = real_keras.constraints.deserialize(C.serialize(ours))  # zerograd -> Keras
    assert theirs_back.get_config() == theirs.get_config()


def test_get_by_name_class_instance_and_callable(real_keras):
    for name, cls in [("max_norm", C.MaxNorm), ("MaxNorm", C.MaxNorm), ("non_neg", C.NonNeg),
                      ("NonNeg", C.NonNeg), ("unit_norm", C.UnitNorm), ("UnitNorm", C.UnitNorm),
                      ("min_max_norm", C.MinMaxNorm), ("MinMaxNorm", C.MinMaxNorm)]:  # fmt: skip
        assert type(C.get(name)) is cls
        assert type(real_keras.constraints.get(name)).__name__ == cls.__name__
    assert C.get(None) is None
    assert type(C.get(C.UnitNorm)) is C.UnitNorm
    inst = C.MaxNorm(3)
    assert C.get(inst) is inst
    assert C.get({"class_name": "NonNeg", "config": {}}).get_config() == {}
    fn = lambda w: w * 0.5  # noqa: E731 - any callable is a constraint
    assert C.get(fn) is fn
    assert C.max_norm is C.MaxNorm and C.non_neg is C.NonNeg
    for bad in ("no_such_constraint", 3):
        with pytest.raises(ValueError, match="constraint"):
            C.get(bad)


def test_base_constraint_is_identity_and_subclassable():
    w = np.arange(4, dtype="float32")
    assert C.Constraint()(w) is w

    class Halve(C.Constraint):
        def __call__(self, w):
            return w * 0.5

    layer = zk.layers.Dense(2, kernel_constraint=Halve())
    layer.build((None, 3))
    assert isinstance(layer.kernel.constraint, Halve)


def test_add_weight_stores_the_constraint_and_apply_uses_it():
    layer = zk.layers.Layer()
    w = layer.add_weight(shape=(2, 3), initializer="ones", constraint="unit_norm")
    plain = layer.add_weight(shape=(3,), initializer="ones")
    assert isinstance(w.constraint, C.UnitNorm) and plain.constraint is None
    opt = zk.optimizers.SGD(0.1)
    g = np.full((2, 3), -1.0, "float32")
    opt.apply([g, np.full((3,), -1.0, "float32")], [w, plain])
    np.testing.assert_allclose(np.linalg.norm(w.numpy(), axis=0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(plain.numpy(), 1.1, rtol=1e-6)  # no constraint: the plain step


def _fit_both(real_keras, build, x, y, epochs=2, lr=0.1):
    real_keras.utils.set_random_seed(5)
    models = []
    for k in (real_keras, zk):
        model = k.Sequential([k.Input(x.shape[1:]), *build(k)])
        model.compile(k.optimizers.SGD(lr), "mse")
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    for m in models:
        m.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0)
    for ours, theirs in zip(models[1].get_weights(), models[0].get_weights()):
        np.testing.assert_allclose(ours, theirs, **TOL)
    return models[1]


def test_fit_dense_with_max_norm_and_non_neg_matches_keras(real_keras):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((12, 5)).astype("float32")
    y = (3.0 * rng.standard_normal((12, 3)) - 1.0).astype("float32")

    def build(k):
        kc, bc = k.constraints.MaxNorm(0.6), k.constraints.NonNeg()
        return [k.layers.Dense(3, kernel_constraint=kc, bias_constraint=bc)]

    model = _fit_both(real_keras, build, x, y)
    kernel, bias = model.get_weights()
    assert np.linalg.norm(kernel, axis=0).max() <= 0.6 + 1e-5 and bias.min() >= 0.0


def test_fit_conv2d_with_filter_max_norm_matches_keras(real_keras):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 5, 5, 2)).astype("float32")
    y = (2.0 * rng.standard_normal((8, 3, 3, 3))).astype("float32")

    def build(k):
        kc = k.constraints.MaxNorm(0.5, axis=[0, 1, 2])
        return [k.layers.Conv2D(3, 3, kernel_constraint=kc, bias_constraint="non_neg")]

    model = _fit_both(real_keras, build, x, y)
    kernel = model.get_weights()[0]
    assert np.sqrt((kernel**2).sum(axis=(0, 1, 2))).max() <= 0.5 + 1e-5


def test_fit_lstm_with_constraints_matches_keras(real_keras):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 4, 3)).astype("float32")
    y = (2.0 * rng.standard_normal((8, 2))).astype("float32")

    def build(k):
        cs = k.constraints
        return [
            k.layers.LSTM(
                2,
                kernel_constraint=cs.UnitNorm(axis=0),
                recurrent_constraint=cs.MinMaxNorm(0.2, 0.5, rate=0.5),
                bias_constraint=cs.NonNeg(),
            )
        ]

    model = _fit_both(real_keras, build, x, y)
    assert isinstance(model.layers[0].cell.kernel.constraint, C.UnitNorm)
    np.testing.assert_allclose(np.linalg.norm(model.get_weights()[0], axis=0), 1.0, rtol=1e-5)


def test_plain_zerograd_layers_have_no_constraint():
    layer = zk.layers.Dense(2)
    layer.build((None, 3))
    assert layer.kernel.constraint is None and layer.kernel_constraint is None
    assert layer.get_config()["kernel_constraint"] is None
    lin = zg.nn.Linear(3, 2)
    assert getattr(lin.weight, "constraint", None) is None
