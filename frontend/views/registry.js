// The views of the FitViz tab, in one list. A view is a module with one small interface:
//
//   id, label            its name in a run's settings (`views`) and in the view menu
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

import {curveView} from './curve.js';
import {lossMapView} from './lossmap.js';
import {predTrueView} from './predtrue.js';
import {surfaceView} from './surface.js';
import {trueClassView} from './trueclass.js';

export const VIEWS = [curveView, surfaceView, predTrueView, trueClassView, lossMapView];

const BY_ID = new Map(VIEWS.map((view) => [view.id, view]));

export function viewById(id) {
  return BY_ID.get(id) || null;
}

/**
 * The view a run is drawn in: `wanted` ('main' or a view id) when the run has it, else its main
 * view (the first of its settings' views that this tab knows).
 */
export function viewFor(kind, wanted = 'main') {
  const known = kind.views.filter((id) => BY_ID.has(id));
  if (wanted !== 'main' && known.includes(wanted)) return BY_ID.get(wanted);
  return BY_ID.get(known[0]) || curveViewFallback(kind);
}

function curveViewFallback(kind) {
  return kind.inputWidth === 1 ? curveView : lossMapView;
}

/** The views any of `kinds` has, in registry order: the choices of the view menu. */
export function viewChoices(kinds) {
  const ids = new Set(kinds.flatMap((k) => k.views));
  return VIEWS.filter((view) => ids.has(view.id));
}
