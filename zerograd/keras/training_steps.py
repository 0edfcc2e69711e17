"""The steps fit/evaluate/predict run on each batch, overridable as in Keras: ``train_step``,
``test_step``, ``predict_step``, with ``compute_loss`` and ``compute_metrics`` as building blocks;
and ``model.metrics`` (loss tracker, compiled metrics, per-output losses, metric attributes)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from zerograd.keras import data_adapters as da
from zerograd.keras import distribution as dk
from zerograd.keras import metrics as metrics_mod
from zerograd.keras.compile_utils import CompileMetrics


def _as_list(y):
    if isinstance(y, tuple):
        return list(y)
    return y if isinstance(y, list) else [y]


def _batch_size(x) -> int:
    leaves = da.flatten(x)
    return int(leaves[0].shape[0]) if leaves and getattr(leaves[0], "ndim", 0) else 1


class StepsMixin:
    """``train_step(data)`` / ``test_step(data)`` / ``predict_step(data)``: ``data`` is the batch
    tuple ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` of Tensors (or what a dataset yields)."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss(es) plus the model's added losses (``self.losses``), as a Tensor."""
        losses = []
        compile_loss = getattr(self, "_compile_loss", None)
        if compile_loss is not None:
            targets = self._align_targets(y)
            weights = self._align_targets(sample_weight)
            value = compile_loss(
                _as_list(targets),
                _as_list(self._align_targets(y_pred)),
                list(weights) if isinstance(weights, (list, tuple)) else weights,
            )
            if value is not None:
                losses.append(value)
        for extra in self.losses:
            losses.append(extra.sum() if getattr(extra, "ndim", 0) else extra)
        if not losses:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': no loss to compute; give compile() a "
                "loss, add losses with add_loss(), or override train_step"
            )
        total = losses[0]
        for extra in losses[1:]:
            total = total + extra
        return total

    def _compute_loss_compat(self, x, y, y_pred, sample_weight, training):
        """``compute_loss`` overrides written before Keras added ``training`` still work."""
        params = inspect.signature(self.compute_loss).parameters
        if "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics; return every metric's result (``get_metrics_result``)."""
        compile_metrics = getattr(self, "_compile_metrics", None)
        if compile_metrics is not None:
            weights = self._align_targets(sample_weight)
            compile_metrics.update_state(
                _as_list(self._align_targets(y)),
                _as_list(self._align_targets(y_pred)),
                list(weights) if isinstance(weights, (list, tuple)) else weights,
            )
        return self.get_metrics_result()

    def train_step(self, data) -> dict:
        """Forward, compiled loss, backward, one optimizer update, metrics."""
        x, y, sample_weight = da.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        self.zero_grad()
        loss = self._compute_loss_compat(x, y, y_pred, sample_weight, training=True)
        self._loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        params = list(self.trainable_weights)
        if params:
            if self.optimizer is None:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': compile() was given optimizer=None; "
                    "fit needs an optimizer"
                )
            scaled = self.optimizer.scale_loss(loss)  # apply() divides the gradients back
            if hasattr(self.optimizer, "inner_optimizer"):  # LossScaleOptimizer: an overflow
                with np.errstate(over="ignore", invalid="ignore"):  # skips the step, silently
                    scaled.backward()
            else:
                scaled.backward()
            if dk.active() is not None:  # data-parallel: the gradient of the global batch
                dk.average_gradients(params, _batch_size(x))
            self.optimizer.apply([p.grad for p in params], params)
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data) -> dict:
        """Forward in inference mode, compiled loss and metrics."""
        x, y, sample_weight = da.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self._compute_loss_compat(x, y, y_pred, sample_weight, training=False)
        self._loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        """The model's outputs for the inputs of a batch."""
        x, _, _ = da.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # --- metrics -------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """The loss tracker, the compiled metrics, the per-output loss trackers, then the metric
        objects set as attributes of the model."""
        out = []
        if getattr(self, "compiled", False):
            out.append(self._loss_tracker)
            if self._compile_metrics is not None:
                out.append(self._compile_metrics)
            if self._compile_loss is not None:
                out.extend(self._compile_loss.metrics)
        for value in self.__dict__.values():
            if isinstance(value, metrics_mod.Metric) and all(value is not m for m in out):
                out.append(value)
        return out

    @property
    def metrics_names(self) -> list:
        return [m.name for m in self.metrics]

    @property
    def metrics_objs(self) -> list:
        """The compiled metric objects, flat (zerograd's older name)."""
        cm = getattr(self, "_compile_metrics", None)
        return cm.metrics if cm is not None else []

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict:
        """The current result of every metric in ``self.metrics`` (compiled ones flattened)."""
        out = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[m.name] = r
        return out

    def _metrics_or_logs(self, logs):
        result = self.get_metrics_result()
        if isinstance(logs, dict) and set(logs) == set(result):
            return result
        return logs

    def _flatten_in_order(self, logs: dict):
        names = []
        for m in self.metrics:
            names += [s.name for s in m.metrics] if isinstance(m, CompileMetrics) else [m.name]
        keys = [k for k in names if k in logs] + sorted(k for k in logs if k not in names)
        values = [logs[k] for k in keys]
        return values[0] if len(values) == 1 else values
