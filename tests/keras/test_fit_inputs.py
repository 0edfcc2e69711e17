"""fit/evaluate/predict inputs: arrays, dicts and lists by name, generators, PyDataset-like
objects, zerograd and torch DataLoaders; multi-output losses and metrics against real Keras."""

import warnings

import numpy as np
import pytest

from zerograd import keras
from zerograd.data import DataLoader, TensorDataset

RNG = np.random.default_rng(0)
XA = RNG.random((8, 3), dtype=np.float32)
XB = RNG.random((8, 2), dtype=np.float32)
Y1 = RNG.random((8, 1), dtype=np.float32)
Y2 = np.eye(3, dtype=np.float32)[RNG.integers(0, 3, 8)]


def two_in_two_out(k):
    a = k.Input((3,), name="a")
    b = k.Input((2,), name="b")
    h = k.layers.Concatenate()([a, b])
    score = k.layers.Dense(1, name="score")(h)
    cls = k.layers.Dense(3, activation="softmax", name="cls")(h)
    return k.Model([a, b], [score, cls])


def twins(real_keras, build):
    ref = build(real_keras)
    ours = build(keras)
    ours.set_weights(ref.get_weights())
    return ref, ours


def assert_history(ours, ref, rtol=1e-4):
    assert sorted(ours) == sorted(ref)
    for key in ref:
        np.testing.assert_allclose(ours[key], ref[key], rtol=rtol, atol=1e-5, err_msg=key)


def test_multi_output_dicts_by_name_match_keras(real_keras):
    ref, ours = twins(real_keras, two_in_two_out)
    kwargs = dict(
        loss={"score": "mse", "cls": "categorical_crossentropy"},
        metrics={"score": ["mae"], "cls": ["accuracy"]},
        loss_weights={"score": 2.0, "cls": 1.0},
    )
    x, y = {"a": XA, "b": XB}, {"score": Y1, "cls": Y2}
    hist = []
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(k.optimizers.SGD(0.1), **kwargs)
        h = m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=(x, y))
        hist.append(h.history)
    assert "score_loss" in hist[1] and "val_cls_accuracy" in hist[1]
    assert_history(hist[1], hist[0])
    e_ref = ref.evaluate([XA, XB], [Y1, Y2], verbose=0, return_dict=True)
    e_ours = ours.evaluate([XA, XB], [Y1, Y2], verbose=0, return_dict=True)
    assert_history({k: [v] for k, v in e_ours.items()}, {k: [v] for k, v in e_ref.items()})


@pytest.mark.parametrize(
    "loss, metrics",
    [
        (["mse", None], [["mae", "mse"], None]),
        ("mse", None),
        (["mse", "categorical_crossentropy"], [["mae"], ["accuracy"]]),
    ],
)
def test_multi_output_lists_match_keras(real_keras, loss, metrics):
    ref, ours = twins(real_keras, two_in_two_out)
    hist = []
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(k.optimizers.SGD(0.1), loss=loss, metrics=metrics)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            h = m.fit([XA, XB], [Y1, Y2], batch_size=4, epochs=1, shuffle=False, verbose=0)
        hist.append(h.history)
    assert_history(hist[1], hist[0])


def dense_model(k):
    return k.Sequential([k.Input((3,)), k.layers.Dense(2, activation="softmax")])


def labels():
    return RNG.integers(0, 2, 8).astype(np.float32)


def test_torch_dataloader_matches_keras(real_keras):
    import torch

    y = labels()
    ref, ours = twins(real_keras, dense_model)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(XA), torch.from_numpy(y)), batch_size=3
    )
    hist = []
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(k.optimizers.SGD(0.5), "sparse_categorical_crossentropy", metrics=["accuracy"])
        hist.append(m.fit(loader, epochs=2, verbose=0, validation_data=loader).history)
    assert_history(hist[1], hist[0])
    np.testing.assert_allclose(
        ours.predict(loader, verbose=0), ref.predict(loader, verbose=0), atol=1e-5
    )


def test_class_weight_matches_keras(real_keras):
    y = np.array([0, 1, 1, 0, 1, 1, 1, 0], dtype=np.float32)
    ref, ours = twins(real_keras, dense_model)
    hist = []
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(k.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
        h = m.fit(XA, y, batch_size=4, shuffle=False, verbose=0, class_weight={0: 3.0, 1: 0.5})
        hist.append(h.history)
    assert_history(hist[1], hist[0])


class Batches:
    """A PyDataset by duck typing: __len__, __getitem__(i) -> batch, on_epoch_end()."""

    def __init__(self, x, y, size):
        self.x, self.y, self.size, self.ends = x, y, size, 0

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, i):
        s = slice(i * self.size, (i + 1) * self.size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.ends += 1


def fresh(seed_weights):
    m = dense_model(keras)
    m.set_weights(seed_weights)
    m.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.mark.parametrize("kind", ["pydataset", "zerograd_loader", "generator", "iterator"])
def test_batch_sources_give_the_same_history_as_arrays(kind):
    y = labels()
    w0 = dense_model(keras).get_weights()
    want = fresh(w0).fit(XA, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    steps = None
    if kind == "pydataset":
        data = Batches(XA, y, 4)
    elif kind == "zerograd_loader":
        data = DataLoader(TensorDataset(XA, y), batch_size=4)
    else:
        batches = [(XA[i : i + 4], y[i : i + 4]) for i in (0, 4)] * 2
        data = (b for b in batches) if kind == "generator" else iter(batches)
        steps = 2
    got = fresh(w0).fit(data, epochs=2, steps_per_epoch=steps, shuffle=False, verbose=0).history
    assert_history(got, want, rtol=1e-6)
    if kind == "pydataset":
        assert data.ends == 2


def test_generator_steps_and_validation_steps():
    y = labels()
    m = fresh(dense_model(keras).get_weights())

    def forever():
        while True:
            for i in (0, 4):
                yield XA[i : i + 4], y[i : i + 4]

    seen = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

        def on_test_batch_end(self, batch, logs=None):
            seen.append(("val", batch))

    h = m.fit(
        forever(),
        epochs=2,
        steps_per_epoch=3,
        verbose=0,
        callbacks=[Count()],
        validation_data=forever(),
        validation_steps=1,
    )
    assert seen == [0, 1, 2, ("val", 0)] * 2
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]


def test_a_generator_running_out_stops_with_a_warning():
    y = labels()
    m = fresh(dense_model(keras).get_weights())
    gen = ((XA[i : i + 4], y[i : i + 4]) for i in (0, 4))
    with pytest.warns(UserWarning, match="ran out of data"):
        h = m.fit(gen, epochs=3, verbose=0)
    assert h.epoch == [0]


def test_validation_split_freq_and_initial_epoch():
    y = labels()
    m = fresh(dense_model(keras).get_weights())
    h = m.fit(XA, y, epochs=4, initial_epoch=1, validation_split=0.25, validation_freq=2, verbose=0)
    assert h.epoch == [1, 2, 3] and len(h.history["val_loss"]) == 2
    want = m.evaluate(XA[6:], y[6:], verbose=0)[0]
    assert h.history["val_loss"][-1] == pytest.approx(want, rel=1e-5)


def test_clear_errors():
    y = labels()
    m = fresh(dense_model(keras).get_weights())
    with pytest.raises(ValueError, match=r"same number of samples.*x=\[8\].*y=\[7\]"):
        m.fit(XA, y[:7], verbose=0)
    with pytest.raises(ValueError, match="argument y is not supported when x is a generator"):
        m.fit((b for b in [(XA, y)]), y, verbose=0)
    with pytest.raises(ValueError, match="validation_split is only supported for arrays"):
        m.fit(Batches(XA, y, 4), validation_split=0.5, verbose=0)
    with pytest.raises(ValueError, match="class_weight or sample_weight, not both"):
        m.fit(XA, y, class_weight={0: 1.0}, sample_weight=np.ones(8), verbose=0)
    multi = two_in_two_out(keras)
    multi.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"misses \['b'\]"):
        multi.fit({"a": XA}, [Y1, Y2], verbose=0)
    with pytest.raises(ValueError, match=r"unknown keys \['other'\]"):
        multi.fit([XA, XB], {"score": Y1, "other": Y2}, verbose=0)
    with pytest.raises(ValueError, match=r"loss has keys \['nope'\]"):
        multi.compile("sgd", loss={"nope": "mse"})
        multi.fit([XA, XB], [Y1, Y2], verbose=0)


def test_predict_multi_output_and_on_batch_methods(real_keras):
    ref, ours = twins(real_keras, two_in_two_out)
    got, want = (
        ours.predict({"a": XA, "b": XB}, batch_size=3, verbose=0),
        ref.predict({"a": XA, "b": XB}, batch_size=3, verbose=0),
    )
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-6)
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(k.optimizers.SGD(0.1), loss=["mse", "categorical_crossentropy"])
    np.testing.assert_allclose(
        ours.train_on_batch([XA, XB], [Y1, Y2]), ref.train_on_batch([XA, XB], [Y1, Y2]), rtol=1e-5
    )
    np.testing.assert_allclose(
        ours.test_on_batch([XA, XB], [Y1, Y2]), ref.test_on_batch([XA, XB], [Y1, Y2]), rtol=1e-5
    )


def test_custom_loss_function_and_loss_subclass_match_keras(real_keras):
    def custom_losses(k):
        def custom_mse(y_true, y_pred):
            return k.ops.mean(k.ops.square(y_true - y_pred), axis=-1)

        class CustomMSE(k.losses.Loss):
            def __init__(self, factor=0.1, name="custom_mse"):
                super().__init__(name=name)
                self.factor = factor

            def call(self, y_true, y_pred):
                reg = k.ops.mean(k.ops.square(0.5 - y_pred), axis=-1)
                return custom_mse(y_true, y_pred) + reg * self.factor

        return custom_mse, CustomMSE()

    sw = RNG.random(8).astype(np.float32)
    for i in range(2):
        ref, ours = twins(real_keras, dense_model)
        hist = []
        for k, m in ((real_keras, ref), (keras, ours)):
            m.compile(k.optimizers.SGD(0.5), loss=custom_losses(k)[i])
            h = m.fit(XA, Y2[:, :2], sample_weight=sw, batch_size=4, shuffle=False, verbose=0)
            hist.append(h.history)
        assert_history(hist[1], hist[0])


def test_keras_utils_py_dataset_subclass_and_validation():
    class Batches2(keras.utils.PyDataset):
        def __init__(self, x, y, size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.size, self.begins = x, y, size, 0

        def __len__(self):
            return -(-len(self.x) // self.size)

        def __getitem__(self, i):
            s = slice(i * self.size, (i + 1) * self.size)
            return self.x[s], self.y[s]

        def on_epoch_begin(self):
            self.begins += 1

    y = labels()
    w0 = dense_model(keras).get_weights()
    want = fresh(w0).fit(
        XA, y, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=(XA, y)
    )
    data = Batches2(XA, y, 4)
    got = fresh(w0).fit(data, epochs=2, shuffle=False, verbose=0, validation_data=data)
    assert_history(got.history, want.history, rtol=1e-6)
    assert data.begins == 4  # two training epochs and two validation runs


def test_weighted_metrics_names_and_values_match_keras(real_keras):
    y = labels()
    sw = RNG.random(8).astype(np.float32)
    ref, ours = twins(real_keras, dense_model)
    hist = []
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(
            k.optimizers.SGD(0.5),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
            weighted_metrics=["accuracy", "sparse_categorical_crossentropy"],
        )
        h = m.fit(XA, y, sample_weight=sw, batch_size=4, shuffle=False, verbose=0)
        hist.append(h.history)
    assert_history(hist[1], hist[0])


def dict_outputs(k):
    a = k.Input((3,), name="a")
    b = k.Input((2,), name="b")
    h = k.layers.Concatenate()([a, b])
    return k.Model(
        {"a": a, "b": b},
        {"score": k.layers.Dense(1)(h), "cls": k.layers.Dense(3, activation="softmax")(h)},
    )


def test_outputs_given_as_a_dict_are_named_by_its_keys_as_keras(real_keras):
    ref, ours = twins(real_keras, dict_outputs)
    x, y = {"a": XA, "b": XB}, {"score": Y1, "cls": Y2}
    hist = []
    for k, m in ((real_keras, ref), (keras, ours)):
        m.compile(
            k.optimizers.SGD(0.1),
            loss={"score": "mse", "cls": "categorical_crossentropy"},
            metrics={"cls": ["accuracy"]},
        )
        hist.append(m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history)
    assert "score_loss" in hist[1] and "cls_accuracy" in hist[1]
    assert_history(hist[1], hist[0])
    p_ref, p_ours = ref.predict(x, verbose=0), ours.predict(x, verbose=0)
    assert sorted(p_ours) == sorted(p_ref) == ["cls", "score"]
    for key in p_ref:
        np.testing.assert_allclose(p_ours[key], p_ref[key], rtol=1e-5, atol=1e-6)
