"""When to record a frame: built-in schedules and the raw forms of `every`.

A schedule is asked once per global batch (step 1 = after the first batch,
counted over all epochs, never reset) whether to record a frame there. The
first and the last batch of a fit are recorded whatever it says.

The `every` option accepts:

- an int n: every n-th batch (`EveryN(n)`);
- a sequence of booleans, one per global batch, the first for step 1
  (`Mask(sequence)`); steps beyond its end are not recorded;
- a callable `(step, logs) -> bool`;
- any `Schedule` below: `EveryN`, `LogSpaced`, `OnChange`.

Example:

```python
from tb_fitviz import FitVizCallback, schedules
FitVizCallback("logs/run", x, y, every=schedules.LogSpaced(budget=200))
FitVizCallback("logs/run", x, y, every=schedules.OnChange(tolerance=0.02))
```
"""

import math
import numbers

import numpy as np

DEFAULT_BUDGET = 300
# Length assumed by LogSpaced when the number of batches is not known in advance.
UNKNOWN_TOTAL_STEPS = 100_000


class Schedule:
    """Base class: decides, at each global batch, whether to record a frame.

    Subclasses implement `__call__(step, logs=None, predictions=None)`.
    `needs_predictions` tells the caller to pass the current predictions on
    the sample (which costs a forward pass at every batch).
    """

    needs_predictions = False

    def start(self, total_steps=None):
        """Called when training starts; `total_steps` is the last planned step, if known."""

    def recorded(self, step, predictions=None):
        """Called after a frame was recorded at `step` (whatever decided it)."""

    def __call__(self, step, logs=None, predictions=None):
        raise NotImplementedError

    def describe(self):
        """A short text stored in the run's settings."""
        return type(self).__name__


class EveryN(Schedule):
    """Every n-th global batch: steps n, 2n, 3n, ...

    Args:
        n: Positive int.
    """

    def __init__(self, n):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"every: expected a positive int, got {type(n).__name__}")
        if n < 1:
            raise ValueError(f"every: expected a positive int, got {n}")
        self.n = int(n)

    def __call__(self, step, logs=None, predictions=None):
        return step % self.n == 0

    def describe(self):
        return f"every {self.n}"


class Mask(Schedule):
    """One boolean per global batch, the first for step 1; later steps: False.

    Args:
        mask: Sequence of booleans (or 0/1).
    """

    def __init__(self, mask):
        try:
            array = np.asarray(mask)
        except Exception:
            raise TypeError("every: expected a sequence of booleans") from None
        if array.ndim != 1:
            raise ValueError(
                f"every: expected a flat sequence of booleans, got shape {array.shape}")
        if array.dtype != np.bool_:
            if not np.issubdtype(array.dtype, np.integer) or not np.isin(array, (0, 1)).all():
                raise TypeError(
                    "every: a sequence must hold booleans (one per global batch), "
                    f"got dtype {array.dtype}"
                )
            array = array.astype(bool)
        self.mask = array

    def __call__(self, step, logs=None, predictions=None):
        return 1 <= step <= len(self.mask) and bool(self.mask[step - 1])

    def describe(self):
        return f"mask of {len(self.mask)} batches, {int(self.mask.sum())} recorded"


class FromCallable(Schedule):
    """Wraps a callable `(step, logs) -> bool`."""

    def __init__(self, function):
        if not callable(function):
            raise TypeError(f"every: expected a callable, got {type(function).__name__}")
        self.function = function

    def __call__(self, step, logs=None, predictions=None):
        return bool(self.function(step, logs))

    def describe(self):
        return f"callable {getattr(self.function, '__name__', type(self.function).__name__)}"


class LogSpaced(Schedule):
    """Dense early, sparse late: at most `budget` frames, spaced evenly in log(step).

    Training changes the model fastest at first, so a fixed "every n" wastes
    frames late and misses the early action. With T planned batches, the
    recorded steps are the distinct values of round(T ** (i / (k - 1))) for the
    largest k giving at most `budget` steps: every batch at first, then ever
    wider gaps. When T is unknown (e.g. a generator without length),
    100,000 is assumed. Past T (e.g. a second `fit`), steps keep the last gap's
    ratio.

    Args:
        budget: Maximum number of frames over the planned batches (>= 2).
        total_steps: Planned number of batches; by default given by the
            trainer at start (Keras: epochs x steps per epoch).
    """

    def __init__(self, budget=DEFAULT_BUDGET, total_steps=None):
        if isinstance(budget, bool) or not isinstance(budget, numbers.Integral):
            raise TypeError(f"budget: expected an int >= 2, got {type(budget).__name__}")
        if budget < 2:
            raise ValueError(f"budget: expected an int >= 2, got {budget}")
        if total_steps is not None and (
            isinstance(total_steps, bool) or not isinstance(total_steps, numbers.Integral)
            or total_steps < 1
        ):
            raise ValueError(f"total_steps: expected a positive int or None, got {total_steps!r}")
        self.budget = int(budget)
        self._fixed_total = total_steps
        self._plan(total_steps or UNKNOWN_TOTAL_STEPS)

    def start(self, total_steps=None):
        if self._fixed_total is None and total_steps:
            self._plan(int(total_steps))

    def _plan(self, total):
        self.total_steps = total
        self.steps = planned_log_steps(total, self.budget)
        self._set = set(self.steps.tolist())
        last, before = self.steps[-1], self.steps[-2] if len(self.steps) > 1 else 1
        self._ratio = max(last / max(before, 1), 1.0 + 1e-9)
        self._next_beyond = last

    def __call__(self, step, logs=None, predictions=None):
        if step <= self.total_steps:
            return step in self._set
        while self._next_beyond < step:
            self._next_beyond = max(self._next_beyond + 1,
                                    int(math.ceil(self._next_beyond * self._ratio)))
        return step == self._next_beyond

    def describe(self):
        return f"log-spaced, budget {self.budget}"


def planned_log_steps(total, budget):
    """Sorted distinct steps in [1, total], log-spaced, at most `budget` of them."""
    total = int(total)
    if total <= budget:
        return np.arange(1, total + 1)

    def steps_for(count):
        exponents = np.linspace(0.0, math.log(total), count)
        return np.unique(np.round(np.exp(exponents)).astype(np.int64))

    lo, hi = budget, budget
    while len(steps_for(hi)) <= budget:
        lo, hi = hi, hi * 2
    # Largest count whose distinct steps fit in the budget.
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if len(steps_for(mid)) <= budget:
            lo = mid
        else:
            hi = mid
    return steps_for(lo)


class OnChange(Schedule):
    """Records when the predictions moved more than `tolerance` since the last frame.

    Needs the predictions at every batch: the caller runs the compiled forward
    pass after each batch (as recording every batch does, minus the writing),
    so this saves disk space and frames, not training time.

    Args:
        tolerance: Largest allowed change of any prediction, in units of y,
            or, with `relative=True`, as a fraction of the sample's y range.
        relative: See `tolerance`.
    """

    needs_predictions = True

    def __init__(self, tolerance=0.01, relative=True):
        if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real):
            raise TypeError(
                f"tolerance: expected a positive number, got {type(tolerance).__name__}")
        if not (tolerance > 0 and math.isfinite(tolerance)):
            raise ValueError(f"tolerance: expected a positive finite number, got {tolerance}")
        self.tolerance = float(tolerance)
        self.relative = bool(relative)
        self.scale = 1.0
        self._last = None

    def set_scale(self, y_sample):
        """Sets the y range that a relative tolerance refers to."""
        y = np.asarray(y_sample, dtype=np.float64)
        span = float(np.ptp(y)) if y.size else 0.0
        self.scale = span if span > 0 else 1.0

    def recorded(self, step, predictions=None):
        if predictions is not None:
            self._last = np.array(predictions, dtype=np.float64, copy=True).reshape(-1)

    def __call__(self, step, logs=None, predictions=None):
        if predictions is None or self._last is None:
            return True
        current = np.asarray(predictions, dtype=np.float64).reshape(-1)
        finite = np.isfinite(current)
        if not np.array_equal(finite, np.isfinite(self._last)):
            return True  # a prediction turned NaN/inf, or came back: worth a frame
        if not finite.any():
            return False
        return bool(np.max(np.abs(current[finite] - self._last[finite])) > self.threshold)

    @property
    def threshold(self):
        return self.tolerance * (self.scale if self.relative else 1.0)

    def describe(self):
        unit = " of the y range" if self.relative else ""
        return f"on change > {self.tolerance:g}{unit}"


def as_schedule(every):
    """The `Schedule` for a value of the `every` option (None: every call)."""
    if every is None:
        return None
    if isinstance(every, Schedule):
        return every
    if isinstance(every, bool):
        raise TypeError("every: expected an int, a sequence of booleans, a callable or a "
                        "tb_fitviz.schedules schedule, got bool")
    if isinstance(every, numbers.Integral):
        return EveryN(every)
    if isinstance(every, (str, bytes)):
        raise TypeError(f"every: expected an int, a sequence of booleans, a callable or a "
                        f"tb_fitviz.schedules schedule, got the string {every!r}")
    if callable(every):
        return FromCallable(every)
    if isinstance(every, numbers.Real):
        raise TypeError(f"every: expected a positive int, got {every!r}")
    if hasattr(every, "__len__") or hasattr(every, "__array__"):
        return Mask(every)
    raise TypeError(
        "every: expected an int, a sequence of booleans, a callable (step, logs) -> bool "
        f"or a tb_fitviz.schedules schedule, got {type(every).__name__}"
    )
