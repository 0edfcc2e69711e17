"""compile / fit / evaluate / predict / train_on_batch for Keras models."""

from __future__ import annotations

import sys

import numpy as np

from zerograd import backend
from zerograd.autograd import no_grad
from zerograd.keras import callbacks as cbks
from zerograd.keras import losses as losses_mod
from zerograd.keras import metrics as metrics_mod
from zerograd.keras import optimizers
from zerograd.tensor import Tensor


def _arrays(x):
    if x is None:
        return None
    if isinstance(x, dict):
        x = list(x.values())
    if (
        isinstance(x, (list, tuple))
        and not np.isscalar(x[0])
        and hasattr(x[0], "__len__")
        and np.ndim(x[0]) >= 1
        and len({len(a) for a in x}) == 1
        and not isinstance(x[0], (int, float))
    ):
        if all(hasattr(a, "shape") for a in x):
            return [_cast(a) for a in x]
    return _cast(x)


def _cast(a):
    a = a.numpy() if isinstance(a, Tensor) else np.asarray(a)
    return a.astype(backend.get_default_dtype()) if a.dtype == np.float64 else a


def _take(x, idx):
    return [a[idx] for a in x] if isinstance(x, list) else x[idx]


def _length(x) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


def _tensor(x):
    return [Tensor(a) for a in x] if isinstance(x, list) else Tensor(x)


class TrainingMixin:
    """The Keras training API; expects ``self.__call__`` and ``self.parameters()``."""

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        """Choose the optimizer, the loss and the metrics (names resolved as Keras does)."""
        self.optimizer = optimizers.get(optimizer)
        if isinstance(loss, (list, tuple)):
            self.loss_fns = [losses_mod.get(lo) for lo in loss]
        elif isinstance(loss, dict):
            self.loss_fns = [losses_mod.get(lo) for lo in loss.values()]
        else:
            self.loss_fns = [losses_mod.get(loss)] if loss is not None else []
        self.loss_weights = loss_weights
        self._metric_specs = list(metrics or [])
        self.metrics_objs = None
        self.compiled = True
        self.stop_training = False

    def _check_compiled(self, what: str) -> None:
        if not getattr(self, "compiled", False) or not self.loss_fns:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': call compile(optimizer, loss) before {what}()"
            )

    def _make_metrics(self, y_true, y_pred) -> None:
        if self.metrics_objs is None:
            yp = y_pred[0] if isinstance(y_pred, list) else y_pred
            yt = y_true[0] if isinstance(y_true, list) else y_true
            self.metrics_objs = [
                metrics_mod.get(m, self.loss_fns[0], yt, yp) for m in self._metric_specs
            ]

    def _compute_loss(self, y, y_pred, sample_weight=None):
        preds = y_pred if isinstance(y_pred, list) else [y_pred]
        targets = y if isinstance(y, list) else [y]
        fns = self.loss_fns * len(preds) if len(self.loss_fns) == 1 else self.loss_fns
        weights = (
            self.loss_weights
            if isinstance(self.loss_weights, (list, tuple))
            else [1.0] * len(preds)
        )
        total = None
        for fn, t, p, w in zip(fns, targets, preds, weights):
            t = Tensor(t) if not isinstance(t, Tensor) else t
            value = (
                fn(t, p, sample_weight)
                if isinstance(fn, losses_mod.Loss)
                else _mean_weighted(fn(t, p), sample_weight)
            )
            value = value * w if w != 1.0 else value
            total = value if total is None else total + value
        for penalty in self.losses:
            total = total + penalty
        return total

    def _update_metrics(self, y, y_pred, sample_weight=None) -> dict:
        out = {}
        yp = (y_pred[0] if isinstance(y_pred, list) else y_pred).detach()
        yt = y[0] if isinstance(y, list) else y
        for m in self.metrics_objs:
            m.update_state(yt, yp, sample_weight)
            out[m.name] = m.result()
        return out

    def train_on_batch(
        self, x, y=None, sample_weight=None, class_weight=None, return_dict: bool = False
    ):
        """One optimisation step on one batch; returns the loss (and metrics, accumulated until
        ``reset_metrics()``)."""
        self._check_compiled("train_on_batch")
        x, y = _arrays(x), _arrays(y)
        logs = self._train_step(x, y, _class_weights(y, sample_weight, class_weight))
        return logs if return_dict else (logs["loss"] if len(logs) == 1 else list(logs.values()))

    def reset_metrics(self) -> None:
        for m in self.metrics_objs or []:
            m.reset_state()

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs: int = 1,
        verbose="auto",
        callbacks=None,
        validation_split: float = 0.0,
        validation_data=None,
        shuffle: bool = True,
        class_weight=None,
        sample_weight=None,
        initial_epoch: int = 0,
        steps_per_epoch=None,
        **kwargs,
    ):
        """Train for ``epochs``; returns a History. Calling fit again continues from where it stopped."""
        self._check_compiled("fit")
        from zerograd.data import DataLoader

        loader = x if isinstance(x, DataLoader) else None
        batch_size = batch_size or 32
        if loader is None:
            x, y = _arrays(x), _arrays(y)
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)
            if validation_split and validation_data is None:
                n = _length(x)
                cut = int(
                    n * (1 - validation_split)
                )  # the last fraction, before shuffling, as Keras
                validation_data = (_take(x, slice(cut, None)), _take(y, slice(cut, None)))
                x, y = _take(x, slice(0, cut)), _take(y, slice(0, cut))
                if sample_weight is not None:
                    sample_weight = sample_weight[:cut]
            n = _length(x)
            steps = -(-n // batch_size)
        else:
            steps = len(loader)
        verbose = (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose
        history = getattr(self, "history", None) if initial_epoch else None
        history = history if isinstance(history, cbks.History) else cbks.History()
        cb_list = (
            list(callbacks or []) + [history] + ([cbks.ProgressDisplay(verbose)] if verbose else [])
        )
        for cb in cb_list:
            cb.set_model(self)
            cb.set_params({"epochs": epochs, "steps": steps, "verbose": verbose})
        self.stop_training = False
        for cb in cb_list:
            cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            for cb in cb_list:
                cb.on_epoch_begin(epoch)
            if self.metrics_objs:
                for m in self.metrics_objs:
                    m.reset_state()
            total, count = 0.0, 0
            batches = (
                loader
                if loader is not None
                else self._batches(x, y, sample_weight, batch_size, shuffle)
            )
            for step, batch in enumerate(batches):
                bx, by = batch[0], batch[1]
                bw = batch[2] if len(batch) > 2 else None
                if loader is not None:
                    bx, by = _arrays(bx), _arrays(by)
                bw = _class_weights(by, bw, class_weight)
                logs = self._train_step(bx, by, bw)
                bs = _length(bx)
                total += logs["loss"] * bs
                count += bs
                logs["loss"] = total / count
                for cb in cb_list:
                    cb.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = {"loss": total / max(count, 1)}
            epoch_logs.update({m.name: m.result() for m in self.metrics_objs or []})
            if validation_data is not None:
                vx, vy = validation_data[0], validation_data[1]
                val = self.evaluate(vx, vy, batch_size=batch_size, verbose=0, return_dict=True)
                epoch_logs.update({"val_" + k: v for k, v in val.items()})
            for cb in cb_list:
                cb.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        for cb in cb_list:
            cb.on_train_end()
        self.history = history
        return history

    def _batches(self, x, y, w, batch_size, shuffle):
        n = _length(x)
        order = backend.rng().permutation(n) if shuffle else np.arange(n)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            yield _take(x, idx), _take(y, idx), (None if w is None else w[idx])

    def _train_step(self, x, y, w) -> dict:
        self.train()
        y_pred = self(_tensor(x), training=True)
        self._make_metrics(y, y_pred)
        loss = self._compute_loss(y, y_pred, w)
        params = [p for p in self.parameters() if p.requires_grad]
        for p in params:
            p.grad = None
        loss.backward()
        self.optimizer.apply(params)
        logs = {"loss": float(loss.item())}
        with no_grad():
            logs.update(self._update_metrics(y, y_pred, w))
        return logs

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        return_dict: bool = False,
        **kwargs,
    ):
        """Loss (and metrics) over the data, in inference mode."""
        self._check_compiled("evaluate")
        from zerograd.data import DataLoader

        if isinstance(x, DataLoader):
            batches = ((_arrays(bx), _arrays(by), None) for bx, by in x)
        else:
            x, y = _arrays(x), _arrays(y)
            w = None if sample_weight is None else np.asarray(sample_weight)
            batches = self._batches(x, y, w, batch_size or 32, False)
        self.eval()
        total, count = 0.0, 0
        metrics = None
        with no_grad():
            for bx, by, bw in batches:
                y_pred = self(_tensor(bx), training=False)
                self._make_metrics(by, y_pred)
                if metrics is None:
                    metrics = self.metrics_objs
                    for m in metrics:
                        m.reset_state()
                bs = _length(bx)
                total += float(self._compute_loss(by, y_pred, bw).item()) * bs
                count += bs
                self._update_metrics(by, y_pred, bw)
        logs = {"loss": total / max(count, 1)}
        logs.update({m.name: m.result() for m in metrics or []})
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = False):
        return self.evaluate(
            x,
            y,
            batch_size=_length(_arrays(x)),
            sample_weight=sample_weight,
            return_dict=return_dict,
        )

    def predict(self, x, batch_size=None, verbose="auto", **kwargs) -> np.ndarray:
        """Outputs for ``x`` as NumPy arrays, in inference mode, batch by batch."""
        from zerograd.data import DataLoader

        self.eval()
        outs = []
        with no_grad():
            if isinstance(x, DataLoader):
                chunks = (_arrays(b[0] if isinstance(b, (list, tuple)) else b) for b in x)
            else:
                x = _arrays(x)
                n, bs = _length(x), batch_size or 32
                chunks = (_take(x, slice(i, i + bs)) for i in range(0, n, bs))
            for chunk in chunks:
                y = self(_tensor(chunk), training=False)
                outs.append([t.numpy() for t in y] if isinstance(y, list) else y.numpy())
        if outs and isinstance(outs[0], list):
            return [np.concatenate(parts) for parts in zip(*outs)]
        return np.concatenate(outs) if outs else np.zeros((0,))

    def predict_on_batch(self, x) -> np.ndarray:
        return self.predict(x, batch_size=_length(_arrays(x)))


def _mean_weighted(per_sample, sample_weight):
    if sample_weight is None:
        return per_sample.mean()
    w = Tensor(np.asarray(sample_weight, dtype=per_sample.dtype))
    return (per_sample * w.reshape(per_sample.shape)).mean()


def _class_weights(y, sample_weight, class_weight):
    if not class_weight:
        return sample_weight
    labels = np.asarray(y[0] if isinstance(y, list) else y)
    labels = (
        labels.argmax(-1)
        if labels.ndim > 1 and labels.shape[-1] > 1
        else labels.reshape(len(labels), -1)[:, 0]
    )
    cw = np.array([class_weight.get(int(c), 1.0) for c in labels], dtype=np.float64)
    return cw if sample_weight is None else cw * np.asarray(sample_weight)
