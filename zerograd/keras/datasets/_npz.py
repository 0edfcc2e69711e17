"""Reading ``.npz`` archives whose arrays may hold Python lists (Keras's imdb.npz), without running
arbitrary pickled code: only NumPy's array reconstruction is allowed to be unpickled."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np

_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"load_npz: refusing to load {module}.{name}; a dataset file holds only arrays "
                "and lists (is the file damaged or not what it claims to be?)"
            )
        return super().find_class(module, name)


def _read_npy(buffer: io.BytesIO) -> np.ndarray:
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:  # an object array: a pickle follows the header
        buffer.seek(0)
        major, _ = np.lib.format.read_magic(buffer)
        if major == 1:
            np.lib.format.read_array_header_1_0(buffer)
        elif major in (2, 3):
            np.lib.format.read_array_header_2_0(buffer)
        else:
            raise ValueError(f"load_npz: unsupported .npy version {major}") from None
        return _ArraysOnly(buffer).load()


def load_npz(path) -> dict:
    """The arrays of an ``.npz`` file by name; object arrays of lists are allowed."""
    out = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                out[member[: -len(".npy")]] = _read_npy(io.BytesIO(archive.read(member)))
    return out
