// A run's kind, as its stored settings declare it (tb_fitviz/kind.py is the Python side): which
// channel holds what, class probabilities, the true-class probability and confusion counts of a
// frame. Pure: runs in Node too.

/**
 * What the tab needs to know of a run's kind, from its (normalized) settings.
 * @param {object} settings the `settings` of GET runs / GET static
 */
export function runKind(settings) {
  const s = settings || {};
  const task = s.task || 'regression';
  const classNames = s.class_names || null;
  const channels = (s.channels && s.channels.sample) || ['pred:0', 'loss'];
  const gridChannels = (s.channels && s.channels.grid) || [];
  const classCount = classNames ? classNames.length : 0;
  const outputNames = s.output_names || ['y'];
  return {
    task,
    classification: task === 'classification',
    inputWidth: s.input_width || 1,
    featureNames: s.feature_names || ['x'],
    outputNames,
    outputCount: task === 'classification' ? 1 : outputNames.length,
    classNames,
    classCount,
    binary: task === 'classification' && classCount === 2,
    views: s.views || ['curve'],
    grid: s.grid || null,
    channels,
    gridChannels,
    channel: (name) => channels.indexOf(name),
    sampleOrder: s.sample_order || 'x',
    view: s.view || {},
  };
}

/**
 * Class probabilities of point i: P(class c) = probs(c, i).
 * @param {object} kind from runKind
 * @param {Float32Array} values a frame's channels, channel-major (C x N)
 * @param {number} n points per frame
 * @returns {function(number, number): number}
 */
export function classProbability(kind, values, n) {
  if (kind.binary) {
    return (c, i) => (c === 1 ? values[i] : 1 - values[i]);
  }
  return (c, i) => values[c * n + i];
}

/** Float64Array [N]: the probability the frame gives each point's true class. */
export function trueClassProbability(kind, values, labels, out) {
  const n = labels.length;
  const p = classProbability(kind, values, n);
  const result = out && out.length === n ? out : new Float64Array(n);
  for (let i = 0; i < n; i++) result[i] = p(labels[i], i);
  return result;
}

/** The most probable class of point i (the lower index on a tie); -1 if a probability is not finite. */
export function predictedClass(kind, values, n, i) {
  const p = classProbability(kind, values, n);
  let best = 0;
  let top = p(0, i);
  if (!Number.isFinite(top)) return -1;
  for (let c = 1; c < kind.classCount; c++) {
    const q = p(c, i);
    if (!Number.isFinite(q)) return -1;
    if (q > top) {
      top = q;
      best = c;
    }
  }
  return best;
}

/**
 * Confusion counts of a frame: counts[t * K + p] points of true class t predicted as p. Points with
 * a non-finite probability (a diverging model) are counted nowhere. Same rule as
 * tb_fitviz.kind.RunKind.confusion.
 */
export function confusionCounts(kind, values, labels, out) {
  const k = kind.classCount;
  const counts = out && out.length === k * k ? out.fill(0) : new Int32Array(k * k);
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    const predicted = predictedClass(kind, values, n, i);
    if (predicted >= 0) counts[labels[i] * k + predicted] += 1;
  }
  return counts;
}
