"""Per-point losses: one value per sample point, never reduced."""

import numpy as np


def squared(y_true, y_pred):
    return np.square(np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64))


def absolute(y_true, y_pred):
    return np.abs(np.asarray(y_pred, np.float64) - np.asarray(y_true, np.float64))


BUILT_IN = {"squared": squared, "absolute": absolute}


def point_loss_function(loss):
    """(name, function) for the `loss` option.

    "model" has no NumPy form (function None): the Keras callback computes the
    model's own loss per point and passes it in.
    """
    if callable(loss) and not isinstance(loss, type):
        return getattr(loss, "__name__", type(loss).__name__), loss
    if loss == "model":
        return "model", None
    if isinstance(loss, str) and loss in BUILT_IN:
        return loss, BUILT_IN[loss]
    raise ValueError(
        f"loss: expected 'squared', 'absolute', 'model' or a callable "
        f"(y_true, y_pred) -> one value per point, got {loss!r}"
    )
