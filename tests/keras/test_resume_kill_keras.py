"""A fit killed with SIGKILL at random moments (during a step, between steps, in validation, inside
the backup's write) and started again until it completes ends with weights bitwise equal to a run
never interrupted, and leaves no temporary files behind.

One subprocess imports zerograd once and forks each run of the training script from it (a fork is
a fresh start of the same command without the import's second); each run kills itself with
SIGKILL at its k-th event, k drawn at random per seed."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

if not hasattr(os, "fork"):
    pytest.skip("needs os.fork", allow_module_level=True)

SERVER = textwrap.dedent(
    r"""
    import json, os, random, signal, sys
    import numpy as np
    import safetensors.numpy as stnp
    import zerograd.keras as keras

    EPOCHS, BATCH = 4, 8
    _events = {"n": 0, "kill_at": None, "rng": None}
    _real_save, _real_replace = stnp.save_file, os.replace

    def event(kind):
        _events["n"] += 1
        if _events["n"] == _events["kill_at"]:
            die(kind)

    def die(kind):
        with open(_events["log"], "a") as f:  # outside the run's folder
            f.write(kind + "\n")
        os.kill(os.getpid(), signal.SIGKILL)

    def save_file(tensors, path, metadata=None):  # inside the backup's write
        event("backup: before the write")
        _real_save(tensors, path, metadata=metadata)
        _events["n"] += 1
        if _events["n"] == _events["kill_at"]:  # killed mid-write: a truncated temp file
            size = os.path.getsize(path)
            with open(path, "r+b") as f:
                f.truncate(_events["rng"].randrange(size))
            die("backup: mid-write")
        event("backup: written, not renamed")

    def replace(src, dst):
        event("backup: before the rename")
        _real_replace(src, dst)
        event("backup: renamed")

    stnp.save_file, os.replace = save_file, replace

    class Events(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None): event("before a step")
        def on_train_batch_end(self, batch, logs=None): event("after a step")
        def on_test_batch_end(self, batch, logs=None): event("in validation")
        def on_epoch_end(self, epoch, logs=None): event("at epoch end")

    def train(work, config, backup):
        keras.utils.set_random_seed(config["seed"])
        r = np.random.default_rng(config["seed"])
        x = r.normal(size=(50, 6)).astype("float32")
        y = r.integers(0, 3, size=50)
        model = keras.Sequential([
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dropout(0.2, seed=7),
            keras.layers.Dense(3),
        ])
        model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        update, seen = model.optimizer.update_variable, set()
        def update_variable(g, p, lr, slots):  # inside a step: some weights updated, not all
            if id(p) in seen:  # a new step
                seen.clear()
            seen.add(id(p))
            if len(seen) == 2:  # one event a step: the first weight updated, the others not
                event("inside a step")
            update(g, p, lr, slots)
        model.optimizer.update_variable = update_variable
        callbacks = [Events()]
        if backup:
            callbacks.insert(0, keras.callbacks.BackupAndRestore(
                os.path.join(work, "backup"), save_freq=config["save_freq"],
                double_checkpoint=config["double"], delete_checkpoint=config["delete"]))
        h = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, validation_split=0.2,
                      shuffle=True, verbose=0, callbacks=callbacks)
        arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
        np.savez(os.path.join(work, "final.npz"), **arrays)
        with open(os.path.join(work, "epochs.json"), "w") as f:
            json.dump({"epochs": len(h.history["loss"]), "events": _events["n"]}, f)

    def run(work, config, backup, kill_at):
        pid = os.fork()
        if pid == 0:
            try:
                _events.update(n=0, kill_at=kill_at, rng=random.Random(kill_at),
                               log=os.path.join(os.path.dirname(work), "kills.log"))
                train(work, config, backup)
            except BaseException as e:
                sys.stderr.write(f"child failed: {e!r}\n")
                os._exit(3)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            return "killed"
        return "done" if os.WEXITSTATUS(status) == 0 else "failed"

    def load(work):
        with np.load(os.path.join(work, "final.npz"), allow_pickle=False) as z:
            return [z[f"w{i}"] for i in range(len(z.files))]

    def main(root, configs, kills_per_seed):
        out = []
        for n, config in enumerate(configs):
            ref_dir = os.path.join(root, f"ref{n}")
            os.makedirs(ref_dir)
            assert run(ref_dir, config, False, None) == "done"
            total = json.load(open(os.path.join(ref_dir, "epochs.json")))["events"]
            reference = load(ref_dir)
            work = os.path.join(root, f"run{n}")
            os.makedirs(work)
            rng = random.Random(1000 + config["seed"])
            outcomes, kill_points = [], []
            while True:
                # kill_per_seed kills (a run resumed late may finish before its kill point),
                # then a clean run; the backup's write takes 4 of the ~total events
                # a resumed run has less left to do: draw its kill point from a shorter range
                span = max(2, int(total * 0.7 ** len(kill_points)))
                k = rng.randrange(1, span) if len(kill_points) < kills_per_seed else None
                outcome = run(work, config, True, k)
                outcomes.append(outcome)
                if k is not None:
                    kill_points.append(k)
                if outcome != "killed":
                    break
            same = outcome == "done" and all(
                np.array_equal(a, b) for a, b in zip(reference, load(work)))
            left = sorted(os.listdir(work))
            backup = os.path.join(work, "backup")
            left_backup = sorted(os.listdir(backup)) if os.path.isdir(backup) else []
            out.append(dict(config=config, outcomes=outcomes, kill_points=kill_points,
                            total_events=total, bitwise_equal=same, left=left,
                            left_backup=left_backup))
        with open(os.path.join(root, "kills.log")) as f:
            kinds = f.read().splitlines()
        return {"runs": out, "kill_kinds": kinds}

    if __name__ == "__main__" and sys.argv[1] == "--single":  # one run, in this process
        work, config, backup, kill_at = sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]
        kill_at = int(kill_at) if kill_at != "none" else None
        _events.update(n=0, kill_at=kill_at, rng=random.Random(kill_at),
                       log=os.path.join(os.path.dirname(work), "kills.log"))
        train(work, config, backup == "backup")
    elif __name__ == "__main__":
        root, configs, kills = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
        print(json.dumps(main(root, configs, kills)))
    """
)

CONFIGS = [
    {"seed": s, "save_freq": f, "double": d, "delete": e}
    for s, f, d, e in [
        (0, "epoch", False, True),
        (1, 2, False, False),
        (2, 3, True, True),
        (3, 1, False, True),
        (4, 2, True, False),
        (5, "epoch", True, False),
    ]
]
KILLS_PER_SEED = 5


ENV = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    script = root / "server.py"
    script.write_text(SERVER)
    proc = subprocess.run(
        [sys.executable, str(script), str(root), json.dumps(CONFIGS), str(KILLS_PER_SEED)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_interrupted_run_ends_bitwise_equal(results):
    runs, kinds = results["runs"], results["kill_kinds"]
    kills = sum(r["outcomes"].count("killed") for r in runs)
    assert kills == len(kinds)
    counts = {k: kinds.count(k) for k in sorted(set(kinds))}
    print(f"\nkill points: {kills} {counts}")  # shown with pytest -s
    assert kills >= len(CONFIGS) * 2, runs  # most kill points land before the end
    assert any(k.startswith("backup") for k in kinds), kinds
    assert any(k == "inside a step" for k in kinds), kinds
    for r in runs:
        assert r["outcomes"][-1] == "done", r
        assert r["bitwise_equal"], r


def test_no_temporary_files_are_left(results):
    for r in results["runs"]:
        config = r["config"]
        assert r["left"] == (
            ["backup", "epochs.json", "final.npz"]
            if not config["delete"]
            else ["epochs.json", "final.npz"]
        ), r
        if not config["delete"]:
            expected = ["latest.safetensors"]
            if config["double"]:
                expected.append("latest.safetensors.bkp")
            assert r["left_backup"] == expected, r


def test_fresh_processes_killed_inside_the_backup(tmp_path):
    """The same, with a new Python process for every start (no fork): the first run dies while
    the backup after its 7th batch is being written, leaving a truncated temporary file."""
    import numpy as np

    script = tmp_path / "train.py"
    script.write_text(SERVER)
    config = json.dumps({"seed": 9, "save_freq": 3, "double": False, "delete": True})

    def run(work, backup, kill_at):
        work.mkdir(exist_ok=True)
        args = [sys.executable, str(script), "--single", str(work), config, backup, kill_at]
        return subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=120)

    ref = run(tmp_path / "ref", "none", "none")
    assert ref.returncode == 0, ref.stderr[-2000:]
    # events: 3 a batch (begin, inside the step, end); the backup after batch 3 takes 10..14;
    # batches 4, 5: 15..20; validation 21, 22; epoch end 23; batch 6: 24..26; its backup
    # begins at 27 and 28 is its write killed mid-way (the backup of batch 3 stays usable)
    killed = run(tmp_path / "run", "backup", "28")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (tmp_path / "kills.log").read_text().split("\n")[0] == "backup: mid-write"
    temps = [p.name for p in (tmp_path / "run" / "backup").iterdir()]
    # the partial write is there (a temporary name beside the backup of batch 3)
    assert any(n.startswith(".latest.safetensors.") for n in temps), temps
    done = run(tmp_path / "run", "backup", "none")
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(tmp_path / "ref" / "final.npz") as a, np.load(tmp_path / "run" / "final.npz") as b:
        assert a.files == b.files
        for k in a.files:
            assert np.array_equal(a[k], b[k]), k
    assert sorted(os.listdir(tmp_path / "run")) == ["epochs.json", "final.npz"]
