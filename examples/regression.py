"""Fit y = 2x + 1 with the low-level API: tensors, autograd and a hand-written SGD step."""

import zerograd as zg


def main(epochs: int = 200, lr: float = 0.1, log_every: int = 20) -> tuple[float, float, float]:
    zg.manual_seed(0)
    x = zg.rand(100, 1) * 2 - 1  # inputs in [-1, 1)
    y = 2 * x + 1 + 0.05 * zg.randn(100, 1)  # the line, plus a little noise

    w = zg.randn(1, 1, requires_grad=True)
    b = zg.zeros(1, requires_grad=True)
    loss = None
    for epoch in range(1, epochs + 1):
        pred = x @ w + b  # forward propagation
        loss = ((pred - y) ** 2).mean()  # mean squared error
        w.grad = b.grad = None
        loss.backward()  # back-propagation
        with zg.no_grad():  # the update step: plain gradient descent
            w.data -= lr * w.grad.data
            b.data -= lr * b.grad.data
        if epoch % log_every == 0 or epoch == 1:
            print(f"epoch {epoch:4d}  loss {loss.item():.6f}")
    print(f"learned w = {w.item():.4f} (true 2), b = {b.item():.4f} (true 1)")
    return w.item(), b.item(), loss.item()


if __name__ == "__main__":
    main()
