"""Checkpoints (zerograd.io.save_checkpoint / load_checkpoint), optimizer and scheduler state,
the DataLoader's position, and the atomic writes under them (temp names, overwrite=False)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import zerograd as zg
from zerograd import nn, optim
from zerograd.data import DataLoader, TensorDataset
from zerograd.io import (
    FileFormatError,
    atomic_path,
    clean_stale_temps,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    save_safetensors,
)
from zerograd.optim import lr_scheduler as S

X = np.random.default_rng(0).normal(size=(16, 5)).astype(np.float32)
Y = np.random.default_rng(1).normal(size=(16, 2)).astype(np.float32)

OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.05),
    "sgd_nesterov": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adam_amsgrad": lambda p: optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.05, lr_decay=0.01),
    "adadelta": lambda p: optim.Adadelta(p, lr=1.0),
    "lion": lambda p: optim.Lion(p, lr=1e-3, weight_decay=0.1),
}


def _model(seed=0):
    zg.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 2))


def _step(model, opt, sched=None):
    loss = ((model(zg.Tensor(X)) - zg.Tensor(Y)) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()


def _params(model):
    return [p.numpy().tobytes() for p in model.parameters()]


def _same_state(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same_state(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same_state(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    else:
        assert a == b or (a != a and b != b), (a, b)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_round_trip_bitwise(tmp_path, name):
    model = _model()
    opt = OPTIMIZERS[name](model.parameters())
    sched = S.ExponentialLR(opt, gamma=0.9)  # the lr a scheduler set comes back too
    for _ in range(3):
        _step(model, opt, sched)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, step=3)
    model2 = _model(seed=7)
    opt2 = OPTIMIZERS[name](model2.parameters())
    sched2 = S.ExponentialLR(opt2, gamma=0.9)
    info = load_checkpoint(path, model=model2, optimizer=opt2, scheduler=sched2)
    assert info["step"] == 3
    _same_state(opt.state_dict(), opt2.state_dict())
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.9**3 * opt.defaults["lr"]
    state = zg.get_rng_state()  # continue both runs with the same dropout masks
    for _ in range(3):
        _step(model, opt, sched)
    zg.set_rng_state(state)
    for _ in range(3):
        _step(model2, opt2, sched2)
    assert _params(model) == _params(model2)


def _schedulers(opt):
    return {
        "step": lambda: S.StepLR(opt, step_size=2, gamma=0.5),
        "multistep": lambda: S.MultiStepLR(opt, milestones=[2, 5], gamma=0.3),
        "exponential": lambda: S.ExponentialLR(opt, gamma=0.8),
        "cosine": lambda: S.CosineAnnealingLR(opt, T_max=7, eta_min=1e-4),
        "linear": lambda: S.LinearLR(opt, start_factor=0.2, total_iters=4),
        "warmup_cosine": lambda: S.WarmupCosineLR(opt, warmup_steps=3, total_steps=9),
        "onecycle": lambda: S.OneCycleLR(opt, max_lr=0.1, total_steps=12, three_phase=True),
        "lambda": lambda: S.LambdaLR(opt, lambda e: 1 / (1 + e)),
        "sequential": lambda: S.SequentialLR(
            opt,
            [S.LinearLR(opt, start_factor=0.5, total_iters=2), S.ExponentialLR(opt, gamma=0.7)],
            milestones=[3],
        ),
        "plateau": lambda: S.ReduceLROnPlateau(opt, factor=0.5, patience=1),
    }


@pytest.mark.parametrize("name", list(_schedulers(None)))
def test_scheduler_round_trip(tmp_path, name):
    def build():
        model = _model()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        return model, opt, _schedulers(opt)[name]()

    def advance(opt, sched, i):
        sched.step(1.0 + (i % 3 == 0)) if name == "plateau" else sched.step()
        return opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]

    model, opt, sched = build()
    for i in range(4):
        advance(opt, sched, i)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, optimizer=opt, scheduler=sched)
    model2, opt2, sched2 = build()
    load_checkpoint(path, optimizer=opt2, scheduler=sched2)
    assert sched2.get_last_lr() == sched.get_last_lr()
    for i in range(4, 8):
        assert advance(opt2, sched2, i) == advance(opt, sched, i)


def test_checkpoint_keeps_step_extra_and_rng(tmp_path):
    path = tmp_path / "c.safetensors"
    extra = {"epoch": 2, "best": float("inf"), "hist": [0.5, 0.25], "pair": (1, "a"), "w": X[:2]}
    zg.manual_seed(3)
    save_checkpoint(path, step=41, extra=extra)
    expected = zg.backend.rng().random(4)
    zg.manual_seed(99)
    info = load_checkpoint(path)
    assert info["step"] == 41
    _same_state(info["extra"], extra)
    np.testing.assert_array_equal(zg.backend.rng().random(4), expected)


def test_load_checks_what_was_asked_for(tmp_path):
    path = tmp_path / "c.safetensors"
    model = _model()
    opt = optim.Adam(model.parameters())
    save_checkpoint(path, model=model, optimizer=opt)
    with pytest.raises(ValueError, match="holds no scheduler state"):
        load_checkpoint(path, scheduler=S.ExponentialLR(opt, gamma=0.5))
    with pytest.raises(
        ValueError, match="holds the state of optimizer class Adam, received optimizer=SGD"
    ):
        load_checkpoint(path, optimizer=optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="shape"):
        load_checkpoint(path, model=nn.Sequential(nn.Linear(5, 3), nn.Tanh()), restore_rng=False)
    with pytest.raises(TypeError, match="save_checkpoint: expected step to be an int"):
        save_checkpoint(path, step=1.5)
    with pytest.raises(TypeError, match="cannot store 'extra.f' of type builtin_function"):
        save_checkpoint(path, extra={"f": len})


def _valid_checkpoint(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    model = _model()
    opt = optim.Adam(model.parameters())
    _step(model, opt)
    save_checkpoint(path, model=model, optimizer=opt, step=1)
    return path


def test_truncated_checkpoint_is_a_file_format_error(tmp_path):
    path = _valid_checkpoint(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "bad.safetensors"
    for cut in [0, 1, 7, 8, 9, 100, len(data) // 2, len(data) - 1]:
        bad.write_bytes(data[:cut])
        with pytest.raises(FileFormatError, match="load_checkpoint: .*bad.safetensors"):
            load_checkpoint(bad)


def test_corrupt_checkpoint_is_a_file_format_error(tmp_path):
    path = _valid_checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    bad = tmp_path / "bad.safetensors"
    for offset in [len(data) - 3, len(data) - 200]:  # inside the tensor bytes: only a CRC sees it
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        bad.write_bytes(bytes(flipped))
        with pytest.raises(FileFormatError, match="bad.safetensors.*checksum"):
            load_checkpoint(bad)
    text = bytes(data).replace(b'\\"step\\": 1', b'\\"step\\": 7')  # a digit in the JSON header
    assert text != bytes(data)
    bad.write_bytes(text)
    with pytest.raises(FileFormatError, match="checksum"):
        read_checkpoint(bad)
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(FileFormatError, match="bad.safetensors"):
        load_checkpoint(bad)
    save_safetensors({"w": X}, bad)  # a weights file, not a checkpoint
    with pytest.raises(FileFormatError, match="not a zerograd checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    path = _valid_checkpoint(tmp_path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_checkpoint(path, step=2, extra={"bad": object()})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# --- overwrite=False --------------------------------------------------------------------------------
def test_overwrite_false_never_replaces(tmp_path):
    path = _valid_checkpoint(tmp_path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="ckpt.safetensors.*overwrite=False"):
        save_checkpoint(path, step=5, overwrite=False)
    with pytest.raises(FileExistsError, match="ckpt.safetensors"):
        with atomic_path(path, overwrite=False) as tmp:
            tmp.write_bytes(b"new")
    assert path.read_bytes() == before
    fresh = tmp_path / "fresh.bin"
    with atomic_path(fresh, overwrite=False) as tmp:
        tmp.write_bytes(b"first")
    assert fresh.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.safetensors", "fresh.bin"]


def test_overwrite_false_loses_a_race_without_replacing(tmp_path):
    path = tmp_path / "out.bin"
    with pytest.raises(FileExistsError, match="out.bin"):
        with atomic_path(path, overwrite=False) as tmp:
            tmp.write_bytes(b"ours")
            path.write_bytes(b"theirs")  # another writer gets there first
    assert path.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_path_mode_follows_umask(tmp_path):
    path = tmp_path / "m.bin"
    old = os.umask(0o027)
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


# --- stale temporaries -----------------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temps_are_removed_by_the_next_save(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    dead = _dead_pid()
    stale_file = tmp_path / f".ckpt.safetensors.zgtmp-{dead}-deadbeef"
    stale_file.write_bytes(b"partial")
    stale_dir = tmp_path / f".ckpt.safetensors.zgtmp-{dead}-cafe0000"
    stale_dir.mkdir()
    (stale_dir / "part").write_bytes(b"x")
    ours = tmp_path / f".ckpt.safetensors.zgtmp-{os.getpid()}-00000000"  # not being written
    ours.write_bytes(b"left by a dead process that had our pid")
    live = tmp_path / f".ckpt.safetensors.zgtmp-{os.getppid()}-11111111"  # a save in progress
    live.write_bytes(b"busy")
    other = tmp_path / f".other.bin.zgtmp-{dead}-22222222"  # another target's: not ours to judge
    other.write_bytes(b"x")
    save_checkpoint(path, step=1)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([path.name, live.name, other.name])
    assert clean_stale_temps(tmp_path / "other.bin") == [other]


def test_temp_names_say_target_and_process(tmp_path):
    path = tmp_path / "w.bin"
    with atomic_path(path) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(f".w.bin.zgtmp-{os.getpid()}-")
        assert clean_stale_temps(path) == []  # a temp being written is never removed
        assert tmp.exists()
        tmp.write_bytes(b"ok")
    assert path.read_bytes() == b"ok"


# --- the DataLoader's position ------------------------------------------------------------------------
@pytest.mark.parametrize("generator", [None, 5])
def test_loader_resumes_mid_epoch(tmp_path, generator):
    ds = TensorDataset(np.arange(20, dtype=np.float32))

    def batches(it, k):
        return [next(it)[0].numpy().tolist() for _ in range(k)]

    zg.manual_seed(0)
    loader = DataLoader(ds, batch_size=3, shuffle=True, generator=generator)
    it = iter(loader)
    batches(it, 2)
    save_checkpoint(tmp_path / "c.safetensors", loader=loader)
    rest = batches(it, 5)  # the rest of the epoch
    following = [b[0].numpy().tolist() for b in loader]  # and the next epoch
    zg.manual_seed(123)
    loader2 = DataLoader(ds, batch_size=3, shuffle=True, generator=generator)
    load_checkpoint(tmp_path / "c.safetensors", loader=loader2)
    assert [b[0].numpy().tolist() for b in loader2] == rest
    assert [b[0].numpy().tolist() for b in loader2] == following


def test_loader_state_after_the_last_batch_starts_a_new_epoch():
    loader = DataLoader(TensorDataset(np.arange(6)), batch_size=2, shuffle=True, generator=1)
    it = iter(loader)
    for _ in range(3):
        next(it)
    state = loader.state_dict()
    assert state["epoch"] is None
    loader.load_state_dict(state)
    assert len(list(loader)) == 3


def test_loader_state_mismatch_is_an_error():
    loader = DataLoader(TensorDataset(np.arange(6)), batch_size=2, shuffle=True)
    next(iter(loader))
    state = loader.state_dict()
    other = DataLoader(TensorDataset(np.arange(6)), batch_size=3, shuffle=True)
    with pytest.raises(ValueError, match="saved with batch_size=2, this loader has batch_size=3"):
        other.load_state_dict(state)
    smaller = DataLoader(TensorDataset(np.arange(4)), batch_size=2, shuffle=True)
    smaller.load_state_dict(state)
    with pytest.raises(ValueError, match="dataset of 6 samples, this one has 4"):
        next(iter(smaller))
    with pytest.raises(ValueError, match="DataLoader.load_state_dict: expected the dict"):
        loader.load_state_dict({"epoch": None})


def test_mutated_checkpoints_load_or_raise_file_format_error(tmp_path):
    """200 seeded byte mutations: each one loads unchanged or is a FileFormatError naming it."""
    path = _valid_checkpoint(tmp_path)
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    bad = tmp_path / "mutated.safetensors"
    raised = 0
    for _ in range(200):
        b = bytearray(data)
        for i in rng.integers(0, len(b), size=rng.integers(1, 4)):
            b[i] = int(rng.integers(0, 256))
        bad.write_bytes(bytes(b[: rng.integers(len(b) // 2, len(b) + 1)]))
        try:
            read_checkpoint(bad)
        except FileFormatError as e:
            assert "mutated.safetensors" in str(e)
            raised += 1
    assert raised >= 190


def test_state_of_the_wrong_form_is_a_file_format_error(tmp_path):
    class Adam:  # saves under the real optimizer's class name, with a broken state
        def state_dict(self):
            return {"state": {}, "param_groups": [{"lr": 0.1}]}

    path = tmp_path / "c.safetensors"
    save_checkpoint(path, optimizer=Adam())
    with pytest.raises(FileFormatError, match="c.safetensors.*optimizer state"):
        load_checkpoint(path, optimizer=optim.Adam(_model().parameters()))
