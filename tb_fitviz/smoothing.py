"""Moving average of the per-point loss over points sorted by x.

The original module smoothed with ``np.convolve(mode="same")``, which pads with
zeros: values sag at both ends. Here the window shrinks at the edges instead,
so every output value is the mean of real points only.
"""

import numbers

import numpy as np


def check_window(window, name="window"):
    """`window` as an int, or a clear error: a positive odd integer is expected."""
    if isinstance(window, bool) or not isinstance(window, numbers.Integral):
        raise TypeError(f"{name}: expected a positive odd int, got {type(window).__name__}")
    window = int(window)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"{name}: expected a positive odd int (1, 3, 5, ...), got {window}")
    return window


def moving_average(values, window):
    """Centred moving average of `values` over `window` points, exact at the edges.

    Near the ends the window is truncated to the points that exist (no zero
    padding), so a constant input gives the same constant back, and a sample
    shorter than the window is simply averaged over what there is.
    A window that holds a NaN gives NaN; one that holds +inf (and no NaN or
    -inf) gives +inf, and likewise for -inf.

    Args:
        values: 1-D array of numbers (e.g. the per-point loss, sorted by x).
        window: Positive odd int; 1 returns the values unchanged (as float64).

    Returns:
        float64 array of the same length as `values`.

    Example:

    >>> moving_average([1.0, 2.0, 3.0, 4.0], 3)
    array([1.5, 2. , 3. , 3.5])
    """
    window = check_window(window)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"values: expected a 1-D array, got shape {values.shape}")
    n = len(values)
    if window == 1 or n == 0:
        return values.copy()
    half = window // 2
    index = np.arange(n)
    lo = np.maximum(index - half, 0)
    hi = np.minimum(index + half + 1, n)
    finite = np.isfinite(values)
    clean = np.where(finite, values, 0.0)
    # Cumulative sums of the finite values only: one NaN must not poison the rest.
    sums = np.concatenate(([0.0], np.cumsum(clean)))
    result = (sums[hi] - sums[lo]) / (hi - lo)
    if not finite.all():
        result = _non_finite_windows(values, lo, hi, result)
    return result


def _non_finite_windows(values, lo, hi, result):
    def window_counts(mask):
        counts = np.concatenate(([0], np.cumsum(mask)))
        return counts[hi] - counts[lo]

    has_nan = window_counts(np.isnan(values)) > 0
    has_pos = window_counts(values == np.inf) > 0
    has_neg = window_counts(values == -np.inf) > 0
    result = result.copy()
    result[has_pos] = np.inf
    result[has_neg] = -np.inf
    result[has_nan | (has_pos & has_neg)] = np.nan
    return result
