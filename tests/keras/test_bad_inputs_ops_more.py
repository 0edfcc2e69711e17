"""More bad inputs to ``keras.ops`` and to layer arguments met at call time (round 2): shapes
holding fractions, out-of-range axes and indices, mismatched attention operands, string inputs to
numeric layers. Each error names the op or layer, the argument, what was expected and what was
received; real Keras 3 (torch backend) is the oracle: it refuses all but one of these too."""

import warnings

import numpy as np
import pytest

from zerograd import keras


def ones(*shape):
    return np.ones(shape, "float32")


# (id, call on a keras module k, error, match, whether real Keras 3.15 also raises)
CASES = [
    (
        "reshape_float_dim",
        lambda k: k.ops.reshape(ones(2, 3), (3.0, 2)),
        TypeError,
        r"reshape: the shape must hold integers, received \(3.0, 2\) with 3.0 of type float",
        True,
    ),
    (
        "reshape_string_dim",
        lambda k: k.ops.reshape(ones(2, 3), ("a", 2)),
        TypeError,
        "reshape: the shape must hold integers.*'a' of type str",
        True,
    ),
    (
        "broadcast_to_float_dim",
        lambda k: k.ops.broadcast_to(ones(3), (2.5, 3)),
        TypeError,
        "broadcast_to: the shape must hold integers",
        True,
    ),
    (
        "tile_float_repeats",
        lambda k: k.ops.tile(ones(3), (2.5,)),
        TypeError,
        "tile: the shape must hold integers",
        True,
    ),
    (
        "split_indices_out_of_range",
        lambda k: k.ops.split(ones(4, 3), [1, 9]),
        ValueError,
        r"split: indices must be increasing and within axis 0 of size 4, received \[1, 9\]",
        True,
    ),
    (
        "split_axis_out_of_range",
        lambda k: k.ops.split(ones(4, 3), 2, axis=3),
        ValueError,
        r"split: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 3",
        True,
    ),
    (
        "split_zero_sections",
        lambda k: k.ops.split(ones(4, 3), 0),
        ValueError,
        "split: the number of sections must be >= 1, received 0",
        True,
    ),
    (
        "segment_sum_negative_segments",
        lambda k: k.ops.segment_sum(ones(3), np.array([0, 1, 1]), num_segments=-1),
        ValueError,
        "segment_sum: num_segments must be None or a non-negative integer, received -1",
        True,
    ),
    (
        "repeat_axis_out_of_range",
        lambda k: k.ops.repeat(ones(2, 3), 2, axis=3),
        ValueError,
        r"repeat: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 3",
        True,
    ),
    (
        "unstack_num_mismatch",
        lambda k: k.ops.unstack(k.ops.convert_to_tensor(ones(2, 3)), num=3),
        ValueError,
        r"unstack: num=3 does not match axis 0 of size 2 \(shape \(2, 3\)\)",
        False,  # torch-backend Keras ignores num; its TensorFlow backend refuses it
    ),
    (
        "dot_product_attention_mismatch",
        lambda k: k.ops.dot_product_attention(ones(2, 3, 2, 4), ones(2, 5, 2, 6), ones(2, 5, 2, 4)),
        ValueError,
        r"dot_product_attention: expected query \(B, T, N, H\), key \(B, S, N, H\).*\(2, 3, 2, 4\), \(2, 5, 2, 6\)",
        True,
    ),
    (
        "scatter_index_out_of_range",
        lambda k: k.ops.scatter(np.array([[5]]), ones(1), (3,)),
        ValueError,
        r"scatter: indices along axis 0 must be in \[-3, 3\) .*received values from 5 to 5",
        True,
    ),
    (
        "scatter_update_index_out_of_range",
        lambda k: k.ops.scatter_update(ones(3), np.array([[5]]), ones(1)),
        ValueError,
        r"scatter_update: indices along axis 0 must be in \[-3, 3\)",
        True,
    ),
    (
        "slice_rank_mismatch",
        lambda k: k.ops.slice(ones(3), (0, 0), (1, 1)),
        ValueError,
        r"slice: expected 1 start indices and a shape of rank 1 for inputs of shape \(3,\)",
        True,
    ),
    (
        "norm_axis_out_of_range",
        lambda k: k.ops.norm(ones(2, 3), axis=5),
        ValueError,
        r"norm: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 5",
        True,
    ),
    (
        "trace_same_axes",
        lambda k: k.ops.trace(ones(3, 3), axis1=0, axis2=0),
        ValueError,
        "diagonal: axis1 and axis2 must differ, received 0 and 0",
        True,
    ),
    (
        "diagonal_axis_out_of_range",
        lambda k: k.ops.diagonal(ones(3, 3), axis1=0, axis2=5),
        ValueError,
        r"diagonal: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 5",
        True,
    ),
    (
        "argpartition_kth_out_of_range",
        lambda k: k.ops.argpartition(ones(3), 5),
        ValueError,
        r"argpartition: kth must be in \[-3, 3\) for axis -1, received 5",
        True,
    ),
    (
        "logspace_negative_num",
        lambda k: k.ops.logspace(0, 1, -1),
        ValueError,
        "logspace: num must be >= 0, received -1",
        True,
    ),
    ("tri_negative", lambda k: k.ops.tri(-1), ValueError, "tri: N must be >= 0, received -1", True),
    (
        "cholesky_not_square",
        lambda k: k.ops.cholesky(ones(2, 3)),
        ValueError,
        r"cholesky: expected square matrices \(\.\.\., n, n\), received \(2, 3\)",
        True,
    ),
    (
        "one_hot_axis_out_of_range",
        lambda k: k.ops.one_hot(np.array([0, 1]), 3, axis=5),
        ValueError,
        r"one_hot: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 5",
        True,
    ),
    (
        "categorical_crossentropy_axis",
        lambda k: k.ops.categorical_crossentropy(ones(2, 3), ones(2, 3), axis=5),
        ValueError,
        r"categorical_crossentropy: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 5",
        True,
    ),
    (
        "masking_string_value",
        lambda k: k.layers.Masking(mask_value="a")(ones(2, 3, 4)),
        TypeError,
        "Masking '.*': mask_value must be a number, received 'a'",
        True,
    ),
    (
        "conv2d_string_input",
        lambda k: k.layers.Conv2D(2, 3)(np.full((1, 5, 5, 1), "a")),
        TypeError,
        r"Conv2D '.*' expected numeric input, received dtype <U1 \(shape \(1, 5, 5, 1\)\)",
        True,
    ),
    (
        "global_pool_keepdims_string",
        lambda k: k.layers.GlobalAveragePooling2D(keepdims="yes")(ones(1, 4, 4, 2)),
        TypeError,
        "GlobalAveragePooling2D '.*': keepdims must be a bool, received str 'yes'",
        True,
    ),
    (
        "upsampling_float_size",
        lambda k: k.layers.UpSampling2D(size=1.5),
        ValueError,
        "UpSampling2D '.*': size must be an int or 2 ints, each at least 1, received size=1.5",
        True,
    ),
    (
        "flatten_scalar",
        lambda k: k.layers.Flatten()(np.float32(1)),
        ValueError,
        r"Flatten '.*' expected input of rank >= 1 \(batch, \.\.\.\), received shape \(\)",
        True,
    ),
    (
        "dot_axes_out_of_range",
        lambda k: k.layers.Dot(axes=5)([ones(2, 3), ones(2, 3)]),
        ValueError,
        r"Dot '.*': axes \[5, 5\] are out of range for inputs of shapes \(2, 3\) and \(2, 3\)",
        True,
    ),
    (
        "leaky_relu_string_slope",
        lambda k: k.layers.LeakyReLU(negative_slope="a"),
        TypeError,
        "LeakyReLU '.*': negative_slope must be a number, received str 'a'",
        True,
    ),
    (
        "relu_string_threshold",
        lambda k: k.layers.ReLU(threshold="a"),
        TypeError,
        "ReLU '.*': threshold must be a number, received str 'a'",
        True,
    ),
    (
        "einsum_dense_features_changed",
        lambda k: (lambda layer: (layer(ones(2, 4)), layer(ones(2, 5))))(
            k.layers.EinsumDense("ab,bc->ac", output_shape=3)
        ),
        ValueError,
        r"EinsumDense '.*': inputs of shape \(2, 5\) do not fit the kernel of shape \(4, 3\)",
        True,
    ),
]


@pytest.mark.parametrize(
    "call, error, match, keras_raises", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_ops_and_layer_call_bad_input(real_keras, call, error, match, keras_raises):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=match):
            call(keras)
        if keras_raises:  # the oracle refuses it too (its error types vary)
            with pytest.raises(Exception):  # noqa: B017
                call(real_keras)
        else:  # a deliberate difference: Keras (torch backend) accepts it silently
            call(real_keras)


def test_valid_neighbours_still_match_keras(real_keras):
    x = np.arange(12, dtype="float32").reshape(4, 3)
    checks = [
        lambda k: k.ops.reshape(x, (np.int64(3), -1)),
        lambda k: k.ops.broadcast_to(np.ones(3, "float32"), (2, 3)),
        lambda k: k.ops.split(x, [1, 3])[1],
        lambda k: k.ops.split(x, 3, axis=-1)[2],
        lambda k: k.ops.repeat(x, 2, axis=-1),
        lambda k: k.ops.unstack(k.ops.convert_to_tensor(x), num=3, axis=1)[0],
        lambda k: k.ops.segment_sum(x, np.array([0, 0, 1, 1]), num_segments=2),
        lambda k: k.ops.scatter_update(
            np.zeros(3, "float32"), np.array([[-1]]), np.ones(1, "float32")
        ),
        lambda k: k.ops.slice(x, (1, 0), (2, 3)),
        lambda k: k.ops.norm(x, axis=-1),
        lambda k: k.ops.trace(x[:3], axis1=-1, axis2=0),
        lambda k: k.ops.one_hot(np.array([0, 2]), 3, axis=0),
        lambda k: k.ops.categorical_crossentropy(x / x.sum(0), x / x.sum(0), axis=0),
        lambda k: k.layers.Masking(mask_value=np.float32(0))(x[None]),
    ]
    for check in checks:
        got = np.asarray(keras.ops.convert_to_numpy(check(keras)))
        want = np.asarray(real_keras.ops.convert_to_numpy(check(real_keras)))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # kth may be negative (NumPy's convention): the last slot holds the largest value
    assert keras.ops.argpartition(np.array([3.0, 1.0, 2.0]), -1).numpy()[-1] == 0
