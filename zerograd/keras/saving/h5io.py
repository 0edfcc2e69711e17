"""Keras 3's weights file (``model.weights.h5`` / ``.weights.h5``) through h5py: one group per
weight owner holding ``vars/0``, ``vars/1``, ...; the optimizer under ``optimizer/vars``."""

from __future__ import annotations

import io
import math

import numpy as np

from zerograd.io.errors import FileFormatError
from zerograd.keras.saving.structure import model_entries

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


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
        inner = getattr(opt, "inner_optimizer", None)  # a LossScaleOptimizer: Keras writes both
        if inner is not None:
            arrays = [a for _, a in optimizer_arrays(inner, model)]
            out.append(("optimizer/inner_optimizer/vars", inner.name, arrays))
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


def _dataset_array(ds, name: str, file_size: int, totals: list):
    """The array of one dataset, after checking that the file really holds that many bytes
    (``totals``: [stored, declared] bytes of the datasets read so far, updated here)."""
    if ds.dtype.kind not in "biuf" or ds.dtype.subdtype is not None:
        raise ValueError(f"dataset {name!r} has dtype {ds.dtype}, not a numeric weight dtype")
    if ds.is_virtual or ds.external:
        raise ValueError(f"dataset {name!r} refers to data in other files; weights never do")
    if ds.shape is None:
        raise ValueError(f"dataset {name!r} is empty (a null dataspace), not a weight")
    nbytes = math.prod(ds.shape) * ds.dtype.itemsize
    stored = ds.id.get_storage_size()
    compressed = ds.id.get_create_plist().get_nfilters() > 0
    # an uncompressed dataset is on disk byte for byte; a compressed one expands at most 100x:
    # a declared shape beyond that is a lying header, and reading it would allocate the lie
    bound = 100 * stored if compressed else stored
    if nbytes > max(bound, 64) or stored > file_size:
        raise ValueError(
            f"dataset {name!r} declares shape {ds.shape} ({nbytes} bytes) but the file stores "
            f"{stored} bytes for it: the header lies or the file is truncated"
        )
    totals[0] += stored
    totals[1] += nbytes
    if totals[0] > file_size or totals[1] > 100 * file_size + 64:  # datasets sharing storage
        raise ValueError(
            f"the datasets up to {name!r} declare {totals[1]} bytes stored in {totals[0]}, "
            f"more than the {file_size}-byte file holds: the header lies"
        )
    return ds[()]


def read_h5(data: bytes, source: str, loader: str = "load_weights") -> dict:
    """{'layers/dense/vars/0': array, ...} of every dataset in a Keras weights file.

    Raises:
        FileFormatError: ``data`` is not a readable HDF5 weights file (named ``source``).
    """
    h5py = _h5py()
    if data[:8] != HDF5_SIGNATURE:
        raise FileFormatError(
            source, f"the weights are not an HDF5 file (they start with {data[:8]!r})", loader
        )
    out, totals = {}, [0, 0]
    try:
        with h5py.File(io.BytesIO(data), "r") as f:

            def visit(name, obj):
                if not isinstance(name, str):  # h5py hands over undecodable names as bytes
                    raise ValueError(f"object name {name!r} is not UTF-8")
                if isinstance(obj, h5py.Dataset):
                    out[name] = _dataset_array(obj, name, len(data), totals)

            f.visititems(visit)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, IndexError, OverflowError) as e:
        raise FileFormatError(
            source, f"not a readable Keras weights file (HDF5): {type(e).__name__}: {e}", loader
        ) from None
    return out


def optimizer_list(
    arrays: dict, source: str = "", loader: str = "load_model", group: str = "optimizer/vars"
) -> list:
    """The optimizer's variables of a weights dict, in index order."""
    found = {k: v for k, v in arrays.items() if k.startswith(group + "/")}
    want = [f"{group}/{i}" for i in range(len(found))]
    if set(want) != set(found):
        raise FileFormatError(
            source,
            f"the optimizer's variables must be numbered {group}/0..{len(found) - 1}, "
            f"found {sorted(found)[:10]}",
            loader,
        )
    return [found[k] for k in want]
