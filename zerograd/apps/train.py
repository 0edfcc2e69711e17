"""``zerograd train fashion-mnist``: the demo CNN trained end to end with the Keras facade."""

from __future__ import annotations

import logging
import math
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
DEMO_MODEL = "bn-cosine"  # names the model and schedule in the backup folder's key
VALIDATION_SPLIT = 0.1  # the last 6,000 training images: the validation curve


@dataclass
class TrainConfig:
    """Options of ``zerograd train``; ``limit`` 0 uses all 60,000 training images."""

    task: str = "fashion-mnist"
    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3  # the peak of the schedule (see lr_schedule)
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
    options never resumes from this one's backup (it is deleted when the run ends). The schedule
    follows from these options; DEMO_MODEL keeps a backup of an earlier demo model apart."""
    key = f"{DEMO_MODEL}-{config.epochs}-{config.batch_size}-{config.lr!r}-{config.limit}-{config.seed}"
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


def build_cnn(batch_norm: bool = True) -> keras.Sequential:
    """The demo CNN for 28x28x1 images: two conv blocks, then a dense classifier.

    Args:
        batch_norm: BatchNormalization after each pooling and before the dense layer's ReLU (the
            demo); False gives the plain CNN of the first demo (421,642 weights), which
            ``make bench``'s ``cnn_train`` times against its PyTorch twin.

    Returns:
        the uncompiled model.

    Example:
        >>> build_cnn().count_params()
        422410
    """
    L = keras.layers

    def block(filters: int) -> list:
        # BN after the pooling, on a quarter of the pixels: zerograd's BN is several unfused
        # passes, and conv-BN-ReLU at 28x28 made each training step about 2x slower (measured)
        bn = [L.BatchNormalization()] if batch_norm else []
        return [L.Conv2D(filters, 3, padding="same", activation="relu"), L.MaxPooling2D(2), *bn]

    if batch_norm:
        head = [L.Dense(128, use_bias=False), L.BatchNormalization(), L.Activation("relu")]
        head += [L.Dropout(0.3)]
    else:
        head = [L.Dense(128, activation="relu")]
    return keras.Sequential(
        [L.Input((28, 28, 1)), *block(32), *block(64), L.Flatten(), L.Dropout(0.3), *head]
        + [L.Dense(10, activation="softmax")],
        name="fashion_cnn",
    )


def lr_schedule(config: TrainConfig, n_train: int) -> keras.optimizers.schedules.CosineDecay:
    """The learning rate of each step: a linear warm-up from ``lr / 10`` to ``lr`` over the first
    half epoch, then a cosine decay to 0 at the last step, however many ``epochs`` there are.

    Args:
        config: the run's options (``lr``, ``epochs``, ``batch_size``).
        n_train: the training images (after the validation split).

    Returns:
        the schedule, for the optimizer's ``learning_rate``.

    Example:
        >>> s = lr_schedule(TrainConfig(epochs=2), 54_000)
        >>> s(0), s(422), s(1688)
        (0.0002, 0.002, 0.0)
    """
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = min(steps_per_epoch // 2, total // 2)
    return keras.optimizers.schedules.CosineDecay(
        config.lr / 10,
        decay_steps=max(total - warmup, 1),
        warmup_target=config.lr,
        warmup_steps=warmup,
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
    n_fit = math.floor(len(x_train) * (1 - VALIDATION_SPLIT))  # the images fit trains on
    model.compile(
        optimizer=keras.optimizers.Adam(lr_schedule(config, n_fit)),
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
        validation_split=VALIDATION_SPLIT,
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
