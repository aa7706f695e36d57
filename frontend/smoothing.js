// Moving averages, exact at the edges (no zero padding). Pure: runs in Node too.
// Same rules as tb_fitviz/smoothing.py: the window shrinks to the points that exist;
// a window holding NaN gives NaN, one holding +inf (and no NaN or -inf) gives +inf.

/** Checks a moving-average window: a positive odd integer. */
export function checkWindow(window, name = 'window') {
  if (!Number.isInteger(window) || window < 1 || window % 2 === 0) {
    throw new RangeError(`${name}: expected a positive odd integer (1, 3, 5, ...), got ${window}`);
  }
  return window;
}

/** The nearest valid window (odd, >= 1, at most `max` rounded down to odd) to any number. */
export function toOddWindow(value, max = Infinity) {
  let w = Math.round(Number(value));
  if (!Number.isFinite(w) || w < 1) w = 1;
  if (w % 2 === 0) w += 1;
  if (w > max) w = Math.max(1, max % 2 === 0 ? max - 1 : max);
  return w;
}

/**
 * Centred moving average of `values` over `window` points.
 * @param {ArrayLike<number>} values
 * @param {number} window positive odd integer
 * @param {Float64Array} [out] reused output buffer of the same length
 * @returns {Float64Array}
 */
export function movingAverage(values, window, out) {
  checkWindow(window);
  const n = values.length;
  const result = out && out.length === n ? out : new Float64Array(n);
  if (window === 1 || n === 0) {
    for (let i = 0; i < n; i++) result[i] = values[i];
    return result;
  }
  const half = (window - 1) / 2;
  // Prefix sums of the finite values and prefix counts of NaN / +inf / -inf.
  const sums = new Float64Array(n + 1);
  const nans = new Int32Array(n + 1);
  const pos = new Int32Array(n + 1);
  const neg = new Int32Array(n + 1);
  let anyNonFinite = false;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const finite = Number.isFinite(v);
    sums[i + 1] = sums[i] + (finite ? v : 0);
    if (!finite) anyNonFinite = true;
    nans[i + 1] = nans[i] + (Number.isNaN(v) ? 1 : 0);
    pos[i + 1] = pos[i] + (v === Infinity ? 1 : 0);
    neg[i + 1] = neg[i] + (v === -Infinity ? 1 : 0);
  }
  for (let i = 0; i < n; i++) {
    const lo = i - half < 0 ? 0 : i - half;
    const hi = i + half + 1 > n ? n : i + half + 1;
    let v = (sums[hi] - sums[lo]) / (hi - lo);
    if (anyNonFinite) {
      const hasNan = nans[hi] - nans[lo] > 0;
      const hasPos = pos[hi] - pos[lo] > 0;
      const hasNeg = neg[hi] - neg[lo] > 0;
      if (hasNan || (hasPos && hasNeg)) v = NaN;
      else if (hasPos) v = Infinity;
      else if (hasNeg) v = -Infinity;
    }
    result[i] = v;
  }
  return result;
}

/**
 * Half-widths of the loss band around the curve.
 * @param {ArrayLike<number>} pointLoss per-point loss (sorted by x)
 * @param {number} window smoothing window (odd)
 * @param {'sqrt'|'raw'} mode 'sqrt': square root of the smoothed loss (units of y for a squared
 *   error); 'raw': the smoothed loss itself (the original module's band)
 * @returns {Float64Array}
 */
export function bandHalfWidth(pointLoss, window, mode = 'sqrt', out) {
  const smoothed = movingAverage(pointLoss, window, out);
  if (mode === 'sqrt') {
    for (let i = 0; i < smoothed.length; i++) {
      const v = smoothed[i];
      smoothed[i] = v >= 0 ? Math.sqrt(v) : NaN;
    }
  } else if (mode !== 'raw') {
    throw new RangeError(`band mode: expected "sqrt" or "raw", got ${JSON.stringify(mode)}`);
  }
  return smoothed;
}
