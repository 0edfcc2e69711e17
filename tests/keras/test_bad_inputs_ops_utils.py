"""Bad inputs to ``keras.ops``, ``keras.utils`` and the preprocessing layers (round 2): each
raises a clear error naming the op/function/layer, the argument, what was expected and what was
received. Real Keras 3 (torch backend) is the oracle where it runs: where it refuses the input,
zerograd must refuse it too. Keras's lookup layers need TensorFlow, so those cases have no oracle."""

import warnings

import numpy as np
import pytest

from zerograd import keras


def ones(*shape):
    return np.ones(shape, "float32")


# (id, call on a keras module k, error, match, whether real Keras 3.15 also raises: True, False
#  (a deliberate difference: Keras accepts it) or None (no oracle: Keras needs TensorFlow))
OPS_CASES = [
    (
        "concatenate_axis_out_of_range",
        lambda k: k.ops.concatenate([ones(2, 3), ones(2, 3)], axis=3),
        ValueError,
        r"concatenate: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 3",
        True,
    ),
    (
        "argmax_axis_out_of_range",
        lambda k: k.ops.argmax(ones(2, 3), axis=2),
        ValueError,
        r"argmax: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 2",
        True,
    ),
    (
        "argmin_axis_out_of_range",
        lambda k: k.ops.argmin(ones(2, 3), axis=-3),
        ValueError,
        r"argmin: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received -3",
        True,
    ),
    (
        "argsort_axis_out_of_range",
        lambda k: k.ops.argsort(ones(2, 3), axis=2),
        ValueError,
        r"argsort: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 2",
        True,
    ),
    (
        "sort_axis_out_of_range",
        lambda k: k.ops.sort(ones(2, 3), axis=2),
        ValueError,
        r"sort: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 2",
        True,
    ),
    (
        "take_axis_out_of_range",
        lambda k: k.ops.take(ones(2, 3), np.array([0]), axis=2),
        ValueError,
        r"take: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 2",
        True,
    ),
    (
        "expand_dims_axis_out_of_range",
        lambda k: k.ops.expand_dims(ones(2, 3), 4),
        ValueError,
        r"expand_dims: axis must be in \[-3, 2\] for a tensor of 3 dimensions, received 4",
        True,
    ),
    (
        "cumsum_axis_out_of_range",
        lambda k: k.ops.cumsum(ones(2, 3), axis=3),
        ValueError,
        r"cumsum: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 3",
        True,
    ),
    (
        "cumprod_axis_out_of_range",
        lambda k: k.ops.cumprod(ones(2, 3), axis=3),
        ValueError,
        r"cumprod: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 3",
        True,
    ),
    (
        "flip_axis_out_of_range",
        lambda k: k.ops.flip(ones(2, 3), axis=3),
        ValueError,
        r"flip: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 3",
        True,
    ),
    (
        "roll_axis_out_of_range",
        lambda k: k.ops.roll(ones(2, 3), 1, axis=3),
        ValueError,
        r"roll: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 3",
        True,
    ),
    (
        "moveaxis_out_of_range",
        lambda k: k.ops.moveaxis(ones(2, 3), 0, 5),
        ValueError,
        r"moveaxis: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 5",
        True,
    ),
    (
        "one_hot_negative_classes",
        lambda k: k.ops.one_hot(np.array([0, 1]), -1),
        ValueError,
        "one_hot: num_classes must be >= 0, received -1",
        False,
    ),
    (
        "one_hot_float_classes",
        lambda k: k.ops.one_hot(np.array([0, 1]), 2.5),
        TypeError,
        "one_hot: num_classes must be an int, received float 2.5",
        True,
    ),
    ("eye_negative", lambda k: k.ops.eye(-1), ValueError, "eye: N must be >= 0, received -1", True),
    (
        "zeros_negative_shape",
        lambda k: k.ops.zeros((-1, 2)),
        ValueError,
        r"zeros: shape must not have negative dimensions, received \(-1, 2\)",
        True,
    ),
    (
        "full_negative_shape",
        lambda k: k.ops.full((-2,), 1.0),
        ValueError,
        "full: shape must not have negative dimensions",
        True,
    ),
    (
        "ones_float_shape",
        lambda k: k.ops.ones((2.5, 2)),
        TypeError,
        "ones: shape must hold integers, received .*2.5 of type float",
        True,
    ),
    (
        "arange_zero_step",
        lambda k: k.ops.arange(0, 5, 0),
        ValueError,
        "arange: step must be nonzero, received step=0",
        True,
    ),
    (
        "linspace_negative_num",
        lambda k: k.ops.linspace(0, 1, -1),
        ValueError,
        "linspace: num must be >= 0, received -1",
        True,
    ),
    (
        "einsum_size_mismatch",
        lambda k: k.ops.einsum("ij,jk->ik", ones(2, 3), ones(4, 5)),
        ValueError,
        "einsum: subscript 'j' has size 4 in operand 1 .* but size 3 in operand 0",
        True,
    ),
    (
        "clip_string_bound",
        lambda k: k.ops.clip(ones(2, 3), "a", 1),
        TypeError,
        "clip: x_min must be a number or a tensor, received 'a'",
        True,
    ),
    (
        "tril_one_dimension",
        lambda k: k.ops.tril(ones(3)),
        ValueError,
        r"tril: expected a tensor of at least 2 dimensions, received shape \(3,\)",
        True,
    ),
    (
        "triu_one_dimension",
        lambda k: k.ops.triu(ones(3)),
        ValueError,
        "triu: expected a tensor of at least 2 dimensions",
        True,
    ),
    (
        "sparse_crossentropy_label_too_large",
        lambda k: k.ops.sparse_categorical_crossentropy(np.array([5, 0]), ones(2, 3)),
        ValueError,
        r"sparse_categorical_crossentropy: expected target class ids in \[0, 3\), received values from 0 to 5",
        True,
    ),
    (
        "average_weights_length",
        lambda k: k.ops.average(ones(2, 3), axis=1, weights=ones(2)),
        ValueError,
        r"average: 1-D weights must have the length of axis 1 of x .* received weights of shape \(2,\)",
        True,
    ),
]

UTILS_CASES = [
    (
        "to_categorical_negative_classes",
        lambda k: k.utils.to_categorical([0, 1], -2),
        ValueError,
        "to_categorical: num_classes must be None or a positive integer, received int -2",
        True,
    ),
    (
        "to_categorical_float_classes",
        lambda k: k.utils.to_categorical([0, 1], 2.5),
        ValueError,
        "num_classes must be None or a positive integer, received float 2.5",
        True,
    ),
    (
        "to_categorical_string_labels",
        lambda k: k.utils.to_categorical(["a", "b"], 2),
        TypeError,
        "to_categorical: expected integer class labels, received an array of dtype <U1",
        True,
    ),
    (
        "pad_sequences_maxlen_negative",
        lambda k: k.utils.pad_sequences([[1, 2], [3]], maxlen=-1),
        ValueError,
        "pad_sequences: maxlen must be None or a non-negative integer, received int -1",
        True,
    ),
    (
        "pad_sequences_maxlen_float",
        lambda k: k.utils.pad_sequences([[1, 2], [3]], maxlen=1.5),
        ValueError,
        "maxlen must be None or a non-negative integer, received float 1.5",
        True,
    ),
    (
        "pad_sequences_maxlen_string",
        lambda k: k.utils.pad_sequences([[1, 2], [3]], maxlen="a"),
        ValueError,
        "maxlen must be None or a non-negative integer, received str 'a'",
        True,
    ),
    (
        "pad_sequences_bad_dtype",
        lambda k: k.utils.pad_sequences([[1, 2], [3]], dtype="nope"),
        ValueError,
        "pad_sequences: invalid dtype 'nope'",
        True,
    ),
    (
        "pad_sequences_strings_as_int",
        lambda k: k.utils.pad_sequences([["a", "b"], ["c"]]),
        ValueError,
        "pad_sequences: sequence 0 cannot be stored as dtype int32 .* use dtype=object",
        True,
    ),
    (
        "pad_sequences_empty_without_maxlen",
        lambda k: k.utils.pad_sequences([]),
        ValueError,
        "pad_sequences: received no sequences and no maxlen",
        True,
    ),
    (
        "normalize_order_string",
        lambda k: k.utils.normalize(ones(2, 3), order="fro"),
        ValueError,
        "normalize: order must be a number .* received str 'fro'",
        True,
    ),
    (
        "normalize_axis_out_of_range",
        lambda k: k.utils.normalize(ones(2, 3), axis=5),
        ValueError,
        r"normalize: axis 5 is out of range for an array of shape \(2, 3\)",
        True,
    ),
]

PREPROCESSING_CASES = [
    (
        "string_lookup_int_vocabulary",
        lambda k: k.layers.StringLookup(vocabulary=[1, 2]),
        TypeError,
        "StringLookup '.*': expected string tokens, received int64",
        None,
    ),
    (
        "string_lookup_int_mask_token",
        lambda k: k.layers.StringLookup(mask_token=3),
        TypeError,
        "StringLookup '.*': mask_token must be a string, received int 3",
        None,
    ),
    (
        "string_lookup_missing_vocabulary_file",
        lambda k: k.layers.StringLookup(vocabulary="/nonexistent_zg/vocab.txt"),
        FileNotFoundError,
        "StringLookup '.*': the vocabulary file '/nonexistent_zg/vocab.txt' does not exist",
        None,
    ),
    (
        "string_lookup_numeric_input",
        lambda k: k.layers.StringLookup(vocabulary=["a"])(np.array([1])),
        TypeError,
        "StringLookup '.*': expected string tokens, received",
        None,
    ),
    (
        "integer_lookup_string_vocabulary",
        lambda k: k.layers.IntegerLookup(vocabulary=["a", "b"]),
        TypeError,
        "IntegerLookup '.*': expected integer tokens, received str_",
        None,
    ),
    (
        "integer_lookup_fractional_vocabulary",
        lambda k: k.layers.IntegerLookup(vocabulary=[1.5, 2.5]),
        ValueError,
        r"IntegerLookup '.*': expected integer tokens, received np.float64\(1.5\)",
        None,
    ),
    (
        "integer_lookup_fractional_input",
        lambda k: k.layers.IntegerLookup(vocabulary=[1, 2])(np.array([1.5])),
        ValueError,
        "IntegerLookup '.*': expected integer tokens, received",
        None,
    ),
    (
        "integer_lookup_string_input",
        lambda k: k.layers.IntegerLookup(vocabulary=[1, 2])(np.array(["a"])),
        TypeError,
        "IntegerLookup '.*': expected integer tokens, received str_",
        None,
    ),
    (
        "normalization_adapt_no_samples",
        lambda k: k.layers.Normalization().adapt(np.zeros((0, 3), "float32")),
        ValueError,
        r"Normalization '.*': adapt received a batch of shape \(0, 3\) with no samples",
        False,
    ),
    (
        "normalization_adapt_strings",
        lambda k: k.layers.Normalization().adapt(np.array([["a"]])),
        TypeError,
        "Normalization '.*': adapt expected numeric data, received dtype <U1",
        True,
    ),
    (
        "discretization_string_boundaries",
        lambda k: k.layers.Discretization(bin_boundaries=["a"]),
        TypeError,
        r"Discretization '.*': bin_boundaries must be a list of numbers, received \['a'\]",
        False,
    ),
    (
        "category_encoding_count_weights_shape",
        lambda k: k.layers.CategoryEncoding(num_tokens=3, output_mode="count")(
            np.array([[0, 1]]), count_weights=np.ones((1, 3))
        ),
        ValueError,
        r"CategoryEncoding '.*': count_weights must have the inputs' shape \(1, 2\), received shape \(1, 3\)",
        True,
    ),
]


@pytest.mark.parametrize(
    "call, error, match, keras_raises",
    [c[1:] for c in OPS_CASES + UTILS_CASES + PREPROCESSING_CASES],
    ids=[c[0] for c in OPS_CASES + UTILS_CASES + PREPROCESSING_CASES],
)
def test_ops_utils_preprocessing_bad_input(real_keras, call, error, match, keras_raises):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=match):
            call(keras)
        if keras_raises:  # the oracle refuses it too (its error types and messages vary)
            with pytest.raises(Exception):  # noqa: B017
                call(real_keras)
        elif keras_raises is False:  # a deliberate difference: Keras accepts it silently
            call(real_keras)


def test_valid_ops_and_utils_inputs_still_match_keras(real_keras):
    x = np.arange(6, dtype="float32").reshape(2, 3)
    checks = [
        lambda k: k.ops.concatenate([x, x], axis=-1),
        lambda k: k.ops.argmax(x, axis=-1),
        lambda k: k.ops.take(x, np.array([2, 0]), axis=-1),
        lambda k: k.ops.expand_dims(x, -1),
        lambda k: k.ops.cumsum(x, axis=-2),
        lambda k: k.ops.flip(x, axis=-1),
        lambda k: k.ops.roll(x, 1, axis=-1),
        lambda k: k.ops.moveaxis(x, 0, -1),
        lambda k: k.ops.one_hot(np.array([0, 2]), 3),
        lambda k: k.ops.eye(3, 2),
        lambda k: k.ops.zeros((np.int64(2), 0)),
        lambda k: k.ops.arange(5, 0, -2),
        lambda k: k.ops.linspace(0.0, 1.0, 0),
        lambda k: k.ops.einsum("ij,jk->ik", x, x.T),
        lambda k: k.ops.clip(x, np.float32(1), 4),
        lambda k: k.ops.tril(np.ones((2, 3, 3), "float32")),
        lambda k: k.ops.average(x, axis=1, weights=np.array([1.0, 2.0, 3.0], "float32")),
        lambda k: k.utils.to_categorical([0.0, 2.0], 3),
        lambda k: k.utils.pad_sequences([], maxlen=2),
        lambda k: k.utils.normalize(x, axis=-2, order=1),
    ]
    for check in checks:
        got = np.asarray(keras.ops.convert_to_numpy(check(keras)))
        want = np.asarray(real_keras.ops.convert_to_numpy(check(real_keras)))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_lookup_layers_accept_integral_and_file_vocabularies(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("7\n9\n", encoding="utf-8")
    layer = keras.layers.IntegerLookup(vocabulary=str(path))
    np.testing.assert_array_equal(layer(np.array([9.0, 7.0, 3.0])).numpy(), [2, 1, 0])
    words = tmp_path / "words.txt"
    words.write_text("a\nb\n", encoding="utf-8")
    lookup = keras.layers.StringLookup(vocabulary=str(words))
    np.testing.assert_array_equal(lookup(np.array(["b", "z"])).numpy(), [2, 0])


def test_average_without_axis_broadcasts_weights_as_keras(real_keras):
    """Keras (torch backend) sums x * weights over everything and divides by sum(weights) when
    no axis is given (its own docstring example); weights that do not broadcast are an error."""
    data = np.arange(1, 7, dtype="float32").reshape(3, 2)
    w = np.array([0.25, 0.75], "float32")
    want = real_keras.ops.convert_to_numpy(real_keras.ops.average(data, weights=w))
    got = keras.ops.average(data, weights=w).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match=r"average: weights must broadcast against x .*\(3,\)"):
        keras.ops.average(data, weights=np.ones(3, "float32"))
    with pytest.raises(RuntimeError):
        real_keras.ops.average(data, weights=np.ones(3, "float32"))
