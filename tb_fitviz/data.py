"""The recording's inputs: checking the user's data, deciding the task, choosing points.

Everything here happens once, when a writer (or the Keras callback) is made:
bad input is refused with a message that names the argument and says what was
expected. Nothing here writes anything.
"""

import numbers

import numpy as np

from tb_fitviz.kind import CLASSIFICATION, REGRESSION, TASKS, Grid, default_names

MAX_GRID = 1000
# Classes a run can hold: each is a channel of every sample and grid frame (1,000 classes
# of a 1,000-point sample are 4 MB a frame), and a colour in every view.
MAX_CLASSES = 1000


# -- features ----------------------------------------------------------------------


def as_features(x, name="x"):
    """(float64 array [n, d], feature names or None) from the user's x.

    Accepts (n,), (n, 1) and (n, d) arrays, lists and lists of lists, pandas
    Series and DataFrames (whose column names become the feature names).
    """
    names = _column_names(x)
    array = _numeric(x, name)
    if array.ndim == 1:
        array = array[:, None]
    elif array.ndim != 2:
        raise ValueError(f"{name}: expected shape (n,), (n, 1) or (n, d), got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name}: is empty; expected at least 2 points")
    if array.shape[1] == 0:
        raise ValueError(f"{name}: has zero features (shape {array.shape}); expected at least one")
    _check_finite(array, name)
    return array, names


def as_points(x, y, x_name="x", y_name="y"):
    """x and y as two 1-D float64 arrays of equal length (one feature, one output)."""
    features, _ = as_features(x, x_name)
    targets = _numeric(y, y_name)
    if features.shape[1] != 1:
        raise ValueError(f"{x_name}: expected one feature, got {features.shape[1]}")
    if targets.ndim == 2 and targets.shape[1] == 1:
        targets = targets[:, 0]
    if targets.ndim != 1:
        raise ValueError(f"{y_name}: expected shape (n,) or (n, 1), got {targets.shape}")
    _check_lengths(features, targets, x_name, y_name)
    _check_finite(targets, y_name)
    return features[:, 0], targets


# -- targets ------------------------------------------------------------------------


class Targets:
    """The user's y, read for one task.

    Attributes:
        task: "regression" or "classification".
        values: regression: float64 [n, k]; classification: int64 [n] class indices.
        names: output names from the data (DataFrame columns, a multi-output list), or None.
        form: how y was given: "values" (regression), "labels" (class indices) or
            "one_hot" (one row per point, a 1 at its class).
        class_count: classes seen in y (max label + 1, or the one-hot width); 0 for regression.
    """

    def __init__(self, task, values, names, form, class_count):
        self.task = task
        self.values = values
        self.names = names
        self.form = form
        self.class_count = class_count

    def __len__(self):
        return len(self.values)

    @property
    def rows(self):
        """float64 [t, n]: the target rows stored with the points."""
        if self.task == CLASSIFICATION:
            return self.values[None, :].astype(np.float64)
        return self.values.T


def raw_targets(y, name="y"):
    """(float64 or int array [n] or [n, k], names or None) of the user's y.

    A list or tuple of arrays (the targets of a model with several outputs, as
    Keras takes them) is stacked column by column; a dict likewise, its keys
    becoming the names.
    """
    names = _column_names(y)
    if isinstance(y, dict):
        names = [str(key) for key in y]
        y = list(y.values())
    if isinstance(y, (list, tuple)) and y and all(
            getattr(part, "ndim", None) is not None or _is_series(part) for part in y):
        columns = [_numeric(part, f"{name}[{i}]") for i, part in enumerate(y)]
        for i, column in enumerate(columns):
            if column.ndim == 2 and column.shape[1] == 1:
                columns[i] = column[:, 0]
            elif column.ndim != 1:
                raise ValueError(f"{name}[{i}]: expected one column per output, got shape "
                                 f"{column.shape}")
        lengths = {len(c) for c in columns}
        if len(lengths) != 1:
            raise ValueError(f"{name}: the outputs have different lengths {sorted(lengths)}")
        names = names or [getattr(part, "name", None) for part in y]
        if not all(isinstance(n, str) for n in names):
            names = None
        return np.column_stack(columns), names
    array = _numeric(y, name)
    if array.ndim not in (1, 2):
        raise ValueError(f"{name}: expected shape (n,) or (n, k), got {array.shape}")
    if array.ndim == 2 and array.shape[1] == 0:
        raise ValueError(f"{name}: has zero columns; expected at least one output")
    return array, names


def guess_task(y_array):
    """"classification" for boolean labels and integer labels >= 0, (n,) or (n, 1), and
    for one-hot rows (n, K >= 2) of zeros and ones; "regression" otherwise (integers
    below 0 are values: no class label is negative)."""
    array = np.asarray(y_array)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.dtype == np.bool_:
        return CLASSIFICATION
    if array.ndim == 1 and np.issubdtype(array.dtype, np.integer):
        return CLASSIFICATION if not array.size or array.min() >= 0 else REGRESSION
    if array.ndim == 2 and array.shape[1] >= 2 and _is_one_hot(array):
        return CLASSIFICATION
    return REGRESSION


def as_targets(y, task, name="y", class_count=None, classes_from=None):
    """`Targets` of the user's y for `task` ("regression" or "classification").

    Args:
        class_count: classes the model tells apart (its output width; 2 for one
            sigmoid unit), if known: labels must be below it.
        classes_from: what set `class_count`, for the message ("class_names", say).
    """
    if task not in TASKS:
        raise ValueError(f"task: expected 'auto', 'regression' or 'classification', got {task!r}")
    array, names = raw_targets(y, name)
    _check_finite(array, name)
    if task == REGRESSION:
        values = array.astype(np.float64)
        if values.ndim == 1:
            values = values[:, None]
        return Targets(REGRESSION, values, names, "values", 0)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2:
        sums = array.sum(axis=1)
        bad = np.flatnonzero(~np.isclose(sums, 1.0, atol=1e-6))
        if bad.size:
            raise ValueError(
                f"{name}: one-hot rows must sum to 1; row {int(bad[0])} sums to "
                f"{float(sums[bad[0]]):g} ({bad.size} such rows)")
        labels = np.argmax(array, axis=1).astype(np.int64)
        form, seen = "one_hot", array.shape[1]
    else:
        values = array.astype(np.float64)
        if np.any(values != np.round(values)):
            index = int(np.flatnonzero(values != np.round(values))[0])
            raise ValueError(
                f"{name}: class labels must be whole numbers; got {values[index]:g} at index "
                f"{index} (for a regression pass task='regression')")
        if values.min() < 0:
            raise ValueError(f"{name}: class labels must be >= 0, got {values.min():g}")
        if class_count is None and values.max() >= MAX_CLASSES:
            raise ValueError(
                f"{name}: labels up to {int(values.max())} mean {int(values.max()) + 1} "
                f"classes; FitViz records at most {MAX_CLASSES} (for values, pass "
                "task='regression')")
        labels = values.astype(np.int64)
        form, seen = "labels", int(labels.max()) + 1
    if class_count is not None:
        if seen > class_count:
            what = "one-hot width" if form == "one_hot" else f"label {seen - 1}"
            raise ValueError(
                f"{name}: {what} is outside the {class_count} classes"
                + (f" of {classes_from}" if classes_from else "")
                + f" (labels 0..{class_count - 1})")
        seen = class_count
    if seen > MAX_CLASSES:
        raise ValueError(f"{name}: {seen} classes; FitViz records at most {MAX_CLASSES}")
    return Targets(CLASSIFICATION, labels, names, form, max(seen, 2))


def check_lengths(features, targets, x_name="x", y_name="y"):
    _check_lengths(features, targets.values, x_name, y_name)


def _check_lengths(features, targets, x_name, y_name):
    if len(features) != len(targets):
        raise ValueError(
            f"{x_name} and {y_name}: expected the same number of points, "
            f"got {len(features)} and {len(targets)}")


def _is_one_hot(array):
    return bool(np.all((array == 0) | (array == 1)) and np.all(array.sum(axis=1) == 1))


# -- names --------------------------------------------------------------------------


def check_names(names, count, name, default_prefix, start=1):
    """A tuple of `count` strings: the given names, or defaults ("x1", ...)."""
    if names is None:
        if default_prefix == "":
            return tuple(str(i) for i in range(count))
        return default_names(default_prefix, count, start)
    if isinstance(names, str) or not hasattr(names, "__len__"):
        raise TypeError(f"{name}: expected a list of {count} strings, got {type(names).__name__}")
    names = list(names)
    if len(names) != count:
        raise ValueError(f"{name}: expected {count} names, got {len(names)}")
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"{name}: expected strings, got {[type(n).__name__ for n in names]}")
    if not all(names):
        raise ValueError(f"{name}: expected non-empty names, got {names!r}")
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"{name}: expected distinct names; {twice!r} appears "
                         f"{names.count(twice)} times")
    return tuple(names)


# -- choosing points ------------------------------------------------------------------


def resolve_count(spec, available, name, minimum=2):
    """How many points `spec` asks for: an int count or a float fraction in (0, 1]."""
    if isinstance(spec, bool) or not isinstance(spec, numbers.Real):
        raise TypeError(
            f"{name}: expected an int count or a float fraction in (0, 1], "
            f"got {type(spec).__name__}"
        )
    if isinstance(spec, numbers.Integral):
        count = int(spec)
        if count < minimum:
            raise ValueError(f"{name}: expected at least {minimum} points, got {count}")
    else:
        if not 0 < spec <= 1:
            raise ValueError(f"{name}: a fraction must be in (0, 1], got {spec}")
        count = max(1, int(round(spec * available)))
    count = min(count, available)
    if count < minimum:
        raise ValueError(
            f"{name}: gives {count} point(s) of {available}; expected at least {minimum}"
        )
    return count


def evenly_spaced(length, count):
    """`count` distinct indices spread evenly over range(length), first and last included."""
    if count >= length:
        return np.arange(length)
    return np.unique(np.round(np.linspace(0, length - 1, count)).astype(np.int64))


def sample_order(input_width, task):
    """How a run's point sets are chosen and ordered (see `choose`)."""
    if input_width == 1:
        return "x"
    return "class" if task == CLASSIFICATION else "y"


def choose(features, targets, spec, name, minimum=2):
    """Indices of the points that represent (features, targets), in their drawing order.

    - one feature: evenly spaced over the points sorted by x, ascending (the curve
      is drawn through them);
    - several features, regression: evenly spaced over the points sorted by the
      first output's y, ascending (every range of y is covered; the loss map's rows
      run from low to high y);
    - several features, classification: stratified by class: each class gets its
      share of the count (at least one point while the count allows, largest
      remainders first), evenly spaced over its points in the data's order; the
      result is grouped by class.

    Args:
        spec: an int count or a float fraction of the points (see `resolve_count`).
    """
    n = len(features)
    count = resolve_count(spec, n, name, minimum=minimum)
    order = sample_order(features.shape[1], targets.task)
    if order == "x":
        by = np.argsort(features[:, 0], kind="stable")
        return by[evenly_spaced(n, count)]
    if order == "y":
        by = np.argsort(targets.values[:, 0], kind="stable")
        return by[evenly_spaced(n, count)]
    return _stratified(targets.values, count)


def _stratified(labels, count):
    classes, sizes = np.unique(labels, return_counts=True)
    n = len(labels)
    if count >= n:
        return np.concatenate([np.flatnonzero(labels == c) for c in classes])
    exact = sizes * count / n
    shares = np.floor(exact).astype(np.int64)
    # At least one point per class while the count allows it.
    shares = np.where((shares == 0) & (sizes > 0), 1, shares)
    while shares.sum() > count:
        largest = int(np.argmax(shares - exact))
        shares[largest] -= 1
    remainder = exact - shares
    for index in np.argsort(-remainder, kind="stable"):
        if shares.sum() >= count:
            break
        if shares[index] < sizes[index]:
            shares[index] += 1
    parts = []
    for c, share in zip(classes, shares):
        members = np.flatnonzero(labels == c)
        parts.append(members[evenly_spaced(len(members), int(share))])
    return np.concatenate(parts)


def make_grid(features, size, margin):
    """The `Grid` of a surface over two features: their range with `margin` of it on
    each side, `size` points a side."""
    if isinstance(size, bool) or not isinstance(size, numbers.Integral):
        raise TypeError(f"grid: expected an int (points a side) or None, got {type(size).__name__}")
    if not 2 <= size <= MAX_GRID:
        raise ValueError(f"grid: expected 2 to {MAX_GRID} points a side, got {size}")
    ranges = []
    for column in (0, 1):
        lo, hi = float(features[:, column].min()), float(features[:, column].max())
        span = hi - lo if hi > lo else max(abs(hi), 1.0)
        ranges.append((lo - margin * span, hi + margin * span))
    return Grid(size=int(size), x_range=ranges[0], y_range=ranges[1])


# -- helpers ------------------------------------------------------------------------


def _is_series(value):
    return type(value).__name__ == "Series" and hasattr(value, "to_numpy")


def _column_names(value):
    columns = getattr(value, "columns", None)
    if columns is not None and type(value).__name__ == "DataFrame":
        return [str(c) for c in columns]
    return None


def _pandas_frame(values, name):
    """A pandas DataFrame as a NumPy array, every column checked: one that holds no
    numbers is named. Columns of pandas' own dtypes (nullable Int64, Float64,
    boolean) are read as float64, a missing value as NaN (refused later as such)."""
    from pandas.api import types

    for column, dtype in zip(values.columns, values.dtypes):
        if isinstance(dtype, types.CategoricalDtype):
            dtype = dtype.categories.dtype
        if not (types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype)):
            raise TypeError(f"{name}: column {str(column)!r} is not numeric (dtype {dtype}); "
                            "expected numbers in every column")
    if all(isinstance(dtype, np.dtype) for dtype in values.dtypes):
        return values.to_numpy()
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _numeric(values, name):
    if type(values).__name__ == "DataFrame" and type(values).__module__.startswith("pandas"):
        values = _pandas_frame(values, name)
    elif hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    try:
        array = np.asarray(values)
    except Exception as error:  # noqa: BLE001 (whatever an array-like raises)
        text = str(error)
        if "inhomogeneous" in text or "sequence" in text:  # NumPy's words for ragged rows
            raise TypeError(f"{name}: expected numbers in rows of equal length; got rows of "
                            "different lengths or numbers mixed with lists") from None
        raise TypeError(f"{name}: expected numeric array-like data ({error})") from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(f"{name}: expected numeric data, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name}: expected real numbers, got complex values")
    if array.ndim == 0:
        raise ValueError(f"{name}: expected an array of points, got a single number")
    if array.shape[0] == 0:
        raise ValueError(f"{name}: is empty; expected at least 2 points")
    return array


def _check_finite(array, name):
    if not np.issubdtype(array.dtype, np.floating):
        return
    bad = ~np.isfinite(array)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), array.shape)
        where = int(first[0])
        raise ValueError(
            f"{name}: has {int(bad.sum())} NaN or infinite value(s), first at index "
            f"{where}; expected finite numbers"
        )
