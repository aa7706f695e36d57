// The one theme object: every colour the tab uses, light or dark, from the project's defaults
// (frontend/defaults.json, served by GET config; tb_fitviz.defaults reads the same file), and
// the dark-mode switch that follows TensorBoard's own.

import {ramp} from './colors.js';

export const FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';

/**
 * The theme of `mode` ('light' or 'dark'): the colours of defaults.themes[mode], their ramps, the
 * fonts.
 */
export function makeTheme(defaults, mode = 'light') {
  const colors = defaults.themes[mode] || defaults.themes.light;
  return {
    mode,
    ...colors,
    font: `11px ${FONT_FAMILY}`,
    titleFont: `bold 12px ${FONT_FAMILY}`,
    sequentialRamp: ramp(colors.sequential),
    divergingRamp: ramp(colors.diverging),
    heatRamp: ramp(colors.heat),
  };
}

/** The CSS custom properties of the page chrome (style.css uses only these). */
export function cssVariables(theme) {
  return {
    '--fv-background': theme.background,
    '--fv-panel': theme.panel,
    '--fv-text': theme.text,
    '--fv-muted': theme.muted,
    '--fv-border': theme.grid,
    '--fv-accent': theme.curve,
    '--fv-error': theme.note,
    '--fv-control': theme.background,
    '--fv-control-border': theme.axis,
  };
}

/** Puts the theme's CSS variables on `root` and the colour scheme for form controls. */
export function applyCss(theme, root = document.documentElement) {
  for (const [name, value] of Object.entries(cssVariables(theme))) root.style.setProperty(name, value);
  root.style.colorScheme = theme.mode;
  root.dataset.fvTheme = theme.mode;
}

/**
 * Whether the page should be dark: TensorBoard's own setting (it toggles the class `dark-mode` on
 * its body; the plugin's iframe is same-origin), else the system's `prefers-color-scheme`.
 */
export function prefersDark(win = window) {
  const host = parentBody(win);
  if (host) return host.classList.contains('dark-mode');
  return !!(win.matchMedia && win.matchMedia('(prefers-color-scheme: dark)').matches);
}

function parentBody(win) {
  try {
    if (win.parent && win.parent !== win && win.parent.document && win.parent.document.body) {
      return win.parent.document.body;
    }
  } catch {
    // not same-origin: fall back to the system setting
  }
  return null;
}

/**
 * Calls `onChange(dark)` whenever TensorBoard's dark mode (or, without it, the system's) changes.
 * @returns {function(): void} stops watching
 */
export function watchDarkMode(onChange, win = window) {
  let last = prefersDark(win);
  const check = () => {
    const now = prefersDark(win);
    if (now !== last) {
      last = now;
      onChange(now);
    }
  };
  const stops = [];
  const host = parentBody(win);
  if (host && win.parent.MutationObserver) {
    const observer = new win.parent.MutationObserver(check);
    observer.observe(host, {attributes: true, attributeFilter: ['class']});
    stops.push(() => observer.disconnect());
  }
  if (win.matchMedia) {
    const query = win.matchMedia('(prefers-color-scheme: dark)');
    query.addEventListener?.('change', check);
    stops.push(() => query.removeEventListener?.('change', check));
  }
  return () => stops.forEach((stop) => stop());
}
