"""What ``compile()`` sets up: the losses and metrics per model output, named as Keras names them
(``loss``, ``<output>_loss``, ``<output>_<metric>``), built on the first batch."""

from __future__ import annotations

import numpy as np

from zerograd.keras import losses as losses_mod
from zerograd.keras import metrics as metrics_mod
from zerograd.tensor import Tensor


def _per_output(spec, names: list, what: str) -> list:
    """One entry per output from a single value, a list (one per output) or a dict by name."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(
                f"compile: {what} has keys {unknown} that are not output names; the model's "
                f"outputs are {names}"
            )
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)) and (n > 1 or len(spec) == 1):
        if len(spec) != n:
            raise ValueError(
                f"compile: {what} as a list must have one entry per output ({n}: {names}), "
                f"received {len(spec)} entries"
            )
        return list(spec)
    return [spec] * n


def _shape(a) -> tuple:
    return tuple(np.shape(a.data if isinstance(a, Tensor) else a))


def get_loss(identifier):
    """A Loss ``fn(y_true, y_pred, sample_weight)`` -> scalar, and its name; a function is
    wrapped in a ``LossFunctionWrapper`` (Keras's reduction, sample weights and masks)."""
    fn = losses_mod.get(identifier)
    name = identifier if isinstance(identifier, str) else getattr(fn, "name", None)
    name = name or getattr(fn, "__name__", "loss")
    if not isinstance(fn, losses_mod.Loss):
        fn = losses_mod.LossFunctionWrapper(fn, name=name)
    return fn, name


def _call_loss(fn, y_true, y_pred, sample_weight):
    return fn(y_true, y_pred, sample_weight)  # every entry is a Loss (see get_loss)


def get_metric(identifier, y_true, y_pred):
    """A metric object; 'accuracy'/'acc' picks binary, sparse or categorical from the shapes."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        t, p = _shape(y_true), _shape(y_pred)
        if p[-1:] == (1,):
            cls = metrics_mod.BinaryAccuracy
        elif len(t) < len(p) or (t[-1:] == (1,) and p[-1] > 1):
            cls = metrics_mod.SparseCategoricalAccuracy
        else:
            cls = metrics_mod.CategoricalAccuracy
        return cls(name=identifier)
    if isinstance(identifier, metrics_mod.Metric):
        return identifier
    metric = metrics_mod.get(identifier)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


class CompileLoss:
    """The compiled loss over the outputs: per-output losses (None: no loss for that output),
    ``loss_weights``, and a ``<output>_loss`` Mean tracker each when there are several losses."""

    def __init__(self, loss, loss_weights=None, output_names=None):
        if loss_weights is not None and not isinstance(
            loss_weights, (list, tuple, dict, float, int)
        ):
            raise ValueError(
                "compile: loss_weights must be a float, a list or a dict, received "
                f"{type(loss_weights).__name__}"
            )
        self.loss, self.loss_weights, self.output_names = loss, loss_weights, output_names
        self.built = False
        self.metrics: list = []

    def build(self, n_outputs: int) -> None:
        names = list(self.output_names or [])
        if len(names) != n_outputs:
            names = [f"output_{i + 1}" for i in range(n_outputs)]
        specs = _per_output(self.loss, names, "loss")
        weights = _per_output(self.loss_weights, names, "loss_weights")
        self.entries = []
        for spec, weight, name in zip(specs, weights, names):
            if spec is None:
                self.entries.append(None)
                continue
            fn, _ = get_loss(spec)
            self.entries.append((fn, 1.0 if weight is None else float(weight), name))
        used = [e for e in self.entries if e is not None]
        if not used:
            raise ValueError("compile: every output has loss None; give at least one loss")
        self.metrics = (
            [metrics_mod.Mean(name=f"{e[2]}_loss") for e in used] if len(used) > 1 else []
        )
        self.built = True

    def __call__(self, y_true: list, y_pred: list, sample_weight=None):
        """Total loss (a Tensor); ``y_true``/``y_pred`` are lists, one entry per output."""
        if not self.built:
            self.build(len(y_pred))
        if len(y_true) != len(y_pred):
            given = [i for i, e in enumerate(self.entries) if e is not None]
            if len(y_true) != len(given):
                raise ValueError(
                    f"the model has {len(y_pred)} outputs ({len(given)} with a loss), "
                    f"received {len(y_true)} targets"
                )
            full = [None] * len(y_pred)
            for i, t in zip(given, y_true):
                full[i] = t
            y_true = full
        weights = (
            sample_weight if isinstance(sample_weight, list) else [sample_weight] * len(y_pred)
        )
        total, trackers = None, iter(self.metrics)
        for entry, t, p, w in zip(self.entries, y_true, y_pred, weights):
            if entry is None:
                continue
            fn, weight, name = entry
            if t is None:
                raise ValueError(f"no target (y) was given for output '{name}', which has a loss")
            value = _call_loss(fn, t, p, w)
            tracker = next(trackers, None)
            if tracker is not None:
                tracker.update_state(float(value.item()), sample_weight=len(p))
            value = value * weight if weight != 1.0 else value
            total = value if total is None else total + value
        return total


class CompileMetrics:
    """The compiled metrics (and weighted metrics) of every output; ``result()`` is a dict."""

    name = "compile_metrics"

    def __init__(self, metrics=None, weighted_metrics=None, output_names=None):
        for what, spec in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if spec is not None and not isinstance(spec, (list, tuple, dict)):
                raise ValueError(
                    f"compile: {what} must be a list or a dict, received {type(spec).__name__}"
                )
        self.user = metrics, weighted_metrics
        self.output_names = output_names
        self.built = False
        self._sets: list = [[], []]

    def _build_set(self, spec, y_true, y_pred, names):
        if not spec:
            return [None] * len(y_pred)
        if len(y_pred) == 1:
            flat = spec if isinstance(spec, list) else list(spec.values())
            flat = [m for item in flat for m in (item if isinstance(item, list) else [item])]
            return [(None, [get_metric(m, y_true[0], y_pred[0]) for m in flat])]
        if isinstance(spec, (list, tuple)) and len(spec) != len(y_pred):
            raise ValueError(
                f"compile: metrics for a model with {len(y_pred)} outputs {names} must be a "
                f"dict by output name or a list with one entry per output, received {spec}"
            )
        per = _per_output(spec, names, "metrics")
        out = []
        for item, t, p, name in zip(per, y_true, y_pred, names):
            if item is None or t is None:
                out.append(None)
                continue
            items = item if isinstance(item, (list, tuple)) else [item]
            out.append((name, [get_metric(m, t, p) for m in items]))
        return out

    def build(self, y_true: list, y_pred: list) -> None:
        names = list(self.output_names or [])
        if len(names) != len(y_pred):
            names = [f"output_{i + 1}" for i in range(len(y_pred))]
        self._sets = [self._build_set(spec, y_true, y_pred, names) for spec in self.user]
        self.built = True

    @property
    def metrics(self) -> list:
        """The metric objects, flat."""
        return [m for s in self._sets for entry in s if entry for m in entry[1]]

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true = y_true if isinstance(y_true, list) else [y_true]
        y_pred = y_pred if isinstance(y_pred, list) else [y_pred]
        if not self.built:
            self.build(y_true, y_pred)
        weights = (
            sample_weight if isinstance(sample_weight, list) else [sample_weight] * len(y_pred)
        )
        plain, weighted = self._sets
        for entry, t, p in zip(plain, y_true, y_pred):
            for m in entry[1] if entry and t is not None else []:
                m.update_state(t, p)
        for entry, t, p, w in zip(weighted, y_true, y_pred, weights):
            for m in entry[1] if entry and t is not None else []:
                m.update_state(t, p, sample_weight=w)

    def reset_state(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def result(self) -> dict:
        out: dict = {}
        for prefix_weighted, entries in zip(("", "weighted_"), self._sets):
            for entry in entries:
                if not entry:
                    continue
                prefix = f"{entry[0]}_" if entry[0] else ""
                for m in entry[1]:
                    key = prefix + m.name
                    if key in out:
                        key = prefix + prefix_weighted + m.name if prefix_weighted else key
                        i = 1
                        while key in out:
                            key, i = f"{prefix}{prefix_weighted}{m.name}_{i}", i + 1
                    result = m.result()
                    result = result.numpy() if isinstance(result, Tensor) else np.asarray(result)
                    # one number per metric, except those that give one per class (F1Score
                    # with average=None): Keras keeps those vectors in the logs
                    out[key] = float(result) if result.size == 1 else result
        return out
