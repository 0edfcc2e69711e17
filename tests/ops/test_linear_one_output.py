"""Linear with one output feature: its input gradient is a broadcast product, not a GEMM."""

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.helpers import check_against_torch

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 5), (5,)])
def test_linear_one_output_matches_torch(shape, dtype):
    check_against_torch(
        lambda x, w, b: zg.nn.functional.linear(x, w, b),
        lambda x, w, b: torch.nn.functional.linear(x, w, b),
        [rng.standard_normal(shape), rng.standard_normal((1, 5)), rng.standard_normal(1)],
        dtype,
    )
