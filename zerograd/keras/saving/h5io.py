"""Keras 3's weights file (``model.weights.h5`` / ``.weights.h5``) through h5py: one group per
weight owner holding ``vars/0``, ``vars/1``, ...; the optimizer under ``optimizer/vars``."""

from __future__ import annotations

import io

import numpy as np

from zerograd.keras.saving.structure import model_entries


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is in the extras
        raise ImportError(
            "Keras weight files (.keras, .weights.h5) need h5py: pip install 'zerograd[extras]'"
        ) from e
    return h5py


def entries_with_optimizer(model, include_optimizer: bool) -> list:
    """[(group, owner name, [arrays])]: the model's weights, then its optimizer's variables."""
    out = [(g, name, [p.numpy() for p in ps]) for g, name, ps in model_entries(model)]
    opt = getattr(model, "optimizer", None)
    if include_optimizer and getattr(model, "compiled", False) and opt is not None:
        from zerograd.keras.saving.optimizer_state import optimizer_arrays

        arrays = [a for _, a in optimizer_arrays(opt, model)]
        out.append(("optimizer/vars", opt.name, arrays))
    return out


def h5_bytes(model, include_optimizer: bool = True) -> bytes:
    """The weights of ``model`` (and its optimizer) as the bytes of a Keras .h5 weights file."""
    h5py = _h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for group, name, arrays in entries_with_optimizer(model, include_optimizer):
            g = f.require_group(group)
            g.attrs["name"] = name
            for i, a in enumerate(arrays):
                g.create_dataset(str(i), data=np.asarray(a))
    return buf.getvalue()


def read_h5(data: bytes, source: str) -> dict:
    """{'layers/dense/vars/0': array, ...} of every dataset in a Keras weights file."""
    h5py = _h5py()
    out = {}
    try:
        with h5py.File(io.BytesIO(data), "r") as f:

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    out[name] = obj[()]

            f.visititems(visit)
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{source!r} is not a readable Keras weights file (HDF5): {e}") from None
    return out


def optimizer_list(arrays: dict) -> list:
    """The optimizer's variables of a weights dict, in index order."""
    found = {k: v for k, v in arrays.items() if k.startswith("optimizer/vars/")}
    return [found[f"optimizer/vars/{i}"] for i in range(len(found))]
