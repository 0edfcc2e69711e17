"""The parallel channels-first <-> channels-last copies against NumPy's transposes: uneven tile
edges, both float dtypes, and the NumPy fallback for strided inputs."""

import numpy as np
import pytest

from zerograd.kernels import layout

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (3, 40, 9, 11), (1, 70, 33, 2)])
def test_layout_copies_equal_numpy(path, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    got = layout.to_channels_last(x)
    assert got.flags.c_contiguous and got.dtype == dtype
    np.testing.assert_array_equal(got, x.transpose(0, 2, 3, 1))
    back = layout.to_channels_first(got)
    assert back.flags.c_contiguous
    np.testing.assert_array_equal(back, x)


def test_strided_inputs_take_numpy(path):
    x = rng.standard_normal((2, 4, 6, 10))[..., ::2]  # not contiguous
    np.testing.assert_array_equal(layout.to_channels_last(x), x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(layout.to_channels_first(x), x.transpose(0, 3, 1, 2))
