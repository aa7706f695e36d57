// Colour scales: parsing, mixing, sequential and diverging ramps, class colours, decision
// regions. Pure (no DOM): runs in Node too. Every colour comes from the theme (theme.js).

/** [r, g, b, a] (0-255, alpha 0-1) of '#rgb', '#rrggbb' or '#rrggbbaa'. */
export function parseColor(text) {
  const hex = String(text).trim().replace(/^#/, '');
  if (!/^([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.test(hex)) {
    throw new RangeError(`colour: expected '#rrggbb' or '#rrggbbaa', got ${JSON.stringify(text)}`);
  }
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex;
  const n = (i) => Number.parseInt(full.slice(i, i + 2), 16);
  return [n(0), n(2), n(4), full.length === 8 ? n(6) / 255 : 1];
}

/** CSS text of [r, g, b, a]. */
export function cssColor([r, g, b, a = 1]) {
  return a >= 1 ? `rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)})`
    : `rgba(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)}, ${a})`;
}

/** A theme colour with another alpha, as CSS text. */
export function withAlpha(text, alpha) {
  const [r, g, b] = parseColor(text);
  return cssColor([r, g, b, alpha]);
}

/** The colour t of the way from a to b ([r, g, b(, a)] arrays), t clamped to [0, 1]. */
export function mix(a, b, t) {
  const u = t < 0 ? 0 : t > 1 ? 1 : t;
  return [a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u,
    (a[3] ?? 1) + ((b[3] ?? 1) - (a[3] ?? 1)) * u];
}

/**
 * A colour ramp through evenly spaced stops, as a lookup table of `size` RGB colours.
 * @param {string[]} stops theme colours, from the low end to the high end
 * @returns {{lut: Uint8ClampedArray, size: number, at(t: number): number[], css(t: number): string}}
 *   `lut` holds size x [r, g, b]; `at(t)` the [r, g, b] for t in [0, 1] (clamped; NaN: null).
 */
export function ramp(stops, size = 256) {
  if (!Array.isArray(stops) || stops.length < 2) throw new RangeError('ramp: expected at least two stops');
  const colors = stops.map(parseColor);
  const lut = new Uint8ClampedArray(size * 3);
  for (let i = 0; i < size; i++) {
    const t = (i / (size - 1)) * (colors.length - 1);
    const k = Math.min(colors.length - 2, Math.floor(t));
    const c = mix(colors[k], colors[k + 1], t - k);
    lut[3 * i] = Math.round(c[0]);
    lut[3 * i + 1] = Math.round(c[1]);
    lut[3 * i + 2] = Math.round(c[2]);
  }
  const index = (t) => Math.max(0, Math.min(size - 1, Math.round(t * (size - 1))));
  return {
    lut,
    size,
    at(t) {
      if (!Number.isFinite(t)) return null;
      const i = 3 * index(t);
      return [lut[i], lut[i + 1], lut[i + 2]];
    },
    css(t) {
      const c = this.at(t);
      return c ? cssColor(c) : 'transparent';
    },
  };
}

/** The fraction of the way `value` lies in [lo, hi] (not clamped; NaN for a non-finite value). */
export function normalize(value, lo, hi) {
  if (!Number.isFinite(value)) return NaN;
  return hi > lo ? (value - lo) / (hi - lo) : 0.5;
}

/** The theme's colour of class `c` (cycling through the palette). */
export function classColor(theme, c) {
  const palette = theme.classes;
  return palette[((c % palette.length) + palette.length) % palette.length];
}

/**
 * Decision regions: for each grid point, the colour of its most probable class, mixed from the
 * theme's region base by how sure the model is there (1/K: the base, 1: the class colour).
 * @param {Float32Array|Float64Array} probs class-major: probs[c * count + i] = P(class c) at point i
 * @param {number} classCount K
 * @param {number} count points
 * @param {number[][]} classRGB [r, g, b] per class
 * @param {number[]} baseRGB the region base [r, g, b]
 * @param {Uint8ClampedArray} out RGBA, 4 x count
 */
export function regionColors(probs, classCount, count, classRGB, baseRGB, out) {
  const floor = 1 / classCount;
  for (let i = 0; i < count; i++) {
    let best = 0;
    let p = probs[i];
    let finite = Number.isFinite(p);
    for (let c = 1; c < classCount; c++) {
      const q = probs[c * count + i];
      if (!Number.isFinite(q)) finite = false;
      else if (q > p) {
        p = q;
        best = c;
      }
    }
    const o = 4 * i;
    if (!finite) {
      out[o] = out[o + 1] = out[o + 2] = 0;
      out[o + 3] = 0; // a diverging model: transparent (the background shows)
      continue;
    }
    const t = (p - floor) / (1 - floor);
    const c = classRGB[best];
    const u = t < 0 ? 0 : t > 1 ? 1 : t;
    out[o] = baseRGB[0] + (c[0] - baseRGB[0]) * u;
    out[o + 1] = baseRGB[1] + (c[1] - baseRGB[1]) * u;
    out[o + 2] = baseRGB[2] + (c[2] - baseRGB[2]) * u;
    out[o + 3] = 255;
  }
  return out;
}

/**
 * Values through a ramp into RGBA pixels: value v gets lut[(v - lo) / (hi - lo)]; non-finite
 * values are transparent.
 * @param {ArrayLike<number>} values
 * @param {{lut: Uint8ClampedArray, size: number}} scale from `ramp`
 * @param {Uint8ClampedArray} out RGBA, 4 x values.length
 */
export function rampColors(values, lo, hi, scale, out) {
  const {lut, size} = scale;
  const k = hi > lo ? (size - 1) / (hi - lo) : 0;
  const mid = (size - 1) >> 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const o = 4 * i;
    if (!Number.isFinite(v)) {
      out[o + 3] = 0;
      continue;
    }
    let j = k ? Math.round((v - lo) * k) : mid;
    j = j < 0 ? 0 : j >= size ? size - 1 : j;
    out[o] = lut[3 * j];
    out[o + 1] = lut[3 * j + 1];
    out[o + 2] = lut[3 * j + 2];
    out[o + 3] = 255;
  }
  return out;
}

/**
 * A grid of G x G values stored row-major with row 0 at the lowest value of feature 2, as image
 * rows top-down (row 0 of the image is the highest value of feature 2): flips the rows of RGBA.
 */
export function flipRows(rgba, width, height, out) {
  const row = 4 * width;
  for (let r = 0; r < height; r++) {
    out.set(rgba.subarray(r * row, (r + 1) * row), (height - 1 - r) * row);
  }
  return out;
}
