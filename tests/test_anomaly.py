"""Anomaly mode: the first op that makes NaN or inf (in the forward or in the backward) raises,
naming the op and the line of the user's code that created it; off, nothing is checked."""

import inspect
import re

import numpy as np
import pytest

import zerograd as zg
import zerograd.nn.functional as F
from zerograd import nn
from zerograd.autograd import Function

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's divide/invalid notes


def _next_line() -> str:
    """``test_anomaly.py:<the caller's next line>``, as an anomaly message names it."""
    return f"test_anomaly.py:{inspect.currentframe().f_back.f_lineno + 1} "


@pytest.fixture(autouse=True)
def _anomaly_off_after():
    yield
    zg.autograd.set_detect_anomaly(False)


def test_off_by_default_and_the_context_manager_restores():
    assert zg.autograd.is_anomaly_enabled() is False
    with zg.autograd.detect_anomaly():
        assert zg.autograd.is_anomaly_enabled()
        with zg.autograd.set_detect_anomaly(False):
            assert not zg.autograd.is_anomaly_enabled()
        assert zg.autograd.is_anomaly_enabled()
        with zg.autograd.detect_anomaly():  # nested: still on when the inner one ends
            pass
        assert zg.autograd.is_anomaly_enabled()
    assert not zg.autograd.is_anomaly_enabled()


def test_the_previous_mode_comes_back_after_an_error():
    with pytest.raises(RuntimeError, match="Log"), zg.autograd.detect_anomaly():
        zg.tensor([-1.0]).log()
    assert not zg.autograd.is_anomaly_enabled()


def test_set_detect_anomaly_as_a_function_and_its_argument_check():
    zg.autograd.set_detect_anomaly(True)
    assert zg.autograd.is_anomaly_enabled()
    zg.autograd.set_detect_anomaly(False)
    assert not zg.autograd.is_anomaly_enabled()
    with pytest.raises(TypeError, match="set_detect_anomaly: mode must be a bool, received 'yes'"):
        zg.autograd.set_detect_anomaly("yes")


def test_forward_nan_names_the_op_and_the_line():
    x = zg.tensor([1.0, -1.0], requires_grad=True)
    with zg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="Log: produced nan values in output 0") as e:
            where = _next_line()
            x.log()
    assert where in str(e.value) and "in test_forward_nan_names_the_op_and_the_line" in str(e.value)


def test_forward_zero_over_zero():
    with zg.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="Div: produced nan") as e:
        where = _next_line()
        zg.tensor([0.0, 1.0]) / zg.tensor([0.0, 1.0])
    assert where in str(e.value)


@pytest.mark.parametrize(
    "make", [lambda: zg.tensor([0.0]).log(), lambda: zg.tensor([100.0]).exp() ** 30.0]
)
def test_forward_inf_from_finite_inputs(make):
    with zg.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="produced inf values"):
        make()


def test_infinities_passed_along_are_not_an_anomaly():
    """A -inf attention mask: its infinities come in as an input, and softmax makes them 0."""
    s = zg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    with zg.autograd.detect_anomaly():
        masked = zg.where(zg.tensor([[True, False, True]]), s, float("-inf"))
        p = F.softmax(masked, -1)
        (p * zg.tensor([[1.0, 2.0, 3.0]])).sum().backward()
        q = zg.randn(1, 2, 3, 4, requires_grad=True)
        F.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()
    assert np.isfinite(s.grad.numpy()).all() and s.grad.numpy()[0, 1] == 0.0


def test_backward_inf_names_the_op_and_where_it_was_made():
    x = zg.tensor([0.0, 4.0], requires_grad=True)
    with zg.autograd.detect_anomaly():
        where = _next_line()
        y = x.sqrt().sum()  # finite: sqrt(0) = 0, but its derivative there is inf
        with pytest.raises(
            RuntimeError, match=r"Sqrt: its backward returned inf values in the gradient of input 0"
        ) as e:
            y.backward()
    assert where in str(e.value)
    assert x.grad is None  # raised before reaching the leaf


def test_backward_division_by_zero_of_a_graph_made_before_anomaly_mode():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x / zg.tensor([0.0, 1.0])).sum()  # made with the mode off: inf passes silently
    assert np.isinf(y.item())
    with zg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="Div: its backward returned inf.*before anomaly"):
            y.backward()


def test_disabled_mode_lets_them_pass():
    x = zg.tensor([0.0, -1.0], requires_grad=True)
    y = x.log() + x.sqrt() + zg.tensor([0.0, 1.0]) / zg.tensor([0.0, 1.0])
    y.sum().backward()
    assert np.isnan(y.numpy()).all() and not np.isfinite(x.grad.numpy()).any()


def test_check_nan_false_records_where_but_does_not_raise():
    with zg.autograd.detect_anomaly(check_nan=False):
        y = zg.tensor([-1.0]).log()
        x = zg.tensor([1.0, 2.0], requires_grad=True)
        where = _next_line()
        z = (x * x).sum()
    assert np.isnan(y.item())
    with zg.no_grad():
        x.fill_(3.0)  # a version-counter error then says where the op was made
    with pytest.raises(RuntimeError, match=r"Mul: .*modified in place.*" + re.escape(where)):
        z.backward()


def test_the_line_is_the_users_not_zeroograd_internals():
    class Net(nn.Module):
        def forward(self, x):
            self.where = _next_line()
            return (x - 1.0).log()

    net = Net()
    with zg.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="Log") as e:
        net(zg.tensor([0.5]))
    assert net.where + "in forward" in str(e.value)
    assert "zerograd/nn" not in str(e.value).split("called from")[0]


def test_higher_order_backward_names_the_op_made_inside_a_backward():
    x = zg.tensor([0.0, 1.0], requires_grad=True)
    with zg.autograd.detect_anomaly():
        made = _next_line()
        y = (x**1.5).sum()  # first derivative 1.5 x^0.5 is finite at 0, the second is not
        where = _next_line()
        (g,) = zg.autograd.grad(y, [x], create_graph=True)
        np.testing.assert_allclose(g.numpy(), [0.0, 1.5])
        with pytest.raises(RuntimeError, match="PowScalar: its backward returned inf") as e:
            g.sum().backward()
    message = str(e.value)
    assert where in message and "inside the backward of PowScalar" in message
    assert made in message  # and where the first-order op came from


def test_create_graph_forward_check_inside_a_backward():
    x = zg.tensor([0.0, 1.0], requires_grad=True)
    with zg.autograd.detect_anomaly():
        made = _next_line()
        y = x.sqrt().sum()
        with pytest.raises(RuntimeError, match="produced inf.*inside the backward of Sqrt") as e:
            zg.autograd.grad(y, [x], create_graph=True)
    assert made in str(e.value)


def test_anomaly_mode_does_not_change_results():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3))
    grads = []
    for mode in (False, True):
        x = zg.tensor(a, requires_grad=True)
        with zg.autograd.set_detect_anomaly(mode):
            (F.softmax(x, -1) * x.tanh()).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_ops_record_no_trace_when_off():
    x = zg.tensor([1.0], requires_grad=True)
    y = x * 2.0
    assert "_trace" not in vars(y.creator)
    with zg.autograd.detect_anomaly():
        z = x * 2.0
    assert "_trace" in vars(z.creator)


def test_a_gradient_nobody_needs_is_not_checked():
    class Scale(Function):  # returns an infinite gradient for its second input, a constant here
        def forward(self, x, c):
            return x * 2.0

        def backward(self, gy):
            return gy * 2.0, gy * np.inf

    x = zg.tensor([1.0, 2.0], requires_grad=True)
    with zg.autograd.detect_anomaly():
        Scale.apply(x, zg.tensor([1.0, 1.0])).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
        with pytest.raises(RuntimeError, match="Scale: its backward returned inf .* input 1"):
            Scale.apply(x, zg.tensor([1.0, 1.0], requires_grad=True)).sum().backward()
