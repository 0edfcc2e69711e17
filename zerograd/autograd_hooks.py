"""Per-leaf "gradient ready" hooks and end-of-backward callbacks for the backward engine.

``Tensor.register_post_accumulate_grad_hook(fn)`` (as in PyTorch) calls ``fn(tensor)`` once per
backward, after the last contribution of that backward has been added into ``tensor.grad``;
``queue_callback(fn)``, called from inside such a hook, runs ``fn()`` once when the backward in
progress has finished (the outermost one, when a backward runs inside another, as gradient
checkpointing does). ``DistributedDataParallel`` starts each bucket's all-reduce from the first
and waits for them all in the second.

Cost: the engine looks at the integer ``active`` (tensors holding hooks) once per backward; while it
is 0 nothing else happens. Otherwise one pass over the graph counts, for each hooked leaf, the ops
that may send it a gradient, so a leaf used several times (tied weights) fires once, after its last.
"""

from __future__ import annotations

active = 0  # tensors that hold at least one post-accumulate hook
_callbacks: list = []  # run at the end of the outermost backward in progress
_depth = 0  # backward passes running: a Function's backward may run another (checkpointing)
generation = 0  # outermost backward passes started (with hooks registered) so far


class RemovableHandle:
    """Returned by ``register_post_accumulate_grad_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, tensor, hook):
        self._tensor, self._hook = tensor, hook

    def remove(self) -> None:
        global active
        hooks = self._tensor.__dict__.get("_post_accumulate_hooks")
        if hooks is None or self._hook not in hooks:
            return
        hooks.remove(self._hook)
        if not hooks:
            del self._tensor.__dict__["_post_accumulate_hooks"]
            active -= 1


def register(tensor, hook) -> RemovableHandle:
    global active
    if not callable(hook):
        raise TypeError(
            "register_post_accumulate_grad_hook: hook must be callable, "
            f"received {type(hook).__name__}"
        )
    if not tensor.requires_grad or tensor.creator is not None:
        raise ValueError(
            "register_post_accumulate_grad_hook: only a leaf tensor that requires grad "
            "accumulates a gradient into .grad"
        )
    hooks = tensor.__dict__.get("_post_accumulate_hooks")
    if hooks is None:
        hooks = tensor.__dict__["_post_accumulate_hooks"] = []
        active += 1
    hooks.append(hook)
    return RemovableHandle(tensor, hook)


def queue_callback(fn) -> None:
    """Run ``fn()`` once when the backward in progress finishes (call it from a hook)."""
    if not callable(fn):
        raise TypeError(f"queue_callback: fn must be callable, received {type(fn).__name__}")
    _callbacks.append(fn)


def _fire(tensor) -> None:
    for hook in list(tensor.__dict__.get("_post_accumulate_hooks", ())):
        hook(tensor)


class Pass:
    """One backward with hooks registered somewhere: counts, accumulates, fires."""

    def __init__(self, order: list, accumulate):
        self._accumulate = accumulate
        self.pending: dict = {}  # id(leaf) -> ops left that may send it a gradient
        self.touched: dict = {}  # id(leaf) -> leaf, for those that got a gradient
        global _depth, generation
        if _depth == 0:
            _callbacks.clear()  # left by a backward that raised
            generation += 1
        _depth += 1
        for fn in order:
            for x in fn.inputs:
                if x.creator is None and "_post_accumulate_hooks" in x.__dict__:
                    self.pending[id(x)] = self.pending.get(id(x), 0) + 1

    def accumulate(self, x, gx, create_graph: bool, handed=None) -> None:
        self._accumulate(x, gx, create_graph, handed)
        left = self.pending.get(id(x))
        if left is None:
            return
        if left > 1:
            self.pending[id(x)] = left - 1
            self.touched[id(x)] = x
            return
        del self.pending[id(x)]
        self.touched.pop(id(x), None)
        _fire(x)

    def finish(self, completed: bool) -> None:
        """Fire the leaves some of whose ops sent no gradient, then (outermost backward only) the
        queued callbacks. After an error, nothing fires."""
        global _depth
        _depth -= 1
        if not completed:
            return
        for x in list(self.touched.values()):
            _fire(x)
        self.touched.clear()
        if _depth == 0:
            run_callbacks()


def run_callbacks() -> None:
    while _callbacks:
        _callbacks.pop(0)()


def accumulate_root(accumulate, x, gx, create_graph: bool) -> None:
    """``backward`` called on a leaf itself: its gradient is complete at once."""
    accumulate(x, gx, create_graph)
    global generation
    if active and "_post_accumulate_hooks" in x.__dict__:
        if _depth == 0:
            _callbacks.clear()  # left by a backward that raised
            generation += 1
        _fire(x)
        if _depth == 0:
            run_callbacks()


class finishing:  # noqa: N801 - a context manager, used as a statement
    """Around the engine's loop: ``pass_.finish`` when it ends, telling whether it completed."""

    def __init__(self, pass_):
        self._pass = pass_

    def __enter__(self):
        return self._pass

    def __exit__(self, kind, value, tb):
        if self._pass is not None:
            self._pass.finish(kind is None)
        return False
