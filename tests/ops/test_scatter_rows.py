"""Rows added at integer indices (the gradient of an embedding or of ``x[int_array]``) by the
compiled loop, against PyTorch and NumPy's ``add.at``: repeats, negative indices, index arrays of
any shape, rows of any shape, both float dtypes."""

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.helpers import check_against_torch
from zerograd.kernels import scatter

rng = np.random.default_rng(0)
needs_numba = pytest.mark.skipif(scatter.numba is None, reason="numba is not installed")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embedding_gradient_with_repeats_matches_torch(path, dtype):
    idx = rng.integers(0, 7, (4, 9))  # 36 lookups into 7 rows: many repeats
    idx[0, :3] = 2
    check_against_torch(
        lambda w: zg.nn.functional.embedding(idx, w),
        lambda w: torch.nn.functional.embedding(torch.from_numpy(idx), w),
        [rng.standard_normal((7, 5))],
        dtype,
    )


def test_embedding_padding_row_gets_no_gradient(path):
    idx = np.array([[0, 3, 3, 1], [3, 0, 2, 2]])
    check_against_torch(
        lambda w: zg.nn.functional.embedding(idx, w, padding_idx=3),
        lambda w: torch.nn.functional.embedding(torch.from_numpy(idx), w, padding_idx=3),
        [rng.standard_normal((4, 6))],
    )


def test_integer_array_indexing_gradient_with_negative_indices(path):
    idx = np.array([[-1, 0], [2, -1], [-4, 3]])
    check_against_torch(
        lambda x: x[idx], lambda x: x[torch.from_numpy(idx)], [rng.standard_normal((4, 2, 3))]
    )


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_add_rows_equals_add_at(dtype):
    out = rng.standard_normal((6, 2, 3)).astype(dtype)
    idx = rng.integers(-6, 6, (5, 4))
    g = rng.standard_normal((5, 4, 2, 3)).astype(dtype)
    want = out.copy()
    np.add.at(want, idx, g)
    assert scatter.usable(out, idx, g)
    got = scatter.add_rows(out, idx, g)
    np.testing.assert_array_equal(got, want)  # the same additions in the same order


@needs_numba
def test_add_rows_is_not_used_for_mismatched_shapes_or_dtypes():
    out = np.zeros((4, 3))
    assert not scatter.usable(out, np.array([1, 2]), np.zeros((2, 4)))
    assert not scatter.usable(out, np.array([1, 2]), np.zeros((2, 3), np.float32))
    assert not scatter.usable(out, np.array([1.0, 2.0]), np.zeros((2, 3)))
    assert scatter.add_rows(out, np.zeros(0, np.int64), np.zeros((0, 3))) is out
