"""Checking the user's data and choosing the points FitViz predicts on and draws."""

import numbers

import numpy as np


def as_points(x, y, x_name="x", y_name="y"):
    """x and y as two 1-D float64 arrays of equal length, or a clear error.

    Accepts lists, NumPy arrays of shape (n,) or (n, 1), pandas Series and
    anything `np.asarray` understands.
    """
    x = _one_column(x, x_name, "feature")
    y = _one_column(y, y_name, "output")
    if len(x) != len(y):
        raise ValueError(
            f"{x_name} and {y_name}: expected the same number of points, "
            f"got {len(x)} and {len(y)}"
        )
    return x, y


def _one_column(values, name, what):
    try:
        array = np.asarray(values)
    except Exception as error:  # ragged lists and the like
        raise TypeError(f"{name}: expected numeric array-like data ({error})") from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(f"{name}: expected numeric data, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name}: expected real numbers, got complex values")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    elif array.ndim == 2 and array.shape[1] > 1:
        raise ValueError(
            f"{name}: has {array.shape[1]} {what}s; FitViz supports one {what} "
            f"(shape (n,) or (n, 1)) so far"
        )
    if array.ndim != 1:
        raise ValueError(f"{name}: expected shape (n,) or (n, 1), got {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name}: is empty; expected at least 2 points")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(
            f"{name}: has {int(bad.sum())} NaN or infinite value(s), first at index "
            f"{int(np.argmax(bad))}; expected finite numbers"
        )
    return array


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
