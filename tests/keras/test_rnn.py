"""RNN layers and cells of the Keras facade against real Keras 3, with the same weights copied in."""

import numpy as np
import pytest

from zerograd import keras
from zerograd.keras import layers as L

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5, 4)).astype("float32")


def np_(t):
    """A zerograd tensor or a real Keras (torch) tensor as a NumPy array."""
    if hasattr(t, "detach") and hasattr(t, "cpu"):
        return t.detach().cpu().numpy()
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def close(ours, theirs, tol=1e-5):
    ours = ours if isinstance(ours, (list, tuple)) else [ours]
    theirs = theirs if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np_(a), np_(b), rtol=tol, atol=tol)


def pair(real_keras, name, *args, **kwargs):
    """The same layer in zerograd and in real Keras, real Keras's weights copied into ours."""
    theirs = getattr(real_keras.layers, name)(*args, **kwargs)
    ours = getattr(L, name)(*args, **kwargs)
    return ours, theirs


def run_pair(ours, theirs, x, **call):
    ref = theirs(x, **call)
    ours(x, **{k: v for k, v in call.items() if k != "initial_state"})  # builds ours
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    return ours(x, **call), ref


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize(
    "options",
    [{}, {"return_sequences": True, "return_state": True}, {"go_backwards": True}],
    ids=["last", "seq_state", "backwards"],
)
def test_builtin_layers_match_keras(real_keras, name, options):
    ours, theirs = pair(real_keras, name, 6, **options)
    close(*run_pair(ours, theirs, X))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("GRU", {"reset_after": False}),
        ("LSTM", {"activation": "relu", "recurrent_activation": "tanh"}),
        ("SimpleRNN", {"activation": "relu", "use_bias": False}),
        ("GRU", {"use_bias": False, "return_sequences": True}),
    ],
)
def test_step_by_step_variants_match_keras(real_keras, name, kwargs):
    ours, theirs = pair(real_keras, name, 5, **kwargs)
    close(*run_pair(ours, theirs, X))


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_rnn_of_cell_matches_keras_and_the_fused_layer(real_keras, name):
    cell = name + "Cell"
    ours = L.RNN(getattr(L, cell)(6), return_sequences=True, return_state=True)
    theirs = real_keras.layers.RNN(
        getattr(real_keras.layers, cell)(6), return_sequences=True, return_state=True
    )
    out, ref = run_pair(ours, theirs, X)
    close(out, ref)
    fused = getattr(L, name)(6, return_sequences=True, return_state=True)
    fused(X)
    fused.set_weights(ours.get_weights())
    close(fused(X), out)
    assert ours.name.startswith("rnn") and ours.cell.name.startswith(
        {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}[name]
    )


def test_stateful_over_two_calls_and_reset(real_keras):
    ours, theirs = pair(real_keras, "LSTM", 4, stateful=True, return_sequences=True)
    a, b = X, X[:, ::-1].copy()
    theirs(a)
    ours(a)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    ours.reset_states()
    theirs.reset_states()
    close(ours(a), theirs(a))
    close(ours(b), theirs(b))
    close(list(ours.states), [np.asarray(s.value) for s in theirs.states])
    ours.reset_state()
    theirs.reset_state()
    close(ours(b), theirs(b))
    with pytest.raises(ValueError, match="stateful: expected batch size 3"):
        ours(X[:2])


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_initial_state_arrays(real_keras, name):
    n = 2 if name == "LSTM" else 1
    states = [RNG.standard_normal((3, 4)).astype("float32") for _ in range(n)]
    ours, theirs = pair(real_keras, name, 4, return_state=True)
    close(*run_pair(ours, theirs, X, initial_state=states))


def _padded_mask(left: bool):
    mask = np.ones((3, 5), bool)
    mask[1, 3:] = False
    mask[2, 1:] = False
    return mask[:, ::-1].copy() if left else mask


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("left", [False, True], ids=["right_padded", "left_padded"])
@pytest.mark.parametrize("backwards", [False, True], ids=["fwd", "bwd"])
def test_masked_steps_match_keras(real_keras, name, left, backwards):
    import torch

    mask = _padded_mask(left)
    ours, theirs = pair(
        real_keras, name, 4, return_sequences=True, return_state=True, go_backwards=backwards
    )
    out, ref = run_pair(ours, theirs, X, mask=torch.from_numpy(mask))
    close(out, ref)


def test_zero_output_for_mask_and_output_mask(real_keras):
    import torch

    mask = _padded_mask(False)
    ours = L.RNN(L.GRUCell(3), return_sequences=True, zero_output_for_mask=True)
    theirs = real_keras.layers.RNN(
        real_keras.layers.GRUCell(3), return_sequences=True, zero_output_for_mask=True
    )
    out, ref = run_pair(ours, theirs, X, mask=torch.from_numpy(mask))
    close(out, ref)
    assert np.all(out.numpy()[2, 1:] == 0)
    np.testing.assert_array_equal(np_(out._keras_mask), mask)


class MinimalRNNCell:
    """The custom cell of the Keras RNN guide, written for either framework."""

    @staticmethod
    def make(keras_module):
        class Cell(keras_module.layers.Layer):
            def __init__(self, units, **kwargs):
                super().__init__(**kwargs)
                self.units = units
                self.state_size = units

            def build(self, input_shape):
                self.kernel = self.add_weight(
                    shape=(input_shape[-1], self.units), initializer="uniform", name="kernel"
                )
                self.recurrent_kernel = self.add_weight(
                    shape=(self.units, self.units), initializer="uniform", name="recurrent_kernel"
                )

            def call(self, inputs, states):
                prev_output = states[0]
                h = inputs @ self.kernel
                output = h + prev_output @ self.recurrent_kernel
                return output, [output]

        return Cell


def test_custom_cell_as_in_the_guide(real_keras):
    import torch

    ours = L.RNN(MinimalRNNCell.make(keras)(5), return_sequences=True)
    theirs = real_keras.layers.RNN(MinimalRNNCell.make(real_keras)(5), return_sequences=True)
    close(*run_pair(ours, theirs, X))
    mask = _padded_mask(True)
    close(ours(X, mask=mask), theirs(X, mask=torch.from_numpy(mask)))
    stacked_ours = L.RNN([L.LSTMCell(3), MinimalRNNCell.make(keras)(2)], return_state=True)
    stacked_theirs = real_keras.layers.RNN(
        [real_keras.layers.LSTMCell(3), MinimalRNNCell.make(real_keras)(2)], return_state=True
    )
    out, ref = run_pair(stacked_ours, stacked_theirs, X)
    flat = [out[0], *out[1], out[2]]  # output, [h, c] of the LSTM cell, state of the custom cell
    close(flat, [ref[0], *ref[1], ref[2]])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_merge_modes(real_keras, merge_mode):
    ours = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode=merge_mode)
    theirs = real_keras.layers.Bidirectional(
        real_keras.layers.GRU(3, return_sequences=True), merge_mode=merge_mode
    )
    close(*run_pair(ours, theirs, X))
    assert [ours.forward_layer.name[:8], ours.backward_layer.name[:9]] == ["forward_", "backward_"]


def test_bidirectional_return_state_mask_and_cell(real_keras):
    import torch

    ours = L.Bidirectional(L.LSTM(3, return_state=True))
    theirs = real_keras.layers.Bidirectional(real_keras.layers.LSTM(3, return_state=True))
    out, ref = run_pair(ours, theirs, X)
    assert len(out) == 5
    close(out, ref)
    mask = _padded_mask(False)
    seq_ours = L.Bidirectional(L.RNN(L.SimpleRNNCell(2), return_sequences=True))
    seq_theirs = real_keras.layers.Bidirectional(
        real_keras.layers.RNN(real_keras.layers.SimpleRNNCell(2), return_sequences=True)
    )
    close(*run_pair(seq_ours, seq_theirs, X, mask=torch.from_numpy(mask)))


def test_encoder_decoder_with_symbolic_initial_state(real_keras):
    def build(k):
        enc_in, dec_in = k.Input(shape=(None,)), k.Input(shape=(None,))
        e = k.layers.Embedding(20, 4, name="enc_emb")(enc_in)
        _, h, c = k.layers.LSTM(5, return_state=True, name="encoder")(e)
        d = k.layers.Embedding(30, 4, name="dec_emb")(dec_in)
        out = k.layers.LSTM(5, name="decoder")(d, initial_state=[h, c])
        return k.Model([enc_in, dec_in], k.layers.Dense(3, name="head")(out))

    ours, theirs = build(keras), build(real_keras)
    for layer in theirs.layers:
        if layer.weights:
            ours.get_layer(layer.name).set_weights([np.asarray(w) for w in layer.get_weights()])
    a = RNG.integers(0, 20, (2, 6))
    b = RNG.integers(0, 30, (2, 3))
    close(ours([a, b]), theirs([a, b]))
    assert ours.get_layer("decoder").output_shape_seen == (None, 5)


def test_time_distributed_dense_and_conv(real_keras):
    ours = L.TimeDistributed(L.Dense(3))
    theirs = real_keras.layers.TimeDistributed(real_keras.layers.Dense(3))
    close(*run_pair(ours, theirs, X))
    img = RNG.standard_normal((2, 3, 6, 6, 2)).astype("float32")
    ours = L.TimeDistributed(L.Conv2D(4, 3))
    theirs = real_keras.layers.TimeDistributed(real_keras.layers.Conv2D(4, 3))
    close(*run_pair(ours, theirs, img), tol=1e-4)
    with pytest.raises(ValueError, match="at least 3 axes"):
        L.TimeDistributed(L.Dense(2))(np.zeros((2, 3), "float32"))


def test_variable_time_axis_in_sequential_and_functional():
    model = keras.Sequential([L.LSTM(4, input_shape=(None, 3)), L.Dense(2)])
    assert model(X[:, :2, :3]).shape == (3, 2) and model(X[:, :, :3]).shape == (3, 2)
    inputs = keras.Input(shape=(None,))
    out = L.GRU(3)(L.Embedding(10, 4)(inputs))
    m = keras.Model(inputs, out)
    assert m(RNG.integers(0, 10, (2, 7))).shape == (2, 3)


def test_dropout_trains_and_is_off_in_inference():
    layer = L.LSTM(4, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    a = layer(X, training=True).numpy()
    b = layer(X, training=True).numpy()
    assert not np.allclose(a, b)
    c = layer(X, training=False).numpy()
    np.testing.assert_array_equal(c, layer(X, training=False).numpy())
    with pytest.raises(ValueError, match="dropout must be in"):
        L.GRU(2, dropout=2.0)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_config_round_trip_and_names(real_keras, name):
    kwargs = {"return_sequences": True, "go_backwards": True, "dropout": 0.25}
    if name == "GRU":
        kwargs["reset_after"] = False
    ours = getattr(L, name)(3, kernel_regularizer="l2", **kwargs)
    cfg = ours.get_config()
    theirs = getattr(real_keras.layers, name)(3, **kwargs).get_config()
    assert set(theirs) - {"dtype"} <= set(cfg)
    again = getattr(L, name).from_config(cfg)
    assert again.get_config() == cfg
    assert ours.name.startswith({"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}[name])
    rnn = L.RNN(L.StackedRNNCells([L.LSTMCell(2), L.GRUCell(3)]), stateful=True)
    assert L.RNN.from_config(rnn.get_config()).get_config() == rnn.get_config()
    bi = L.Bidirectional(getattr(L, name)(2), merge_mode="sum")
    assert L.Bidirectional.from_config(bi.get_config()).get_config() == bi.get_config()
    td = L.TimeDistributed(L.Dense(2))
    assert L.TimeDistributed.from_config(td.get_config()).get_config() == td.get_config()


def test_bad_input_names_the_layer():
    layer = L.LSTM(2, name="lstm_x")
    layer(X)
    with pytest.raises(
        ValueError, match=r"LSTM 'lstm_x' expected input of shape \(batch, timesteps, 4\)"
    ):
        layer(X[..., :3])
    with pytest.raises(ValueError, match="expected input of shape"):
        L.GRU(2)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="state_size"):
        L.RNN(L.Dense(2))


def test_nested_inputs_and_states():
    class NestedCell(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.state_size = [2, 5]
            self.output_size = [2, 5]

        def build(self, shapes):
            self.k1 = self.add_weight(shape=(shapes[0][1], 2), initializer="uniform", name="k1")
            self.k2 = self.add_weight(shape=(shapes[1][1], 5), initializer="uniform", name="k2")

        def call(self, inputs, states):
            o1, o2 = inputs[0] @ self.k1, inputs[1] @ self.k2
            return (o1, o2), (states[0] + o1, states[1] + o2)

    i1, i2 = keras.Input((None, 3)), keras.Input((None, 4))
    cell = NestedCell()
    model = keras.Model([i1, i2], L.RNN(cell)((i1, i2)))
    a, b = RNG.standard_normal((2, 6, 3)), RNG.standard_normal((2, 6, 4))
    o1, o2 = model([a.astype("float32"), b.astype("float32")])
    k1, k2 = cell.k1.numpy(), cell.k2.numpy()
    close([o1, o2], [a[:, -1] @ k1, b[:, -1] @ k2], tol=1e-4)
    rnn = L.RNN(cell, return_state=True)
    _, s1, s2 = rnn((a.astype("float32"), b.astype("float32")))
    close([s1, s2], [a.sum(1) @ k1, b.sum(1) @ k2], tol=1e-4)


def test_stateful_layer_in_a_sequential_model_keeps_the_real_batch():
    layer = L.GRU(3, stateful=True)
    model = keras.Sequential([keras.Input((5, 4)), layer])
    first = model(X).numpy()
    assert layer.states[0].shape == (3, 3)
    assert not np.allclose(model(X).numpy(), first)  # the second call starts from the states
    layer.reset_states()
    np.testing.assert_allclose(model(X).numpy(), first, rtol=1e-6)
