"""Small valid Keras model files and tools to damage them (for the bad-file tests and fuzzing)."""

import io
import json
import zipfile

import numpy as np

import zerograd.keras as zk


def small_model(compiled: bool = True):
    """Sequential(Input(3) -> Dense(2)); compiled with Adam and trained one step (slot variables)."""
    model = zk.Sequential([zk.Input((3,)), zk.layers.Dense(2)])
    if compiled:
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32), verbose=0)
    return model


def functional_model():
    inputs = zk.Input((3,), name="x")
    hidden = zk.layers.Dense(4, name="hidden")(inputs)
    return zk.Model(inputs, zk.layers.Dense(2, name="out")(hidden), name="f")


def members(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def write_zip(path, contents: dict, compression=zipfile.ZIP_DEFLATED) -> None:
    """A zip of ``contents`` ({name: bytes}); weights members stored, as Keras writes them."""
    with zipfile.ZipFile(path, "w") as z:
        for name, body in contents.items():
            kind = zipfile.ZIP_STORED if name.startswith("model.weights") else compression
            z.writestr(name, body, kind)


def rezip(src, dst, changes: dict) -> None:
    """Copy the archive ``src`` to ``dst`` with members replaced (bytes), JSON-edited (a function
    of the parsed member returning the new value) or removed (None)."""
    contents = members(src)
    for name, change in changes.items():
        if change is None:
            contents.pop(name)
        elif callable(change):
            contents[name] = json.dumps(change(json.loads(contents[name]))).encode()
        else:
            contents[name] = change
    write_zip(dst, contents)


def h5_bytes(build) -> bytes:
    """The bytes of an HDF5 file that ``build(h5py_file)`` fills."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    return buf.getvalue()


def weights_h5(model) -> dict:
    """{dataset path: array} of the model's .weights.h5 layout (to edit and write back)."""
    from zerograd.keras.saving.h5io import h5_bytes as model_h5
    from zerograd.keras.saving.h5io import read_h5

    return read_h5(model_h5(model), "<memory>")


def h5_from_arrays(arrays: dict) -> bytes:
    def build(f):
        for name, a in arrays.items():
            f.create_dataset(name, data=a)

    return h5_bytes(build)
