"""Layer norm and RMS norm gradients over many rows: the weight and bias gradients summed in
blocks of rows by the kernels (several blocks and an uneven last one) against PyTorch."""

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.helpers import check_against_torch

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rows", [1, 64, 301])
def test_layer_norm_many_rows(path, rows, dtype):
    x = rng.standard_normal((rows, 48)) * 3 + 1
    w, b = rng.standard_normal(48), rng.standard_normal(48)
    check_against_torch(
        lambda t, tw, tb: zg.nn.functional.layer_norm(t, (48,), tw, tb),
        lambda t, tw, tb: torch.nn.functional.layer_norm(t, (48,), tw, tb),
        [x, w, b],
        dtype,
        atol=1e-4 if dtype == np.float32 else None,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rows", [1, 64, 301])
def test_rms_norm_many_rows(path, rows, dtype):
    x = rng.standard_normal((rows, 40)) * 2
    w = rng.standard_normal(40)
    check_against_torch(
        lambda t, tw: zg.nn.functional.rms_norm(t, (40,), tw, eps=1e-6),
        lambda t, tw: torch.nn.functional.rms_norm(t, (40,), tw, eps=1e-6),
        [x, w],
        dtype,
        atol=1e-4 if dtype == np.float32 else None,
    )
