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


class BatchLogs(keras.callbacks.Callback):
    """Records the logs of every training batch."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(dict(logs))


def ok(name):
    print(f"rank {dist.get_rank()} ok {name}", flush=True)


def main():
    out = Path(sys.argv[1])
    ref = model()
    ref_batches = BatchLogs()
    ref_hist = ref.fit(X, Y, verbose=0, callbacks=[ref_batches], **FIT).history
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
        batches = BatchLogs()
        cbs = [keras.callbacks.CSVLogger(str(csv)), keras.callbacks.ProgbarLogger(), batches]
        hist = m.fit(X, Y, verbose=1, callbacks=cbs, **FIT)
    hist = hist.history
    assert sorted(hist) == sorted(ref_hist), (hist, ref_hist)
    for k in ref_hist:
        np.testing.assert_allclose(hist[k], ref_hist[k], rtol=1e-5, err_msg=k)
    ok("history")
    # per-batch logs: those of the global batch so far, as in one process, on every rank
    assert len(batches.seen) == len(ref_batches.seen), (len(batches.seen), len(ref_batches.seen))
    for got, want in zip(batches.seen, ref_batches.seen):
        assert sorted(got) == sorted(want), (got, want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, err_msg=k)
    ok("batch-logs")
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


def killed(how: str):
    """Rank 1 dies in its third batch: ``exit`` ends the process at once without MPI_Finalize
    (as a crash), ``kill`` sends it SIGKILL. Rank 0's fit raises, naming it, after the timeout;
    then rank 0 ends the job."""
    import os
    import signal

    dist.init(timeout=3)
    keras.distribution.set_distribution(keras.distribution.DataParallel())

    class Die(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2 and dist.get_rank() == 1:
                if how == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                os._exit(1)

    m = model()
    try:
        m.fit(X, Y, verbose=0, callbacks=[Die()], **FIT)
    except RuntimeError as e:
        print(f"rank {dist.get_rank()} error: {e}", flush=True)
        dist.comm().Abort(5)
    raise AssertionError("fit did not raise")


if __name__ == "__main__":
    killed(sys.argv[2]) if sys.argv[1] == "killed" else main()
