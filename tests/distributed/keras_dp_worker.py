"""Run by test_keras_data_parallel.py under ``mpiexec -n 2``: prints ``rank R ok NAME`` per check.

A reference fit in this same process (no distribution: the whole global batch) is compared with
the data-parallel fit on the two ranks: history, weights, evaluate and predict.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np

import zerograd.distributed as dist
from zerograd import keras

rng = np.random.default_rng(3)
X = rng.normal(size=(100, 4)).astype("float32")
Y = (X @ rng.normal(size=(4, 3)) > 0).astype("float32")
FIT = dict(batch_size=15, epochs=2, shuffle=True, validation_split=0.2)  # uneven shares


def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)]
    )
    m.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    return m


def weights(m):
    return np.concatenate([np.ravel(np.asarray(w.data, np.float64)) for w in m.weights])


def ok(name):
    print(f"rank {dist.get_rank()} ok {name}", flush=True)


def main():
    out = Path(sys.argv[1])
    ref = model()
    ref_hist = ref.fit(X, Y, verbose=0, **FIT).history
    ref_eval = ref.evaluate(X, Y, batch_size=15, verbose=0, return_dict=True)
    ref_pred = ref.predict(X, batch_size=15, verbose=0)

    keras.distribution.set_distribution(keras.distribution.DataParallel())
    assert isinstance(keras.distribution.distribution(), keras.distribution.DataParallel)
    rank = dist.get_rank()
    m = model()
    if rank == 1:  # other initial weights: fit starts from rank 0's
        for w in m.weights:
            w.data = w.data + 1.0
    printed = io.StringIO()
    csv = out / f"log_{rank}.csv"
    with contextlib.redirect_stdout(printed):
        cbs = [keras.callbacks.CSVLogger(str(csv)), keras.callbacks.ProgbarLogger()]
        hist = m.fit(X, Y, verbose=1, callbacks=cbs, **FIT)
    hist = hist.history
    assert sorted(hist) == sorted(ref_hist), (hist, ref_hist)
    for k in ref_hist:
        np.testing.assert_allclose(hist[k], ref_hist[k], rtol=1e-5, err_msg=k)
    ok("history")
    w = weights(m)
    both = dist.all_gather(w)
    assert np.array_equal(both[0], both[1]), "weights differ across ranks"
    np.testing.assert_allclose(w, weights(ref), rtol=1e-5, atol=1e-6)
    ok("weights")
    text = printed.getvalue()
    assert ("Epoch 2/2" in text) == (rank == 0), text
    assert csv.exists() == (rank == 0)
    ok("rank0-only")
    got = m.evaluate(X, Y, batch_size=15, verbose=0, return_dict=True)
    for k in ref_eval:
        np.testing.assert_allclose(got[k], ref_eval[k], rtol=1e-5, err_msg=k)
    ok("evaluate")
    pred = m.predict(X, batch_size=15, verbose=0)
    assert pred.shape == ref_pred.shape, pred.shape
    np.testing.assert_allclose(pred, ref_pred, rtol=1e-5, atol=1e-6)
    ok("predict")


if __name__ == "__main__":
    main()
