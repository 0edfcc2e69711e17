"""Run the examples in the installed Keras 3's docstrings on real Keras and on zerograd's facade.

Each public object of ``keras.ops``, ``keras.layers``, ``keras.losses``, ``keras.metrics``,
``keras.activations``, ``keras.optimizers``, ``keras.callbacks``, ``keras.utils``,
``keras.initializers``, ``keras.regularizers``, ``keras.constraints`` and ``keras.random`` whose
docstring has ``>>>`` examples is one case. A case runs its statements in order in a fresh namespace
(``np``, ``keras``, ``ops``, ``layers``) and passes when none raises; printed values are not
compared. The same object's examples then run with zerograd's facade bound to those names. The
Keras package is not part of the project: this only reads its installed docstrings.

    KERAS_BACKEND=torch python scripts/keras_docstrings.py [--show-errors] [--only ops]
"""

from __future__ import annotations

import argparse
import doctest
import importlib
import os
import sys
import traceback
from collections import Counter

os.environ.setdefault("KERAS_BACKEND", "torch")
MODULES = [
    "ops",
    "layers",
    "losses",
    "metrics",
    "activations",
    "optimizers",
    "callbacks",
    "utils",
    "initializers",
    "regularizers",
    "constraints",
    "random",
]


def examples(keras, module: str) -> list[tuple[str, list[str]]]:
    """(qualified name, [source of each statement]) for every object with ``>>>`` examples."""
    parser, out, seen = doctest.DocTestParser(), [], set()
    mod = getattr(keras, module)
    for name in sorted(dir(mod)):
        if name.startswith("_"):
            continue
        obj = getattr(mod, name)
        doc = getattr(obj, "__doc__", None)
        if not doc or ">>>" not in doc or id(doc) in seen:
            continue
        seen.add(id(doc))
        statements = [ex.source for ex in parser.get_examples(doc)]
        if statements:
            out.append((f"{module}.{name}", statements))
    return out


def run(statements: list[str], keras, np) -> str | None:
    ns = {"np": np, "numpy": np, "keras": keras, "ops": keras.ops, "layers": keras.layers}
    for src in statements:
        try:
            exec(compile(src, "<docstring>", "exec"), ns)  # noqa: S102 - Keras's own examples
        except Exception as e:  # noqa: BLE001 - any failure of the example counts
            return f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''} [{src.strip()[:80]}]"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", nargs="*", default=MODULES)
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    import numpy as np

    real = importlib.import_module("keras")
    from zerograd import keras as ours

    totals = Counter()
    for module in args.only:
        cases = examples(real, module)
        ran, passed, errors = 0, 0, []
        for name, statements in cases:
            if run(statements, real, np) is not None:
                continue  # fails on Keras itself (TensorFlow-only, a download...): not counted
            ran += 1
            err = run(statements, ours, np)
            if err is None:
                passed += 1
            else:
                errors.append((name, err))
        totals.update(cases=len(cases), ran=ran, passed=passed)
        print(
            f"{module:14s} examples {len(cases):4d}  run on Keras {ran:4d}  on zerograd {passed:4d}"
        )
        if args.show_errors:
            for name, err in errors:
                print(f"    {name}: {err}")
        sys.stdout.flush()
    print(
        f"{'total':14s} examples {totals['cases']:4d}  run on Keras {totals['ran']:4d}  on zerograd {totals['passed']:4d}"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        traceback.print_exc()
