"""Run the benchmark cases and print a table (or JSON lines with --json)."""

from __future__ import annotations

import argparse
import json
import os

from benchmarks import CASES, run_case


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", action="append", help="run only this case (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per case")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import torch

    # same threads on both sides: PyTorch's intra-op pool sized as the BLAS pool NumPy uses
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    from benchmarks import engine, models, nn_cases  # noqa: F401 - registers the cases

    names = args.only or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; known: {sorted(CASES)}")
    if not args.json:
        print(f"{'case':<18}{'zerograd ms':>14}{'torch ms':>12}{'ratio':>9}   (threads={threads})")
    for name in names:
        r = run_case(name, args.repeats)
        if args.json:
            print(json.dumps(r))
        else:
            print(
                f"{r['case']:<18}{r['zerograd_ms']:>14.3f}{r['torch_ms']:>12.3f}{r['ratio']:>9.2f}"
            )


if __name__ == "__main__":
    main()
