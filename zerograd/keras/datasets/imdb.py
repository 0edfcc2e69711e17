"""IMDB movie reviews (Maas et al., 2011) as Keras ships them: word-index sequences with binary
sentiment labels, read from Keras's ``imdb.npz`` and ``imdb_word_index.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from zerograd.keras.datasets._idx import find_or_download
from zerograd.keras.datasets._npz import load_npz

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEBIAN_DIR = "/usr/share/datasets/imdb"


def _locate(path, download) -> Path:
    if os.path.isfile(os.fspath(path)):
        return Path(path)
    name = Path(path).name
    return find_or_download("imdb", {"file": name}, DEBIAN_DIR, BASE_URL, download)["file"]


def load_data(
    path="imdb.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    download: bool | None = None,
):
    """((x_train, y_train), (x_test, y_test)): object arrays of word-index lists and 0/1 labels,
    with Keras's processing: each split shuffled with ``seed``, ``start_char`` prepended, indices
    shifted by ``index_from``, reviews of ``maxlen`` words or more dropped, and words ranked
    outside ``[skip_top, num_words)`` replaced by ``oov_char`` (or removed when it is None).

    ``path`` is a file, or a file name looked for in $ZEROGRAD_DATA[/imdb],
    ~/.cache/zerograd/imdb and /usr/share/datasets/imdb; it is downloaded from Keras's storage
    only when ``download=True`` or ZEROGRAD_ALLOW_DOWNLOAD=1.
    """
    arrays = load_npz(_locate(path, download))
    rng = np.random.RandomState(seed)
    splits = []
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        x, y = arrays[x_key], arrays[y_key]
        order = np.arange(len(x))
        rng.shuffle(order)
        x, y = x[order], y[order]
        prefix = [start_char] if start_char is not None else []
        seqs = [prefix + [int(w) + index_from for w in s] for s in x]
        if maxlen:
            keep = [i for i, s in enumerate(seqs) if len(s) < maxlen]
            seqs, y = [seqs[i] for i in keep], y[keep]
            if not seqs:
                raise ValueError(
                    f"imdb.load_data: no review is shorter than maxlen={maxlen} in {x_key}; "
                    "increase maxlen"
                )
        splits.append((seqs, y))
    everything = splits[0][0] + splits[1][0]
    if not num_words:
        num_words = max(max(s) for s in everything if s)
    if oov_char is not None:
        everything = [[w if skip_top <= w < num_words else oov_char for w in s] for s in everything]
    else:
        everything = [[w for w in s if skip_top <= w < num_words] for s in everything]
    n = len(splits[0][0])
    out = []
    for seqs, y in ((everything[:n], splits[0][1]), (everything[n:], splits[1][1])):
        x = np.empty(len(seqs), dtype=object)
        x[:] = seqs
        out.append((x, y))
    return tuple(out)


def get_word_index(path="imdb_word_index.json", download: bool | None = None) -> dict:
    """The word -> rank index (1 is the most frequent word); add ``index_from`` to match
    ``load_data``'s sequences."""
    with open(_locate(path, download), encoding="utf-8") as f:
        return json.load(f)
