"""compile / fit / evaluate / predict for Keras models: data preparation (data_adapters), the
overridable steps (train_step, test_step, predict_step), and the loops that call the callbacks."""

from __future__ import annotations

import numpy as np

from zerograd.autograd import no_grad
from zerograd.keras import data_adapters as da
from zerograd.keras import devices as keras_device
from zerograd.keras import distribution as dk
from zerograd.keras import fit_checks, optimizers
from zerograd.keras import metrics as metrics_mod
from zerograd.keras.callback_base import CallbackList, History, pythonify_logs
from zerograd.keras.compile_utils import CompileLoss, CompileMetrics, get_loss
from zerograd.keras.training_steps import StepsMixin


class TrainingMixin(StepsMixin):
    """The Keras training API; expects ``self.__call__`` and ``self.parameters()``."""

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Choose the optimizer, the loss(es) and the metrics (per output: lists or dicts keyed by
        output name). With an overridden ``train_step``, ``compile(optimizer=...)`` suffices.
        ``run_eagerly`` and ``jit_compile`` change nothing here: zerograd always runs eagerly.
        With ``auto_scale_loss`` and a model whose policy is "mixed_float16", the optimizer is
        wrapped in a ``LossScaleOptimizer``, as Keras does."""
        if (
            isinstance(steps_per_execution, bool)
            or not isinstance(steps_per_execution, (int, np.integer))
            or steps_per_execution < 1
        ):
            raise ValueError(
                f"{type(self).__name__}.compile: steps_per_execution must be a positive integer, "
                f"received {steps_per_execution!r}"
            )
        if steps_per_execution != 1:
            raise ValueError(
                f"{type(self).__name__}.compile: only steps_per_execution=1 is supported, "
                f"received {steps_per_execution}"
            )
        if metrics is None and _names_metrics(loss_weights):
            # zerograd's former order compile(optimizer, loss, metrics): metrics, not weights
            metrics, loss_weights = loss_weights, None
        self.optimizer = optimizers.get(optimizer) if optimizer is not None else None
        if (  # as Keras: float16 training scales its loss
            auto_scale_loss
            and self.dtype_policy.name == "mixed_float16"
            and self.optimizer is not None
            and not isinstance(self.optimizer, optimizers.LossScaleOptimizer)
        ):
            self.optimizer = optimizers.LossScaleOptimizer(
                self.optimizer, name="loss_scale_optimizer"
            )
        specs = list(loss.values()) if isinstance(loss, dict) else loss
        specs = specs if isinstance(specs, (list, tuple)) or specs is None else [specs]
        self.loss_fns = [get_loss(s)[0] for s in (specs or []) if s is not None]  # checks names
        names = self._output_names()
        self.loss = loss
        self._compile_loss = CompileLoss(loss, loss_weights, names) if loss is not None else None
        self._compile_metrics = (
            CompileMetrics(metrics, weighted_metrics, names)
            if metrics or weighted_metrics
            else None
        )
        self._loss_tracker = metrics_mod.Mean(name="loss")
        self._metric_specs = list(metrics) if isinstance(metrics, (list, tuple)) else []
        self._compile_config = {
            "optimizer": optimizer,
            "loss": loss,
            "loss_weights": loss_weights,
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
        }
        self.compiled = True
        self.stop_training = False

    def _assert_compiled(self, what: str) -> None:
        if not getattr(self, "compiled", False):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': call compile(optimizer, loss) before "
                f"{what}()"
            )

    # --- names and structures ----------------------------------------------------------------
    def _output_names(self):
        keys = self.__dict__.get("_output_keys")
        if keys is not None:  # outputs given as a dict: its keys name them, as in Keras
            return list(keys)
        outputs = self.__dict__.get("_outputs")
        if self.__dict__.get("_functional") and outputs:
            return [kt.layer.name for kt in outputs]
        layers = getattr(self, "layers", None) or []
        if layers and any(c.__name__ == "Sequential" for c in type(self).__mro__):
            return [layers[-1].name]
        return None

    def _align_inputs(self, x):
        """A dict of inputs keyed by input name -> the model's input order."""
        inputs = self.__dict__.get("_inputs")
        if not (self.__dict__.get("_functional") and inputs):
            return x
        if isinstance(x, (list, tuple)) and len(x) != len(inputs):
            if len(inputs) > 1 or all(hasattr(a, "shape") for a in x):
                raise ValueError(
                    f"Model '{self.name}' expects {len(inputs)} input(s) "
                    f"{[kt.name for kt in inputs]}, received a list of {len(x)} arrays"
                )
        if not isinstance(x, dict):
            return x
        names = [kt.name for kt in inputs]
        missing = [n for n in names if n not in x]
        if missing:
            raise ValueError(
                f"Model '{self.name}': inputs given as a dict need one entry per input name "
                f"{names}; missing {missing}, received keys {sorted(x)}"
            )
        values = [x[n] for n in names]
        return values if self.__dict__.get("_multi_in") else values[0]

    def _align_targets(self, y):
        """Targets (or sample weights) keyed by output name -> one entry per output."""
        if not isinstance(y, dict):
            return y
        names = self._output_names()
        if not names:
            return y
        unknown = sorted(set(y) - set(names))
        if unknown:
            raise ValueError(
                f"Model '{self.name}': targets given as a dict must be keyed by output names "
                f"{names}; received unknown keys {unknown}"
            )
        values = [y.get(n) for n in names]
        return values if len(values) > 1 else values[0]

    def _data_device(self) -> str:
        """Where batches go: the device of the model's weights (the current one before build)."""
        for v in self.weights:
            return v.device
        return keras_device.current()

    def _prepare(self, class_weight=None):
        """Per batch: NumPy conversion, dicts to model order, class weights, then Tensors."""

        def prepare(batch):
            x, y, sw = da.unpack_x_y_sample_weight(batch)
            x = self._align_inputs(da.map_structure(da.to_numpy, x))
            y = self._align_targets(da.map_structure(da.to_numpy, y))
            sw = self._align_targets(da.map_structure(da.to_numpy, sw))
            if class_weight and y is not None and sw is None:
                sw = da.class_weight_to_sample_weight(y, class_weight)
            return da.to_tensors(da.pack_x_y_sample_weight(x, y, sw), self._data_device())

        return prepare

    def _iterator(self, x, y, sw, batch_size, steps, shuffle, class_weight, what):
        if class_weight is not None and sw is not None and not da.is_batch_iterable(x):
            raise ValueError(f"{what}: give class_weight or sample_weight, not both")
        adapter = da.get_adapter(x, y, sw, batch_size, shuffle, what)
        prepare, where = self._prepare(class_weight), dk.active()
        if where is not None:  # data-parallel: this rank's rows of each batch
            prepare = dk.shard(prepare, where)
        return da.EpochIterator(adapter, steps, prepare)

    # --- loops ---------------------------------------------------------------------------------
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
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for ``epochs`` over arrays, generators, PyDatasets or DataLoaders; returns the
        History (``history.history`` holds 'loss', the metrics and the 'val_' entries)."""
        self._assert_compiled("fit")
        fit_checks.check_fit(self, locals())
        where = dk.active()
        if where is not None:  # data-parallel: rank 0's weights; rank 0 prints and writes
            dk.broadcast_weights(self)
            callbacks = dk.rank_callbacks(callbacks, where[0])
            verbose = verbose if where[0] == 0 else 0
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = da.train_validation_split(
                x, y, sample_weight, validation_split
            )
        iterator = self._iterator(
            x, y, sample_weight, batch_size, steps_per_epoch, shuffle, class_weight, "fit"
        )
        val_iterator = None
        if validation_data is not None:
            vx, vy, vsw = da.unpack_x_y_sample_weight(validation_data)
            val_iterator = self._iterator(
                vx,
                vy,
                vsw,
                validation_batch_size or batch_size,
                validation_steps,
                False,
                None,
                "fit (validation_data)",
            )
        verbose = 1 if verbose == "auto" else verbose
        if not isinstance(callbacks, CallbackList):
            callbacks = CallbackList(
                callbacks,
                add_history=True,
                add_progbar=verbose != 0,
                model=self,
                verbose=verbose,
                epochs=epochs,
                steps=iterator.num_batches,
            )
        self.stop_training = False
        training_logs = {}
        callbacks.on_train_begin()
        resume = self.__dict__.pop("_backup_resume", None)  # set by BackupAndRestore
        start = initial_epoch if resume is None else resume.epoch
        for epoch in range(start, epochs):
            self.reset_metrics()
            if where is not None:
                dk.sync_rng()  # the same shuffle order on every rank
            callbacks.on_epoch_begin(epoch)
            self.train()
            logs, steps, data = {}, 0, None
            skip = resume.step if resume is not None and epoch == start else 0
            for step, data in iterator:
                if step < skip:
                    continue  # done before the interruption: only the shuffle order is replayed
                if skip:
                    skip = resume.restore(data)
                callbacks.on_train_batch_begin(step)
                logs = self.train_step(data)
                if where is not None:
                    logs = dk.global_logs(self, logs)
                callbacks.on_train_batch_end(step, logs)
                steps += 1
                if self.stop_training:
                    break
            if skip:  # the backup came after the epoch's last step
                skip, logs = resume.restore(data), self.get_metrics_result()
            if steps == 0 and iterator.ran_out:
                break  # a generator with nothing left: no epoch to report
            if where is not None:
                dk.reduce_metrics(self)
            epoch_logs = dict(self._metrics_or_logs(logs))
            self.eval()
            if val_iterator is not None and _should_eval(epoch, validation_freq):
                val_logs = self.evaluate(
                    callbacks=callbacks, return_dict=True, _iterator=val_iterator
                )
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if self.stop_training:
                break
        if self.optimizer is not None and epochs > initial_epoch:
            self.optimizer.finalize_variable_values(self.trainable_weights)  # EMA weights
        callbacks.on_train_end(training_logs)
        history = [cb for cb in callbacks.callbacks if isinstance(cb, History)]
        if history:
            self.history = history[0]
        return self.__dict__.get("history")

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict: bool = False,
        **kwargs,
    ):
        """Loss and metrics over the data, in inference mode: a scalar, a list (in
        ``metrics_names`` order) or, with ``return_dict``, a dict."""
        iterator = kwargs.pop("_iterator", None)
        if kwargs:
            raise TypeError(f"evaluate: unexpected keyword arguments {sorted(kwargs)}")
        self._assert_compiled("evaluate")
        if iterator is None:
            fit_checks.check_evaluate(self, x, y, batch_size, steps, callbacks, verbose)
            iterator = self._iterator(
                x, y, sample_weight, batch_size, steps, False, None, "evaluate"
            )
        verbose = 1 if verbose == "auto" else verbose
        where = dk.active()
        verbose = verbose if where is None or where[0] == 0 else 0
        callbacks = self._one_pass_callbacks(callbacks, verbose, iterator)
        self.eval()
        self.reset_metrics()
        callbacks.on_test_begin()
        logs = {}
        with no_grad():
            for step, data in iterator:
                callbacks.on_test_batch_begin(step)
                logs = self.test_step(data)
                if where is not None:
                    logs = dk.global_logs(self, logs)
                callbacks.on_test_batch_end(step, logs)
        if where is not None:
            dk.reduce_metrics(self)
        logs = self._metrics_or_logs(logs)
        callbacks.on_test_end(logs)
        logs = _floats(logs)
        return logs if return_dict else self._flatten_in_order(logs)

    def _one_pass_callbacks(self, callbacks, verbose, iterator) -> CallbackList:
        """The callbacks of evaluate/predict (one pass over the data), with a progress bar unless
        ``verbose=0``."""
        if isinstance(callbacks, CallbackList):
            return callbacks
        return CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=1,
            steps=iterator.num_batches,
        )

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for ``x`` as NumPy arrays (a list for several outputs), batch by batch."""
        fit_checks.check_predict(self, x, batch_size, steps, callbacks, verbose)
        iterator = self._iterator(x, None, None, batch_size, steps, False, None, "predict")
        verbose = 1 if verbose == "auto" else verbose
        where = dk.active()
        verbose = verbose if where is None or where[0] == 0 else 0
        callbacks = self._one_pass_callbacks(callbacks, verbose, iterator)
        self.eval()
        self.stop_predicting = False
        callbacks.on_predict_begin()
        outputs = []
        with no_grad():
            for step, data in iterator:
                callbacks.on_predict_batch_begin(step)
                batch = da.map_structure(da.to_numpy, self.predict_step(data))
                if where is not None:  # every rank's rows of the batch, in order
                    batch = dk.gather_outputs(batch)
                outputs.append(batch)
                callbacks.on_predict_batch_end(step, {"outputs": batch})
                if self.stop_predicting:
                    break
        callbacks.on_predict_end()
        if not outputs:  # zero samples: (0, ...) outputs, as the model's shape says
            outputs = [fit_checks.predict_no_samples(self, iterator)]
        return _concatenate(outputs)

    # --- single batches ------------------------------------------------------------------------
    def train_on_batch(
        self, x, y=None, sample_weight=None, class_weight=None, return_dict: bool = False
    ):
        """One optimisation step on one batch; returns the loss (and metrics) of that batch."""
        self._assert_compiled("train_on_batch")
        data = self._one_batch(x, y, sample_weight, class_weight, "train_on_batch")
        self.reset_metrics()
        self.train()
        logs = _floats(self._metrics_or_logs(self.train_step(data)))
        return logs if return_dict else self._flatten_in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = False):
        """Loss (and metrics) of one batch, in inference mode."""
        self._assert_compiled("test_on_batch")
        data = self._one_batch(x, y, sample_weight, None, "test_on_batch")
        self.reset_metrics()
        self.eval()
        with no_grad():
            logs = _floats(self._metrics_or_logs(self.test_step(data)))
        return logs if return_dict else self._flatten_in_order(logs)

    def predict_on_batch(self, x):
        """Outputs of one batch as NumPy arrays."""
        self.eval()
        data = self._prepare()((x,))
        with no_grad():
            return da.map_structure(da.to_numpy, self.predict_step(data))

    def _one_batch(self, x, y, sw, class_weight, what):
        if class_weight is not None and sw is not None:
            raise ValueError(f"{what}: give class_weight or sample_weight, not both")
        return self._prepare(class_weight)(da.pack_x_y_sample_weight(x, y, sw))


def _names_metrics(spec) -> bool:
    """A list of metric names/objects given where Keras puts ``loss_weights``."""
    values = list(spec.values()) if isinstance(spec, dict) else spec
    return isinstance(values, (list, tuple)) and any(
        not isinstance(v, (int, float, type(None))) for v in values
    )


def _should_eval(epoch: int, validation_freq) -> bool:
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    if isinstance(validation_freq, (list, tuple, set)):
        return epoch + 1 in validation_freq
    raise ValueError(
        f"fit: validation_freq must be an int or a list of epochs, received {validation_freq!r}"
    )


def _floats(logs):
    if not isinstance(logs, dict):
        return logs
    return pythonify_logs(logs)


def _concatenate(outputs: list):
    first = outputs[0]
    if isinstance(first, dict):
        return {k: _concatenate([o[k] for o in outputs]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concatenate([o[i] for o in outputs]) for i in range(len(first)))
    return np.concatenate(outputs)
