"""The size thresholds of ``zerograd.tuning`` measured: each path's time on both sides of each one.

    python -m benchmarks.thresholds            # a minute or two on 2 cores

For every threshold, the op runs at sizes around it twice, once forced onto each path (the
threshold set to 0, then to infinity), and the table gives the best of several timings of each
and the ratio kernel / NumPy: below 1 the kernel (or the matrix-vector product) is faster. Run it
on a quiet machine; the numbers beside each constant in ``tuning.py`` come from this script.
"""

from __future__ import annotations

import time

import numpy as np

import zerograd as zg
import zerograd.nn.functional as F
from zerograd import backend, kernels, optim, tuning

NEVER = 1 << 62


def best_ms(fn, repeat: int = 7, number: int = 0) -> float:
    """The best of ``repeat`` timings, each of ``number`` calls (chosen for ~20 ms when 0), in ms."""
    fn()
    if not number:
        t0 = time.perf_counter()
        fn()
        number = max(1, int(0.02 / max(time.perf_counter() - t0, 1e-7)))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    time.sleep(0.05)  # let spinning BLAS threads go to sleep between measurements
    return best * 1e3


def sweep(title: str, name: str, sizes, make, paths=("kernel", "NumPy")) -> None:
    """Time ``make(n)()`` at each size with ``tuning.<name>`` at 0 (the first path) and NEVER."""
    print(f"\n{title}  (tuning.{name} = {getattr(tuning, name)})")
    print(f"{'size':>10} {paths[0] + ' ms':>14} {paths[1] + ' ms':>14} {'ratio':>7}")
    old = getattr(tuning, name)
    try:
        for n in sizes:
            times = []
            for value in (0, NEVER):
                setattr(tuning, name, value)
                times.append(best_ms(make(n)))
            print(f"{n:>10} {times[0]:>14.4f} {times[1]:>14.4f} {times[0] / times[1]:>7.2f}")
    finally:
        setattr(tuning, name, old)


def gelu_step(n: int):
    x = zg.randn(n, requires_grad=True)

    def step():
        x.grad = None
        F.gelu(x).sum().backward()

    return step


def layer_norm_step(n: int):
    x = zg.randn(n // 256, 256, requires_grad=True)
    w, b = zg.ones(256, requires_grad=True), zg.zeros(256, requires_grad=True)

    def step():
        x.grad = w.grad = b.grad = None
        F.layer_norm(x, 256, w, b).sum().backward()

    return step


def softmax_step(n: int):
    x = zg.randn(n // 128, 128, requires_grad=True)
    g = zg.randn(n // 128, 128)

    def step():
        x.grad = None
        F.softmax(x, axis=-1).backward(g)

    return step


def column_sums(n: int):
    a = np.random.default_rng(0).standard_normal((n // 64, 64)).astype(np.float32)
    return lambda: backend.sum_axes(np, a, (0,))


def linear_bias(n: int):
    x, w, b = zg.randn(n // 256, 256), zg.randn(256, 256), zg.randn(256)
    return lambda: F.linear(x, w, b)


def adam_step(n: int):
    p = zg.nn.Parameter(zg.randn(n))
    p.grad = zg.randn(n)
    opt = optim.Adam([p], lr=1e-3)
    return opt.step


def attention_no_grad(shape):
    B, H, L, E = shape
    q, k, v = (zg.randn(B, H, L, E) for _ in range(3))

    def run():
        with zg.no_grad():
            F.scaled_dot_product_attention(q, k, v)

    return run


def block_sweep() -> None:
    """ATTENTION_BLOCK is a size to choose, not a switch: time MiniLM's attention at each value."""
    shape = (32, 12, 64, 32)  # MiniLM in bert_infer: batch 32, 12 heads, 64 tokens, head size 32
    print(f"\nattention without gradients, (B, H, L, E) = {shape}, float32")
    print(f"{'ATTENTION_BLOCK':>16} {'ms':>10}")
    old = tuning.ATTENTION_BLOCK
    try:
        for block in [1 << k for k in range(12, 20)]:
            tuning.ATTENTION_BLOCK = block
            print(f"{block:>16} {best_ms(attention_no_grad(shape)):>10.3f}")
    finally:
        tuning.ATTENTION_BLOCK = old


def main() -> None:
    if not kernels.ENABLED:
        raise SystemExit("benchmarks.thresholds: numba is not installed or ZEROGRAD_JIT=0")
    print(f"CPU settings: {tuning.cpu_tuning() or 'none'}; ratio = first path / second path")
    sweep(
        "GELU forward + backward, float32",
        "KERNEL_MIN_SIZE",
        [1 << k for k in (10, 12, 14)] + [24576, 1 << 15, 49152, 1 << 16, 1 << 18],
        gelu_step,
    )
    for title, make in [
        ("layer norm forward + backward over 256 features, float32", layer_norm_step),
        ("softmax forward + backward over 128 classes, float32", softmax_step),
    ]:
        sweep(title, "KERNEL_MIN_SIZE", [1 << k for k in (12, 13, 14, 15, 16, 18)], make)
    sweep(
        "sum over the leading axis of a (n/64, 64) float32 array",
        "SUM_AXES_GEMV_MIN_SIZE",
        [1 << k for k in (8, 10, 12)] + [6144, 1 << 13, 12288, 1 << 14, 1 << 16],
        column_sums,
        paths=("GEMV", "sum"),
    )
    sweep(
        "Linear forward (n/256, 256) x (256, 256) + bias, float32",
        "LINEAR_BIAS_KERNEL_MIN_SIZE",
        [1 << k for k in range(15, 24, 2)],
        linear_bias,
    )
    block_sweep()
    print("\n(per head L * S * E for heads of E = 64 on a batch of 8 x 4 heads)")
    sweep(
        "attention without gradients: blocked threads or NumPy's batched products",
        "ATTENTION_MAX_HEAD",
        [64 * 64 * 64, 128 * 128 * 64, 256 * 256 * 64],
        lambda n: attention_no_grad((8, 4, int(round((n / 64) ** 0.5)), 64)),
        paths=("batched", "blocked"),
    )
    sweep(
        "Adam step, float32",
        "ADAM_PARALLEL_MIN_SIZE",
        [1 << k for k in range(16, 25, 2)] + [3 << 21],
        adam_step,
        paths=("parallel", "serial"),
    )


if __name__ == "__main__":
    main()
