"""Define-by-run autograd: ``Function`` (a forward/backward pair), the backward engine, no_grad.

A ``Function.forward`` works on backend arrays; its ``backward`` states the derivative once, in
operators that arrays and Tensors share. The engine runs it on plain arrays (cheap, no graph)
unless ``create_graph=True``; then it runs the same backward on Tensors, so the backward pass is
itself recorded and can be differentiated again (Hessian-vector products, gradient penalties).

Safety: each recorded op is stamped with the in-place write count of ``zerograd.versions``, and a
backward through an op whose saved array was written in place since raises (as PyTorch's version
counter). ``detect_anomaly()`` (``zerograd.autograd_anomaly``) names the first op that makes a NaN
or an inf, and where the user's code created it.
"""

from __future__ import annotations

import functools
import weakref

from zerograd import autograd_anomaly as _anomaly
from zerograd import autograd_hooks as _hooks
from zerograd import backend, tuning, versions
from zerograd.autograd_anomaly import (  # noqa: F401 - the public names live in zerograd.autograd
    detect_anomaly,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from zerograd.tensor import Tensor


class GraphError(RuntimeError, ValueError):
    """Raised for backward on a freed graph or a non-scalar output without a gradient."""


# --- grad mode -----------------------------------------------------------------------------------

_grad_enabled = True
_anomaly_enabled = False  # set by zerograd.autograd_anomaly (detect_anomaly, set_detect_anomaly)


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode:
    """Context manager and decorator that sets whether operations are recorded."""

    mode = True

    def __enter__(self):
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, self.mode

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - named as in PyTorch
    """Record no graph inside: ``with zg.no_grad(): y = model(x)`` or ``@zg.no_grad()``."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Record the graph again inside a ``no_grad`` region."""

    mode = True


# --- Function ------------------------------------------------------------------------------------


class Function:
    """One differentiable op: ``forward`` on arrays, ``backward`` written once for two engines.

    Subclasses implement ``forward(*arrays)``, returning an array or a tuple of arrays (an op with
    several outputs), and ``backward(*gys)``, returning one gradient per input (``None`` for an input
    that needs none). ``forward`` keeps what ``backward`` needs with ``save_for_backward``.
    Keyword arguments of ``apply`` become attributes (``Sum.apply(x, axes=(0,), keepdims=False)``
    gives ``self.axes`` and ``self.keepdims``);
    subclasses declare them as class annotations.

    ``backward`` is written with Python operators, array methods (``.sum(axis=)``, ``.reshape``,
    ``.T``) and the functions of ``self.xp``, all of which Tensors have too. The engine runs it on
    plain arrays (fast: nothing recorded), or, under ``create_graph=True``, with ``gy``, ``self.saved``
    and ``self.xp`` swapped for Tensors and a Tensor namespace, so the same lines record a
    differentiable graph of the backward. ``self.inputs`` (the input Tensors) is for shapes and dtypes.
    A saved value that is neither an input nor an output (a mask, a log-sum-exp) is a constant then:
    a backward that needs its derivative recomputes it from the inputs when ``self.recording``. An
    op whose backward only runs on arrays sets ``differentiable_backward = False``.
    """

    inputs: tuple  # the input Tensors, set when the call is recorded
    saved: tuple = ()  # what forward kept: arrays (Tensors while the engine records the backward)
    xp = None  # the inputs' array module (the Tensor namespace while the backward is recorded)
    recording = False  # True while the engine records this backward (create_graph=True)
    differentiable_backward = True

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors; record it when grad mode is on and an input requires grad."""
        fn = cls.__new__(cls)  # no __init__ call: this is the hot path of every op
        if params:
            fn.__dict__.update(params)
        for x in inputs:
            if not isinstance(x, Tensor):
                inputs = _lift(inputs)
                break
        arrays = [x.data for x in inputs]
        fn.xp = backend.namespace(arrays[0]) if arrays else backend.np
        try:
            y = fn.forward(*arrays)
        except (ValueError, TypeError, IndexError) as e:
            backend.check_one_device(cls.__name__, arrays)  # the usual cause across devices
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            try:  # the same type, naming the op (a type whose constructor differs: as it is)
                named = type(e)(f"{cls.__name__}: {e} (input shapes {shapes})")
            except TypeError:
                raise e from None
            raise named from None
        if _anomaly_enabled:
            _anomaly.check_forward(fn, arrays, y)
        if type(y) is not backend.np.ndarray:
            if type(y) is tuple:
                return fn._outputs(tuple(Tensor._make(fn._as_array(a)) for a in y), inputs)
            y = fn._as_array(y)
        out = Tensor._make(y)
        if _grad_enabled:
            for x in inputs:
                if x.requires_grad:
                    out.requires_grad = True
                    out.creator = fn
                    fn.inputs = inputs
                    fn._outs = (weakref.ref(out),)
                    fn._epoch = versions.epoch  # in-place writes after this: see versions
                    break
        return out

    def _outputs(self, outs: tuple, inputs: tuple) -> tuple:
        if _grad_enabled and any(x.requires_grad for x in inputs):
            self.inputs = inputs
            self._outs = tuple(weakref.ref(o) for o in outs)
            self._epoch = versions.epoch
            for o in outs:
                if o.dtype.kind in "fc":  # integer outputs (indices) carry no gradient
                    o.requires_grad = True
                    o.creator = self
        return outs

    @classmethod
    def call(cls, *values, **params):
        """The op inside a backward: on arrays it computes and returns an array (nothing to
        record); when a value is a Tensor it is applied and recorded like any op."""
        for v in values:
            if isinstance(v, Tensor):
                return cls.apply(*values, **params)
        fn = cls.__new__(cls)
        fn.__dict__.update(params)
        fn.xp = backend.namespace(values[0])
        return fn.forward(*values)

    def _as_array(self, y):
        a = _array(y)  # NumPy returns scalars from 0-d results
        if a is not y and self.saved:  # keep what forward saved tied to the output
            self.saved = tuple(a if s is y else s for s in self.saved)
        return a

    def save_for_backward(self, *values) -> None:
        """Keep arrays for ``backward``: inputs first, in their order, then outputs and others (no
        copy is made)."""
        self.saved = values

    @property
    def output(self) -> Tensor:
        """The (first) output Tensor, while it is alive."""
        return self._outs[0]()

    @property
    def needs_grad(self) -> list:
        """Which inputs need a gradient, in order."""
        return [x.requires_grad for x in self.inputs]

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def release(self) -> None:
        """Drop what backward needs; a later backward through this op raises ``GraphError``."""
        self.__dict__ = {"inputs": self.inputs, "_outs": self._outs, "_freed": True}

    def __repr__(self):
        return f"<{type(self).__name__}>"


_scalars: dict = {}  # (type, value, dtype, array module) -> constant Tensor, reused: never written


def _scalar(x, ref: Tensor) -> Tensor:
    """A Python bool/int/float as a constant Tensor that does not up-cast ``ref``."""
    dtype = ref.data.dtype
    if isinstance(x, float) and dtype.kind != "f":
        dtype = backend.get_default_dtype()
    elif not isinstance(x, bool) and isinstance(x, int) and dtype.kind == "b":
        dtype = backend.int64
    xp = backend.namespace(ref.data)
    # the type in the key: 1, 1.0 and True are equal keys otherwise; zeros are not cached, as 0.0
    # and -0.0 are equal keys too
    key = (type(x), x, dtype, xp)
    t = _scalars.get(key) if x != 0 else None
    if t is None:
        t = Tensor._make(xp.asarray(x, dtype=dtype))
        if x != 0:
            if len(_scalars) >= tuning.SCALAR_CACHE_SIZE:  # many distinct values: start again
                _scalars.clear()
            _scalars[key] = t
    return t


def _lift(inputs) -> tuple:
    """Turn Python scalars and arrays into Tensors that do not up-cast the Tensor operands."""
    ref = next((x for x in inputs if isinstance(x, Tensor)), None)
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(x)
        elif ref is not None and isinstance(x, (bool, int, float)):
            out.append(_scalar(x, ref))
        else:
            out.append(Tensor(x, device=ref.device if ref is not None else None))
    return tuple(out)


# --- the backward engine -------------------------------------------------------------------------


def _topological(root: Tensor) -> list:
    """The Functions behind ``root``, each before the Functions that computed its inputs."""
    order, seen, stack = [], set(), [(root.creator, False)]
    while stack:
        fn, done = stack.pop()
        if done:
            order.append(fn)
            continue
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if getattr(fn, "_freed", False):
            raise GraphError(
                f"backward through {type(fn).__name__} a second time: its saved values were freed "
                "by the first backward; pass retain_graph=True to the first call"
            )
        stack.append((fn, True))
        for x in fn.inputs:
            if x.creator is not None and id(x.creator) not in seen:
                stack.append((x.creator, False))
    order.reverse()
    return order


def _seed_grad(root: Tensor, grad, who: str) -> Tensor:
    if not root.requires_grad:
        raise GraphError(f"{who}: the tensor does not require grad and has no grad_fn")
    if grad is None:
        if root.size != 1:
            raise GraphError(
                f"{who}: grad can be implicit only for a scalar output, received shape "
                f"{root.shape}; pass a gradient of that shape"
            )
        return Tensor._make(root.xp.ones(root.shape, dtype=root.dtype))
    if not isinstance(grad, Tensor):
        grad = Tensor(grad, dtype=root.dtype, device=root.device)
    if grad.shape != root.shape:
        raise GraphError(
            f"{who}: gradient of shape {grad.shape} given for an output of shape {root.shape}"
        )
    return grad


def _run(root: Tensor, gy: Tensor, retain_graph: bool, create_graph: bool, wanted: dict | None):
    """Propagate ``gy`` from ``root`` to the leaves.

    Without ``create_graph`` the gradients are plain arrays until they reach a leaf; with it they
    are Tensors and every backward is recorded. Gradients reach ``leaf.grad`` when ``wanted`` is
    None; otherwise only the tensors whose ids are keys of ``wanted`` collect theirs there, and no
    ``.grad`` is touched.
    """
    grads = {id(root): gy if create_graph else gy.data}
    handed = {id(gy.data)}  # arrays a leaf's .grad may not take over: the seed, those given out
    stamp, order = versions.epoch, _topological(root)
    post = _hooks.Pass(order, _accumulate) if _hooks.active else None  # autograd_hooks.py
    accumulate = _accumulate if post is None else post.accumulate
    with enable_grad() if create_graph else no_grad(), _hooks.finishing(post):
        for fn in order:
            if len(fn._outs) == 1:  # the common case, kept lean: this loop is per op
                out = fn._outs[0]()
                gys = (grads.pop(id(out), None) if out is not None else None,)
                if gys[0] is None:
                    continue
            else:
                outs = [o() for o in fn._outs]
                gys = [None if o is None else grads.pop(id(o), None) for o in outs]
                if all(g is None for g in gys):
                    continue
            if wanted is not None:
                for o, g in zip(fn._outs, gys):
                    if g is not None and id(o()) in wanted:
                        wanted[id(o())] = g if create_graph else Tensor._make(_array(g))
            if fn._epoch != stamp:  # something was written in place since fn ran
                versions.check_saved(fn)
            if _anomaly_enabled:
                gxs = _checked_backward(fn, gys, create_graph)
            elif create_graph:
                gxs = _backward_recorded(fn, gys)
            else:
                gxs = fn.backward(*gys) if len(gys) > 1 else fn.backward(gys[0])
            if type(gxs) is not tuple:
                gxs = (gxs,)
            for x, gx in zip(fn.inputs, gxs):
                if gx is None or not x.requires_grad:
                    continue
                gx = _fit(fn, x, gx, create_graph)
                if x.creator is not None:
                    prev = grads.get(id(x))
                    grads[id(x)] = gx if prev is None else prev + gx
                elif wanted is None:
                    accumulate(x, gx, create_graph, handed)
                elif id(x) in wanted:
                    prev = wanted[id(x)]
                    if create_graph:
                        wanted[id(x)] = gx if prev is None else prev + gx
                    else:
                        wanted[id(x)] = Tensor._make(gx if prev is None else _array(prev.data + gx))
            if not retain_graph:
                fn.release()


def _checked_backward(fn: Function, gys, create_graph: bool) -> tuple:
    """``fn.backward`` in anomaly mode: ops it records know whose backward made them, and NaN or
    inf in what it returns raises."""
    _anomaly.backward_of = fn
    try:
        gxs = _backward_recorded(fn, gys) if create_graph else fn.backward(*gys)
    finally:
        _anomaly.backward_of = None
    gxs = gxs if type(gxs) is tuple else (gxs,)
    _anomaly.check_backward(fn, gxs)
    return gxs


def _backward_recorded(fn: Function, gys: list):
    """``fn.backward`` on Tensors, so that what it computes is recorded (``create_graph=True``)."""
    if not fn.differentiable_backward:
        raise GraphError(
            f"{type(fn).__name__}: its backward is not differentiable, so create_graph=True "
            "(higher-order gradients) cannot pass through it"
        )
    from zerograd.ops import tensor_xp

    saved, xp = fn.saved, fn.xp
    fn.saved = tuple(_saved_tensor(fn, a, i) for i, a in enumerate(saved))
    fn.xp, fn.recording = tensor_xp, True
    try:
        return fn.backward(*gys)
    finally:
        fn.saved, fn.xp, fn.recording = saved, xp, False


def _saved_tensor(fn: Function, a, position: int):
    """The Tensor behind the ``position``-th saved array: an input or an output of ``fn``, else a
    constant. Inputs are saved in their own order, so the input at the same position is tried
    first: two inputs may share one array (``x * x.detach()``), and only one of them is this one."""
    if a is None or isinstance(a, Tensor):
        return a
    if position < len(fn.inputs) and fn.inputs[position].data is a:
        return fn.inputs[position]
    for x in fn.inputs:
        if x.data is a:
            return x
    for o in fn._outs:
        t = o()
        if t is not None and t.data is a:
            return t
    return Tensor._make(a)


def backward(root: Tensor, grad=None, retain_graph: bool = False, create_graph: bool = False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``create_graph=True`` records the backward pass (for higher-order gradients) and implies
    ``retain_graph=True``, as in PyTorch.
    """
    gy = _seed_grad(root, grad, "backward")
    if root.creator is None:
        _hooks.accumulate_root(_accumulate, root, gy if create_graph else gy.data, create_graph)
    else:
        _run(root, gy, retain_graph or create_graph, create_graph, None)


def _fit(fn: Function, x: Tensor, gx, create_graph: bool):
    """Un-broadcast ``gx`` (an array, or a Tensor when recording) to ``x``'s shape and dtype."""
    if create_graph:
        if not isinstance(gx, Tensor):
            raise GraphError(
                f"{type(fn).__name__}.backward returned an array under create_graph=True: its "
                "gradient was computed outside the graph"
            )
    elif type(gx) is not backend.np.ndarray:
        # a backward that reached for Tensors (self.inputs): its values; a NumPy scalar (arithmetic
        # on 0-d arrays gives them): an array again
        gx = gx.data if type(gx) is Tensor else _array(gx)
    if gx.shape != x.shape:
        try:
            if create_graph:
                from zerograd.ops.shape import sum_to

                gx = sum_to(gx, x.shape)
            else:
                gx = backend.sum_to(gx, x.shape)
        except ValueError:
            raise GraphError(
                f"{type(fn).__name__}.backward returned a gradient of shape {gx.shape} "
                f"for an input of shape {x.shape}"
            ) from None
    if gx.dtype != x.dtype:
        if x.dtype.kind != "f" or gx.dtype.kind != "f":
            raise GraphError(
                f"{type(fn).__name__}.backward returned a {gx.dtype} gradient for a {x.dtype} input"
            )
        gx = gx.astype(x.dtype)
    return gx


def _accumulate(x: Tensor, gx, create_graph: bool, handed: set | None = None) -> None:
    """Add ``gx`` (a Tensor when recording, else an array) into ``x.grad``.

    A leaf takes a fresh gradient array as it is; a view (read-only, when broadcast), the seed, or
    an array another leaf already holds (``a + b`` gives both the same) is copied first, so every
    ``.grad`` may be changed in place (gradient clipping) without touching another's."""
    if x.grad is not None:
        x.grad = x.grad + gx if create_graph else Tensor._make(_array(x.grad.data + gx))
        return
    a = gx.data if create_graph else gx
    fresh = handed is not None and getattr(a, "base", 0) is None and id(a) not in handed
    if create_graph:
        if not fresh:
            from zerograd.ops.elementwise import copy

            gx = copy(gx)  # recorded: the copy stays differentiable
        x.grad = gx
    else:
        x.grad = Tensor._make(gx if fresh else gx.copy())
    if handed is not None:
        handed.add(id(x.grad.data))


def _array(a):
    """``a`` as an array: arithmetic on 0-d NumPy arrays gives NumPy scalars."""
    if type(a) is backend.np.ndarray or backend.is_device_array(a):
        return a
    return backend.np.asarray(a)


def grad(
    outputs: Tensor,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=False,
):
    """d(outputs)/d(inputs), returned rather than accumulated in ``.grad`` (as torch.autograd.grad).

    Example:
        >>> x = zg.tensor(3.0, requires_grad=True)
        >>> (g,) = zg.autograd.grad(x ** 3, [x], create_graph=True)   # 27, differentiable again
    """
    from zerograd.autograd_checks import grad_inputs, unused

    single = isinstance(inputs, Tensor)
    inputs = grad_inputs(outputs, inputs)
    gy = _seed_grad(outputs, grad_outputs, "grad")
    wanted = {id(x): None for x in inputs}
    retain = create_graph if retain_graph is None else retain_graph
    if id(outputs) in wanted:
        wanted[id(outputs)] = gy
    if outputs.creator is not None:
        _run(outputs, gy, retain, create_graph, wanted)
    result = [wanted[id(x)] for x in inputs]
    unused(result, inputs, allow_unused, GraphError)
    return result[0] if single else tuple(result)
