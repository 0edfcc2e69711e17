"""``plot_history``: loss and metric curves of a ``fit`` run, drawn with matplotlib."""

from __future__ import annotations

import numpy as np


def plot_history(history, path, title: str | None = None) -> str:
    """Write a PNG with the loss curves (train and validation) and each metric's curves.

    Needs matplotlib, an optional dependency (``pip install 'zerograd[extras]'``); without it this
    raises ImportError (``name == "matplotlib"``) saying so.
    """
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(
            "plot_history needs matplotlib, an optional dependency: "
            "pip install 'zerograd[extras]' (or pip install matplotlib)",
            name="matplotlib",
        ) from e

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = history.history if hasattr(history, "history") else dict(history)
    names = [k for k in hist if not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = np.arange(1, len(hist[name]) + 1)
        ax.plot(epochs, hist[name], marker="o", label=f"train {name}")
        if "val_" + name in hist:
            ax.plot(epochs, hist["val_" + name], marker="o", label=f"validation {name}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
