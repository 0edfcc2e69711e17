"""Dynamic loss scaling for half-precision training, as ``torch.amp.GradScaler``."""

from __future__ import annotations

import math
import warnings

import numpy as np

from zerograd import backend

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _fresh_state() -> dict:
    return {"stage": _READY, "found_inf": {}}


class GradScaler:
    """Scale the loss so that small float16 gradients do not underflow, then unscale the
    gradients before the optimizer step, skip the steps whose gradients hold inf or NaN, and
    adapt the scale: times ``backoff_factor`` after a skipped step, times ``growth_factor`` after
    ``growth_interval`` steps in a row without one (as ``torch.amp.GradScaler``; the scale is a
    float32 number, updated with the same arithmetic).

    Args:
        device: 'cuda' or 'cpu'; as PyTorch, a 'cuda' scaler on a machine without a GPU warns and
            disables itself. The gradients may live on any device (each is checked with its own
            array namespace).
        init_scale: the first scale.
        growth_factor: multiplies the scale after ``growth_interval`` good steps (> 1).
        backoff_factor: multiplies the scale after a step with inf/NaN gradients (in (0, 1)).
        growth_interval: good steps in a row before the scale grows.
        enabled: False makes every method a pass-through (``scale`` returns its input, ``step``
            calls ``optimizer.step``), so one script serves both precisions.

    Example:
        >>> model = zg.nn.Linear(4, 1)
        >>> opt = zg.optim.SGD(model.parameters(), lr=0.1)
        >>> scaler = zg.amp.GradScaler("cpu", init_scale=1024.0)
        >>> for _ in range(3):
        ...     opt.zero_grad()
        ...     with zg.autocast("cpu", dtype="float16"):
        ...         loss = F.mse_loss(model(zg.randn(8, 4)), zg.zeros(8, 1))
        ...     scaler.scale(loss).backward()
        ...     scaler.step(opt)        # unscales, skips the step on inf/NaN gradients
        ...     scaler.update()         # adapts the scale
        >>> scaler.get_scale()  # no step overflowed; it grows after growth_interval (2000) steps
        1024.0
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ):
        if not isinstance(device, str) or not (
            device == "cpu" or device == "cuda" or device.startswith("cuda:")
        ):
            raise ValueError(
                f"GradScaler: expected device 'cuda', 'cuda:N' or 'cpu', received {device!r}"
            )
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"GradScaler: enabled must be a bool, received {enabled!r}")
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled and device != "cpu" and not backend.cuda_available():
            warnings.warn(
                f"GradScaler: device={device!r} but CuPy sees no CUDA GPU; disabling the scaler "
                "(pass device='cpu' to scale on the CPU)",
                stacklevel=2,
            )
            self._enabled = False
        _check_number("init_scale", init_scale, lambda v: v > 0 and math.isfinite(v), "> 0")
        _check_number("growth_factor", growth_factor, lambda v: v > 1.0, "> 1.0")
        _check_number("backoff_factor", backoff_factor, lambda v: 0 < v < 1.0, "in (0, 1)")
        _check_interval(growth_interval)
        self._init_scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._scale: np.float32 | None = None  # set by the first scale(), as PyTorch
        self._growth_tracker = 0
        self._per_optimizer: dict = {}  # optimizer -> {"stage", "found_inf": {device: flag}}

    # --- the training step ---------------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a Tensor, or a list/tuple/iterable of them, nested) times the scale."""
        if not self._enabled:
            return outputs
        from zerograd.tensor import Tensor

        if self._scale is None:
            self._scale = np.float32(self._init_scale)
        s = float(self._scale)

        def apply(v):
            if isinstance(v, Tensor):
                return v * s
            if isinstance(v, (list, tuple)):
                return type(v)(apply(x) for x in v)
            if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__iter__"):
                raise TypeError(
                    "GradScaler.scale: expected a Tensor or an iterable of Tensors, received "
                    f"{type(v).__name__}"
                )
            return map(apply, v)

        return apply(outputs)

    def _stage_of(self, optimizer) -> dict:
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(
                "GradScaler: expected an optimizer (with param_groups), received "
                f"{type(optimizer).__name__}"
            )
        state = self._per_optimizer.get(optimizer)
        if state is None:
            state = self._per_optimizer[optimizer] = _fresh_state()
        return state

    def _check_scaled(self, fn: str) -> None:
        if self._scale is None:
            raise RuntimeError(
                f"GradScaler.{fn}: no scale yet; call scaler.scale(loss).backward() earlier in "
                "the iteration"
            )

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale, in place, and note inf/NaN ones.

        Call it before gradient clipping (``clip_grad_norm_``) so the clipping sees true
        gradients; ``step`` then does not unscale again. At most once per optimizer between two
        ``update()`` calls.
        """
        if not self._enabled:
            return
        self._check_scaled("unscale_")
        state = self._stage_of(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError(
                "GradScaler.unscale_: already called on this optimizer since the last update()"
            )
        if state["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.unscale_: called after step(); call update() first")
        # the reciprocal in float64 then float32, as PyTorch, so both multiply by the same number
        inv = np.float32(1.0 / np.float64(self._scale))
        found: dict = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if g.dtype == np.float16:
                    raise ValueError(
                        f"GradScaler.unscale_: expected float32 gradients, received a float16 "
                        f"gradient for a parameter of shape {p.shape} (keep the parameters in "
                        "float32 and let zg.autocast run the ops in float16)"
                    )
                xp = backend.namespace(g)
                g *= inv.astype(g.dtype) if g.dtype != np.float32 else inv
                bad = ~xp.isfinite(g).all()  # stays on the device; one sync per step
                dev = backend.device_of(g)
                found[dev] = bad if dev not in found else (found[dev] | bad)
        state["found_inf"] = found
        state["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """Unscale (unless ``unscale_`` did), then ``optimizer.step(*args, **kwargs)`` when no
        gradient is inf or NaN; returns what it returned, or None for a skipped step."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError(
                "GradScaler.step: a closure is not supported while the scaler is enabled "
                "(compute the loss, scale it and call backward() before step)"
            )
        self._check_scaled("step")
        state = self._stage_of(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.step: already called since the last update()")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        state["stage"] = _STEPPED
        if any(bool(f) for f in state["found_inf"].values()):
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        """Adapt the scale after the iteration's ``step`` calls, or set it to ``new_scale`` (a
        float or a one-element Tensor without gradient)."""
        if not self._enabled:
            return
        self._check_scaled("update")
        if new_scale is not None:
            self._scale = np.float32(self._new_scale_value(new_scale))
        else:
            flags = [f for st in self._per_optimizer.values() for f in st["found_inf"].values()]
            if not flags:
                raise RuntimeError(
                    "GradScaler.update: no inf/NaN checks were recorded since the last update(); "
                    "call scaler.step(optimizer) (or unscale_) first"
                )
            # PyTorch's update rule: float32 scale times a float64 factor, stored as float32
            if any(bool(f) for f in flags):
                self._scale = np.float32(float(self._scale) * self._backoff_factor)
                self._growth_tracker = 0
            elif self._growth_tracker + 1 == self._growth_interval:
                with np.errstate(over="ignore"):  # an overflow to inf is refused just below
                    grown = np.float32(float(self._scale) * self._growth_factor)
                if np.isfinite(grown):
                    self._scale = grown
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
        self._per_optimizer = {}

    def _new_scale_value(self, new_scale) -> float:
        from zerograd.tensor import Tensor

        if isinstance(new_scale, Tensor):
            if new_scale.size != 1 or new_scale.requires_grad:
                raise ValueError(
                    "GradScaler.update: new_scale must be a float or a one-element Tensor without "
                    f"gradient, received a Tensor of shape {new_scale.shape} "
                    f"(requires_grad={new_scale.requires_grad})"
                )
            return float(backend.to_numpy(new_scale.data).reshape(()))
        if isinstance(new_scale, bool) or not isinstance(new_scale, (int, float, np.floating)):
            raise TypeError(
                "GradScaler.update: new_scale must be a float or a one-element Tensor, received "
                f"{type(new_scale).__name__}"
            )
        return float(new_scale)

    # --- settings and state --------------------------------------------------------------------
    def get_scale(self) -> float:
        """The current scale (the initial one before the first ``scale``; 1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale)

    def get_growth_factor(self) -> float:
        """The factor the scale grows by after ``growth_interval`` good steps."""
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        """Set the growth factor (> 1)."""
        _check_number("growth_factor", new_factor, lambda v: v > 1.0, "> 1.0")
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        """The factor the scale shrinks by after a skipped step."""
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        """Set the backoff factor (in (0, 1))."""
        _check_number("backoff_factor", new_factor, lambda v: 0 < v < 1.0, "in (0, 1)")
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        """Good steps in a row before the scale grows."""
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        """Set the growth interval (a positive int)."""
        _check_interval(new_interval)
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self) -> int:
        return self._growth_tracker if self._enabled else 0

    def is_enabled(self) -> bool:
        """False for a pass-through scaler (``enabled=False``, or 'cuda' without a GPU)."""
        return self._enabled

    def state_dict(self) -> dict:
        """{'scale', 'growth_factor', 'backoff_factor', 'growth_interval', '_growth_tracker'}, as
        PyTorch (its keys, Python numbers); empty when disabled. Take it after ``update()``."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned (a PyTorch GradScaler's state dict works too)."""
        if not self._enabled:
            return
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"GradScaler.load_state_dict: expected a dict, received {type(state_dict).__name__}"
            )
        if not state_dict:
            raise RuntimeError(
                "GradScaler.load_state_dict: the state dict is empty, possibly saved from a "
                "disabled GradScaler"
            )
        keys = ("scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker")
        missing = [k for k in keys if k not in state_dict]
        if missing:
            raise ValueError(
                f"GradScaler.load_state_dict: expected keys {list(keys)}, missing {missing}"
            )
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = np.float32(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])

    def __repr__(self) -> str:
        return (
            f"GradScaler(device={self._device!r}, scale={self.get_scale()}, "
            f"enabled={self._enabled})"
        )


def _check_interval(value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"GradScaler: growth_interval must be an int, received {value!r}")
    if value < 1:
        raise ValueError(f"GradScaler: growth_interval must be >= 1, received {value}")


def _check_number(name: str, value, ok, expected: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"GradScaler: {name} must be a number, received {value!r}")
    if not ok(float(value)):
        raise ValueError(f"GradScaler: {name} must be {expected}, received {value}")
