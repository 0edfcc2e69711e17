"""The Keras 3 Metric API and the built-in metrics, against real Keras (torch backend)."""

import numpy as np
import pytest

from zerograd import keras
from zerograd.tensor import Tensor

RNG = np.random.default_rng(0)
N, C = 12, 4


def _data(kind):
    r = np.random.default_rng(1)
    w1, w2 = r.uniform(0.1, 2.0, N), r.uniform(0.1, 2.0, N)
    if kind == "binary":
        yt = r.integers(0, 2, (2, N, 1)).astype("float32")
        yp = r.uniform(0, 1, (2, N, 1)).astype("float32")
    elif kind == "logits":
        yt = r.integers(0, 2, (2, N, 3)).astype("float32")
        yp = r.normal(size=(2, N, 3)).astype("float32")
    elif kind == "onehot":
        yt = np.eye(C, dtype="float32")[r.integers(0, C, (2, N))]
        yp = r.dirichlet(np.ones(C), (2, N)).astype("float32")
    elif kind == "sparse":
        yt = r.integers(0, C, (2, N, 1)).astype("float32")
        yp = r.dirichlet(np.ones(C), (2, N)).astype("float32")
    else:  # regression
        yt = r.uniform(0.5, 3.0, (2, N, 3)).astype("float32")
        yp = r.uniform(0.0, 3.0, (2, N, 3)).astype("float32")
    return yt, yp, (w1, w2)


CASES = [
    ("MeanAbsolutePercentageError", {}, "regression"),
    ("MeanSquaredLogarithmicError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression"),
    ("LogCoshError", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanSquaredError", {}, "regression"),
    ("KLDivergence", {}, "onehot"),
    ("Poisson", {}, "regression"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logits"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "onehot"),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, "sparse"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("CategoricalAccuracy", {}, "onehot"),
    ("BinaryAccuracy", {"threshold": 0.4}, "binary"),
    ("TruePositives", {}, "binary"),
    ("TrueNegatives", {"thresholds": [0.3, 0.6]}, "binary"),
    ("FalsePositives", {"thresholds": 0.7}, "binary"),
    ("FalseNegatives", {}, "binary"),
    ("Precision", {"thresholds": [0.2, 0.5]}, "binary"),
    ("Recall", {}, "binary"),
    ("Precision", {"class_id": 2}, "onehot"),
    ("Recall", {"top_k": 2}, "onehot"),
    ("AUC", {}, "binary"),
    ("AUC", {"curve": "PR"}, "binary"),
    ("AUC", {"num_thresholds": 50, "summation_method": "minoring"}, "binary"),
    ("PrecisionAtRecall", {"recall": 0.5}, "binary"),
    ("RecallAtPrecision", {"precision": 0.6}, "binary"),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.5}, "binary"),
]


@pytest.mark.parametrize(
    "name,kwargs,kind", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_metric_matches_keras(real_keras, name, kwargs, kind, weighted):
    yt, yp, ws = _data(kind)
    ours, theirs = (
        getattr(keras.metrics, name)(**kwargs),
        getattr(real_keras.metrics, name)(**kwargs),
    )
    for i in range(2):
        w = ws[i] if weighted else None
        ours.update_state(yt[i], yp[i], sample_weight=w)
        theirs.update_state(yt[i], yp[i], sample_weight=w)
    want = np.asarray(real_keras.ops.convert_to_numpy(theirs.result()))
    np.testing.assert_allclose(np.asarray(ours.result()), want, rtol=2e-5, atol=2e-5)
    ours.reset_state()
    theirs.reset_state()
    ours.update_state(yt[0], yp[0])
    theirs.update_state(yt[0], yp[0])
    want = np.asarray(real_keras.ops.convert_to_numpy(theirs.result()))
    np.testing.assert_allclose(np.asarray(ours.result()), want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize(
    "name,kwargs,kind", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_metric_config_round_trip(real_keras, name, kwargs, kind):
    ours = getattr(keras.metrics, name)(name="m", **kwargs)
    theirs = getattr(real_keras.metrics, name)(name="m", **kwargs)
    config = ours.get_config()
    assert set(theirs.get_config()) <= set(config)
    again = type(ours).from_config(config)
    assert again.get_config() == config
    assert len(again.variables) == len(theirs.variables)


def test_mean_and_sum_weights(real_keras):
    values = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    for cls in ("Mean", "Sum"):
        for w in (None, np.array([1.0, 0.0, 2.0]), np.array([[1.0, 0.5], [0.0, 1.0], [2.0, 1.0]])):
            ours, theirs = getattr(keras.metrics, cls)(), getattr(real_keras.metrics, cls)()
            ours.update_state(values, sample_weight=w)
            theirs.update_state(values, sample_weight=w)
            assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=1e-6)


def test_mean_metric_wrapper_with_a_function():
    def abs_diff(y_true, y_pred):
        return (y_true - y_pred).abs().mean(axis=-1)

    m = keras.metrics.MeanMetricWrapper(abs_diff, name="ad")
    m.update_state(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[2.0, 2.0], [0.0, 1.0]]), [1, 3])
    assert m.name == "ad"
    assert m.result() == pytest.approx((0.5 * 1 + 0.5 * 3) / 4)


class CategoricalTruePositives(keras.metrics.Metric):
    """The training guide's custom metric, written with Tensor methods."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        pred = keras.ops.reshape(keras.ops.argmax(y_pred, axis=1), (-1, 1))
        values = keras.ops.cast(
            keras.ops.cast(y_true, "int32") == keras.ops.cast(pred, "int32"), "float32"
        )
        if sample_weight is not None:
            values = keras.ops.multiply(values, keras.ops.cast(sample_weight, "float32"))
        self.true_positives.assign_add(keras.ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        self.true_positives.assign(0.0)


def test_custom_metric_with_add_variable():
    ops = pytest.importorskip("zerograd.keras.ops")
    needed = ("reshape", "argmax", "cast", "multiply", "sum")
    if not all(hasattr(ops, n) for n in needed):
        pytest.skip("zerograd.keras.ops lacks some of " + ", ".join(needed))
    m = CategoricalTruePositives()
    assert [v.name for v in m.variables] == ["ctp"]
    y_true = np.array([[0], [1], [2]])
    y_pred = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]], dtype="float32")
    first = m(y_true, y_pred)
    m.update_state(y_true, y_pred, sample_weight=np.array([[1.0], [0.5], [1.0]]))
    assert float(first) == 2.0  # the earlier result keeps its value
    assert float(m.result()) == 3.5
    m.reset_state()
    assert float(m.result()) == 0.0


def test_custom_metric_with_tensor_methods():
    class Hits(keras.metrics.Metric):
        def __init__(self, name="hits", **kwargs):
            super().__init__(name=name, **kwargs)
            self.hits = self.add_variable(shape=(), name="hits", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.hits.assign_add((y_pred.argmax(axis=-1) == y_true).sum())

        def result(self):
            return self.hits.value

    m = Hits()
    y_pred = Tensor(np.eye(3, dtype="float32"))
    assert float(m(np.array([0, 1, 0]), y_pred)) == 2.0
    assert Hits.from_config(m.get_config()).get_config() == {"name": "hits", "dtype": "float32"}


def test_variable_assign_and_nested_metrics():
    class Pair(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="pair")
            self.inner = keras.metrics.Mean()
            self.hits = self.add_variable((2,), "ones", name="hits")

    m = Pair()
    assert [v.name for v in m.variables] == ["hits", "total", "count"]
    m.hits.assign_add([1.0, 2.0])
    m.hits.assign_sub(1.0)
    np.testing.assert_array_equal(m.hits.numpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        m.hits.assign(np.zeros(3))
    m.reset_state()
    np.testing.assert_array_equal(m.hits.numpy(), [0.0, 0.0])


def test_add_variable_before_super_init_is_explained():
    class Broken(keras.metrics.Metric):
        def __init__(self):
            self.v = self.add_variable((), "zeros")

    with pytest.raises(RuntimeError, match="super"):
        Broken()


@pytest.mark.parametrize(
    "alias", ["mape", "msle", "mae", "mse", "bce", "auc", "precision", "root_mean_squared_error"]
)
def test_get_strings(real_keras, alias):
    ours = keras.metrics.get(alias)
    assert type(ours).__name__ == type(real_keras.metrics.get(alias)).__name__
    assert ours.name == alias


def test_compile_with_metric_strings_and_objects():
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    model.compile(
        "sgd",
        "mse",
        metrics=["mape", keras.metrics.RootMeanSquaredError(), keras.metrics.CosineSimilarity()],
    )
    x = RNG.normal(size=(16, 3)).astype("float32")
    history = model.fit(x, x[:, :2] + 1, epochs=1, batch_size=8, verbose=0)
    assert {"mape", "root_mean_squared_error", "cosine_similarity"} <= set(history.history)


def test_unknown_metric_is_explained():
    with pytest.raises(ValueError, match="unknown metric.*'nope'"):
        keras.metrics.get("nope")
