"""Run Keras guide scripts cell by cell on real Keras 3 (torch backend) and on zerograd's facade.

The guides are not part of the project: fetch them (the keras-io repository's ``guides/*.py``) into a
folder and point this script at it. A cell is the code between two top-level docstrings. Each guide
runs in one namespace per side, in a subprocess per side; a cell that fails is recorded and the next
one runs anyway. On the zerograd side the imports are swapped as the README says
(``import keras`` -> ``from zerograd import keras``, ``from keras import X`` ->
``from zerograd.keras import X``). Downloads are replaced on both sides by local data of the same
shapes (Fashion-MNIST for MNIST, seeded noise for the rest), ``epochs=`` is capped, and imports of
TensorFlow and JAX (installed on neither side) are dropped, so the cells that use them fail on real
Keras and are not counted.

    python scripts/keras_guides.py /tmp/guides            # every *.py in the folder
    python scripts/keras_guides.py /tmp/guides/functional_api.py --show-errors
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def cells(source: str) -> list[str]:
    """Split a guide into its code cells (the text between top-level triple-quoted strings)."""
    out, code, in_doc = [], [], False
    for line in source.splitlines():
        if not in_doc and line.startswith('"""'):
            rest = line[3:]
            if '"""' in rest:  # a one-line docstring
                out.append("\n".join(code))
                code = []
                continue
            out.append("\n".join(code))
            code, in_doc = [], True
            continue
        if in_doc:
            if line.rstrip().endswith('"""'):
                in_doc = False
            continue
        code.append(line)
    out.append("\n".join(code))
    return [c for c in out if c.strip()]


def swap_imports(code: str) -> str:
    """The README's import swap."""
    code = re.sub(r"^(\s*)import keras\b(?!\.)", r"\1from zerograd import keras", code, flags=re.M)
    code = re.sub(
        r"^(\s*)from keras(\.[\w.]+)? import", r"\1from zerograd.keras\2 import", code, flags=re.M
    )
    return code


def shorten(code: str, epochs: int) -> str:
    return re.sub(r"\bepochs\s*=\s*\d+", f"epochs={epochs}", code)


# Imports of packages that neither side has (the guides' TensorFlow and JAX asides): dropped on both
# sides so that one such line does not sink the setup cell; the cells that use them then fail on real
# Keras and are not counted.
ABSENT = re.compile(
    r"^\s*(import (tensorflow|tensorflow_datasets|jax)\b.*|from (tensorflow|jax)\b.* import .*)$",
    re.M,
)


def _local_data(keras, limit: int) -> None:
    """Replace the dataset downloads by local data of the same shapes, identically on both sides."""
    import numpy as np

    def fashion():
        import gzip

        root = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))

        def read(name, offset):
            with gzip.open(root / name) as f:
                return np.frombuffer(f.read(), np.uint8, offset=offset)

        xtr = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)[:limit]
        ytr = read("train-labels-idx1-ubyte.gz", 8)[:limit]
        xte = read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)[: limit // 5]
        yte = read("t10k-labels-idx1-ubyte.gz", 8)[: limit // 5]
        return (xtr, ytr), (xte, yte)

    def cifar10():
        rng = np.random.default_rng(0)
        n = limit
        return (
            (rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, (n, 1))),
            (
                rng.integers(0, 256, (n // 5, 32, 32, 3), dtype=np.uint8),
                rng.integers(0, 10, (n // 5, 1)),
            ),
        )

    keras.datasets.mnist.load_data = lambda *a, **k: fashion()
    keras.datasets.cifar10.load_data = lambda *a, **k: cifar10()


def run_side(guide: Path, side: str, epochs: int, limit: int, timeout: int) -> list[dict]:
    """Run one guide on one side in this process; return a record per cell."""
    import signal

    import matplotlib

    matplotlib.use("Agg")
    os.chdir(os.environ.get("GUIDE_WORKDIR", "."))
    if side == "keras":
        import keras
    else:
        from zerograd import keras
    try:
        _local_data(keras, limit)
    except AttributeError:  # the facade may lack a dataset module: the guide's cell will say so
        pass
    ns: dict = {"__name__": "__main__"}
    records = []

    def alarm(*_):
        raise TimeoutError(f"cell ran past {timeout} s")

    signal.signal(signal.SIGALRM, alarm)
    for i, code in enumerate(cells(guide.read_text())):
        code = ABSENT.sub("pass", shorten(code, epochs))
        if side == "zerograd":
            code = swap_imports(code)
        out = io.StringIO()
        t0 = time.time()
        signal.alarm(timeout)
        try:
            with redirect_stdout(out), redirect_stderr(out):
                exec(compile(code, f"{guide.name}[cell {i}]", "exec"), ns)
            error = None
        except BaseException as e:  # noqa: BLE001 - a guide's cell may raise anything
            if isinstance(e, KeyboardInterrupt):
                raise
            tb = traceback.extract_tb(e.__traceback__)
            where = next(
                (f"{f.filename}:{f.lineno}" for f in reversed(tb) if "cell" in f.filename), ""
            )
            error = f"{type(e).__name__}: {str(e)[:300]} ({where})"
        finally:
            signal.alarm(0)
        records.append(
            {
                "cell": i,
                "ok": error is None,
                "error": error,
                "seconds": round(time.time() - t0, 1),
                "first_line": code.strip().splitlines()[0][:80],
                "output": out.getvalue()[-400:],
            }
        )
    return records


def _last_accuracy(output: str) -> float | None:
    """The last ``accuracy: x`` (training or validation) a cell printed, if any."""
    found = re.findall(r"accuracy: ([0-9]*\.[0-9]+)", output)
    return float(found[-1]) if found else None


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--epochs", type=int, default=1, help="cap on every epochs= (default 1)")
    ap.add_argument("--limit", type=int, default=12000, help="training samples of the local data")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    ap.add_argument("--show-errors", action="store_true")
    ap.add_argument(
        "--compare", action="store_true", help="print the last accuracy each side printed per cell"
    )
    ap.add_argument("--side", choices=["keras", "zerograd"], help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help="write every record here")
    args = ap.parse_args()
    if args.side:  # child process: one guide, one side
        print(json.dumps(run_side(args.paths[0], args.side, args.epochs, args.limit, args.timeout)))
        return
    guides = sorted(
        p for path in args.paths for p in ([path] if path.is_file() else path.glob("*.py"))
    )
    report, totals = {}, [0, 0, 0]
    for guide in guides:
        sides = {}
        for side in ("keras", "zerograd"):
            env = dict(os.environ, KERAS_BACKEND="torch", MPLBACKEND="Agg")
            work = Path(f"/tmp/keras-guides-{side}")
            work.mkdir(exist_ok=True)
            env["GUIDE_WORKDIR"] = str(work)
            cmd = [
                sys.executable,
                __file__,
                str(guide),
                "--side",
                side,
                "--epochs",
                str(args.epochs),
                "--limit",
                str(args.limit),
                "--timeout",
                str(args.timeout),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE)
            try:
                sides[side] = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                sides[side] = [{"cell": -1, "ok": False, "error": "crashed: " + proc.stderr[-500:]}]
        ref = {r["cell"]: r for r in sides["keras"]}
        ours = {r["cell"]: r for r in sides["zerograd"]}
        counted = [c for c, r in ref.items() if r["ok"]]
        passed = [c for c in counted if ours.get(c, {}).get("ok")]
        totals[0] += len(ref)
        totals[1] += len(counted)
        totals[2] += len(passed)
        print(
            f"{guide.name:55s} cells {len(ref):3d}  run on Keras {len(counted):3d}  on zerograd {len(passed):3d}"
        )
        if args.compare:
            for c in passed:
                a, b = _last_accuracy(ref[c]["output"]), _last_accuracy(ours[c]["output"])
                if a is not None and b is not None:
                    print(f"    cell {c:3d} last accuracy printed: Keras {a:.4f}  zerograd {b:.4f}")
        if args.show_errors:
            for c in counted:
                if c not in passed:
                    print(
                        f"    cell {c:3d} [{ref[c]['first_line']}] {ours.get(c, {}).get('error')}"
                    )
        report[guide.name] = sides
    print(
        f"{'total':55s} cells {totals[0]:3d}  run on Keras {totals[1]:3d}  on zerograd {totals[2]:3d}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
