"""Anomaly mode: find the op that first makes a NaN or an infinity, and the user's line that made it.

Off by default, and then free: the engine checks one flag per op. On, each op keeps where the
user's code created it (the first frames outside zerograd), and the first op whose forward output
or backward gradient turns finite values into NaN or inf raises ``RuntimeError`` naming the op and
that line. A forward output is flagged only when it is new: NaN from inputs without NaN, or inf
from finite inputs, so a ``-inf`` attention mask passing through ``where`` or ``softmax`` is fine.

Example:
    >>> with zg.autograd.detect_anomaly():
    ...     zg.tensor([-1.0]).log()     # RuntimeError: Log: produced nan ... created at <file>:<line>
"""

from __future__ import annotations

import os
import sys

from zerograd import backend

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_TRACE_FRAMES = 3  # user frames kept per op: the line that made it and two callers
_state = {"check_nan": True}
backward_of = None  # while the engine runs a backward in anomaly mode: that op


def is_anomaly_enabled() -> bool:
    """Whether anomaly mode is on."""
    from zerograd import autograd

    return autograd._anomaly_enabled


def _set(mode: bool, check_nan: bool) -> None:
    from zerograd import autograd

    global backward_of
    autograd._anomaly_enabled = bool(mode)
    _state["check_nan"] = bool(check_nan)
    backward_of = None  # a backward that raised leaves it set


class set_detect_anomaly:  # noqa: N801 - named as in PyTorch
    """Turn anomaly mode on or off now; as a context manager, restore the previous mode on exit.

    Args:
        mode: on (True) or off (False).
        check_nan: raise on NaN/inf (True); False only records where each op was created.

    Example:
        >>> zg.autograd.set_detect_anomaly(True)     # from here on
        >>> with zg.autograd.set_detect_anomaly(False): ...   # off inside, on again after
    """

    def __init__(self, mode: bool, check_nan: bool = True):
        if not isinstance(mode, bool):
            raise TypeError(f"set_detect_anomaly: mode must be a bool, received {mode!r}")
        self._prev = (is_anomaly_enabled(), _state["check_nan"])
        _set(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self._prev)


class detect_anomaly:  # noqa: N801
    """Context manager: anomaly mode on inside, the previous mode restored on exit.

    Example:
        >>> with zg.autograd.detect_anomaly():
        ...     loss = model(x).mean(); loss.backward()   # raises at the first NaN/inf, naming it
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = (is_anomaly_enabled(), _state["check_nan"])
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self._prev)


def user_trace() -> tuple:
    """``file:line in function`` of the innermost frames outside zerograd, innermost first."""
    frames, f = [], sys._getframe(1)
    while f is not None and len(frames) < _TRACE_FRAMES:
        path = f.f_code.co_filename
        if not path.startswith(_PACKAGE):
            frames.append(f"{path}:{f.f_lineno} in {f.f_code.co_name}")
        f = f.f_back
    return tuple(frames)


def where(fn) -> str:
    """Where ``fn`` was created, for a message."""
    trace = getattr(fn, "_trace", None)
    if trace is None:
        return "created before anomaly mode was turned on"
    frames, parent = trace
    text = ("created at " + ", called from ".join(frames)) if frames else "created"
    return text + (f", inside the backward of {parent}" if parent else "")


def _bad(a) -> tuple[bool, bool]:
    """(has NaN, has inf) of a float array; (False, False) for anything else."""
    if getattr(a, "dtype", None) is None or a.dtype.kind not in "fc":
        return False, False
    xp = backend.namespace(a)
    return bool(xp.isnan(a).any()), bool(xp.isinf(a).any())


def check_forward(fn, arrays, y) -> None:
    """Record where ``fn`` was created; raise if its outputs have NaN or inf its inputs lacked."""
    parent = backward_of and f"{type(backward_of).__name__} ({where(backward_of)})"
    fn._trace = (user_trace(), parent)
    if not _state["check_nan"]:
        return
    outs = y if type(y) is tuple else (y,)
    found = [_bad(o) for o in outs]
    if not any(nan or inf for nan, inf in found):
        return
    had = [_bad(a) for a in arrays]
    had_nan = any(n for n, _ in had)
    had_inf = any(i for _, i in had)
    for i, (nan, inf) in enumerate(found):
        kind = "nan" if nan and not had_nan else "inf" if inf and not (had_nan or had_inf) else None
        if kind is not None:
            source = "inputs without nan" if kind == "nan" else "finite inputs"
            raise RuntimeError(
                f"{type(fn).__name__}: produced {kind} values in output {i} from {source} "
                f"(anomaly mode; the op was {where(fn)})"
            )


def check_backward(fn, gxs) -> None:
    """Raise if a gradient ``fn.backward`` returned for an input that needs one holds NaN or inf."""
    if not _state["check_nan"]:
        return
    for i, (x, g) in enumerate(zip(fn.inputs, gxs)):
        if g is None or not x.requires_grad:  # a constant's gradient is computed, never used
            continue
        nan, inf = _bad(g.data if type(g).__name__ == "Tensor" else g)
        if nan or inf:
            kind = "nan" if nan else "inf"
            raise RuntimeError(
                f"{type(fn).__name__}: its backward returned {kind} values in the gradient of "
                f"input {i} (anomaly mode; the op was {where(fn)})"
            )
