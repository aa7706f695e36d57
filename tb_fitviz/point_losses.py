"""Per-point losses: one value per sample point (and per output), never reduced."""

import numpy as np

from tb_fitviz.kind import CLASSIFICATION

# Keras clips probabilities to [EPSILON, 1 - EPSILON] before taking logs; so do we,
# so that a recorded per-point cross-entropy equals the model's own.
EPSILON = 1e-7


# The formulas take `xp`, a NumPy-like array namespace: NumPy here, TensorFlow's NumPy API
# (tf.experimental.numpy) inside the callback's compiled pass (`compiled_frame`), so that
# a frame made either way holds the same numbers.


def squared(y_true, y_pred, xp=np):
    if xp is np:
        y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    return xp.square(y_pred - y_true)


def absolute(y_true, y_pred, xp=np):
    if xp is np:
        y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    return xp.abs(y_pred - y_true)


def clipped_log_loss(probabilities, xp=np):
    """-log p per point, p clipped to [EPSILON, 1 - EPSILON] as Keras clips it (clipped,
    the logarithm cannot warn; NaN passes through quietly)."""
    return -xp.log(xp.minimum(xp.maximum(probabilities, EPSILON), 1 - EPSILON))


def binary_cross_entropy(is_one, p1, xp=np):
    """Per point: -log P(true class) from P(class 1) `p1` [n], `is_one` [n] bool."""
    return clipped_log_loss(xp.where(is_one, p1, 1 - p1), xp)


def categorical_cross_entropy(label_column, probabilities, xp=np):
    """Per point: -log P(true class) from [n, K] probabilities, `label_column` int [n, 1]."""
    return clipped_log_loss(xp.take_along_axis(probabilities, label_column, axis=1)[:, 0], xp)


def mean_and_each(losses, outputs, xp=np):
    """(the loss per point [n], each output's [n, outputs] or None) from a point set's
    losses [n, w]: w = 1 (one value a point) or w = outputs. The mean over the columns;
    each output's own only with several outputs, NaN where the losses do not say it
    (one value a point: the model's loss of a single output of several units)."""
    width = losses.shape[1]
    if width == 1:
        mean = losses[:, 0]
    elif xp is np:
        with np.errstate(all="ignore"):  # a mean of huge losses can overflow: inf
            mean = losses.mean(axis=1)
    else:
        mean = xp.mean(losses, axis=1)
    if outputs == 1:
        return mean, None
    if width == 1:
        return mean, xp.full((losses.shape[0], outputs), np.nan, dtype=np.float64)
    return mean, losses


def cross_entropy(labels, probabilities):
    """-log P(true class) per point, probabilities clipped as Keras clips them.

    Args:
        labels: int class indices [n].
        probabilities: [n, K] class probabilities, or [n] P(class 1) of a two-class
            model (binary cross-entropy).
    """
    return _CrossEntropy(labels)(probabilities)


class _CrossEntropy:
    """`cross_entropy` with its labels prepared once (a writer's sample is fixed: this
    runs at every frame)."""

    def __init__(self, labels):
        self.labels = np.asarray(labels).astype(np.int64, copy=False).reshape(-1)
        self.is_one = self.labels == 1
        self.label_column = self.labels[:, None]

    def __call__(self, probabilities):
        p = np.asarray(probabilities, np.float64)
        if p.ndim == 1:
            return binary_cross_entropy(self.is_one, p)
        return categorical_cross_entropy(self.label_column, p)


REGRESSION_LOSSES = {"squared": squared, "absolute": absolute}
LOSS_NAMES = ("auto", "squared", "absolute", "cross_entropy", "model")


class PointLoss:
    """The `loss` option, resolved for a task.

    Attributes:
        name: stored in the settings ("squared", "absolute", "cross_entropy",
            "model" or a callable's name).
        kind: what the band follows ("squared", "absolute", "cross_entropy",
            "model" or "callable").
        function: NumPy form, or None for "model" (computed by the caller).
    """

    def __init__(self, name, kind, function):
        self.name = name
        self.kind = kind
        self.function = function

    def per_output(self, y_true, y_pred):
        """Regression: float64 [n, k] losses of each output ([n, k] inputs)."""
        if self.kind in ("squared", "absolute"):
            return self.function(y_true, y_pred)
        columns = [np.asarray(self.function(y_true[:, j], y_pred[:, j]), np.float64).reshape(-1)
                   for j in range(y_true.shape[1])]
        for column in columns:
            if column.shape != (len(y_true),):
                raise ValueError(
                    f"loss: the callable returned {column.size} values for {len(y_true)} "
                    "points; expected one value per point")
        return np.column_stack(columns)

    def classes(self, labels, probabilities):
        """Classification: float64 [n] loss of each point."""
        values = np.asarray(self.function(labels, probabilities), np.float64).reshape(-1)
        if values.shape != (len(labels),):
            raise ValueError(
                f"loss: the callable returned {values.size} values for {len(labels)} points; "
                "expected one value per point")
        return values

    def bind(self, targets, *, classification, binary=False):
        """This loss for fixed targets (a point set's, as the writer keeps them: class
        labels [n], or values [n, k]): a function of the predictions (float64 [n, P]: P(class
        1) of a `binary` classifier, every class's probability, or each output's value) that
        gives float64 [n, 1] (a classifier) or [n, k] losses, as `classes` and `per_output`
        give them. None for "model" (no NumPy form)."""
        if self.function is None:
            return None
        if self.kind == "cross_entropy":  # clipped: it cannot warn
            loss = _CrossEntropy(targets)
            if binary:
                return lambda predictions: loss(predictions[:, 0])[:, None]
            return lambda predictions: loss(predictions)[:, None]

        def quietly(predictions):
            with np.errstate(all="ignore"):  # a diverging model overflows: inf, not a warning
                if classification:
                    probabilities = predictions[:, 0] if binary else predictions
                    return self.classes(targets, probabilities)[:, None]
                return self.per_output(targets, predictions)

        return quietly


def point_loss(loss, task):
    """The `PointLoss` of the `loss` option for `task`.

    "auto" is "squared" for a regression and "cross_entropy" for a classifier;
    "model" has no NumPy form: the caller (the Keras callback) computes the
    model's own loss per point and passes it in.
    """
    if callable(loss) and not isinstance(loss, type):
        return PointLoss(getattr(loss, "__name__", type(loss).__name__), "callable", loss)
    if not isinstance(loss, str):
        raise TypeError(f"loss: expected a name ('auto', 'squared', 'absolute', "
                        f"'cross_entropy', 'model') or a callable, got {type(loss).__name__}")
    if loss == "auto":
        loss = "cross_entropy" if task == CLASSIFICATION else "squared"
    if loss == "model":
        return PointLoss("model", "model", None)
    if task == CLASSIFICATION:
        if loss == "cross_entropy":
            return PointLoss("cross_entropy", "cross_entropy", cross_entropy)
        if isinstance(loss, str) and loss in REGRESSION_LOSSES:
            raise ValueError(f"loss: {loss!r} is a regression loss; a classifier's per-point "
                             "loss is 'cross_entropy' (default), 'model' or a callable")
    elif isinstance(loss, str) and loss in REGRESSION_LOSSES:
        return PointLoss(loss, loss, REGRESSION_LOSSES[loss])
    elif loss == "cross_entropy":
        raise ValueError("loss: 'cross_entropy' needs class labels; this run is a regression "
                         "(pass task='classification' if y holds classes)")
    raise ValueError(
        "loss: expected 'auto', 'squared', 'absolute', 'cross_entropy', 'model' or a "
        f"callable (y_true, y_pred) -> one value per point, got {loss!r}")
