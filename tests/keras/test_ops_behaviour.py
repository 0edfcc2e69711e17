"""keras.ops beyond the oracle table: creation, conversion, control flow, NumPy semantics where
Keras's torch backend departs from them, gradients Keras lacks, symbolic tensors, signatures."""

import inspect

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.keras.ops_oracle import ONEHOT, SQ, T3, A, B, C, V, rng
from zerograd import keras
from zerograd.keras import ops


def test_creation_matches_keras(real_keras):
    k = real_keras.ops
    pairs = [
        (ops.zeros((2, 3)), k.zeros((2, 3))),
        (ops.ones(3, "int32"), k.ones(3, "int32")),
        (ops.full((2, 2), 7), k.full((2, 2), 7)),
        (ops.full((2,), 0.5), k.full((2,), 0.5)),
        (ops.arange(5), k.arange(5)),
        (ops.arange(1, 2, 0.25), k.arange(1, 2, 0.25)),
        (ops.linspace(0, 1, 5), k.linspace(0, 1, 5)),
        (ops.eye(3, 4, 1), k.eye(3, 4, 1)),
        (ops.identity(2), k.identity(2)),
        (ops.tri(3), k.tri(3)),
        (ops.logspace(0, 2, 4), k.logspace(0, 2, 4)),
        (ops.geomspace(1, 8, 4), k.geomspace(1, 8, 4)),
        (ops.hamming(5), k.hamming(5)),
        (ops.hanning(5), k.hanning(5)),
        (ops.bartlett(5), k.bartlett(5)),
        (ops.blackman(5), k.blackman(5)),
        (ops.kaiser(5, 2.0), k.kaiser(5, 2.0)),
        (ops.array([[1, 2]]), k.array([[1, 2]])),
        (ops.meshgrid(V, V[:3])[0], k.meshgrid(V, V[:3])[0]),
        (ops.meshgrid(V, V[:3], indexing="ij")[1], k.meshgrid(V, V[:3], indexing="ij")[1]),
    ]
    for i, (z, t) in enumerate(pairs):
        t = k.convert_to_numpy(t)
        np.testing.assert_allclose(z.numpy(), t, rtol=1e-6, atol=1e-7, err_msg=f"case {i}")
        assert z.dtype == t.dtype, f"case {i}: {z.dtype} vs {t.dtype}"


def test_pad_follows_numpy_where_keras_torch_differs():
    # Keras's torch backend pads 'symmetric' as 'replicate' and reads an int pad_width as one
    # axis; NumPy (and Keras's documentation) mean otherwise.
    for kwargs in (dict(mode="symmetric"), dict(mode="edge"), dict(mode="wrap"), {}):
        want = np.pad(A, ((1, 1), (2, 2)), **kwargs)
        np.testing.assert_array_equal(ops.pad(A, ((1, 1), (2, 2)), **kwargs).numpy(), want)
    np.testing.assert_array_equal(
        ops.pad(A, 1, constant_values=2.0).numpy(), np.pad(A, 1, constant_values=2.0)
    )
    x = zg.tensor(A.astype("float64"), requires_grad=True)
    assert zg.utils.gradcheck(lambda t: ops.pad(t, ((2, 1), (1, 2)), mode="symmetric"), x)


def test_shape_ndim_size_and_conversion():
    x = ops.convert_to_tensor(T3)
    assert ops.shape(x) == (2, 3, 4) and ops.ndim(x) == 3 and ops.size(x) == 24
    assert ops.is_tensor(x) and not ops.is_tensor(T3)
    assert ops.dtype(x) == "float32" and ops.dtype(ops.convert_to_tensor(3)) == "int32"
    assert isinstance(ops.convert_to_numpy(x), np.ndarray)
    with pytest.raises(TypeError, match="convert_to_tensor"):
        ops.convert_to_tensor("abc")


def test_control_flow_runs_eagerly():
    assert ops.cond(ops.convert_to_tensor(True), lambda: 1, lambda: 2) == 1
    assert ops.fori_loop(0, 4, lambda i, v: v + i, 0) == 6
    out = ops.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s * 2), (0, 1))
    assert out == (3, 8)
    assert ops.while_loop(lambda v: v < 10, lambda v: v + 4, 0, maximum_iterations=2) == 8
    y = ops.vectorized_map(lambda r: ops.sum(r * r), ops.convert_to_tensor(A))
    np.testing.assert_allclose(y.numpy(), (A * A).sum(1), rtol=1e-6)
    assert ops.switch(5, [lambda x: x + 1, lambda x: x * 10], 2) == 20


def test_stop_gradient_blocks_the_gradient():
    x = zg.tensor(A, requires_grad=True)
    (ops.stop_gradient(x) * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), A)


def test_ops_accept_zerograd_tensors_and_keep_the_graph():
    w = zg.tensor(C, requires_grad=True)
    y = ops.mean(ops.square(ops.matmul(ops.ones((2, 3)), w)))
    y.backward()
    assert w.grad.shape == C.shape and np.abs(w.grad.numpy()).sum() > 0


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="categorical_crossentropy.*same shape"):
        ops.categorical_crossentropy(ONEHOT, A[:, :2])
    with pytest.raises(ValueError, match="norm"):
        ops.norm(SQ, "nuc")
    with pytest.raises(ValueError, match="einsum"):
        ops.einsum("ij,jk->ik", A)
    with pytest.raises(ValueError, match="moments"):
        ops.moments(A, [0], synchronized=True)
    with pytest.raises(ValueError, match="pad"):
        ops.pad(A, 1, mode="circular")


def test_ops_on_keras_tensors_build_a_functional_model(real_keras):
    def build(k):
        inputs = k.Input(shape=(3,))
        h = k.ops.concatenate([inputs, k.ops.square(inputs)], axis=-1)
        h = k.ops.reshape(k.layers.Dense(4)(h), (-1, 2, 2))
        out = k.ops.sum(k.ops.multiply(k.ops.softmax(h, axis=-1), 2.0), axis=1)
        return k.Model(inputs, out)

    ours, theirs = build(keras), build(real_keras)
    dense = [layer for layer in theirs.layers if isinstance(layer, real_keras.layers.Dense)][0]
    ours_dense = [layer for layer in ours.layers if type(layer).__name__ == "Dense"][0]
    ours_dense.set_weights(dense.get_weights())
    x = rng.standard_normal((5, 3)).astype("float32")
    want = real_keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours(x).numpy(), want, rtol=1e-5, atol=1e-5)


def test_op_layer_config_round_trip():
    from zerograd.keras.ops.symbolic import OpLayer

    inputs = keras.Input(shape=(3,))
    out = ops.clip(inputs, -1.0, 1.0)
    layer = out.layer
    clone = OpLayer.from_config(layer.get_config())
    x = zg.tensor(A * 3)
    np.testing.assert_allclose(clone(x).numpy(), layer(x).numpy())
    assert clone.get_config()["function"] == "clip"


def test_signatures_match_keras(real_keras):
    """Every op that Keras also has takes the same parameters with the same defaults."""
    checked = 0
    for name in dir(ops):
        ours, theirs = getattr(ops, name), getattr(real_keras.ops, name, None)
        if name.startswith("_") or not callable(ours) or not callable(theirs):
            continue
        mine = [(p.name, p.default) for p in inspect.signature(ours).parameters.values()]
        keras_params = inspect.signature(theirs).parameters.values()
        want = [(p.name, p.default) for p in keras_params if p.kind is not p.VAR_KEYWORD]
        assert mine == want, name
        checked += 1
    assert checked > 250


GRADCHECKS = [
    ("ldexp", lambda x: ops.ldexp(x, np.array([[1, -1, 2], [0, -2, 3]])), A),
    ("scatter_update max", lambda x: ops.scatter_update(x, [[0, 1], [1, 0]], V[:2], "max"), A),
    ("scatter_update mul", lambda x: ops.scatter_update(x, [[0], [1]], B.astype("f8"), "mul"), A),
    ("vander", lambda x: ops.vander(x, 3), V),
    ("bincount", lambda w: ops.bincount(np.array([1, 3, 1, 0]), w), V),
    ("sparsemax", lambda x: ops.sparsemax(x * 2, axis=0), C),
    ("prod with a zero", lambda x: ops.prod(x * np.array([1.0, 0.0, 1.0, 1.0]), axis=1), C),
    ("cumprod", lambda x: ops.cumprod(x, axis=0), C),
    ("einsum", lambda x: ops.einsum("ij,jk,ik->i", x, x.T, x @ x.T), C),
    ("quantile in q", lambda q: ops.quantile(C.astype("f8"), q, axis=1), np.array([0.2, 0.7])),
    ("slice_update", lambda x: ops.slice_update(x, (1, 0, 2), x[:1, 1:, :2] * 3), T3),
    ("conv", lambda k: ops.conv(np.ones((1, 5, 4, 3)), k, 2, "same"), rng.random((3, 3, 3, 2))),
    ("average_pool", lambda x: ops.average_pool(x, 3, 2, "same"), rng.random((1, 6, 5, 2))),
]


@pytest.mark.parametrize("fn, x", [g[1:] for g in GRADCHECKS], ids=[g[0] for g in GRADCHECKS])
def test_gradients_keras_on_torch_lacks_match_finite_differences(fn, x):
    t = zg.tensor(np.asarray(x, dtype="float64"), requires_grad=True)
    assert zg.utils.gradcheck(fn, t)


def test_sparsemax_is_the_projection_onto_the_simplex():
    # Keras 3.15's torch sparsemax sums the cumulative sums for its threshold (rows may not sum
    # to 1); this is the definition (Martins & Astudillo, 2016)
    z = np.array([[0.2098, -1.0713, 0.7232], [1.0, 1.0, -3.0]], "float32")
    want = np.array([[0.2433, 0.0, 0.7567], [0.5, 0.5, 0.0]], "float32")
    np.testing.assert_allclose(ops.sparsemax(z).numpy(), want, atol=1e-4)


def test_multi_output_ops_on_keras_tensors(real_keras):
    def build(k):
        inputs = k.Input(shape=(4,))
        left, right = k.ops.split(inputs, 2, axis=-1)
        values, _ = k.ops.top_k(k.ops.add(left, k.ops.flip(right, axis=-1)), 1)
        mean, var = k.ops.moments(inputs, axes=[-1])
        return k.Model(inputs, [values, k.ops.expand_dims(k.ops.add(mean, var), -1)])

    x = rng.standard_normal((3, 4)).astype("float32")
    ours, theirs = build(keras)(x), build(real_keras)(x)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), real_keras.ops.convert_to_numpy(t), rtol=1e-5)
    assert ops.shape(keras.Input(shape=(4, 2))) == (None, 4, 2)


def test_functional_model_with_ops_survives_its_config():
    inputs = keras.Input(shape=(3,))
    h = ops.concatenate([ops.clip(ops.square(inputs), 0.0, 2.0), inputs], axis=-1)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = rng.standard_normal((4, 3)).astype("float32")
    np.testing.assert_allclose(clone(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_custom_gradient_replaces_the_derivative(real_keras):
    def make(k):
        @k.ops.custom_gradient
        def log1pexp(x):
            e = k.ops.exp(x)

            def grad(*args, upstream=None):
                (upstream,) = args if upstream is None else (upstream,)
                return k.ops.multiply(upstream, 1.0 - 1.0 / k.ops.add(1, e))

            return k.ops.log(1 + e), grad

        return log1pexp

    x = np.array([0.0, 3.0, -2.0])
    ours = zg.tensor(x, requires_grad=True)
    make(keras)(ours).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    make(real_keras)(theirs).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
