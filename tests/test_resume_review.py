"""Review of the PyTorch-style exact resume and file safety: hostile checkpoints are refused as
FileFormatError before anything changes, a DataLoader with a legacy RandomState resumes exactly,
RNG states are restored all or nothing, and stale temps are judged safely (huge pids, other
machines' temps on a shared file system)."""

import json
import os
import random
import time

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

import zerograd as zg
import zerograd.nn as nn
import zerograd.nn.functional as F
import zerograd.optim as optim
from zerograd import backend
from zerograd.data import DataLoader, TensorDataset
from zerograd.io import FileFormatError, atomic_path, clean_stale_temps, load_checkpoint, state_file
from zerograd.io import checkpoint as ckpt
from zerograd.io.atomic import FOREIGN_TEMP_AGE_S, _host_tag
from zerograd.optim import lr_scheduler as S


def _objects(generator=None):
    zg.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = S.StepLR(opt, 2)
    loader = DataLoader(
        TensorDataset(np.arange(30, dtype=np.float32).reshape(10, 3)),
        batch_size=2,
        shuffle=True,
        generator=generator,
    )
    return model, opt, sched, loader


def _saved(tmp_path):
    path = tmp_path / "c.safetensors"
    model, opt, sched, loader = _objects()
    next(iter(loader))
    ckpt.save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, loader=loader, step=1)
    return path


def _rewrite(path, edit):
    """Edit the checkpoint's JSON as an attacker would, with a matching checksum."""
    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata())
        arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    text = edit(meta["record"])
    save_file(arrays, str(path), metadata=state_file.header(ckpt.FORMAT, text, arrays))


def _json(change):
    def edit(text):
        meta = json.loads(text)
        change(meta)
        return json.dumps(meta)

    return edit


def _group(meta):
    return meta["optimizer"]["state"]["param_groups"][0]


def _epoch(meta):
    return meta["loader"]["state"]["epoch"]


HOSTILE = {
    "deep JSON": (lambda t: t[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON"),
    "scheduler replaces its optimizer": (
        _json(lambda m: m["scheduler"]["state"].update(optimizer=[1])),
        "unexpected keys",
    ),
    "scheduler unknown key": (
        _json(lambda m: m["scheduler"]["state"].update(zzz=1)),
        "unexpected keys",
    ),
    "lr NaN": (
        _json(lambda m: _group(m).update(lr=float("nan"))),
        r"lr must be a finite number in \[0, inf\), received nan",
    ),
    "lr a string": (
        _json(lambda m: _group(m).update(lr="0.1")),
        "lr must be a finite number, received '0.1' \\(str\\)",
    ),
    "loader calls np.random.seed": (
        _json(lambda m: _epoch(m)["order_state"].update(bit_generator="seed")),
        "NumPy bit generator",
    ),
    "loader batches a string": (
        _json(lambda m: _epoch(m).update(batches="2")),
        "batches to be an int",
    ),
    "loader order out of range": (
        _json(lambda m: _epoch(m).update(order_state={"order": [99] * 10})),
        "not a permutation",
    ),
    "loader order negative": (
        _json(lambda m: _epoch(m).update(order_state={"order": [-1] * 10})),
        "not a permutation",
    ),
    "numpy RNG key too short": (
        _json(lambda m: m["rng"]["numpy"].update(state={"key": [1], "pos": 0})),
        "bad RNG state",
    ),
    "step a string": (_json(lambda m: m.update(step="12")), "step to be an int"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_checkpoint_is_refused_before_anything_changes(tmp_path, case):
    edit, message = HOSTILE[case]
    path = _saved(tmp_path)
    _rewrite(path, edit)
    model, opt, sched, loader = _objects()
    before = [p.numpy().copy() for p in model.parameters()]
    rng_before = backend.get_rng_state()
    with pytest.raises(FileFormatError, match=message) as info:
        load_checkpoint(path, model=model, optimizer=opt, scheduler=sched, loader=loader)
    assert "c.safetensors" in str(info.value)
    assert backend.get_rng_state() == rng_before  # neither restored nor reseeded
    assert opt.param_groups[0]["lr"] == 0.1 and sched.optimizer is opt
    if case.startswith(("deep", "numpy", "step")):  # refused before any object was touched
        assert all(np.array_equal(a, p.numpy()) for a, p in zip(before, model.parameters()))


def test_set_rng_state_changes_nothing_when_a_part_is_bad():
    good = backend.get_rng_state()
    bad = backend.get_rng_state()
    bad["zerograd"] = np.random.default_rng(5).bit_generator.state
    bad["python"] = [3, [0] * 3, None]  # Python's part is wrong: nothing may change
    with pytest.raises(ValueError, match="set_rng_state: the state is not one"):
        backend.set_rng_state(bad)
    assert backend.get_rng_state() == good


def _train(path, kill_at, epochs=3):
    """A run with BatchNorm, Dropout and a loader shuffled by a legacy RandomState; saves every
    3 steps and raises at step ``kill_at``."""
    zg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.3), nn.Linear(8, 2))
    r = np.random.default_rng(0)
    x, y = r.normal(size=(30, 4)).astype("float32"), r.integers(0, 2, size=30)
    loader = DataLoader(
        TensorDataset(x, y), batch_size=4, shuffle=True, generator=np.random.RandomState(7)
    )
    opt = optim.AdamW(model.parameters(), lr=0.01)
    step = 0
    if path is not None and path.exists():
        step = load_checkpoint(path, model=model, optimizer=opt, loader=loader)["step"]
    for _ in range(step // len(loader), epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if path is not None and step % 3 == 0:
                ckpt.save_checkpoint(path, model=model, optimizer=opt, loader=loader, step=step)
            if step == kill_at:
                raise KeyboardInterrupt
    return [v.numpy() for v in model.state_dict().values()]


@pytest.mark.parametrize("kills", [[5], [8, 13]])
def test_loader_with_a_legacy_random_state_resumes_bitwise(tmp_path, kills):
    reference = _train(None, None)
    path = tmp_path / "c.safetensors"
    for k in kills:
        with pytest.raises(KeyboardInterrupt):
            _train(path, k)
    resumed = _train(path, None)
    assert all(np.array_equal(a, b) for a, b in zip(reference, resumed))


def test_loader_state_from_the_shared_generator_into_an_own_one_is_refused():
    shared = DataLoader(TensorDataset(np.arange(6)), batch_size=2, shuffle=True)
    next(iter(shared))
    own = DataLoader(TensorDataset(np.arange(6)), batch_size=2, shuffle=True, generator=3)
    with pytest.raises(ValueError, match="shared generator, this loader has a generator of its"):
        own.load_state_dict(shared.state_dict())


def test_loader_refuses_a_generator_it_cannot_save():
    class Coin:
        def permutation(self, n):
            return np.arange(n)

    loader = DataLoader(TensorDataset(np.arange(6)), batch_size=2, shuffle=True, generator=Coin())
    with pytest.raises(TypeError, match="cannot save the state of a generator of type Coin"):
        loader.state_dict()


def test_optimizer_load_state_dict_with_a_bad_lr_changes_nothing():
    model = nn.Linear(2, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    state = opt.state_dict()
    state["param_groups"][0]["betas"] = [0.9, 1.5]
    with pytest.raises(
        ValueError, match=r"Adam: betas\[1\] must be a finite number in \[0, 1\), received 1.5"
    ):
        opt.load_state_dict(state)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)


# --- stale temps ------------------------------------------------------------------------------
def test_a_temp_named_with_an_absurd_pid_is_kept_and_saving_works(tmp_path):
    odd = tmp_path / ".w.bin.zgtmp-99999999999999999999-deadbeef"
    odd.write_bytes(b"x")
    with atomic_path(tmp_path / "w.bin") as tmp:
        tmp.write_bytes(b"ok")
    assert (tmp_path / "w.bin").read_bytes() == b"ok"
    assert odd.exists()  # cannot tell whose it is: kept


def test_temps_of_another_machine_are_removed_only_once_old(tmp_path):
    other_host = "00000000" if _host_tag() != "00000000" else "11111111"
    # pid 1 is alive here; on the other machine, the writer's pid means nothing here
    fresh = tmp_path / f".w.bin.zgtmp-{os.getpid() + 1}-{other_host}-aaaaaaaa"
    old = tmp_path / f".w.bin.zgtmp-1-{other_host}-bbbbbbbb"
    fresh.write_bytes(b"a save in progress on another machine")
    old.write_bytes(b"left by a machine that crashed")
    long_ago = time.time() - FOREIGN_TEMP_AGE_S - 60
    os.utime(old, (long_ago, long_ago))
    assert clean_stale_temps(tmp_path / "w.bin") == [old]
    assert fresh.exists()


def test_temp_names_carry_the_machine(tmp_path):
    with atomic_path(tmp_path / "w.bin") as tmp:
        assert tmp.name.startswith(f".w.bin.zgtmp-{os.getpid()}-{_host_tag()}-")
        tmp.write_bytes(b"ok")


def test_python_random_is_untouched_by_a_refused_checkpoint(tmp_path):
    path = _saved(tmp_path)
    _rewrite(path, _json(lambda m: m["rng"]["zerograd"].update(bit_generator="seed")))
    random.seed(3)
    expected = random.random()
    random.seed(3)
    with pytest.raises(FileFormatError, match="bad RNG state"):
        load_checkpoint(path)
    assert random.random() == expected
