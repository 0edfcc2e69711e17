"""How Keras masks travel between layers (Keras 3 semantics).

A mask rides on a tensor as its ``_keras_mask`` attribute (an eager Tensor of booleans, or a
KerasTensor in a functional graph). A layer whose ``call`` takes ``mask=`` receives the mask of its
input when the call has a single tensor argument; after the call, a layer that ``supports_masking``
puts ``compute_mask(inputs, previous_mask)`` on its outputs. Other layers make new tensors without
one, so the mask stops there.
"""

from __future__ import annotations

import inspect

import numpy as np


def get_mask(x):
    """The mask carried by ``x`` (None when it has none)."""
    return getattr(x, "_keras_mask", None)


def set_mask(x, mask) -> None:
    """Attach ``mask`` to ``x`` (objects that cannot carry attributes are left alone)."""
    try:
        x._keras_mask = mask
    except AttributeError:
        pass


def _flat(x) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in _flat(item)]
    return [x]


def _masks_of(x):
    """The masks of a structure of tensors, in its structure; None when none carries one."""
    if isinstance(x, (list, tuple)):
        masks = [get_mask(t) for t in x]
        return masks if any(m is not None for m in masks) else None
    return get_mask(x)


def call_takes_mask(layer) -> bool:
    cls = type(layer)
    if "_takes_mask" not in cls.__dict__:
        cls._takes_mask = "mask" in inspect.signature(cls.call).parameters
    return cls._takes_mask


def _holds_tensor(value) -> bool:
    return any(hasattr(v, "shape") and hasattr(v, "dtype") for v in _flat(value))


def fill_mask_argument(layer, inputs, args, kwargs):
    """Give ``call(mask=)`` the input's mask (when the call has one tensor argument, as Keras);
    returns the mask the outputs derive theirs from."""
    if kwargs.get("mask") is not None:
        return kwargs["mask"]
    mask = _masks_of(inputs)
    if mask is not None and call_takes_mask(layer):
        others = [a for a in args if _holds_tensor(a)]
        others += [v for k, v in kwargs.items() if k != "mask" and _holds_tensor(v)]
        if not others:
            kwargs["mask"] = mask
    return mask


def attach_output_masks(layer, inputs, outputs, previous_mask) -> None:
    """Put ``layer.compute_mask(inputs, previous_mask)`` on the outputs that have no mask yet."""
    if not layer.supports_masking:
        return
    flat_out = _flat(outputs)
    if all(get_mask(o) is not None for o in flat_out):
        return
    masks = layer.compute_mask(inputs, previous_mask)
    if masks is None:
        return
    flat_masks = _flat(masks) if isinstance(outputs, (list, tuple)) else [masks]
    for out, mask in zip(flat_out, flat_masks):
        if mask is not None and get_mask(out) is None:
            set_mask(out, mask)


def dummy_masks(symbolic, dummies, make_tensor) -> None:
    """Give the zero dummies of a symbolic call all-True masks where their KerasTensors carry one."""
    for kt, dummy in zip(symbolic, dummies):
        mask = get_mask(kt)
        if mask is not None:
            shape = tuple(dummy.shape[i] for i in range(len(mask.shape)))
            set_mask(dummy, make_tensor(np.ones(shape, dtype=bool)))


def symbolic_masks(outputs, made, make_kt, again=None) -> None:
    """Mirror the masks of a symbolic call's dummy outputs onto the KerasTensors made from them.
    ``again`` holds the outputs of the second pass (free axes one larger), if any: a mask axis
    whose size differs between the passes is free (None), as is the batch axis."""
    again = outputs if again is None else again
    for out, other, kt in zip(outputs, again, made):
        mask = get_mask(out)
        if mask is not None and hasattr(mask, "shape"):
            second = get_mask(other)
            sizes = second.shape if hasattr(second, "shape") else mask.shape
            if len(sizes) != len(mask.shape):
                sizes = mask.shape
            shape = tuple(
                None if i == 0 or d != e else d for i, (d, e) in enumerate(zip(mask.shape, sizes))
            )
            mask_kt = make_kt(shape)
            mask_kt.dtype = np.dtype(bool)
            set_mask(kt, mask_kt)
