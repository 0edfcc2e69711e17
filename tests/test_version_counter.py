"""Version counters: in-place writes are counted per storage (views share it), and a backward
through an op whose saved tensor was written in place after the forward raises, as PyTorch."""

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn, versions


def test_each_in_place_method_bumps_the_version_once():
    x = zg.zeros(3)
    assert x._version == 0
    x.fill_(2.0)
    assert x._version == 1
    x.zero_()
    assert x._version == 2
    x.copy_(np.ones(3, np.float32))
    assert x._version == 3
    x[1] = 5.0
    assert x._version == 4
    np.testing.assert_array_equal(x.numpy(), [1, 5, 1])


def test_views_share_the_counter_of_their_storage_and_clones_do_not():
    x = zg.zeros((2, 3))
    views = [x.reshape(6), x[1:], x.T, x.detach()]
    c = x.clone()
    views[1].fill_(1.0)
    assert x._version == 1 and all(v._version == 1 for v in views)
    assert c._version == 0
    x.zero_()
    assert views[0]._version == 2 and c._version == 0


def test_the_initialisers_bump_the_version():
    w = nn.Parameter(zg.zeros((3, 4)))
    nn.init.normal_(w)
    nn.init.zeros_(w)
    nn.init.kaiming_uniform_(w)
    assert w._version == 3


def test_modified_saved_input_raises_naming_the_op_and_versions():
    w = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with zg.no_grad():
        w.fill_(10.0)
    with pytest.raises(
        RuntimeError, match=r"Mul: .*modified in place.*version 0 saved, now version 1"
    ):
        y.backward()


def test_write_through_a_view_of_a_saved_input_is_seen():
    x = zg.tensor(np.arange(6.0), requires_grad=True)
    v = x.reshape(2, 3)
    y = (v * v).sum()
    with zg.no_grad():
        x[0] = 5.0  # a write through the base reaches the view Mul saved
    with pytest.raises(RuntimeError, match=r"Mul: .*shape \(2, 3\)"):
        y.backward()


def test_modified_saved_output_raises():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    e = x.exp()  # Exp keeps its output for the backward
    y = e.sum()
    with zg.no_grad():
        e.zero_()
    with pytest.raises(RuntimeError, match="Exp: one of the tensors saved for backward"):
        y.backward()


def test_op_that_saved_nothing_does_not_care():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1.0).sum()  # Add keeps nothing: the write cannot change its gradient
    with zg.no_grad():
        x.fill_(7.0)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_writes_elsewhere_or_before_the_forward_do_not_raise():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    other = zg.zeros(2)
    with zg.no_grad():
        x.fill_(3.0)  # before the forward: what Mul saves is the new value
    y = (x * x).sum()
    other.fill_(1.0)  # after, but not a storage y's graph saved
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_second_backward_after_a_write_raises_with_retain_graph():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    with zg.no_grad():
        x.copy_(np.array([4.0, 4.0], np.float32))
    with pytest.raises(RuntimeError, match="Mul: one of the tensors saved for backward"):
        y.backward()


def test_autograd_grad_and_create_graph_check_too():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    (g,) = zg.autograd.grad(y, [x], create_graph=True)  # 3x^2, recorded
    with zg.no_grad():
        x.fill_(0.5)
    with pytest.raises(RuntimeError, match="modified in place"):
        g.sum().backward()


def test_initialiser_on_a_saved_parameter_raises():
    lin = nn.Linear(3, 2)
    x = zg.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    loss = lin(x).sum()
    nn.init.zeros_(lin.weight)  # the gradient for x needs the old weight
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_in_place_write_into_an_op_output_under_grad_mode_is_refused():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    for write in (lambda: y.fill_(0.0), lambda: y.zero_(), lambda: y.copy_(np.zeros(2))):
        with pytest.raises(
            ValueError, match=r"(fill_|zero_|copy_): in-place write into a tensor computed by Mul"
        ):
            write()
    with zg.no_grad():
        y.fill_(0.0)  # allowed without grad mode, and counted
    assert y._version == 1


def test_many_writes_still_name_the_versions():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with zg.no_grad():
        for _ in range(versions._HISTORY + 6):
            x.fill_(1.0)
    with pytest.raises(RuntimeError, match=r"an earlier version saved, now version 70"):
        y.backward()


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_a_training_loop_with_fresh_graphs_never_raises(opt_name):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = getattr(zg.optim, opt_name)(model.parameters(), lr=0.01)
    x, t = zg.randn(16, 4), zg.randn(16, 1)
    before = [p._version for p in model.parameters()]  # the initialisers' writes
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((model(x) - t) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    # each step is one counted write per parameter (PyTorch's optimizers update in place too)
    assert [p._version for p in model.parameters()] == [v + 5 for v in before]


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_backward_through_a_graph_after_the_step_raises(opt_name):
    """The graph saved the weight; the step overwrote it, so a second backward would be wrong
    (PyTorch raises here too)."""
    w = zg.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = getattr(zg.optim, opt_name)([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="Mul: one of the tensors saved for backward"):
        loss.backward()
    tw = torch.ones(3, requires_grad=True)
    topt = getattr(torch.optim, opt_name)([tw], lr=0.1)
    tloss = (tw * tw).sum()
    tloss.backward(retain_graph=True)
    topt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()


SCENARIOS = {
    # name: (what to compute from x, what to write afterwards, whether PyTorch raises)
    "mul_saved_input": (lambda x: (x * x).sum(), lambda x: x.fill_(3.0), True),
    "add_saves_nothing": (lambda x: (x + 2.0).sum(), lambda x: x.fill_(3.0), False),
    "exp_saved_output": (None, None, True),
    "view_of_input": (lambda x: (x.reshape(2, 2) ** 2).sum(), lambda x: x.zero_(), True),
    "setitem_on_input": (lambda x: x.sin().sum(), lambda x: x.__setitem__(0, 1.0), True),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_raises_where_pytorch_raises(name):
    forward, write, raises = SCENARIOS[name]
    outcomes = []
    for lib, make in ((zg, zg.tensor), (torch, torch.tensor)):
        x = make([0.5, 1.0, 1.5, 2.0], requires_grad=True)
        if write is None:  # write into the op's own output
            y = x.exp()
            loss = y.sum()
            with lib.no_grad():
                y.fill_(0.0)
        else:
            loss = forward(x)
            with lib.no_grad():
                write(x)
        try:
            loss.backward()
            outcomes.append(False)
        except RuntimeError:
            outcomes.append(True)
    assert outcomes == [raises, raises]


def test_data_assignment_is_not_counted_and_the_graph_keeps_the_old_values():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data = np.array([5.0, 5.0], np.float32)  # a new array, as PyTorch's .data =: no write
    assert x._version == 0
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_a_freed_storage_is_forgotten():
    import gc

    t = zg.zeros(3)
    t.fill_(1.0)
    key = id(versions.storage(t.data))
    assert key in versions._storages
    del t
    gc.collect()
    assert key not in versions._storages


def test_arrays_an_op_keeps_as_arguments_are_checked_too():
    """Embedding keeps its indices and Where its condition (not as saved values): changing them
    in place before backward would route the gradient wrongly; PyTorch raises for both."""
    emb = nn.Embedding(6, 2)
    ids = zg.tensor(np.array([0, 1]))
    y = emb(ids).sum()
    ids[0] = 5
    with pytest.raises(RuntimeError, match="Embedding: .*argument 'indices'.*modified in place"):
        y.backward()
    x = zg.tensor(np.ones(3, np.float32), requires_grad=True)
    m = zg.tensor(np.array([True, False, True]))
    y = zg.where(m, x, 0.0).sum()
    m[1] = True
    with pytest.raises(RuntimeError, match="Where: .*argument 'cond'"):
        y.backward()
    tx = torch.ones(3, requires_grad=True)
    tm = torch.tensor([True, False, True])
    ty = torch.where(tm, tx, 0.0).sum()
    tm[1] = True
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.backward()


def test_lora_merge_between_forward_and_backward_raises():
    from zerograd import peft

    model = nn.Sequential(nn.Linear(4, 4))
    peft.apply_lora(model, r=2, target_modules=["0"])
    x = zg.randn(2, 4, requires_grad=True)  # dx needs the base weight the merge changes
    y = model(x).sum()
    peft.lora.merge(model)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_keras_optimizer_step_counts_as_a_write():
    from zerograd import keras

    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    opt = keras.optimizers.SGD(0.1)
    x = zg.tensor(np.ones((4, 3), np.float32))
    y = layer(x).sum()
    opt.apply([zg.tensor(np.ones(v.shape, np.float32)) for v in layer.trainable_variables],
              layer.trainable_variables)  # fmt: skip
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_grad_takes_any_iterable_of_inputs():
    model = nn.Linear(3, 2)
    loss = model(zg.randn(4, 3)).sum()
    grads = zg.autograd.grad(loss, model.parameters())  # a generator, as in PyTorch
    assert [g.shape for g in grads] == [(2, 3), (2,)]
    with pytest.raises(TypeError, match="grad: outputs must be a Tensor, received float"):
        zg.autograd.grad(3.0, list(model.parameters()))
