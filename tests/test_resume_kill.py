"""Exact resume under SIGKILL: a training run killed at random points (between steps, inside a
step, inside the checkpoint save) and started again with the same command ends with parameters
bitwise equal to a run never interrupted, and leaves no temporary file behind."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and fork semantics")

ROOT = Path(__file__).resolve().parents[1]

# The training command. ZG_KILL=kind:n makes it kill itself once, at a chosen point (steps and
# saves counted from the start of this launch):
#   mid:n      inside the n-th step, after backward, before the optimizer's update
#   opt:n      inside the n-th step's optimizer update, after the first parameter was changed
#   between:n  after the n-th step (and its save, if any), before the next one starts
#   write:n    in this launch's n-th save, after the temp file is written, truncated to half
#   replace:n  in the n-th save, after the temp is complete and synced, before the rename
#   renamed:n  in the n-th save, right after the rename, before the save returns
SCRIPT = r"""
import os, signal, sys
import numpy as np
import zerograd as zg
from zerograd import nn, optim
from zerograd.data import DataLoader, TensorDataset
from zerograd.io import load_checkpoint, save_checkpoint, save_safetensors

EPOCHS, BATCH, SAVE_EVERY = 3, 8, 5
kind, _, n = os.environ.get("ZG_KILL", "none:0").partition(":")
n = int(n)

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if kind in ("write", "replace", "renamed"):
    import safetensors.numpy as stn
    saves = [0]
    real_save, real_replace = stn.save_file, os.replace
    def save_file(arrays, filename, metadata=None):
        saves[0] += 1
        real_save(arrays, filename, metadata=metadata)
        if kind == "write" and saves[0] == n:
            with open(filename, "r+b") as f:
                f.truncate(os.path.getsize(filename) // 2)
            die()
    def replace(src, dst):
        if kind == "replace" and saves[0] == n:
            die()
        real_replace(src, dst)
        if kind == "renamed" and saves[0] == n:
            die()
    stn.save_file, os.replace = save_file, replace

zg.manual_seed(0)
data = np.random.default_rng(1)
x = data.normal(size=(96, 6)).astype(np.float32)
y = data.integers(0, 3, size=96)
loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)
model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
opt = optim.AdamW(model.parameters(), lr=0.02, weight_decay=0.05)
total = EPOCHS * len(loader)
sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
if kind == "opt":
    real_update = opt.update
    calls = [0]
    def update(p, g, state, group):
        real_update(p, g, state, group)
        calls[0] += 1
        if calls[0] == (n - 1) * 4 + 1:
            die()
    opt.update = update

step = here = 0
if os.path.exists("ckpt.safetensors"):
    step = load_checkpoint(
        "ckpt.safetensors", model=model, optimizer=opt, scheduler=sched, loader=loader
    )["step"]
model.train()
for epoch in range(step // len(loader), EPOCHS):
    for xb, yb in loader:
        loss = zg.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        if kind == "mid" and here + 1 == n:
            die()
        opt.step()
        sched.step()
        step += 1
        here += 1
        if step % SAVE_EVERY == 0:
            save_checkpoint(
                "ckpt.safetensors", model=model, optimizer=opt, scheduler=sched, step=step,
                loader=loader,
            )
        if kind == "between" and here == n:
            die()
save_safetensors(model.state_dict(), "final.safetensors")
"""

KINDS = ("mid", "opt", "between", "write", "replace", "renamed")


def _launch(workdir: Path, kill: str | None, after: float | None = None) -> int:
    env = {**os.environ, "ZG_KILL": kill or "none:0", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "script.py"], cwd=workdir, env=env)
    if after is not None:
        try:
            proc.wait(timeout=after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=120)  # reaped: a killed writer's pid is gone


def _final(workdir: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(workdir / "final.safetensors"))


def _run_dir(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "script.py").write_text(SCRIPT)
    return d


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    d = _run_dir(tmp_path_factory.mktemp("resume"), "baseline")
    start = time.perf_counter()
    assert _launch(d, None) == 0
    return _final(d), time.perf_counter() - start


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_killed_runs_resume_bitwise(tmp_path, baseline, seed):
    expected, seconds = baseline
    rng = random.Random(seed)
    # four kills of four kinds (the three seeds cover every kind twice) at random steps and in a
    # random order, then one at a random moment of wall-clock time, then runs until it completes.
    # Each kill comes within 6 steps of its launch: 36 steps with a save every 5 leave a step and
    # a save to reach for every kill.
    kinds = [KINDS[(2 * seed + i) % len(KINDS)] for i in range(4)]
    rng.shuffle(kinds)
    plan = [f"{k}:{rng.randint(1, 6) if k in ('mid', 'opt', 'between') else 1}" for k in kinds]
    d = _run_dir(tmp_path, "run")
    killed = 0
    for kill in plan:
        rc = _launch(d, kill)
        assert rc == -signal.SIGKILL, f"{kill}: the script did not reach its kill point (rc {rc})"
        killed += 1
        if kill.startswith(("write", "replace")):  # the killed save left its temp (until the next)
            assert any(".zgtmp-" in p.name for p in d.iterdir()), f"{kill}: no temp left behind"
    rc = _launch(d, None, after=rng.uniform(0.2, 1.0) * seconds)
    killed += rc == -signal.SIGKILL
    for _ in range(5):
        if rc == 0:
            break
        rc = _launch(d, None)
        assert rc in (0, -signal.SIGKILL), f"the resumed run failed (rc {rc})"
    got = _final(d)
    assert got.keys() == expected.keys()
    for k in expected:
        assert got[k].dtype == expected[k].dtype
        assert got[k].tobytes() == expected[k].tobytes(), f"{k} differs after {killed} kills"
    leftovers = sorted(p.name for p in d.iterdir() if ".zgtmp-" in p.name)
    assert leftovers == [], f"orphaned temporary files: {leftovers}"
