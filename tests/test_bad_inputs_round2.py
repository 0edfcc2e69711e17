"""Round 2 of the bad-input catalogue (issue 12): layer forwards, the functional API, the Tensor
API and autograd. Each row is a call that used to fail with a raw or misleading error (or was
silently accepted); now it raises a TypeError/ValueError naming the op or layer, the argument, what
was expected and what was received. Where PyTorch rejects the same call, the row says so and the
test checks that it does (its error types differ). Cases PyTorch accepts are checked against it
in the tests after the table."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn as nn
import zerograd.nn.functional as F


def _f(*shape, dtype="float32"):
    return zg.tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype))


def _t(*shape, dtype=torch.float32):
    return torch.randn(*shape).to(dtype)


def _i(values):
    return zg.tensor(np.asarray(values, dtype=np.int64))


def _mha(**kw):
    return nn.MultiheadAttention(8, 2, **kw)


def _tmha(**kw):
    return torch.nn.MultiheadAttention(8, 2, **kw)


def _bool(*shape):
    return zg.tensor(np.zeros(shape, bool))


# (id, zerograd call, error type, match, the same call in PyTorch if it rejects it too, else None)
# fmt: off
LAYERS = [
    ("lstm-hx-not-a-pair", lambda: nn.LSTM(4, 5)(_f(3, 2, 4), _f(1, 2, 5)), TypeError,
     r"LSTM: expected hx as a tuple \(h0, c0\) of two tensors, received Tensor",
     lambda: torch.nn.LSTM(4, 5)(_t(3, 2, 4), _t(1, 2, 5))),
    ("lstm-h0-float64", lambda: nn.LSTM(4, 5)(_f(3, 2, 4), (_f(1, 2, 5, dtype="float64"),
                                                            _f(1, 2, 5))), TypeError,
     r"LSTM: expected h0 of dtype float32 \(the weight's dtype\), received float64",
     lambda: torch.nn.LSTM(4, 5)(_t(3, 2, 4), (_t(1, 2, 5, dtype=torch.float64), _t(1, 2, 5)))),
    ("gru-h0-list", lambda: nn.GRU(4, 5)(_f(3, 2, 4), [[0.0]]), TypeError,
     r"GRU: expected h0 as a Tensor, received list", None),
    ("mha-key-value-lengths", lambda: _mha()(_f(3, 2, 8), _f(4, 2, 8), _f(5, 2, 8)), ValueError,
     r"MultiheadAttention expected key \(\.\.\., 8\) and value \(\.\.\., 8\) of the same length",
     lambda: _tmha()(_t(3, 2, 8), _t(4, 2, 8), _t(5, 2, 8))),
    ("mha-key-batch", lambda: _mha()(_f(3, 2, 8), _f(4, 3, 8), _f(4, 3, 8)), ValueError,
     r"the query's batch size, received shapes query \(3, 2, 8\), key \(4, 3, 8\)",
     lambda: _tmha()(_t(3, 2, 8), _t(4, 3, 8), _t(4, 3, 8))),
    ("mha-key-batch-first", lambda: _mha(batch_first=True)(_f(2, 3, 8), _f(3, 4, 8), _f(3, 4, 8)),
     ValueError, r"MultiheadAttention expected key",
     lambda: _tmha(batch_first=True)(_t(2, 3, 8), _t(3, 4, 8), _t(3, 4, 8))),
    ("mha-int-attn-mask", lambda: _mha()(_f(3, 2, 8), _f(4, 2, 8), _f(4, 2, 8),
                                         attn_mask=_i(np.zeros((3, 4)))), TypeError,
     r"MultiheadAttention: expected a bool or floating attn_mask, received dtype int64",
     lambda: _tmha()(_t(3, 2, 8), _t(4, 2, 8), _t(4, 2, 8),
                     attn_mask=torch.zeros(3, 4, dtype=torch.int64))),
    ("mha-int-key-padding-mask", lambda: _mha()(_f(3, 2, 8), _f(4, 2, 8), _f(4, 2, 8),
                                                key_padding_mask=_i(np.zeros((2, 4)))), TypeError,
     r"MultiheadAttention: expected a bool or floating key_padding_mask, received dtype int64",
     lambda: _tmha()(_t(3, 2, 8), _t(4, 2, 8), _t(4, 2, 8),
                     key_padding_mask=torch.zeros(2, 4, dtype=torch.int64))),
    ("batchnorm-int-input", lambda: nn.BatchNorm1d(3)(_i(np.ones((2, 3)))), TypeError,
     r"BatchNorm1d: expected a floating-point input, received dtype int64",
     lambda: torch.nn.BatchNorm1d(3)(torch.ones(2, 3, dtype=torch.int64))),
    ("layernorm-int-input", lambda: nn.LayerNorm(4)(_i(np.ones((2, 4)))), TypeError,
     r"LayerNorm: expected a floating-point input, received dtype int64",
     lambda: torch.nn.LayerNorm(4)(torch.ones(2, 4, dtype=torch.int64))),
    ("groupnorm-int-input", lambda: nn.GroupNorm(2, 4)(_i(np.ones((2, 4, 3)))), TypeError,
     r"GroupNorm: expected a floating-point input, received dtype int64",
     lambda: torch.nn.GroupNorm(2, 4)(torch.ones(2, 4, 3, dtype=torch.int64))),
    ("rmsnorm-int-input", lambda: nn.RMSNorm(4)(_i(np.ones((2, 4)))), TypeError,
     r"RMSNorm: expected a floating-point input, received dtype int64", None),
    ("dropout-int-training", lambda: nn.Dropout(0.3)(_i(np.ones((3, 3)))), TypeError,
     r"dropout: expected a floating-point input in training, received dtype int64",
     lambda: torch.nn.Dropout(0.3)(torch.ones(3, 3, dtype=torch.int64))),
    ("conv-padding-mode", lambda: nn.Conv2d(2, 2, 3, padding_mode="reflect"), ValueError,
     r"Conv2d: only padding_mode='zeros' is supported, received 'reflect'", None),
    ("unflatten-bad-size", lambda: nn.Unflatten(1, (3, 3))(_f(2, 10)), ValueError,
     r"Unflatten: cannot split axis 1 of size 10 into \(3, 3\)",
     lambda: torch.nn.Unflatten(1, (3, 3))(_t(2, 10))),
    ("unflatten-two-minus-one", lambda: nn.Unflatten(1, (-1, -1)), ValueError,
     r"Unflatten: unflattened_size may hold one -1 at most", None),
    ("unflatten-axis", lambda: nn.Unflatten(3, (2, 5))(_f(2, 10)), ValueError,
     r"Unflatten: axis 3 is out of range for an input of shape \(2, 10\)",
     lambda: torch.nn.Unflatten(3, (2, 5))(_t(2, 10))),
    ("sequential-index-out-of-range", lambda: nn.Sequential(nn.ReLU())[3], IndexError,
     r"Sequential: index 3 is out of range for 1 modules",
     lambda: torch.nn.Sequential(torch.nn.ReLU())[3]),
    ("sequential-index-str", lambda: nn.Sequential(nn.ReLU())["a"], TypeError,
     r"Sequential: indices must be integers or slices, received str 'a'",
     lambda: torch.nn.Sequential(torch.nn.ReLU())["a"]),
    ("modulelist-index-out-of-range", lambda: nn.ModuleList([nn.ReLU()])[5], IndexError,
     r"ModuleList: index 5 is out of range for 1 modules",
     lambda: torch.nn.ModuleList([torch.nn.ReLU()])[5]),
    ("modulelist-insert-non-module", lambda: nn.ModuleList([nn.ReLU()]).insert(0, 3), TypeError,
     r"ModuleList.insert: expected a Module, received int",
     None),  # PyTorch inserts the int
    ("modulelist-extend-non-iterable", lambda: nn.ModuleList().extend(3), TypeError,
     r"ModuleList.extend: expected an iterable of Modules, received int",
     lambda: torch.nn.ModuleList().extend(3)),
    ("moduledict-int-key", lambda: nn.ModuleDict({1: nn.ReLU()}), TypeError,
     r"ModuleDict.add_module: name must be a str, received int",
     lambda: torch.nn.ModuleDict({1: torch.nn.ReLU()})),
]

FUNCTIONAL = [
    ("softmax-float-axis", lambda: F.softmax(_f(2, 3), 1.0), TypeError,
     r"softmax: axis must be an integer or a tuple of integers, received 1\.0",
     lambda: TF.softmax(_t(2, 3), 1.0)),
    ("sum-float-axis", lambda: _f(2, 3).sum(axis=1.0), TypeError,
     r"sum: axis must be an integer or a tuple of integers, received 1\.0", None),
    ("argmax-axis-out-of-range", lambda: _f(3).argmax(axis=2), ValueError,
     r"argmax: axis must be in \[-1, 0\] for a tensor of 1 dimensions, received 2",
     lambda: _t(3).argmax(dim=2)),
    ("one-hot-negative-classes", lambda: F.one_hot(_i([0, 1]), -2), ValueError,
     r"one_hot: num_classes must be -1 \(inferred\) or a non-negative integer, received -2",
     lambda: TF.one_hot(torch.tensor([0, 1]), -2)),
    ("one-hot-float-classes", lambda: F.one_hot(_i([0, 1]), 3.0), TypeError,
     r"one_hot: num_classes must be an integer, received 3\.0 \(float\)",
     lambda: TF.one_hot(torch.tensor([0, 1]), 3.0)),
    ("dropout-p-str", lambda: F.dropout(_f(3), "a"), TypeError,
     r"dropout: p must be a number, received 'a' \(str\)", lambda: TF.dropout(_t(3), "a")),
    ("dropout-training-str", lambda: F.dropout(_f(3), 0.5, "yes"), TypeError,
     r"dropout: training must be True or False, received 'yes'",
     lambda: TF.dropout(_t(3), 0.5, "yes")),
    ("conv2d-3d-weight", lambda: F.conv2d(_f(1, 2, 5, 5), _f(2, 2, 3)), ValueError,
     r"conv2d: expected a 4-D weight, received shape \(2, 2, 3\)",
     lambda: TF.conv2d(_t(1, 2, 5, 5), _t(2, 2, 3))),
    ("conv2d-bias-shape", lambda: F.conv2d(_f(1, 2, 5, 5), _f(4, 2, 3, 3), _f(3)), ValueError,
     r"conv2d: expected bias of shape \(4,\) for weight of shape \(4, 2, 3, 3\), received shape "
     r"\(3,\)", lambda: TF.conv2d(_t(1, 2, 5, 5), _t(4, 2, 3, 3), _t(3))),
    ("conv1d-4d-weight", lambda: F.conv1d(_f(1, 2, 5), _f(2, 2, 3, 3)), ValueError,
     r"conv1d: expected a 3-D weight, received shape \(2, 2, 3, 3\)",
     lambda: TF.conv1d(_t(1, 2, 5), _t(2, 2, 3, 3))),
    ("conv-transpose-3d-weight", lambda: F.conv_transpose2d(_f(1, 2, 5, 5), _f(2, 2, 3)),
     ValueError, r"conv_transpose2d: expected a 4-D weight, received shape \(2, 2, 3\)",
     lambda: TF.conv_transpose2d(_t(1, 2, 5, 5), _t(2, 2, 3))),
    ("conv-transpose-output-padding", lambda: F.conv_transpose2d(
        _f(1, 2, 5, 5), _f(2, 2, 3, 3), stride=2, output_padding=2), ValueError,
     r"conv_transpose2d: output_padding must be smaller than stride or dilation",
     lambda: TF.conv_transpose2d(_t(1, 2, 5, 5), _t(2, 2, 3, 3), stride=2, output_padding=2)),
    ("conv-transpose-bias-shape", lambda: F.conv_transpose2d(
        _f(1, 2, 5, 5), _f(2, 3, 3, 3), _f(2)), ValueError,
     r"conv_transpose2d: expected bias of shape \(3,\)",
     lambda: TF.conv_transpose2d(_t(1, 2, 5, 5), _t(2, 3, 3, 3), _t(2))),
    ("linear-bias-shape", lambda: F.linear(_f(2, 3), _f(4, 3), _f(5)), ValueError,
     r"linear: expected bias of shape \(4,\) for weight of shape \(4, 3\), received shape \(5,\)",
     lambda: TF.linear(_t(2, 3), _t(4, 3), _t(5))),
    ("linear-3d-weight", lambda: F.linear(_f(2, 3), _f(2, 4, 3)), ValueError,
     r"linear: expected a weight of shape \(out_features, in_features\), received shape "
     r"\(2, 4, 3\)", lambda: TF.linear(_t(2, 3), _t(2, 4, 3))),
    ("layer-norm-weight-shape", lambda: F.layer_norm(_f(2, 3), (3,), _f(4)), ValueError,
     r"layer_norm: expected weight of shape \(3,\) \(the normalized_shape\), received shape "
     r"\(4,\)", lambda: TF.layer_norm(_t(2, 3), (3,), _t(4))),
    ("layer-norm-bias-shape", lambda: F.layer_norm(_f(2, 3), (3,), _f(3), _f(2)), ValueError,
     r"layer_norm: expected bias of shape \(3,\)", lambda: TF.layer_norm(_t(2, 3), (3,), _t(3),
                                                                        _t(2))),
    ("rms-norm-weight-shape", lambda: F.rms_norm(_f(2, 3), (3,), _f(4)), ValueError,
     r"rms_norm: expected weight of shape \(3,\)", lambda: TF.rms_norm(_t(2, 3), (3,), _t(4))),
    ("group-norm-weight-shape", lambda: F.group_norm(_f(2, 4, 3), 2, _f(3)), ValueError,
     r"group_norm: expected weight of shape \(4,\) \(one per channel\), received shape \(3,\)",
     lambda: TF.group_norm(_t(2, 4, 3), 2, _t(3))),
    ("batch-norm-running-mean-shape", lambda: F.batch_norm(_f(2, 4), _f(3), _f(3)), ValueError,
     r"batch_norm: expected running_mean of shape \(4,\) \(one per channel\), received shape "
     r"\(3,\)", lambda: TF.batch_norm(_t(2, 4), _t(3), _t(3))),
    ("batch-norm-weight-shape", lambda: F.batch_norm(_f(2, 4), _f(4), _f(4), _f(3)), ValueError,
     r"batch_norm: expected weight of shape \(4,\)", lambda: TF.batch_norm(_t(2, 4), _t(4), _t(4),
                                                                          _t(3))),
    ("batch-norm-1d-input", lambda: F.batch_norm(_f(4), _f(4), _f(4)), ValueError,
     r"batch_norm: expected input of shape \(N, C, \.\.\.\), received shape \(4,\)",
     lambda: TF.batch_norm(_t(4), _t(4), _t(4))),
    ("sdpa-int-mask", lambda: F.scaled_dot_product_attention(
        _f(2, 3, 4), _f(2, 5, 4), _f(2, 5, 4), attn_mask=_i(np.zeros((3, 5)))), TypeError,
     r"scaled_dot_product_attention: expected a bool or floating attn_mask, received dtype int64",
     lambda: TF.scaled_dot_product_attention(_t(2, 3, 4), _t(2, 5, 4), _t(2, 5, 4),
                                             attn_mask=torch.zeros(3, 5, dtype=torch.int64))),
    ("sdpa-1d", lambda: F.scaled_dot_product_attention(_f(4), _f(4), _f(4)), ValueError,
     r"scaled_dot_product_attention: expected q, k and v with at least 2 dimensions",
     lambda: TF.scaled_dot_product_attention(_t(4), _t(4), _t(4))),
    ("sdpa-mixed-dtypes", lambda: F.scaled_dot_product_attention(
        _f(2, 3, 4), _f(2, 3, 4, dtype="float64"), _f(2, 3, 4)), TypeError,
     r"scaled_dot_product_attention: expected q, k and v of one dtype, received float32, "
     r"float64, float32",
     lambda: TF.scaled_dot_product_attention(_t(2, 3, 4), _t(2, 3, 4, dtype=torch.float64),
                                             _t(2, 3, 4))),
    ("bce-weight-shape", lambda: F.binary_cross_entropy(
        zg.tensor([0.5, 0.2]), zg.tensor([1.0, 0.0]), weight=_f(3)), ValueError,
     r"binary_cross_entropy: expected weight broadcastable to the input's shape \(2,\), received "
     r"shape \(3,\)", lambda: TF.binary_cross_entropy(torch.tensor([0.5, 0.2]),
                                                      torch.tensor([1.0, 0.0]), weight=_t(3))),
    ("bce-logits-pos-weight", lambda: F.binary_cross_entropy_with_logits(
        _f(2, 3), _f(2, 3), pos_weight=_f(4)), ValueError,
     r"binary_cross_entropy_with_logits: expected pos_weight broadcastable to the input's shape "
     r"\(2, 3\), received shape \(4,\)",
     lambda: TF.binary_cross_entropy_with_logits(_t(2, 3), _t(2, 3), pos_weight=_t(4))),
    ("kl-div-log-target-str", lambda: F.kl_div(_f(2, 3), _f(2, 3), log_target="yes"), TypeError,
     r"kl_div: log_target must be True or False, received 'yes'",
     lambda: TF.kl_div(_t(2, 3), _t(2, 3), log_target="yes")),
    ("cosine-shapes", lambda: F.cosine_similarity(_f(2, 3), _f(2, 4)), ValueError,
     r"cosine_similarity: expected x1 and x2 of broadcastable shapes, received \(2, 3\) and "
     r"\(2, 4\)", lambda: TF.cosine_similarity(_t(2, 3), _t(2, 4))),
    ("cosine-axis", lambda: F.cosine_similarity(_f(2, 3), _f(2, 3), axis=2), ValueError,
     r"cosine_similarity: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 2",
     lambda: TF.cosine_similarity(_t(2, 3), _t(2, 3), dim=2)),
    ("max-pool1d-kernel-too-large", lambda: F.max_pool1d(_f(1, 1, 4), 5), ValueError,
     r"max_pool1d: kernel_size 5 is larger than the input length 4",
     lambda: TF.max_pool1d(_t(1, 1, 4), 5)),
    ("embedding-padding-idx", lambda: F.embedding(_i([0, 1]), _f(5, 3), padding_idx=7),
     ValueError, r"embedding: padding_idx must be in \[-5, 5\) \(num_embeddings\), received 7",
     lambda: TF.embedding(torch.tensor([0, 1]), _t(5, 3), padding_idx=7)),
    ("pad-negative", lambda: zg.pad(_f(2, 3), ((-1, 1), (0, 0))), ValueError,
     r"pad: pad_width must be non-negative, received", None),
]

TENSORS = [
    ("requires-grad-str", lambda: _f(3).requires_grad_("yes"), TypeError,
     r"requires_grad_: requires_grad must be True or False, received 'yes'",
     lambda: _t(3).requires_grad_("yes")),
    ("setitem-shape", lambda: _f(2, 3).__setitem__(0, _f(4)), ValueError,
     r"__setitem__: cannot write a value of shape \(4,\) into a tensor of shape \(2, 3\) at "
     r"index 0", lambda: _t(2, 3).__setitem__(0, _t(4))),
    ("setitem-out-of-range", lambda: _f(2, 3).__setitem__(5, 1.0), IndexError,
     r"__setitem__: cannot write .* at index 5 \(index 5 is out of bounds",
     lambda: _t(2, 3).__setitem__(5, 1.0)),
    ("setitem-str", lambda: _f(2, 3).__setitem__(0, "a"), TypeError,
     r"__setitem__: cannot write str 'a' into a Tensor", lambda: _t(2, 3).__setitem__(0, "a")),
    ("fill-str", lambda: _f(3).fill_("a"), TypeError, r"fill_: cannot write str 'a'",
     lambda: _t(3).fill_("a")),
    ("copy-shape", lambda: _f(3).copy_(_f(4)), ValueError,
     r"copy_: cannot write a value of shape \(4,\) into a tensor of shape \(3,\)",
     lambda: _t(3).copy_(_t(4))),
    ("compare-with-str", lambda: _f(3) < "a", TypeError, r"lt: cannot compare a Tensor with str",
     lambda: _t(3) < "a"),
    ("compare-with-none", lambda: _f(3) >= None, TypeError,
     r"ge: cannot compare a Tensor with NoneType", lambda: _t(3) >= None),
    ("reshape-float-size", lambda: _f(6).reshape(2.0, 3), TypeError,
     r"reshape: shape must be an integer or a tuple of integers, received \(2\.0, 3\)",
     lambda: _t(6).reshape(2.0, 3)),
    ("concat-axis-out-of-range", lambda: zg.concat([_f(2, 3), _f(2, 3)], axis=3), ValueError,
     r"concat: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 3",
     lambda: torch.cat([_t(2, 3), _t(2, 3)], 3)),
    ("stack-axis-out-of-range", lambda: zg.stack([_f(2), _f(2)], axis=-3), ValueError,
     r"stack: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received -3",
     lambda: torch.stack([_t(2), _t(2)], -3)),
    ("stack-a-tensor", lambda: zg.stack(_f(2, 3)), TypeError,
     r"stack: expected a list or tuple of tensors, received Tensor", lambda: torch.stack(_t(2, 3))),
    ("stack-an-int", lambda: zg.stack(3), TypeError,
     r"stack: expected a list or tuple of tensors, received int", lambda: torch.stack(3)),
    ("where-float-condition", lambda: zg.where(_f(3), _f(3), _f(3)), TypeError,
     r"where: expected a boolean condition, received dtype float32",
     lambda: torch.where(_t(3), _t(3), _t(3))),
    ("where-int-condition", lambda: zg.where(_i([1, 0, 1]), _f(3), _f(3)), TypeError,
     r"where: expected a boolean condition, received dtype int64",
     lambda: torch.where(torch.tensor([1, 0, 1]), _t(3), _t(3))),
]
# fmt: on


def _table(rows):
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


@pytest.mark.parametrize("call, error, match, torch_call", _table(LAYERS + FUNCTIONAL + TENSORS))
def test_bad_input_is_named(call, error, match, torch_call):
    with pytest.raises(error, match=match):
        call()
    if torch_call is not None:  # PyTorch rejects it too (its error types differ)
        with pytest.raises(Exception):  # noqa: B017, PT011
            torch_call()


def _leaf(shape, seed=0):
    return zg.tensor(
        np.random.default_rng(seed).standard_normal(shape).astype("float32"), requires_grad=True
    )


def test_grad_of_an_unused_input_needs_allow_unused():
    x, y = _leaf(3), _leaf(3, 1)
    z = (x * 2).sum()
    with pytest.raises(
        zg.autograd.GraphError, match=r"grad: inputs\[1\] \(shape \(3,\)\) was not used"
    ):
        zg.autograd.grad(z, [x, y], retain_graph=True)
    gx, gy = zg.autograd.grad(z, [x, y], allow_unused=True)
    tx, ty = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    tgx, tgy = torch.autograd.grad((tx * 2).sum(), [tx, ty], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), tgx.numpy())
    assert gy is None and tgy is None


@pytest.mark.parametrize(
    "inputs, error, match",
    [
        (lambda x, c: [c], ValueError, r"grad: inputs\[0\] \(shape \(3,\)\) does not require grad"),
        (lambda x, c: [x, 3], TypeError, r"grad: inputs\[1\] must be a Tensor, received int"),
        (lambda x, c: 3, TypeError, r"grad: inputs must be a Tensor or an iterable of Tensors"),
    ],
)
def test_grad_inputs_are_checked(inputs, error, match):
    x, c = _leaf(3), zg.tensor(np.ones(3, "float32"))
    with pytest.raises(error, match=match):
        zg.autograd.grad((x * c).sum(), inputs(x, c))
    tx, tc = torch.ones(3, requires_grad=True), torch.ones(3)
    with pytest.raises(Exception):  # noqa: B017, PT011
        torch.autograd.grad((tx * tc).sum(), inputs(tx, tc))


def test_grad_allow_unused_must_be_a_bool():
    x = _leaf(3)
    with pytest.raises(TypeError, match=r"grad: allow_unused must be True or False, received 'no'"):
        zg.autograd.grad((x * 2).sum(), [x], allow_unused="no")


# --- what PyTorch accepts, zerograd accepts with the same result ---------------------------------


@pytest.mark.parametrize(
    "zg_call, torch_call",
    [
        (lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2)),
        (lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2)),
        (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), lambda x: TF.adaptive_avg_pool2d(x, (3, 2))),
        (lambda x: nn.MaxPool2d(2)(x), lambda x: torch.nn.MaxPool2d(2)(x)),
        (lambda x: F.max_pool1d(x[0], 2), lambda x: TF.max_pool1d(x[0], 2)),
        (lambda x: F.avg_pool1d(x[0], 2), lambda x: TF.avg_pool1d(x[0], 2)),
    ],
    ids=[
        "max_pool2d",
        "avg_pool2d",
        "adaptive_avg_pool2d",
        "MaxPool2d",
        "max_pool1d",
        "avg_pool1d",
    ],
)
def test_unbatched_pooling_matches_torch(zg_call, torch_call):
    a = np.random.default_rng(0).standard_normal((3, 6, 4)).astype("float32")  # (C, H, W)
    got, want = zg_call(zg.tensor(a)), torch_call(torch.tensor(a))
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_linear_with_a_vector_weight_matches_torch():
    rng = np.random.default_rng(0)
    x, w = (rng.standard_normal(s).astype("float32") for s in ((2, 3), (3,)))
    got = F.linear(zg.tensor(x), zg.tensor(w))
    want = TF.linear(torch.tensor(x), torch.tensor(w))
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)


def test_unflatten_matches_torch():
    a = np.arange(24, dtype="float32").reshape(2, 12)
    for axis, sizes in ((1, (3, 4)), (-1, (2, -1))):
        got = nn.Unflatten(axis, sizes)(zg.tensor(a))
        want = torch.nn.Unflatten(axis, sizes)(torch.tensor(a))
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_modulelist_insert_matches_torch():
    ours = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ours.insert(1, nn.Sigmoid())
    ours.insert(3, nn.Identity())
    theirs = torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Tanh()])
    theirs.insert(1, torch.nn.Sigmoid())
    theirs.insert(3, torch.nn.Identity())
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert list(dict(ours.named_children())) == ["0", "1", "2", "3"]


def test_batchnorm_momentum_none_is_refused_by_name():
    """PyTorch's momentum=None (a cumulative average) is a valid value there: say it is not
    supported here, rather than that None is not a number."""
    torch.nn.BatchNorm1d(4, momentum=None)  # valid in PyTorch
    with pytest.raises(ValueError, match=r"BatchNorm1d: momentum=None .* is not supported"):
        nn.BatchNorm1d(4, momentum=None)
