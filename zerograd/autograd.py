"""Define-by-run autograd: ``Function`` (a forward/backward pair), the backward engine, no_grad.

A ``Function.forward`` works on backend arrays; its ``backward`` works on Tensors, built from the
same differentiable ops. The engine runs backward under ``no_grad`` (cheap, no graph) unless
``create_graph=True``, in which case the backward pass is itself recorded and can be
differentiated again (Hessian-vector products, gradient penalties).
"""

from __future__ import annotations

import functools
import weakref

from zerograd import backend
from zerograd.tensor import Tensor


class GraphError(RuntimeError, ValueError):
    """Raised for backward on a freed graph or a non-scalar output without a gradient."""


# --- grad mode -----------------------------------------------------------------------------------

_grad_enabled = True


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
    """One differentiable op: ``forward`` on arrays, ``backward`` on Tensors.

    Subclasses implement ``forward(*arrays) -> array`` and ``backward(gy) -> grad or tuple``, one
    gradient per input (``None`` for an input that needs none). Keyword arguments of ``apply`` become
    attributes (``Sum.apply(x, axis=0)`` gives ``self.axis``). In ``backward``, ``self.inputs`` are
    the input Tensors and ``self.output`` the output Tensor.
    """

    inputs: tuple
    xp = None  # the array module of the inputs, set by apply

    @classmethod
    def apply(cls, *inputs, **params) -> Tensor:
        fn = cls.__new__(cls)  # no __init__ call: this is the hot path of every op
        if params:
            fn.__dict__.update(params)
        for x in inputs:
            if not isinstance(x, Tensor):
                inputs = _lift(inputs)
                break
        arrays = [x.data for x in inputs]
        xp = fn.xp = backend.namespace(arrays[0]) if arrays else backend.np
        try:
            y = fn.forward(*arrays)
        except (ValueError, TypeError, IndexError) as e:
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            raise type(e)(f"{cls.__name__}: {e} (input shapes {shapes})") from None
        if type(y) is not backend.np.ndarray and not backend.is_device_array(y):
            y = xp.asarray(y)  # NumPy returns scalars from 0-d results
        out = Tensor._make(y)
        if _grad_enabled:
            for x in inputs:
                if x.requires_grad:
                    out.requires_grad = True
                    out.creator = fn
                    fn.inputs = inputs
                    fn._out = weakref.ref(out)
                    break
        return out

    @property
    def output(self) -> Tensor:
        return self._out()

    @property
    def needs_grad(self) -> tuple:
        return tuple(x.requires_grad for x in self.inputs)

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, gy: Tensor):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def release(self) -> None:
        """Drop what backward needs; a later backward through this op raises ``GraphError``."""
        self.__dict__ = {"inputs": self.inputs, "_freed": True}

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
            if len(_scalars) >= 1024:  # many distinct values (a schedule's): start again
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
    """Tensors with a creator, ordered so each comes before the tensors it was computed from."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen or t.creator is None:
            continue
        seen.add(id(t))
        stack.append((t, True))
        fn = t.creator
        if getattr(fn, "_freed", False):
            raise GraphError(
                f"backward through {type(fn).__name__} a second time: its saved values were freed "
                "by the first backward; pass retain_graph=True to the first call"
            )
        for x in fn.inputs:
            if x.creator is not None and id(x) not in seen:
                stack.append((x, False))
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

    Gradients reach ``leaf.grad`` when ``wanted`` is None; otherwise only the tensors whose ids are
    keys of ``wanted`` collect their gradient there, and no ``.grad`` is touched.
    """
    grads = {id(root): gy}
    handed = {id(gy.data)}  # arrays a leaf's .grad may not take over: the seed, those given out
    with enable_grad() if create_graph else no_grad():
        for t in _topological(root):
            gy = grads.pop(id(t), None)
            if gy is None:
                continue
            if wanted is not None and id(t) in wanted:
                wanted[id(t)] = gy
            fn = t.creator
            gxs = fn.backward(gy)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(fn.inputs, gxs):
                if gx is None or not x.requires_grad:
                    continue
                gx = _fit(fn, x, gx)
                if x.creator is not None:
                    prev = grads.get(id(x))
                    grads[id(x)] = gx if prev is None else prev + gx
                elif wanted is None:
                    _accumulate(x, gx, create_graph, handed)
                elif id(x) in wanted:
                    prev = wanted[id(x)]
                    wanted[id(x)] = gx if prev is None else prev + gx
            if not retain_graph:
                fn.release()


def backward(root: Tensor, grad=None, retain_graph: bool = False, create_graph: bool = False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    gy = _seed_grad(root, grad, "backward")
    if root.creator is None:
        _accumulate(root, gy, create_graph)
    else:
        _run(root, gy, retain_graph, create_graph, None)


def _fit(fn: Function, x: Tensor, gx: Tensor) -> Tensor:
    """Un-broadcast ``gx`` to ``x``'s shape (once, here) and check its dtype."""
    if gx.shape != x.shape:
        from zerograd.ops.shape import sum_to

        try:
            gx = sum_to(gx, x.shape)
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


def _accumulate(x: Tensor, gx: Tensor, create_graph: bool, handed: set | None = None) -> None:
    if create_graph:
        x.grad = gx if x.grad is None else x.grad + gx
    elif x.grad is None:
        a = gx.data
        if handed is not None and getattr(a, "base", 0) is None and id(a) not in handed:
            # a fresh array that no other leaf holds (an op's own result, not a view): take it
            handed.add(id(a))
            x.grad = Tensor._make(a)
        else:  # a view, the seed, or an array already given to a leaf (a + b): own a copy
            x.grad = Tensor._make(a.copy())
    else:
        x.grad = Tensor._make(x.grad.data + gx.data)


def grad(outputs: Tensor, inputs, grad_outputs=None, retain_graph=None, create_graph=False):
    """d(outputs)/d(inputs), returned rather than accumulated in ``.grad`` (as torch.autograd.grad).

    Example:
        >>> x = zg.tensor(3.0, requires_grad=True)
        >>> (g,) = zg.autograd.grad(x ** 3, [x], create_graph=True)   # 27, differentiable again
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    gy = _seed_grad(outputs, grad_outputs, "grad")
    wanted = {id(x): None for x in inputs}
    retain = create_graph if retain_graph is None else retain_graph
    if id(outputs) in wanted:
        wanted[id(outputs)] = gy
    if outputs.creator is not None:
        _run(outputs, gy, retain, create_graph, wanted)
    result = []
    for x in inputs:
        g = wanted[id(x)]
        if g is None:
            raise GraphError(
                f"grad: an input of shape {x.shape} was not used to compute the output"
            )
        result.append(g)
    return result[0] if single else tuple(result)
