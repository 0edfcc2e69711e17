"""F-scores, R2, IoU family, hinge and correlation metrics against real Keras (torch backend)."""

import warnings

import numpy as np
import pytest

from zerograd import keras

N, C = 10, 3


def _data(kind, seed=0):
    r = np.random.default_rng(seed)
    if kind == "multilabel":
        yt = r.integers(0, 2, (2, N, C)).astype("float32")
        yp = r.uniform(0, 1, (2, N, C)).astype("float32")
    elif kind == "onehot":
        yt = np.eye(C, dtype="float32")[r.integers(0, C, (2, N))]
        yp = r.dirichlet(np.ones(C), (2, N)).astype("float32")
    elif kind == "sparse":
        yt = r.integers(0, C, (2, N)).astype("float32")
        yp = r.integers(0, C, (2, N)).astype("float32")
    elif kind == "binary":
        yt = r.integers(0, 2, (2, N, 1)).astype("float32")
        yp = r.uniform(0, 1, (2, N, 1)).astype("float32")
    elif kind == "signed":
        yt = r.choice([-1.0, 1.0], (2, N, C)).astype("float32")
        yp = r.normal(size=(2, N, C)).astype("float32")
    else:  # regression
        yt = r.normal(size=(2, N, C)).astype("float32")
        yp = (yt + r.normal(scale=0.5, size=(2, N, C))).astype("float32")
    return yt, yp


CASES = [
    ("F1Score", {}, "multilabel", False),
    ("F1Score", {"average": "micro", "threshold": 0.5}, "multilabel", False),
    ("F1Score", {"average": "macro"}, "onehot", False),
    ("FBetaScore", {"average": "weighted", "beta": 2.0, "threshold": 0.4}, "multilabel", False),
    ("FBetaScore", {"beta": 0.5}, "onehot", False),
    ("R2Score", {}, "regression", False),
    ("R2Score", {"class_aggregation": None}, "regression", False),
    ("R2Score", {"class_aggregation": "variance_weighted_average"}, "regression", False),
    ("R2Score", {"num_regressors": 2}, "regression", False),
    ("IoU", {"num_classes": C, "target_class_ids": [0, 2]}, "sparse", True),
    ("IoU", {"num_classes": C, "target_class_ids": [1], "ignore_class": 0}, "sparse", True),
    ("MeanIoU", {"num_classes": C}, "sparse", True),
    ("MeanIoU", {"num_classes": C, "sparse_y_true": False, "sparse_y_pred": False}, "onehot", True),
    ("BinaryIoU", {}, "binary", True),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, "binary", True),
    ("OneHotIoU", {"num_classes": C, "target_class_ids": [0, 1]}, "onehot", True),
    ("OneHotMeanIoU", {"num_classes": C}, "onehot", True),
    ("Hinge", {}, "signed", False),
    ("SquaredHinge", {}, "multilabel", False),
    ("CategoricalHinge", {}, "onehot", False),
    ("PearsonCorrelation", {}, "regression", False),
    ("ConcordanceCorrelation", {}, "regression", False),
    ("PearsonCorrelation", {"axis": 0}, "regression", False),
]


def _weights(integer):
    r = np.random.default_rng(5)
    if integer:
        return r.integers(0, 3, N).astype("int32"), r.integers(0, 3, N).astype("int32")
    return r.uniform(0.1, 2.0, N).astype("float32"), r.uniform(0.1, 2.0, N).astype("float32")


def _run(metric, yt, yp, weights):
    out = []
    for i in range(2):
        metric.update_state(yt[i], yp[i], sample_weight=None if weights is None else weights[i])
        out.append(np.asarray(metric.result(), dtype="float64"))
    return out


@pytest.mark.parametrize("cls,kwargs,kind,int_weights", CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_metric_matches_keras(real_keras, cls, kwargs, kind, int_weights, weighted):
    yt, yp = _data(kind)
    weights = _weights(int_weights) if weighted else None
    if weights is not None and kwargs.get("axis") == 0:  # one value per column: weights too
        weights = tuple(w[:C] for w in weights)
    ours, theirs = getattr(keras.metrics, cls)(**kwargs), getattr(real_keras.metrics, cls)(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [np.asarray(r, "float64") for r in _run_keras(theirs, yt, yp, weights)]
        got = _run(ours, yt, yp, weights)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)
    assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]
    assert ours.result().numpy().dtype == np.float32  # a tensor, as Keras returns
    ours.reset_state()
    assert all(not np.any(v.numpy()) for v in ours.variables)
    np.testing.assert_allclose(_run(ours, yt, yp, weights)[1], expected[1], rtol=1e-5, atol=1e-5)


def _run_keras(metric, yt, yp, weights):
    out = []
    for i in range(2):
        metric.update_state(yt[i], yp[i], sample_weight=None if weights is None else weights[i])
        out.append(metric.result().detach().cpu().numpy())
    return out


@pytest.mark.parametrize("cls,kwargs,kind,int_weights", CASES)
def test_config_round_trip(real_keras, cls, kwargs, kind, int_weights):
    kwargs = {**kwargs, "name": "m"}
    ours = getattr(keras.metrics, cls)(**kwargs)
    config = ours.get_config()
    assert config == getattr(real_keras.metrics, cls)(**kwargs).get_config()
    assert type(ours).from_config(config).get_config() == config
    again = keras.metrics.deserialize(keras.metrics.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == config


@pytest.mark.parametrize(
    "name,cls",
    [
        ("f1_score", "F1Score"),
        ("F1Score", "F1Score"),
        ("f_beta_score", "FBetaScore"),
        ("r2_score", "R2Score"),
        ("hinge", "Hinge"),
        ("squared_hinge", "SquaredHinge"),
        ("categorical_hinge", "CategoricalHinge"),
        ("pearson_correlation", "PearsonCorrelation"),
        ("concordance_correlation", "ConcordanceCorrelation"),
    ],
)
def test_get_by_name(real_keras, name, cls):
    assert type(keras.metrics.get(name)).__name__ == cls
    assert type(real_keras.metrics.get(name)).__name__ == cls


def test_bad_arguments():
    with pytest.raises(ValueError, match="average"):
        keras.metrics.F1Score(average="sum")
    with pytest.raises(ValueError, match="beta"):
        keras.metrics.FBetaScore(beta=1)
    with pytest.raises(ValueError, match="threshold"):
        keras.metrics.F1Score(threshold=1.5)
    with pytest.raises(ValueError, match="class_aggregation"):
        keras.metrics.R2Score(class_aggregation="median")
    with pytest.raises(ValueError, match="target_class_ids"):
        keras.metrics.IoU(2, target_class_ids=[2])
    with pytest.raises(ValueError, match="2D"):
        keras.metrics.F1Score().update_state(np.ones(3), np.ones(3))


def test_fit_with_f1_score_matches_keras(real_keras):
    r = np.random.default_rng(0)
    x = r.normal(size=(16, 5)).astype("float32")
    y = np.eye(3, dtype="float32")[r.integers(0, 3, 16)]

    def build(k):
        model = k.Sequential([k.Input((5,)), k.layers.Dense(3, activation="softmax")])
        model.compile(
            optimizer=k.optimizers.SGD(0.1),
            loss="categorical_crossentropy",
            metrics=[k.metrics.F1Score(average="macro"), k.metrics.R2Score()],
        )
        return model

    ours, theirs = build(keras), build(real_keras)
    ours.set_weights(theirs.get_weights())
    h_ours = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    h_theirs = theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    for key in ("loss", "f1_score", "r2_score"):
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "fn,kind,kwargs",
    [
        ("binary_accuracy", "binary", {"threshold": 0.4}),
        ("categorical_accuracy", "onehot", {}),
        ("top_k_categorical_accuracy", "onehot", {"k": 2}),
        ("hinge", "signed", {}),
        ("squared_hinge", "signed", {}),
        ("categorical_hinge", "onehot", {}),
        ("huber", "regression", {}),
        ("pearson_correlation", "regression", {}),
        ("concordance_correlation", "regression", {"axis": 0}),
    ],
)
def test_metric_functions_match_keras(real_keras, fn, kind, kwargs):
    yt, yp = _data(kind, seed=3)
    got = getattr(keras.metrics, fn)(yt[0], yp[0], **kwargs)
    expected = getattr(real_keras.metrics, fn)(yt[0], yp[0], **kwargs).detach().cpu().numpy()
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn", ["sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"])
def test_sparse_accuracy_functions_match_keras(real_keras, fn):
    r = np.random.default_rng(4)
    yt = r.integers(0, C, (N,)).astype("float32")
    yp = r.dirichlet(np.ones(C), N).astype("float32")
    kwargs = {"k": 2} if "top_k" in fn else {}
    got = getattr(keras.metrics, fn)(yt, yp, **kwargs)
    expected = getattr(real_keras.metrics, fn)(yt, yp, **kwargs).detach().cpu().numpy()
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)


def test_f1_score_by_name_in_compile_keeps_one_value_per_class_as_keras(real_keras):
    x = np.random.default_rng(0).random((16, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(16) % 3]
    hist = []
    for k in (real_keras, keras):
        m = k.Sequential([k.Input((4,)), k.layers.Dense(3, activation="softmax")])
        if k is real_keras:
            w = m.get_weights()
        else:
            m.set_weights(w)
        m.compile("sgd", "categorical_crossentropy", metrics=["f1_score"])
        hist.append(m.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history)
    np.testing.assert_allclose(hist[1]["f1_score"], hist[0]["f1_score"], rtol=1e-5, atol=1e-6)
    assert np.shape(hist[1]["f1_score"][-1]) == (3,)
