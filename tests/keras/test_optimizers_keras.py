"""keras.optimizers against real Keras 3 (torch backend): the same variables and gradients give
the same variables after several steps, for every optimizer and its options (clipping, decoupled
weight decay, schedules, EMA, gradient accumulation, loss scaling, a learning rate changed
mid-training); the slot variables match Keras's in value and order; fit and .keras files carry
the same training on."""

import numpy as np
import pytest

from zerograd import keras as zk

TIGHT = dict(rtol=1e-6, atol=1e-7)
FIT_TOL = dict(rtol=1e-5, atol=1e-6)
SHAPES = [(3, 4), (4,), (2, 2, 3)]
STEPS = 5

SPECIFIC = {
    "SGD": [dict(momentum=0.9), dict(momentum=0.9, nesterov=True), dict(momentum=0.5)],
    "Adam": [dict(amsgrad=True), dict(beta_1=0.8, beta_2=0.95, epsilon=1e-3)],
    "AdamW": [dict(amsgrad=True), dict(weight_decay=0.3)],
    "RMSprop": [dict(momentum=0.9), dict(centered=True), dict(momentum=0.5, centered=True)],
    "Adagrad": [dict(initial_accumulator_value=0.5, epsilon=1e-3)],
    "Adadelta": [dict(rho=0.8, learning_rate=1.0)],
    "Adamax": [dict(beta_1=0.8, beta_2=0.9)],
    "Nadam": [dict(beta_1=0.8, epsilon=1e-4)],
    "Lion": [dict(beta_1=0.5, beta_2=0.9)],
    "Ftrl": [
        dict(l1_regularization_strength=0.01, l2_regularization_strength=0.1),
        dict(l2_shrinkage_regularization_strength=0.05, beta=0.2, learning_rate_power=-0.3),
    ],
}
COMMON = [
    {},
    dict(weight_decay=0.1),
    dict(clipnorm=1.0),
    dict(clipvalue=0.5),
    dict(global_clipnorm=1.0),
    dict(schedule=True),
    dict(use_ema=True, ema_momentum=0.8),
    dict(use_ema=True, ema_overwrite_frequency=2),
    dict(gradient_accumulation_steps=2, weight_decay=0.1),
    dict(loss_scale_factor=4.0, clipnorm=1.0),
]
CASES = [(name, kw) for name in SPECIFIC for kw in COMMON + SPECIFIC[name]]


def _make(k, name, kw):
    kw = dict(kw)
    if kw.pop("schedule", False):
        kw["learning_rate"] = k.optimizers.schedules.ExponentialDecay(0.05, 2, 0.5)
    kw.setdefault("learning_rate", 0.02)
    return getattr(k.optimizers, name)(**kw)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s).astype("float32") for s in SHAPES]
    grads = [[2 * rng.standard_normal(s).astype("float32") for s in SHAPES] for _ in range(STEPS)]
    return values, grads


def _run_keras(keras, opt, values, grads, on_step=None):
    import torch

    variables = [keras.Variable(v.copy()) for v in values]
    for i, step in enumerate(grads):
        if on_step:
            on_step(opt, i)
        opt.apply([torch.from_numpy(g.copy()) for g in step], variables)
    return [np.asarray(v.numpy()) for v in variables]


def _run_ours(opt, values, grads, on_step=None):
    variables = [zk.Variable(v.copy()) for v in values]
    for i, step in enumerate(grads):
        if on_step:
            on_step(opt, i)
        opt.apply([g.copy() for g in step], variables)
    return [v.numpy() for v in variables]


def _assert_close(ours, theirs, tol=TIGHT):
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, **tol, err_msg=f"variable {i}")


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_steps_match_keras(real_keras, name, kw):
    values, grads = _data()
    theirs_opt, ours_opt = _make(real_keras, name, kw), _make(zk, name, kw)
    theirs = _run_keras(real_keras, theirs_opt, values, grads)
    ours = _run_ours(ours_opt, values, grads)
    _assert_close(ours, theirs)
    assert ours_opt.iterations == int(theirs_opt.iterations)
    assert ours_opt.state_arrays()[0][1] == int(theirs_opt.variables[0].numpy()) == STEPS
    # the slot variables: same values in Keras's order (after iteration and learning_rate)
    keras_slots = [v for v in theirs_opt.variables if v.name not in ("iteration", "learning_rate")]
    our_slots = ours_opt.slot_arrays()
    assert len(our_slots) == len(keras_slots)
    for (slot, array), var in zip(our_slots, keras_slots):
        assert var.name.endswith(slot) or slot == "u_product", (slot, var.name)
        np.testing.assert_allclose(np.asarray(array), np.asarray(var.numpy()), **TIGHT)


@pytest.mark.parametrize(
    "name,kw",
    [("SGD", dict(momentum=0.9)), ("SGD", dict(momentum=0.9, nesterov=True))]
    + [("RMSprop", dict(momentum=0.8)), ("Adam", dict(weight_decay=0.2))],
)
def test_learning_rate_changed_mid_training_matches_keras(real_keras, name, kw):
    """Keras's momentum is in parameter units: a new rate scales only the new gradients."""

    def change(opt, i):
        if i == 2:
            opt.learning_rate = 0.1

    values, grads = _data(1)
    theirs = _run_keras(real_keras, _make(real_keras, name, kw), values, grads, change)
    ours = _run_ours(_make(zk, name, kw), values, grads, change)
    _assert_close(ours, theirs)


def test_weight_decay_exclusion_matches_keras(real_keras):
    values, grads = _data(2)
    theirs_vars = [real_keras.Variable(v.copy(), name=f"w{i}") for i, v in enumerate(values)]
    ours_vars = [zk.Variable(v.copy(), name=f"w{i}") for i, v in enumerate(values)]
    theirs_opt = real_keras.optimizers.SGD(0.05, weight_decay=0.5)
    ours_opt = zk.optimizers.SGD(0.05, weight_decay=0.5)
    theirs_opt.exclude_from_weight_decay(var_list=[theirs_vars[0]], var_names=["w2"])
    ours_opt.exclude_from_weight_decay(var_list=[ours_vars[0]], var_names=["w2"])
    import torch

    for step in grads:
        theirs_opt.apply([torch.from_numpy(g.copy()) for g in step], theirs_vars)
        ours_opt.apply([g.copy() for g in step], ours_vars)
    _assert_close([v.numpy() for v in ours_vars], [v.numpy() for v in theirs_vars])


@pytest.mark.parametrize(
    "make",
    [
        lambda k: k.optimizers.Adam(0.01, weight_decay=0.05),
        lambda k: k.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        lambda k: k.optimizers.RMSprop(0.01, momentum=0.5, centered=True, clipnorm=1.0),
        lambda k: k.optimizers.Nadam(k.optimizers.schedules.ExponentialDecay(0.01, 3, 0.7)),
        lambda k: k.optimizers.AdamW(0.01, global_clipnorm=0.5),
        lambda k: k.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.7),
        lambda k: k.optimizers.SGD(0.05, momentum=0.9, loss_scale_factor=8.0),
        lambda k: k.optimizers.Lion(0.01, gradient_accumulation_steps=3),
    ],
    ids=[
        "adam-wd",
        "sgd-nesterov",
        "rmsprop-centered",
        "nadam-schedule",
        "adamw-global",
        "adam-ema",
        "sgd-loss-scale",
        "lion-accumulation",
    ],
)
def test_fit_gives_keras_weights(real_keras, make):
    real_keras.utils.set_random_seed(3)  # the same starting weights every run
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 5)).astype("float32")
    y = rng.standard_normal((16, 2)).astype("float32")
    models = []
    for k in (real_keras, zk):
        model = k.Sequential(
            [k.Input((5,)), k.layers.Dense(4, activation="tanh"), k.layers.Dense(2)]
        )
        model.compile(make(k), "mse")
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    for m in models:
        m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    _assert_close(models[1].get_weights(), models[0].get_weights(), FIT_TOL)
    assert models[1].optimizer.iterations == int(models[0].optimizer.iterations)


@pytest.mark.parametrize(
    "make",
    [
        lambda k: k.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        lambda k: k.optimizers.Nadam(0.01),
        lambda k: k.optimizers.Ftrl(0.1, l1_regularization_strength=0.001),
        lambda k: k.optimizers.Adam(0.01, amsgrad=True),
        lambda k: k.optimizers.Adagrad(0.1),
        lambda k: k.optimizers.Adam(0.01, use_ema=True, gradient_accumulation_steps=3),
    ],
    ids=["rmsprop", "nadam", "ftrl", "amsgrad", "adagrad", "ema-accumulation"],
)
def test_keras_files_carry_the_slots_both_ways(real_keras, tmp_path, make):
    real_keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 3)).astype("float32")
    y = rng.standard_normal((8, 1)).astype("float32")
    km = real_keras.Sequential([real_keras.Input((3,)), real_keras.layers.Dense(1)])
    km.compile(make(real_keras), "mse")
    km.fit(x, y, batch_size=4, epochs=2, verbose=0)
    km.save(tmp_path / "k.keras")
    zm = zk.models.load_model(tmp_path / "k.keras")
    zm.save(tmp_path / "z.keras")
    back = real_keras.models.load_model(tmp_path / "z.keras")  # zerograd's file, read by Keras
    for m in (km, zm, back):
        m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    _assert_close(zm.get_weights(), km.get_weights(), FIT_TOL)
    _assert_close(back.get_weights(), km.get_weights(), FIT_TOL)


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "Nadam", "Lion", "Ftrl"])
def test_config_matches_keras(real_keras, name):
    ours = getattr(zk.optimizers, name)(learning_rate=0.25)
    config = ours.get_config()
    assert type(ours).from_config(config).get_config() == config
    theirs = getattr(real_keras.optimizers, name)(learning_rate=0.25).get_config()
    assert set(theirs) == set(config)
    from_keras = type(ours).from_config(theirs).get_config()
    assert {**from_keras, "name": None} == {**config, "name": None}
    assert zk.optimizers.get(name.lower()).__class__ is type(ours)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        zk.optimizers.Adam(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="ema_momentum"):
        zk.optimizers.Adam(use_ema=True, ema_momentum=1.5)
    with pytest.raises(ValueError, match="only one of clipnorm"):
        zk.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="not recognized"):
        zk.optimizers.SGD(momentun=0.9)
    with pytest.raises(ValueError, match="momentum"):
        zk.optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="weight_decay"):
        zk.optimizers.AdamW(weight_decay=None)
    scheduled = zk.optimizers.SGD(zk.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate = 0.01
    opt = zk.optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="one gradient per variable"):
        opt.apply([np.ones(2, "float32")], [zk.Variable(np.ones(2)), zk.Variable(np.ones(2))])
    with pytest.raises(ValueError, match="does not match"):
        opt.apply([np.ones(3, "float32")], [zk.Variable(np.ones(2))])


def test_apply_without_variables_uses_the_built_ones_and_skips_missing_gradients():
    a, b = zk.Variable(np.ones(2, "float32")), zk.Variable(np.ones(3, "float32"))
    opt = zk.optimizers.SGD(0.5)
    opt.build([a, b])
    opt.apply([np.ones(2, "float32"), np.ones(3, "float32")])
    np.testing.assert_allclose(a.numpy(), [0.5, 0.5])
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply([None, np.ones(3, "float32")], [a, b])
    np.testing.assert_allclose(a.numpy(), [0.5, 0.5])
    np.testing.assert_allclose(b.numpy(), [0.0, 0.0, 0.0])
    assert opt.iterations == 2


def test_apply_params_with_grad_and_a_plain_callable_learning_rate(real_keras):
    """A callable that is not a schedule is called without arguments, as Keras does."""
    from zerograd.nn.parameter import Parameter
    from zerograd.tensor import Tensor

    assert zk.optimizers.SGD(lambda: 0.25).learning_rate == 0.25
    assert float(real_keras.optimizers.SGD(lambda: 0.25).learning_rate) == 0.25
    p = Parameter(np.ones(3, "float32"))
    p.grad = Tensor(np.full(3, 2.0, "float32"))
    zk.optimizers.SGD(lambda: 0.25).apply([p])  # zerograd: step parameters on their .grad
    np.testing.assert_allclose(p.numpy(), [0.5, 0.5, 0.5])


def test_keras_style_custom_optimizer_is_refused_clearly():
    class Mine(zk.optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            pass

    with pytest.raises(NotImplementedError, match="update_variable"):
        Mine(0.1).apply([np.ones(2, "float32")], [zk.Variable(np.ones(2))])
