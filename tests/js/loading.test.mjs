// index.js imports every module of the tab at once (no build step: otherwise the browser finds
// a module's imports only after parsing it). A module missing from its list would still load,
// late, through its importer; this keeps the list whole and free of files that do not exist.

import assert from 'node:assert/strict';
import {readdirSync, readFileSync} from 'node:fs';
import {join, relative} from 'node:path';
import {test} from 'node:test';
import {fileURLToPath} from 'node:url';

import {LATER, MODULES} from '../../frontend/index.js';

const FRONTEND = fileURLToPath(new URL('../../frontend/', import.meta.url));

function modulesIn(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return modulesIn(path);
    return entry.name.endsWith('.js') ? [`./${relative(FRONTEND, path)}`] : [];
  });
}

test('index.js lists every module of the frontend folder (at start or later), and only those', () => {
  const files = modulesIn(FRONTEND).filter((path) => path !== './index.js').sort();
  assert.deepEqual([...MODULES, ...LATER].sort(), files);
  assert.equal(new Set([...MODULES, ...LATER]).size, MODULES.length + LATER.length);
  // a module loaded later is imported by no module loaded at start (else it would load at start)
  for (const path of MODULES) {
    const source = readFileSync(join(FRONTEND, path), 'utf8');
    for (const later of LATER) {
      const name = later.split('/').pop();
      assert.equal(new RegExp(`^import[^;]*${name.replace('.', '\\.')}'`, 'm').test(source), false, `${path} imports ${later}`);
    }
  }
});

test('index.js has no static import: its early requests start before the modules load', () => {
  const source = readFileSync(join(FRONTEND, 'index.js'), 'utf8');
  assert.equal(/^\s*import\s[^(]/m.test(source), false);
});
