"""Helpers for the layer tests: a zerograd layer against the same real Keras layer, with the same
weights, on the same inputs: outputs, output shapes and input gradients."""

from __future__ import annotations

import numpy as np

import zerograd as zg

RTOL = ATOL = 1e-5


def _numpy(real_keras, y) -> np.ndarray:
    return np.asarray(real_keras.ops.convert_to_numpy(y))


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def compare(real_keras, ours, theirs, x, grad: bool = True, rtol=RTOL, atol=ATOL, **call_kwargs):
    """Build both layers on ``x`` (an array or a list of arrays), copy Keras's weights into ours,
    then check outputs and, with ``grad``, the gradient of sum(y * r) for every input and weight."""
    import torch

    xs = [np.asarray(a) for a in _as_list(x)]
    pack = (lambda v: v) if isinstance(x, (list, tuple)) else (lambda v: v[0])
    theirs(pack(xs), **call_kwargs)  # build
    ours(pack([zg.Tensor(a) for a in xs]), **call_kwargs)
    ours.set_weights(theirs.get_weights())

    tx = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in xs]
    zx = [zg.Tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in xs]
    ty, zy = theirs(pack(tx), **call_kwargs), ours(pack(zx), **call_kwargs)
    want, got = _numpy(real_keras, ty), zy.numpy()
    assert got.shape == want.shape, f"output shape {got.shape}, Keras {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    if grad:
        r = np.random.default_rng(1).standard_normal(want.shape).astype(want.dtype)
        (ty * torch.tensor(r)).sum().backward()
        (zy * zg.Tensor(r)).sum().backward()
        for t, z in zip(tx, zx):
            if t.requires_grad:
                np.testing.assert_allclose(
                    z.grad.numpy(), t.grad.numpy(), rtol=rtol * 10, atol=atol * 10
                )
        for zw, tw in zip(ours.trainable_weights, theirs.trainable_weights):
            tg = tw.value.grad
            assert zw.grad is not None and tg is not None, f"no gradient for {tw.path}"
            np.testing.assert_allclose(
                zw.grad.numpy(), tg.numpy(), rtol=rtol * 10, atol=atol * 10, err_msg=tw.path
            )
    return got


def round_trip(layer, x=None) -> None:
    """``from_config(get_config())`` rebuilds an equal layer (same config; same outputs on ``x``
    with the same weights)."""
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    if x is not None:
        y = layer(x)
        clone(x)
        clone.set_weights(layer.get_weights())
        np.testing.assert_allclose(clone(x).numpy(), y.numpy(), rtol=RTOL, atol=ATOL)


def config_keys_match(real_keras_layer, layer) -> None:
    """Our config has every key of Keras's (beyond the dtype/base keys that differ)."""
    skip = {"dtype", "build_config", "seed"}
    missing = set(real_keras_layer.get_config()) - set(layer.get_config()) - skip
    assert not missing, f"config keys missing: {sorted(missing)}"
