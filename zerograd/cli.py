"""The ``zerograd`` command: ``zerograd train fashion-mnist`` trains the demo CNN end to end."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def build_cnn(keras):
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


def train_fashion_mnist(args) -> dict:
    import zerograd as zg
    from zerograd import keras
    from zerograd.keras.datasets import fashion_mnist
    from zerograd.keras.utils import plot_history

    zg.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
        x_test, y_test = x_test[: max(args.limit // 4, 100)], y_test[: max(args.limit // 4, 100)]
    x_train = (x_train.astype("float32") / 255.0)[..., None]  # (N, 28, 28, 1), channels last
    x_test = (x_test.astype("float32") / 255.0)[..., None]
    model = build_cnn(keras)
    model.compile(
        optimizer=keras.optimizers.Adam(args.lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    if not args.quiet:
        model.summary()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_split=0.1,
        verbose=0 if args.quiet else "auto",
        callbacks=[keras.callbacks.CSVLogger(out / "history.csv")],
    )
    seconds = time.perf_counter() - t0
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    model.save(out / "model.keras")
    plot_history(history, out / "learning_curves.png", title="Fashion-MNIST CNN (zerograd)")
    result = {
        "test_loss": round(loss, 4),
        "test_accuracy": round(acc, 4),
        "train_seconds": round(seconds, 1),
        "epochs": args.epochs,
        "train_samples": len(x_train),
        "params": model.count_params(),
        "model": str(out / "model.keras"),
        "curves": str(out / "learning_curves.png"),
    }
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(f"test accuracy: {acc:.4f}  (test loss {loss:.4f}, {seconds:.0f} s of training)")
    print(f"model saved to {out / 'model.keras'}, learning curves in {out / 'learning_curves.png'}")
    return result


def finetune_minilm(argv: list[str]) -> int:
    """Run examples/finetune_minilm.py (a repository checkout's) with ``argv``."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "examples" / "finetune_minilm.py"
    if not script.exists():
        print(f"error: {script} not found; run from a checkout of the repository", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("finetune_minilm", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.main(argv)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="zerograd", description="zerograd command line")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model end to end")
    train.add_argument("task", choices=["fashion-mnist"])
    train.add_argument("--epochs", type=int, default=3)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument(
        "--limit", type=int, default=0, help="use only this many training images (0: all)"
    )
    train.add_argument("--out", default="runs/fashion-mnist")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quiet", action="store_true")
    sub.add_parser(  # its options (--help too) are examples/finetune_minilm.py's
        "finetune",
        help="fine-tune all-MiniLM-L6-v2 on fortune categories (probe, full, LoRA)",
        add_help=False,
    )
    args, rest = parser.parse_known_args(argv)  # finetune passes its options on to the example
    if args.command == "finetune":
        return finetune_minilm(rest)
    if rest:
        parser.error("unrecognized arguments: " + " ".join(rest))
    if args.command == "train":
        try:
            train_fashion_mnist(args)
        except FileNotFoundError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
