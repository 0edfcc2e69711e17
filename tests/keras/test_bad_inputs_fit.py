"""Bad arguments to fit/evaluate/predict, optimizers, losses and metrics: each raises a clear
error naming the method (or class), the argument and what was received. Where real Keras 3 also
refuses the input, it is the oracle: both must raise."""

import warnings

import numpy as np
import pytest

from zerograd import keras

RNG = np.random.default_rng(0)
X = RNG.random((10, 4), dtype=np.float32)
Y = RNG.integers(0, 3, 10)
YOH = np.eye(3, dtype=np.float32)[Y]
P = np.full((4, 3), 1 / 3, np.float32)


def classifier(k, loss="sparse_categorical_crossentropy"):
    inp = k.Input((4,), name="inp")
    out = k.layers.Dense(3, activation="softmax", name="out")(inp)
    model = k.Model(inp, out)
    model.compile(optimizer=k.optimizers.SGD(0.1), loss=loss)
    return model


def batches(*items):
    def gen():
        while True:
            yield from items

    return gen()


class Batches:
    """A PyDataset-like source (``__len__``, ``__getitem__``, ``on_epoch_end``) of one batch."""

    def __init__(self, batch):
        self.batch = batch

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return self.batch

    def on_epoch_end(self):
        pass


def sequential(k):
    model = k.Sequential([k.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, YOH, verbose=0)  # built for 4 features
    return model


# (id, call on a compiled classifier m (and mc for categorical targets), error, match,
#  whether real Keras 3.15 also raises)
FIT_CASES = [
    (
        "empty_fit",
        lambda m, mc: m.fit(X[:0], Y[:0]),
        ValueError,
        "fit: expected at least one sample",
        True,
    ),
    (
        "empty_evaluate",
        lambda m, mc: m.evaluate(X[:0], Y[:0]),
        ValueError,
        "evaluate: expected at least one sample",
        True,
    ),
    (
        "empty_validation_data",
        lambda m, mc: m.fit(X, Y, validation_data=(X[:0], Y[:0])),
        ValueError,
        r"fit \(validation_data\): expected at least one sample",
        False,
    ),
    (
        "batch_size_zero",
        lambda m, mc: m.fit(X, Y, batch_size=0),
        ValueError,
        "fit: batch_size must be a positive integer",
        False,
    ),
    (
        "batch_size_negative",
        lambda m, mc: m.fit(X, Y, batch_size=-1),
        ValueError,
        "fit: batch_size must be a positive integer.*-1",
        True,
    ),
    (
        "batch_size_float",
        lambda m, mc: m.fit(X, Y, batch_size=2.5),
        TypeError,
        r"fit: batch_size must be an integer or None, received 2\.5 \(float\)",
        True,
    ),
    (
        "batch_size_string",
        lambda m, mc: m.fit(X, Y, batch_size="a"),
        TypeError,
        r"fit: batch_size must be an integer or None, received 'a' \(str\)",
        True,
    ),
    (
        "epochs_negative",
        lambda m, mc: m.fit(X, Y, epochs=-1),
        ValueError,
        "fit: epochs must be a non-negative integer, received -1",
        False,
    ),
    (
        "epochs_float",
        lambda m, mc: m.fit(X, Y, epochs=1.5),
        TypeError,
        r"fit: epochs must be an integer, received 1\.5 \(float\)",
        True,
    ),
    (
        "epochs_string",
        lambda m, mc: m.fit(X, Y, epochs="2"),
        TypeError,
        r"fit: epochs must be an integer, received '2' \(str\)",
        True,
    ),
    (
        "epochs_none",
        lambda m, mc: m.fit(X, Y, epochs=None),
        TypeError,
        r"fit: epochs must be an integer, received None \(NoneType\)",
        True,
    ),
    (
        "initial_epoch_negative",
        lambda m, mc: m.fit(X, Y, initial_epoch=-1),
        ValueError,
        "fit: initial_epoch must be a non-negative integer",
        False,
    ),
    (
        "initial_epoch_float",
        lambda m, mc: m.fit(X, Y, initial_epoch=0.5),
        TypeError,
        r"fit: initial_epoch must be an integer, received 0\.5 \(float\)",
        True,
    ),
    (
        "steps_per_epoch_zero",
        lambda m, mc: m.fit(X, Y, steps_per_epoch=0),
        ValueError,
        "fit: steps_per_epoch must be a positive integer",
        False,
    ),
    (
        "steps_per_epoch_negative",
        lambda m, mc: m.fit(X, Y, steps_per_epoch=-1),
        ValueError,
        "fit: steps_per_epoch must be a positive integer",
        True,
    ),
    (
        "steps_per_epoch_float",
        lambda m, mc: m.fit(X, Y, steps_per_epoch=1.5),
        TypeError,
        r"fit: steps_per_epoch must be an integer or None, received 1\.5 \(float\)",
        True,
    ),
    (
        "validation_steps_zero",
        lambda m, mc: m.fit(X, Y, validation_data=(X, Y), validation_steps=0),
        ValueError,
        "fit: validation_steps must be a positive integer",
        False,
    ),
    (
        "validation_steps_negative",
        lambda m, mc: m.fit(X, Y, validation_data=(X, Y), validation_steps=-1),
        ValueError,
        "fit: validation_steps must be a positive integer",
        True,
    ),
    (
        "validation_batch_size_zero",
        lambda m, mc: m.fit(X, Y, validation_data=(X, Y), validation_batch_size=0),
        ValueError,
        "fit: validation_batch_size must be a positive integer",
        False,
    ),
    (
        "validation_freq_zero",
        lambda m, mc: m.fit(X, Y, validation_data=(X, Y), validation_freq=0),
        ValueError,
        "fit: validation_freq must be a positive integer.*0",
        True,
    ),
    (
        "validation_freq_negative",
        lambda m, mc: m.fit(X, Y, validation_data=(X, Y), validation_freq=-1),
        ValueError,
        "fit: validation_freq must be a positive integer.*-1",
        False,
    ),
    (
        "validation_freq_string",
        lambda m, mc: m.fit(X, Y, validation_data=(X, Y), validation_freq="a"),
        TypeError,
        "fit: validation_freq must be a positive integer or a list",
        True,
    ),
    (
        "validation_freq_float",
        lambda m, mc: m.fit(X, Y, validation_data=(X, Y), validation_freq=1.5),
        TypeError,
        "fit: validation_freq must be a positive integer or a list",
        True,
    ),
    (
        "validation_freq_list_zero",
        lambda m, mc: m.fit(X, Y, validation_data=(X, Y), validation_freq=[0, 2]),
        ValueError,
        r"fit: validation_freq given as a list must hold epoch numbers >= 1, received \[0\]",
        False,
    ),
    (
        "validation_data_one_element",
        lambda m, mc: m.fit(X, Y, validation_data=(X,)),
        ValueError,
        r"fit: validation_data must be \(x, y\) or \(x, y, sample_weight\), received a tuple of length 1",
        True,
    ),
    (
        "validation_data_four_elements",
        lambda m, mc: m.fit(X, Y, validation_data=(X, Y, None, None)),
        ValueError,
        "validation_data must be .*received a tuple of length 4",
        True,
    ),
    (
        "validation_data_lone_array",
        lambda m, mc: m.fit(X, Y, validation_data=X),
        ValueError,
        "validation_data must be .*received a single ndarray",
        True,
    ),
    (
        "validation_split_negative",
        lambda m, mc: m.fit(X, Y, validation_split=-0.1),
        ValueError,
        r"fit: validation_split must be in \[0, 1\), received -0\.1",
        False,
    ),
    (
        "validation_split_one",
        lambda m, mc: m.fit(X, Y, validation_split=1.0),
        ValueError,
        r"fit: validation_split must be in \[0, 1\), received 1\.0",
        True,
    ),
    (
        "validation_split_two",
        lambda m, mc: m.fit(X, Y, validation_split=2),
        ValueError,
        r"fit: validation_split must be in \[0, 1\), received 2\.0",
        True,
    ),
    (
        "validation_split_nan",
        lambda m, mc: m.fit(X, Y, validation_split=float("nan")),
        ValueError,
        r"fit: validation_split must be in \[0, 1\), received nan",
        False,
    ),
    (
        "validation_split_string",
        lambda m, mc: m.fit(X, Y, validation_split="0.2"),
        TypeError,
        r"fit: validation_split must be a number, received '0.2' \(str\)",
        True,
    ),
    (
        "sample_weight_short",
        lambda m, mc: m.fit(X, Y, sample_weight=np.ones(5)),
        ValueError,
        "fit: every array of x, y and sample_weight must have the same number of samples.*sample_weight=\\[5\\]",
        True,
    ),
    (
        "sample_weight_bad_shape",
        lambda m, mc: m.fit(X, Y, sample_weight=np.ones((10, 2, 2))),
        ValueError,
        r"weights of shape \(10, 2, 2\) does not broadcast",
        True,
    ),
    (
        "class_weight_unknown_class",
        lambda m, mc: m.fit(X, Y, class_weight={0: 1.0, 7: 2.0}),
        ValueError,
        r"fit: class_weight names classes \[7\] but the model has 3 classes",
        False,
    ),
    (
        "class_weight_list",
        lambda m, mc: m.fit(X, Y, class_weight=[1.0, 1.0, 1.0]),
        TypeError,
        "fit: class_weight must be a dict.*received list",
        True,
    ),
    (
        "class_weight_string_key",
        lambda m, mc: m.fit(X, Y, class_weight={"a": 1.0}),
        ValueError,
        r"class_weight keys must be class indices.*\['a'\]",
        False,
    ),
    (
        "class_weight_negative_key",
        lambda m, mc: m.fit(X, Y, class_weight={-1: 1.0}),
        ValueError,
        r"class_weight keys must be class indices.*\[-1\]",
        False,
    ),
    (
        "class_weight_nan_value",
        lambda m, mc: m.fit(X, Y, class_weight={0: float("nan")}),
        ValueError,
        "class_weight values must be finite numbers",
        False,
    ),
    (
        "class_weight_one_hot_unknown",
        lambda m, mc: mc.fit(X, YOH, class_weight={3: 1.0}),
        ValueError,
        r"class_weight names classes \[3\] but the model has 3 classes",
        False,
    ),
    (
        "class_weight_and_sample_weight",
        lambda m, mc: m.fit(X, Y, class_weight={0: 1.0}, sample_weight=np.ones(10)),
        ValueError,
        "give class_weight or sample_weight, not both",
        True,
    ),
    (
        "sparse_labels_wrong_shape",
        lambda m, mc: m.fit(X, np.zeros((10, 3))),
        ValueError,
        r"sparse_categorical_crossentropy: expected target .*received target.shape=\(10, 3\)",
        True,
    ),
    (
        "sparse_labels_too_large",
        lambda m, mc: m.fit(X, Y + 3),
        ValueError,
        r"sparse_categorical_crossentropy: labels must be in \[0, 3\)",
        True,
    ),
    (
        "sparse_labels_negative",
        lambda m, mc: m.fit(X, Y - 3),
        ValueError,
        r"sparse_categorical_crossentropy: labels must be in \[0, 3\).*min -3",
        True,
    ),
    (
        "sparse_labels_fractional",
        lambda m, mc: m.fit(X, Y + 0.5),
        ValueError,
        "sparse_categorical_crossentropy: expected integer class labels",
        False,
    ),
    (
        "categorical_wrong_classes",
        lambda m, mc: mc.fit(X, YOH[:, :2]),
        ValueError,
        r"categorical_crossentropy: expected target and output of the same shape.*\(10, 2\).*\(10, 3\)",
        True,
    ),
    (
        "categorical_sparse_labels",
        lambda m, mc: mc.fit(X, Y.reshape(-1, 1)),
        ValueError,
        r"categorical_crossentropy: .*target.shape=\(10, 1\)",
        True,
    ),
    (
        "x_wrong_features",
        lambda m, mc: m.fit(np.zeros((10, 5), "float32"), Y),
        ValueError,
        r"expected input inp of shape \(batch, 4\), received shape \(10, 5\)",
        True,
    ),
    (
        "x_wrong_rank",
        lambda m, mc: m.fit(np.zeros((10,), "float32"), Y),
        ValueError,
        r"expected input inp of shape \(batch, 4\), received shape \(10,\)",
        True,
    ),
    (
        "predict_wrong_features",
        lambda m, mc: m.predict(np.zeros((3, 5), "float32")),
        ValueError,
        r"expected input inp of shape \(batch, 4\), received shape \(3, 5\)",
        True,
    ),
    (
        "x_none",
        lambda m, mc: m.fit(None, Y),
        ValueError,
        "fit: expected input data x, received None",
        True,
    ),
    (
        "y_none",
        lambda m, mc: m.fit(X, None),
        ValueError,
        "fit: y is None, but model .* was compiled with a loss",
        True,
    ),
    (
        "evaluate_y_none",
        lambda m, mc: m.evaluate(X, None),
        ValueError,
        "evaluate: y is None, but model",
        True,
    ),
    (
        "x_string",
        lambda m, mc: m.fit("abc", Y),
        TypeError,
        "fit: expected arrays .*received str",
        True,
    ),
    (
        "y_shorter_than_x",
        lambda m, mc: m.fit(X, Y[:5]),
        ValueError,
        r"fit: every array .* received sizes x=\[10\], y=\[5\]",
        True,
    ),
    (
        "x_shorter_than_y",
        lambda m, mc: m.fit(X[:5], Y),
        ValueError,
        r"fit: every array .* received sizes x=\[5\], y=\[10\]",
        True,
    ),
    (
        "evaluate_lengths_differ",
        lambda m, mc: m.evaluate(X, Y[:5]),
        ValueError,
        r"evaluate: every array .* x=\[10\], y=\[5\]",
        True,
    ),
    (
        "dict_input_missing_key",
        lambda m, mc: m.fit({"nope": X}, Y),
        ValueError,
        r"x given as a dict misses \['inp'\] and has unknown keys \['nope'\]",
        True,
    ),
    (
        "dict_target_unknown_key",
        lambda m, mc: m.fit(X, {"nope": Y}),
        ValueError,
        r"targets given as a dict must be keyed by output names \['out'\]; received unknown keys \['nope'\]",
        True,
    ),
    (
        "generator_four_tuple",
        lambda m, mc: m.fit(batches((X[:2], Y[:2], None, None)), steps_per_epoch=2),
        ValueError,
        r"\(x,\), \(x, y\) or \(x, y, sample_weight\), received a tuple of 4",
        True,
    ),
    (
        "generator_scalar",
        lambda m, mc: m.fit(batches(5), steps_per_epoch=2),
        TypeError,
        r"fit: each batch of a generator must be \(x,\), \(x, y\) or \(x, y, sample_weight\).*received int",
        True,
    ),
    (
        "generator_none",
        lambda m, mc: m.fit(batches(None), steps_per_epoch=2),
        TypeError,
        "fit: each batch of a generator must be .*received NoneType",
        True,
    ),
    (
        "generator_with_y",
        lambda m, mc: m.fit(batches((X, Y)), Y, steps_per_epoch=2),
        ValueError,
        "fit: argument y is not supported when x is a generator",
        True,
    ),
    (
        "pydataset_scalar",
        lambda m, mc: m.fit(Batches(3.0)),
        TypeError,
        r"fit: each batch of a Batches must be \(x,\), \(x, y\) or \(x, y, sample_weight\).*received float",
        False,
    ),
    (
        "pydataset_four_tuple",
        lambda m, mc: m.fit(Batches((X[:2], Y[:2], None, 1))),
        ValueError,
        r"received a tuple of 4 elements",
        False,
    ),
    (
        "sequential_wrong_features",
        lambda m, mc: sequential(keras).fit(np.zeros((4, 5), "float32"), YOH[:4], verbose=0),
        ValueError,
        r"Dense '.*' expected input with last axis 4, received shape \(4, 5\)",
        False,
    ),
    (
        "train_on_batch_class_weight_list",
        lambda m, mc: m.train_on_batch(X, Y, class_weight=[1.0, 2.0, 1.0]),
        TypeError,
        "class_weight must be a dict mapping class indices to weights, received list",
        True,
    ),
    (
        "verbose_bad",
        lambda m, mc: m.fit(X, Y, verbose=-1),
        ValueError,
        r"fit: verbose must be 'auto' or an integer >= 0 .*received -1",
        False,
    ),
    (
        "callbacks_not_list",
        lambda m, mc: m.fit(X, Y, callbacks=3),
        TypeError,
        "fit: callbacks must be a list of keras.callbacks.Callback or None, received int",
        True,
    ),
    (
        "callbacks_bad_item",
        lambda m, mc: m.fit(X, Y, callbacks=["early"]),
        TypeError,
        r"fit: callbacks must be a list .* callbacks\[0\] of type str",
        True,
    ),
    (
        "evaluate_batch_size_zero",
        lambda m, mc: m.evaluate(X, Y, batch_size=0),
        ValueError,
        "evaluate: batch_size must be a positive integer",
        False,
    ),
    (
        "evaluate_steps_negative",
        lambda m, mc: m.evaluate(X, Y, steps=-1),
        ValueError,
        "evaluate: steps must be a positive integer.*-1",
        True,
    ),
    (
        "predict_batch_size_negative",
        lambda m, mc: m.predict(X, batch_size=-2),
        ValueError,
        "predict: batch_size must be a positive integer.*-2",
        True,
    ),
    (
        "predict_steps_zero",
        lambda m, mc: m.predict(X, steps=0),
        ValueError,
        "predict: steps must be a positive integer",
        False,
    ),
    (
        "predict_none",
        lambda m, mc: m.predict(None),
        ValueError,
        "predict: expected input data x, received None",
        True,
    ),
    (
        "unknown_fit_argument",
        lambda m, mc: m.fit(X, Y, foo=1),
        TypeError,
        "unexpected keyword argument 'foo'",
        True,
    ),
]


@pytest.mark.parametrize(
    "call, error, match, keras_raises",
    [case[1:] for case in FIT_CASES],
    ids=[case[0] for case in FIT_CASES],
)
def test_fit_evaluate_predict_bad_input(real_keras, call, error, match, keras_raises):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=match):
            _quiet(call)(classifier(keras), classifier(keras, "categorical_crossentropy"))
        if keras_raises:  # real Keras refuses the same input (its message may be less clear)
            ref = classifier(real_keras)
            ref_cat = classifier(real_keras, "categorical_crossentropy")
            with pytest.raises(Exception):  # noqa: B017 - any error: Keras's types vary
                _quiet(call)(ref, ref_cat)


def _quiet(call):
    def run(m, mc):
        m_fit, m_eval, m_pred = m.fit, m.evaluate, m.predict
        m.fit = lambda *a, **k: m_fit(*a, **{"verbose": 0, **k})
        m.evaluate = lambda *a, **k: m_eval(*a, **{"verbose": 0, **k})
        m.predict = lambda *a, **k: m_pred(*a, **{"verbose": 0, **k})
        mc_fit = mc.fit
        mc.fit = lambda *a, **k: mc_fit(*a, **{"verbose": 0, **k})
        return call(m, mc)

    return run


def test_valid_edge_arguments_still_train():
    """The checks refuse nothing valid: epochs=0, numpy integers, a list validation_freq, a list
    validation_data, class weights of a subset of classes."""
    m = classifier(keras)
    assert m.fit(X, Y, epochs=0, verbose=0).history == {}
    h = m.fit(
        X,
        Y,
        epochs=np.int64(2),
        batch_size=np.int32(4),
        validation_data=[X, Y],
        validation_freq=[2],
        class_weight={0: 2.0, 2: 0.5},
        verbose=0,
    )
    assert len(h.history["loss"]) == 2 and len(h.history["val_loss"]) == 1


def test_class_weight_lookup_matches_per_sample_definition():
    from zerograd.keras.data_adapters import class_weight_to_sample_weight

    labels = np.array([0, 2, 1, 5, 2])
    got = class_weight_to_sample_weight(labels, {0: 3.0, 2: 0.5})
    np.testing.assert_array_equal(got, [3.0, 0.5, 1.0, 1.0, 0.5])  # unknown classes weigh 1
    one_hot = np.eye(3, dtype=np.float32)[[1, 0]]
    np.testing.assert_array_equal(class_weight_to_sample_weight(one_hot, {1: 4.0}), [4.0, 1.0])


@pytest.mark.parametrize(
    "build", ["functional", "two_outputs", "sequential_conv", "sequential_lstm"]
)
def test_predict_on_zero_samples_has_the_output_shape(build):
    """The issue asks for shape (0, classes); real Keras 3.15 fails here with an
    UnboundLocalError, so zerograd deliberately differs."""
    if build == "functional":
        model, x = classifier(keras), X[:0]
        want = (0, 3)
    elif build == "two_outputs":
        inp = keras.Input((4,))
        model = keras.Model(inp, [keras.layers.Dense(2)(inp), keras.layers.Dense(3)(inp)])
        out = model.predict(X[:0], verbose=0)
        assert [o.shape for o in out] == [(0, 2), (0, 3)]
        return
    elif build == "sequential_conv":
        model = keras.Sequential(
            [
                keras.Input((6, 6, 2)),
                keras.layers.Conv2D(4, 3),
                keras.layers.BatchNormalization(),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(5),
            ]
        )
        x, want = np.zeros((0, 6, 6, 2), "float32"), (0, 5)
    else:
        model = keras.Sequential([keras.layers.LSTM(4, return_sequences=True)])
        x, want = np.zeros((0, 7, 3), "float32"), (0, 7, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "ran out of data" warning either
        out = model.predict(x, verbose=0)
    assert out.shape == want and out.dtype == np.float32


def test_predict_on_zero_samples_of_a_generator_is_an_error():
    m = classifier(keras)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="predict: the input data gave no batches"):
            m.predict(iter([]), verbose=0)


# --- optimizers ------------------------------------------------------------------------------
OPTIMIZER_CASES = [
    (
        "lr_nan",
        lambda o: o.Adam(float("nan")),
        ValueError,
        r"Adam: learning_rate must be a finite number in \[0, inf\), received nan",
        False,
    ),
    (
        "lr_inf",
        lambda o: o.Adam(float("inf")),
        ValueError,
        r"Adam: learning_rate must be a finite number in \[0, inf\), received inf",
        False,
    ),
    (
        "lr_negative",
        lambda o: o.SGD(-0.1),
        ValueError,
        r"SGD: learning_rate must be a finite number in \[0, inf\), received -0.1",
        False,
    ),
    (
        "lr_string",
        lambda o: o.Adam("0.01"),
        ValueError,
        "Adam: learning_rate should be a float.*'0.01'",
        True,
    ),
    (
        "lr_none",
        lambda o: o.RMSprop(None),
        ValueError,
        "RMSprop: learning_rate should be a float.*None",
        True,
    ),
    (
        "lr_setter_nan",
        lambda o: setattr(o.Adam(0.1), "learning_rate", float("nan")),
        ValueError,
        r"Adam: learning_rate must be a finite number in \[0, inf\), received nan",
        False,
    ),
    (
        "beta_1_one",
        lambda o: o.Adam(beta_1=1.0),
        ValueError,
        r"Adam: beta_1 must be a finite number in \[0, 1\), received 1.0",
        False,
    ),
    (
        "beta_1_negative",
        lambda o: o.Adam(beta_1=-0.1),
        ValueError,
        r"Adam: beta_1 must be .* received -0.1",
        False,
    ),
    (
        "beta_2_large",
        lambda o: o.AdamW(beta_2=1.5),
        ValueError,
        "AdamW: beta_2 must be a finite number",
        False,
    ),
    ("adamax_beta_1", lambda o: o.Adamax(beta_1=2.0), ValueError, "Adamax: beta_1 must be", False),
    (
        "nadam_beta_2_nan",
        lambda o: o.Nadam(beta_2=float("nan")),
        ValueError,
        "Nadam: beta_2 must be",
        False,
    ),
    (
        "epsilon_negative",
        lambda o: o.Adam(epsilon=-1e-7),
        ValueError,
        r"Adam: epsilon must be a finite number in \[0, inf\), received -1e-07",
        False,
    ),
    (
        "epsilon_string",
        lambda o: o.Adam(epsilon="small"),
        TypeError,
        r"Adam: epsilon must be a finite number, received 'small' \(str\)",
        False,
    ),
    (
        "clipnorm_negative",
        lambda o: o.Adam(clipnorm=-1.0),
        ValueError,
        r"Adam: clipnorm must be a finite number in \(0, inf\) or None, received -1.0",
        False,
    ),
    (
        "clipvalue_negative",
        lambda o: o.SGD(clipvalue=-0.5),
        ValueError,
        r"SGD: clipvalue must be a finite number in \(0, inf\) or None, received -0.5",
        False,
    ),
    (
        "global_clipnorm_zero",
        lambda o: o.SGD(global_clipnorm=0.0),
        ValueError,
        r"SGD: global_clipnorm must be a finite number in \(0, inf\) or None, received 0.0",
        False,
    ),
    (
        "clipnorm_and_global_clipnorm",
        lambda o: o.Adam(clipnorm=1.0, global_clipnorm=1.0),
        ValueError,
        "Adam: only one of clipnorm, clipvalue and global_clipnorm",
        True,
    ),
    (
        "weight_decay_negative",
        lambda o: o.Adam(weight_decay=-0.01),
        ValueError,
        r"Adam: weight_decay must be a finite number in \[0, inf\) or None, received -0.01",
        False,
    ),
    (
        "sgd_momentum_string",
        lambda o: o.SGD(momentum="high"),
        TypeError,
        r"SGD: momentum must be a finite number, received 'high' \(str\)",
        True,
    ),
    (
        "sgd_momentum_large",
        lambda o: o.SGD(momentum=1.5),
        ValueError,
        r"SGD: momentum must be a finite number in \[0, 1\], received 1.5",
        True,
    ),
    (
        "rmsprop_rho",
        lambda o: o.RMSprop(rho=1.5),
        ValueError,
        r"RMSprop: rho must be a finite number in \[0, 1\)",
        False,
    ),
    (
        "adagrad_accumulator",
        lambda o: o.Adagrad(initial_accumulator_value=-1.0),
        ValueError,
        "Adagrad: initial_accumulator_value must be",
        False,
    ),
    ("adadelta_rho", lambda o: o.Adadelta(rho=-0.5), ValueError, "Adadelta: rho must be", False),
    (
        "ftrl_string",
        lambda o: o.Ftrl(l2_regularization_strength="x"),
        TypeError,
        r"Ftrl: l2_regularization_strength must be a finite number, received 'x' \(str\)",
        False,
    ),
    (
        "loss_scale_factor_negative",
        lambda o: o.Adam(loss_scale_factor=-2.0),
        ValueError,
        r"Adam: loss_scale_factor must be a finite number in \(0, inf\) or None, received -2.0",
        False,
    ),
    (
        "name_not_string",
        lambda o: o.Adam(name=3),
        TypeError,
        "Adam: name must be a string, received 3",
        True,
    ),
    (
        "unknown_argument",
        lambda o: o.Adam(foo=1),
        ValueError,
        r"Adam: argument\(s\) not recognized: \{'foo': 1\}",
        True,
    ),
]


@pytest.mark.parametrize(
    "make, error, match, keras_raises",
    [case[1:] for case in OPTIMIZER_CASES],
    ids=[case[0] for case in OPTIMIZER_CASES],
)
def test_optimizer_bad_argument(real_keras, make, error, match, keras_raises):
    with pytest.raises(error, match=match):
        make(keras.optimizers)
    if keras_raises:
        with pytest.raises(Exception):  # noqa: B017 - Keras's error types vary
            make(real_keras.optimizers)


# --- losses and metrics ----------------------------------------------------------------------
LOSS_METRIC_CASES = [
    (
        "scce_label_too_large",
        lambda k: k.losses.SparseCategoricalCrossentropy()(np.array([0, 1, 2, 3]), P),
        ValueError,
        r"labels must be in \[0, 3\).*max 3",
        True,
    ),
    (
        "scce_function_negative",
        lambda k: k.losses.sparse_categorical_crossentropy(np.array([0, -1, 2, 1]), P),
        ValueError,
        r"labels must be in \[0, 3\).*min -1",
        True,
    ),
    (
        "scce_fractional",
        lambda k: k.losses.SparseCategoricalCrossentropy()(np.array([0, 1, 2, 1.5]), P),
        ValueError,
        "expected integer class labels",
        False,
    ),
    (
        "cce_wrong_classes",
        lambda k: k.losses.CategoricalCrossentropy()(np.zeros((4, 2)), P),
        ValueError,
        r"categorical_crossentropy: expected target and output of the same shape",
        True,
    ),
    (
        "mse_batch_mismatch",
        lambda k: k.losses.MeanSquaredError()(np.zeros((5, 3)), P),
        ValueError,
        r"MeanSquaredError: y_true of shape \(5, 3\) and y_pred of shape \(4, 3\) do not match",
        True,
    ),
    (
        "kld_shape_mismatch",
        lambda k: k.losses.KLDivergence()(np.zeros((4, 2)), P),
        ValueError,
        r"KLDivergence: y_true of shape \(4, 2\) and y_pred of shape \(4, 3\)",
        True,
    ),
    (
        "loss_sample_weight_length",
        lambda k: k.losses.MeanSquaredError()(np.zeros((4, 3)), P, sample_weight=np.ones(5)),
        ValueError,
        r"weights of shape \(5,\) does not broadcast",
        True,
    ),
    (
        "label_smoothing_above_one",
        lambda k: k.losses.CategoricalCrossentropy(label_smoothing=2.0),
        ValueError,
        r"CategoricalCrossentropy: label_smoothing must be a number in \[0, 1\], received 2.0",
        False,
    ),
    (
        "label_smoothing_negative",
        lambda k: k.losses.BinaryCrossentropy(label_smoothing=-0.1),
        ValueError,
        "BinaryCrossentropy: label_smoothing must be",
        False,
    ),
    (
        "huber_delta_zero",
        lambda k: k.losses.Huber(delta=0.0),
        ValueError,
        "Huber: delta must be a number > 0, received 0.0",
        False,
    ),
    (
        "focal_gamma_negative",
        lambda k: k.losses.CategoricalFocalCrossentropy(gamma=-1.0),
        ValueError,
        "CategoricalFocalCrossentropy: gamma must be a number >= 0",
        False,
    ),
    (
        "loss_reduction",
        lambda k: k.losses.MeanSquaredError(reduction="avg"),
        ValueError,
        "MeanSquaredError: reduction must be one of",
        True,
    ),
    ("loss_unknown_name", lambda k: k.losses.get("nope"), ValueError, "unknown loss 'nope'", True),
    (
        "metric_shape_mismatch",
        lambda k: k.metrics.MeanSquaredError()(np.zeros((5, 3)), P),
        ValueError,
        r"MeanSquaredError 'mean_squared_error': y_true of shape \(5, 3\) and y_pred of shape \(4, 3\) do not match",
        True,
    ),
    (
        "accuracy_shape_mismatch",
        lambda k: k.metrics.Accuracy()(np.zeros((4, 2)), P),
        ValueError,
        r"Accuracy 'accuracy': y_true of shape \(4, 2\)",
        True,
    ),
    (
        "mean_sample_weight_length",
        lambda k: k.metrics.Mean()(np.ones(3), sample_weight=np.ones(4)),
        ValueError,
        r"Mean: sample_weight of shape \(4,\) does not broadcast",
        True,
    ),
    (
        "top_k_zero",
        lambda k: k.metrics.TopKCategoricalAccuracy(k=0),
        ValueError,
        "TopKCategoricalAccuracy: k must be a positive integer, received 0",
        False,
    ),
    (
        "sparse_top_k_negative",
        lambda k: k.metrics.SparseTopKCategoricalAccuracy(k=-1),
        ValueError,
        "SparseTopKCategoricalAccuracy: k must be a positive integer",
        False,
    ),
    (
        "recall_top_k_zero",
        lambda k: k.metrics.Recall(top_k=0),
        ValueError,
        "Recall: top_k must be an integer >= 1 or None, received 0",
        False,
    ),
    (
        "precision_class_id_negative",
        lambda k: k.metrics.Precision(class_id=-1),
        ValueError,
        "Precision: class_id must be an integer >= 0",
        False,
    ),
    (
        "metric_name_int",
        lambda k: k.metrics.Accuracy(name=3),
        TypeError,
        "Accuracy: name must be a string, received 3",
        True,
    ),
    (
        "metric_wrapper_not_callable",
        lambda k: k.metrics.MeanMetricWrapper(3),
        TypeError,
        "MeanMetricWrapper: fn must be callable",
        False,
    ),
    (
        "auc_thresholds",
        lambda k: k.metrics.AUC(num_thresholds=1),
        ValueError,
        "AUC: num_thresholds must be > 1",
        True,
    ),
]


@pytest.mark.parametrize(
    "make, error, match, keras_raises",
    [case[1:] for case in LOSS_METRIC_CASES],
    ids=[case[0] for case in LOSS_METRIC_CASES],
)
def test_loss_or_metric_bad_input(real_keras, make, error, match, keras_raises):
    with pytest.raises(error, match=match):
        make(keras)
    if keras_raises:
        with pytest.raises(Exception):  # noqa: B017 - Keras's error types vary
            make(real_keras)


def test_extra_dict_keys_and_large_verbose_are_accepted_as_keras(real_keras):
    """A dict of inputs with keys the model does not use: a warning and the keys are dropped, and
    verbose=3 is accepted, as real Keras does (a dataset's dict often has more columns)."""
    for k in (keras, real_keras):
        inp = k.Input((4,), name="inp")
        m = k.Model(inp, k.layers.Dense(3)(inp))
        m.compile("sgd", "sparse_categorical_crossentropy")
        with pytest.warns(UserWarning):
            m.fit({"inp": X, "id": X}, Y, epochs=1, verbose=0)
        m.fit(X, Y, epochs=1, verbose=3)
        assert m.predict({"inp": X, "id": X}, verbose=0).shape == (len(X), 3)


def test_nested_python_lists_of_numbers_are_one_array():
    """``predict([[1., 2., 3., 4.]])``: nested lists of numbers are read as NumPy reads them, one
    (1, 4) batch (real Keras refuses them; before, they reached Dense as a list and failed with a
    raw AttributeError)."""
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    want = m.predict(np.array([[1.0, 2.0, 3.0, 4.0]], "float32"), verbose=0)
    np.testing.assert_array_equal(m.predict([[1.0, 2.0, 3.0, 4.0]], verbose=0), want)


def test_sequential_takes_one_input_in_a_list_and_refuses_two(real_keras):
    """``predict([x])`` on a Sequential is ``predict(x)``, as Keras; two arrays for its one input
    are a clear error (Keras warns and guesses)."""
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    np.testing.assert_array_equal(m.predict([X], verbose=0), m.predict(X, verbose=0))
    m.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(
        ValueError, match=r"Sequential '.*' expects one input, received a list of 2"
    ):
        m.fit([X, X], Y, verbose=0)
    theirs = real_keras.Sequential([real_keras.Input((4,)), real_keras.layers.Dense(3)])
    assert theirs.predict([X], verbose=0).shape == (len(X), 3)
