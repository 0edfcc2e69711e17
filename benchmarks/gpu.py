"""Device benchmarks, zerograd (CuPy) beside PyTorch eager on the same GPU:
``python -m benchmarks --device cuda [--only gpt2_train] [--only bert_infer]``.

- ``gpt2_train``: GPT-2 124M (12 layers, d_model 768, 12 heads, vocabulary 50257, context 1024),
  batch 8, AdamW, mixed precision (``zg.autocast("cuda", dtype="float16")`` + ``zg.amp.GradScaler``;
  ``torch.autocast`` + ``torch.amp.GradScaler``), both from the same weights on the same batches.
  Reports tokens per second over the steps after the warm-up, the two loss curves and their
  largest relative difference (target: within 1%), and the peak memory of one training step.
- ``bert_infer``: a BERT-base-sized encoder (random weights, the same in both), batch 32 x 128
  tokens, float32 inference: sequences per second and the largest absolute output difference.

The PyTorch side is transformers' model where transformers is installed, otherwise a hand-written
torch twin with the same parameter names (``benchmarks.gpu_twins``); the device (clocks, memory)
is ``benchmarks.gpu_device``. ``--device cpu`` runs the same code on the CPU, by default at tiny
sizes (``--gpu-size tiny``): that is how it is tested without a GPU. Each framework's part runs on its own: an error is recorded in the JSON (``error``) and the
other side still runs. With ``$OUT`` set (or ``--gpu-json PATH``), the results are written as JSON
after every case, so a run cut short keeps what it measured. The exit status is 0 when every case
ran on both sides and its outputs agreed (``ok``), 1 otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback

import numpy as np

from benchmarks.gpu_device import Device, versions

SIZES = {
    "full": {
        "gpt2_train": dict(
            n_layer=12, n_embd=768, n_head=12, vocab=50257, ctx=1024, n_positions=1024,
            batch=8, steps=50, warmup=5, lr=3e-4,
        ),
        "bert_infer": dict(
            vocab=30522, hidden=768, layers=12, heads=12, intermediate=3072, max_positions=512,
            batch=32, seq=128, steps=20, warmup=3,
        ),
    },
    "tiny": {
        "gpt2_train": dict(
            n_layer=2, n_embd=32, n_head=2, vocab=128, ctx=16, n_positions=32,
            batch=2, steps=6, warmup=2, lr=3e-3,
        ),
        "bert_infer": dict(
            vocab=200, hidden=32, layers=2, heads=2, intermediate=64, max_positions=64,
            batch=4, seq=16, steps=3, warmup=1,
        ),
    },
}  # fmt: skip
CASES = ("gpt2_train", "bert_infer")
LOSS_RTOL = 0.01  # the issue's target: loss curves within 1% of PyTorch's
BERT_ATOL = 1e-3  # largest |difference| of the float32 outputs (hidden states after LayerNorm)


def add_arguments(parser) -> None:
    """The options of the device cases, on ``python -m benchmarks``'s parser."""
    g = parser.add_argument_group("device cases (with --device: gpt2_train, bert_infer)")
    g.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        help="run the device cases (benchmarks.gpu) on this device instead of the CPU suite",
    )
    g.add_argument("--gpu-size", choices=tuple(SIZES), help="full (cuda default) or tiny (cpu)")
    g.add_argument("--gpu-steps", type=int, help="training steps / inference batches per side")
    g.add_argument("--gpu-warmup", type=int, help="untimed steps first (at least 1)")
    g.add_argument("--gpu-batch", type=int, help="batch size")
    g.add_argument(
        "--gpu-amp",
        choices=("auto", "on", "off"),
        default="auto",
        help="float16 autocast + GradScaler in gpt2_train (auto: on for cuda, off for cpu)",
    )
    g.add_argument(
        "--gpu-twin",
        choices=("auto", "transformers", "handwritten"),
        default="auto",
        help="the PyTorch model: transformers where installed (auto) or the hand-written one",
    )
    g.add_argument(
        "--gpu-time-limit",
        type=float,
        default=90.0,
        help="seconds of steps per side and case before stopping early (a slow side cannot "
        "eat the device time)",
    )
    g.add_argument("--gpu-json", help="write the results here (default: $OUT/gpu_bench.json)")


# --- running the steps -----------------------------------------------------------------------


def run_steps(step, n: int, warmup: int, sync, limit_s: float, peak=None) -> dict:
    """Call ``step(i)`` for i < n. Steps from ``warmup`` on are timed (the device synchronised
    before each clock reading); the last warm-up step runs inside ``peak`` (memory of one step).
    Stops early once the steps after the first (which compiles the device kernels) have taken
    ``limit_s`` seconds. Returns the step results and the timing."""
    if warmup < 1 or n <= warmup:
        raise ValueError(f"benchmarks.gpu: need 1 <= warmup < steps, received {warmup}, {n}")
    results, t0 = [], None
    begin = time.perf_counter()
    first = None
    for i in range(n):
        if i == warmup:
            sync()
            t0 = time.perf_counter()
        with peak if (peak is not None and i == warmup - 1) else contextlib.nullcontext():
            results.append(step(i))
        if i == 0:
            sync()
            first = time.perf_counter() - begin
            begin += first
        elif time.perf_counter() - begin > limit_s and i < n - 1:
            break
    sync()
    timed = len(results) - warmup
    seconds = time.perf_counter() - t0 if timed > 0 else None
    return {
        "results": results,
        "timed_steps": max(timed, 0),
        "seconds": seconds,
        "first_step_s": round(first, 3),
    }


def _side(fn, into: dict) -> None:
    """Run one framework's part; an error is recorded, not raised (the other side still runs)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - reported in the JSON and the table
        into["error"] = f"{type(e).__name__}: {e}"
        into["traceback"] = traceback.format_exc(limit=-12)


def _zg_amp(dev: Device, on: bool):
    """(autocast context factory, scaler or None) of zerograd."""
    import zerograd as zg

    if not on:
        return contextlib.nullcontext, None
    if not hasattr(zg, "autocast") or not hasattr(zg, "amp"):
        raise RuntimeError(
            "zerograd has no zg.autocast / zg.amp.GradScaler (zerograd/amp missing): "
            "run with --gpu-amp off"
        )
    return (lambda: zg.autocast(dev.name, dtype="float16")), zg.amp.GradScaler(dev.name)


def batches(steps: int, batch: int, ctx: int, vocab: int, seed: int = 0) -> np.ndarray:
    """(steps, batch, ctx + 1) token ids of a Markov chain over up to 1,024 tokens of the
    vocabulary (4 successors each): learnable, so the loss curve falls and the two frameworks'
    curves are compared while they move, not on a flat line at log(vocab)."""
    rng = np.random.default_rng(seed)
    n = min(vocab, 1024)
    words = rng.permutation(vocab)[:n]
    state = rng.integers(0, n, steps * batch)
    out = np.empty((steps * batch, ctx + 1), dtype=np.int64)
    for t in range(ctx + 1):
        out[:, t] = words[state]
        state = (state * 5 + 1 + rng.integers(0, 4, state.shape)) % n
    return out.reshape(steps, batch, ctx + 1)


def gpt2_train(dev: Device, s: dict, amp: bool, twin: str, limit_s: float, res: dict, save):
    """zerograd and PyTorch train the same GPT-2 from the same weights on the same batches; the
    results go into ``res``, ``save()`` after each side."""
    import zerograd as zg
    from benchmarks.gpu_twins import gpt_state
    from benchmarks.memory import gpt_model

    n, warmup, B, T, V = s["steps"], s["warmup"], s["batch"], s["ctx"], s["vocab"]
    data = batches(n, B, T, V)
    zg.manual_seed(0)
    model, _ = gpt_model(s)
    state = gpt_state(model)  # the PyTorch twin's weights, taken before any step
    res.update(unit="tokens/s", config=s, amp=amp)
    z, t = res["zerograd"], res["torch"] = {}, {}

    def run_zerograd():
        autocast, scaler = _zg_amp(dev, amp)
        model.to(dev.name).train()
        opt = zg.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=0.01)

        def step(i):
            with autocast():
                loss, _ = model(data[i, :, :-1], targets=data[i, :, 1:])
            opt.zero_grad()
            if scaler is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            return loss.data  # a device scalar: read after the run, not a sync per step

        r = run_steps(step, n, warmup, dev.zg_sync, limit_s, dev.zg_peak(z))
        z["losses"] = [float(zg.backend.to_numpy(v)) for v in r["results"]]
        _throughput(z, r, B * T, "tokens_per_s")
        if scaler is not None:
            z["final_scale"] = float(scaler.get_scale())

    _side(run_zerograd, z)
    save()
    model = None
    dev.zg_release(z)

    def run_torch():
        import torch
        import torch.nn.functional as F

        from benchmarks.gpu_twins import gpt_twin

        torch.manual_seed(0)
        ref, forward, t["twin"] = gpt_twin(s, state, twin)
        ref.to(dev.torch_name).train()
        opt = torch.optim.AdamW(ref.parameters(), lr=s["lr"], weight_decay=0.01)
        scaler = torch.amp.GradScaler(dev.torch_name) if amp else None
        tdata = torch.from_numpy(data).to(dev.torch_name)

        def step(i):
            x, y = tdata[i, :, :-1], tdata[i, :, 1:]
            with torch.autocast(dev.torch_name, dtype=torch.float16, enabled=amp):
                logits = forward(x)
                loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            return loss.detach()

        r = run_steps(step, n, warmup, dev.torch_sync, limit_s, dev.torch_peak(t))
        t["losses"] = [float(v) for v in torch.stack(r["results"]).float().cpu()]
        _throughput(t, r, B * T, "tokens_per_s")
        if scaler is not None:
            t["final_scale"] = float(scaler.get_scale())

    _side(run_torch, t)
    save()
    state = None
    dev.torch_release(t)
    if "losses" in z and "losses" in t:
        m = min(len(z["losses"]), len(t["losses"]))
        a, b = np.array(z["losses"][:m]), np.array(t["losses"][:m])
        res["loss_steps_compared"] = m
        res["loss_max_rel_diff"] = float(np.max(np.abs(a - b) / np.abs(b)))
        res["loss_within_1pct"] = bool(res["loss_max_rel_diff"] <= LOSS_RTOL)
    res["ok"] = bool(res.get("loss_within_1pct")) and "error" not in z and "error" not in t
    _ratio(res, "tokens_per_s")


def bert_infer(dev: Device, s: dict, amp: bool, twin: str, limit_s: float, res: dict, save):
    """zerograd and PyTorch run the same BERT encoder forward on the same batch, float32; the
    results go into ``res``, ``save()`` after each side."""
    import zerograd as zg
    from benchmarks.gpu_twins import bert_state
    from zerograd.models import BERT
    from zerograd.models.bert import BertConfig

    n, warmup, B, T = s["steps"], s["warmup"], s["batch"], s["seq"]
    zg.manual_seed(0)
    cfg = BertConfig(
        vocab_size=s["vocab"],
        hidden_size=s["hidden"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        intermediate_size=s["intermediate"],
        max_position_embeddings=s["max_positions"],
    )
    model = BERT(cfg).eval()
    state = bert_state(model)
    ids = np.random.default_rng(0).integers(1, s["vocab"], (B, T))
    mask = np.ones_like(ids)
    res.update(unit="seqs/s", config=s, amp=False)
    z, t = res["zerograd"], res["torch"] = {}, {}
    outs = {}

    def run_zerograd():
        model.to(dev.name)

        def step(i):  # only the last output is kept: not one per step in device memory
            with zg.no_grad():
                outs["zerograd"] = model(ids, mask)

        r = run_steps(step, n, warmup, dev.zg_sync, limit_s, dev.zg_peak(z))
        outs["zerograd"] = [zg.backend.to_numpy(a.data) for a in outs["zerograd"]]
        _throughput(z, r, B, "seqs_per_s")

    _side(run_zerograd, z)
    save()
    model = None
    dev.zg_release(z)

    def run_torch():
        import torch

        from benchmarks.gpu_twins import bert_twin

        ref, forward, t["twin"] = bert_twin(s, state, twin)
        ref.to(dev.torch_name).eval()
        tids, tmask = (torch.from_numpy(a).to(dev.torch_name) for a in (ids, mask))

        def step(i):
            with torch.no_grad():
                outs["torch"] = forward(tids, tmask)

        r = run_steps(step, n, warmup, dev.torch_sync, limit_s, dev.torch_peak(t))
        outs["torch"] = [a.float().cpu().numpy() for a in outs["torch"]]
        _throughput(t, r, B, "seqs_per_s")

    _side(run_torch, t)
    save()
    dev.torch_release(t)
    if "error" not in z and "error" not in t:
        diffs = [float(np.max(np.abs(a - b))) for a, b in zip(outs["zerograd"], outs["torch"])]
        res["max_abs_diff"] = max(diffs)  # over the last hidden state and the pooled output
        res["outputs_agree"] = bool(res["max_abs_diff"] <= BERT_ATOL)
    res["ok"] = bool(res.get("outputs_agree")) and "error" not in z and "error" not in t
    _ratio(res, "seqs_per_s")


def _throughput(side: dict, r: dict, per_step: int, key: str) -> None:
    side["steps_done"] = len(r["results"])
    side["timed_steps"] = r["timed_steps"]
    side["first_step_s"] = r["first_step_s"]  # with the device kernels' compilation
    if r["seconds"]:
        side["seconds"] = round(r["seconds"], 4)
        side[key] = round(r["timed_steps"] * per_step / r["seconds"], 2)


def _ratio(res: dict, key: str) -> None:
    z, t = res["zerograd"], res["torch"]
    if z.get(key) and t.get(key):
        res["speed_ratio"] = round(z[key] / t[key], 3)  # zerograd / PyTorch: 1.0 = as fast


RUNNERS = {"gpt2_train": gpt2_train, "bert_infer": bert_infer}


def sizes(device: str, args) -> dict:
    """The shapes of each case: the preset, then the command line's overrides."""
    preset = args.gpu_size or ("full" if device == "cuda" else "tiny")
    out = {k: dict(v) for k, v in SIZES[preset].items()}
    for s in out.values():
        for opt, key in (("gpu_steps", "steps"), ("gpu_warmup", "warmup"), ("gpu_batch", "batch")):
            if getattr(args, opt, None) is not None:
                s[key] = getattr(args, opt)
    return out


def run(device: str, names, args, torch_device: str | None = None) -> dict:
    """Run the cases ``names`` on ``device`` (PyTorch's side on ``torch_device``, by default the
    same); the results as one JSON-ready dict."""
    dev = Device(device, torch_device)
    amp = {"on": True, "off": False, "auto": dev.cuda}[args.gpu_amp]
    shapes = sizes(device, args)
    report = {**dev.describe(), "versions": versions(), "cases": []}
    path = args.gpu_json or (
        os.path.join(os.environ["OUT"], "gpu_bench.json") if os.environ.get("OUT") else None
    )

    def save():
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                json.dump(report, f, indent=1)

    for name in names:
        t0 = time.perf_counter()
        r = {"case": name}
        report["cases"].append(r)  # in the file from the start: a run cut short shows where
        try:
            RUNNERS[name](dev, shapes[name], amp, args.gpu_twin, args.gpu_time_limit, r, save)
        except Exception as e:  # noqa: BLE001 - building the case failed: recorded, next case
            r["error"] = f"{type(e).__name__}: {e}"
            r["traceback"] = traceback.format_exc(limit=-12)
        r.setdefault("ok", False)
        r["wall_s"] = round(time.perf_counter() - t0, 2)
        print(row(r), flush=True)
        save()
    report["json"] = path
    return report


def header() -> str:
    return f"{'case':<12}{'zerograd':>12}{'torch':>12}{'ratio':>7}  {'unit':<9}check"


def row(r: dict) -> str:
    """One line of the table: throughput of both sides, their ratio and the agreement check."""
    if "zerograd" not in r:
        return f"{r['case']:<12} failed: {r.get('error')}"
    key = "tokens_per_s" if r["case"] == "gpt2_train" else "seqs_per_s"

    def fmt(side):
        v = r[side].get(key)
        return f"{v:>12.1f}" if v is not None else f"{'error' if 'error' in r[side] else '-':>12}"

    ratio = f"{r['speed_ratio']:>7.2f}" if "speed_ratio" in r else f"{'-':>7}"
    if r["case"] == "gpt2_train":
        check = (
            f"loss max rel diff {r['loss_max_rel_diff']:.2e} over {r['loss_steps_compared']} steps"
            if "loss_max_rel_diff" in r
            else "loss curves not compared"
        )
    else:
        check = f"max abs diff {r['max_abs_diff']:.2e}" if "max_abs_diff" in r else "not compared"
    mem = [r[s].get("peak_mib") for s in ("zerograd", "torch")]
    lines = [f"{r['case']:<12}{fmt('zerograd')}{fmt('torch')}{ratio}  {r['unit']:<9}{check}"]
    if any(m is not None for m in mem):
        lines.append(f"{'  peak MiB':<12}{mem[0] or 0:>12.1f}{mem[1] or 0:>12.1f}")
    for side in ("zerograd", "torch"):
        if "error" in r[side]:
            lines.append(f"  {side} error: {r[side]['error']}")
    return "\n".join(lines)


def main(args) -> int:
    """``python -m benchmarks --device ...``: run, print the table, write the JSON."""
    names = args.only or list(CASES)
    unknown = [n for n in names if n not in RUNNERS]
    if unknown:
        print(f"unknown device case(s) {unknown}; known: {list(CASES)}", file=sys.stderr)
        return 2
    print(f"device cases on {args.device} (ratio = zerograd / PyTorch throughput)")
    print(header(), flush=True)
    try:
        report = run(args.device, names, args)
    except RuntimeError as e:  # no device
        print(str(e), file=sys.stderr)
        return 2
    print(f"device: {report['device_name']}; JSON: {report['json'] or '(set $OUT or --gpu-json)'}")
    return 0 if all(r.get("ok") for r in report["cases"]) else 1
