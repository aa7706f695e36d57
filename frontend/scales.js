// Scales, ticks and extents for the charts. Pure: runs in Node too.

/** [min, max] of the finite values of several arrays (optionally positive only), or null. */
export function finiteExtent(arrays, {positiveOnly = false} = {}) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const values of arrays) {
    if (!values) continue;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || !Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Widens a domain by `fraction` of its span on both sides; a zero span gets a unit width. */
export function padDomain(domain, fraction = 0.05) {
  let [lo, hi] = domain;
  if (lo === hi) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - d, hi + d];
  }
  const d = (hi - lo) * fraction;
  return [lo - d, hi + d];
}

/**
 * A scale from a data domain to a pixel range.
 * @param {'linear'|'log'} type  log needs a positive domain; values <= 0 map below the range.
 * @param {[number, number]} domain
 * @param {[number, number]} range pixels (may be reversed: y grows downwards)
 */
export function makeScale(type, domain, range) {
  let [d0, d1] = domain;
  const [r0, r1] = range;
  if (type === 'log') {
    if (!(d0 > 0)) d0 = d1 > 0 ? d1 / 10 : 1;
    if (!(d1 > d0)) d1 = d0 * 10;
    const l0 = Math.log10(d0);
    const l1 = Math.log10(d1);
    const k = (r1 - r0) / (l1 - l0);
    const scale = (v) => (v > 0 ? r0 + (Math.log10(v) - l0) * k : (r1 > r0 ? -Infinity : Infinity));
    scale.invert = (p) => 10 ** (l0 + (p - r0) / k);
    scale.ticks = (count) => logTicks(d0, d1, count);
    Object.assign(scale, {type, domain: [d0, d1], range: [r0, r1]});
    return scale;
  }
  if (type !== 'linear') throw new RangeError(`scale type: expected "linear" or "log", got ${type}`);
  if (d0 === d1) {
    d0 -= 0.5;
    d1 += 0.5;
  }
  const k = (r1 - r0) / (d1 - d0);
  const scale = (v) => r0 + (v - d0) * k;
  scale.invert = (p) => d0 + (p - r0) / k;
  scale.ticks = (count) => niceTicks(d0, d1, count);
  Object.assign(scale, {type, domain: [d0, d1], range: [r0, r1]});
  return scale;
}

/** The step between ticks: 1, 2 or 5 times a power of ten, giving about `count` ticks. */
export function tickStep(lo, hi, count) {
  const span = Math.abs(hi - lo);
  if (!(span > 0) || !(count > 0)) return 0;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const ratio = raw / power;
  const factor = ratio >= 7.5 ? 10 : ratio >= 3.5 ? 5 : ratio >= 1.5 ? 2 : 1;
  return factor * power;
}

/** Round tick values inside [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (lo > hi) [lo, hi] = [hi, lo];
  const step = tickStep(lo, hi, count);
  if (!step) return Number.isFinite(lo) ? [lo] : [];
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const ticks = [];
  for (let i = first; i <= last; i++) ticks.push(cleanFloat(i * step));
  return ticks;
}

/** Powers of ten inside [lo, hi] (thinned to about `count`), or linear ticks for a narrow range. */
export function logTicks(lo, hi, count = 5) {
  const a = Math.ceil(Math.log10(lo) - 1e-9);
  const b = Math.floor(Math.log10(hi) + 1e-9);
  if (b - a < 1) {
    return niceTicks(lo, hi, Math.max(2, Math.min(count, 4))).filter((t) => t > 0);
  }
  const every = Math.max(1, Math.ceil((b - a + 1) / count));
  const ticks = [];
  for (let e = a; e <= b; e += every) ticks.push(cleanFloat(10 ** e));
  return ticks;
}

function cleanFloat(v) {
  return Number.parseFloat(v.toPrecision(12));
}

/** A short label for a tick value: 0.25, 1e-4, 12k, 1.5M. */
export function formatTick(v) {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e6 && a < 1e15) return trim((v / 1e6).toPrecision(3)) + 'M';
  if (a >= 1e4 && a < 1e6) return trim((v / 1e3).toPrecision(3)) + 'k';
  if (a >= 1e15 || a < 1e-3) {
    const [m, e] = v.toExponential(1).split('e');
    return `${trim(m)}e${Number(e)}`;
  }
  return trim(v.toPrecision(4));
}

function trim(text) {
  return text.includes('.') && !text.includes('e') ? text.replace(/\.?0+$/, '') : text;
}

/** Index of the last element of sorted `array` that is <= value, or -1. */
export function lastAtOrBefore(array, value) {
  let lo = 0;
  let hi = array.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (array[mid] <= value) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Index of the element of sorted `array` closest to value (ties: the earlier), or -1 if empty. */
export function nearestIndex(array, value) {
  if (!array.length) return -1;
  const i = lastAtOrBefore(array, value);
  if (i < 0) return 0;
  if (i >= array.length - 1) return array.length - 1;
  return value - array[i] <= array[i + 1] - value ? i : i + 1;
}

/** The q-quantile (0..1) of sorted finite values, linearly interpolated (as d3.quantile). */
export function quantile(sorted, q) {
  const n = sorted.length;
  if (!n) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  return lo >= n - 1 ? sorted[n - 1] : sorted[lo] + (sorted[lo + 1] - sorted[lo]) * (h - lo);
}

/**
 * [lo, hi] of the finite values of several arrays, ignoring outliers: between the given quantiles
 * (TensorBoard's "Ignore outliers in chart scaling" takes the 5th and 95th percentiles), or the
 * whole extent when `quantiles` is null. Null when there is no finite value.
 * @param {Array<ArrayLike<number>|null>} arrays
 * @param {{quantiles?: number[]|null, positiveOnly?: boolean}} options
 */
export function robustExtent(arrays, {quantiles = null, positiveOnly = false} = {}) {
  if (!quantiles) return finiteExtent(arrays, {positiveOnly});
  const values = [];
  for (const array of arrays) {
    if (!array) continue;
    for (let i = 0; i < array.length; i++) {
      const v = array[i];
      if (v === null || !Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
      values.push(v);
    }
  }
  if (!values.length) return null;
  values.sort((a, b) => a - b);
  return [quantile(values, quantiles[0]), quantile(values, quantiles[1])];
}
