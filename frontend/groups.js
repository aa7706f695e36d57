// Which runs share axes: only runs whose data are the same (the same sample, the same kind of
// picture). Pure: runs in Node too.

/** A short fingerprint of a point set ({features, targets} or {x, y} of GET static). */
export function pointsKey(points) {
  if (!points) return 'none';
  const rows = points.features ? [...points.features, ...points.targets] : [points.x, points.y];
  const n = rows[0] ? rows[0].length : 0;
  const parts = [rows.length, n];
  const step = Math.max(1, Math.floor(n / 64));
  for (const row of rows) {
    let sum = 0;
    for (let i = 0; i < n; i += step) sum += (row[i] ?? 0) * (1 + (i % 7));
    parts.push(row[0], row[n - 1], sum.toPrecision(12));
  }
  return parts.join(':');
}

/** The key of a run's axes: its sample, and what its settings make of it. */
export function axesKey(staticData) {
  const s = staticData.settings || {};
  return [s.task, s.input_width, (s.output_names || []).length, pointsKey(staticData.sample)].join('|');
}

/**
 * Groups of run names that share axes, in the order of `names`.
 * @param {string[]} names
 * @param {function(string): string} keyOf
 * @returns {{key: string, runs: string[]}[]}
 */
export function groupRuns(names, keyOf) {
  const groups = new Map();
  for (const name of names) {
    const key = keyOf(name);
    if (!groups.has(key)) groups.set(key, {key, runs: []});
    groups.get(key).runs.push(name);
  }
  return [...groups.values()];
}
