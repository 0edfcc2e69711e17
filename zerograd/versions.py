"""Version counters of array storages, so that a backward can tell whether what it saved was
overwritten after the forward (as PyTorch's version counter).

A storage is the array that owns the memory: views (``reshape``, slicing, ``.T``, ``detach()``)
share their base's counter, so a write through one is seen through all. The in-place methods of
Tensor (``fill_``, ``zero_``, ``copy_``, ``x[i] = v``) and the initialisers of ``zerograd.nn.init``
bump it, and so does ``Optimizer.step`` for each parameter it updates (as PyTorch's in-place
updates do). Other writes through ``.data`` are not counted, as with PyTorch's ``.data``.

Cost: nothing per op. The engine stamps each recorded op with ``epoch`` (the count of in-place
writes in the process) and, at backward, looks at the op's saved arrays only when a write happened
after that stamp.
"""

from __future__ import annotations

import weakref

from zerograd import backend

epoch = 0  # in-place writes so far in this process
_HISTORY = 64  # write stamps kept per storage, to tell the version an op saw
_storages: dict = {}  # id(storage) -> [version, stamps of its latest writes]


def storage(a):
    """The array that owns ``a``'s memory (``a`` itself when it is not a view)."""
    b = getattr(a, "base", None)
    while b is not None and (isinstance(b, backend.np.ndarray) or backend.is_device_array(b)):
        a, b = b, b.base
    return a


def bump(a) -> None:
    """Count one in-place write into the storage of array ``a``."""
    global epoch
    epoch += 1
    s = storage(a)
    key = id(s)
    record = _storages.get(key)
    if record is None:
        record = _storages[key] = [0, []]
        try:  # forget the storage with it: a later array may take its id
            weakref.finalize(s, _storages.pop, key, None)
        except TypeError:  # an array type without weak references: the entry stays
            pass
    record[0] += 1
    record[1].append(epoch)
    if len(record[1]) > _HISTORY:
        del record[1][0]


def version(a) -> int:
    """How many in-place writes the storage of array ``a`` has had."""
    record = _storages.get(id(storage(a)))
    return 0 if record is None else record[0]


def written_since(a, stamp: int):
    """``(version then, version now)`` when ``a``'s storage was written after ``stamp``, else None.
    The version then is None when more writes followed than the history keeps."""
    record = _storages.get(id(storage(a)))
    if record is None or record[1][-1] <= stamp:
        return None
    later = sum(1 for e in record[1] if e > stamp)
    then = None if later == len(record[1]) and record[0] > later else record[0] - later
    return then, record[0]


_ENGINE_ATTRS = frozenset({"saved", "inputs", "xp", "_outs", "_epoch", "_trace", "_freed"})


def _kept(fn):
    """What ``fn`` keeps for its backward, described: its saved values, then the arrays it holds
    as attributes (indices, conditions, masks)."""
    for i, s in enumerate(getattr(fn, "saved", ())):
        yield f"saved value {i}", s
    for name, v in vars(fn).items():
        if name not in _ENGINE_ATTRS:
            yield f"argument {name!r}", v


def check_saved(fn) -> None:
    """Raise if an array that ``fn`` kept for backward was written in place after ``fn`` ran.
    Only runs when some in-place write happened after ``fn`` (the engine's stamp check)."""
    stamp = fn._epoch
    for what, s in _kept(fn):
        if type(s).__name__ == "Tensor":
            s = s.data
        if not (isinstance(s, backend.np.ndarray) or backend.is_device_array(s)):
            continue
        changed = written_since(s, stamp)
        if changed is None:
            continue
        then, now = changed
        then = "an earlier version" if then is None else f"version {then}"
        where = ""
        if getattr(fn, "_trace", None) is not None:  # kept in anomaly mode
            from zerograd.autograd_anomaly import where as _where

            where = f"; the op was {_where(fn)}"
        raise RuntimeError(
            f"{type(fn).__name__}: one of the tensors saved for backward ({what}, shape "
            f"{tuple(s.shape)}) was modified in place after the forward ({then} saved, now version "
            f"{now}){where}. Clone it before the in-place change (x.clone()), or make the change "
            "after backward"
        )
