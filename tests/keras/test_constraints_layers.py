"""Layers that take Keras's ``*_constraint`` arguments: each stores the constraint on its weight,
writes it in get_config as Keras does, rebuilds from Keras's config and back; a .keras file with a
constrained layer moves between real Keras and zerograd keeping it."""

import numpy as np
import pytest

from zerograd import keras as zk

MN = dict(max_value=1.5, axis=0)
# layer -> (constructor arguments, {constraint argument: the weight attribute it constrains}, input)
LAYERS = {
    "Dense": ((3,), {"kernel_constraint": "kernel", "bias_constraint": "bias"}, (2, 4)),
    "EinsumDense": (
        ("ab,bc->ac", 3),
        {"kernel_constraint": "kernel", "bias_constraint": "bias"},
        (2, 4),
    ),
    "Conv1D": ((2, 2), {"kernel_constraint": "kernel", "bias_constraint": "bias"}, (1, 5, 3)),
    "Conv2D": ((2, 2), {"kernel_constraint": "kernel", "bias_constraint": "bias"}, (1, 4, 4, 3)),
    "Conv3D": ((2, 2), {"kernel_constraint": "kernel"}, (1, 3, 3, 3, 2)),
    "Conv2DTranspose": ((2, 2), {"kernel_constraint": "kernel"}, (1, 3, 3, 2)),
    "Conv1DTranspose": ((2, 2), {"bias_constraint": "bias"}, (1, 3, 2)),
    "DepthwiseConv2D": (
        (2,),
        {"depthwise_constraint": "depthwise_kernel", "bias_constraint": "bias"},
        (1, 4, 4, 2),
    ),
    "SeparableConv2D": (
        (3, 2),
        {
            "depthwise_constraint": "depthwise_kernel",
            "pointwise_constraint": "pointwise_kernel",
            "bias_constraint": "bias",
        },
        (1, 4, 4, 2),
    ),  # fmt: skip
    "SeparableConv1D": ((3, 2), {"pointwise_constraint": "pointwise_kernel"}, (1, 5, 2)),
    "PReLU": ((), {"alpha_constraint": "alpha"}, (2, 3)),
    "GroupNormalization": (
        (),
        {"gamma_constraint": "gamma", "beta_constraint": "beta"},
        (2, 4),
    ),
    "SimpleRNN": ((2,), {"kernel_constraint": "kernel"}, (1, 3, 2)),
    "LSTM": ((2,), {"recurrent_constraint": "recurrent_kernel"}, (1, 3, 2)),
    "GRU": ((2,), {"bias_constraint": "bias", "kernel_constraint": "kernel"}, (1, 3, 2)),
    "LSTMCell": ((2,), {"kernel_constraint": "kernel", "bias_constraint": "bias"}, None),
}
EXTRA = {"GroupNormalization": dict(groups=2), "EinsumDense": dict(bias_axes="c")}


def _make(k, name, with_constraints=True):
    args, cons, _ = LAYERS[name]
    kw = dict(EXTRA.get(name, {}))
    if with_constraints:
        kw.update({a: k.constraints.MaxNorm(**MN) for a in cons})
    return getattr(k.layers, name)(*args, **kw)


def _weight(layer, attr):
    return getattr(getattr(layer, "cell", layer), attr)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_keeps_and_writes_its_constraints_as_keras(real_keras, name):
    _, cons, shape = LAYERS[name]
    ours, theirs = _make(zk, name), _make(real_keras, name)
    if shape is not None:
        ours(np.ones(shape, "float32"))
        for attr in cons.values():
            assert isinstance(_weight(ours, attr).constraint, zk.constraints.MaxNorm)
    cfg, ref = ours.get_config(), theirs.get_config()
    for arg in cons:
        assert cfg[arg] == ref[arg], (name, arg, cfg[arg], ref[arg])
    rebuilt = type(ours).from_config(ref)  # Keras -> zerograd
    back = type(theirs).from_config(cfg)  # zerograd -> Keras
    for arg in cons:
        assert rebuilt.get_config()[arg] == ref[arg]
        assert back.get_config()[arg] == ref[arg]
    plain = _make(zk, name, with_constraints=False).get_config()
    assert all(plain[arg] is None for arg in cons)


@pytest.mark.parametrize("name", ["Dense", "Conv2D", "PReLU"])
def test_a_bad_constraint_is_named(name):
    arg = next(iter(LAYERS[name][1]))
    with pytest.raises(ValueError, match="constraint"):
        getattr(zk.layers, name)(*LAYERS[name][0], **{arg: "no_such"})


def test_keras_file_with_constrained_dense_loads_and_trains(real_keras, tmp_path):
    k = real_keras
    km = k.Sequential(
        [k.Input((3,)), k.layers.Dense(2, kernel_constraint=k.constraints.NonNeg(),
                                       bias_constraint=k.constraints.MaxNorm(0.5))]
    )  # fmt: skip
    km.save(tmp_path / "c.keras")
    model = zk.models.load_model(tmp_path / "c.keras")
    dense = model.layers[0]
    cfg, ref = dense.get_config(), km.layers[0].get_config()
    assert cfg["kernel_constraint"] == ref["kernel_constraint"]
    assert cfg["bias_constraint"] == ref["bias_constraint"]
    assert isinstance(dense.kernel.constraint, zk.constraints.NonNeg)
    for ours, theirs in zip(model.get_weights(), km.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    model.compile(zk.optimizers.SGD(0.5), "mse")
    x = np.ones((4, 3), "float32")
    model.fit(x, -np.ones((4, 2), "float32"), epochs=1, verbose=0)
    assert model.get_weights()[0].min() >= 0.0
    model.save(tmp_path / "z.keras")  # and back to real Keras
    again = k.models.load_model(tmp_path / "z.keras")
    assert again.layers[0].get_config()["kernel_constraint"] == ref["kernel_constraint"]
    assert zk.models.load_model(tmp_path / "z.keras").layers[0].get_config() == dense.get_config()


def test_custom_registered_constraint_round_trips_through_a_file(tmp_path):
    @zk.saving.register_keras_serializable(package="test_constraints")
    class Clip(zk.constraints.Constraint):
        def __init__(self, limit=1.0):
            self.limit = limit

        def __call__(self, w):
            return zk.ops.clip(w, -self.limit, self.limit)

        def get_config(self):
            return {"limit": self.limit}

    model = zk.Sequential([zk.Input((3,)), zk.layers.Dense(2, kernel_constraint=Clip(0.1))])
    model.save(tmp_path / "m.keras")
    loaded = zk.models.load_model(tmp_path / "m.keras")
    got = loaded.layers[0].kernel_constraint
    assert isinstance(got, Clip) and got.limit == 0.1
    loaded.compile(zk.optimizers.SGD(1.0), "mse")
    loaded.fit(np.ones((2, 3), "float32"), np.full((2, 2), 9.0, "float32"), verbose=0)
    assert np.abs(loaded.get_weights()[0]).max() <= 0.1 + 1e-7
