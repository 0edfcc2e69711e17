"""rotary_embedding (zerograd/ops/rope.py): forward and gradient against PyTorch's rotate-half
formula, numerical gradcheck in float64, the second-order backward, and its errors."""

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.helpers import check_against_torch, check_second_order
from zerograd.ops.rope import rotary_embedding

RNG = np.random.default_rng(0)
ANGLES = RNG.uniform(-40, 40, (2, 1, 5, 4))  # (B, 1, T, D / 2): broadcast over 3 heads
COS = np.cos(np.concatenate([ANGLES, ANGLES], -1))
SIN = np.sin(np.concatenate([ANGLES, ANGLES], -1))
X = RNG.standard_normal((2, 3, 5, 8))


def torch_rope(x, cos, sin):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(dtype):
    cos, sin = COS.astype(dtype), SIN.astype(dtype)
    check_against_torch(
        lambda x: rotary_embedding(x, cos, sin),
        lambda x: torch_rope(x, torch.from_numpy(cos), torch.from_numpy(sin)),
        [X],
        dtype=dtype,
    )


def test_gradcheck_and_second_order():
    x = zg.tensor(X[:1, :2, :3], requires_grad=True)
    cos, sin = COS[:1, :, :3], SIN[:1, :, :3]
    assert zg.utils.gradcheck(lambda t: rotary_embedding(t, cos, sin), x)
    check_second_order(
        lambda t: rotary_embedding(t, cos, sin) ** 2,
        lambda t: torch_rope(t, torch.from_numpy(cos), torch.from_numpy(sin)) ** 2,
        [X[:1, :2, :3]],
    )


def test_a_rotation_keeps_norms():
    y = rotary_embedding(zg.tensor(X), COS, SIN).numpy()
    h = X.shape[-1] // 2
    np.testing.assert_allclose(
        y[..., :h] ** 2 + y[..., h:] ** 2, X[..., :h] ** 2 + X[..., h:] ** 2, atol=1e-12
    )


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"rotary_embedding: expected an even last axis"):
        rotary_embedding(zg.tensor(X[..., :7]), COS[..., :7], SIN[..., :7])
    with pytest.raises(ValueError, match=r"expected cos and sin of one shape"):
        rotary_embedding(zg.tensor(X), COS, SIN[..., :1, :])
