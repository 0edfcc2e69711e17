"""Run the benchmark cases and print a table (or JSON lines with --json).

``--device cuda`` (or ``cpu``) runs the device cases of ``benchmarks.gpu`` instead of this suite.

``--runs N`` runs the whole suite N times and ends with the median ratio of each case and its
spread (lowest and highest ratio over the runs). The peak memory of ``gpt_train`` and the step
memory of the scale cases (``benchmarks.memory.CASES``) are measured in fresh processes once per
run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

from benchmarks import CASES, run_case


def _row(r: dict) -> str:
    return f"{r['case']:<22}{r['zerograd_ms']:>12.2f}{r['torch_ms']:>12.2f}{r['ratio']:>8.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", action="append", help="run only this case (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per case")
    parser.add_argument("--rounds", type=int, default=5, help="alternating blocks per case")
    parser.add_argument("--runs", type=int, default=1, help="runs of the whole suite")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    from benchmarks import gpu

    gpu.add_arguments(parser)  # --device cuda|cpu and its --gpu-* options
    args = parser.parse_args()
    if args.device:  # the device cases (gpt2_train, bert_infer), not the CPU suite
        raise SystemExit(gpu.main(args))

    import torch

    # same threads on both sides: PyTorch's intra-op pool sized as the BLAS pool NumPy uses
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    from benchmarks import engine, llama_cases, memory, models, nn_cases  # noqa: F401 - registers

    names = args.only or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; known: {sorted(CASES)}")
    ratios: dict = {n: [] for n in names}
    mem_ratios: dict = {n: [] for n in names if n in memory.CASES}
    for run in range(args.runs):
        if not args.json:
            print(f"run {run + 1}/{args.runs}  (threads={threads}, ratio = zerograd / PyTorch)")
            print(f"{'case':<22}{'zerograd ms':>12}{'torch ms':>12}{'ratio':>8}")
        for name in names:
            r = run_case(name, args.rounds)
            ratios[name].append(r["ratio"])
            if args.json:
                print(json.dumps({**r, "run": run + 1}), flush=True)
            else:
                print(_row(r), flush=True)
        for name in mem_ratios if not args.no_memory else ():
            m = memory.measure(name)
            mem_ratios[name].append(m["peak_ratio"])
            if args.json:
                print(json.dumps({**m, "run": run + 1}), flush=True)
            else:
                print(
                    f"{name + ' MiB':<22}{m['zerograd_peak_mib']:>12.1f}"
                    f"{m['torch_peak_mib']:>12.1f}{m['peak_ratio']:>8.2f}",
                    flush=True,
                )
    if args.runs > 1:
        summary = [(n, v) for n, v in ratios.items()]
        summary += [(f"{n} memory", v) for n, v in mem_ratios.items() if v]
        if not args.json:
            print(f"\nover {args.runs} runs: median ratio [lowest, highest]")
        for n, v in summary:
            if args.json:
                print(
                    json.dumps(
                        {
                            "case": n,
                            "ratio_median": statistics.median(v),
                            "ratio_min": min(v),
                            "ratio_max": max(v),
                            "runs": len(v),
                        }
                    )
                )
            else:
                print(f"{n:<22}{statistics.median(v):>8.2f}  [{min(v):.2f}, {max(v):.2f}]")


if __name__ == "__main__":
    main()
