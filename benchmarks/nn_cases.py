"""Layer and training-step cases."""

import numpy as np
import torch

import zerograd as zg
from benchmarks import case


@case("mlp_train")
def mlp_train():
    """784-256-128-10 MLP, batch 128, one SGD step (forward, cross-entropy-free MSE, backward)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.standard_normal((128, 10)).astype(np.float32)
    tm = torch.nn.Sequential(
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    zl = [zg.nn.Linear(784, 256), zg.nn.Linear(256, 128), zg.nn.Linear(128, 10)]
    for z, t in zip(zl, [tm[0], tm[2], tm[4]]):
        z.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    zx, zy, tx, ty = zg.tensor(x), zg.tensor(y), torch.from_numpy(x), torch.from_numpy(y)
    zparams = [p for m in zl for p in m.parameters()]

    def zg_step():
        h = zl[2](zl[1](zl[0](zx).relu()).relu())
        loss = ((h - zy) ** 2).mean()
        for p in zparams:
            p.grad = None
        loss.backward()
        with zg.no_grad():
            for p in zparams:
                p.data -= 0.01 * p.grad.data

    def torch_step():
        loss = ((tm(tx) - ty) ** 2).mean()
        tm.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in tm.parameters():
                p -= 0.01 * p.grad

    return zg_step, torch_step
