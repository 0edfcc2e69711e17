"""zerograd.data: loaders, splits, scalers, one-hot, cleaning; the Fashion-MNIST loader."""

import gzip
import struct

import numpy as np
import pytest

import zerograd as zg
from zerograd.data import (
    DataLoader,
    MinMaxScaler,
    StandardScaler,
    TensorDataset,
    drop_nonfinite,
    one_hot,
    random_split,
    train_test_split,
)
from zerograd.keras.datasets import _idx, fashion_mnist


def test_dataloader_batches_shuffle_drop_last_and_seed():
    x, y = np.arange(10).reshape(10, 1).astype("float32"), np.arange(10)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2] and batches[0][1].tolist() == [0, 1, 2, 3]
    assert len(DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)) == 2
    a = [
        b[1].tolist()
        for b in DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, generator=3)
    ]
    b = [
        b[1].tolist()
        for b in DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, generator=3)
    ]
    assert (
        a == b and sorted(sum(a, [])) == list(range(10)) and a != [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    )
    zg.manual_seed(1)
    c = [b[1].tolist() for b in DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True)]
    zg.manual_seed(1)
    assert c == [b[1].tolist() for b in DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True)]
    assert batches[0][0].dtype == np.float32


def test_dataloader_generic_dataset_and_random_split():
    class Squares(zg.data.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.float32(i), i * i

    xs, ys = next(iter(DataLoader(Squares(), batch_size=7)))
    assert ys.tolist() == [i * i for i in range(7)]
    parts = random_split(Squares(), [5, 2], generator=0)
    assert [len(p) for p in parts] == [5, 2]
    assert sorted([p[i][1] for p in parts for i in range(len(p))]) == [i * i for i in range(7)]


def test_train_test_split_sizes_and_stratify():
    x, y = np.arange(100).reshape(100, 1), np.array([0] * 80 + [1] * 20)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    assert len(x_te) == 25 and len(x_tr) == 75 and (y_te == 1).sum() == 5
    assert sorted(np.concatenate([x_tr, x_te]).ravel().tolist()) == list(range(100))
    np.testing.assert_array_equal(y[x_te.ravel()], y_te)
    with pytest.raises(ValueError, match="different lengths"):
        train_test_split(x, y[:5])


def test_scalers_follow_the_formulas():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    s = StandardScaler().fit(x)
    np.testing.assert_allclose(s.transform(x), [[-np.sqrt(1.5), 0], [0, 0], [np.sqrt(1.5), 0]])
    np.testing.assert_allclose(s.inverse_transform(s.transform(x)), x)
    m = MinMaxScaler((-1, 1)).fit(x)
    np.testing.assert_allclose(m.transform(x), [[-1, -1], [0, -1], [1, -1]])
    np.testing.assert_allclose(m.inverse_transform(m.transform(x))[:, 0], x[:, 0])


def test_one_hot_and_cleaning():
    np.testing.assert_array_equal(one_hot([0, 2, 1], 3), np.eye(3)[[0, 2, 1]])
    x = np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, np.inf], [4.0, 5.0]])
    y = np.array([0, 1, 2, 3])
    xc, yc, dropped = drop_nonfinite(x, y)
    assert dropped == 2 and yc.tolist() == [0, 3] and xc.shape == (2, 2)


def _write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_parser_and_loader_search_order(tmp_path, monkeypatch):
    images = np.random.default_rng(0).integers(0, 255, (5, 28, 28))
    labels = np.arange(5)
    d = tmp_path / "fashion-mnist"
    d.mkdir()
    for name, arr in [
        ("train-images-idx3-ubyte.gz", images),
        ("train-labels-idx1-ubyte.gz", labels),
        ("t10k-images-idx3-ubyte.gz", images[:2]),
        ("t10k-labels-idx1-ubyte.gz", labels[:2]),
    ]:
        _write_idx(d / name, arr)
    np.testing.assert_array_equal(_idx.read_idx(d / "train-images-idx3-ubyte.gz"), images)
    monkeypatch.setenv("ZEROGRAD_DATA", str(tmp_path))
    (xt, yt), (xs, ys) = fashion_mnist.load_data()
    assert xt.shape == (5, 28, 28) and xt.dtype == np.uint8 and ys.tolist() == [0, 1]


def test_loader_error_lists_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEROGRAD_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ZEROGRAD_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as e:
        fashion_mnist.load_data()
    msg = str(e.value)
    assert str(tmp_path / "empty") in msg and "ZEROGRAD_ALLOW_DOWNLOAD" in msg and "nowhere" in msg


def test_bad_idx_file(tmp_path):
    p = tmp_path / "bad.gz"
    with gzip.open(p, "wb") as f:
        f.write(b"not an idx file")
    with pytest.raises(ValueError, match="not an IDX file"):
        _idx.read_idx(p)


@pytest.mark.skipif(
    not (fashion_mnist.DEBIAN_DIR and __import__("os").path.exists(fashion_mnist.DEBIAN_DIR)),
    reason="Debian dataset-fashion-mnist not installed",
)
def test_real_fashion_mnist_shapes(monkeypatch):
    monkeypatch.delenv("ZEROGRAD_DATA", raising=False)
    (xt, yt), (xs, ys) = fashion_mnist.load_data()
    assert xt.shape == (60000, 28, 28) and yt.shape == (60000,) and xs.shape == (10000, 28, 28)
    assert xt.dtype == np.uint8 and set(np.unique(yt)) == set(range(10))
