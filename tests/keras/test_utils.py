"""keras.utils: pad_sequences and to_categorical against real Keras, set_random_seed, PyDataset,
model_to_dot / plot_model."""

import random
import shutil
import threading

import numpy as np
import pytest

from zerograd import keras

SEQS = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9], [10, 11]]


@pytest.mark.parametrize("maxlen", [None, 1, 3, 7])
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_pad_sequences_matches_keras(real_keras, maxlen, padding, truncating):
    kw = dict(maxlen=maxlen, padding=padding, truncating=truncating)
    ours = keras.utils.pad_sequences(SEQS, **kw)
    theirs = real_keras.utils.pad_sequences(SEQS, **kw)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    "seqs,kw",
    [
        ([[0.5, 1.5], [2.5]], dict(dtype="float32", value=-1.0)),
        ([np.ones((2, 3)), np.zeros((4, 3))], dict(dtype="float64", maxlen=3)),
        ([["a", "b"], ["c"]], dict(dtype=object, value="<pad>")),
        ((np.arange(3), np.arange(5)), dict(padding="post", value=9)),
        ([[1, 2, 3]] * 3, dict(dtype="int64", maxlen=2, truncating="post")),
    ],
)
def test_pad_sequences_dtypes_and_items(real_keras, seqs, kw):
    ours = keras.utils.pad_sequences(seqs, **kw)
    theirs = real_keras.utils.pad_sequences(seqs, **kw)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_maxlen_zero():
    # Keras fails here (``s[-0:]`` keeps the whole sequence); zerograd returns empty rows
    assert keras.utils.pad_sequences(SEQS, maxlen=0).shape == (5, 0)


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="padding 'pre' or 'post'.*'middle'"):
        keras.utils.pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match="truncating"):
        keras.utils.pad_sequences(SEQS, truncating="x")
    with pytest.raises(ValueError, match="every item.*5"):
        keras.utils.pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="dtype=object"):
        keras.utils.pad_sequences([["a"]], value="x")
    with pytest.raises(ValueError, match="sequence 1 has items of shape"):
        keras.utils.pad_sequences([np.ones((2, 3)), np.ones((2, 4))])


@pytest.mark.parametrize(
    "y,n",
    [
        ([0, 2, 1], None),
        ([[1], [0], [3]], None),
        ([[1], [0]], 5),
        (np.array([[0, 1], [2, 1]]), 3),
        (3, 4),
    ],
)
def test_to_categorical_matches_keras(real_keras, y, n):
    ours = keras.utils.to_categorical(y, n)
    theirs = real_keras.utils.to_categorical(y, n)
    assert ours.shape == theirs.shape
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 3\).*max 3"):
        keras.utils.to_categorical([0, 3], 3)


def test_set_random_seed_makes_runs_repeat():
    def run():
        model = keras.Sequential(
            [keras.layers.Dense(3, input_shape=(4,)), keras.layers.Dropout(0.5)]
        )
        out = model(np.ones((2, 4), "float32"), training=True).numpy()
        return random.random(), np.random.rand(), out

    keras.utils.set_random_seed(7)
    first = run()
    keras.utils.set_random_seed(7)
    second = run()
    assert first[0] == second[0] and first[1] == second[1]
    np.testing.assert_array_equal(first[2], second[2])
    assert keras.utils.get_random_seed() == 7
    with pytest.raises(ValueError, match="integer seed.*1.5"):
        keras.utils.set_random_seed(1.5)


class Batches(keras.utils.PyDataset):
    def __init__(self, n, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x = np.arange(n, dtype="float32").reshape(n, 1)
        self.batch_size, self.epochs_ended, self.threads = batch_size, 0, set()

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.threads.add(threading.get_ident())
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], 2 * self.x[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_py_dataset_protocol(real_keras):
    ds = Batches(10, 4)
    theirs = real_keras.utils.PyDataset()
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size) == (
        theirs.workers,
        theirs.use_multiprocessing,
        theirs.max_queue_size,
    )
    assert ds.num_batches == len(ds) == 3
    assert [len(b[0]) for b in ds] == [4, 4, 2]
    threaded = Batches(10, 1, workers=3, max_queue_size=2)
    assert [float(b[0][0, 0]) for b in threaded] == list(range(10))
    with pytest.raises(NotImplementedError, match="__getitem__"):
        keras.utils.PyDataset()[0]
    with pytest.raises(NotImplementedError, match="num_batches"):
        _ = keras.utils.PyDataset().num_batches


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"workers": 0}, "workers.*>= 1.*0"),
        ({"max_queue_size": "10"}, "max_queue_size"),
        ({"use_multiprocessing": True}, "use_multiprocessing=True is not supported"),
    ],
)
def test_py_dataset_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Batches(4, 2, **kwargs)


def test_fit_consumes_a_py_dataset():
    ds = Batches(8, 4)
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(1,))])
    model.compile("sgd", "mse")
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert ds.epochs_ended == 2


def _sequential():
    return keras.Sequential(
        [
            keras.layers.Dense(4, activation="relu", input_shape=(3,), name="hidden"),
            keras.layers.Dense(2, name="out"),
        ],
        name="seq",
    )


def _functional():
    a, b = keras.Input(shape=(3,), name="in_a"), keras.Input(shape=(5,), name="in_b")
    x = keras.layers.Dense(4, name="da")(a)
    y = keras.layers.Dense(4, name="db")(b)
    z = keras.layers.Concatenate(name="cat")([x, y])
    return keras.Model([a, b], keras.layers.Dense(1, name="head")(z), name="two_inputs")


def _edges(dot):
    """(from label, to label) pairs, reading node labels back from the DOT text."""
    import re

    names = dict(re.findall(r"^\s*(\w+) \[label=<<table.*?<b>(.*?)</b>", dot, flags=re.M))
    pairs = re.findall(r"^\s*(\w+) -> (\w+);", dot, flags=re.M)
    short = {
        k: re.sub(r"^input_layer(_\d+)?$", "input_layer", v.split(" ")[0]) for k, v in names.items()
    }
    return {(short[a], short[b]) for a, b in pairs}


def test_model_to_dot_sequential():
    dot = keras.utils.model_to_dot(_sequential(), show_shapes=True, show_layer_activations=True)
    assert dot.startswith("digraph G {") and dot.rstrip().endswith("}")
    assert "hidden (Dense)" in dot and "Activation: relu" in dot
    assert "Output shape: (None, 4)" in dot and "Input shape: (None, 4)" in dot
    assert _edges(dot) == {("input_layer", "hidden"), ("hidden", "out")}


def test_model_to_dot_functional():
    dot = keras.utils.model_to_dot(
        _functional(), show_shapes=True, show_dtype=True, show_trainable=True, rankdir="LR"
    )
    assert "rankdir=LR" in dot and "Trainable: Y" in dot and "Output dtype: float32" in dot
    assert "Input shape: (None, 4), (None, 4)" in dot
    assert _edges(dot) == {
        ("in_a", "da"),
        ("in_b", "db"),
        ("da", "cat"),
        ("db", "cat"),
        ("cat", "head"),
    }


def test_model_to_dot_expand_nested():
    inner = _sequential()
    x = keras.Input(shape=(3,), name="outer_in")
    outer = keras.Model(x, keras.layers.Dense(1, name="final")(inner(x)))
    flat = keras.utils.model_to_dot(outer, expand_nested=False)
    assert _edges(flat) == {("outer_in", "seq"), ("seq", "final")}
    nested = keras.utils.model_to_dot(outer, expand_nested=True)
    assert "subgraph cluster_" in nested
    assert ("outer_in", "input_layer") in _edges(nested) and ("out", "final") in _edges(nested)


def test_model_to_dot_errors():
    with pytest.raises(ValueError, match="not built"):
        keras.utils.model_to_dot(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="rankdir.*'BT'"):
        keras.utils.model_to_dot(_sequential(), rankdir="BT")


def test_plot_model_writes_dot_without_graphviz(tmp_path):
    path = tmp_path / "model.dot"
    assert keras.utils.plot_model(_functional(), str(path), show_shapes=True) is None
    assert path.read_text().startswith("digraph G {")


def test_plot_model_png(tmp_path, monkeypatch):
    if shutil.which("dot") is None:
        with pytest.raises(ImportError, match="Graphviz"):
            keras.utils.plot_model(_sequential(), str(tmp_path / "m.png"))
        return
    keras.utils.plot_model(_sequential(), str(tmp_path / "m.png"))
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ImportError, match="Graphviz"):
        keras.utils.plot_model(_sequential(), str(tmp_path / "n.png"))


def test_normalize_matches_keras(real_keras):
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]], dtype="float32")
    for axis, order in ((-1, 2), (-1, 1), (1, 2)):
        ours = keras.utils.normalize(x, axis=axis, order=order)
        theirs = real_keras.ops.convert_to_numpy(
            real_keras.utils.normalize(x, axis=axis, order=order)
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
