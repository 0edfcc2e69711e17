"""keras.datasets loaders on small local files written in the official formats (no downloads)."""

import gzip
import io
import json
import os
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest

from zerograd import keras
from zerograd.keras.datasets._npz import load_npz


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty $ZEROGRAD_DATA and $HOME; downloads off; no system-wide dataset folders."""
    monkeypatch.setenv("ZEROGRAD_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZEROGRAD_ALLOW_DOWNLOAD", raising=False)
    for mod in (keras.datasets.mnist, keras.datasets.cifar10, keras.datasets.imdb):
        monkeypatch.setattr(mod, "DEBIAN_DIR", str(tmp_path / "nowhere"))
    return tmp_path / "data"


def _idx(path, array):
    codes = {np.uint8: 0x08}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_mnist_reads_local_idx_files(data_dir):
    folder = data_dir / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 5, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 2, dtype=np.uint8),
    }
    for name, a in arrays.items():
        _idx(folder / name, a)
    (x, y), (xt, yt) = keras.datasets.mnist.load_data()
    for got, name in zip((x, y, xt, yt), arrays):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])


@pytest.mark.parametrize("loader", ["mnist", "cifar10", "imdb"])
def test_missing_files_without_download_raise(data_dir, loader):
    with pytest.raises(FileNotFoundError, match="not found.*(?s:.*)ZEROGRAD_ALLOW_DOWNLOAD"):
        getattr(keras.datasets, loader).load_data()


def _cifar_records(x, y):
    return b"".join(
        bytes([int(label)]) + img.transpose(2, 0, 1).tobytes() for img, label in zip(x, y)
    )


@pytest.mark.parametrize("layout", ["archive", "folder"])
def test_cifar10_reads_the_binary_version(data_dir, layout):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 12, dtype=np.uint8)
    files = {
        f"data_batch_{i}.bin": _cifar_records(x[2 * i - 2 : 2 * i], y[2 * i - 2 : 2 * i])
        for i in range(1, 6)
    }
    files["test_batch.bin"] = _cifar_records(x[10:], y[10:])
    folder = data_dir / "cifar10"
    folder.mkdir(parents=True)
    if layout == "archive":
        with tarfile.open(folder / "cifar-10-binary.tar.gz", "w:gz") as tar:
            for name, blob in files.items():
                info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    else:
        (folder / "cifar-10-batches-bin").mkdir()
        for name, blob in files.items():
            (folder / "cifar-10-batches-bin" / name).write_bytes(blob)
    (xtr, ytr), (xte, yte) = keras.datasets.cifar10.load_data()
    assert xtr.shape == (10, 32, 32, 3) and ytr.shape == (10, 1) and xte.shape == (2, 32, 32, 3)
    assert xtr.dtype == ytr.dtype == np.uint8
    np.testing.assert_array_equal(xtr, x[:10])
    np.testing.assert_array_equal(ytr[:, 0], y[:10])
    np.testing.assert_array_equal(xte, x[10:])


def _imdb_files(folder):
    rng = np.random.default_rng(2)

    def reviews(n):
        out = np.empty(n, dtype=object)
        out[:] = [[int(w) for w in rng.integers(1, 12, rng.integers(1, 7))] for _ in range(n)]
        return out

    folder.mkdir(parents=True)
    np.savez(
        folder / "imdb.npz",
        x_train=reviews(9),
        y_train=rng.integers(0, 2, 9),
        x_test=reviews(6),
        y_test=rng.integers(0, 2, 6),
    )
    (folder / "imdb_word_index.json").write_text(json.dumps({"the": 1, "and": 2, "film": 3}))
    return folder / "imdb.npz"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"num_words": 8},
        {"num_words": 9, "skip_top": 4},
        {"maxlen": 5},
        {"num_words": 7, "oov_char": None},
        {"start_char": None, "index_from": 0},
        {"seed": 5, "index_from": 2, "oov_char": 1},
    ],
)
def test_imdb_matches_keras(real_keras, data_dir, monkeypatch, kwargs):
    import keras.src.datasets.imdb as keras_imdb

    path = _imdb_files(data_dir / "imdb")
    monkeypatch.setattr(keras_imdb, "get_file", lambda *a, **k: str(path))
    ours = keras.datasets.imdb.load_data(**kwargs)
    theirs = real_keras.datasets.imdb.load_data(**kwargs)
    for (x, y), (xk, yk) in zip(ours, theirs):
        assert x.dtype == object and len(x) == len(xk)
        assert [list(s) for s in x] == [list(s) for s in xk]
        np.testing.assert_array_equal(y, yk)


def test_imdb_word_index_and_explicit_path(data_dir, tmp_path):
    path = _imdb_files(data_dir / "imdb")
    assert keras.datasets.imdb.get_word_index()["film"] == 3
    (x, _), _ = keras.datasets.imdb.load_data(path=str(path))
    assert all(s[0] == 1 for s in x)


def test_imdb_refuses_pickled_code(data_dir):
    class Payload:
        def __reduce__(self):
            return (print, ("not run",))

    folder = data_dir / "imdb"
    folder.mkdir(parents=True)
    bad = np.empty(1, dtype=object)
    bad[0] = Payload()
    np.savez(folder / "imdb.npz", x_train=bad, y_train=np.zeros(1), x_test=bad, y_test=np.zeros(1))
    with pytest.raises(ValueError, match="refusing to load builtins.print"):
        keras.datasets.imdb.load_data()


def _refuse_unpickling(monkeypatch):
    """Make pickle's loaders fail loudly: load_npz must not use them."""

    def refuse(*args, **kwargs):
        raise AssertionError("load_npz used pickle's unpickler")

    for name in ("Unpickler", "load", "loads"):
        monkeypatch.setattr(pickle, name, refuse)


def test_load_npz_round_trips_ragged_lists_like_np_load(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    ragged = np.empty(7, dtype=object)
    ragged[:] = [[int(w) for w in rng.integers(0, 90000, n)] for n in (0, 1, 5, 2, 300, 5, 3)]
    ragged[6] = [2**40, -1, 70000]  # LONG1, a negative BININT and a BININT
    square = np.empty((2, 2), dtype=object)  # equal-length lists must stay lists
    for i, j in np.ndindex(square.shape):
        square[i, j] = [i, j]
    labels = rng.integers(0, 2, 7)
    np.savez(tmp_path / "lists.npz", ragged=ragged, square=square, labels=labels)
    with monkeypatch.context() as m:
        _refuse_unpickling(m)
        ours = load_npz(tmp_path / "lists.npz")
    theirs = np.load(tmp_path / "lists.npz", allow_pickle=True)
    assert sorted(ours) == sorted(theirs.files)
    for name in theirs.files:
        got, want = ours[name], theirs[name]
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tolist() == want.tolist()
    assert all(type(s) is list for s in ours["square"].ravel())


def test_load_npz_reads_python2_pickles(tmp_path):
    """Keras's hosted files predate Python 3: protocol 2, str as SHORT_BINSTRING ('U')."""
    stream = (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01K\x00\x85q\x02"
        b"U\x01bq\x03\x87q\x04Rq\x05(K\x01K\x02\x85q\x06cnumpy\ndtype\nq\x07U\x02O8q\x08K\x00K\x01"
        b"\x87q\tRq\n(K\x03U\x01|q\x0bNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tq\x0cb\x89]q\r(]q\x0e"
        b"(K\x01K\x02e]q\x0fK\x03aetq\x10b."
    )
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|O", "fortran_order": False, "shape": (2,)}
    )
    with zipfile.ZipFile(tmp_path / "py2.npz", "w") as archive:
        archive.writestr("x.npy", header.getvalue() + stream)
    got = load_npz(tmp_path / "py2.npz")["x"]
    assert got.dtype == object and got.tolist() == [[1, 2], [3]]
    assert got.tolist() == np.load(tmp_path / "py2.npz", allow_pickle=True)["x"].tolist()


def test_load_npz_refuses_os_system_without_running_it(tmp_path, monkeypatch):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = np.empty(2, dtype=object)
    bad[:] = [[1, 2], Payload()]
    np.savez(tmp_path / "bad.npz", x=bad)
    _refuse_unpickling(monkeypatch)
    with pytest.raises(ValueError, match=r"refusing to load (os|posix|nt)\.system.*bad\.npz"):
        load_npz(tmp_path / "bad.npz")
    assert not marker.exists()
