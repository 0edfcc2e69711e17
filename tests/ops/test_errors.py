"""Bad input: clear ValueError/TypeError naming the op and the shapes."""

import numpy as np
import pytest

import zerograd as zg


def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        zg.ones(2, 3) @ zg.ones(4, 5)


def test_matmul_vector_mismatch():
    with pytest.raises(ValueError, match=r"matmul.*\(3,\).*\(4,\)"):
        zg.ones(3) @ zg.ones(4)


def test_matmul_scalar_operand():
    with pytest.raises(ValueError, match="matmul"):
        zg.tensor(2.0) @ zg.ones(3)


def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"Add.*\(2, 3\), \(4,\)"):
        zg.ones(2, 3) + zg.ones(4)
    with pytest.raises(ValueError, match=r"Mul.*\(2, 3\), \(2,\)"):
        zg.ones(2, 3) * zg.ones(2)


def test_linear_shape_mismatch():
    with pytest.raises(
        ValueError, match=r"linear: expected input with last axis 4, received shape \(2, 3\)"
    ):
        zg.nn.functional.linear(zg.ones(2, 3), zg.ones(5, 4))


def test_reshape_bad_size():
    with pytest.raises(ValueError, match=r"Reshape.*\(2, 3\)"):
        zg.ones(2, 3).reshape(4, 2)


def test_axis_out_of_range():
    with pytest.raises(
        ValueError, match=r"sum: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 2"
    ):
        zg.ones(2, 3).sum(axis=2)


def test_squeeze_non_unit_axis():
    with pytest.raises(ValueError, match="squeeze: axis 1 has size 3"):
        zg.ones(2, 3).squeeze(1)


def test_split_unequal():
    with pytest.raises(ValueError, match="split"):
        zg.split(zg.ones(5), 2)


def test_bad_dtype_names():
    with pytest.raises(TypeError, match="dtype"):
        zg.zeros(2, dtype="not-a-dtype")
    with pytest.raises(TypeError, match="numbers"):
        zg.tensor(["a", "b"])


def test_take_along_axis_wrong_rank_and_dtype():
    with pytest.raises(ValueError, match="take_along_axis.*dimensions"):
        zg.take_along_axis(zg.ones(2, 3), np.array([0, 1]), 1)
    with pytest.raises(TypeError, match="integer"):
        zg.take_along_axis(zg.ones(2, 3), np.zeros((2, 1)), 1)


def test_index_out_of_bounds_names_op():
    with pytest.raises(IndexError, match="GetItem"):
        zg.ones(2, 3)[5]


def test_item_on_many_elements():
    with pytest.raises(ValueError, match="one element"):
        zg.ones(3).item()


def test_bool_of_many_elements():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(zg.ones(3))


def test_cuda_without_cupy_is_a_clear_error():
    if zg.backend.cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CuPy"):
        zg.ones(2).to("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        zg.ones(2).to("tpu")
