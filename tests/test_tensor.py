"""Tensor attributes, conversion, creation functions, seeding, DOT export, gradcheck's report."""

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.autograd import Function
from zerograd.utils import GradcheckError


def test_attributes():
    x = zg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6
    assert x.dtype == np.float32 and x.device == "cpu"
    assert x.is_leaf and x.grad is None and x.requires_grad
    y = x * 2
    assert not y.is_leaf and y.grad_fn is y.creator
    assert isinstance(x.data, np.ndarray)


def test_conversions():
    x = zg.tensor([[1.5, 2.0]])
    assert isinstance(x.numpy(), np.ndarray)
    assert x.tolist() == [[1.5, 2.0]]
    assert zg.tensor(3.5).item() == 3.5
    assert np.asarray(x).shape == (1, 2)
    assert x.astype("float64").dtype == np.float64
    assert x.to("cpu") is x
    assert x.to(dtype="float64").dtype == np.float64
    assert float(zg.tensor([2.0])) == 2.0


def test_repr_is_readable():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert "grad_fn=<Mul>" in repr(x * 2)
    assert "dtype=float64" in repr(zg.ones(1, dtype="float64"))


def test_tensor_copies_from_numpy_shares():
    a = np.zeros(3, dtype=np.float32)
    t, s = zg.tensor(a), zg.from_numpy(a)
    a[0] = 5
    assert t.tolist()[0] == 0 and s.tolist()[0] == 5


def test_default_dtypes():
    assert zg.tensor([1.0, 2.0]).dtype == np.float32
    assert zg.tensor([1, 2]).dtype == np.int64
    assert zg.tensor([True]).dtype == np.bool_
    assert zg.tensor(np.ones(2)).dtype == np.float64  # NumPy arrays keep their dtype
    assert zg.tensor([1, 2], dtype="float16").dtype == np.float16


def test_creation_functions_match_torch():
    assert zg.zeros(2, 3).shape == (2, 3) and zg.zeros((2, 3)).dtype == np.float32
    assert zg.ones(4).tolist() == [1, 1, 1, 1]
    assert zg.full((2,), 7).dtype == np.int64 and zg.full((2,), 7.0).dtype == np.float32
    np.testing.assert_array_equal(zg.arange(5).numpy(), torch.arange(5).numpy())
    np.testing.assert_allclose(zg.arange(0, 1, 0.25).numpy(), torch.arange(0, 1, 0.25).numpy())
    assert zg.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_allclose(zg.linspace(0, 1, 5).numpy(), torch.linspace(0, 1, 5).numpy())
    np.testing.assert_array_equal(zg.eye(3).numpy(), torch.eye(3).numpy())
    x = zg.ones(2, 3, dtype="float64")
    assert zg.zeros_like(x).dtype == np.float64 and zg.ones_like(x).shape == (2, 3)
    assert zg.zeros(3, requires_grad=True).requires_grad


def test_random_creation_ranges_and_dtypes():
    r = zg.rand(1000)
    assert r.dtype == np.float32 and 0 <= r.numpy().min() and r.numpy().max() < 1
    n = zg.randn(10000, dtype="float64")
    assert (
        n.dtype == np.float64 and abs(n.numpy().mean()) < 0.05 and abs(n.numpy().std() - 1) < 0.05
    )
    i = zg.randint(3, 7, size=(100,))
    assert i.dtype == np.int64 and set(i.tolist()) <= {3, 4, 5, 6}


def test_manual_seed_makes_draws_reproducible():
    zg.manual_seed(123)
    a = (zg.rand(3).numpy(), zg.randn(2).numpy(), zg.randint(10, size=4).numpy())
    zg.manual_seed(123)
    b = (zg.rand(3).numpy(), zg.randn(2).numpy(), zg.randint(10, size=4).numpy())
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_to_dot_names_ops_and_shapes():
    x = zg.ones(2, 3, requires_grad=True)
    x.name = "x"
    dot = zg.utils.to_dot((x @ zg.ones(3, 4)).relu().sum())
    assert dot.startswith("digraph")
    for word in ("MatMul", "ReLU", "Sum", "(2, 3)", "(2, 4)", "x\\n"):
        assert word in dot


def test_gradcheck_passes_and_reports_a_wrong_backward():
    x = zg.randn(3, dtype="float64", requires_grad=True)
    assert zg.utils.gradcheck(lambda t: (t * t.exp()).sum(), x)

    class WrongSquare(Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * self.inputs[0] * 3  # should be 2x

    with pytest.raises(
        GradcheckError, match=r"WrongSquare, input 0 \(shape \(3,\)\): largest error"
    ):
        zg.utils.gradcheck(lambda t: WrongSquare.apply(t), x)


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        zg.utils.gradcheck(lambda t: t * 2, zg.ones(2, requires_grad=True))
