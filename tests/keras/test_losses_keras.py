"""keras.losses against real Keras 3 (torch backend): every loss as a class (default and other
arguments) and as a function, same values and same gradients w.r.t. y_pred; reductions, sample
weights, masks, configs and ``losses.get`` names."""

import numpy as np
import pytest

from zerograd import Tensor, keras
from zerograd.keras import losses

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
B, C = 4, 5


def _probs(shape):
    p = RNG.random(shape).astype(np.float32) + 0.05
    return p / p.sum(-1, keepdims=True)


_LABELS = np.array([0, 2, 4, 2], dtype=np.int64)
DATA = {  # name: (y_true, y_pred)
    "reg": (RNG.normal(size=(B, C)), RNG.normal(size=(B, C))),
    "reg_col": (RNG.normal(size=(B,)), RNG.normal(size=(B, 1))),  # y_true expanded to (B, 1)
    "pos": (RNG.random((B, C)) * 3, RNG.random((B, C)) * 3 + 0.1),
    "probs": (_probs((B, C)), _probs((B, C))),
    "binary": (RNG.integers(0, 2, (B, C)), RNG.uniform(0.02, 0.98, (B, C))),
    "binary_logits": (RNG.integers(0, 2, (B, C)), RNG.normal(size=(B, C)) * 2),
    "signed": (RNG.choice([-1.0, 1.0], (B, C)), RNG.normal(size=(B, C))),
    "onehot": (np.eye(C)[_LABELS], _probs((B, C))),
    "onehot_logits": (np.eye(C)[_LABELS], RNG.normal(size=(B, C)) * 2),
    "sparse": (_LABELS, _probs((B, C))),
    "sparse_col": (_LABELS[:, None], _probs((B, C))),
    "sparse_logits": (_LABELS, RNG.normal(size=(B, C)) * 2),
}
DATA = {k: (t.astype(np.float32), p.astype(np.float32)) for k, (t, p) in DATA.items()}
DATA["sparse"] = (_LABELS, DATA["sparse"][1])
DATA["sparse_logits"] = (_LABELS, DATA["sparse_logits"][1])
SAMPLE_WEIGHT = RNG.uniform(0.2, 2.0, B).astype(np.float32)

# (class name, function name, constructor arguments, data)
CASES = [
    ("MeanSquaredError", "mean_squared_error", {}, "reg"),
    ("MeanSquaredError", "mean_squared_error", {}, "reg_col"),
    ("MeanAbsoluteError", "mean_absolute_error", {}, "reg"),
    ("MeanAbsolutePercentageError", "mean_absolute_percentage_error", {}, "reg"),
    ("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", {}, "pos"),
    ("CosineSimilarity", "cosine_similarity", {}, "reg"),
    ("CosineSimilarity", "cosine_similarity", {"axis": 0}, "reg"),
    ("Huber", "huber", {}, "reg"),
    ("Huber", "huber", {"delta": 0.4}, "reg"),
    ("LogCosh", "log_cosh", {}, "reg"),
    ("KLDivergence", "kl_divergence", {}, "probs"),
    ("Poisson", "poisson", {}, "pos"),
    ("Hinge", "hinge", {}, "binary_logits"),
    ("Hinge", "hinge", {}, "signed"),
    ("SquaredHinge", "squared_hinge", {}, "binary_logits"),
    ("SquaredHinge", "squared_hinge", {}, "signed"),
    ("CategoricalHinge", "categorical_hinge", {}, "onehot_logits"),
    ("BinaryCrossentropy", "binary_crossentropy", {}, "binary"),
    ("BinaryCrossentropy", "binary_crossentropy", {"label_smoothing": 0.2, "axis": 0}, "binary"),
    ("BinaryCrossentropy", "binary_crossentropy", {"from_logits": True}, "binary_logits"),
    ("BinaryFocalCrossentropy", "binary_focal_crossentropy", {}, "binary"),
    (
        "BinaryFocalCrossentropy",
        "binary_focal_crossentropy",
        {
            "apply_class_balancing": True,
            "alpha": 0.4,
            "gamma": 1.5,
            "from_logits": True,
            "label_smoothing": 0.1,
        },
        "binary_logits",
    ),
    ("CategoricalCrossentropy", "categorical_crossentropy", {}, "onehot"),
    ("CategoricalCrossentropy", "categorical_crossentropy", {"axis": 0}, "onehot"),
    (
        "CategoricalCrossentropy",
        "categorical_crossentropy",
        {"from_logits": True, "label_smoothing": 0.1},
        "onehot_logits",
    ),
    ("CategoricalFocalCrossentropy", "categorical_focal_crossentropy", {}, "onehot"),
    (
        "CategoricalFocalCrossentropy",
        "categorical_focal_crossentropy",
        {"alpha": 0.5, "gamma": 1.0, "from_logits": True, "label_smoothing": 0.1},
        "onehot_logits",
    ),
    ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", {}, "sparse_col"),
    (
        "SparseCategoricalCrossentropy",
        "sparse_categorical_crossentropy",
        {"from_logits": True},
        "sparse_logits",
    ),
    (
        "SparseCategoricalCrossentropy",
        "sparse_categorical_crossentropy",
        {"from_logits": True, "ignore_class": 2},
        "sparse_logits",
    ),
    ("Dice", "dice", {}, "binary"),
    ("Dice", "dice", {"axis": 1}, "binary"),
    ("Tversky", "tversky", {}, "binary"),
    ("Tversky", "tversky", {"alpha": 0.3, "beta": 0.7, "axis": 1}, "binary"),
    (
        "CategoricalGeneralizedCrossEntropy",
        "categorical_generalized_cross_entropy",
        {"q": 0.3},
        "sparse",
    ),
]
IDS = [
    f"{c}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}-{d}" for c, _, kw, d in CASES
]


def _cotangent(shape) -> np.ndarray:
    """Fixed weights for the output, so every output element's gradient is checked."""
    return (np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) % 3 + 1) / 3


def run_keras(fn, y_true, y_pred, **kwargs):
    p = torch.tensor(y_pred, requires_grad=True)
    out = fn(y_true, p, **kwargs)
    c = torch.tensor(_cotangent(tuple(out.shape)))
    (out * c).sum().backward()
    return out.detach().numpy(), p.grad.numpy()


def run_ours(fn, y_true, y_pred, **kwargs):
    p = Tensor(y_pred.copy(), requires_grad=True)
    out = fn(y_true, p, **kwargs)
    (out * Tensor(_cotangent(out.shape))).sum().backward()
    return out.numpy(), p.grad.numpy()


def assert_same(ours, ref):
    (v, g), (rv, rg) = ours, ref
    assert v.shape == rv.shape, (v.shape, rv.shape)
    np.testing.assert_allclose(v, rv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, rg, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls_name, fn_name, kwargs, data", CASES, ids=IDS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "sample_weight"])
def test_loss_class_matches_keras(real_keras, cls_name, fn_name, kwargs, data, weighted):
    y_true, y_pred = DATA[data]
    sw = {"sample_weight": SAMPLE_WEIGHT} if weighted else {}
    if weighted and kwargs.get("axis") == 0:  # per-class losses against per-sample weights
        with pytest.raises(RuntimeError):
            run_keras(getattr(real_keras.losses, cls_name)(**kwargs), y_true, y_pred, **sw)
        with pytest.raises(ValueError, match="does not broadcast"):
            run_ours(getattr(losses, cls_name)(**kwargs), y_true, y_pred, **sw)
        return
    ref = run_keras(getattr(real_keras.losses, cls_name)(**kwargs), y_true, y_pred, **sw)
    assert_same(run_ours(getattr(losses, cls_name)(**kwargs), y_true, y_pred, **sw), ref)


@pytest.mark.parametrize("cls_name, fn_name, kwargs, data", CASES, ids=IDS)
def test_loss_function_matches_keras(real_keras, cls_name, fn_name, kwargs, data):
    y_true, y_pred = DATA[data]
    if data.endswith("_col"):  # the functions of the cross-entropies want equal shapes, as Keras's
        pytest.skip("shape fixing is the Loss wrapper's")
    ref = run_keras(getattr(real_keras.losses, fn_name), y_true, y_pred, **kwargs)
    assert_same(run_ours(getattr(losses, fn_name), y_true, y_pred, **kwargs), ref)


def test_sparse_ignore_class_on_probabilities_matches_keras_values(real_keras):
    y_true, y_pred = DATA["sparse"]
    ref = run_keras(real_keras.losses.SparseCategoricalCrossentropy(ignore_class=2), y_true, y_pred)
    ours = run_ours(losses.SparseCategoricalCrossentropy(ignore_class=2), y_true, y_pred)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5)
    keep = _LABELS != 2  # Keras's gradient is NaN on ignored rows (0/0); zerograd's is 0 there
    np.testing.assert_allclose(ours[1][keep], ref[1][keep], rtol=1e-5, atol=1e-6)
    assert np.all(ours[1][~keep] == 0)


REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", ["none", "per_sample", "per_step"])
def test_reductions_and_sample_weights_match_keras(real_keras, reduction, weight):
    y_true = RNG.normal(size=(B, 3, 2)).astype(np.float32)
    y_pred = RNG.normal(size=(B, 3, 2)).astype(np.float32)
    sw = {
        "none": None,
        "per_sample": SAMPLE_WEIGHT[:, None],
        "per_step": RNG.uniform(0.0, 2.0, (B, 3)).astype(np.float32),
    }[weight]
    ref = run_keras(
        real_keras.losses.MeanAbsoluteError(reduction=reduction), y_true, y_pred, sample_weight=sw
    )
    ours = run_ours(losses.MeanAbsoluteError(reduction=reduction), y_true, y_pred, sample_weight=sw)
    assert_same(ours, ref)


def test_sample_weight_against_the_wrong_axis_fails_as_in_keras(real_keras):
    y_true = RNG.normal(size=(B, 3, 2)).astype(np.float32)  # per-sample losses (B, 3)
    with pytest.raises(RuntimeError):
        run_keras(real_keras.losses.MeanSquaredError(), y_true, y_true, sample_weight=SAMPLE_WEIGHT)
    with pytest.raises(ValueError, match=r"weights of shape \(4,\) does not broadcast.*\(4, 3\)"):
        run_ours(losses.MeanSquaredError(), y_true, y_true, sample_weight=SAMPLE_WEIGHT)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
@pytest.mark.parametrize("weighted", [False, True])
def test_mask_on_y_pred_matches_keras(real_keras, reduction, weighted):
    from keras.src.backend import set_keras_mask

    y_true = RNG.normal(size=(B, 3, 2)).astype(np.float32)
    y_pred = RNG.normal(size=(B, 3, 2)).astype(np.float32)
    mask = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=bool)
    sw = {"sample_weight": SAMPLE_WEIGHT[:, None].repeat(3, 1)} if weighted else {}

    def keras_loss(t, p, **kw):
        set_keras_mask(p, torch.tensor(mask))
        return real_keras.losses.MeanSquaredError(reduction=reduction)(t, p, **kw)

    def our_loss(t, p, **kw):
        p._keras_mask = Tensor(mask)
        return losses.MeanSquaredError(reduction=reduction)(t, p, **kw)

    assert_same(
        run_ours(our_loss, y_true, y_pred, **sw), run_keras(keras_loss, y_true, y_pred, **sw)
    )


def test_custom_loss_subclass_matches_keras(real_keras):
    def make(k):
        class Scaled(k.losses.Loss):
            def __init__(self, factor=2.0, **kwargs):
                super().__init__(**kwargs)
                self.factor = factor

            def call(self, y_true, y_pred):
                return k.ops.mean(k.ops.abs(y_true - y_pred), axis=-1) * self.factor

        return Scaled(name="scaled", reduction="sum")

    y_true, y_pred = DATA["reg"]
    ref = run_keras(make(real_keras), y_true, y_pred, sample_weight=SAMPLE_WEIGHT)
    assert_same(run_ours(make(keras), y_true, y_pred, sample_weight=SAMPLE_WEIGHT), ref)


@pytest.mark.parametrize("cls_name, fn_name, kwargs, data", CASES, ids=IDS)
def test_config_round_trip(real_keras, cls_name, fn_name, kwargs, data):
    kwargs = {**kwargs, "reduction": "sum", "name": "my_loss"}
    ours = getattr(losses, cls_name)(**kwargs)
    config = ours.get_config()
    assert type(ours).from_config(config).get_config() == config
    for key, value in kwargs.items():
        assert config[key] == value
    ref_cls = getattr(real_keras.losses, cls_name)
    ref_config = ref_cls(**kwargs).get_config()
    assert set(ref_config) <= set(config)  # zerograd's are complete (Keras forgets some keys)
    assert {k: config[k] for k in ref_config} == ref_config
    assert ref_cls.from_config(config).get_config() == ref_config  # Keras reads ours
    again = type(ours).from_config(ref_config).get_config()  # and we read Keras's
    assert {k: again[k] for k in ref_config} == ref_config


def test_config_with_dtype_round_trips():
    loss = losses.Huber(delta=2.0, dtype="float64")
    assert loss.dtype == "float64"
    again = losses.Huber.from_config(loss.get_config())
    assert again.get_config() == loss.get_config() and again.dtype == "float64"
    assert losses.Huber().get_config().keys() == {"name", "reduction", "delta"}


def test_wrapper_config_round_trips_its_function():
    loss = losses.LossFunctionWrapper(losses.huber, name="h", delta=0.5)
    config = loss.get_config()
    assert config["fn"]["config"] == "huber" and config["delta"] == 0.5
    again = losses.LossFunctionWrapper.from_config(config)
    assert again.fn is losses.huber and again.get_config() == config


def test_bad_reduction_is_a_clear_error():
    with pytest.raises(ValueError, match="reduction must be one of.*'avg'"):
        losses.MeanSquaredError(reduction="avg")


def test_get_resolves_every_keras_name(real_keras):
    from keras.src.losses import ALL_OBJECTS_DICT

    skipped = {"Loss", "LossFunctionWrapper", "CTC", "ctc", "Circle", "circle"}
    names = sorted(set(ALL_OBJECTS_DICT) - skipped)
    assert len(names) > 40
    for name in names:
        ref, ours = real_keras.losses.get(name), losses.get(name)
        if isinstance(ref, real_keras.losses.Loss):
            assert type(ours).__name__ == type(ref).__name__, name
            assert ours.get_config() == {**ref.get_config(), **ours.get_config()}, name
        else:
            assert callable(ours) and ours.__name__ == ref.__name__, name
    for legacy, fn in [("logcosh", "log_cosh"), ("kullback_leibler_divergence", "kl_divergence")]:
        assert losses.get(legacy).__name__ == fn
    assert losses.get(None) is None
    obj = losses.Huber()
    assert losses.get(obj) is obj
    config = {"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}
    assert losses.get(config).from_logits is True


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown loss 'msq'.*'mean_squared_error'.*'mse'"):
        losses.get("msq")
    with pytest.raises(ValueError, match="not available in zerograd"):
        losses.get("ctc")


def test_compile_with_function_names_matches_keras(real_keras):
    x = RNG.random((8, 3)).astype(np.float32)
    y = RNG.random((8, 2)).astype(np.float32) + 0.1

    def model(k):
        m = k.Sequential([k.Input((3,)), k.layers.Dense(2, activation="sigmoid")])
        return m

    ref, ours = model(real_keras), model(keras)
    ours.set_weights(ref.get_weights())
    for name in ("msle", "poisson", "kld", "log_cosh", "mape"):
        ref.compile("sgd", loss=name)
        ours.compile("sgd", loss=name)
        np.testing.assert_allclose(
            ours.evaluate(x, y, verbose=0), ref.evaluate(x, y, verbose=0), rtol=1e-5, err_msg=name
        )


def test_compiled_losses_survive_keras_files_both_ways(real_keras, tmp_path):
    ours = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    ours.compile("sgd", loss=losses.CategoricalFocalCrossentropy(alpha=0.5, from_logits=True))
    ours.save(tmp_path / "ours.keras")
    expected = ours.loss.get_config()
    assert real_keras.models.load_model(tmp_path / "ours.keras").loss.get_config() == expected
    assert keras.models.load_model(tmp_path / "ours.keras").loss.get_config() == expected
    ref = real_keras.Sequential([real_keras.Input((3,)), real_keras.layers.Dense(2)])
    ref.compile("sgd", loss=real_keras.losses.Tversky(alpha=0.2, axis=1))
    ref.save(tmp_path / "ref.keras")
    loaded = keras.models.load_model(tmp_path / "ref.keras").loss
    assert loaded.get_config() == ref.loss.get_config()
    ref.compile("sgd", loss=real_keras.losses.log_cosh)
    ref.save(tmp_path / "fn.keras")
    assert keras.models.load_model(tmp_path / "fn.keras").loss is losses.log_cosh


def test_loss_functions_work_on_symbolic_tensors_and_loss_objects_do_not():
    x = keras.Input((3,))
    y = keras.layers.Dense(3)(x)
    model = keras.Model(x, losses.mean_squared_error(x, y))
    data = RNG.random((2, 3)).astype(np.float32)
    expected = ((data - model.layers[1](Tensor(data)).numpy()) ** 2).mean(-1)
    np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-5)
    with pytest.raises(TypeError, match="MeanSquaredError: a Loss object needs concrete tensors"):
        losses.MeanSquaredError()(x, y)
