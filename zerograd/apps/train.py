"""``zerograd train fashion-mnist``: the demo CNN trained end to end with the Keras facade."""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import zerograd as zg
from zerograd import keras
from zerograd.io import save_json
from zerograd.keras.datasets import fashion_mnist
from zerograd.keras.utils import plot_history
from zerograd.ops import argcheck

log = logging.getLogger(__name__)

PLOT_EXTRA = "zerograd[extras]"  # the extra of pyproject.toml that brings matplotlib


@dataclass
class TrainConfig:
    """Options of ``zerograd train``; ``limit`` 0 uses all 60,000 training images."""

    task: str = "fashion-mnist"
    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    limit: int = 0
    out: str = "runs/fashion-mnist"
    seed: int = 0
    backup_every: int = 200  # batches between backups (about 10 s of training on 2 cores)

    def __post_init__(self):
        check_options(
            "train",
            self,
            positive=("epochs", "batch_size", "backup_every"),
            non_negative=("limit", "seed"),
            positive_float=("lr",),
        )


def check_options(command: str, config, positive=(), non_negative=(), positive_float=()) -> None:
    """A run's options, checked before any work: a ValueError naming the option (as --flag), a
    wrong type included (the values come from the command line)."""
    try:
        for names, minimum in ((positive, 1), (non_negative, 0)):
            for name in names:
                argcheck.integer(command, _flag(name), getattr(config, name), minimum)
        for name in positive_float:
            v = getattr(config, name)
            argcheck.number(command, _flag(name), v, 0.0, low_open=True, finite=True)
    except TypeError as e:
        raise ValueError(str(e)) from None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _backup_dir(config: TrainConfig, out: Path) -> Path:
    """Where the run's backup lives: one folder per set of options, so a run started with other
    options never resumes from this one's backup (it is deleted when the run ends)."""
    key = f"{config.epochs}-{config.batch_size}-{config.lr!r}-{config.limit}-{config.seed}"
    return out / f".backup-{zlib.crc32(key.encode()):08x}"


def mpi_world_size() -> int:
    """The number of processes when started by ``mpiexec`` (the variables MPICH's and Open MPI's
    launchers set), else 1; mpi4py is not imported to find out."""
    import os

    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def _data_parallel() -> int:
    """Under ``mpiexec -n N`` (N > 1): Keras data parallelism switched on; this process's rank."""
    if mpi_world_size() <= 1:
        return 0
    import zerograd.distributed as dist

    keras.distribution.set_distribution(keras.distribution.DataParallel())
    return dist.get_rank()


def _finite(v):
    """A metric for result.json: NaN or infinity (a diverged run) as None, which JSON can hold."""
    return v if v == v and abs(v) != float("inf") else None


def build_cnn() -> keras.Sequential:
    """A small CNN for 28x28x1 images: two conv blocks, then a dense classifier."""
    L = keras.layers
    return keras.Sequential(
        [
            L.Conv2D(32, 3, padding="same", activation="relu", input_shape=(28, 28, 1)),
            L.MaxPooling2D(2),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dropout(0.3),
            L.Dense(128, activation="relu"),
            L.Dense(10, activation="softmax"),
        ],
        name="fashion_cnn",
    )


def _plot(history, path: Path) -> str | None:
    """The learning curves as a PNG; None (and a warning saying how to get them) without
    matplotlib, an optional dependency: the trained model matters more than its plot."""
    try:
        return plot_history(history, path, title="Fashion-MNIST CNN (zerograd)")
    except ImportError as e:
        if e.name is None or e.name.split(".")[0] != "matplotlib":
            raise
        log.warning(
            "learning curves not plotted: matplotlib is not installed "
            "(pip install '%s' or pip install matplotlib)",
            PLOT_EXTRA,
        )
        return None


def train_fashion_mnist(config: TrainConfig, verbose: bool = True) -> dict:
    """Train the CNN on Fashion-MNIST; save the model, history.csv, the curves and result.json
    under ``config.out``.

    Args:
        config: the run's options.
        verbose: show the model summary and a progress bar (or a line per epoch when not a tty).

    Returns:
        test loss and accuracy, training time, sizes and the paths written.

    Example:
        >>> train_fashion_mnist(TrainConfig(limit=600, epochs=1, out="runs/small"))["test_accuracy"]
    """
    if config.task != "fashion-mnist":
        raise ValueError(f"train: expected task 'fashion-mnist', received {config.task!r}")
    zg.manual_seed(config.seed)  # the same seed on every rank: the same shuffle order
    rank = _data_parallel()  # under mpiexec: only rank 0 logs and writes the files
    verbose = verbose and rank == 0
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    if config.limit:
        n_test = max(config.limit // 4, 100)
        x_train, y_train = x_train[: config.limit], y_train[: config.limit]
        x_test, y_test = x_test[:n_test], y_test[:n_test]
    x_train = (x_train.astype("float32") / 255.0)[..., None]  # (N, 28, 28, 1), channels last
    x_test = (x_test.astype("float32") / 255.0)[..., None]
    model = build_cnn()
    model.compile(
        optimizer=keras.optimizers.Adam(config.lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    if verbose:
        model.summary(print_fn=log.info)
    out = Path(config.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    backup = _backup_dir(config, out)
    if rank == 0 and (backup / "latest.safetensors").exists():
        log.info(
            "resuming from the backup in %s (a run with these options was interrupted)", backup
        )
    t0 = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_split=0.1,
        verbose="auto" if verbose else 0,
        callbacks=[
            keras.callbacks.CSVLogger(out / "history.csv"),
            # killed and started again with the same options, the run resumes where its last
            # backup was and ends with the same weights as a run never interrupted
            keras.callbacks.BackupAndRestore(
                _backup_dir(config, out), save_freq=config.backup_every
            ),
        ],
    )
    seconds = time.perf_counter() - t0
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    if rank != 0:  # the other ranks: the same numbers, nothing written
        return {"test_loss": _finite(round(loss, 4)), "test_accuracy": _finite(round(acc, 4))}
    model.save(out / "model.keras")
    curves = _plot(history, out / "learning_curves.png")
    result = {
        "test_loss": _finite(round(loss, 4)),
        "test_accuracy": _finite(round(acc, 4)),
        "train_seconds": round(seconds, 1),
        "epochs": config.epochs,
        "train_samples": len(x_train),
        "params": model.count_params(),
        "model": str(out / "model.keras"),
        "curves": curves,
    }
    save_json(result, out / "result.json", indent=1)  # atomic: never a half-written file
    log.info("test accuracy: %.4f  (test loss %.4f, %.0f s of training)", acc, loss, seconds)
    log.info(
        "model saved to %s%s",
        out / "model.keras",
        f", learning curves in {curves}" if curves else "",
    )
    return result
