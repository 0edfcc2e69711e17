"""Optimizer state in Keras's layout: ``optimizer/vars`` = iteration, learning_rate (absent with
a schedule), then the slot variables in the order Keras creates them.

zerograd's Keras optimizers keep their state in that layout (``state_arrays``), so writing and
reading is a copy.
"""

from __future__ import annotations


def _params(model) -> list:
    return [p for p in model.parameters() if p.requires_grad]


def optimizer_arrays(opt, model) -> list:
    """[(name, array)] of ``opt``'s variables in Keras's order."""
    return opt.state_arrays()


def restore_optimizer(opt, model, arrays: list, source: str, loader: str = "load_model") -> None:
    """Set ``opt``'s iteration count and slot variables from ``arrays`` (Keras's order); a
    FileFormatError naming ``source`` when they do not fit."""
    from zerograd.io.errors import FileFormatError

    try:
        opt.set_state_arrays(arrays, _params(model))
    except (ValueError, TypeError, IndexError) as e:
        raise FileFormatError(
            source,
            f"the optimizer variables of {type(opt).__name__} do not fit the model's "
            f"{len(_params(model))} trainable weights: {e}",
            loader=loader,
        ) from None
