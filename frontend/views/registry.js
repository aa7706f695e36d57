// The views of the FitViz tab, in one list. A view is a module with one small interface:
//
//   id                   its name in a run's settings (`views`); its label in the view menu
//                        is here (ENTRIES), so that the menu lists views not loaded yet
//   series               the frame series it draws from ('sample', 'grid'); [] for none
//   overlay              whether several runs can share its panel (canOverlay(runs) decides)
//   domains(runs)        what runs with the same data share (axes, colour ranges)
//   prepare(panel, env)  its layout inside panel.layout.main and its scales
//   drawStatic(ctx, panel, env), drawFrame(ctx, panel, env)
//                        the static layer (drawn once per change) and each frame
//   hit(panel, x, y)     what a click at (x, y) means: {step} to go to, or null
//   describe(panel)      its geometry, for tests
//
// A run's settings list its views, main view first (tb_fitviz.kind). A new view is its module,
// a line here, and its tests.
//
// The curve is loaded with the tab; the other views when a run shown needs one (loading.js waits
// for a run's main view, and the chosen one, before drawing it): a 1-D run's first frame does not
// wait for their modules.

import {curveView} from './curve.js';

const ENTRIES = [
  {id: 'curve', label: 'Fit over x', load: async () => curveView},
  {id: 'surface', label: 'Surface over two features',
    load: async () => (await import('./surface.js')).surfaceView},
  {id: 'pred_true', label: 'Predicted vs. true',
    load: async () => (await import('./predtrue.js')).predTrueView},
  {id: 'true_class', label: 'True-class probability and confusion',
    load: async () => (await import('./trueclass.js')).trueClassView},
  {id: 'loss_map', label: 'Where the loss sits',
    load: async () => (await import('./lossmap.js')).lossMapView},
];

const BY_ID = new Map(ENTRIES.map((entry) => [entry.id, entry]));
const loaded = new Map([['curve', curveView]]);
const loading = new Map();
let onLoad = null;

/** Every view's {id, label}, in registry order (the view menu's order). */
export const VIEW_IDS = ENTRIES.map(({id, label}) => ({id, label}));

/** Calls `listener()` whenever a view finishes loading (the app redraws). */
export function onViewLoaded(listener) {
  onLoad = listener;
}

/** Loads the views `ids` (unknown ids are skipped); resolves to them, in registry order. */
export async function loadViews(ids) {
  const wanted = ENTRIES.filter((entry) => ids.includes(entry.id));
  await Promise.all(wanted.map((entry) => {
    if (loaded.has(entry.id)) return null;
    if (!loading.has(entry.id)) {
      loading.set(entry.id, entry.load().then((view) => {
        loaded.set(entry.id, view);
        if (onLoad) onLoad(view);
        return view;
      }).finally(() => loading.delete(entry.id)));
    }
    return loading.get(entry.id);
  }));
  return wanted.map((entry) => loaded.get(entry.id));
}

/** The views a run needs before it is drawn: its main view, and `wanted` if it has it. */
export function neededViews(kind, wanted = 'main') {
  const ids = [mainId(kind)];
  if (hasView(kind, wanted)) ids.push(wanted);
  return ids;
}

export function viewById(id) {
  return loaded.get(id) || null;
}

/**
 * The view a run is drawn in: `wanted` ('main' or a view id) when the run has it, else its main
 * view (the first of its settings' views that this tab knows). A chosen view not loaded yet is
 * loaded (the app redraws when it arrives); meanwhile the run is drawn in its main view.
 */
export function viewFor(kind, wanted = 'main') {
  if (hasView(kind, wanted)) {
    if (loaded.has(wanted)) return loaded.get(wanted);
    loadViews([wanted]).catch(() => {});
  }
  const main = mainId(kind);
  if (!loaded.has(main)) loadViews([main]).catch(() => {});
  return loaded.get(main) || curveView;
}

/** A run's main view: the first of its settings' views this tab knows, else by input width. */
function mainId(kind) {
  return kind.views.find((id) => BY_ID.has(id)) || (kind.inputWidth === 1 ? 'curve' : 'loss_map');
}

/** Whether `wanted` (a view id, or 'main') is a view of the run that this tab knows. */
function hasView(kind, wanted) {
  return wanted !== 'main' && BY_ID.has(wanted) && kind.views.includes(wanted);
}

/** The views any of `kinds` has, in registry order, as {id, label}: the choices of the view menu. */
export function viewChoices(kinds) {
  const ids = new Set(kinds.flatMap((k) => k.views));
  return VIEW_IDS.filter((view) => ids.has(view.id));
}
